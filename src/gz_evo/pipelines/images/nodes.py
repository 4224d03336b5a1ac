"""Thin nodes over ``gz_evo.images.build``: write shards to a staging place, then accept them.

Two nodes, so that the bad-image report is saved before the stage can fail: ``write_image_shards``
returns the report; ``accept_image_shards`` fails (naming the worst rows) only when more than
``images.max_bad_fraction`` of the galaxies are bad, else hands the shards to ``image_shards``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from gz_evo.images.build import ShardSpec, StagedShards, stage_shards
from gz_evo.images.decode import BAD_REASONS, DecodeConfig
from gz_evo.schema import Schema

logger = logging.getLogger(__name__)


class TooManyBadImages(RuntimeError):
    """More than ``images.max_bad_fraction`` of the catalog's images are bad."""


def _directory_bytes(directory: Path, pattern: str = "*.tar") -> int:
    return sum(path.stat().st_size for path in directory.rglob(pattern))


def write_image_shards(
    catalog: pd.DataFrame,
    unlabelled: pd.DataFrame,
    schema: dict,
    params: dict[str, Any],
    seed: int,
) -> tuple[StagedShards, pd.DataFrame, dict, dict]:
    """Decode, check and resize every image; write shards to staging; report bad images."""
    answer_columns = Schema.from_dict(schema).answer_columns
    spec = ShardSpec.from_params(params["image_size"], params.get("shards", {}))
    config = DecodeConfig.from_params(params.get("checks"), params.get("fits"))
    staged, report = stage_shards(
        catalog,
        unlabelled,
        answer_columns,
        spec,
        seed,
        image_root=params.get("image_root", "."),
        config=config,
        staging_dir=params.get("shards", {}).get("staging_dir"),
    )
    splits = staged.index["splits"]
    written = sum(entry["n_samples"] for entry in splits.values())
    shard_bytes = _directory_bytes(Path(staged.directory))
    metrics: dict[str, Any] = {
        "images_checked": staged.n_checked,
        "images_written": written,
        "images_bad": len(report),
        "bad_fraction": len(report) / max(staged.n_checked, 1),
        "shards": sum(len(entry["shards"]) for entry in splits.values()),
        "shard_bytes": shard_bytes,
        "bytes_per_image": shard_bytes / max(written, 1),
        **{f"images_{split}": entry["n_samples"] for split, entry in splits.items()},
        **{f"bad_{reason}": int((report["reason"] == reason).sum()) for reason in BAD_REASONS},
    }
    logger.info(
        "images: %d of %d galaxies written to %d shard(s) (%.1f kB per image); %d bad image(s) "
        "excluded%s",
        written,
        staged.n_checked,
        metrics["shards"],
        metrics["bytes_per_image"] / 1e3,
        len(report),
        f": {report['reason'].value_counts().to_dict()}" if len(report) else "",
    )
    mlflow_metrics = {name: {"value": float(value), "step": 0} for name, value in metrics.items()}
    return staged, report, metrics, mlflow_metrics


def accept_image_shards(
    staged: StagedShards, report: pd.DataFrame, max_bad_fraction: float
) -> StagedShards:
    """Pass the staged shards on, or fail with the report if too many images are bad."""
    fraction = len(report) / max(staged.n_checked, 1)
    if fraction > max_bad_fraction:
        shutil.rmtree(staged.directory, ignore_errors=True)
        reasons = report["reason"].value_counts().to_dict()
        rows = report[["key", "file", "reason", "detail"]].head(20).to_string(index=False)
        raise TooManyBadImages(
            f"{len(report)} of {staged.n_checked} images are bad ({fraction:.1%} > "
            f"images.max_bad_fraction = {max_bad_fraction:.1%}); by reason: {reasons}. "
            f"The full list is the images_bad_report dataset. First rows:\n{rows}"
        )
    return staged
