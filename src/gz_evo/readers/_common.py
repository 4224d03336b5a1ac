"""What every reader shares: reading selected columns, image path patterns, the canonical table."""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import logging
import lzma
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from gz_evo.checks import (
    META_COLUMNS,
    IngestionError,
    check_images_exist,
    check_totals,
    check_unique_ids,
    counts_to_int32,
    match_vote_columns,
)
from gz_evo.schema import Question, Schema, campaign_suffix, load_campaign

logger = logging.getLogger(__name__)

PathLike = str | Path
BINARY = pd.ArrowDtype(pa.binary())
_PATTERN_FIELD = re.compile(r"\{(\w+)(?:\[(-?\d*):(-?\d*)\])?\}")


def as_paths(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if not paths:
        raise IngestionError("<no files>", "no catalog file given (check the catalog's filepath)")
    return [Path(p) for p in paths]


def as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def source_name(paths: Sequence[Path]) -> str:
    return ", ".join(str(p) for p in paths)


def campaign_questions(
    campaign: str, campaign_dirs: Sequence[PathLike] = ()
) -> tuple[Schema, str, list[Question]]:
    """The campaign's schema, suffix and questions (loaded once per process and directory list)."""
    return _campaign_questions(campaign, tuple(str(d) for d in campaign_dirs))


@functools.lru_cache(maxsize=64)
def _campaign_questions(campaign: str, campaign_dirs: tuple[str, ...]):
    schema = load_campaign(campaign, campaign_dirs)
    return schema, campaign_suffix(campaign, campaign_dirs), list(schema.questions)


#: what a file that is not CSV text usually is, by its first bytes
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"SIMPLE  =": "a FITS file",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (unzip it first)",
    b"\x1f\x8b": "gzip-compressed (name it .csv.gz)",
    b"\xff\xfe": "UTF-16 text (save it as UTF-8)",
    b"\xfe\xff": "UTF-16 text (save it as UTF-8)",
}
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")
#: rows read to estimate a CSV's bytes per row (see :func:`estimate_memory`)
_SAMPLE_ROWS = 1000
#: the canonical table is built next to the columns read: peak memory is about twice their size
PEAK_FACTOR = 2.0


def is_parquet(path: Path) -> bool:
    """Parquet by suffix, or by its magic bytes whatever the file is called."""
    if path.suffix == ".parquet":
        return True
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise IngestionError(str(path), "is a directory, not a catalog file (CSV or parquet)")
    if not path.is_file():
        raise IngestionError(
            str(path),
            "catalog file does not exist (for the demo universe: kedro run --pipelines demo)",
        )
    if path.stat().st_size == 0:
        raise IngestionError(str(path), "empty file (0 bytes): no header, no rows")


def _check_text(path: Path) -> None:
    """Refuse a file named like a CSV that is not text, saying what it looks like."""
    if path.name.lower().endswith(_COMPRESSED):
        return
    with open(path, "rb") as handle:
        head = handle.read(65536)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            raise IngestionError(str(path), f"not CSV text: the file is {kind}")
    if b"\x00" in head:
        raise IngestionError(
            str(path), "not CSV text: the file holds NUL bytes (binary data, or UTF-16 text)"
        )


def _first_bad_utf8_line(path: Path) -> str:
    """' (line N)' for the first line that is not UTF-8, for an error message."""
    if path.name.lower().endswith(_COMPRESSED):
        return ""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                byte = line[error.start : error.start + 1]
                return f" (line {number}, byte {error.start}: {byte!r})"
    return ""


@contextmanager
def reading(path: Path, what: str = "catalog"):
    """Turn whatever pandas or pyarrow raise on a malformed file into an :class:`IngestionError`.

    The file is untrusted input: any parser failure means the file is bad, and the message says
    which file and, where the parser knows it, which line.
    """
    try:
        yield
    except (IngestionError, MemoryError, KeyboardInterrupt):
        raise
    except UnicodeDecodeError:
        raise IngestionError(
            str(path),
            f"{what} is not UTF-8 text{_first_bad_utf8_line(path)}: re-save it as UTF-8 "
            "(e.g. in a spreadsheet: CSV UTF-8)",
        ) from None
    except pd.errors.EmptyDataError:
        raise IngestionError(str(path), f"{what} is empty: no header row") from None
    except pd.errors.ParserError as error:
        raise IngestionError(str(path), f"{what} is not a well-formed CSV: {error}") from None
    except Exception as error:
        kind = "parquet" if path.is_file() and is_parquet(path) else "CSV"
        raise IngestionError(
            str(path), f"{what} cannot be read as {kind}: {type(error).__name__}: {error}"
        ) from None


def header(path: Path) -> list[str]:
    """Column names of a CSV or parquet file, without reading its rows.

    The file must exist, be CSV text (UTF-8, a BOM is fine) or parquet, and name each column once.
    """
    _check_file(path)
    parquet = is_parquet(path)
    with reading(path):
        if parquet:
            import pyarrow.parquet as pq

            names = as_written = list(pq.read_schema(path).names)
        else:
            _check_text(path)
            names = [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
            # pandas renames a repeated name to "name.1": the first line as data shows repeats
            first = pd.read_csv(path, nrows=1, header=None, dtype="str", encoding="utf-8-sig")
            as_written = [str(c) for c in first.iloc[0].tolist()] if len(first) else names
    repeated = [name for name, count in Counter(as_written).items() if count > 1]
    if repeated:
        raise IngestionError(str(path), "column name appears more than once", repeated[0])
    return names


def memory_limit_bytes(max_memory_gb: float | None) -> int:
    """``max_memory_gb`` in bytes; None: half of this machine's physical memory."""
    if max_memory_gb is not None:
        return int(float(max_memory_gb) * 1e9)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit
        return 2**62


def _open_text(path: Path):
    """The file's (decompressed) bytes, for counting line lengths; None for zip/zstd/tar."""
    name = path.name.lower()
    for suffix, opener in ((".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)):
        if name.endswith(suffix):
            return opener(path, "rb")
    return None if name.endswith(_COMPRESSED) else open(path, "rb")


def estimate_memory(path: Path, columns: Sequence[str]) -> tuple[int, int]:
    """(rows, bytes) that reading ``columns`` of the file would take, without reading it.

    Parquet: the row count and the columns' uncompressed sizes from the file's metadata. CSV:
    the first 1,000 rows read and measured in memory, scaled by the file's size over those rows'
    bytes (``.gz``: the uncompressed size in the gzip trailer).
    """
    if is_parquet(path):
        import pyarrow.parquet as pq

        with reading(path):
            metadata = pq.ParquetFile(path).metadata
        wanted = set(columns)
        total = 0
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for position in range(row_group.num_columns):
                chunk = row_group.column(position)
                if chunk.path_in_schema.split(".")[0] in wanted:
                    total += chunk.total_uncompressed_size
        return metadata.num_rows, total + 8 * metadata.num_rows * len(wanted)
    with reading(path):
        sample = pd.read_csv(path, nrows=_SAMPLE_ROWS, usecols=list(columns), dtype="str",
                             encoding="utf-8-sig")  # fmt: skip
        if len(sample) == 0:
            return 0, 0
        handle = _open_text(path)
        if handle is None:
            return len(sample), int(sample.memory_usage(deep=True, index=False).sum())
        with handle:
            handle.readline()  # the header
            head = sum(len(handle.readline()) for _ in range(len(sample)))
    size = path.stat().st_size
    if path.name.lower().endswith(".gz"):
        with open(path, "rb") as raw:
            raw.seek(-4, os.SEEK_END)
            size = max(size, int.from_bytes(raw.read(4), "little"))
    rows = max(len(sample), int(size * len(sample) / max(head, 1)))
    per_row = sample.memory_usage(deep=True, index=False).sum() / len(sample)
    return rows, int(rows * per_row)


def _size(n_bytes: float) -> str:
    if n_bytes >= 1e8:
        return f"{n_bytes / 1e9:.2f} GB"
    return f"{n_bytes / 1e6:.2f} MB" if n_bytes >= 1e4 else f"{n_bytes:,.0f} bytes"


def check_memory(path: Path, columns: Sequence[str], max_memory_gb: float | None) -> None:
    """Refuse, before reading, a file whose columns would not fit the memory limit."""
    rows, size = estimate_memory(path, columns)
    need, limit = PEAK_FACTOR * size, memory_limit_bytes(max_memory_gb)
    if need > limit:
        raise IngestionError(
            str(path),
            f"too large to read at once: about {_size(need)} of memory for {rows:,} rows "
            f"x {len(columns)} columns (twice the columns read: the canonical table is built "
            f"beside them), more than the limit of {_size(limit)} "
            "(ingestion.max_memory_gb; null is half this machine's memory): split the file into "
            "parts (the readers take several files) or raise the limit on a bigger machine",
        )


def read_columns(
    path: Path, columns: Sequence[str], string_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """Only ``columns`` of a CSV or parquet file; ``string_columns`` read as exact strings.

    Logs one line per file read (rows, columns, seconds): ingestion's progress, file by file.
    """
    start = time.perf_counter()
    frame = _read_columns(path, columns, string_columns)
    logger.info(
        "read %s: %d rows, %d columns, %.1f s",
        path,
        len(frame),
        len(frame.columns),
        time.perf_counter() - start,
    )
    return frame


def _read_columns(
    path: Path, columns: Sequence[str], string_columns: Sequence[str]
) -> pd.DataFrame:
    strings = [c for c in string_columns if c in columns]
    with reading(path):
        if is_parquet(path):
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=list(columns))
            table.validate(full=True)  # text must be UTF-8 (a corrupt file may hold anything)
            frame = table.to_pandas(split_blocks=True, self_destruct=True)
            for column in strings:
                if frame[column].dtype != "str":
                    frame[column] = frame[column].astype("str")
            return frame
        frame = pd.read_csv(
            path, usecols=list(columns), dtype=dict.fromkeys(strings, "str"), encoding="utf-8-sig"
        )
    check_row_widths(path)
    return frame[list(columns)]


def check_row_widths(path: Path) -> None:
    """Every row of a CSV has as many fields as its header (pandas, given ``usecols``, silently
    drops the fields of a longer row, and a stray comma shifts every value after it).

    pyarrow's multi-threaded tokenizer checks the widths (about as long again as the read);
    quoted values may hold newlines, so a complaint is confirmed with that allowed, and the
    first bad row found with the csv module, for the message.
    """
    import pyarrow.csv as pacsv

    def scan(newlines: bool) -> None:
        pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8"),
            parse_options=pacsv.ParseOptions(newlines_in_values=newlines),
            convert_options=pacsv.ConvertOptions(include_columns=[], strings_can_be_null=True),
        )

    try:
        scan(False)
        return
    except pa.ArrowInvalid as error:
        if "columns, got" not in str(error):
            return  # not about widths: pandas read the file, its own errors were raised
    try:
        scan(True)
        return
    except pa.ArrowInvalid as error:
        if "columns, got" not in str(error):
            return
    raise IngestionError(str(path), f"{_first_bad_width(path)} (a stray comma, or an unquoted "
                                    "text holding a comma?)")  # fmt: skip


def _first_bad_width(path: Path) -> str:
    import csv

    opened = _open_text(path)
    if opened is None:
        return "a row has another number of fields than the header"
    with opened as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        rows = csv.reader(text)
        width = len(next(rows))
        for row in rows:
            if row and len(row) != width:
                return (
                    f"the row ending at line {rows.line_num} has {len(row)} fields, the header "
                    f"{width}"
                )
    return "a row has another number of fields than the header"


#: what a catalog with no rows may mean, for a campaign source of the ingestion pipeline
NO_ROWS_HINT = (
    "a failed export? for a source you have no data for, set enabled: false in "
    "parameters_ingestion.yml"
)


def check_has_rows(
    frame: pd.DataFrame | pa.Table, path: Path | str, hint: str = NO_ROWS_HINT
) -> None:
    if len(frame) == 0:
        raise IngestionError(str(path), f"has a header but no rows: nothing to read ({hint})")


def read_table(
    path: PathLike,
    columns: Sequence[str],
    string_columns: Sequence[str] = (),
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """``columns`` of one CSV or parquet catalog, checked as every reader checks its files.

    A readable file (UTF-8 CSV or parquet, each column named once), the columns present, small
    enough for ``max_memory_gb`` (None: half this machine's memory), at least one row; else an
    :class:`IngestionError` naming the file (and column).
    """
    path = Path(path)
    present = header(path)
    columns = list(dict.fromkeys(columns))
    missing = [c for c in columns if c not in present]
    if missing:
        raise IngestionError(str(path), f"missing column (the file has {present[:20]})", missing[0])
    check_memory(path, columns, max_memory_gb)
    frame = read_columns(path, columns, string_columns)
    check_has_rows(frame, path, "a failed export?")
    return frame


def read_files(
    paths: Sequence[Path],
    select: Callable[[list[str], Path], list[str]],
    string_columns: Sequence[str] = (),
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """Concatenate the selected columns of several files (train/test splits, shards).

    Each file is checked before it is read (a readable CSV or parquet, not too large for
    ``max_memory_gb``) and after (at least one row).
    """
    frames = []
    for path in paths:
        columns = select(header(path), path)
        check_memory(path, columns, max_memory_gb)
        frame = read_columns(path, columns, string_columns)
        check_has_rows(frame, path)
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def first_present(
    candidates: str | Sequence[str], columns: Sequence[str], what: str, source: str
) -> str:
    candidates = as_list(candidates)
    for candidate in candidates:
        if candidate in columns:
            return candidate
    raise IngestionError(source, f"no {what} column: looked for {', '.join(candidates)}")


def id_and_image(
    columns: Sequence[str], path: Path, id_column: str | Sequence[str], image_column: str
) -> tuple[str, str]:
    """The id and image path columns of a file's header (id checked first)."""
    ids = first_present(id_column, columns, "id", str(path))
    return ids, first_present(image_column, columns, "image", str(path))


def total_columns(
    columns: Sequence[str],
    questions: Mapping[str, Question],
    fields: Sequence[str] = ("total-votes",),
) -> dict[str, str]:
    """Canonical question name -> the file's total column: ``{name}_{field}``, first field present.

    ``questions`` maps names as spelled in the file to schema questions; where two spellings of
    one question both have a total, the later spelling wins.
    """
    present = set(columns)
    totals: dict[str, str] = {}
    for name, question in questions.items():
        found = [f"{name}_{f}" for f in fields if f"{name}_{f}" in present]
        if found:
            totals[question.name] = found[0]
    return totals


@dataclass
class Plan:
    """A reader's target, and what ``select`` found in the files' headers (the last file wins)."""

    campaign: str
    schema: Schema
    source: str
    id: str
    mapping: dict[str, str] = field(default_factory=dict)
    zero: list[str] = field(default_factory=list)
    totals: dict[str, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)

    def find_votes(
        self,
        columns: Sequence[str],
        questions: Mapping[str, Question],
        path: Path,
        *,
        suffix: str | None = None,
        missing_questions: str = "error",
        total_fields: Sequence[str] = ("total-votes",),
    ) -> None:
        """Record the file's vote columns, the answers to zero, and the total columns."""
        self.mapping, self.zero = match_vote_columns(
            columns, questions, str(path), suffix=suffix, missing_questions=missing_questions
        )
        self.totals = total_columns(columns, questions, total_fields)

    def wanted(self, columns: Sequence[str]) -> list[str]:
        """Columns to read: id, ``ra``/``dec`` where present, images, votes, totals (once each)."""
        extra = [c for c in ("ra", "dec") if c in columns]
        votes = [*self.mapping, *self.totals.values()]
        return list(dict.fromkeys([self.id, *extra, *self.images, *votes]))


def to_canonical(
    frame: pd.DataFrame,
    plan: Plan,
    image_path: pd.Series | None = None,
    *,
    image_bytes: pd.Series | pa.Array | pa.ChunkedArray | None = None,
    check_images: bool = True,
) -> pd.DataFrame:
    """The canonical table of a frame read by ``plan`` (``ra``/``dec`` taken where present)."""
    return build_canonical(
        campaign=plan.campaign,
        schema=plan.schema,
        frame=frame,
        ids=frame[plan.id],
        column_map=plan.mapping,
        zero_columns=plan.zero,
        totals=plan.totals,
        ra=frame.get("ra"),
        dec=frame.get("dec"),
        image_path=image_path,
        image_bytes=image_bytes,
        source=plan.source,
        check_images=check_images,
        id_column=plan.id,
    )


def pattern_columns(pattern: str | None) -> list[str]:
    if pattern is None:
        return []
    return list(dict.fromkeys(name for name, _, _ in _PATTERN_FIELD.findall(pattern)))


def render_pattern(pattern: str, frame: pd.DataFrame) -> pd.Series:
    """Fill ``{column}`` / ``{column[a:b]}`` fields of an image path pattern, column-wise.

    Python's format strings cannot slice (``{iauname[:4]}``), and Galaxy Zoo folders are named by
    the first characters of the id, so this small template language does just that.
    """
    result = pd.Series("", index=frame.index, dtype="str")
    position = 0
    for match in _PATTERN_FIELD.finditer(pattern):
        result = result + pattern[position : match.start()]
        name, start, stop = match.groups()
        if name not in frame.columns:
            raise IngestionError(
                "<image_pattern>", f"pattern {pattern!r} names a missing column", name
            )
        values = frame[name].astype("str")
        if match.group(0).endswith("]}"):
            values = values.str.slice(int(start) if start else None, int(stop) if stop else None)
        result = result + values
        position = match.end()
    return result + pattern[position:]


def join_image_dir(values: pd.Series, image_dir: PathLike | None) -> pd.Series:
    """Relative image paths joined onto ``image_dir``; absolute paths and nulls unchanged."""
    values = values.astype("str")
    if image_dir is None:
        return values
    relative = values.notna() & ~values.str.startswith("/", na=False)
    return values.where(~relative, str(image_dir).rstrip("/") + "/" + values)


def build_canonical(
    *,
    campaign: str,
    schema: Schema,
    frame: pd.DataFrame,
    ids: pd.Series,
    column_map: Mapping[str, str],
    zero_columns: Sequence[str] = (),
    totals: Mapping[str, str] | None = None,
    ra: pd.Series | None = None,
    dec: pd.Series | None = None,
    image_path: pd.Series | None = None,
    image_bytes: pd.Series | pa.Array | None = None,
    source: str,
    check_images: bool = True,
    id_column: str = "id_str",
) -> pd.DataFrame:
    """Assemble and check the canonical vote table from a file's columns.

    ``column_map`` maps file columns to canonical answer columns; ``totals`` maps canonical
    question names to the file's total-votes column, checked against the summed counts.
    """
    ids = ids.astype("str").reset_index(drop=True)
    check_unique_ids(ids, source, id_column)
    n_rows = len(ids)
    answer_columns = schema.campaign_answer_columns(campaign)
    row = {column: i for i, column in enumerate(answer_columns)}
    counts = np.zeros((len(answer_columns), n_rows), dtype=np.int32)  # one block, schema order
    for file_column, canonical in column_map.items():
        counts[row[canonical]] = counts_to_int32(frame[file_column], ids, source, file_column)
    zeroed = set(zero_columns)
    totals = {
        name: column
        for name, column in (totals or {}).items()
        if not zeroed.issuperset(schema.question(name).answer_columns)
    }
    if totals:
        questions = {q.name: q for q in schema.questions}
        check_totals(
            counts,
            answer_columns,
            {name: (column, frame[column]) for name, column in totals.items()},
            questions,
            ids,
            source,
        )
    if image_path is not None:
        image_path = image_path.astype("str").reset_index(drop=True)
        if check_images:
            check_images_exist(image_path, ids, source)
    meta = {
        "id_str": ids,
        "campaign": constant_strings(campaign, n_rows),
        "ra": _coordinate(ra, n_rows, "ra", ids, source),
        "dec": _coordinate(dec, n_rows, "dec", ids, source),
        "image_path": image_path if image_path is not None else constant_strings(None, n_rows),
        "image_bytes": _binary_or_null(image_bytes, n_rows),
    }
    assert tuple(meta) == META_COLUMNS
    counts_frame = pd.DataFrame(counts.T, columns=answer_columns, copy=False)
    return pd.concat([pd.DataFrame(meta), counts_frame], axis=1)


def constant_strings(value: str | None, n_rows: int) -> pd.Series:
    """A string column holding one value (or nulls), built in Arrow without Python objects."""
    if value is None:
        return pd.Series(pa.nulls(n_rows, pa.large_string()), dtype="str")
    return pd.Series(pa.repeat(pa.scalar(value, pa.large_string()), n_rows), dtype="str")


#: the sky: ra in [0, 360], dec in [-90, 90] degrees
COORDINATE_RANGES = {"ra": (0.0, 360.0), "dec": (-90.0, 90.0)}


def _coordinate(
    values: pd.Series | None, n_rows: int, name: str, ids: pd.Series, source: str
) -> pd.Series:
    """``ra`` or ``dec`` as float64 degrees (null where empty); text or off-sky values refused."""
    if values is None:
        return pd.Series(np.full(n_rows, np.nan))
    values = values.reset_index(drop=True)
    if values.dtype.kind == "b":
        raise IngestionError(source, "coordinates are booleans, not degrees", name)
    try:
        numbers = pd.to_numeric(values, errors="coerce")
        numbers = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError, OverflowError):
        reason = f"coordinates are not numbers ({values.dtype})"
        raise IngestionError(source, reason, name) from None
    text = np.isnan(numbers) & values.notna().to_numpy()
    if text.any():
        first = values[text].iloc[0]
        raise IngestionError(source, f"not a number (first: {first!r})", name, ids[text])
    low, high = COORDINATE_RANGES[name]
    with np.errstate(invalid="ignore"):
        off_sky = ~np.isnan(numbers) & ((numbers < low) | (numbers > high))
    if off_sky.any():
        first = numbers[off_sky][0]
        raise IngestionError(
            source, f"{first:g} is not a {name} in degrees ({low:g} to {high:g})", name,
            ids[off_sky],
        )  # fmt: skip
    return pd.Series(numbers)


def _binary_or_null(values: pd.Series | pa.Array | None, n_rows: int) -> pd.Series:
    if values is None:
        return pd.Series(pa.nulls(n_rows, pa.binary()), dtype=BINARY)
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pd.Series(values.cast(pa.binary()), dtype=BINARY)
    return pd.Series(pa.array(values, type=pa.binary(), from_pandas=True), dtype=BINARY)
