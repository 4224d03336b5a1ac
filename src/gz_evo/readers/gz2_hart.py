"""Galaxy Zoo 2 as released by Hart et al. (2016): ``gz2_hart16.csv``, mapped to modern GZ2 names.

The release has six columns per answer (``{stem}_count``, ``_weight``, ``_fraction``,
``_weighted_fraction``, ``_debiased``, ``_flag``) and no per-question totals. Only the raw
``_count`` columns are votes. Stems are renamed as galaxy-datasets does
(``replication/notebooks/gz2_a_modernize.ipynb``), and task t08 (odd feature) is dropped, as there.
``dr7objid`` is an int64 that a float would corrupt, so it is read as a string.

Images: the public GZ2 images come with ``gz2_filename_mapping.csv`` (``objid``, ``sample``,
``asset_id``): the image of a galaxy is ``{asset_id}.jpg`` under ``image_dir``. galaxy-datasets'
own JPEGs are ``{dr7objid[:6]}/{dr7objid}.jpg``: pass that as ``image_pattern`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from gz_evo.checks import IngestionError
from gz_evo.config import ConfigError
from gz_evo.readers._common import (
    PathLike,
    Plan,
    as_paths,
    campaign_questions,
    header,
    join_image_dir,
    pattern_columns,
    read_columns,
    read_files,
    render_pattern,
    source_name,
    to_canonical,
)

#: Hart+16 answer stem -> (modern question, answer), from FORMATS.md section 1 / galaxy-datasets.
STEMS: dict[str, tuple[str, str]] = {
    "t01_smooth_or_features_a01_smooth": ("smooth-or-featured", "smooth"),
    "t01_smooth_or_features_a02_features_or_disk": ("smooth-or-featured", "featured-or-disk"),
    "t01_smooth_or_features_a03_star_or_artifact": ("smooth-or-featured", "artifact"),
    "t02_edgeon_a04_yes": ("disk-edge-on", "yes"),
    "t02_edgeon_a05_no": ("disk-edge-on", "no"),
    "t03_bar_a06_bar": ("bar", "yes"),
    "t03_bar_a07_no_bar": ("bar", "no"),
    "t04_spiral_a08_spiral": ("has-spiral-arms", "yes"),
    "t04_spiral_a09_no_spiral": ("has-spiral-arms", "no"),
    "t05_bulge_prominence_a10_no_bulge": ("bulge-size", "no"),
    "t05_bulge_prominence_a11_just_noticeable": ("bulge-size", "just-noticeable"),
    "t05_bulge_prominence_a12_obvious": ("bulge-size", "obvious"),
    "t05_bulge_prominence_a13_dominant": ("bulge-size", "dominant"),
    "t06_odd_a14_yes": ("something-odd", "yes"),
    "t06_odd_a15_no": ("something-odd", "no"),
    "t07_rounded_a16_completely_round": ("how-rounded", "round"),
    "t07_rounded_a17_in_between": ("how-rounded", "in-between"),
    "t07_rounded_a18_cigar_shaped": ("how-rounded", "cigar"),
    "t09_bulge_shape_a25_rounded": ("bulge-shape", "round"),
    "t09_bulge_shape_a26_boxy": ("bulge-shape", "boxy"),
    "t09_bulge_shape_a27_no_bulge": ("bulge-shape", "no-bulge"),
    "t10_arms_winding_a28_tight": ("spiral-winding", "tight"),
    "t10_arms_winding_a29_medium": ("spiral-winding", "medium"),
    "t10_arms_winding_a30_loose": ("spiral-winding", "loose"),
    "t11_arms_number_a31_1": ("spiral-arm-count", "1"),
    "t11_arms_number_a32_2": ("spiral-arm-count", "2"),
    "t11_arms_number_a33_3": ("spiral-arm-count", "3"),
    "t11_arms_number_a34_4": ("spiral-arm-count", "4"),
    "t11_arms_number_a36_more_than_4": ("spiral-arm-count", "more-than-4"),
    "t11_arms_number_a37_cant_tell": ("spiral-arm-count", "cant-tell"),
}
DROPPED_TASKS = ("t08_",)
_COUNT = re.compile(r"^t\d\d_\w+_a\d\d_\w+_count$")


def read_gz2_hart(
    paths: PathLike | Sequence[PathLike],
    campaign: str = "gz2",
    *,
    campaign_dirs: Sequence[PathLike] = (),
    id_column: str = "dr7objid",
    filename_mapping: PathLike | None = None,
    image_dir: PathLike | None = None,
    image_pattern: str | None = None,
    check_images: bool = True,
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """``gz2_hart16.csv`` as the canonical vote table of ``campaign`` (the modern GZ2 schema).

    Images from ``filename_mapping`` (``{asset_id}.jpg`` under ``image_dir``) or from an
    ``image_pattern`` such as ``{dr7objid[:6]}/{dr7objid}.jpg``; with neither, votes only.
    """
    if filename_mapping and image_pattern:
        raise ConfigError("gz2_hart reader: give filename_mapping or image_pattern, not both")
    paths = as_paths(paths)
    source = source_name(paths)
    schema, suffix, _ = campaign_questions(campaign, campaign_dirs)
    schema_columns = set(schema.campaign_answer_columns(campaign))
    column_map = {f"{stem}_count": f"{q}{suffix}_{a}" for stem, (q, a) in STEMS.items()}
    unmapped = sorted(set(column_map.values()) - schema_columns)
    if unmapped:
        raise IngestionError(
            source, f"campaign {campaign!r} is not the GZ2 schema: it lacks {unmapped[0]}"
        )
    images = [c for c in pattern_columns(image_pattern) if c != id_column]
    plan = Plan(campaign, schema, source, id_column, mapping=column_map, images=images)

    def select(columns: list[str], path) -> list[str]:
        if id_column not in columns:
            raise IngestionError(str(path), "no id column", id_column)
        for column in columns:
            known = column in column_map or column.startswith(DROPPED_TASKS)
            if _COUNT.match(column) and not known:
                raise IngestionError(str(path), "unknown Hart+16 vote column", column)
        missing = [c for c in column_map if c not in columns]
        if missing:
            raise IngestionError(str(path), "missing Hart+16 vote column", missing[0])
        return plan.wanted(columns)

    strings = [id_column, *pattern_columns(image_pattern)]
    frame = read_files(paths, select, string_columns=strings, max_memory_gb=max_memory_gb)
    image_path = None
    if image_pattern:
        image_path = join_image_dir(render_pattern(image_pattern, frame), image_dir)
    elif filename_mapping:
        image_path = _mapped_images(frame[id_column], filename_mapping, image_dir)
    return to_canonical(frame, plan, image_path, check_images=check_images)


def _mapped_images(
    ids: pd.Series, filename_mapping: PathLike, image_dir: PathLike | None
) -> pd.Series:
    """``{asset_id}.jpg`` for each id via ``gz2_filename_mapping.csv``; null where unmapped."""
    path = Path(filename_mapping)
    columns = header(path)
    for column in ("objid", "asset_id"):
        if column not in columns:
            raise IngestionError(str(path), "missing column of gz2_filename_mapping.csv", column)
    mapping = read_columns(path, ["objid", "asset_id"], ["objid", "asset_id"])
    mapping = mapping.drop_duplicates("objid").set_index("objid")["asset_id"]
    asset = ids.astype("str").map(mapping)
    return join_image_dir(asset + ".jpg", image_dir)
