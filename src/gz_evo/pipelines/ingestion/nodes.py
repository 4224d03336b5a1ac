"""Thin nodes over ``gz_evo.readers`` and ``gz_evo.checks``.

Each source is read and checked into memory; only when every source passed does
:func:`publish_ingestion` hand the tables to their datasets, so a source that fails leaves every
previous output of the stage as it was (no mix of new and old tables).
No deep-learning library is imported here: ``kedro run --pipelines ingestion`` stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from gz_evo.checks import (
    IngestionError,
    check_dependencies,
    empty_dropped_report,
    validate_canonical,
)
from gz_evo.config import ConfigError
from gz_evo.datasets.raw import RawCatalog
from gz_evo.readers import READERS, read_downstream_catalog, read_image_catalog
from gz_evo.readers._common import build_canonical, campaign_questions, source_name
from gz_evo.schema import Schema

logger = logging.getLogger(__name__)


def _reader_options(
    raw: RawCatalog, settings: dict, check_images: bool, max_memory_gb: float | None = None
) -> dict:
    options = {
        "check_images": check_images,
        "max_memory_gb": max_memory_gb,
        **dict(settings.get("options") or {}),
    }
    if raw.image_dir is not None:
        options.setdefault("image_dir", str(raw.image_dir))
    options.update({role: str(path) for role, path in raw.files.items()})
    return options


def ingest_campaign(
    raw: RawCatalog,
    settings: dict,
    tolerance: float,
    check_images: bool,
    campaign_dirs: list[str],
    max_memory_gb: float | None = None,
    *,
    campaign: str,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read one campaign with its reader, drop tree-inconsistent rows (reported), validate.

    ``settings`` is ``ingestion.campaigns.<campaign>``: ``reader`` (a name in
    ``gz_evo.readers.READERS``), ``options`` (the reader's keyword arguments), and optionally
    ``enabled: false`` for a campaign you have no data for (an empty table). A catalog with no
    rows, or whose every row is dropped, is an error: an empty table must be asked for.
    """
    schema = campaign_questions(campaign, campaign_dirs)[0]
    source = source_name(raw.paths)
    if not settings.get("enabled", True):
        logger.info("campaign %s is disabled: writing an empty vote table", campaign)
        empty = _empty_table(campaign, schema, source)
        return empty, empty_dropped_report(), {"rows_read": 0, "rows_kept": 0, "rows_dropped": 0}
    reader_name = settings["reader"]
    if reader_name not in READERS:
        raise ConfigError(
            f"ingestion.campaigns.{campaign}.reader: unknown reader {reader_name!r}; "
            f"choose one of {', '.join(READERS)}"
        )
    options = _reader_options(raw, settings, check_images, max_memory_gb)
    table = READERS[reader_name](list(raw.paths), campaign, campaign_dirs=campaign_dirs, **options)
    rows_read = len(table)
    if not rows_read:
        raise IngestionError(
            source,
            f"no galaxies to ingest for campaign {campaign!r} (check the reader's options, such "
            f"as dataset_name; enabled: false writes an empty table on purpose)",
        )
    table, dropped = check_dependencies(table, schema, campaign, tolerance, source)
    if not len(table):
        raise IngestionError(
            source,
            f"every one of the {rows_read} galaxies was dropped by the decision-tree check "
            "(more votes on a question than on the answer it follows): are the columns of the "
            "right campaign?",
            f"{dropped['question'].iloc[0]}_*",
            dropped["id_str"].unique(),
        )
    validate_canonical(table, schema.answer_columns, source)
    logger.info(
        "%s (%s reader): %d galaxies, %d dropped by the decision-tree check",
        campaign,
        reader_name,
        len(table),
        rows_read - len(table),
    )
    stats = {
        "rows_read": rows_read,
        "rows_kept": len(table),
        "rows_dropped": rows_read - len(table),
    }
    return table, dropped, stats


def _empty_table(campaign: str, schema: Schema, source: str) -> pd.DataFrame:
    """The canonical vote table of ``campaign`` with no rows (its dtypes as every reader's)."""
    return build_canonical(
        campaign=campaign,
        schema=schema,
        frame=pd.DataFrame(),
        ids=pd.Series([], dtype="str"),
        column_map={},
        source=source,
    )


def ingest_unlabelled(
    raw: RawCatalog, settings: dict, check_images: bool, max_memory_gb: float | None = None
) -> pd.DataFrame:
    """Images without votes, as canonical rows with no vote columns."""
    options = _reader_options(raw, settings, check_images, max_memory_gb)
    return read_image_catalog(list(raw.paths), **options)


def ingest_downstream(
    raw: RawCatalog, settings: dict, check_images: bool, max_memory_gb: float | None = None
) -> pd.DataFrame:
    """The downstream-task catalog: ``id_str``, ``image_path`` and its label columns."""
    options = _reader_options(raw, settings, check_images, max_memory_gb)
    return read_downstream_catalog(list(raw.paths), **options)


def publish_ingestion(**checked: pd.DataFrame | dict) -> dict[str, pd.DataFrame | dict]:
    """Hand every checked table to its dataset, unchanged: the stage's one writing step.

    It runs only after every source was read and checked, so a source that fails validation
    leaves all of the stage's previous outputs as they were.
    """
    logger.info("ingestion: every source passed its checks; writing %d outputs", len(checked))
    return dict(checked)


def build_ingestion_report(
    campaigns: Sequence[str], **results: dict | pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    """Every dropped row (a table) and per-campaign counts (JSON, DVC metrics).

    ``results`` come by name, never by position: ``<campaign>_stats`` (the counts of
    :func:`ingest_campaign`) and ``<campaign>_dropped`` (its dropped rows) for every campaign in
    ``campaigns``. ``campaigns`` alone sets the order of the report (its campaigns, then
    ``total``) and of the dropped rows.
    """
    expected = [f"{campaign}_{kind}" for campaign in campaigns for kind in ("stats", "dropped")]
    missing = [name for name in expected if name not in results]
    unexpected = sorted(set(results) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"the ingestion report takes <campaign>_stats and <campaign>_dropped for campaigns "
            f"{list(campaigns)}: missing {missing}, unexpected {unexpected}"
        )
    stats = [results[f"{campaign}_stats"] for campaign in campaigns]
    dropped = [results[f"{campaign}_dropped"] for campaign in campaigns]
    frames = [d for d in dropped if len(d)]
    table = pd.concat(frames, ignore_index=True) if frames else empty_dropped_report()
    summary = {name: dict(s) for name, s in zip(campaigns, stats, strict=True)}
    summary["total"] = {
        key: sum(s[key] for s in stats) for key in ("rows_read", "rows_kept", "rows_dropped")
    }
    return table, summary
