"""Downstream tasks and the encoders compared on them: load a task's galaxies, build each encoder
(a trained GZ-Evo bundle, the same architecture from random initialisation, timm's ImageNet
weights when they are on disk), and embed the galaxies once per encoder.

Frozen features are the expensive part of a transfer comparison and do not depend on the label
budget, the seed or the probe, so they are computed once per (task, encoder) here and reused.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from gz_evo.checks import CatalogError, check_unique_ids
from gz_evo.config import from_params
from gz_evo.models.bundle import encoder_from_bundle
from gz_evo.models.encoder import PretrainedWeightsNotFound, create_encoder
from gz_evo.readers import header, read_table
from gz_evo.training.augment import GalaxyAugment
from gz_evo.training.data import DownstreamDataModule

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
#: encoders every GZ-Evo encoder is compared with (``downstream.baselines``)
BASELINES = ("random_init", "imagenet", "raw_pixels")


@dataclass(frozen=True)
class DownstreamTask:
    """A labelled catalog and one label column to predict (``downstream.tasks.<name>``).

    ``catalog``: ``downstream_catalog`` (the ingested demo task) or a CSV / parquet path;
    ``image_column`` paths are relative to ``image_root`` (default: the catalog's folder).
    ``requires``: a path that must exist for the task to run (real data beside the project);
    where it does not, the task is skipped with one log line.
    """

    name: str
    catalog: str
    id_column: str
    image_column: str
    label: str
    kind: Literal["binary", "multiclass", "regression"]
    image_root: str | None
    requires: str | None
    val_fraction: float
    test_fraction: float

    def available(self) -> bool:
        if self.requires and not Path(self.requires).exists():
            logger.info("downstream task %s skipped: %s does not exist", self.name, self.requires)
            return False
        return True

    def read_catalog(self, ingested: pd.DataFrame | None) -> tuple[pd.DataFrame, Path]:
        """The catalog as ``id_str``, ``image_path`` + the label, and its image folder.

        A file is read as the ingestion readers read theirs (CSV or parquet, UTF-8, no repeated
        column, not too large for memory, at least one row); ids must be present and distinct.
        Errors are :class:`gz_evo.checks.CatalogError` naming the file, column and rows.
        """
        wanted = [self.id_column, self.image_column, self.label]
        if self.catalog == "downstream_catalog":
            if ingested is None:
                raise ValueError(f"downstream task {self.name}: no ingested downstream_catalog")
            table, root, columns = ingested, Path(self.image_root or "."), list(ingested.columns)
        else:
            path = Path(self.catalog)
            if not path.exists():
                raise FileNotFoundError(f"downstream task {self.name}: {path} does not exist")
            columns = header(path)
            table, root = None, Path(self.image_root) if self.image_root else path.parent
        missing = [c for c in wanted if c not in columns]
        if missing:
            message = (
                f"downstream task {self.name}: {self.catalog} has no column(s) {missing} "
                f"(it has {list(columns)})"
            )
            raise CatalogError(self.catalog, message, missing[0], message=message)
        if table is None:
            table = read_table(path, wanted, [self.id_column, self.image_column])
        renamed = table.rename(columns={self.id_column: "id_str", self.image_column: "image_path"})
        result = renamed[["id_str", "image_path", self.label]].copy()
        ids = result["id_str"].astype("str").reset_index(drop=True)
        check_unique_ids(ids, self.catalog, self.id_column)
        return result, root


@dataclass(frozen=True)
class FinetuneProtocol:
    """``downstream.finetune``: which encoders are finetuned at which budgets and seeds, and the
    changes to the ``pretraining`` parameters that make a finetuning run (epochs, batch size...).
    """

    encoders: tuple[str, ...]
    budgets: tuple[int | None, ...]
    seeds: tuple[int, ...]
    workdir: str
    changes: dict


@dataclass(frozen=True)
class DownstreamConfig:
    """``downstream`` in parameters_downstream.yml (every key required there)."""

    tasks: dict
    baselines: tuple[str, ...]
    raw_pixel_side: int
    budgets: tuple[int | None, ...]
    seeds: tuple[int, ...]
    probe_folds: int
    embed_batch_size: int
    finetune: FinetuneProtocol

    @classmethod
    def from_params(cls, params: dict) -> DownstreamConfig:
        config = from_params(cls, params, "downstream")
        unknown = sorted(set(config.baselines) - set(BASELINES))
        if unknown:
            raise ValueError(
                f"downstream.baselines: unknown {unknown}; known: {', '.join(BASELINES)}"
            )
        return config

    def task_list(self) -> list[DownstreamTask]:
        """The tasks, typed (each block checked, naming ``downstream.tasks.<name>``)."""
        return [
            from_params(DownstreamTask, {"name": name, **block}, f"downstream.tasks.{name}")
            for name, block in self.tasks.items()
        ]


@dataclass
class TaskImages:
    """A task's galaxies decoded once at one image size, split as the downstream modules split."""

    images: dict[str, torch.Tensor]
    labels: dict[str, np.ndarray]
    ids: dict[str, list[str]]
    classes: list | None
    bad: pd.DataFrame


def task_datamodule(
    task: DownstreamTask, ingested: pd.DataFrame | None, image_size: int, seed: int
) -> DownstreamDataModule:
    """The task's galaxies decoded, checked and split once (bad images dropped and listed)."""
    table, root = task.read_catalog(ingested)
    module = DownstreamDataModule(
        table,
        task.label,
        image_size=image_size,
        seed=seed,
        val_fraction=task.val_fraction,
        test_fraction=task.test_fraction,
        image_root=root,
    )
    module.setup()
    return module


def with_training_rows(
    module: DownstreamDataModule, rows: np.ndarray, batch_size: int
) -> DownstreamDataModule:
    """A copy of a set-up module whose training split keeps only ``rows`` (a label budget);
    validation and test galaxies are the same, and nothing is decoded again."""
    subset = copy.copy(module)
    train = module.datasets["train"]
    ids = [train.ids[i] for i in rows]
    subset.datasets = {
        **module.datasets,
        "train": type(train)(train.images[rows], train.labels[rows], ids),
    }
    subset.batch_size = batch_size
    return subset


def load_task_images(
    task: DownstreamTask, ingested: pd.DataFrame | None, image_size: int, seed: int
) -> TaskImages:
    """Decode, check and split the task's galaxies (bad images dropped and listed)."""
    module = task_datamodule(task, ingested, image_size, seed)
    datasets = module.datasets
    return TaskImages(
        images={split: datasets[split].images for split in SPLITS},
        labels={split: datasets[split].labels.numpy() for split in SPLITS},
        ids={split: list(datasets[split].ids) for split in SPLITS},
        classes=module.classes.get(task.label),
        bad=module.bad,
    )


@dataclass(frozen=True)
class EncoderChoice:
    """One encoder to compare: a trained bundle, or a baseline of the main one's architecture."""

    name: str
    kind: Literal["bundle", "random_init", "imagenet", "raw_pixels"]
    bundle: dict | None = None


def build_choice(choice: EncoderChoice, reference: dict, seed: int) -> nn.Module | None:
    """The encoder (eval mode), or None for an ImageNet encoder whose weights are not on disk
    (logged once; nothing is downloaded). ``reference``: the main bundle's config, whose
    architecture the baselines share."""
    if choice.kind == "bundle":
        return encoder_from_bundle(choice.bundle)
    architecture, kwargs = reference["architecture"], reference["timm_kwargs"]
    if choice.kind == "random_init":
        generator_state = torch.get_rng_state()
        torch.manual_seed(seed)
        encoder = create_encoder(architecture, pretrained=False, **kwargs)
        torch.set_rng_state(generator_state)
        return encoder.eval()
    try:
        return create_encoder(architecture, pretrained=True, **kwargs).eval()
    except PretrainedWeightsNotFound as error:
        logger.info("downstream encoder imagenet skipped: %s", error)
        return None


def augment_of(reference: dict) -> GalaxyAugment:
    """The evaluation view every encoder here is fed: the main bundle's image size and
    normalisation (the GZ-Evo encoders share them; the baselines are fed the same pixels)."""
    return GalaxyAugment(**reference["augment"])


@torch.inference_mode()
def embed(
    encoder: nn.Module, images: torch.Tensor, augment: GalaxyAugment, batch_size: int
) -> np.ndarray:
    """Pooled features ``float32 [N, F]`` of uint8 images ``[N, 3, S, S]`` (eval view)."""
    device = next(encoder.parameters()).device
    chunks = [
        encoder(augment.eval_view(images[start : start + batch_size].to(device))).float().cpu()
        for start in range(0, len(images), batch_size)
    ]
    if not chunks:
        return np.zeros((0, int(getattr(encoder, "num_features", 0))), dtype=np.float32)
    return torch.cat(chunks).numpy()


def raw_pixels(images: torch.Tensor, side: int) -> np.ndarray:
    """The no-network baseline: images resized to ``side`` px, flattened, scaled to [0, 1]."""
    small = nn.functional.interpolate(images.float(), size=side, mode="area")
    return (small / 255.0).flatten(1).numpy().astype(np.float32)


def build_encoders(
    choices: list[EncoderChoice], reference: dict, seed: int
) -> dict[str, nn.Module | None]:
    """Each encoder built once (None for raw pixels); those that cannot be built are left out
    (one log line each, from :func:`build_choice`)."""
    built = {}
    for choice in choices:
        if choice.kind == "raw_pixels":
            built[choice.name] = None
            continue
        encoder = build_choice(choice, reference, seed)
        if encoder is not None:
            built[choice.name] = encoder
    return built


def task_features(
    task_images: TaskImages,
    encoders: dict[str, nn.Module | None],
    augment: GalaxyAugment,
    batch_size: int,
    pixel_side: int,
) -> dict[str, dict[str, Any]]:
    """``{encoder: {"train"/"val"/"test": features}}``: every galaxy embedded once per encoder
    (``None`` stands for the raw-pixel baseline)."""
    result = {}
    for name, encoder in encoders.items():
        images = task_images.images
        if encoder is None:
            result[name] = {split: raw_pixels(images[split], pixel_side) for split in SPLITS}
        else:
            result[name] = {
                split: embed(encoder, images[split], augment, batch_size) for split in SPLITS
            }
    return result
