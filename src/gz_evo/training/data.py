"""Lightning data modules with one batch contract: GZ-Evo shards and downstream image catalogs.

Imports torch and lightning at module level: only the training side imports this module.

Every data module yields batches of the same shape (:data:`BATCH_KEYS`), so every objective and
the training core read any of them::

    batch["image"]     # uint8[B, 3, H, W]
    batch["key"]       # list[str]: "{campaign}/{id_str}" (GZ-Evo) or the catalog's id_str
    batch["labelled"]  # bool[B]: False for galaxies without votes / labels
    batch["counts"]    # int32[B, A], schema answer order; zeros when unlabelled   (GZ-Evo)
    batch["labels"]    # int64[B] class codes, or float32[B] / [B, L] values      (downstream)

    shards = catalog.load("image_shards")                     # a ShardSet handle
    dm = GZEvoDataModule(shards, schema, batch_size=64, num_workers=4, seed=42,
                         unlabelled_fraction=0.5)
    batch = next(iter(dm.train_dataloader()))

Each pass over a train loader is one epoch: its shard order and shuffle buffer are seeded by
``(seed, epoch)``, and under DDP each rank reads its own contiguous part of the epoch's stream
(:func:`gz_evo.images.shards.plan_epoch`), padded to equal length so ranks step together.
``unlabelled_fraction`` mixes ``round(fraction * N_unlabelled)`` unlabelled galaxies into every
training epoch: a different contiguous window of the (build-time shuffled) unlabelled split each
epoch, rotating through it (:func:`gz_evo.images.shards.epoch_window`), so every unlabelled galaxy
comes once before any repeats; the epoch's length stays the same. ``train_fraction`` trains on
``round(fraction * N_train)`` galaxies of the train split, the same ones every epoch, chosen by a
hash of their key salted with ``seed`` (:func:`gz_evo.images.shards.nested_subset`): a smaller
fraction's galaxies are inside every larger one's. Validation and test stay whole.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from gz_evo.images.decode import BadImage, DecodeConfig, load_galaxy, source_name
from gz_evo.images.shards import (
    ShardInfo,
    ShardSet,
    decode_pixels,
    epoch_window,
    iter_plan,
    nested_subset,
    plan_epoch,
    rank_range,
    shuffled,
)
from gz_evo.schema import Schema
from gz_evo.training.config import DataConfig, check_train_fraction, check_unlabelled_fraction

logger = logging.getLogger(__name__)

#: keys of every batch; GZ-Evo batches add ``counts``, downstream batches ``labels``
BATCH_KEYS = ("image", "key", "labelled")


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


try:  # deprecated in torchvision 0.29 (for TorchCodec) but there up to our pin; else Pillow
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_jpeg as _decode_jpeg

    _RGB = ImageReadMode.RGB
    warnings.filterwarnings(
        "ignore", "The image decoding and encoding capabilities of TorchVision", DeprecationWarning
    )
except ImportError:  # pragma: no cover
    _decode_jpeg, _RGB = None, None


def decode_chw(data: bytes, encoding: str) -> torch.Tensor:
    """Shard image bytes to ``uint8[3, H, W]``.

    JPEG goes through ``torchvision.io.decode_jpeg`` (libjpeg-turbo, the same pixels as Pillow's)
    straight to channels-first: ~25% less CPU than Pillow + a transposing copy.
    """
    if encoding == "jpg" and _decode_jpeg is not None:
        return _decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=_RGB)
    pixels = decode_pixels(data, encoding)
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


class ShardStream(IterableDataset):
    """Stream samples of some shards: this rank's and this worker's part of the epoch only.

    ``column_index`` maps the shards' answer columns to the schema's order (counts of the schema
    column ``j`` come from shard column ``column_index[j]``). ``window_shards`` and
    ``window_size`` add, each epoch, that epoch's :func:`epoch_window` of ``window_size`` samples
    of ``window_shards`` to ``shards`` (the unlabelled galaxies of a training epoch): the shard
    order and the shuffle buffer mix them with the others, and the length stays the same.
    """

    def __init__(
        self,
        shards: Sequence[ShardInfo],
        encoding: str,
        n_answers: int,
        *,
        seed: int,
        shuffle: bool,
        shuffle_buffer: int = 1000,
        even: bool = False,
        batch_size: int = 1,
        column_index: np.ndarray | None = None,
        storage_options: dict | None = None,
        window_shards: Sequence[ShardInfo] = (),
        window_size: int = 0,
    ) -> None:
        super().__init__()
        self.batch_size = int(batch_size)
        self.shards = list(shards)
        self.window_shards = list(window_shards)
        available = sum(shard.n_samples for shard in self.window_shards)
        if not 0 <= window_size <= available:
            raise ValueError(f"window_size must be in [0, {available}], got {window_size}")
        self.window_size = int(window_size)
        self.encoding, self.n_answers = encoding, n_answers
        self.seed, self.shuffle, self.shuffle_buffer, self.even = (
            seed,
            shuffle,
            shuffle_buffer,
            even,
        )
        self.column_index = column_index
        self.storage_options = storage_options
        self.epoch, self.rank, self.world_size = 0, 0, 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def set_distributed(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = int(rank), int(world_size)

    def epoch_shards(self) -> list[ShardInfo]:
        """This epoch's shards: ``shards``, then this epoch's window of ``window_shards``."""
        if not self.window_size:
            return self.shards
        return self.shards + epoch_window(self.window_shards, self.window_size, self.epoch)

    def plan(self, worker: int = 0, num_workers: int = 1) -> list[tuple[int, int, int]]:
        """``(shard, start, stop)`` segments of :meth:`epoch_shards` this rank and worker read."""
        return plan_epoch(
            [shard.n_samples for shard in self.epoch_shards()],
            seed=self.seed,
            epoch=self.epoch,
            shuffle=self.shuffle,
            rank=self.rank,
            world_size=self.world_size,
            worker=worker,
            num_workers=num_workers,
            even=self.even,
            batch_size=self.batch_size,
        )

    def __len__(self) -> int:
        """Samples this rank reads per epoch (the DataLoader's length is exact: see plan_epoch)."""
        total = sum(shard.n_samples for shard in self.shards) + self.window_size
        start, stop = rank_range(total, self.rank, self.world_size, self.even)
        return stop - start if total else 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, num_workers = (0, 1) if info is None else (info.id, info.num_workers)
        segments = self.plan(worker, num_workers)
        samples = iter_plan(
            self.epoch_shards(), segments, self.encoding, self.storage_options, decode=False
        )
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
            samples = shuffled(samples, self.shuffle_buffer, rng)
        for sample in samples:
            counts = sample["counts"]
            if not sample["labelled"]:
                counts = np.zeros(self.n_answers, dtype=np.int32)
            elif self.column_index is not None:
                counts = counts[self.column_index]
            yield {
                "image": decode_chw(sample["image"], self.encoding),
                "counts": torch.from_numpy(np.ascontiguousarray(counts, dtype=np.int32)),
                "labelled": bool(sample["labelled"]),
                "key": sample["key"],
            }


class EpochDataLoader(DataLoader):
    """A DataLoader whose every ``iter()`` is the next epoch of its :class:`ShardStream`."""

    def __init__(self, *args: Any, first_epoch: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_epoch = first_epoch

    def __iter__(self) -> Any:
        self.dataset.set_epoch(self.next_epoch)  # workers copy the dataset when iteration starts
        self.next_epoch += 1
        return super().__iter__()


def _as_schema(schema: Schema | dict | str) -> Schema:
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, dict):
        return Schema.from_dict(schema)
    return Schema.from_json(schema)


def column_index(shard_columns: Sequence[str], schema_columns: Sequence[str]) -> np.ndarray | None:
    """Index into the shards' counts giving the schema's answer order (None when identical)."""
    if list(shard_columns) == list(schema_columns):
        return None
    where = {column: i for i, column in enumerate(shard_columns)}
    missing = [column for column in schema_columns if column not in where]
    if missing:
        raise ValueError(f"shards have no counts for schema answer column(s) {missing[:5]}")
    return np.array([where[column] for column in schema_columns], dtype=np.int64)


class GZEvoDataModule(L.LightningDataModule):
    """Batches of GZ-Evo galaxies from shards (see the module docstring for the batch layout).

    Args:
        shards: the ``image_shards`` handle (:class:`ShardSet`) or its directory / URL.
        schema: the GZ-Evo schema (object, dict or JSON); fixes the order of ``counts``.
        batch_size, num_workers: as for a DataLoader; batches are formed per worker.
        seed: seeds shard order and shuffling, with the epoch.
        unlabelled_fraction: share of the unlabelled split mixed into each training epoch
            (``labelled`` False, zero counts): 0 none, 1 all of it, else a rotating window of
            ``round(fraction * N_unlabelled)`` galaxies, different each epoch. Validation and
            test loaders never include unlabelled galaxies.
        train_fraction: share of the train split trained on, in (0, 1]: a nested subset chosen
            by a hash of the keys salted with ``seed`` (1: all of it). Val and test stay whole.
        shuffle_buffer: samples held per worker for shuffling.
        pin_memory, prefetch_factor: passed to the DataLoaders.
    """

    def __init__(
        self,
        shards: ShardSet | str | Path,
        schema: Schema | dict | str,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 42,
        unlabelled_fraction: float = 0.0,
        shuffle_buffer: int = 1000,
        pin_memory: bool = False,
        prefetch_factor: int | None = None,
        storage_options: dict | None = None,
        train_fraction: float = 1.0,
    ) -> None:
        super().__init__()
        self.shards = shards if isinstance(shards, ShardSet) else ShardSet.open(shards)
        self.schema = _as_schema(schema)
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.unlabelled_fraction = check_unlabelled_fraction(unlabelled_fraction)
        self.shuffle_buffer, self.pin_memory = shuffle_buffer, pin_memory
        self.prefetch_factor, self.storage_options = prefetch_factor, storage_options
        self.column_index = column_index(self.shards.answer_columns, self.schema.answer_columns)
        self.train_fraction = check_train_fraction(train_fraction)
        self._train_shards: list[ShardInfo] | None = None
        self._train_loader: EpochDataLoader | None = None

    @classmethod
    def from_config(
        cls, shards: ShardSet | str | Path, schema: Schema, config: DataConfig, seed: int
    ) -> GZEvoDataModule:
        """From the typed ``pretraining.data`` parameters."""
        return cls(
            shards,
            schema,
            batch_size=config.batch_size,
            num_workers=config.num_workers,
            seed=seed,
            unlabelled_fraction=config.unlabelled_fraction,
            shuffle_buffer=config.shuffle_buffer,
            pin_memory=config.pin_memory,
            train_fraction=config.train_fraction,
        )

    @property
    def image_size(self) -> int:
        return self.shards.image_size

    def split_shards(self, split: str) -> list[ShardInfo]:
        """The shards a split is read from: the train split's nested subset (``train_fraction``)
        for ``train``, every shard of the others."""
        if split != "train" or self.train_fraction == 1:
            return self.shards.shards(split)
        if self._train_shards is None:
            self._train_shards = nested_subset(self.shards, "train", self.train_fraction, self.seed)
        return self._train_shards

    @property
    def n_train(self) -> int:
        """Training galaxies: the train split's, or its ``train_fraction`` subset's."""
        return sum(shard.n_samples for shard in self.split_shards("train"))

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            return trainer.global_rank, trainer.world_size
        return _distributed()

    @property
    def unlabelled_per_epoch(self) -> int:
        """Unlabelled galaxies in each training epoch: ``round(fraction * N_unlabelled)``."""
        return round(self.unlabelled_fraction * self.shards.n_samples("unlabelled"))

    def stream(
        self, splits: Sequence[str], shuffle: bool, even: bool, unlabelled: int = 0
    ) -> ShardStream:
        """A :class:`ShardStream` over the given splits, for this process's rank, plus a rotating
        window of ``unlabelled`` galaxies of the unlabelled split each epoch."""
        shards = [shard for split in splits for shard in self.split_shards(split)]
        stream = ShardStream(
            shards,
            self.shards.encoding,
            self.schema.n_answers,
            seed=self.seed,
            shuffle=shuffle,
            shuffle_buffer=self.shuffle_buffer,
            even=even,
            batch_size=self.batch_size,
            column_index=self.column_index,
            storage_options=self.storage_options,
            window_shards=self.shards.shards("unlabelled") if unlabelled else (),
            window_size=unlabelled,
        )
        stream.set_distributed(*self._rank())
        return stream

    def dataloader(
        self,
        splits: str | Sequence[str],
        shuffle: bool = False,
        even: bool = False,
        unlabelled: int = 0,
    ) -> EpochDataLoader:
        """A loader over one split or several (each pass = next epoch); see :meth:`stream`."""
        splits = [splits] if isinstance(splits, str) else list(splits)
        extra = {"prefetch_factor": self.prefetch_factor} if self.num_workers else {}
        return EpochDataLoader(
            self.stream(splits, shuffle=shuffle, even=even, unlabelled=unlabelled),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=False,
            **extra,
        )

    def train_splits(self) -> list[str]:
        """The splits training epochs draw from (``unlabelled`` only in part, see above)."""
        return ["train", "unlabelled"] if self.unlabelled_per_epoch else ["train"]

    def train_stream(self) -> ShardStream:
        """The training stream: the train split and this epoch's unlabelled window, shuffled."""
        return self.stream(["train"], shuffle=True, even=True, unlabelled=self.unlabelled_per_epoch)

    def train_dataloader(self) -> EpochDataLoader:
        if self._train_loader is None:
            self._log_training_mix()
            self._train_loader = self.dataloader(
                "train", shuffle=True, even=True, unlabelled=self.unlabelled_per_epoch
            )
        return self._train_loader

    def _log_training_mix(self) -> None:
        labelled, unlabelled = self.n_train, self.unlabelled_per_epoch
        available = self.shards.n_samples("unlabelled")
        if self.unlabelled_fraction and not available:
            logger.warning(
                "pretraining.data.unlabelled_fraction is %g but the shards have no unlabelled "
                "galaxies: training on the labelled ones alone",
                self.unlabelled_fraction,
            )
        if self.train_fraction < 1:
            logger.info(
                "train_fraction %g: training on %d of the %d galaxies of the train split",
                self.train_fraction,
                labelled,
                self.shards.n_samples("train"),
            )
        logger.info(
            "Each training epoch streams %d labelled and %d unlabelled galaxies (%.1f%% "
            "unlabelled): unlabelled_fraction %g of the %d in the unlabelled split",
            labelled,
            unlabelled,
            100 * unlabelled / max(labelled + unlabelled, 1),
            self.unlabelled_fraction,
            available,
        )

    def val_dataloader(self) -> EpochDataLoader:
        return self.dataloader("val")

    def test_dataloader(self) -> EpochDataLoader:
        return self.dataloader("test")

    def predict_dataloader(self) -> EpochDataLoader:
        return self.dataloader("test")

    def unlabelled_dataloader(self) -> EpochDataLoader:
        return self.dataloader("unlabelled")

    def steps_per_epoch(self, splits: Sequence[str] | None = None) -> int:
        """Training batches per epoch on this rank (= ``len(train_dataloader())``); ``splits``:
        of a training loader over those splits instead."""
        stream = self.stream(splits, shuffle=True, even=True) if splits else self.train_stream()
        return math.ceil(len(stream) / self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        loader = self._train_loader
        return {"next_epoch": 0 if loader is None else loader.next_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_dataloader().next_epoch = int(state_dict.get("next_epoch", 0))


# ---- downstream ----------------------------------------------------------------------------------
class _TensorDataset(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, ids: list[str]) -> None:
        self.images, self.labels, self.ids = images, labels, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {
            "image": self.images[index],
            "key": self.ids[index],
            "labelled": True,
            "labels": self.labels[index],
        }


def encode_labels(table: pd.DataFrame, columns: Sequence[str]) -> tuple[torch.Tensor, dict]:
    """Label columns as a tensor: integer codes for text/categorical/int columns, else floats.

    Returns ``(labels, classes)``: ``labels`` is ``[N]`` for one column and ``[N, L]`` for
    several; ``classes[column]`` lists a coded column's categories in code order.
    """
    classes: dict[str, list] = {}
    encoded = []
    for column in columns:
        values = table[column]
        if values.isna().any():
            row = values[values.isna()].index[0]
            raise ValueError(f"downstream catalog: label column {column!r} is empty at row {row}")
        if pd.api.types.is_float_dtype(values):
            encoded.append(values.to_numpy(np.float32))
            continue
        categories = sorted(values.unique().tolist())
        classes[column] = categories
        codes = {value: code for code, value in enumerate(categories)}
        encoded.append(values.map(codes).to_numpy(np.int64))
    floats = any(array.dtype == np.float32 for array in encoded)
    stacked = np.stack([a.astype(np.float32 if floats else np.int64) for a in encoded], axis=1)
    labels = torch.from_numpy(stacked[:, 0] if len(columns) == 1 else stacked)
    return labels, classes


class DownstreamDataModule(L.LightningDataModule):
    """A small labelled image catalog (``id_str``, ``image_path`` or ``image_bytes``, labels).

    Images are decoded, checked and resized once in :meth:`setup` and kept in memory as uint8;
    bad images are dropped and listed in ``self.bad``. Splits come from a ``split`` column when
    the catalog has one, else from a seeded shuffle (``val_fraction``, ``test_fraction``);
    ``train_size`` keeps only the first N training galaxies of a seeded order (label budgets).
    Batches: ``{"image": uint8[B, 3, S, S], "key": list[str] (id_str), "labelled": bool[B],
    "labels": Tensor[B] or [B, L]}``.
    """

    def __init__(
        self,
        catalog: pd.DataFrame,
        label_columns: str | Sequence[str],
        image_size: int = 64,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 42,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        train_size: int | None = None,
        image_root: str | Path = ".",
        decode_config: DecodeConfig | None = None,
    ) -> None:
        super().__init__()
        self.catalog = catalog.reset_index(drop=True)
        self.label_columns = (
            [label_columns] if isinstance(label_columns, str) else list(label_columns)
        )
        self.image_size, self.batch_size, self.num_workers = image_size, batch_size, num_workers
        self.seed, self.val_fraction, self.test_fraction = seed, val_fraction, test_fraction
        self.train_size, self.image_root = train_size, Path(image_root)
        self.decode_config = decode_config
        self.datasets: dict[str, _TensorDataset] = {}
        self.classes: dict[str, list] = {}
        self.bad: pd.DataFrame = pd.DataFrame(columns=["id_str", "file", "reason", "detail"])

    def _splits(self, n: int) -> np.ndarray:
        if "split" in self.catalog.columns:
            return self.catalog["split"].astype(str).to_numpy()
        order = np.random.default_rng(self.seed).permutation(n)
        n_test, n_val = round(n * self.test_fraction), round(n * self.val_fraction)
        splits = np.empty(n, dtype=object)
        splits[order[:n_test]] = "test"
        splits[order[n_test : n_test + n_val]] = "val"
        splits[order[n_test + n_val :]] = "train"
        return splits

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        table = self.catalog
        labels, self.classes = encode_labels(table, self.label_columns)
        paths = table["image_path"] if "image_path" in table else [None] * len(table)
        blobs = table["image_bytes"] if "image_bytes" in table else [None] * len(table)
        images, keep, bad = [], [], []
        for row, (id_str, path, blob) in enumerate(zip(table["id_str"], paths, blobs, strict=True)):
            try:
                pixels = load_galaxy(
                    path, blob, self.image_size, self.image_root, self.decode_config
                )
            except BadImage as error:
                bad.append((id_str, source_name(path), error.reason, error.detail))
                continue
            images.append(torch.from_numpy(pixels.transpose(2, 0, 1).copy()))
            keep.append(row)
        self.bad = pd.DataFrame(bad, columns=["id_str", "file", "reason", "detail"])
        splits = self._splits(len(table))[keep]
        stacked = (
            torch.stack(images)
            if images
            else torch.zeros(0, 3, self.image_size, self.image_size, dtype=torch.uint8)
        )
        kept_labels, ids = labels[keep], table["id_str"].astype(str).to_numpy()[keep]
        for split in ("train", "val", "test"):
            rows = np.flatnonzero(splits == split)
            if split == "train" and self.train_size is not None:
                rows = np.random.default_rng([self.seed, 1]).permutation(rows)[: self.train_size]
                rows = np.sort(rows)
            self.datasets[split] = _TensorDataset(
                stacked[rows], kept_labels[rows], ids[rows].tolist()
            )

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            generator=generator,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
