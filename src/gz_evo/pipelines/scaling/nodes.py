"""Thin nodes over :mod:`gz_evo.training.sweep` (the points) and :mod:`gz_evo.evaluation.scaling`
(the laws). torch, timm and Lightning are imported inside the nodes."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gz_evo.schema import Schema

logger = logging.getLogger(__name__)

#: the columns of the points table before the per-campaign and per-question losses
POINT_COLUMNS = (
    "point_id", "model", "architecture", "timm_kwargs", "parameters", "fraction", "replicate",
    "seed", "train_images", "epochs", "steps", "images_seen", "best_step", "test_loss",
    "val_loss", "test_uniform_loss",
)  # fmt: skip

#: in the log and each point's MLflow child run, not in the table DVC tracks: wall time differs
#: from run to run, and the table must have the same bytes whenever the losses do
RUN_ONLY_COLUMNS = ("train_seconds",)


def run_scaling_sweep(
    image_shards: Any,
    schema_dict: dict,
    pretraining_params: dict,
    scaling_params: dict,
    augment_params: dict,
    seed: int,
) -> tuple[pd.DataFrame, list[dict], dict]:
    """Train and score every point of the grid that has no result yet; the points table (one
    row per point), its columns for ``dvc plots``, and one MLflow child run per point."""
    from gz_evo.training.sweep import ScalingConfig, plan_sweep, run_sweep

    scaling = ScalingConfig.from_params(scaling_params)
    schema = Schema.from_dict(schema_dict)
    points = plan_sweep(
        pretraining_params, scaling, augment_params, schema_dict, image_shards.index, seed
    )
    results = run_sweep(points, image_shards, schema)
    table = points_table([row for row, _ in results])
    plot = table[["model", "fraction", "replicate", "train_images", "parameters", "test_loss"]]
    runs = {row["point_id"]: _child_run(row, what) for row, what in results}
    return table, plot.to_dict("records"), runs


def points_table(rows: list[dict]) -> pd.DataFrame:
    """Rows in a fixed column order: :data:`POINT_COLUMNS`, then ``test_loss_campaign/<c>``
    and ``test_loss_question/<q>`` (NaN where a point's test split lacks them)."""
    table = pd.DataFrame(rows)
    rest = sorted(c for c in table.columns if c not in (*POINT_COLUMNS, *RUN_ONLY_COLUMNS))
    return table[[*POINT_COLUMNS, *rest]].reset_index(drop=True)


def _child_run(row: dict, what: str) -> dict:
    """One point as an MLflow child run: the grid coordinates as params, the losses as
    metrics, the per-question losses as a table (one metric call each would be slow)."""
    params = {key: row[key] for key in POINT_COLUMNS[:9]} | {"status": what}
    headline = ("test_loss", "val_loss", "test_uniform_loss", "images_seen", "train_seconds")
    metrics = {name: [(0, row[name])] for name in headline}
    metrics |= {
        name: [(0, value)]
        for name, value in row.items()
        if name.startswith("test_loss_campaign/") and np.isfinite(value)
    }
    questions = pd.DataFrame(
        [
            {"question": name.removeprefix("test_loss_question/"), "test_loss": value}
            for name, value in row.items()
            if name.startswith("test_loss_question/")
        ]
    )
    return {"params": params, "metrics": metrics, "tables": {"loss_per_question.csv": questions}}


def fit_scaling_laws(
    points: pd.DataFrame, scaling_params: dict, seed: int
) -> tuple[dict, dict, dict]:
    """Both laws against training images (per model, overall and per question) and against
    parameters (at the largest fraction); the fits, the headline exponents (DVC) and the same
    for MLflow."""
    from gz_evo.evaluation.scaling import headline_exponents, sweep_fits
    from gz_evo.training.sweep import ScalingConfig

    options = ScalingConfig.from_params(scaling_params).fits
    fits = sweep_fits(points, options, seed)
    headline = headline_exponents(fits)
    for fit in fits:
        if fit["target"] == "test_loss":
            logger.info("scaling law %s", _describe(fit))
    metrics = {
        **headline,
        "points": len(points),
        "identifiable_fits": sum(fit["identifiable"] for fit in fits),
        "fits": len(fits),
    }
    mlflow_metrics = {
        name: {"value": float(value), "step": 0}
        for name, value in _flatten(headline).items()
        if value is not None
    }
    return {"interval": options.interval, "fits": fits}, metrics, mlflow_metrics


def _describe(fit: dict) -> str:
    where = f"model {fit['model']}" if fit["model"] else f"fraction {fit['fraction']:g}"
    text = f"{fit['target']} vs {fit['against']} ({where}), {fit['form']}: "
    if not fit["identifiable"]:
        return text + f"not identifiable: {fit['reason']}"
    text += f"alpha {fit['alpha']:.3f}"
    if fit["alpha_interval"]:
        text += " [{:.3f}, {:.3f}]".format(*fit["alpha_interval"])
    return text + (f" ({fit['reason']})" if fit["reason"] else "")


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        flat |= _flatten(value, f"{name}/") if isinstance(value, dict) else {name: value}
    return flat


def draw_scaling_laws(points: pd.DataFrame, fits: dict) -> dict:
    """The log-log figures: loss against training images and parameters, and per question."""
    from gz_evo.evaluation.scaling import scaling_figures

    return scaling_figures(points, fits["fits"])
