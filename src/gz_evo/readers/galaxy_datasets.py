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
    as_paths,
    build_canonical,
    campaign_questions,
    first_present,
    join_image_dir,
    read_files,
    source_name,
)
from gz_evo.validation import match_vote_columns


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
) -> pd.DataFrame:
    """Concatenated galaxy-datasets catalogues as the canonical vote table of ``campaign``.

    ``images``: ``auto`` (filename/subfolder under ``image_dir`` if both exist, else
    ``file_loc``), ``filename``, ``file_loc`` or ``none``.
    """
    paths = as_paths(paths)
    source = source_name(paths)
    schema, suffix, questions = campaign_questions(campaign, campaign_dirs)
    by_name = {q.name: q for q in questions}
    plan: dict = {}

    def select(columns: list[str], path) -> list[str]:
        mapping, zero = match_vote_columns(
            columns, by_name, str(path), suffix=suffix, missing_questions=missing_questions
        )
        totals = {n: f"{n}_total-votes" for n in by_name if f"{n}_total-votes" in columns}
        mode = images
        if mode == "auto":
            use_filename = image_dir is not None and "filename" in columns
            mode = "filename" if use_filename else ("file_loc" if "file_loc" in columns else "none")
        image_columns = {
            "filename": ["filename", *(["subfolder"] if "subfolder" in columns else [])],
            "file_loc": ["file_loc"],
            "none": [],
        }[mode]
        for column in image_columns:
            first_present(column, columns, "image", str(path))
        ids = first_present(id_column, columns, "id", str(path))
        extra = [c for c in ("ra", "dec") if c in columns]
        plan.update(mapping=mapping, zero=zero, totals=totals, mode=mode)
        return list(dict.fromkeys([ids, *extra, *image_columns, *mapping, *totals.values()]))

    frame = read_files(paths, select, string_columns=[id_column, "filename", "subfolder"])
    image_path = None
    if plan["mode"] == "filename":
        names = frame["filename"].astype("str")
        if "subfolder" in frame:
            folder = frame["subfolder"].astype("str")
            names = names.where(folder.isna() | (folder == ""), folder + "/" + names)
        image_path = join_image_dir(names, image_dir)
    elif plan["mode"] == "file_loc":
        image_path = join_image_dir(frame["file_loc"], image_dir)
    return build_canonical(
        campaign=campaign,
        schema=schema,
        frame=frame,
        ids=frame[id_column],
        column_map=plan["mapping"],
        zero_columns=plan["zero"],
        totals=plan["totals"],
        ra=frame.get("ra"),
        dec=frame.get("dec"),
        image_path=image_path,
        source=source,
        check_images=check_images,
        id_column=id_column,
    )
