"""Anomaly finding with a few labels (Walmsley et al. 2022, "Practical galaxy morphology tools").

1. **Unsupervised score.** An isolation forest on the PCA features: galaxies whose representation
   is easy to isolate are unusual (``anomaly_score``, higher = more unusual).
2. **Rounds of expert labels.** The expert looks at the ``labels_per_round`` highest-ranked
   galaxies they have not seen and says which are interesting; a logistic regression on the PCA
   features (plus the unsupervised score) is retrained on every label so far and re-ranks the
   rest. Until both classes have been seen, the ranking stays the unsupervised one.

On the demo universe the expert is the truth (``expert.interesting``, e.g. mergers): each round
reports the fraction of true anomalies in the top ``top_n`` of the galaxies not yet labelled,
for the retrained ranking, the unsupervised score alone and a random ordering, and how many the
expert has found so far with each. For your own catalog, ``labels`` (a CSV of ``id_str`` and
``interesting`` 0/1) retrains the ranking once on your labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gz_evo.config import from_params
from gz_evo.science.catalog import ScienceInputError


@dataclass(frozen=True)
class ExpertSettings:
    """``anomaly.expert``: the simulated expert on the demo universe (``truth``: its truth
    table; absent: no simulated rounds)."""

    truth: str
    interesting: str
    rounds: int
    labels_per_round: int
    top_n: int
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class AnomalySettings:
    """``anomaly`` in parameters_anomaly.yml (every key required there)."""

    components: int
    n_estimators: int
    max_samples: int | str
    classifier_c: float
    labels: str | None
    expert: ExpertSettings

    @classmethod
    def from_params(cls, params: dict) -> AnomalySettings:
        return from_params(cls, params, "anomaly")


def isolation_scores(features: np.ndarray, settings: AnomalySettings, seed: int) -> np.ndarray:
    """Isolation-forest anomaly score per galaxy (higher = more unusual)."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(
        n_estimators=settings.n_estimators,
        max_samples=settings.max_samples,
        random_state=seed,
        n_jobs=1,
    )
    return -forest.fit(features).score_samples(features)


def classifier_scores(
    features: np.ndarray,
    unsupervised: np.ndarray,
    labelled: np.ndarray,
    labels: np.ndarray,
    c: float,
) -> np.ndarray:
    """P(interesting) for every galaxy from a logistic regression on the labelled ones (PCA
    features + the unsupervised score, standardised); the unsupervised score while the labels
    hold one class only."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(labels)) < 2:
        return unsupervised
    inputs = np.column_stack([features, unsupervised])
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    )
    model.fit(inputs[labelled], labels)
    return model.predict_proba(inputs)[:, 1]


def _top_unlabelled(score: np.ndarray, seen: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` highest-scoring galaxies not yet seen (ties broken by position)."""
    candidates = np.flatnonzero(~seen)
    order = candidates[np.argsort(-score[candidates], kind="stable")]
    return order[:n]


def expert_rounds(
    features: np.ndarray, interesting: np.ndarray, settings: AnomalySettings, seed: int
) -> pd.DataFrame:
    """Simulated rounds of expert labels; one row per round (0 = before any label).

    Columns: ``labelled`` (galaxies the expert has seen), ``top_n_{model,unsupervised,random}``
    (fraction of true anomalies among the next ``top_n`` galaxies each ordering would show the
    expert after the ``labelled`` it has shown; random: the base rate of the rest) and
    ``found_{model,unsupervised,random}`` (true anomalies among the galaxies shown so far, had
    each ordering chosen them).
    """
    expert = settings.expert
    unsupervised = isolation_scores(features, settings, seed)
    random_order = np.random.default_rng(seed).permutation(len(features))
    unsupervised_order = np.argsort(-unsupervised, kind="stable")
    seen = np.zeros(len(features), dtype=bool)
    shown: list[int] = []
    score = unsupervised
    records = []

    def purity(rows: np.ndarray) -> float:
        return float(interesting[rows].mean()) if len(rows) else float("nan")

    for round_ in range(expert.rounds + 1):
        top_model = _top_unlabelled(score, seen, expert.top_n)
        n_shown = len(shown)
        # the controls show the expert galaxies in their own order: by the unsupervised score
        # alone, or at random (whose next top N hold the rest's base rate, on average)
        top_unsupervised = unsupervised_order[n_shown : n_shown + expert.top_n]
        records.append(
            {
                "seed": seed,
                "round": round_,
                "labelled": n_shown,
                "top_n_model": purity(top_model),
                "top_n_unsupervised": purity(top_unsupervised),
                "top_n_random": purity(random_order[n_shown:]),
                "found_model": int(interesting[shown].sum()),
                "found_unsupervised": int(interesting[unsupervised_order[:n_shown]].sum()),
                "found_random": int(interesting[random_order[:n_shown]].sum()),
            }
        )
        if round_ == expert.rounds or seen.all():
            break
        batch = _top_unlabelled(score, seen, expert.labels_per_round)
        seen[batch] = True
        shown += batch.tolist()
        score = classifier_scores(
            features,
            unsupervised,
            np.array(shown),
            interesting[shown].astype(int),
            settings.classifier_c,
        )
    return pd.DataFrame(records)


def summarise_rounds(rounds: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds per round."""
    columns = [c for c in rounds.columns if c.startswith(("top_n_", "found_"))]
    grouped = rounds.groupby("round")
    summary = grouped[["labelled"]].first()
    for column in columns:
        summary[f"{column}_mean"] = grouped[column].mean()
        summary[f"{column}_std"] = grouped[column].std(ddof=0)
    return summary.reset_index()


def rounds_figure(summary: pd.DataFrame, top_n: int, base_rate: float) -> Figure:
    """Top-N purity and anomalies found per round, for the three orderings (mean +- std)."""
    figure = Figure(figsize=(10, 4))
    names = {
        "model": "retrained on expert labels",
        "unsupervised": "isolation forest alone",
        "random": "random order",
    }
    for i, (prefix, ylabel) in enumerate(
        [
            ("top_n", f"true anomalies in the top {top_n} unseen"),
            ("found", "true anomalies the expert has seen"),
        ]
    ):
        axes = figure.add_subplot(1, 2, i + 1)
        x = summary["labelled"] if prefix == "found" else summary["round"]
        for key, label in names.items():
            mean, std = summary[f"{prefix}_{key}_mean"], summary[f"{prefix}_{key}_std"]
            axes.plot(x, mean, marker="o", label=label)
            axes.fill_between(x, mean - std, mean + std, alpha=0.2)
        if prefix == "top_n":
            axes.axhline(base_rate, color="grey", linestyle=":", label="base rate")
        axes.set(xlabel="galaxies labelled" if prefix == "found" else "round", ylabel=ylabel)
        axes.legend(fontsize=8)
    figure.suptitle("anomaly finding with a few expert labels (demo truth as the expert)")
    figure.tight_layout()
    return figure


def read_expert_labels(path: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A user's labels (CSV or parquet: ``id_str``, ``interesting`` 0/1) as row indices into
    ``ids`` and 0/1 labels; unknown ids and bad labels are errors naming the row."""
    file = Path(path)
    if not file.is_file():
        raise ScienceInputError(f"anomaly.labels: {path} does not exist")
    table = (
        pd.read_parquet(file)
        if file.suffix == ".parquet"
        else pd.read_csv(file, dtype={"id_str": str})
    )
    missing = [c for c in ("id_str", "interesting") if c not in table]
    if missing:
        raise ScienceInputError(
            f"anomaly.labels: {path} has no column(s) {missing} (columns: {list(table.columns)})"
        )
    row_of = {galaxy: i for i, galaxy in enumerate(np.asarray(ids).astype(str))}
    rows, labels = [], []
    for line, (galaxy, label) in enumerate(
        zip(table["id_str"].astype(str), table["interesting"], strict=True)
    ):
        if galaxy not in row_of:
            raise ScienceInputError(
                f"anomaly.labels: {path} row {line} (0 = first data row): id {galaxy!r} is not "
                "in the catalog the features were computed for"
            )
        if label not in (0, 1, True, False):
            raise ScienceInputError(
                f"anomaly.labels: {path} row {line}, column 'interesting': {label!r} is not 0 or 1"
            )
        rows.append(row_of[galaxy])
        labels.append(int(label))
    return np.array(rows, dtype=int), np.array(labels, dtype=int)
