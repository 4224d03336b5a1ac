"""Thin node over ``gz_evo.models.training.pretrain``: data module and augmentation in, outputs out.

torch, timm and Lightning are imported inside the node, so other pipelines never load them.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

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


def summarise_metrics(metrics: dict[str, float]) -> tuple[dict, dict]:
    """(DVC metrics JSON, kedro-mlflow metrics) from ``pretrain``'s flat metric names."""
    summary: dict[str, Any] = {
        key: metrics[name] for key, name in _HEADLINE.items() if name in metrics
    }
    for group, name in _GROUPS.items():
        prefix = f"test/{group}/"
        values = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}
        if values:
            summary[name] = values
    for key in ("best_global_step", "epochs"):
        if key in metrics:
            summary[key] = metrics[key]
    mlflow_metrics = {
        key: {"value": float(value), "step": 0}
        for key, value in summary.items()
        if not isinstance(value, dict)
    }
    return summary, mlflow_metrics


def pretrain_gz_evo(
    image_shards: Any,
    schema_dict: dict,
    params: dict,
    augment_params: dict,
    seed: int,
) -> tuple[str, dict, pd.DataFrame, dict, dict]:
    """Train (or resume) the GZ-Evo model on the shards; return checkpoint, encoder, predictions,
    metrics (DVC) and metrics (MLflow). On ranks > 0 (torchrun/srun) the outputs are empty
    placeholders that the catalog's rank-zero datasets do not write."""
    from gz_evo.augment import GalaxyAugment
    from gz_evo.images import GZEvoDataModule
    from gz_evo.models.training import pretrain

    data = params.get("data", {})
    datamodule = GZEvoDataModule(
        image_shards,
        schema_dict,
        batch_size=int(data.get("batch_size", 64)),
        num_workers=int(data.get("num_workers", 0)),
        seed=seed,
        include_unlabelled=bool(data.get("include_unlabelled", False)),
        shuffle_buffer=int(data.get("shuffle_buffer", 1000)),
        pin_memory=bool(data.get("pin_memory", False)),
    )
    augment = GalaxyAugment.from_params(augment_params, seed=seed)
    normalisation = {"mean": augment.mean.flatten().tolist(), "std": augment.std.flatten().tolist()}
    result = pretrain(
        datamodule, schema_dict, params, seed, augment, augment.output_size, normalisation
    )
    if result.encoder is None:  # rank > 0: nothing to save
        return "", {}, pd.DataFrame(), {}, {}
    result.encoder["config"]["augment"] = augment.config()
    summary, mlflow_metrics = summarise_metrics(result.metrics)
    logger.info(
        "pretraining: val loss %.3f (uniform concentrations %.3f), test loss %.3f (uniform %.3f)",
        summary.get("val_loss", float("nan")),
        summary.get("val_uniform_loss", float("nan")),
        summary.get("test_loss", float("nan")),
        summary.get("test_uniform_loss", float("nan")),
    )
    return result.checkpoint_path, result.encoder, result.predictions, summary, mlflow_metrics
