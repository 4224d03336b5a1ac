"""galaxy-datasets prepared catalogues (``{name}_train_catalog.parquet``, ``_test_...``).

Counts are already suffixed (``smooth-or-featured-candels_smooth``), next to ``_fraction`` and
``{question}_total-votes`` companions. Hubble and CANDELS counts are rounded floats: they are
accepted when integral. The stored ``file_loc`` is a path on the author's machine, so (as the
galaxy-datasets loaders do) the image is ``image_dir/[subfolder/]filename`` when ``filename`` is
there, and ``file_loc`` (joined onto ``image_dir`` if relative) otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gz_evo.readers._common import (
    PathLike,
    Plan,
    as_paths,
    campaign_questions,
    first_present,
    join_image_dir,
    read_files,
    source_name,
    to_canonical,
)


def read_galaxy_datasets(
    paths: PathLike | Sequence[PathLike],
    campaign: str,
    *,
    campaign_dirs: Sequence[PathLike] = (),
    id_column: str = "id_str",
    image_dir: PathLike | None = None,
    images: str = "auto",
    missing_questions: str = "error",
    check_images: bool = True,
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """Concatenated galaxy-datasets catalogues as the canonical vote table of ``campaign``.

    ``images``: ``auto`` (filename/subfolder under ``image_dir`` if both exist, else
    ``file_loc``), ``filename``, ``file_loc`` or ``none``.
    """
    paths = as_paths(paths)
    schema, suffix, questions = campaign_questions(campaign, campaign_dirs)
    by_name = {q.name: q for q in questions}
    plan = Plan(campaign, schema, source_name(paths), id_column)

    def select(columns: list[str], path) -> list[str]:
        plan.find_votes(columns, by_name, path, suffix=suffix, missing_questions=missing_questions)
        mode = images
        if mode == "auto":
            use_filename = image_dir is not None and "filename" in columns
            mode = "filename" if use_filename else ("file_loc" if "file_loc" in columns else "none")
        plan.images = {
            "filename": ["filename", *(["subfolder"] if "subfolder" in columns else [])],
            "file_loc": ["file_loc"],
            "none": [],
        }[mode]
        for column in plan.images:
            first_present(column, columns, "image", str(path))
        first_present(id_column, columns, "id", str(path))
        return plan.wanted(columns)

    strings = [id_column, "filename", "subfolder"]
    frame = read_files(paths, select, string_columns=strings, max_memory_gb=max_memory_gb)
    return to_canonical(
        frame, plan, _image_path(frame, plan.images, image_dir), check_images=check_images
    )


def _image_path(
    frame: pd.DataFrame, image_columns: list[str], image_dir: PathLike | None
) -> pd.Series | None:
    """``[subfolder/]filename`` or ``file_loc`` under ``image_dir``; None with no image column."""
    if "filename" in image_columns:
        names = frame["filename"].astype("str")
        if "subfolder" in frame:
            folder = frame["subfolder"].astype("str")
            names = names.where(folder.isna() | (folder == ""), folder + "/" + names)
        return join_image_dir(names, image_dir)
    if image_columns:
        return join_image_dir(frame["file_loc"], image_dir)
    return None
