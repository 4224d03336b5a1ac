"""Catalogs of images without Galaxy Zoo votes: unlabelled images, and downstream-task labels.

Both are a CSV or parquet with ``id_str`` and ``file_loc`` (relative to ``image_dir``, by default
the catalog's folder). Unlabelled images become canonical rows with no vote columns, so the merge
treats them like galaxies nobody voted on. A downstream catalog keeps its label columns
(``ring``, ``tidal``, ...): labels that no pretraining question asks, for transfer experiments.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gz_evo.checks import IngestionError, check_images_exist, check_unique_ids
from gz_evo.readers._common import (
    PathLike,
    Plan,
    as_list,
    as_paths,
    id_and_image,
    join_image_dir,
    read_files,
    source_name,
    to_canonical,
)
from gz_evo.schema import Schema

_COORDINATES = ("ra", "dec")


def read_image_catalog(
    paths: PathLike | Sequence[PathLike],
    campaign: str = "unlabelled",
    *,
    id_column: str = "id_str",
    image_column: str = "file_loc",
    image_dir: PathLike | None = None,
    check_images: bool = True,
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """Unlabelled images as a canonical table with no vote columns (``campaign`` names the set)."""
    paths = as_paths(paths)
    schema = Schema(questions=(), name=campaign)
    plan = Plan(campaign, schema, source_name(paths), id_column)

    def select(columns: list[str], path) -> list[str]:
        ids, image = id_and_image(columns, path, id_column, image_column)
        return [ids, image, *(c for c in _COORDINATES if c in columns)]

    frame = read_files(paths, select, string_columns=[id_column], max_memory_gb=max_memory_gb)
    folder = image_dir if image_dir is not None else paths[0].parent
    image_path = join_image_dir(frame[image_column], folder)
    return to_canonical(frame, plan, image_path, check_images=check_images)


def read_downstream_catalog(
    paths: PathLike | Sequence[PathLike],
    *,
    label_columns: Sequence[str] | None = None,
    id_column: str = "id_str",
    image_column: str = "file_loc",
    image_dir: PathLike | None = None,
    check_images: bool = True,
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """``id_str``, ``image_path`` and the label columns (default: every other column)."""
    paths = as_paths(paths)
    source = source_name(paths)
    chosen: dict = {}

    def select(columns: list[str], path) -> list[str]:
        ids, image = id_and_image(columns, path, id_column, image_column)
        labels = as_list(label_columns)
        if label_columns is None:
            labels = [c for c in columns if c not in (ids, image, *_COORDINATES)]
        missing = [c for c in labels if c not in columns]
        if missing:
            raise IngestionError(str(path), "missing label column", missing[0])
        if not labels:
            raise IngestionError(str(path), "no label columns besides id and image")
        chosen["labels"] = labels
        return [ids, image, *labels]

    frame = read_files(paths, select, string_columns=[id_column], max_memory_gb=max_memory_gb)
    ids = frame[id_column].astype("str").reset_index(drop=True)
    check_unique_ids(ids, source, id_column)
    folder = image_dir if image_dir is not None else paths[0].parent
    image_path = join_image_dir(frame[image_column], folder).reset_index(drop=True)
    if check_images:
        check_images_exist(image_path, ids, source)
    labels = frame[chosen["labels"]].reset_index(drop=True)
    return pd.concat([pd.DataFrame({"id_str": ids, "image_path": image_path}), labels], axis=1)
