"""k-nearest-neighbour accuracy of frozen features: how well an encoder separates a labelled task.

A cosine kNN classifier fitted on one set of features (the downstream task's training galaxies)
and scored on another needs no training, so it can compare encoders, or one encoder while it
trains, at no risk to the run (:class:`gz_evo.training.monitors.KNNMonitor`)::

    accuracy = knn_accuracy(train_features, train_labels, test_features, test_labels, k=10)

Pure numpy in and out; scikit-learn's brute-force search (no randomness, ties go to the smallest
class label).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier


def knn_accuracy(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    k: int,
) -> float:
    """Fraction of test galaxies whose majority label among their ``k`` nearest training
    galaxies (cosine distance, uniform votes) is their own label.

    ``k`` is capped at the number of training galaxies. Features are ``[N, D]``, labels ``[N]``
    class labels (integers or strings). Raises ValueError on empty sets, mismatched lengths,
    ``k < 1`` or non-finite features.
    """
    train_features, test_features = np.asarray(train_features), np.asarray(test_features)
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    for name, features, labels in (
        ("train", train_features, train_labels),
        ("test", test_features, test_labels),
    ):
        if features.ndim != 2 or len(features) == 0:
            raise ValueError(
                f"{name} features must be a non-empty [N, D] array, got {features.shape}"
            )
        if labels.shape != (len(features),):
            raise ValueError(
                f"{name} labels must be [N] with N = {len(features)}, got {labels.shape}"
            )
    classifier = KNeighborsClassifier(
        n_neighbors=min(int(k), len(train_features)), metric="cosine", algorithm="brute"
    )
    classifier.fit(train_features, train_labels)
    return float(np.mean(classifier.predict(test_features) == test_labels))
