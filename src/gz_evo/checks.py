"""Checks on Galaxy Zoo vote catalogs, before and after they become canonical vote tables.

Every check is columnar (numpy/pandas over whole columns) and raises :class:`IngestionError`,
whose message names the file, the column and the ids of the offending rows, so a user can find
the problem in their download. Readers call the raw-input checks (vote columns, counts, ids,
totals, images); the ingestion pipeline then calls :func:`check_dependencies`, the only check that
may drop rows (within a tolerance, and always into a report), and :func:`validate_canonical`, a
pandera schema of the canonical table that every reader must produce.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gz_evo.hashing import string_hash
from gz_evo.schema import Question, Schema

#: Per-question fields that sit beside vote counts (``{question}_{field}``) and are not answers.
COMPANION_FIELDS = frozenset({"total-votes", "total", "prediction-encoded", "semantic"})
#: Columns every canonical vote table starts with, in this order, before the counts.
META_COLUMNS = ("id_str", "campaign", "ra", "dec", "image_path", "image_bytes")
#: No galaxy gets this many votes on one answer; below it, int32 sums over a question are exact.
MAX_VOTES = 10_000_000
#: How many ids an error message lists before it says "and N more".
SHOWN_IDS = 5

DROPPED_COLUMNS = (
    "campaign",
    "id_str",
    "question",
    "depends_on",
    "question_votes",
    "parent_votes",
    "source",
)


class CatalogError(ValueError):
    """A catalog file cannot be used; the message names the file, the column and the rows.

    ``ids`` are galaxy ids (or row positions where ids are missing). Readers raise its subclass
    :class:`IngestionError`; the downstream and finetune catalogs raise it directly. ``message``
    replaces the composed ``"{source}, column {column}: {reason}"`` where the caller has phrased
    the whole sentence (it must still name the file, and the column and row where they apply).
    """

    def __init__(
        self,
        source: str,
        reason: str,
        column: str | None = None,
        ids: Sequence = (),
        *,
        message: str | None = None,
    ) -> None:
        self.source, self.reason, self.column = source, reason, column
        self.ids = [str(i) for i in ids]
        where = f"{source}" + (f", column {column!r}" if column else "")
        message = message or f"{where}: {reason}"
        if self.ids:
            shown = ", ".join(self.ids[:SHOWN_IDS])
            more = len(self.ids) - SHOWN_IDS
            message += f" (id {shown}" + (f" and {more} more)" if more > 0 else ")")
        super().__init__(message)


class IngestionError(CatalogError):
    """A catalog cannot be ingested; the message names file, column and row ids."""


# --- vote columns -------------------------------------------------------------------------------
def match_vote_columns(
    columns: Iterable[str],
    questions: Mapping[str, Question],
    source: str,
    *,
    suffix: str | None = None,
    missing_questions: str = "error",
    companion_fields: Iterable[str] = COMPANION_FIELDS,
) -> tuple[dict[str, str], list[str]]:
    """Map a file's vote columns to canonical answer columns, by name.

    ``questions`` maps a question's name *as spelled in the file* (``bar`` in a DECaLS release,
    ``bar-dr5`` in a suffixed catalog) to its schema question. A vote column is
    ``{question}_{answer}``: both parts are free of ``_``, so ``_fraction`` and ``_debiased``
    companions never match. Returns (file column -> canonical column, canonical columns to fill
    with zeros). An answer the schema does not know, or (for suffixed files) a question with this
    campaign's suffix that the schema does not know, is an error; so is a missing answer, unless
    ``missing_questions="zero"`` and the whole question is absent (a campaign that never asked it).
    """
    if missing_questions not in ("error", "zero"):
        raise ValueError(f"missing_questions must be 'error' or 'zero', not {missing_questions!r}")
    fields = set(companion_fields)
    mapping: dict[str, str] = {}
    for column in columns:
        if not isinstance(column, str) or column.count("_") != 1:
            continue
        name, answer = column.split("_")
        question = questions.get(name)
        if question is None:
            if suffix and name.endswith(suffix) and answer not in fields:
                raise IngestionError(
                    source, f"unknown vote column: no question {name!r} in the schema", column
                )
            continue
        if answer in question.answers:
            canonical = f"{question.name}_{answer}"
            if canonical in mapping.values():
                raise IngestionError(source, f"vote column {canonical!r} appears twice", column)
            mapping[column] = canonical
        elif answer not in fields:
            raise IngestionError(
                source,
                f"unknown vote column: question {question.name!r} has no answer {answer!r} "
                f"(answers: {', '.join(question.answers)})",
                column,
            )
    found = set(mapping.values())
    zero: list[str] = []
    for file_name, question in questions.items():
        missing = [c for c in question.answer_columns if c not in found]
        if not missing:
            continue
        if missing_questions == "zero" and len(missing) == len(question.answers):
            zero.extend(missing)
            continue
        expected = [f"{file_name}_{c.rpartition('_')[2]}" for c in missing]
        raise IngestionError(
            source,
            f"missing vote column(s) {', '.join(expected)} of question {question.name!r}"
            + (
                ""
                if missing_questions == "zero"
                else " (missing_questions: zero fills absent ones)"
            ),
            expected[0],
        )
    return mapping, zero


# --- counts --------------------------------------------------------------------------------------
def counts_to_int32(values: pd.Series, ids: pd.Series, source: str, column: str) -> np.ndarray:
    """One column of raw counts as int32, refusing NaN, negative, non-integer or huge values."""
    array = values.to_numpy()
    if array.dtype.kind in "iu":
        if array.size and array.min() < 0:
            raise IngestionError(source, "negative vote count", column, ids[array < 0])
        if array.size and array.max() > MAX_VOTES:
            huge = array > MAX_VOTES
            raise IngestionError(
                source, f"implausible vote count (> {MAX_VOTES:,})", column, ids[huge]
            )
        return array.astype(np.int32, copy=False)
    if array.dtype.kind == "b":
        raise IngestionError(source, "vote counts are booleans, not integers", column)
    if array.dtype.kind in "OUS":  # nullable integers, text, mixed: missing values first
        missing = values.isna().to_numpy()
        if missing.any():
            raise IngestionError(source, "missing (NaN) vote count", column, ids[missing])
    try:
        if array.dtype.kind not in "fOUS":
            raise TypeError(array.dtype)
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise IngestionError(
            source, f"vote counts are not numbers ({values.dtype})", column
        ) from None
    nan = np.isnan(array)
    if nan.any():
        raise IngestionError(source, "missing (NaN) vote count", column, ids[nan])
    negative = array < 0
    if negative.any():
        raise IngestionError(source, "negative vote count", column, ids[negative])
    fractional = array != np.floor(array)
    if fractional.any():
        raise IngestionError(source, "non-integer vote count", column, ids[fractional])
    if array.size and array.max() > MAX_VOTES:
        huge = array > MAX_VOTES
        raise IngestionError(source, f"implausible vote count (> {MAX_VOTES:,})", column, ids[huge])
    return array.astype(np.int32)


def check_unique_ids(ids: pd.Series, source: str, column: str = "id_str") -> None:
    missing = ids.isna().to_numpy()
    if missing.any():
        positions = np.flatnonzero(missing)
        raise IngestionError(
            source,
            f"missing galaxy id in {missing.sum()} row(s) (row positions)",
            column,
            positions,
        )
    hashes = np.sort(string_hash(ids, 0))
    if not (hashes[1:] == hashes[:-1]).any():
        return  # distinct hashes: distinct ids (the common case, one pass and a sort)
    duplicated = ids.duplicated(keep=False).to_numpy()
    if duplicated.any():
        raise IngestionError(source, "duplicate galaxy id", column, ids[duplicated].unique())


def count_block(table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The count columns as one (answers x galaxies) int32 array: a view when pandas holds
    them as one block (as readers and parquet loads do), so checks never go column by column
    through pandas."""
    if not len(columns):
        return np.zeros((0, len(table)), dtype=np.int32)
    return table[list(columns)].to_numpy(dtype=np.int32).T


def check_totals(
    counts: np.ndarray,
    columns: Sequence[str],
    totals: Mapping[str, tuple[str, pd.Series]],
    questions: Mapping[str, Question],
    ids: pd.Series,
    source: str,
) -> None:
    """Each published ``{question}_total-votes`` must equal the sum of that question's counts.

    ``counts`` is the (answers x galaxies) int32 block whose rows are ``columns``; ``totals``
    maps a canonical question name to (file column, its values).
    """
    row = {column: i for i, column in enumerate(columns)}
    for name, (column, values) in totals.items():
        question = questions[name]
        answer_sum = question_votes(counts, row, question)
        total = values.to_numpy()
        if total.dtype.kind not in "iu":  # floats or text: NaN (no votes) counts as 0
            total = pd.to_numeric(values, errors="coerce").to_numpy(np.float64, na_value=np.nan)
            total = np.where(np.isnan(total), 0.0, total)
        bad = total != answer_sum
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise IngestionError(
                source,
                f"total disagrees with the sum of the answer counts in {bad.sum()} row(s) "
                f"(first: total {total[first]:g}, answers sum to {answer_sum[first]})",
                column,
                ids[bad],
            )


def question_votes(counts: np.ndarray, row: Mapping[str, int], question: Question) -> np.ndarray:
    """Votes on a question per galaxy (int32 is exact: each count is at most ``MAX_VOTES``)."""
    rows = [row[column] for column in question.answer_columns]
    if rows == list(range(rows[0], rows[0] + len(rows))):
        return counts[rows[0] : rows[0] + len(rows)].sum(axis=0, dtype=np.int32)
    return counts[rows].sum(axis=0, dtype=np.int32)


def check_images_exist(paths: pd.Series, ids: pd.Series, source: str) -> None:
    """Every non-null image path must be a file: one directory listing per folder, not per row."""
    present = paths.notna().to_numpy()
    if not present.any():
        return
    given = paths[present].astype(str)
    folders = given.map(os.path.dirname, na_action="ignore")
    names = given.map(os.path.basename, na_action="ignore")
    exists = np.zeros(len(given), dtype=bool)
    for folder, positions in folders.groupby(folders, sort=False).indices.items():
        try:
            listing = {e.name for e in os.scandir(folder or ".") if e.is_file()}
        except (FileNotFoundError, NotADirectoryError):
            continue
        exists[positions] = names.iloc[positions].isin(listing).to_numpy()
    if not exists.all():
        missing = ~exists
        first = given.iloc[int(np.flatnonzero(missing)[0])]
        raise IngestionError(
            source,
            f"{missing.sum()} image file(s) do not exist (first: {first}{explain_missing(first)})",
            "image_path",
            ids[present][missing],
        )


def explain_missing(path: str) -> str:
    """Why an image path names no file, as a clause for an error message ('' if unknown).

    A directory; or a file of that name elsewhere (the paths are relative to another folder
    than the one they were joined onto); or an absolute path from another machine.
    """
    target = Path(path)
    if target.is_dir():
        return ": it is a directory, not an image file"
    if target.parent.is_dir():
        return ""  # the folder is there, the file is not
    parts = target.parts
    bases = [Path("."), *target.parents]
    for start in range(1, len(parts)):
        tail = Path(*parts[start:])
        for base in bases:
            candidate = base / tail
            if candidate != target and candidate.is_file():
                return (
                    f": but {candidate} exists, so the paths are relative to another folder; "
                    "set the reader's image_dir (or image_root) to the folder they start from"
                )
    existing = next((p for p in target.parents if p.is_dir()), Path("/"))
    if target.is_absolute() and len(existing.parts) <= 1:
        return (
            ": an absolute path, perhaps from the machine that wrote the catalog; write paths "
            "relative to the catalog's folder or image_dir"
        )
    return f": its folder {target.parent} does not exist"


# --- decision-tree consistency (may drop rows, within a tolerance) ----------------------------
def check_dependencies(
    table: pd.DataFrame, schema: Schema, campaign: str, tolerance: float, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop galaxies with more votes on a question than on the answer that leads to it.

    Volunteers only reach a question through its parent answer, so ``sum(child answers) >
    parent answer`` is a data error; real catalogs have a few. Up to ``tolerance`` (a fraction of
    the rows) such galaxies are dropped and returned as a report (one row per violated question);
    more than that is an error naming the worst column and its ids.
    """
    n_rows = len(table)
    bad = np.zeros(n_rows, dtype=bool)
    reports = []
    columns = schema.campaign_answer_columns(campaign)
    counts, row = count_block(table, columns), {c: i for i, c in enumerate(columns)}
    for question in schema.campaign_questions(campaign):
        if question.depends_on is None:
            continue
        votes = question_votes(counts, row, question)
        parent = counts[row[question.depends_on]]
        violation = votes > parent
        if violation.any():
            bad |= violation
            reports.append(
                pd.DataFrame(
                    {
                        "campaign": campaign,
                        "id_str": table["id_str"].to_numpy()[violation],
                        "question": question.name,
                        "depends_on": question.depends_on,
                        "question_votes": votes[violation],
                        "parent_votes": parent[violation].astype(np.int64),
                        "source": source,
                    }
                )
            )
    dropped = empty_dropped_report()
    if reports:
        dropped = pd.concat(reports, ignore_index=True)
    n_bad = int(bad.sum())
    if n_bad > tolerance * n_rows:
        worst = dropped["question"].value_counts().index[0]
        raise IngestionError(
            source,
            f"{n_bad} of {n_rows} galaxies have more votes on a question than on the answer it "
            f"follows, above the tolerance {tolerance:g} (worst: {worst!r} vs "
            f"{schema.question(worst).depends_on!r})",
            f"{worst}_*",
            dropped.loc[dropped["question"] == worst, "id_str"],
        )
    if n_bad:
        return table.loc[~bad].reset_index(drop=True), dropped
    return table, dropped


def empty_dropped_report() -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: pd.Series(dtype="int64" if name.endswith("votes") else "str")
            for name in DROPPED_COLUMNS
        }
    )


# --- the canonical table, as a pandera schema ----------------------------------------------------
@functools.cache
def canonical_schema():
    """The pandera schema of a canonical table's leading columns; counts are checked as a block.

    Value checks (unique ids, counts >= 0, integers) already ran, columnar, on the raw columns
    with messages that name the file's own column; this checks the contract's structure.
    """
    import pandera.pandas as pa

    columns = {
        "id_str": pa.Column(str, nullable=False),
        "campaign": pa.Column(str, nullable=False),
        "ra": pa.Column("float64", nullable=True),
        "dec": pa.Column("float64", nullable=True),
        "image_path": pa.Column(str, nullable=True),
        "image_bytes": pa.Column(nullable=True),
    }
    return pa.DataFrameSchema(columns, ordered=True)


@functools.cache
def counts_schema():
    """Every vote count column is int32: one dataframe-wide check (pandera's per-column checks
    cost ~0.5 ms a column, and a merged schema has hundreds)."""
    import pandera.pandas as pa

    def all_int32(frame: pd.DataFrame) -> bool:
        return bool((frame.dtypes == np.int32).all())

    return pa.DataFrameSchema(checks=[pa.Check(all_int32, name="vote counts are int32")])


def validate_canonical(table: pd.DataFrame, answer_columns: Sequence[str], source: str) -> None:
    """Raise :class:`IngestionError` unless ``table`` is a canonical vote table (pandera)."""
    import pandera.errors

    expected = [*META_COLUMNS, *answer_columns]
    if list(table.columns) != expected:
        missing = [c for c in expected if c not in table.columns]
        extra = [c for c in table.columns if c not in expected]
        column = (missing or extra or [None])[0]
        raise IngestionError(
            source,
            f"not a canonical vote table: columns differ from the schema "
            f"(missing {missing[:3]}, unexpected {extra[:3]}, or out of order)",
            column,
        )
    for column in ("id_str", "campaign"):
        missing = table[column].isna().to_numpy()
        if missing.any():
            positions = np.flatnonzero(missing)
            raise IngestionError(source, "missing value (row positions)", column, positions)
    try:
        # names, order and dtypes are properties of the columns, not of the rows: check them on
        # an empty view (the value checks ran, columnar, on the raw columns)
        empty = table.iloc[:0]
        canonical_schema().validate(empty[list(META_COLUMNS)], lazy=True)
        counts_schema().validate(empty[list(answer_columns)], lazy=True)
    except pandera.errors.SchemaErrors as errors:
        first = errors.failure_cases.iloc[0]
        index = errors.failure_cases["index"].dropna()
        ids = table["id_str"].iloc[index.astype(int)] if len(index) else ()
        raise IngestionError(
            source,
            f"not a canonical vote table: {first['check']} "
            f"(failure case {first['failure_case']!r})",
            None if pd.isna(first["column"]) else str(first["column"]),
            ids,
        ) from None
