"""A user's own Galaxy Zoo campaign: a CSV or parquet of counts plus the campaign's schema YAML.

The schema is ``<campaign>.yaml`` in one of ``campaign_dirs`` (``conf/base/campaigns``), with a
``suffix``. Count columns are ``{question}{suffix}_{answer}`` (or, accepted too,
``{question}_{answer}`` without the suffix); ``{question}{suffix}_total-votes`` is checked if
present. Images: ``file_loc``, relative to ``image_dir`` (default: the catalog's folder).
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


def read_user(
    paths: PathLike | Sequence[PathLike],
    campaign: str,
    *,
    campaign_dirs: Sequence[PathLike] = (),
    id_column: str = "id_str",
    image_column: str | None = "file_loc",
    image_dir: PathLike | None = None,
    missing_questions: str = "error",
    check_images: bool = True,
) -> pd.DataFrame:
    """The user's catalog as the canonical vote table of ``campaign``."""
    paths = as_paths(paths)
    source = source_name(paths)
    schema, suffix, questions = campaign_questions(campaign, campaign_dirs)
    by_name = {q.name: q for q in questions}
    if suffix:
        by_name.update({q.name.removesuffix(suffix): q for q in questions})
    plan: dict = {}

    def select(columns: list[str], path) -> list[str]:
        mapping, zero = match_vote_columns(
            columns, by_name, str(path), suffix=suffix, missing_questions=missing_questions
        )
        totals = {
            q.name: f"{n}_total-votes" for n, q in by_name.items() if f"{n}_total-votes" in columns
        }
        ids = first_present(id_column, columns, "id", str(path))
        image = [first_present(image_column, columns, "image", str(path))] if image_column else []
        extra = [c for c in ("ra", "dec") if c in columns]
        plan.update(mapping=mapping, zero=zero, totals=totals)
        return list(dict.fromkeys([ids, *extra, *image, *mapping, *totals.values()]))

    frame = read_files(paths, select, string_columns=[id_column])
    image_path = None
    if image_column:
        folder = image_dir if image_dir is not None else paths[0].parent
        image_path = join_image_dir(frame[image_column], folder)
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
