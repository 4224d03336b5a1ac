"""kNN accuracy of frozen features: separable, shuffled, cosine, small training sets, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from gz_evo.evaluation.knn import knn_accuracy


def _clusters(n: int, seed: int, classes: int = 3, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Each class points along its own axis (with noise and a random length)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    features = rng.normal(0, 0.1, (n, dim))
    features[np.arange(n), labels] += 1.0
    return features * rng.uniform(0.5, 5.0, (n, 1)), labels


def test_separable_features_are_classified_perfectly() -> None:
    train, train_labels = _clusters(60, seed=0)
    test, test_labels = _clusters(40, seed=1)
    assert knn_accuracy(train, train_labels, test, test_labels, k=5) == 1.0
    names = np.array(["none", "shell", "stream"])  # string labels work as well
    assert knn_accuracy(train, names[train_labels], test, names[test_labels], k=5) == 1.0


def test_shuffled_labels_score_about_chance() -> None:
    train, train_labels = _clusters(400, seed=0, classes=2)
    test, test_labels = _clusters(2000, seed=1, classes=2)
    shuffled = np.random.default_rng(2).permutation(train_labels)
    assert 0.4 < knn_accuracy(train, shuffled, test, test_labels, k=10) < 0.6


def test_distance_is_cosine_so_lengths_do_not_matter() -> None:
    train, train_labels = _clusters(50, seed=3)
    test, test_labels = _clusters(50, seed=4)
    test = test + np.random.default_rng(5).normal(0, 0.6, test.shape)  # some mistakes
    accuracy = knn_accuracy(train, train_labels, test, test_labels, k=3)
    assert 0.0 < accuracy < 1.0
    scaled = test * np.random.default_rng(6).uniform(0.01, 100.0, (len(test), 1))
    assert knn_accuracy(train, train_labels, scaled, test_labels, k=3) == accuracy


def test_k_larger_than_the_training_set_uses_every_training_galaxy() -> None:
    train = np.eye(5, 4, dtype=np.float32) + 0.1
    train_labels = np.array([1, 1, 1, 0, 0])  # majority 1
    test, _ = _clusters(10, seed=7, dim=4)
    test_labels = np.array([1] * 7 + [0] * 3)
    assert knn_accuracy(train, train_labels, test, test_labels, k=100) == pytest.approx(0.7)
    assert knn_accuracy(train[:1], train_labels[:1], test, test_labels, k=10) == pytest.approx(0.7)


def test_bad_input_is_refused() -> None:
    train, labels = _clusters(10, seed=0)
    with pytest.raises(ValueError, match="k must be"):
        knn_accuracy(train, labels, train, labels, k=0)
    with pytest.raises(ValueError, match="test features"):
        knn_accuracy(train, labels, train[:0], labels[:0], k=3)
    with pytest.raises(ValueError, match="train labels"):
        knn_accuracy(train, labels[:5], train, labels, k=3)
    broken = train.copy()
    broken[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        knn_accuracy(broken, labels, train, labels, k=3)
