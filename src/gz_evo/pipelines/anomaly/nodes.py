"""Thin nodes over :mod:`gz_evo.science.anomaly`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def _features(pca: dict, components: int) -> np.ndarray:
    return pca["reduced"][:, :components].astype(np.float64)


def rank_anomalies(pca: dict, params: dict, seed: int) -> pd.DataFrame:
    """Every galaxy's isolation-forest score and rank; with ``anomaly.labels`` (your expert's
    labels), also the retrained classifier's score and rank, labelled galaxies marked."""
    from gz_evo.science.anomaly import (
        AnomalySettings,
        classifier_scores,
        isolation_scores,
        read_expert_labels,
    )

    settings = AnomalySettings.from_params(params)
    features = _features(pca, settings.components)
    score = isolation_scores(features, settings, seed)
    table = pd.DataFrame({"id_str": pca["ids"].astype(str), "anomaly_score": score})
    table["rank_unsupervised"] = table["anomaly_score"].rank(ascending=False, method="first")
    if settings.labels is not None:
        rows, labels = read_expert_labels(settings.labels, pca["ids"])
        table["interest"] = classifier_scores(features, score, rows, labels, settings.classifier_c)
        table["labelled"] = False
        table.loc[rows, "labelled"] = True
        table["rank"] = table["interest"].rank(ascending=False, method="first")
    else:
        table["rank"] = table["rank_unsupervised"]
    table["rank"] = table["rank"].astype(int)
    table["rank_unsupervised"] = table["rank_unsupervised"].astype(int)
    return table.sort_values("rank").reset_index(drop=True)


def simulate_expert_rounds(pca: dict, params: dict) -> tuple[pd.DataFrame, dict, dict, dict]:
    """On the demo universe, rounds of labels from the truth as the expert (every seed), their
    summary, figure and metrics; skipped with one log line where the catalog is not the demo's."""
    from gz_evo.science.anomaly import (
        AnomalySettings,
        expert_rounds,
        rounds_figure,
        summarise_rounds,
    )
    from gz_evo.science.similarity import read_truth, truth_properties

    settings = AnomalySettings.from_params(params)
    expert = settings.expert
    truth = read_truth(expert.truth)
    ids = pca["ids"]
    interesting = (
        truth_properties(truth, ids, {"interesting": expert.interesting})["interesting"]
        if truth is not None
        else pd.Series(dtype=float)
    )
    if truth is None or interesting.isna().any():
        logger.info(
            "anomaly: the catalog is not (all) in the demo truth; the simulated expert "
            "rounds are skipped"
        )
        return pd.DataFrame(), {}, {"skipped": "catalog not in the demo truth"}, {}
    interesting = interesting.astype(bool).to_numpy()
    features = _features(pca, settings.components)
    rounds = pd.concat(
        [expert_rounds(features, interesting, settings, seed) for seed in expert.seeds],
        ignore_index=True,
    )
    summary = summarise_rounds(rounds)
    base_rate = float(interesting.mean())
    first, last = summary.iloc[0], summary.iloc[-1]
    metrics: dict[str, Any] = {
        "galaxies": len(ids),
        "anomalies": int(interesting.sum()),
        "base_rate": round(base_rate, 4),
        "top_n": expert.top_n,
        "labels_per_round": expert.labels_per_round,
        "rounds": expert.rounds,
        "seeds": len(expert.seeds),
    }
    for key in ("model", "unsupervised", "random"):
        metrics[f"top_n_{key}_first_round"] = round(float(first[f"top_n_{key}_mean"]), 4)
        metrics[f"top_n_{key}_last_round"] = round(float(last[f"top_n_{key}_mean"]), 4)
        metrics[f"found_{key}"] = round(float(last[f"found_{key}_mean"]), 2)
    mlflow = {
        f"{prefix}_{key}": [
            {"value": float(value), "step": int(step)}
            for step, value in zip(summary["round"], summary[f"{prefix}_{key}_mean"], strict=True)
        ]
        for prefix in ("top_n", "found")
        for key in ("model", "unsupervised", "random")
    }
    figures = {"expert_rounds": rounds_figure(summary, expert.top_n, base_rate)}
    return rounds, figures, metrics, mlflow
