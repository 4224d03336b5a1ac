"""What every reader shares: reading selected columns, image path patterns, the canonical table."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
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


def header(path: Path) -> list[str]:
    """Column names of a CSV or parquet file, without reading its rows."""
    if not path.is_file():
        raise IngestionError(
            str(path),
            "catalog file does not exist (for the demo universe: kedro run --pipelines demo)",
        )
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return list(pd.read_csv(path, nrows=0).columns)


def read_columns(
    path: Path, columns: Sequence[str], string_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """Only ``columns`` of a CSV or parquet file; ``string_columns`` read as exact strings."""
    strings = [c for c in string_columns if c in columns]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=list(columns))
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
        for column in strings:
            if frame[column].dtype != "str":
                frame[column] = frame[column].astype("str")
        return frame
    return pd.read_csv(path, usecols=list(columns), dtype=dict.fromkeys(strings, "str"))[
        list(columns)
    ]


def read_files(
    paths: Sequence[Path],
    select: Callable[[list[str], Path], list[str]],
    string_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Concatenate the selected columns of several files (train/test splits, shards)."""
    frames = [read_columns(p, select(header(p), p), string_columns) for p in paths]
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
        "ra": _float_or_null(ra, n_rows),
        "dec": _float_or_null(dec, n_rows),
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


def _float_or_null(values: pd.Series | None, n_rows: int) -> pd.Series:
    if values is None:
        return pd.Series(np.full(n_rows, np.nan))
    return pd.Series(pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64))


def _binary_or_null(values: pd.Series | pa.Array | None, n_rows: int) -> pd.Series:
    if values is None:
        return pd.Series(pa.nulls(n_rows, pa.binary()), dtype=BINARY)
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pd.Series(values.cast(pa.binary()), dtype=BINARY)
    return pd.Series(pa.array(values, type=pa.binary(), from_pandas=True), dtype=BINARY)
