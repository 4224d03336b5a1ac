"""One pretraining run, from shards to a checkpoint and from a checkpoint to test metrics.

The training core and recipe that the ``pretraining`` pipeline runs once per encoder, and the
``scaling`` pipeline once per sweep point: both call :func:`fit_pretraining` and
:func:`evaluate_pretraining`, so a sweep point is trained and scored exactly as the main encoder.

    checkpoint = fit_pretraining(shards, downstream_catalog, schema, config, seed, augment)
    metrics, predictions = evaluate_pretraining(checkpoint, shards, schema, config, seed, augment)
    metrics["test/loss"], metrics["test/loss_question/bar-dr5"], metrics["test/loss_campaign/dr5"]
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from gz_evo.schema import Schema
from gz_evo.training.config import PretrainingConfig
from gz_evo.training.data import GZEvoDataModule

logger = logging.getLogger(__name__)


def fit_pretraining(
    image_shards: Any,
    downstream_catalog: pd.DataFrame | None,
    schema: Schema,
    config: PretrainingConfig,
    seed: int,
    augment: nn.Module,
) -> Path | None:
    """Train (or resume, or skip when finished) in ``config.workdir``; the chosen checkpoint on
    rank 0, None on other ranks.

    ``downstream_catalog`` feeds the kNN monitor (``pretraining.monitor``; None: no monitor).
    """
    from gz_evo.training.monitors import knn_monitor
    from gz_evo.training.run import fit

    datamodule = GZEvoDataModule.from_config(image_shards, schema, config.data, seed)
    monitor = knn_monitor(downstream_catalog, config.monitor, datamodule.image_size, seed)
    return fit(datamodule, config, schema, seed, augment, callbacks=[monitor] if monitor else None)


def evaluate_pretraining(
    checkpoint: str | Path,
    image_shards: Any,
    schema: Schema,
    config: PretrainingConfig,
    seed: int,
    augment: nn.Module,
    vote_fractions: bool = True,
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """Val and test metrics (flat names: ``test/loss``, ``test/loss_question/<q>``, ...,
    ``best_global_step``, ``epochs``) and the test prediction table of a checkpoint.

    A method without a supervised head (byol) is scored through a Dirichlet linear probe fitted
    on the frozen features of the training galaxies. ``vote_fractions`` False: the losses alone,
    without the vote-fraction MAE, interval coverage and prediction table (None), whose
    intervals cost more than the rest of a small evaluation.
    """
    from gz_evo.evaluation.dirichlet import evaluation_metrics, prediction_table
    from gz_evo.training.run import evaluation_device, predict, restore

    module, progress = restore(checkpoint, config, schema, augment)
    module.to(evaluation_device(config.trainer))
    datamodule = GZEvoDataModule.from_config(image_shards, schema, config.data, seed)
    evaluation = config.evaluation
    outputs = {
        split: predict(module, datamodule.dataloader(split), config.trainer.precision)
        for split in ("val", "test")
    }
    if module.objective.head is None:
        _probe(module, datamodule, config, schema, outputs, seed)
    metrics: dict[str, float] = {}
    for split, output in outputs.items():
        metrics |= evaluation_metrics(
            output["concentrations"],
            output["counts"],
            schema,
            split,
            evaluation.min_votes,
            evaluation.interval,
            vote_fractions,
        )
    metrics["best_global_step"] = progress["global_step"]
    metrics["epochs"] = progress["epoch"] + 1
    if not vote_fractions:
        return metrics, None
    test = outputs["test"]
    predictions = prediction_table(test["key"], test["concentrations"], schema, evaluation.interval)
    return metrics, predictions


def _probe(
    module: Any,
    datamodule: GZEvoDataModule,
    config: PretrainingConfig,
    schema: Schema,
    outputs: dict,
    seed: int,
) -> None:
    """Fill ``outputs[split]["concentrations"]`` from a Dirichlet probe on frozen features."""
    from gz_evo.evaluation.probe import fit_dirichlet_probe
    from gz_evo.training.run import predict

    train = predict(module, datamodule.dataloader("train"), config.trainer.precision)
    logger.info(
        "pretraining: %s has no supervised head; fitting a Dirichlet probe on %d frozen features",
        config.method,
        len(train["key"]),
    )
    val = outputs["val"]
    probe, step = fit_dirichlet_probe(
        (train["features"], torch.as_tensor(train["counts"])),
        (val["features"], torch.as_tensor(val["counts"])),
        schema,
        head=config.model.head,
        steps=config.evaluation.probe_steps,
        lr=config.evaluation.probe_lr,
        seed=seed,
    )
    logger.info("pretraining: the probe's lowest validation loss came at step %d", step)
    with torch.inference_mode():
        for output in outputs.values():
            output["concentrations"] = probe(output["features"]).numpy()
