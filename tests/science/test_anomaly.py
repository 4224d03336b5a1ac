"""Anomaly finding: the isolation forest ranks a separated group high, and expert rounds find
more anomalies than random order; a user's labels file is checked row by row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.science.anomaly import (
    AnomalySettings,
    expert_rounds,
    isolation_scores,
    read_expert_labels,
    summarise_rounds,
)
from gz_evo.science.catalog import ScienceInputError

SETTINGS = {
    "components": 4,
    "n_estimators": 50,
    "max_samples": "auto",
    "classifier_c": 1.0,
    "labels": None,
    "expert": {
        "truth": "absent.parquet",
        "interesting": "merger",
        "rounds": 4,
        "labels_per_round": 10,
        "top_n": 10,
        "seeds": [0],
    },
}


def _data(seed: int = 0):
    """300 galaxies; 15 interesting ones sit off to one side in dimension 0 (not the most
    isolated: 15 loud outliers elsewhere are, so the unsupervised score alone is fooled)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(0, 1, (300, 4))
    interesting = np.zeros(300, dtype=bool)
    interesting[:15] = True
    features[:15, 0] += 3.0
    features[15:30] += rng.normal(0, 8, (15, 4))
    return features, interesting


def test_the_isolation_forest_scores_outliers_high() -> None:
    features, _ = _data()
    score = isolation_scores(features, AnomalySettings.from_params(SETTINGS), seed=0)
    assert score[15:30].mean() > score[30:].mean() + 0.05


def test_expert_rounds_learn_what_the_expert_finds_interesting() -> None:
    features, interesting = _data()
    settings = AnomalySettings.from_params(SETTINGS)
    rounds = expert_rounds(features, interesting, settings, seed=0)
    assert rounds["round"].tolist() == [0, 1, 2, 3, 4]
    assert rounds["labelled"].tolist() == [0, 10, 20, 30, 40]
    assert rounds["top_n_model"][0] == rounds["top_n_unsupervised"][0]  # no labels yet
    last = rounds.iloc[-1]
    # 40 shown: the retrained ranking has found most of the 15, the controls far fewer
    assert last["found_model"] >= 10
    assert last["found_model"] > last["found_unsupervised"] + 3
    assert last["found_model"] > last["found_random"] + 3
    summary = summarise_rounds(
        pd.concat([rounds, expert_rounds(features, interesting, settings, seed=1)])
    )
    assert len(summary) == 5 and "found_model_std" in summary


def test_a_users_labels_are_checked_row_by_row(tmp_path: Path) -> None:
    ids = np.array(["a", "b", "c"])
    path = tmp_path / "labels.csv"
    pd.DataFrame({"id_str": ["c", "a"], "interesting": [1, 0]}).to_csv(path, index=False)
    rows, labels = read_expert_labels(str(path), ids)
    assert rows.tolist() == [2, 0] and labels.tolist() == [1, 0]
    pd.DataFrame({"id_str": ["c", "z"], "interesting": [1, 0]}).to_csv(path, index=False)
    with pytest.raises(ScienceInputError, match=r"row 1 .*'z' is not in the catalog"):
        read_expert_labels(str(path), ids)
    pd.DataFrame({"id_str": ["c"], "interesting": [2]}).to_csv(path, index=False)
    with pytest.raises(ScienceInputError, match="row 0, column 'interesting': 2 is not 0 or 1"):
        read_expert_labels(str(path), ids)
