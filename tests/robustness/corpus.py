"""The project's corpus of bad inputs, generated (no binaries in git): one case per input class.

Each :class:`Case` writes its input under a folder, runs the reader, check or decoder a user's
input goes through, and declares the outcome the design gives it:

- ``error``: a project exception (``IngestionError``/``CatalogError``, ``SchemaError``,
  ``ConfigError``) whose message holds ``expect`` (the file, and the column and rows where they
  apply);
- ``report``: the input is left out and listed with a reason (bad images: ``BadImage.reason`` is
  the ``reason`` of their row in ``images_bad_report``; decision-tree violations within the
  tolerance: a row of ``ingestion_dropped``), ``expect`` being that reason;
- ``accepted``: read as intended (``expect`` is a fact checked on the result).

``tests/robustness/test_corpus.py`` runs every case; ``python -m tests.robustness.corpus``
prints the README's table (class, outcome, the message a user gets)::

    PYTHONPATH=src:. .venv/bin/python -m tests.robustness.corpus
"""

from __future__ import annotations

import io
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from astropy.io import fits
from PIL import Image

from gz_evo.checks import CatalogError, IngestionError
from gz_evo.config import ConfigError
from gz_evo.datasets.raw import RawCatalog
from gz_evo.images.decode import BadImage, DecodeConfig, load_galaxy
from gz_evo.readers import (
    read_decals,
    read_downstream_catalog,
    read_galaxy_datasets,
    read_gz2_hart,
    read_huggingface,
    read_image_catalog,
    read_user,
)
from gz_evo.schema import SchemaError, load_campaign
from tests.gz_fixtures import (
    USER_CAMPAIGN,
    write_decals,
    write_galaxy_datasets,
    write_gz2_hart,
    write_huggingface,
    write_image_catalog,
    write_user,
)

#: the exceptions a user's bad input may end in (anything else is a bug)
PROJECT_ERRORS = (CatalogError, SchemaError, ConfigError, BadImage)
N = 6  # galaxies per generated catalog


@dataclass(frozen=True)
class Report:
    """What a drop-and-report outcome gives: the reason in the report's row."""

    reason: str


@dataclass(frozen=True)
class Case:
    name: str  # the input class, a stable identifier
    target: str  # what reads it
    input: str  # the input class in words (the README's first column)
    outcome: str  # error | report | accepted
    expect: str  # a substring of the message, the report's reason, or the accepted fact
    run: Callable[[], Any]
    error: type[Exception] | None = None


def _edit_csv(path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame], **read) -> Path:
    frame = edit(pd.read_csv(path, **read))
    frame.to_csv(path, index=False)
    return path


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _galaxy(size: int = 24, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (size, size, channels), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims ``width x height`` RGB pixels (a decompression bomb: a few
    hundred bytes that would decode to 30 GB); only the header is ever read."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def _fits(array: np.ndarray | None, table: bool = False) -> bytes:
    buffer = io.BytesIO()
    if table:
        hdus = fits.HDUList(
            [fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("x", "E", array=[1.0])])]
        )
        hdus.writeto(buffer)
    else:
        fits.PrimaryHDU(array).writeto(buffer)
    return buffer.getvalue()


def fits_bomb(side: int = 200_000) -> bytes:
    """A FITS header claiming a ``side x side`` float32 image, with no data after it."""
    header = fits.Header()
    header["SIMPLE"], header["BITPIX"], header["NAXIS"] = True, -32, 2
    header["NAXIS1"], header["NAXIS2"] = side, side
    return header.tostring().encode("ascii")


# --- cases ---------------------------------------------------------------------------------------
def reader_cases(root: Path) -> list[Case]:  # noqa: PLR0915
    cases: list[Case] = []

    def add(name, target, text, outcome, expect, run, error=IngestionError):
        cases.append(Case(name, target, text, outcome, expect, run, error))

    def decals(name: str, **options) -> Callable[[], pd.DataFrame]:
        written = write_decals(root / name, n=N)

        def run():
            return read_decals(written["path"], "dr5", **options)

        run.written = written
        return run

    pattern = {"image_pattern": "{iauname[:4]}/{iauname}.png"}

    # -- the file itself
    run = decals("header_no_rows")
    _edit_csv(run.written["path"], lambda f: f.iloc[:0])
    add(
        "csv_header_no_rows",
        "decals",
        "CSV with a header and no rows",
        "error",
        "has a header but no rows",
        run,
    )
    run = decals("zero_bytes")
    run.written["path"].write_bytes(b"")
    add("csv_zero_bytes", "decals", "empty file (0 bytes)", "error", "empty file (0 bytes)", run)
    run = decals("png_as_csv")
    run.written["path"].write_bytes(_png(_galaxy()))
    add(
        "csv_not_text",
        "decals",
        "not text: a PNG named .csv",
        "error",
        "not CSV text: the file is a PNG image",
        run,
    )
    run = decals("latin1")
    text = run.written["path"].read_text().replace("active_baseline", "activé")
    run.written["path"].write_bytes(text.encode("latin-1"))
    add(
        "csv_latin1",
        "decals",
        "CSV in Latin-1, not UTF-8",
        "error",
        "is not UTF-8 text (line 2",
        run,
    )
    run = decals("utf16")
    run.written["path"].write_bytes(run.written["path"].read_text().encode("utf-16"))
    add("csv_utf16", "decals", "CSV in UTF-16", "error", "UTF-16 text (save it as UTF-8)", run)
    run = decals("bom", **pattern, image_dir=root / "bom" / "images")
    run.written["path"].write_bytes(b"\xef\xbb\xbf" + run.written["path"].read_bytes())
    add(
        "csv_utf8_bom",
        "decals",
        "UTF-8 CSV with a byte-order mark (Excel)",
        "accepted",
        f"{N} rows",
        run,
        None,
    )
    run = decals("ragged")
    lines = run.written["path"].read_text().splitlines()
    lines[3] = lines[3].replace("active_baseline", "active, baseline")  # unquoted comma
    run.written["path"].write_text("\n".join(lines) + "\n")
    add(
        "csv_ragged_row",
        "decals",
        "CSV row with more fields than the header",
        "error",
        "the row ending at line 4 has 119 fields, the header 118",
        run,
    )
    run = decals("repeated")
    lines = run.written["path"].read_text().splitlines()
    lines[0] = lines[0].replace("redshift", "ra")
    run.written["path"].write_text("\n".join(lines) + "\n")
    add(
        "csv_repeated_column",
        "decals",
        "a column name twice in the header",
        "error",
        "column 'ra': column name appears more than once",
        run,
    )
    folder = root / "a_folder.csv"
    folder.mkdir()
    add(
        "catalog_is_directory",
        "decals",
        "the catalog path names a directory",
        "error",
        "is a directory, not a catalog file",
        lambda: read_decals(folder, "dr5"),
    )
    run = decals("parquet_named_csv", **pattern, image_dir=root / "parquet_named_csv" / "images")
    frame = pd.read_csv(run.written["path"], dtype={"iauname": str})
    frame.to_parquet(run.written["path"])  # parquet bytes under the .csv name
    add(
        "parquet_named_csv",
        "decals",
        "a parquet file named .csv",
        "accepted",
        f"{N} rows",
        run,
        None,
    )

    # -- values
    run = decals("text_counts")
    _edit_csv(
        run.written["path"],
        lambda f: f.assign(bar_weak=f["bar_weak"].astype(object).where(f.index != 2, "many")),
    )
    add(
        "count_text",
        "decals",
        "a vote count that is text",
        "error",
        "column 'bar_weak': vote counts are not numbers",
        run,
    )
    run = decals("nan_count")
    _edit_csv(run.written["path"], lambda f: f.assign(bar_weak=f["bar_weak"].where(f.index != 3)))
    add(
        "count_nan",
        "decals",
        "an empty vote count (NaN)",
        "error",
        "column 'bar_weak': missing (NaN) vote count (id J",
        run,
    )
    run = decals("inf_count")
    _edit_csv(
        run.written["path"],
        lambda f: f.assign(bar_weak=f["bar_weak"].astype(float).where(f.index != 1, np.inf)),
    )
    add(
        "count_inf",
        "decals",
        "an infinite or huge vote count",
        "error",
        "implausible vote count",
        run,
    )
    run = decals("fraction_count")
    _edit_csv(run.written["path"], lambda f: f.assign(bar_weak=f["bar_weak"] + 0.5))
    add(
        "count_fraction",
        "decals",
        "a fractional vote count",
        "error",
        "column 'bar_weak': non-integer vote count (id J",
        run,
    )
    run = decals("off_sky")
    _edit_csv(run.written["path"], lambda f: f.assign(dec=f["dec"].where(f.index != 0, 123.0)))
    add(
        "dec_off_sky",
        "decals",
        "a declination outside -90..90",
        "error",
        "column 'dec': 123 is not a dec in degrees",
        run,
    )
    run = decals("ra_text")
    _edit_csv(
        run.written["path"],
        lambda f: f.assign(ra=f["ra"].astype(object).where(f.index != 0, "12h30m")),
    )
    add(
        "ra_text",
        "decals",
        "a sexagesimal ra ('12h30m') in a degrees column",
        "error",
        "column 'ra': not a number (first: '12h30m')",
        run,
    )
    run = decals("total_disagrees")
    _edit_csv(
        run.written["path"], lambda f: f.assign(**{"bar_total-votes": f["bar_total-votes"] + 1})
    )
    add(
        "total_disagrees",
        "decals",
        "a _total-votes that disagrees with its answers",
        "error",
        "column 'bar_total-votes': total disagrees",
        run,
    )
    run = decals("too_large", max_memory_gb=1e-6)
    add(
        "catalog_too_large",
        "decals",
        "a catalog larger than ingestion.max_memory_gb",
        "error",
        "too large to read at once: about",
        run,
    )

    # -- image paths (user reader: file_loc relative to the catalog's folder)
    def user(name: str, edit=None, **options) -> Callable[[], pd.DataFrame]:
        written = write_user(root / name, root / f"{name}_campaigns", n=N)
        if edit is not None:
            _edit_csv(written["path"], edit)

        def run():
            return read_user(
                written["path"],
                USER_CAMPAIGN["name"],
                campaign_dirs=[written["campaign_dir"]],
                **options,
            )

        run.written = written
        return run

    absolute = root / "absolute_paths"
    run = user(
        "absolute_paths", lambda f: f.assign(file_loc=[str(absolute / p) for p in f["file_loc"]])
    )

    def kept_absolute(run=run) -> str:
        table = run()
        written = pd.read_csv(run.written["path"])["file_loc"].tolist()
        same = table["image_path"].tolist() == written
        return f"{len(table)} rows" + (", the absolute image_path kept as written" if same else "")

    add(
        "image_paths_absolute",
        "user",
        "image paths that are absolute (and exist)",
        "accepted",
        "6 rows, the absolute image_path kept as written",
        kept_absolute,
        None,
    )
    run = user(
        "foreign_absolute",
        lambda f: f.assign(file_loc=[f"/Volumes/alpha/decals/{p}" for p in f["file_loc"]]),
    )
    add(
        "image_paths_other_machine",
        "user",
        "absolute image paths from another machine",
        "error",
        "an absolute path, perhaps from the machine that wrote the catalog",
        run,
    )
    run = user(
        "other_folder", lambda f: f.assign(file_loc=[f"other_folder/{p}" for p in f["file_loc"]])
    )
    add(
        "image_paths_other_folder",
        "user",
        "image paths relative to another folder",
        "error",
        "so the paths are relative to another folder",
        run,
    )
    run = user("directory_paths", lambda f: f.assign(file_loc="images"))
    add(
        "image_paths_directory",
        "user",
        "image paths that name a directory",
        "error",
        "it is a directory, not an image file",
        run,
    )
    run = user("missing_image")
    (root / "missing_image" / "images" / "deep-0003.png").unlink()
    add(
        "image_missing",
        "user",
        "an image file that does not exist",
        "error",
        "column 'image_path': 1 image file(s) do not exist",
        run,
    )

    # -- parquet (galaxy-datasets, Hugging Face)
    def candels(name: str, edit=None) -> Callable[[], pd.DataFrame]:
        written = write_galaxy_datasets(root / name, n=N)
        if edit is not None:
            for path in written["paths"]:
                edit(path)

        def run():
            return read_galaxy_datasets(written["paths"], "candels", image_dir=written["image_dir"])

        return run

    column = "clumpy-appearance-candels_yes"

    def as_text(path: Path) -> None:
        table = pq.read_table(path)
        position = table.schema.get_field_index(column)
        text = pa.array([f"{v:g} votes" for v in table.column(column).to_pylist()])
        pq.write_table(table.set_column(position, column, text), path)

    add(
        "parquet_counts_as_text",
        "galaxy_datasets",
        "parquet with the right columns of the wrong type (counts as text)",
        "error",
        f"column '{column}': vote counts are not numbers",
        candels("p_text", as_text),
    )

    def as_bool(path: Path) -> None:
        table = pq.read_table(path)
        position = table.schema.get_field_index(column)
        flags = pa.array([bool(v) for v in table.column(column).to_pylist()])
        pq.write_table(table.set_column(position, column, flags), path)

    add(
        "parquet_counts_as_bool",
        "galaxy_datasets",
        "parquet counts stored as booleans",
        "error",
        "vote counts are booleans, not integers",
        candels("p_bool", as_bool),
    )

    def ids_as_struct(path: Path) -> None:
        table = pq.read_table(path)
        position = table.schema.get_field_index("ra")
        nested = pa.array([{"deg": v} for v in table.column("ra").to_pylist()])
        pq.write_table(table.set_column(position, "ra", nested), path)

    add(
        "parquet_nested_coordinates",
        "galaxy_datasets",
        "parquet ra stored as a struct",
        "error",
        "column 'ra'",
        candels("p_struct", ids_as_struct),
    )

    def truncate(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])

    add(
        "parquet_truncated",
        "galaxy_datasets",
        "a truncated parquet file",
        "error",
        "cannot be read as parquet",
        candels("p_cut", truncate),
    )

    def empty(path: Path) -> None:
        pq.write_table(pq.read_table(path).slice(0, 0), path)

    add(
        "parquet_no_rows",
        "galaxy_datasets",
        "parquet with a schema and no rows",
        "error",
        "has a header but no rows",
        candels("p_empty", empty),
    )

    hf = write_huggingface(root / "hf_text_images", n=N)
    for path in hf["paths"]:
        table = pq.read_table(path)
        position = table.schema.get_field_index("image")
        paths = pa.array([f"{i}.jpg" for i in table.column("id_str").to_pylist()])
        pq.write_table(table.set_column(position, "image", paths), path)
    add(
        "hf_image_not_bytes",
        "huggingface",
        "an embedded-image column holding text",
        "error",
        "column 'image': image column holds string, not encoded image bytes",
        lambda: read_huggingface(hf["paths"], "dr8"),
    )

    gz2 = write_gz2_hart(root / "gz2_mapping", n=N)
    pd.read_csv(gz2["mapping"]).drop(columns="asset_id").to_csv(gz2["mapping"], index=False)
    add(
        "gz2_mapping_without_column",
        "gz2_hart",
        "gz2_filename_mapping.csv without asset_id",
        "error",
        "column 'asset_id': missing column of gz2_filename_mapping.csv",
        lambda: read_gz2_hart(
            gz2["path"], filename_mapping=gz2["mapping"], image_dir=gz2["image_dir"]
        ),
    )
    gz2dup = write_gz2_hart(root / "gz2_duplicate", n=N)
    _edit_csv(
        gz2dup["path"],
        lambda f: f.assign(dr7objid=f["dr7objid"].where(f.index != 1, f["dr7objid"][0])),
    )
    add(
        "duplicate_ids",
        "gz2_hart",
        "two rows with one galaxy id",
        "error",
        "column 'dr7objid': duplicate galaxy id",
        lambda: read_gz2_hart(gz2dup["path"]),
    )

    # -- image and downstream catalogs
    unlabelled = write_image_catalog(root / "unlabelled_missing_id", n=N)
    _edit_csv(unlabelled["path"], lambda f: f.assign(id_str=f["id_str"].where(f.index != 2)))
    add(
        "missing_id",
        "unlabelled",
        "a row without a galaxy id",
        "error",
        "column 'id_str': missing galaxy id in 1 row(s) (row positions) (id 2)",
        lambda: read_image_catalog(unlabelled["path"]),
    )
    down = write_image_catalog(root / "downstream_no_rows", n=N, labels=True)
    _edit_csv(down["path"], lambda f: f.iloc[:0])
    add(
        "downstream_ingest_no_rows",
        "downstream (ingestion)",
        "downstream CSV with a header and no rows",
        "error",
        "has a header but no rows",
        lambda: read_downstream_catalog(down["path"]),
    )
    return cases


def ingestion_cases(root: Path) -> list[Case]:
    """Through the ingestion node: empty sources and the decision-tree check."""
    from gz_evo.pipelines.ingestion.nodes import ingest_campaign

    cases = []
    settings = {"reader": "decals", "options": {"id_column": "iauname"}}

    def tree_broken(name: str, rows: int) -> RawCatalog:
        written = write_decals(root / name, n=N, images=False)
        frame = pd.read_csv(written["path"], dtype={"iauname": str})
        # more votes on the bar question than on the answer that leads to it (disk-edge-on_no)
        broken = frame.index < rows
        frame.loc[broken, "disk-edge-on_no"] = 0
        frame.loc[broken, "bar_no"] += 1
        for question in ("disk-edge-on", "bar"):
            answers = [
                c
                for c in frame
                if c.startswith(f"{question}_")
                and c.count("_") == 1
                and not c.endswith(("_total-votes", "_total"))
            ]
            frame[f"{question}_total-votes"] = frame[answers].sum(axis=1)
        frame.to_csv(written["path"], index=False)
        return RawCatalog(paths=(written["path"],))

    every = tree_broken("every_row_dropped", N)
    cases.append(
        Case(
            "every_row_dropped",
            "ingestion",
            "a catalog where every row is dropped (decision tree)",
            "error",
            "every one of the 6 galaxies was dropped",
            lambda: ingest_campaign(every, settings, 1.0, False, [], campaign="dr5"),
            IngestionError,
        )
    )
    some = tree_broken("one_row_dropped", 1)

    def one_dropped():
        table, dropped, stats = ingest_campaign(some, settings, 0.5, False, [], campaign="dr5")
        assert len(table) == N - 1 and stats["rows_dropped"] == 1
        return Report(f"dropped: {sorted(set(dropped['question']))[0]}")

    cases.append(
        Case(
            "rows_within_tolerance",
            "ingestion",
            "rows breaking the decision tree, within ingestion.tolerance",
            "report",
            "dropped: bar-dr5",
            one_dropped,
        )
    )
    too_many = tree_broken("rows_beyond_tolerance", 2)
    cases.append(
        Case(
            "rows_beyond_tolerance",
            "ingestion",
            "rows breaking the decision tree, beyond ingestion.tolerance",
            "error",
            "above the tolerance 0.01",
            lambda: ingest_campaign(too_many, settings, 0.01, False, [], campaign="dr5"),
            IngestionError,
        )
    )
    hf = write_huggingface(root / "hf_filter", n=N)
    hf_settings = {"reader": "huggingface", "options": {"dataset_name": "gz_candels"}}
    raw = RawCatalog(paths=tuple(hf["paths"]))
    cases.append(
        Case(
            "source_filtered_empty",
            "ingestion",
            "a source whose dataset_name keeps no row",
            "error",
            "no galaxies to ingest for campaign 'dr8'",
            lambda: ingest_campaign(raw, hf_settings, 0.01, False, [], campaign="dr8"),
            IngestionError,
        )
    )
    cases.append(
        Case(
            "unknown_reader",
            "ingestion",
            "ingestion.campaigns.<c>.reader names no reader",
            "error",
            "unknown reader 'fits'",
            lambda: ingest_campaign(raw, {"reader": "fits"}, 0.01, False, [], campaign="dr8"),
            ConfigError,
        )
    )
    return cases


def campaign_cases(root: Path) -> list[Case]:
    cases = []

    def campaign(name: str, text: str | bytes, suffix: str = ".yaml") -> Path:
        folder = root / f"campaigns_{name}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{USER_CAMPAIGN['name']}{suffix}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return folder

    def load(folder: Path) -> Callable[[], Any]:
        return lambda: load_campaign(USER_CAMPAIGN["name"], [folder])

    good = yaml.safe_dump(USER_CAMPAIGN, sort_keys=False)
    cases.append(
        Case(
            "campaign_yml_extension",
            "campaign YAML",
            "a campaign file named .yml",
            "accepted",
            "3 questions",
            load(campaign("yml", good, ".yml")),
        )
    )
    both = campaign("both", good, ".yaml")
    (both / f"{USER_CAMPAIGN['name']}.yml").write_text(good)
    cases.append(
        Case(
            "campaign_yaml_and_yml",
            "campaign YAML",
            "one campaign as both .yaml and .yml",
            "error",
            "is also defined by",
            load(both),
            SchemaError,
        )
    )
    typo = yaml.safe_dump({**USER_CAMPAIGN, "decription": "typo"}, sort_keys=False)
    cases.append(
        Case(
            "campaign_unknown_key",
            "campaign YAML",
            "an unknown key in a campaign file",
            "error",
            "unknown key 'decription'",
            load(campaign("key", typo)),
            SchemaError,
        )
    )
    questions = [dict(q) for q in USER_CAMPAIGN["questions"]]
    questions[1] = {
        "name": "clumpy",
        "answers": ["yes", "no"],
        "depend_on": "smooth-or-featured_featured",
    }
    typo = yaml.safe_dump({**USER_CAMPAIGN, "questions": questions}, sort_keys=False)
    cases.append(
        Case(
            "campaign_unknown_question_key",
            "campaign YAML",
            "an unknown key in a question (depend_on)",
            "error",
            "question 1 ('clumpy'): unknown key 'depend_on'",
            load(campaign("qkey", typo)),
            SchemaError,
        )
    )
    cases.append(
        Case(
            "campaign_invalid_yaml",
            "campaign YAML",
            "a campaign file that is not YAML",
            "error",
            "not valid YAML",
            load(campaign("syntax", "name: [unclosed\n")),
            SchemaError,
        )
    )
    cases.append(
        Case(
            "campaign_not_mapping",
            "campaign YAML",
            "a campaign file holding a list",
            "error",
            "a campaign file is a mapping",
            load(campaign("list", "- a\n- b\n")),
            SchemaError,
        )
    )
    latin = good.replace("test fixture", "fixturé").encode("latin-1")
    cases.append(
        Case(
            "campaign_latin1",
            "campaign YAML",
            "a campaign file in Latin-1",
            "error",
            "not UTF-8 text",
            load(campaign("latin", latin)),
            SchemaError,
        )
    )
    questions = [dict(q) for q in USER_CAMPAIGN["questions"]]
    questions[1]["answers"] = "yes"
    text = yaml.safe_dump({**USER_CAMPAIGN, "questions": questions}, sort_keys=False)
    cases.append(
        Case(
            "campaign_answers_not_list",
            "campaign YAML",
            "answers given as one text",
            "error",
            "'answers' must be a list",
            load(campaign("answers", text)),
            SchemaError,
        )
    )
    text = good.replace('- "yes"', "- yes").replace("- 'yes'", "- yes")
    cases.append(
        Case(
            "campaign_unquoted_yes",
            "campaign YAML",
            "an unquoted yes/no answer",
            "error",
            "was read as a boolean",
            load(campaign("bool", text)),
            SchemaError,
        )
    )
    return cases


def image_cases(root: Path) -> list[Case]:
    """Every format the images pipeline decodes; bad ones become report rows (their reason)."""
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    cases = []

    def case(name, text, outcome, expect, data: bytes | None, config=None, suffix=".png"):
        path = folder / f"{name}{suffix}"
        if data is not None:
            path.write_bytes(data)

        def run():
            try:
                pixels = load_galaxy(str(path), None, 16, Path("."), config)
            except BadImage as error:
                return Report(error.reason)
            return f"RGB {pixels.shape[0]} px"

        cases.append(Case(f"image_{name}", "images", text, outcome, expect, run, None))

    rgba = np.dstack([_galaxy(), np.full((24, 24), 255, np.uint8)])
    case(
        "rgba_opaque",
        "PNG with an alpha channel, fully opaque",
        "accepted",
        "RGB 16 px",
        _png(rgba),
    )
    rgba = rgba.copy()
    rgba[0, 0, 3] = 10
    case(
        "rgba_transparent",
        "PNG with an alpha channel, not fully opaque",
        "report",
        "wrong_channels",
        _png(rgba),
    )
    la = np.dstack([_galaxy(channels=1)[..., 0], np.full((24, 24), 255, np.uint8)])
    case("grey_alpha", "greyscale PNG with alpha (LA)", "report", "wrong_channels", _png(la))
    case(
        "greyscale",
        "greyscale PNG (one band)",
        "report",
        "wrong_channels",
        _png(_galaxy(channels=1)[..., 0]),
    )
    buffer = io.BytesIO()
    Image.fromarray(_galaxy()).convert("CMYK").save(buffer, format="JPEG")
    case("cmyk_jpeg", "CMYK JPEG", "report", "wrong_channels", buffer.getvalue(), suffix=".jpg")
    buffer = io.BytesIO()
    Image.fromarray(_galaxy()).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    case("jpeg", "JPEG", "accepted", "RGB 16 px", jpeg, suffix=".jpg")
    case(
        "jpeg_truncated",
        "JPEG cut in half",
        "report",
        "truncated",
        jpeg[: len(jpeg) // 2],
        suffix=".jpg",
    )
    png = _png(_galaxy())
    case("png_truncated", "PNG cut in half", "report", "truncated", png[: len(png) // 2])
    case(
        "random_bytes",
        "random bytes named .png",
        "report",
        "unreadable",
        np.random.default_rng(0).bytes(2000),
    )
    case("empty_file", "an empty image file", "report", "truncated", b"")
    buffer = io.BytesIO()
    Image.fromarray(_galaxy()).convert("P").save(buffer, format="GIF")
    case(
        "gif_palette",
        "GIF (palette image)",
        "accepted",
        "RGB 16 px",
        buffer.getvalue(),
        suffix=".gif",
    )
    case(
        "png_bomb",
        "PNG decompression bomb (100,000 x 100,000 in its header)",
        "report",
        "too_large",
        png_bomb(),
    )
    case(
        "above_pixel_limit",
        "an image above images.checks.max_pixels (here 10)",
        "report",
        "too_large",
        png,
        DecodeConfig(max_pixels=10),
    )
    (folder / "path_is_directory.png").mkdir(exist_ok=True)
    case("path_is_directory", "an image path naming a directory", "report", "missing", None)
    case("missing_file", "an image file that does not exist", "report", "missing", None)
    rng = np.random.default_rng(1)
    case(
        "fits_three_bands",
        "FITS with 3 bands (float32)",
        "accepted",
        "RGB 16 px",
        _fits(rng.normal(size=(3, 24, 24)).astype(np.float32)),
        suffix=".fits",
    )
    case(
        "fits_one_band",
        "FITS with 1 band",
        "accepted",
        "RGB 16 px",
        _fits(rng.normal(size=(24, 24)).astype(np.float32)),
        suffix=".fits",
    )
    case(
        "fits_nan",
        "FITS whose pixels are all NaN",
        "report",
        "blank",
        _fits(np.full((24, 24), np.nan, np.float32)),
        suffix=".fits",
    )
    case(
        "fits_4d",
        "FITS with 4 axes",
        "report",
        "wrong_channels",
        _fits(rng.normal(size=(2, 3, 8, 8)).astype(np.float32)),
        suffix=".fits",
    )
    case(
        "fits_table",
        "FITS holding a table, no image",
        "report",
        "unreadable",
        _fits(None, table=True),
        suffix=".fits",
    )
    good = _fits(rng.normal(size=(3, 64, 64)).astype(np.float32))
    case(
        "fits_truncated",
        "FITS cut in half",
        "report",
        "truncated",
        good[: len(good) // 2],
        suffix=".fits",
    )
    case(
        "fits_bomb",
        "FITS header claiming 200,000 x 200,000 pixels",
        "report",
        "too_large",
        fits_bomb(),
        suffix=".fits",
    )
    return cases


def task_cases(root: Path) -> list[Case]:
    """The downstream-task catalog and the finetune catalog (a user's own labels)."""
    from gz_evo.training.downstream import DownstreamTask
    from gz_evo.training.user_finetune import FinetuneSettings, labelled_table

    folder = root / "tasks"
    written = write_image_catalog(folder, n=8, prefix="t", labels=True)
    base = written["frame"]

    def task(
        name: str,
        frame: pd.DataFrame | None = None,
        data: bytes | None = None,
        label: str = "ring",
        suffix: str = ".csv",
    ) -> DownstreamTask:
        path = folder / f"{name}{suffix}"
        if data is not None:
            path.write_bytes(data)
        elif suffix == ".parquet":
            frame.to_parquet(path)
        else:
            frame.to_csv(path, index=False)
        return DownstreamTask(
            name=name,
            catalog=str(path),
            id_column="id_str",
            image_column="file_loc",
            label=label,
            kind="binary",
            image_root=None,
            requires=None,
            val_fraction=0.2,
            test_fraction=0.2,
        )

    def read(t: DownstreamTask) -> Callable[[], Any]:
        return lambda: t.read_catalog(None)

    cases = [
        Case(
            "downstream_no_rows",
            "downstream task",
            "downstream catalog with a header and no rows",
            "error",
            "has a header but no rows",
            read(task("empty", base.iloc[:0])),
            CatalogError,
        ),
        Case(
            "downstream_missing_label",
            "downstream task",
            "downstream catalog without the label column",
            "error",
            "has no column(s) ['bar']",
            read(task("nolabel", base, label="bar")),
            CatalogError,
        ),
        Case(
            "downstream_duplicate_ids",
            "downstream task",
            "downstream catalog with a repeated id",
            "error",
            "column 'id_str': duplicate galaxy id (id t-0000)",
            read(task("dup", base.assign(id_str=["t-0000", "t-0000", *base["id_str"][2:]]))),
            CatalogError,
        ),
        Case(
            "downstream_latin1",
            "downstream task",
            "downstream catalog in Latin-1",
            "error",
            "not UTF-8 text (line 3",
            read(
                task(
                    "latin",
                    data=base.assign(tidal=base["tidal"].where(base.index != 1, "plumé"))
                    .to_csv(index=False)
                    .encode("latin-1"),
                    label="tidal",
                )
            ),
            CatalogError,
        ),
    ]

    def finetune(name: str, frame: pd.DataFrame | None, suffix: str = ".csv", **changes):
        path = folder / f"ft_{name}{suffix}"
        if frame is not None:
            frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
        params = {
            "catalog": str(path) if frame is not None else None,
            "id_column": "id_str",
            "image_column": "file_loc",
            "label": "ring",
            "kind": "binary",
            "image_root": None,
            "encoder": "unused",
            "val_fraction": 0.2,
            "test_fraction": 0.2,
            "max_bad_fraction": 0.1,
            "min_labelled": 4,
            "predict_catalog": None,
            "workdir": str(folder / "work"),
            "changes": {},
            **changes,
        }
        return lambda: labelled_table(FinetuneSettings.from_params(params))

    cases += [
        Case(
            "finetune_every_row_unlabelled",
            "finetune catalog",
            "finetune catalog where every row is dropped (no label)",
            "error",
            "has 0 labelled galaxies in column 'ring'",
            finetune("unlabelled", base.assign(ring=np.nan)),
            CatalogError,
        ),
        Case(
            "finetune_inf_label",
            "finetune catalog",
            "an infinite label in a classification",
            "error",
            "needs classes (integers or text), got inf at row 2",
            finetune(
                "inf",
                base.assign(ring=base["ring"].astype(float).where(base.index != 2, np.inf)),
                kind="multiclass",
            ),
            CatalogError,
        ),
        Case(
            "finetune_list_labels",
            "finetune catalog",
            "parquet labels that are lists",
            "error",
            "labels must be numbers or text, got",
            finetune("lists", base.assign(ring=[[i] for i in range(len(base))]), ".parquet"),
            CatalogError,
        ),
        Case(
            "finetune_one_class",
            "finetune catalog",
            "one class only",
            "error",
            "has only one class",
            finetune("one", base.assign(ring=1)),
            CatalogError,
        ),
        Case(
            "finetune_not_set",
            "finetune catalog",
            "finetune.catalog not set",
            "error",
            "set finetune.catalog=path",
            finetune("none", None),
            ConfigError,
        ),
        Case(
            "finetune_binary_file",
            "finetune catalog",
            "a finetune catalog that is a JPEG",
            "error",
            "not CSV text: the file is a JPEG image",
            finetune("jpeg", None, catalog=str(_write(folder / "labels.csv", _jpeg()))),
            CatalogError,
        ),
    ]
    return cases


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_galaxy()).save(buffer, format="JPEG")
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def build_corpus(root: Path) -> list[Case]:
    """Write every case's input under ``root``; return the cases (names are unique)."""
    cases = [
        *reader_cases(root / "readers"),
        *ingestion_cases(root / "ingestion"),
        *campaign_cases(root / "campaigns"),
        *image_cases(root / "images"),
        *task_cases(root / "tasks"),
    ]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names repeat"
    return cases


def outcome_of(case: Case) -> tuple[str, str]:
    """(outcome, what the user sees) of running ``case``: an error message, a report reason or
    the accepted result's summary."""
    try:
        result = case.run()
    except PROJECT_ERRORS as error:
        return "error", f"{type(error).__name__}: {error}"
    if isinstance(result, Report):
        return "report", f"report row, reason {result.reason}"
    return "accepted", summary(result)


def summary(result: Any) -> str:
    if isinstance(result, pd.DataFrame):
        return f"{len(result)} rows"
    if hasattr(result, "questions"):
        return f"{len(result.questions)} questions"
    return str(result)


def markdown_table(cases: list[Case], root: Path) -> str:
    lines = ["| input class | read by | outcome | what the user gets |", "|---|---|---|---|"]
    for case in cases:
        outcome, message = outcome_of(case)
        message = message.replace(str(root) + "/", "").replace("\n", " ")
        if len(message) > 220:
            message = message[:217] + "..."
        message = message.replace("|", "\\|")
        lines.append(f"| {case.input} | {case.target} | {outcome} | {message} |")
    return "\n".join(lines)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        corpus_root = Path(directory)
        print(markdown_table(build_corpus(corpus_root), corpus_root))
    sys.exit(0)
