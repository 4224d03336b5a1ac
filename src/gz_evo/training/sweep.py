"""A scaling sweep: one pretraining run per (model, training fraction, replicate) point.

Every point is :func:`gz_evo.training.pretrain.fit_pretraining` +
:func:`~gz_evo.training.pretrain.evaluate_pretraining` on the ``pretraining`` parameters with the
sweep's changes (``scaling.pretraining``), the point's model (``scaling.models.<name>``: changes to
``pretraining.model``) and its share of the train split (``pretraining.data.train_fraction``),
seeded ``seed + replicate``, and scored on the whole, fixed test split.

Resumable and incremental: each point trains in its own work folder,
``<scaling.workdir>/<point id>/``, whose id holds the model, fraction and replicate and a hash of
everything that changes the result (the run's fingerprint, the augmentations, the shards' index).
A finished point leaves ``result.json`` (written atomically) and is skipped on the next run; a
killed one resumes from its ``last.ckpt``; a point added to the grid is the only one trained; a
changed recipe gives new ids, so every point trains afresh (old folders are left, not read).

    points = plan_sweep(pretraining_params, ScalingConfig.from_params(params["scaling"]),
                        augment_params, schema_dict, shards.index, seed=42)
    rows = [run_point(point, shards, schema) for point in points]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gz_evo.config import ConfigError, from_params, merged
from gz_evo.evaluation.scaling import FitOptions
from gz_evo.schema import Schema
from gz_evo.training.config import PretrainingConfig

logger = logging.getLogger(__name__)

RESULT_FILE = "result.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ScalingConfig:
    """``scaling`` (conf/base/parameters_scaling.yml): the grid (``fractions`` x ``models`` x
    ``replicates``), the changes every point makes to ``pretraining`` and ``images.augment``,
    where the points' work folders go, whether their checkpoints are kept, and the fits."""

    workdir: str
    fractions: tuple[float, ...]
    models: dict
    replicates: tuple[int, ...]
    pretraining: dict
    augment: dict
    keep_checkpoints: bool
    fits: FitOptions

    @classmethod
    def from_params(cls, params: dict) -> ScalingConfig:
        return from_params(cls, params, "scaling")

    def __post_init__(self) -> None:
        if not self.fractions or any(not 0 < f <= 1 for f in self.fractions):
            raise ConfigError(
                f"scaling.fractions must be numbers in (0, 1], got {list(self.fractions)}"
            )
        if not self.models:
            raise ConfigError("scaling.models is empty: name at least one model")
        for name, changes in self.models.items():
            if not _NAME.match(str(name)) or not isinstance(changes, dict):
                raise ConfigError(
                    f"scaling.models.{name}: a model is a name (letters, digits, _ . -) with "
                    "changes to pretraining.model, e.g. {architecture: resnet10t, timm_kwargs: "
                    f"{{channels: [16, 32, 64, 128]}}}}; got {changes!r}"
                )
        if not self.replicates or any(r < 0 for r in self.replicates):
            raise ConfigError(
                "scaling.replicates must be non-negative integers (replicate r trains with "
                f"seed + r), got {list(self.replicates)}"
            )
        for key in ("fractions", "replicates"):
            values = getattr(self, key)
            if len(set(values)) != len(values):
                raise ConfigError(f"scaling.{key} repeats a value: {list(values)}")


@dataclass(frozen=True)
class SweepPoint:
    """One point of the grid, with its full pretraining configuration (its own workdir)."""

    model: str
    fraction: float
    replicate: int
    seed: int
    key: str
    config: PretrainingConfig
    augment: dict
    keep_checkpoints: bool

    @property
    def point_id(self) -> str:
        return f"{self.model}_f{self.fraction:g}_r{self.replicate}_{self.key[:10]}"

    @property
    def workdir(self) -> Path:
        return Path(self.config.workdir)


def plan_sweep(
    pretraining_params: dict,
    scaling: ScalingConfig,
    augment_params: dict,
    schema_dict: dict,
    shards_index: dict,
    seed: int,
) -> list[SweepPoint]:
    """Every point of the grid, in order (model, fraction, replicate as listed)."""
    augment = merged(augment_params, scaling.augment)
    points = []
    for model, model_changes in scaling.models.items():
        for fraction in scaling.fractions:
            for replicate in scaling.replicates:
                changes = merged(
                    scaling.pretraining,
                    {"model": model_changes, "data": {"train_fraction": fraction}},
                )
                config = PretrainingConfig.from_params(pretraining_params, changes)
                point_seed = seed + replicate
                key = _point_key(config, schema_dict, point_seed, augment, shards_index)
                point = SweepPoint(
                    str(model), float(fraction), int(replicate), point_seed, key, config,
                    augment, scaling.keep_checkpoints,
                )  # fmt: skip
                workdir = str(Path(scaling.workdir) / point.point_id)
                points.append(
                    dataclasses.replace(point, config=dataclasses.replace(config, workdir=workdir))
                )
    return points


def _point_key(
    config: PretrainingConfig, schema_dict: dict, seed: int, augment: dict, shards_index: dict
) -> str:
    """A hash of what a point's result depends on: training (its fingerprint), augmentation,
    and the shards (their index: sizes, shard files, sample counts)."""
    text = json.dumps(
        {
            "training": config.fingerprint(schema_dict, seed),
            "augment": augment,
            "shards": shards_index,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def read_result(point: SweepPoint) -> dict | None:
    """A finished point's result row, or None."""
    path = point.workdir / RESULT_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def run_point(point: SweepPoint, image_shards: Any, schema: Schema) -> tuple[dict, str]:
    """(result row, what happened: ``done before``, ``resumed`` or ``trained``) of one point.

    Trains (or resumes) and evaluates it unless its ``result.json`` exists; then writes that
    file atomically and, unless ``keep_checkpoints``, removes its checkpoints.
    """
    from gz_evo.datasets.atomic import atomic_write_path
    from gz_evo.training.augment import GalaxyAugment
    from gz_evo.training.pretrain import evaluate_pretraining, fit_pretraining
    from gz_evo.training.run import checkpoint_dir

    found = read_result(point)
    if found is not None:
        return found, "done before"
    workdir = point.workdir
    resumed = (checkpoint_dir(workdir) / "last.ckpt").is_file()
    started = time.perf_counter()
    config, seed = point.config, point.seed
    augment = GalaxyAugment.from_params(point.augment, seed)
    checkpoint = fit_pretraining(image_shards, None, schema, config, seed, augment)
    if checkpoint is None:
        raise RuntimeError(
            "the scaling sweep runs in one process: set scaling.pretraining.trainer to one "
            "device (or ddp_spawn), not a torchrun / srun launch"
        )
    metrics, _ = evaluate_pretraining(
        checkpoint,
        image_shards,
        schema,
        config,
        seed,
        GalaxyAugment.from_params(point.augment, seed),
        vote_fractions=False,
    )
    steps = json.loads((workdir / "done.json").read_text())["global_step"]
    row = {
        "point_id": point.point_id,
        "model": point.model,
        "architecture": config.model.architecture,
        "timm_kwargs": json.dumps(config.model.timm_kwargs, sort_keys=True),
        "parameters": count_parameters(config, schema, point.augment),
        "fraction": point.fraction,
        "replicate": point.replicate,
        "seed": seed,
        **training_compute(image_shards, schema, config, seed, steps),
        "best_step": int(metrics["best_global_step"]),
        "test_loss": metrics["test/loss"],
        "val_loss": metrics["val/loss"],
        "test_uniform_loss": metrics["test/uniform_loss"],
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    for group in ("campaign", "question"):
        prefix = f"test/loss_{group}/"
        row |= {
            f"test_loss_{group}/{name.removeprefix(prefix)}": value
            for name, value in sorted(metrics.items())
            if name.startswith(prefix)
        }
    with atomic_write_path(workdir / RESULT_FILE) as temporary:
        temporary.write_text(json.dumps(row, indent=1) + "\n")
    if not point.keep_checkpoints:
        shutil.rmtree(checkpoint_dir(workdir), ignore_errors=True)
        (workdir / "done.json").unlink(missing_ok=True)  # result.json is the point's record now
    return row, "resumed" if resumed else "trained"


def count_parameters(config: PretrainingConfig, schema: Schema, augment: dict) -> int:
    """Parameters of the encoder and the supervised head (what a trained model keeps; BYOL's
    projection and prediction heads are training-only)."""
    from gz_evo.training.augment import GalaxyAugment
    from gz_evo.training.core import TrainingModule

    module = TrainingModule(config, schema, GalaxyAugment.from_params(augment), pretrained=False)
    parts = [module.encoder, module.objective.head]
    return int(sum(p.numel() for part in parts if part is not None for p in part.parameters()))


def training_compute(
    image_shards: Any, schema: Schema, config: PretrainingConfig, seed: int, steps: int
) -> dict:
    """``train_images`` (the subset trained on), ``epochs`` and ``images_seen`` (galaxies
    through the training step, repeats counted) after ``steps`` optimiser steps (one device)."""
    from gz_evo.training.data import GZEvoDataModule

    datamodule = GZEvoDataModule.from_config(image_shards, schema, config.data, seed)
    n_train, batch = datamodule.n_train, config.data.batch_size
    per_epoch = datamodule.steps_per_epoch()  # batches
    limit = config.trainer.limit_train_batches
    if isinstance(limit, int):
        per_epoch = min(per_epoch, limit)
    elif isinstance(limit, float):
        per_epoch = max(1, math.ceil(per_epoch * limit))
    epoch_images = min(n_train, per_epoch * batch)
    batches = steps * config.trainer.accumulate_grad_batches
    full, rest = divmod(batches, per_epoch)
    return {
        "train_images": n_train,
        "epochs": round(batches / per_epoch, 4),
        "steps": int(steps),
        "images_seen": int(full * epoch_images + min(rest * batch, epoch_images)),
    }


def run_sweep(
    points: list[SweepPoint], image_shards: Any, schema: Schema
) -> list[tuple[dict, str]]:
    """Every point's (row, what happened), one log line each, and a summary line."""
    started = time.perf_counter()
    results = []
    for number, point in enumerate(points, start=1):
        row, what = run_point(point, image_shards, schema)
        results.append((row, what))
        logger.info(
            "scaling %d/%d: %s, fraction %g (%d training images), replicate %d (seed %d): "
            "test loss %.3f [%s%s]",
            number,
            len(points),
            point.model,
            point.fraction,
            row["train_images"],
            point.replicate,
            point.seed,
            row["test_loss"],
            what,
            "" if what == "done before" else f" in {row['train_seconds']:.1f} s",
        )
    done_before = sum(what == "done before" for _, what in results)
    logger.info(
        "scaling: %d points, %d run now and %d found done, in %.1f s",
        len(points),
        len(points) - done_before,
        done_before,
        time.perf_counter() - started,
    )
    return results
