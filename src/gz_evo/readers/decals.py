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

from gz_evo.readers._common import (
    PathLike,
    as_list,
    as_paths,
    build_canonical,
    campaign_questions,
    first_present,
    join_image_dir,
    pattern_columns,
    read_files,
    render_pattern,
    source_name,
)
from gz_evo.validation import match_vote_columns

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
) -> pd.DataFrame:
    """A GZ DECaLS release table as the canonical vote table of ``campaign``.

    ``id_column``: the id (first present of a list; ``iauname`` in the releases, ``subject_id``
    or ``id_str`` in Zooniverse exports). Give at most one of ``image_pattern`` (relative to
    ``image_dir``) and ``image_column``; with neither the campaign is votes-only.
    ``missing_questions="zero"`` accepts files that hold only some questions (zeros elsewhere).
    """
    if image_pattern and image_column:
        raise ValueError("give image_pattern or image_column, not both")
    paths = as_paths(paths)
    source = source_name(paths)
    schema, suffix, questions = campaign_questions(campaign, campaign_dirs)
    by_file_name = {q.name.removesuffix(suffix): q for q in questions}
    plan: dict = {}

    def select(columns: list[str], path) -> list[str]:
        mapping, zero = match_vote_columns(
            columns, by_file_name, str(path), missing_questions=missing_questions
        )
        totals = {}
        for file_name, question in by_file_name.items():
            for field in TOTAL_FIELDS:
                if f"{file_name}_{field}" in columns:
                    totals[question.name] = f"{file_name}_{field}"
                    break
        ids = first_present(id_column, columns, "id", str(path))
        extra = [c for c in ("ra", "dec") if c in columns]
        images = pattern_columns(image_pattern)
        if image_column:
            images.append(first_present(image_column, columns, "image path", str(path)))
        missing = [c for c in images if c not in columns]
        if missing:
            first_present(missing, columns, "image pattern", str(path))
        plan.update(mapping=mapping, zero=zero, totals=totals, id=ids, image=images)
        wanted = [ids, *extra, *images, *mapping, *totals.values()]
        return list(dict.fromkeys(wanted))

    strings = [*as_list(id_column), *pattern_columns(image_pattern)]
    frame = read_files(paths, select, string_columns=strings)
    image_path = None
    if image_pattern:
        image_path = join_image_dir(render_pattern(image_pattern, frame), image_dir)
    elif image_column:
        image_path = join_image_dir(frame[plan["image"][0]], image_dir)
    return build_canonical(
        campaign=campaign,
        schema=schema,
        frame=frame,
        ids=frame[plan["id"]],
        column_map=plan["mapping"],
        zero_columns=plan["zero"],
        totals=plan["totals"],
        ra=frame.get("ra"),
        dec=frame.get("dec"),
        image_path=image_path,
        source=source,
        check_images=check_images,
        id_column=plan["id"],
    )
