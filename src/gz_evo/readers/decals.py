"""GZ DECaLS volunteer release tables (Walmsley et al. 2022, Zenodo 4573248), and their look-alikes.

The releases (``gz_decals_volunteers_1_and_2``, ``gz_decals_volunteers_5``) name votes without a
campaign suffix: ``bar_strong``, ``bar_total-votes`` (``bar_total`` in ``schema.md``),
``bar_strong_fraction``, ``bar_strong_debiased``. The two files use different answers for the
same question names (``bar_yes`` in DR1/2, ``bar_strong`` in DR5), so columns are mapped *by name*
to the campaign chosen by ``campaign`` (``dr12``, ``dr5`` or ``dr8``), and an answer that campaign
does not have is an error rather than a silent zero.

Images: a path ``pattern`` under ``image_dir`` (``{iauname[:4]}/{iauname}.png`` for the DR5 PNG
zips), a path column (``png_loc``, ``jpeg_loc``, ``file_loc``), or none at all (votes only).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gz_evo.checks import IngestionError
from gz_evo.config import ConfigError
from gz_evo.readers._common import (
    PathLike,
    Plan,
    as_list,
    as_paths,
    campaign_questions,
    first_present,
    join_image_dir,
    pattern_columns,
    read_files,
    render_pattern,
    source_name,
    to_canonical,
)

DEFAULT_ID_COLUMNS = ("iauname", "id_str", "subject_id")
TOTAL_FIELDS = ("total-votes", "total")


def read_decals(
    paths: PathLike | Sequence[PathLike],
    campaign: str = "dr5",
    *,
    campaign_dirs: Sequence[PathLike] = (),
    id_column: str | Sequence[str] = DEFAULT_ID_COLUMNS,
    image_dir: PathLike | None = None,
    image_pattern: str | None = None,
    image_column: str | None = None,
    missing_questions: str = "error",
    check_images: bool = True,
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """A GZ DECaLS release table as the canonical vote table of ``campaign``.

    ``id_column``: the id (first present of a list; ``iauname`` in the releases, ``subject_id``
    or ``id_str`` in Zooniverse exports). Give at most one of ``image_pattern`` (relative to
    ``image_dir``) and ``image_column``; with neither the campaign is votes-only.
    ``missing_questions="zero"`` accepts files that hold only some questions (zeros elsewhere).
    """
    if image_pattern and image_column:
        raise ConfigError("decals reader: give image_pattern or image_column, not both")
    paths = as_paths(paths)
    schema, suffix, questions = campaign_questions(campaign, campaign_dirs)
    by_file_name = {q.name.removesuffix(suffix): q for q in questions}
    plan = Plan(campaign, schema, source_name(paths), id="")

    def select(columns: list[str], path) -> list[str]:
        plan.find_votes(
            columns,
            by_file_name,
            path,
            missing_questions=missing_questions,
            total_fields=TOTAL_FIELDS,
        )
        plan.id = first_present(id_column, columns, "id", str(path))
        images = pattern_columns(image_pattern)
        if image_column:
            images.append(first_present(image_column, columns, "image path", str(path)))
        missing = [c for c in images if c not in columns]
        if missing:
            raise IngestionError(
                str(path), f"no image pattern column: looked for {', '.join(missing)}"
            )
        plan.images = images
        return plan.wanted(columns)

    strings = [*as_list(id_column), *pattern_columns(image_pattern)]
    frame = read_files(paths, select, string_columns=strings, max_memory_gb=max_memory_gb)
    image_path = None
    if image_pattern:
        image_path = join_image_dir(render_pattern(image_pattern, frame), image_dir)
    elif image_column:
        image_path = join_image_dir(frame[plan.images[0]], image_dir)
    return to_canonical(frame, plan, image_path, check_images=check_images)
