"""Build a shard directory from the GZ-Evo catalog: decode, check, resize, encode, write.

Rows of each split are shuffled (seeded) and cut into groups of ``samples_per_shard``; each group
becomes one shard, written by a worker process when ``num_workers > 1``. Bad images (see
:mod:`gz_evo.images.decode`) are left out and returned as a report. Torch-free.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gz_evo.images.decode import BadImage, DecodeConfig, load_galaxy, source_name
from gz_evo.images.shards import SPLITS, ShardWriter, write_index
from gz_evo.progress import ProgressLog

logger = logging.getLogger(__name__)

REPORT_COLUMNS = ["key", "id_str", "campaign", "split", "file", "reason", "detail"]


@dataclass(frozen=True)
class ShardSpec:
    """How shards are written (``images.image_size`` and ``images.shards`` in parameters)."""

    image_size: int = 64
    samples_per_shard: int = 1000
    encoding: str = "jpg"
    jpeg_quality: int = 95
    num_workers: int = 0

    @classmethod
    def from_params(cls, image_size: int, shards: dict) -> ShardSpec:
        return cls(
            image_size=int(image_size),
            samples_per_shard=int(shards.get("samples_per_shard", cls.samples_per_shard)),
            encoding=str(shards.get("encoding", cls.encoding)),
            jpeg_quality=int(shards.get("jpeg_quality", cls.jpeg_quality)),
            num_workers=int(shards.get("num_workers", cls.num_workers)),
        )


@dataclass(frozen=True)
class _Task:
    split: str
    shard_number: int
    first_sample: int
    rows: list[tuple[str, str, str, Any, Any, np.ndarray]]  # key, id, campaign, path, bytes, counts


def _column_or_none(table: pd.DataFrame, column: str) -> list[Any]:
    """A column's values, or None for every row when the catalog lacks the column.

    Missing values (None, NaN, pandas NA) stay as they are: :func:`read_source` treats them alike.
    """
    return table[column].tolist() if column in table.columns else [None] * len(table)


def _rows(table: pd.DataFrame, answer_columns: Sequence[str], labelled: bool, name: str) -> list:
    required = ["key", "id_str", "campaign"] + (["split"] if labelled else [])
    missing = [column for column in required if column not in table.columns]
    if "image_path" not in table.columns and "image_bytes" not in table.columns:
        missing.append("image_path or image_bytes")
    if labelled:
        missing += [column for column in answer_columns if column not in table.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing[:10]}")
    if labelled:
        counts = table[list(answer_columns)].to_numpy()
        # integer counts (the usual int32) cannot be NaN: check them in place, without a float copy
        numeric = counts if counts.dtype.kind in "iu" else counts.astype(float)
        bad = numeric < 0
        if numeric.dtype.kind == "f":
            bad |= np.isnan(numeric)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise ValueError(f"{name}: key {table['key'].iloc[row]!r} has missing/negative counts")
        counts = counts.astype(np.int32, copy=False)
    else:
        counts = np.zeros((len(table), len(answer_columns)), dtype=np.int32)
    paths = _column_or_none(table, "image_path")
    blobs = _column_or_none(table, "image_bytes")
    return [
        (key, id_str, campaign, path, blob, counts[i])
        for i, (key, id_str, campaign, path, blob) in enumerate(
            zip(table["key"], table["id_str"], table["campaign"], paths, blobs, strict=True)
        )
    ]


def plan_tasks(
    catalog: pd.DataFrame,
    unlabelled: pd.DataFrame | None,
    answer_columns: Sequence[str],
    samples_per_shard: int,
    seed: int,
) -> list[_Task]:
    """Shuffle each split's rows (seeded) and group them into one task per shard."""
    splits = {
        split: _rows(catalog[catalog["split"] == split], answer_columns, True, "gz_evo_catalog")
        for split in ("train", "val", "test")
    }
    unknown = sorted(set(catalog["split"].unique()) - {"train", "val", "test"})
    if unknown:
        raise ValueError(f"gz_evo_catalog: unknown split value(s) {unknown} in column 'split'")
    if unlabelled is not None and len(unlabelled):
        splits["unlabelled"] = _rows(unlabelled, answer_columns, False, "gz_evo_unlabelled")
    tasks = []
    for split, rows in splits.items():
        rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
        order = rng.permutation(len(rows))
        for number, first in enumerate(range(0, len(rows), samples_per_shard)):
            chunk = [rows[i] for i in order[first : first + samples_per_shard]]
            tasks.append(_Task(split, number, first, chunk))
    return tasks


def _run_task(
    task: _Task, root: Path, spec: ShardSpec, image_root: Path, config: DecodeConfig
) -> tuple[list[dict], list[tuple], list[dict]]:
    """Decode and write one shard; return (shards written, sample locations, bad images)."""
    bad: list[dict] = []
    with ShardWriter(
        root,
        task.split,
        spec.samples_per_shard,
        spec.encoding,
        spec.jpeg_quality,
        first_shard=task.shard_number,
        first_sample=task.first_sample,
    ) as writer:
        for key, id_str, campaign, path, blob, counts in task.rows:
            try:
                pixels = load_galaxy(path, blob, spec.image_size, image_root, config)
            except BadImage as error:
                file = source_name(path)
                bad.append(
                    dict(
                        zip(
                            REPORT_COLUMNS,
                            (key, id_str, campaign, task.split, file, error.reason, error.detail),
                            strict=True,
                        )
                    )
                )
                continue
            writer.add(key, pixels, counts)
    samples = [(key, task.split, shard, position) for key, shard, position in writer.keys]
    return writer.shards, samples, bad


def build_shards(
    out_dir: str | Path,
    catalog: pd.DataFrame,
    unlabelled: pd.DataFrame | None,
    answer_columns: Sequence[str],
    spec: ShardSpec,
    seed: int,
    image_root: str | Path = ".",
    config: DecodeConfig | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Write every split's shards and the index into ``out_dir``; return (index, bad report)."""
    out_dir, image_root = Path(out_dir), Path(image_root)
    config = config or DecodeConfig()
    tasks = plan_tasks(catalog, unlabelled, answer_columns, spec.samples_per_shard, seed)
    logger.info(
        "images: %d galaxies in %d shard(s) to write", sum(len(t.rows) for t in tasks), len(tasks)
    )
    progress = ProgressLog(logger, "images", len(tasks), "shards written")
    results = []
    if spec.num_workers > 1:
        with ProcessPoolExecutor(spec.num_workers) as pool:
            futures = [pool.submit(_run_task, t, out_dir, spec, image_root, config) for t in tasks]
            for future in futures:
                results.append(future.result())
                progress.advance()
    else:
        for task in tasks:
            results.append(_run_task(task, out_dir, spec, image_root, config))
            progress.advance()
    shards: dict[str, list[dict]] = {split: [] for split in SPLITS if split != "unlabelled"}
    if unlabelled is not None and len(unlabelled):
        shards["unlabelled"] = []
    samples: list[tuple] = []
    bad: list[dict] = []
    for task, (written, located, rejected) in zip(tasks, results, strict=True):
        shards[task.split].extend(written)
        samples.extend(located)
        bad.extend(rejected)
    index = write_index(
        out_dir,
        spec.image_size,
        spec.encoding,
        list(answer_columns),
        shards,
        samples,
        extra={"jpeg_quality": spec.jpeg_quality, "seed": seed},
    )
    report = pd.DataFrame(bad, columns=REPORT_COLUMNS).astype("string")
    return index, report


@dataclass(frozen=True)
class StagedShards:
    """A complete shard directory written to a staging place, waiting to be moved into place."""

    directory: str
    index: dict[str, Any]
    n_checked: int


def stage_shards(
    catalog: pd.DataFrame,
    unlabelled: pd.DataFrame | None,
    answer_columns: Sequence[str],
    spec: ShardSpec,
    seed: int,
    image_root: str | Path = ".",
    config: DecodeConfig | None = None,
    staging_dir: str | Path | None = None,
) -> tuple[StagedShards, pd.DataFrame]:
    """:func:`build_shards` into a fresh temporary directory (removed again if building fails)."""
    import shutil
    import tempfile

    if staging_dir is not None:
        Path(staging_dir).mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="gz_evo_shards_", dir=staging_dir))
    try:
        index, report = build_shards(
            directory, catalog, unlabelled, answer_columns, spec, seed, image_root, config
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    n_checked = len(catalog) + (0 if unlabelled is None else len(unlabelled))
    return StagedShards(str(directory), index, n_checked), report
