"""Downstream transfer: linear probes on frozen features, label efficiency, error reductions.

A foundation model earns its name on questions it was not trained on. Each downstream task (a
labels table declared by the user as binary, multiclass or regression) is fitted on the
encoder's frozen features with a budget of training galaxies, for several seeds, and scored on a
fixed test set::

    check_labels(labels, "binary", where="rings.csv column 'ring'")
    rows = budget_indices(labels, budget=100, seed=0, kind="binary")
    probe = fit_linear_probe(features[rows], labels[rows], "binary", seed=0)
    scores = score_probe(probe, test_features, test_labels, "binary")

One row per (task, encoder, protocol, budget, seed) makes the results table; every row has an
``error`` (lower is better: 1 - accuracy or MAE) so that :func:`summarise`,
:func:`error_reductions` and :func:`label_efficiency_figure` need not know the task's kind.

Pure numpy, pandas, scikit-learn and matplotlib (no pyplot: no global backend is chosen).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn import metrics
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, RidgeCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from gz_evo.checks import CatalogError
from gz_evo.datasets.atomic import atomic_write_path
from gz_evo.plotting import PALETTE, new_figure, styled

TaskKind = Literal["binary", "multiclass", "regression"]
TASK_KINDS: tuple[str, ...] = get_args(TaskKind)
#: the columns naming one run of the results table; everything else numeric is a metric
RUN_KEYS = ("task", "encoder", "protocol", "budget", "seed")
GROUP_KEYS = ("task", "encoder", "protocol", "budget")
#: inverse regularisation strengths tried by the logistic probe, ridge penalties by the ridge one
#: inverse regularisation strengths tried by cross-validation (standardised features); 7 values
#: and a 1e-3 tolerance pick the same C as 17 values at 1e-4 on the demo, 6x faster
PROBE_CS = np.logspace(-4, 2, 7)
RIDGE_ALPHAS = np.logspace(-3, 5, 17)


def _check_kind(kind: str) -> None:
    if kind not in TASK_KINDS:
        raise ValueError(f"task kind must be one of {TASK_KINDS}, got {kind!r}")


def check_labels(
    labels: np.ndarray, kind: TaskKind, where: str, rows: Sequence | None = None
) -> None:
    """Refuse labels that cannot make a task of the declared ``kind``, naming ``where`` they
    came from (a file and column) and the first offending row (``rows``: the name of each
    label's row, e.g. the catalog's row numbers; default positions) so the user knows what to fix.

    Kinds are declared, never guessed: integer labels 0..9 may be classes or a measurement.
    Missing labels, a classification task with one class, a binary task without exactly two
    and regression labels that are not finite numbers are refused (:class:`CatalogError`).
    """
    _check_kind(kind)
    values = pd.Series(np.asarray(labels, dtype=object).ravel())
    if rows is not None:
        values.index = list(rows)
    if values.empty:
        _refuse(where, f"{where} has no labels")
    missing = int(values.isna().sum())
    if missing:
        first = values.index[values.isna()][0]
        _refuse(
            where,
            f"{where} has {missing} missing labels (first at row {first}): fill or drop those rows",
        )
    nested = values.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray | bytes))
    if nested.any():
        first = values.index[nested.to_numpy()][0]
        _refuse(where, f"{where}: labels must be numbers or text, got {values[first]!r} at row "
                       f"{first}")  # fmt: skip
    if kind == "regression":
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values[numbers.isna() | ~np.isfinite(numbers.astype(float))]
        if len(bad):
            examples = ", ".join(repr(v) for v in bad.unique()[:3])
            _refuse(
                where,
                f"{where}: a regression task needs finite numbers, got {len(bad)} other labels "
                f"(e.g. {examples}; first at row {bad.index[0]})",
            )
        return
    classes = sorted(values.unique(), key=str)
    if len(classes) < 2:
        _refuse(where, f"{where} has only one class ({classes[0]!r}): nothing to classify")
    if kind == "binary" and len(classes) != 2:
        shown = ", ".join(repr(c) for c in classes[:6]) + (", ..." if len(classes) > 6 else "")
        _refuse(
            where,
            f"{where} has {len(classes)} classes ({shown}); a binary task needs exactly 2 "
            "(declare it multiclass?)",
        )


def _refuse(where: str, message: str) -> None:
    raise CatalogError(where, message, message=message)


def _stratified_order(labels: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """``permutation`` reordered so every prefix holds the classes in about their proportions,
    with the first member of every class at the front (ties keep the permutation's order)."""
    permuted = pd.Series(labels[permutation])
    rank_in_class = permuted.groupby(permuted, sort=False).cumcount().to_numpy()
    class_size = permuted.map(permuted.value_counts()).to_numpy()
    return permutation[np.argsort(rank_in_class / class_size, kind="stable")]


def budget_indices(labels: np.ndarray, budget: int | None, seed: int, kind: TaskKind) -> np.ndarray:
    """Sorted row indices of a seeded training subset of ``budget`` galaxies (None: all).

    For classification the subset is stratified and holds every class at least once. Subsets are
    nested: for one seed, the 25-galaxy subset lies inside the 50-galaxy one (prefixes of one
    seeded order), so label-efficiency curves move by added galaxies, not by a fresh draw.
    """
    _check_kind(kind)
    labels = np.asarray(labels)
    n = len(labels)
    if budget is None:
        return np.arange(n)
    budget = int(budget)
    if budget > n:
        raise ValueError(f"budget {budget} is larger than the {n} training galaxies available")
    if budget < 1:
        raise ValueError(f"budget must be at least 1 galaxy, got {budget}")
    order = np.random.default_rng(seed).permutation(n)
    if kind != "regression":
        n_classes = len(pd.unique(labels))
        if budget < n_classes:
            raise ValueError(
                f"budget {budget} is smaller than the {n_classes} classes: every class needs "
                "at least one training galaxy"
            )
        order = _stratified_order(labels, order)
    return np.sort(order[:budget])


def fit_linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, kind: TaskKind, seed: int, cv: int = 5
) -> Pipeline:
    """A linear model on standardised frozen features, its regularisation chosen by
    cross-validation so that no encoder is favoured by a hand-picked strength.

    Classification: L2 logistic regression, C chosen by log loss over stratified folds (at most
    ``cv``, at most the smallest class's size); with a class of one galaxy there are no folds,
    so C = 1. Regression: ridge, alpha chosen by efficient leave-one-out (``cv`` unused).
    """
    _check_kind(kind)
    train_x, train_y = np.asarray(train_x), np.asarray(train_y)
    if train_x.ndim != 2 or len(train_x) != len(train_y) or len(train_x) == 0:
        raise ValueError(
            f"features must be a non-empty [N, D] array with one label each, got features "
            f"{train_x.shape} and labels {train_y.shape}"
        )
    if not np.isfinite(train_x).all():
        raise ValueError("features hold NaN or infinite values")
    if kind == "regression":
        model = RidgeCV(alphas=RIDGE_ALPHAS)
        return make_pipeline(StandardScaler(), model).fit(train_x, train_y.astype(float))
    folds = min(cv, int(np.unique(train_y, return_counts=True)[1].min()))
    if folds < 2:
        model = LogisticRegression(C=1.0, max_iter=1000)
    else:
        model = LogisticRegressionCV(
            Cs=PROBE_CS,
            l1_ratios=(0.0,),
            cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
            scoring="neg_log_loss",
            max_iter=300,
            tol=1e-3,
            use_legacy_attributes=False,
        )
    return make_pipeline(StandardScaler(), model).fit(train_x, train_y)


def score_predictions(
    y_true: np.ndarray,
    predicted: np.ndarray,
    kind: TaskKind,
    probabilities: np.ndarray | None = None,
    classes: np.ndarray | None = None,
) -> dict[str, float]:
    """Test metrics; ``error`` (lower is better) is 1 - accuracy or the MAE.

    Classification: ``accuracy`` and ``error``; with ``probabilities`` ([N, C], columns in the
    order of ``classes``, by default the sorted classes of ``y_true``) also ``log_loss`` and, for
    binary tasks, ``roc_auc`` of the second class (nan when the test set holds one class).
    Regression: ``mae``, ``rmse`` and ``error`` = ``mae``.
    """
    _check_kind(kind)
    y_true, predicted = np.asarray(y_true), np.asarray(predicted)
    if y_true.shape != predicted.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(
            f"need one prediction per label, got labels {y_true.shape} and {predicted.shape}"
        )
    if kind == "regression":
        difference = predicted.astype(float) - y_true.astype(float)
        mae = float(np.mean(np.abs(difference)))
        return {"mae": mae, "rmse": float(np.sqrt(np.mean(difference**2))), "error": mae}
    accuracy = float(np.mean(predicted == y_true))
    scores = {"accuracy": accuracy, "error": 1.0 - accuracy}
    if probabilities is None:
        return scores
    probabilities = np.asarray(probabilities, dtype=float)
    classes = np.unique(y_true) if classes is None else np.asarray(classes)
    if probabilities.shape != (len(y_true), len(classes)):
        raise ValueError(
            f"probabilities must be [N, C] = {(len(y_true), len(classes))}, "
            f"got {probabilities.shape}"
        )
    scores["log_loss"] = float(metrics.log_loss(y_true, probabilities, labels=classes))
    if kind == "binary":
        positive = y_true == classes[1]
        scores["roc_auc"] = (
            float(metrics.roc_auc_score(positive, probabilities[:, 1]))
            if 0 < positive.sum() < len(positive)
            else float("nan")
        )
    return scores


def score_probe(
    probe: Pipeline, test_x: np.ndarray, test_y: np.ndarray, kind: TaskKind
) -> dict[str, float]:
    """:func:`score_predictions` of a fitted probe on the test galaxies (with probabilities)."""
    predicted = probe.predict(test_x)
    if kind == "regression":
        return score_predictions(test_y, predicted, kind)
    probabilities = probe.predict_proba(test_x)
    return score_predictions(test_y, predicted, kind, probabilities, classes=probe.classes_)


def relative_error_reduction(error_encoder: float, error_baseline: float) -> float:
    """``1 - error_encoder / error_baseline``, as the Zoobot and GZ-Evo papers report transfer:
    0.25 means a quarter of the baseline's errors are gone; negative means worse. nan when the
    baseline makes no error (nothing to reduce)."""
    if error_baseline == 0 or np.isnan(error_baseline) or np.isnan(error_encoder):
        return float("nan")
    return float(1.0 - error_encoder / error_baseline)


def _require_columns(table: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; it has {list(table.columns)}")


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per (task, encoder, protocol, budget): ``n`` seeds and ``<metric>_mean``, ``<metric>_std``
    (sample std, nan for one seed) of every numeric metric of the per-run table.

    ``results`` has one row per run: task, encoder, protocol, budget (the number of training
    galaxies used, also when all were), seed, error and any other metrics.
    """
    _require_columns(results, (*RUN_KEYS, "error"), "the results table")
    metric_columns = [
        c
        for c in results.columns
        if c not in RUN_KEYS and pd.api.types.is_numeric_dtype(results[c])
    ]
    grouped = results.groupby(list(GROUP_KEYS), sort=True, dropna=False)
    summary = grouped[metric_columns].agg(["mean", "std"])
    summary.columns = [f"{metric}_{statistic}" for metric, statistic in summary.columns]
    summary.insert(0, "n", grouped.size())
    return summary.reset_index()


def error_reductions(summary: pd.DataFrame, baselines: list[str]) -> pd.DataFrame:
    """Relative error reduction of every encoder's mean error against every baseline encoder
    evaluated on the same (task, protocol, budget); long format, one row per pair.

    A baseline missing from some settings is skipped there; one missing everywhere is an error
    (a misspelt name would otherwise give an empty table).
    """
    _require_columns(summary, (*GROUP_KEYS, "error_mean"), "the summary")
    absent = [b for b in baselines if b not in set(summary["encoder"])]
    if absent:
        raise ValueError(f"baseline encoders {absent} are not in the summary")
    rows = []
    for (task, protocol, budget), group in summary.groupby(
        ["task", "protocol", "budget"], sort=True, dropna=False
    ):
        errors = group.set_index("encoder")["error_mean"]
        for baseline in (b for b in baselines if b in errors.index):
            for encoder, error in errors.items():
                if encoder != baseline:
                    rer = relative_error_reduction(error, errors[baseline])
                    rows.append((task, protocol, budget, encoder, baseline, rer))
    columns = ["task", "protocol", "budget", "encoder", "baseline", "relative_error_reduction"]
    return pd.DataFrame(rows, columns=columns)


@styled
def label_efficiency_figure(summary: pd.DataFrame, task: str) -> Figure:
    """Mean test error against the number of training galaxies (log axis) for ``task``: one
    line per (encoder, protocol), error bars the std over seeds. One colour per encoder, one line
    style per protocol (project style, :mod:`gz_evo.plotting`)."""
    _require_columns(summary, (*GROUP_KEYS, "error_mean", "error_std"), "the summary")
    rows = summary[summary["task"] == task]
    if rows.empty:
        raise ValueError(f"task {task!r} is not in the summary: {sorted(set(summary['task']))}")
    figure = new_figure(7.2, 3.8)
    axes = figure.add_subplot()
    encoders = sorted(set(rows["encoder"]))
    protocols = sorted(set(rows["protocol"]), key=lambda p: (p != "linear_probe", p))
    styles = ("-", "--", ":", "-.")
    for (encoder, protocol), group in rows.groupby(["encoder", "protocol"], sort=True):
        line = group.sort_values("budget")
        order = protocols.index(protocol)
        axes.errorbar(
            line["budget"],
            line["error_mean"],
            yerr=line["error_std"].fillna(0.0),
            marker="os^D"[order % 4],
            ls=styles[order % len(styles)],
            color=PALETTE[encoders.index(encoder) % len(PALETTE)],
            label=f"{encoder} ({protocol})",
        )
    axes.set_xscale("log")
    budgets = sorted(set(rows["budget"].astype(int)))
    axes.set_xticks(budgets, [str(b) for b in budgets])
    axes.minorticks_off()
    axes.set_xlabel("training galaxies")
    axes.set_ylabel("test error (lower is better)")
    axes.set_title(f"Label efficiency: {task}")
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    return figure


def save_figure_png(figure: Figure, path: str | Path, dpi: int = 150) -> None:
    """Write ``figure`` as a PNG at ``path``, atomically (no half-written image is ever read)."""
    with atomic_write_path(path, suffix=".png") as temporary:
        if not isinstance(figure.canvas, FigureCanvasAgg):
            FigureCanvasAgg(figure)
        figure.savefig(temporary, format="png", dpi=dpi)
