"""Thin nodes: fit a model, evaluate it, export its encoder (as spaceflights trains, then
evaluates). They meet through the ``pretraining_checkpoint`` dataset.

torch, timm and Lightning are imported inside the nodes, so other pipelines never load them.
On ranks > 0 of a torchrun / srun launch the checkpoint dataset loads as None and the evaluation
and export nodes return empty placeholders, which the rank-zero datasets do not write.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from gz_evo.schema import Schema

logger = logging.getLogger(__name__)

# headline metrics for DVC (nested JSON) and for kedro-mlflow's run
_HEADLINE = {
    "val_loss": "val/loss",
    "val_uniform_loss": "val/uniform_loss",
    "test_loss": "test/loss",
    "test_uniform_loss": "test/uniform_loss",
    "test_mae": "test/mae",
    "test_coverage": "test/coverage",
}

_GROUPS = {
    "loss_campaign": "test_loss_per_campaign",
    "loss_question": "test_loss_per_question",
    "mae": "test_mae_per_question",
    "coverage": "test_coverage_per_question",
}

_PROGRESS = ("best_global_step", "epochs")


def summarise_metrics(metrics: dict[str, float]) -> tuple[dict, dict]:
    """(DVC metrics JSON, kedro-mlflow metrics) from the evaluation's flat metric names.

    MLflow gets the same numbers under the same names, the nested groups flattened with ``/``
    (``test_loss_per_campaign/dr5``): final metrics reach MLflow through the catalog only.
    """
    summary: dict[str, Any] = {
        key: metrics[name] for key, name in _HEADLINE.items() if name in metrics
    }
    for group, name in _GROUPS.items():
        prefix = f"test/{group}/"
        values = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}
        if values:
            summary[name] = values
    for key in _PROGRESS:
        if key in metrics:
            summary[key] = metrics[key]
    mlflow_metrics = {}
    for key, value in summary.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for inner, number in items:
            name = key if inner is None else f"{key}/{inner}"
            mlflow_metrics[name] = {"value": float(number), "step": 0}
    return summary, mlflow_metrics


def _augment(augment_params: dict, seed: int) -> Any:
    from gz_evo.training.augment import GalaxyAugment

    return GalaxyAugment.from_params(augment_params, seed=seed)


def _config(params: dict, changes: dict | None) -> Any:
    from gz_evo.training.config import PretrainingConfig

    return PretrainingConfig.from_params(params, changes)


def fit_model(
    image_shards: Any,
    downstream_catalog: pd.DataFrame | None,
    schema_dict: dict,
    params: dict,
    augment_params: dict,
    seed: int,
    changes: dict | None = None,
) -> str:
    """Train (or resume) on the shards; the chosen checkpoint's path ("" on ranks > 0).

    ``downstream_catalog`` feeds the kNN monitor (``pretraining.monitor``); ``changes``: a
    variant's changes to ``params`` (``pretraining_variants.<name>``).
    """
    from gz_evo.training.pretrain import fit_pretraining

    config = _config(params, changes)
    schema = Schema.from_dict(schema_dict)
    augment = _augment(augment_params, seed)
    checkpoint = fit_pretraining(image_shards, downstream_catalog, schema, config, seed, augment)
    return "" if checkpoint is None else str(checkpoint)


def evaluate_model(
    checkpoint: str | None,
    image_shards: Any,
    schema_dict: dict,
    params: dict,
    augment_params: dict,
    seed: int,
    changes: dict | None = None,
) -> tuple[pd.DataFrame, dict, dict, pd.DataFrame, pd.DataFrame]:
    """Val and test metrics and test predictions of the trained model (rank 0).

    A method without a supervised head (byol) is scored through a Dirichlet linear probe fitted
    on the frozen features of the training galaxies. Returns the prediction table, the DVC
    metrics summary, the kedro-mlflow metrics, the per-epoch history of the fit and its
    whole-model curves (the history without per-question and per-campaign columns, for DVC plots).
    """
    if checkpoint is None:  # rank > 0
        return pd.DataFrame(), {}, {}, pd.DataFrame(), pd.DataFrame()
    from gz_evo.training.pretrain import evaluate_pretraining
    from gz_evo.training.run import history_curves, read_history

    config = _config(params, changes)
    schema = Schema.from_dict(schema_dict)
    augment = _augment(augment_params, seed)
    metrics, predictions = evaluate_pretraining(
        checkpoint, image_shards, schema, config, seed, augment
    )
    summary, mlflow_metrics = summarise_metrics(metrics)
    logger.info(
        "pretraining (%s): val loss %.3f (uniform concentrations %.3f), test loss %.3f "
        "(uniform %.3f)",
        config.method,
        summary.get("val_loss", float("nan")),
        summary.get("val_uniform_loss", float("nan")),
        summary.get("test_loss", float("nan")),
        summary.get("test_uniform_loss", float("nan")),
    )
    history = read_history(config.workdir)
    return predictions, summary, mlflow_metrics, history, history_curves(history)


def export_encoder(
    checkpoint: str | None,
    metrics: dict | None,
    schema_dict: dict,
    params: dict,
    augment_params: dict,
    seed: int,
    changes: dict | None = None,
) -> dict:
    """The encoder (+ supervised head, if the method has one) bundle of the trained model."""
    if checkpoint is None:  # rank > 0
        return {}
    from dataclasses import asdict

    from gz_evo.models.bundle import encoder_bundle
    from gz_evo.training.run import restore

    config = _config(params, changes)
    augment = _augment(augment_params, seed)
    module, _ = restore(checkpoint, config, Schema.from_dict(schema_dict), augment)
    headline = {key: metrics[key] for key in _HEADLINE if key in metrics}
    return encoder_bundle(
        module.encoder,
        module.objective.head,
        {**asdict(config.model), "method": config.method},
        schema_dict,
        augment.output_size,
        {"mean": augment.mean.flatten().tolist(), "std": augment.std.flatten().tolist()},
        extra={"seed": seed, "metrics": headline, "augment": augment.config()},
    )
