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
    Plan,
    as_paths,
    campaign_questions,
    first_present,
    join_image_dir,
    read_files,
    source_name,
    to_canonical,
)


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
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """The user's catalog as the canonical vote table of ``campaign``."""
    paths = as_paths(paths)
    schema, suffix, questions = campaign_questions(campaign, campaign_dirs)
    by_name = {q.name: q for q in questions}
    if suffix:
        by_name.update({q.name.removesuffix(suffix): q for q in questions})
    plan = Plan(campaign, schema, source_name(paths), id_column)

    def select(columns: list[str], path) -> list[str]:
        plan.find_votes(columns, by_name, path, suffix=suffix, missing_questions=missing_questions)
        first_present(id_column, columns, "id", str(path))
        if image_column:
            plan.images = [first_present(image_column, columns, "image", str(path))]
        return plan.wanted(columns)

    frame = read_files(paths, select, string_columns=[id_column], max_memory_gb=max_memory_gb)
    image_path = None
    if image_column:
        folder = image_dir if image_dir is not None else paths[0].parent
        image_path = join_image_dir(frame[image_column], folder)
    return to_canonical(frame, plan, image_path, check_images=check_images)
