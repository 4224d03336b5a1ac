"""Monitors: metrics watched while a model trains that change nothing it learns.

:class:`KNNMonitor` is a Lightning callback: at the end of each validation it embeds a labelled
downstream task's galaxies with the frozen current encoder (eval mode, no gradients, the
augment's ``eval_view``, through the core's ``forward`` so channels and precision are as in
validation), fits a cosine kNN classifier on the task's training galaxies and logs its accuracy
on the val + test galaxies, ``knn/<label>`` per label column, so that methods (supervised, BYOL,
hybrid) can be compared while they train::

    monitor = knn_monitor(downstream_catalog, config.monitor, image_size, seed)  # or None
    fit(datamodule, config, schema, seed, augment, callbacks=[monitor] if monitor else None)

It draws no random numbers (no DataLoader: the in-memory images are batched by hand, since a
DataLoader's iterator draws its base seed from torch's global generator), puts every encoder
submodule back in the train/eval mode it found it in, and so leaves training bit-identical.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch

from gz_evo.evaluation.knn import knn_accuracy
from gz_evo.training.config import MonitorConfig
from gz_evo.training.data import DownstreamDataModule

logger = logging.getLogger(__name__)

#: metric names are ``f"{PREFIX}/{label column}"``
PREFIX = "knn"


def _label_matrix(labels: Any, n: int, columns: int, name: str) -> np.ndarray:
    """Labels as ``[N, L]`` numpy (a ``[N]`` tensor or array is one column)."""
    array = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if array.ndim == 1:
        array = array[:, None]
    if array.shape != (n, columns):
        raise ValueError(f"{name} labels must be [{n}] or [{n}, {columns}], got {array.shape}")
    return array


def _check_images(images: torch.Tensor, name: str) -> torch.Tensor:
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(
            f"{name} images must be a non-empty [N, 3, S, S] batch, got {images.shape}"
        )
    return images.contiguous()


class KNNMonitor(pl.Callback):
    """kNN accuracy of the frozen encoder on a labelled task, logged each validation.

    Args:
        train_images, eval_images: uint8 ``[N, 3, S, S]`` (any device; kept as given and moved a
            batch at a time to the module's device). The classifier is fitted on the first and
            scored on the second.
        train_labels, eval_labels: class labels ``[N]`` (one column) or ``[N, L]``.
        label_columns: the ``L`` names; metrics are ``knn/<name>``.
        k: neighbours that vote (capped at the number of training galaxies).
        batch_size: galaxies embedded at a time.
    """

    def __init__(
        self,
        train_images: torch.Tensor,
        train_labels: Any,
        eval_images: torch.Tensor,
        eval_labels: Any,
        label_columns: str | Sequence[str],
        k: int = 10,
        batch_size: int = 256,
    ) -> None:
        super().__init__()
        columns = [label_columns] if isinstance(label_columns, str) else list(label_columns)
        if not columns:
            raise ValueError("KNNMonitor needs at least one label column")
        if k < 1 or batch_size < 1:
            raise ValueError(f"k and batch_size must be at least 1, got {k} and {batch_size}")
        self.label_columns = columns
        self.train_images = _check_images(train_images, "train")
        self.eval_images = _check_images(eval_images, "eval")
        self.train_labels = _label_matrix(train_labels, len(train_images), len(columns), "train")
        self.eval_labels = _label_matrix(eval_labels, len(eval_images), len(columns), "eval")
        self.k, self.batch_size = int(k), int(batch_size)

    @classmethod
    def from_datamodule(
        cls, datamodule: DownstreamDataModule, k: int = 10, batch_size: int = 256
    ) -> KNNMonitor:
        """Fitted on the module's ``train`` split, scored on ``val`` + ``test``; every label
        column must hold classes (text, categories or integers), not continuous values."""
        datamodule.setup()
        continuous = [c for c in datamodule.label_columns if c not in datamodule.classes]
        if continuous:
            raise ValueError(
                f"label column(s) {continuous} hold continuous values: a kNN classifier needs "
                "classes"
            )
        train, val, test = (datamodule.datasets[s] for s in ("train", "val", "test"))
        if len(train) == 0 or len(val) + len(test) == 0:
            raise ValueError(
                f"the downstream catalog has {len(train)} training and {len(val) + len(test)} "
                "val + test galaxies with readable images: a kNN monitor needs some of both"
            )
        return cls(
            train.images,
            train.labels,
            torch.cat([val.images, test.images]),
            torch.cat([val.labels, test.labels]),
            datamodule.label_columns,
            k=k,
            batch_size=batch_size,
        )

    @property
    def metric_names(self) -> list[str]:
        return [f"{PREFIX}/{column}" for column in self.label_columns]

    # --- computation ------------------------------------------------------------------------------
    def embed(
        self, pl_module: pl.LightningModule, images: torch.Tensor, trainer: pl.Trainer | None = None
    ) -> np.ndarray:
        """float32 ``[N, F]`` features of uint8 images: ``pl_module(augment.eval_view(batch))``
        with the encoder in eval mode and no gradients, on the module's device; with a trainer,
        inside its precision plugin's validation context (autocast for mixed precision)."""
        precision = trainer.precision_plugin if trainer is not None else None
        context = (
            precision.val_step_context() if precision is not None else contextlib.nullcontext()
        )
        device = pl_module.device
        encoder = pl_module.encoder
        modes = [(module, module.training) for module in encoder.modules()]
        chunks = []
        try:
            encoder.eval()
            with torch.no_grad(), context:
                for start in range(0, len(images), self.batch_size):
                    batch = images[start : start + self.batch_size].to(device)
                    view = pl_module.augment.eval_view(batch)
                    if precision is not None:
                        view = precision.convert_input(view)
                    chunks.append(pl_module(view).float().cpu())
        finally:
            for module, training in modes:  # each submodule as it was (as Lightning restores)
                module.training = training
        return torch.cat(chunks).numpy()

    def compute(
        self, pl_module: pl.LightningModule, trainer: pl.Trainer | None = None
    ) -> dict[str, float]:
        """``{"knn/<label>": accuracy}`` for the module's current encoder (NaN for every label
        when a feature is not finite)."""
        train = self.embed(pl_module, self.train_images, trainer)
        evaluation = self.embed(pl_module, self.eval_images, trainer)
        if not (np.isfinite(train).all() and np.isfinite(evaluation).all()):
            if trainer is None or trainer.is_global_zero:
                logger.warning("kNN monitor: the encoder's features are not finite; logging NaN")
            return dict.fromkeys(self.metric_names, float("nan"))
        return {
            name: knn_accuracy(
                train, self.train_labels[:, j], evaluation, self.eval_labels[:, j], self.k
            )
            for j, name in enumerate(self.metric_names)
        }

    # --- Lightning hook ---------------------------------------------------------------------------
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        started = time.perf_counter()
        metrics = self.compute(pl_module, trainer)
        # Every rank computes the same numbers (same data, same weights; DDP has just given every
        # rank rank 0's buffers in the validation forward). sync_dist=True averages them: the
        # value is unchanged, every rank holds exactly the logged one (so a callback monitoring
        # knn/* decides alike on all ranks), Lightning does not warn that an epoch-level metric
        # is unsynchronised, and it costs one scalar all-reduce per label per validation.
        for name, value in metrics.items():
            pl_module.log(name, value, on_step=False, on_epoch=True, sync_dist=True, batch_size=1)
        if trainer.is_global_zero:
            logger.info(
                "kNN monitor (epoch %d, %.1f s): %s",
                trainer.current_epoch,
                time.perf_counter() - started,
                ", ".join(f"{name} {value:.3f}" for name, value in metrics.items()),
            )


def knn_monitor(
    downstream_catalog: pd.DataFrame | None,
    config: MonitorConfig,
    image_size: int,
    seed: int,
    image_root: str | Path = ".",
) -> KNNMonitor | None:
    """The kNN monitor of ``pretraining.monitor`` on the downstream catalog, or None.

    ``downstream_catalog`` is the ``downstream_catalog`` dataset (``id_str``, ``image_path``,
    label columns; :class:`~gz_evo.training.data.DownstreamDataModule` decodes it once, at
    ``image_size``, the pretraining images' size, and splits it with ``seed`` as the downstream
    evaluation does). None when ``config.knn`` is off; None with a warning when there is no
    catalog, a label column is missing or holds no classes, or no split has galaxies: a monitor
    never stops a pretraining run.
    """
    if not config.knn:
        return None
    if downstream_catalog is None or len(downstream_catalog) == 0:
        logger.warning("pretraining.monitor.knn: no downstream catalog, so no kNN monitor")
        return None
    missing = [column for column in config.labels if column not in downstream_catalog.columns]
    if missing:
        logger.warning(
            "pretraining.monitor.knn: the downstream catalog has no label column(s) %s "
            "(it has %s), so no kNN monitor",
            missing,
            list(downstream_catalog.columns),
        )
        return None
    datamodule = DownstreamDataModule(
        downstream_catalog,
        list(config.labels),
        image_size=image_size,
        batch_size=config.batch_size,
        seed=seed,
        image_root=image_root,
    )
    try:
        datamodule.setup()
        monitor = KNNMonitor.from_datamodule(datamodule, k=config.k, batch_size=config.batch_size)
    except ValueError as error:  # an empty label, continuous labels, no galaxies in a split
        logger.warning("pretraining.monitor.knn: %s, so no kNN monitor", error)
        return None
    if len(datamodule.bad):
        logger.warning(
            "pretraining.monitor.knn: %d downstream image(s) unreadable and left out (first: %s)",
            len(datamodule.bad),
            datamodule.bad.iloc[0].to_dict(),
        )
    logger.info(
        "kNN monitor on %s: %d training and %d val + test downstream galaxies, k = %d",
        monitor.label_columns,
        len(monitor.train_images),
        len(monitor.eval_images),
        monitor.k,
    )
    return monitor
