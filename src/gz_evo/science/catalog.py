"""Any image catalog and any encoder bundle, checked, and the catalog's images streamed in batches.

A catalog setting names one or more CSV / parquet files with an id column and an image column
(paths relative to ``image_root``, by default the file's folder; an ``image_bytes`` column, as
the ingested tables have, is used where a row has no path). By default these are the ingested
demo tables (``data/02_intermediate/unlabelled_images.parquet``, whose image paths start at the
project root). Every source becomes rows of ``id_str``, ``image_path`` and ``image_bytes``. An
encoder setting is ``pretrained_encoder`` (the pretraining pipeline's bundle, the pipelines'
Kedro input) or a bundle folder.

Images are decoded in a DataLoader (``num_workers`` processes) and handed over one batch at a
time, with a progress bar, so memory holds a batch, not the catalog; unusable images are
reported with their reason (``gz_evo.images.decode.BAD_REASONS``), never fatal one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gz_evo.datasets.pretraining import load_encoder_bundle
from gz_evo.images.decode import BadImage, DecodeConfig, load_galaxy, source_name

logger = logging.getLogger(__name__)

#: the encoder setting that stands for the pretraining pipeline's bundle (the nodes' input)
NAMED_ENCODER = "pretrained_encoder"
BAD_COLUMNS = ["id_str", "file", "reason", "detail"]


class ScienceInputError(ValueError):
    """A catalog, encoder or query that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class CatalogSettings:
    """Which galaxies: ``catalog`` (a CSV / parquet path, or a list of them), the id and image
    columns and the folder image paths start from (null: each file's folder)."""

    catalog: str | tuple[str, ...]
    id_column: str
    image_column: str
    image_root: str | None

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.catalog,) if isinstance(self.catalog, str) else tuple(self.catalog)


def _read_file(source: str, settings: CatalogSettings, where: str) -> pd.DataFrame:
    path = Path(source)
    if not path.is_file():
        raise ScienceInputError(
            f"{where}: {source} does not exist: give a CSV or parquet catalog (the default demo "
            "tables are written by `kedro run --pipelines demo,ingestion`)"
        )
    table = (
        pd.read_parquet(path)
        if path.suffix == ".parquet"
        else pd.read_csv(path, dtype={settings.id_column: str})
    )
    if settings.id_column not in table:
        raise ScienceInputError(
            f"{where}: {source} has no id column {settings.id_column!r} (columns: "
            f"{list(table.columns)}); set {where.rsplit('.', 1)[0]}.id_column"
        )
    if settings.image_column not in table:
        raise ScienceInputError(
            f"{where}: {source} is a catalog without images: no column "
            f"{settings.image_column!r} (columns: {list(table.columns)}); set "
            f"{where.rsplit('.', 1)[0]}.image_column to the column with each galaxy's image file"
        )
    root = Path(settings.image_root) if settings.image_root else path.parent
    files = table[settings.image_column]
    image_path = [
        str(root / value) if isinstance(value, str) and value else None for value in files
    ]
    blobs = table["image_bytes"].tolist() if "image_bytes" in table else [None] * len(table)
    return pd.DataFrame(
        {
            "id_str": table[settings.id_column].astype(str).to_numpy(),
            "image_path": image_path,
            "image_bytes": blobs,
        }
    )


def read_catalog(settings: CatalogSettings, where: str) -> pd.DataFrame:
    """Every source's galaxies as ``id_str``, ``image_path``, ``image_bytes`` (ids unique);
    ``where`` names the setting in messages (``predict.catalog``)."""
    parts = [_read_file(source, settings, where) for source in settings.sources]
    table = pd.concat(parts, ignore_index=True)
    if table.empty:
        raise ScienceInputError(f"{where}: {list(settings.sources)} hold no galaxies")
    no_image = [
        not isinstance(p, str) and not isinstance(b, bytes | bytearray | memoryview)
        for p, b in zip(table["image_path"], table["image_bytes"], strict=True)
    ]
    if all(no_image):
        raise ScienceInputError(
            f"{where}: {list(settings.sources)} is a catalog without images: every image cell "
            "is empty"
        )
    duplicated = table["id_str"].duplicated(keep=False)
    if duplicated.any():
        first = table["id_str"][duplicated].iloc[0]
        rows = np.flatnonzero((table["id_str"] == first).to_numpy())[:5].tolist()
        raise ScienceInputError(
            f"{where}: id {first!r} appears more than once (rows {rows} of "
            f"{list(settings.sources)} joined, 0 = first data row): ids must be unique"
        )
    return table


def resolve_bundle(setting: str, named: dict, where: str) -> dict:
    """The encoder bundle (``{"config", "state_dict"}``) the setting names (``named``: the
    ``pretrained_encoder`` input), or a clear error."""
    if setting == NAMED_ENCODER:
        return named
    try:
        return load_encoder_bundle(setting)
    except FileNotFoundError as error:
        raise ScienceInputError(
            f"{where}: {setting} is not an encoder bundle ({error}); give a folder with "
            f"encoder.safetensors + encoder_config.json, or {NAMED_ENCODER!r}"
        ) from None


@dataclass
class Batch:
    """Decoded galaxies of one batch (``images`` uint8 ``[B,3,S,S]``) and the unusable ones."""

    ids: list[str]
    images: Any
    bad: pd.DataFrame


class _Rows:
    """Map-style dataset over catalog rows: ``(id, pixels CHW uint8 or None, bad row or None)``."""

    def __init__(self, table: pd.DataFrame, size: int, config: DecodeConfig | None) -> None:
        self.ids = table["id_str"].tolist()
        self.paths = table["image_path"].tolist()
        self.blobs = table["image_bytes"].tolist()
        self.size, self.config = size, config

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple:
        path, blob = self.paths[index], self.blobs[index]
        blob = blob if isinstance(blob, bytes | bytearray | memoryview) else None
        try:
            pixels = load_galaxy(path, blob, self.size, Path("."), self.config)
        except BadImage as error:
            return self.ids[index], None, (source_name(path), error.reason, error.detail)
        return self.ids[index], np.ascontiguousarray(pixels.transpose(2, 0, 1)), None


def _collate(items: list[tuple], size: int) -> Batch:
    import torch

    good = [(i, p) for i, p, bad in items if bad is None]
    bad = [(i, *b) for i, _, b in items if b is not None]
    images = (
        torch.from_numpy(np.stack([p for _, p in good]))
        if good
        else torch.zeros(0, 3, size, size, dtype=torch.uint8)
    )
    return Batch([i for i, _ in good], images, pd.DataFrame(bad, columns=BAD_COLUMNS))


def iter_batches(
    table: pd.DataFrame,
    image_size: int,
    batch_size: int,
    num_workers: int = 0,
    progress: bool = True,
    description: str = "galaxies",
    decode_config: DecodeConfig | None = None,
) -> Iterator[Batch]:
    """The catalog's galaxies decoded at ``image_size``, ``batch_size`` at a time, in order."""
    from functools import partial

    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    loader = DataLoader(
        _Rows(table, image_size, decode_config),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=partial(_collate, size=image_size),
    )
    with tqdm(total=len(table), desc=description, unit="img", disable=not progress) as bar:
        for batch in loader:
            bar.update(len(batch.ids) + len(batch.bad))
            yield batch


def log_bad(bad: pd.DataFrame, n: int, where: str) -> None:
    """One warning listing the unusable images (reported, not fatal)."""
    if len(bad):
        shown = "; ".join(
            f"{i} ({f}: {r})"
            for i, f, r in bad[["id_str", "file", "reason"]].head(5).itertuples(index=False)
        )
        logger.warning(
            "%s: %d of %d images unusable, left out: %s%s",
            where,
            len(bad),
            n,
            shown,
            " ..." if len(bad) > 5 else "",
        )


def embed_catalog(
    encoders: Mapping[str, Any],
    augment: Any,
    table: pd.DataFrame,
    image_size: int,
    batch_size: int,
    num_workers: int = 0,
    progress: bool = True,
) -> tuple[list[str], dict[str, np.ndarray], pd.DataFrame]:
    """Frozen features ``float32 [N, F]`` of the catalog's usable galaxies with each encoder
    (every batch decoded once, one batch in memory at a time), their ids and the unusable ones."""
    from gz_evo.training.downstream import embed

    ids: list[str] = []
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in encoders}
    bad = []
    batches = iter_batches(table, image_size, batch_size, num_workers, progress, "embedding")
    for batch in batches:
        ids += batch.ids
        bad.append(batch.bad)
        if batch.ids:
            for name, encoder in encoders.items():
                chunks[name].append(embed(encoder, batch.images, augment, batch_size))
    features = {
        name: np.concatenate(parts)
        if parts
        else np.zeros((0, int(encoders[name].num_features)), dtype=np.float32)
        for name, parts in chunks.items()
    }
    return ids, features, pd.concat(bad, ignore_index=True)
