"""Merge canonical per-campaign vote tables into the GZ-Evo table, split it, and summarise it.

The merged table has one row per (campaign, galaxy) and an int32 column for every answer of the
merged schema, in ``Schema.answer_columns`` order; a campaign's galaxies carry 0 for every
question their campaign never asked, which gives exactly zero loss for those questions. Galaxies
with no vote at all join the unlabelled images.

Memory: the count block is allocated once, as a (answers x galaxies) int32 array that pandas
adopts without copying, and filled column by column from each campaign (no row loop, no
concat of wide frames, no float detour); unlabelled rows are never copied into it.
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gz_evo.hashing import string_hash
from gz_evo.readers._common import constant_strings
from gz_evo.schema import Schema
from gz_evo.validation import META_COLUMNS, count_block

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
UNLABELLED = "unlabelled"
_BINARY = pd.ArrowDtype(pa.binary())


def split_of(ids: pd.Series, fractions: Mapping[str, float], seed: int) -> pd.Series:
    """train/val/test by a salted 64-bit hash of ``id_str``: stable as catalogs grow.

    A galaxy's split depends only on its id (and the seed), never on which other galaxies are in
    the table, so adding a campaign or a data release moves no galaxy between splits, and the
    same galaxy in two campaigns lands in the same split (no leakage between them).
    """
    bounds = np.cumsum([float(fractions[name]) for name in SPLITS])
    if not np.isclose(bounds[-1], 1.0) or min(float(v) for v in fractions.values()) < 0:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {dict(fractions)}")
    unit = (string_hash(ids, seed) >> np.uint64(11)).astype(np.float64) / float(2**53)
    codes = np.searchsorted(bounds[:-1], unit, side="right").astype(np.int8)
    names = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(SPLITS))
    return pd.Series(names.cast(pa.large_string()), index=ids.index, dtype="str")


def _meta(table: pd.DataFrame) -> pd.DataFrame:
    return table[list(META_COLUMNS)]


def _rows(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """Rows where ``mask`` holds; Arrow-backed columns are filtered in Arrow (no index take)."""
    if mask.all():
        return frame
    arrow_mask = pa.array(mask)
    columns = {}
    for name, column in frame.items():
        if isinstance(column.dtype, pd.ArrowDtype | pd.StringDtype):
            values = pa.array(column, from_pandas=True)
            columns[name] = pd.Series(values.filter(arrow_mask), dtype=column.dtype)
        else:
            columns[name] = pd.Series(column.to_numpy()[mask], dtype=column.dtype)
    return pd.DataFrame(columns)


def _with_keys(meta: pd.DataFrame, split: pd.Series | str) -> pd.DataFrame:
    meta = meta.reset_index(drop=True)
    key = pd.Series(
        pc.binary_join_element_wise(
            pa.array(meta["campaign"], type=pa.large_string(), from_pandas=True),
            pa.array(meta["id_str"], type=pa.large_string(), from_pandas=True),
            pa.scalar("/", pa.large_string()),
        ),
        dtype="str",
    )
    columns = {
        "key": key,
        "id_str": meta["id_str"].astype("str"),
        "campaign": meta["campaign"].astype("str"),
        "split": split if isinstance(split, pd.Series) else constant_strings(split, len(meta)),
        "ra": meta["ra"].astype("float64"),
        "dec": meta["dec"].astype("float64"),
        "image_path": meta["image_path"].astype("str"),
        "image_bytes": _as_binary(meta["image_bytes"]),
    }
    columns["split"] = columns["split"].reset_index(drop=True).astype("str")
    return pd.DataFrame(columns)


def _as_binary(values: pd.Series) -> pd.Series:
    if values.dtype == _BINARY:
        return values.reset_index(drop=True)
    array = pa.array(values.to_numpy(dtype=object), type=pa.binary(), from_pandas=True)
    return pd.Series(array, dtype=_BINARY)


def sparse_zeros(shape: tuple[int, int]) -> np.ndarray:
    """An int32 zero array whose never-written pages cost no memory.

    Most of the merged table is zeros (questions a campaign never asked). Untouched pages of an
    anonymous mapping are the kernel's shared zero page: reading them allocates nothing. numpy
    asks for 2 MiB huge pages on big arrays, so each written segment would allocate and zero
    the 2 MiB around it; 4 KiB pages keep only what was written (Linux; np.zeros elsewhere).
    """
    size = int(np.prod(shape)) * 4
    advice = getattr(mmap, "MADV_NOHUGEPAGE", None)
    if size == 0 or advice is None or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.zeros(shape, dtype=np.int32)
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    memory.madvise(advice)
    return np.frombuffer(memory, dtype=np.int32).reshape(shape)


def merge_vote_tables(
    tables: Sequence[pd.DataFrame],
    schema: Schema,
    unlabelled_images: pd.DataFrame | None,
    fractions: Mapping[str, float],
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The merged GZ-Evo table (labelled galaxies) and the unlabelled table.

    A table whose campaign is not in ``schema`` is left out with a warning (the schema decides
    what GZ-Evo trains on); a vote column the schema does not know is an error.
    """
    answer_columns = schema.answer_columns
    position = {column: i for i, column in enumerate(answer_columns)}
    campaigns = set(schema.campaigns)
    used, labelled_masks, seen = [], [], set()
    for table in tables:
        names = table["campaign"].unique().tolist() if len(table) else []
        counts = [c for c in table.columns if c not in META_COLUMNS]
        if names and not set(names) <= campaigns:
            logger.warning(
                "campaign(s) %s are not in the schema %r: left out of the merge",
                sorted(set(names) - campaigns),
                schema.name,
            )
            continue
        unknown = [c for c in counts if c not in position]
        if unknown and len(table):
            raise ValueError(
                f"vote column {unknown[0]!r} is not an answer of schema {schema.name!r}"
            )
        block_t = count_block(table, counts)
        repeated = set(names) & seen
        if repeated:
            raise ValueError(f"campaign(s) {sorted(repeated)} come in more than one table")
        seen.update(names)
        used.append((table, counts, block_t))
        labelled_masks.append(block_t.any(axis=0))  # any vote at all

    n_labelled = int(sum(mask.sum() for mask in labelled_masks))
    block = sparse_zeros((len(answer_columns), n_labelled))
    offset = 0
    for (_, counts, block_t), mask in zip(used, labelled_masks, strict=True):
        n = int(mask.sum())
        rows = [position[column] for column in counts]
        if rows and rows == list(range(rows[0], rows[0] + len(rows))):
            target = block[rows[0] : rows[0] + len(rows), offset : offset + n]
            np.compress(mask, block_t, axis=1, out=target)
        else:
            for i, position_row in enumerate(rows):
                np.compress(mask, block_t[i], out=block[position_row, offset : offset + n])
        offset += n

    labelled_meta = _concat_meta(
        [_rows(_meta(t), mask) for (t, _, _), mask in zip(used, labelled_masks, strict=True)]
    )
    unlabelled_metas = [
        _rows(_meta(t), ~mask)
        for (t, _, _), mask in zip(used, labelled_masks, strict=True)
        if not mask.all()
    ]
    if unlabelled_images is not None and len(unlabelled_images):
        unlabelled_metas.append(_meta(unlabelled_images))

    catalog_meta = _with_keys(labelled_meta, split_of(labelled_meta["id_str"], fractions, seed))
    counts_frame = pd.DataFrame(block.T, columns=answer_columns, copy=False)
    catalog = pd.concat([catalog_meta, counts_frame], axis=1)
    unlabelled = _with_keys(_concat_meta(unlabelled_metas), UNLABELLED)
    logger.info(
        "GZ-Evo table: %d labelled galaxies x %d answers, %d unlabelled",
        len(catalog),
        len(answer_columns),
        len(unlabelled),
    )
    return catalog, unlabelled


def _concat_meta(metas: list[pd.DataFrame]) -> pd.DataFrame:
    metas = [m for m in metas if len(m)]
    if not metas:
        return pd.DataFrame(
            {
                "id_str": pd.Series(dtype="str"),
                "campaign": pd.Series(dtype="str"),
                "ra": pd.Series(dtype="float64"),
                "dec": pd.Series(dtype="float64"),
                "image_path": pd.Series(dtype="str"),
                "image_bytes": pd.Series(dtype=_BINARY),
            }
        )
    fixed = [
        m.reset_index(drop=True).assign(image_bytes=lambda f: _as_binary(f["image_bytes"]))
        for m in metas
    ]
    return fixed[0] if len(fixed) == 1 else pd.concat(fixed, ignore_index=True)


def summarise(catalog: pd.DataFrame, unlabelled: pd.DataFrame, schema: Schema) -> dict:
    """Per campaign and in total: galaxies, votes, questions, answers, unlabelled images.

    The shape of the GZ-Evo table in Walmsley et al. (2022, 2024), plus the split sizes.
    """
    answer_columns = schema.answer_columns
    per_campaign: dict[str, dict] = {}
    campaign_codes = catalog["campaign"].astype("category")
    for name in schema.campaigns:
        rows = (campaign_codes == name).to_numpy()
        columns = schema.campaign_answer_columns(name)
        votes = int(sum(int(catalog[c].to_numpy()[rows].sum(dtype=np.int64)) for c in columns))
        per_campaign[name] = {
            "galaxies": int(rows.sum()),
            "votes": votes,
            "questions": len(schema.campaign_questions(name)),
            "answers": len(columns),
            "unlabelled_images": int((unlabelled["campaign"] == name).sum()),
        }
    others = unlabelled.loc[~unlabelled["campaign"].isin(schema.campaigns), "campaign"]
    for name, count in others.value_counts().sort_index().items():
        per_campaign[str(name)] = {
            "galaxies": 0,
            "votes": 0,
            "questions": 0,
            "answers": 0,
            "unlabelled_images": int(count),
        }
    total_votes = sum(int(catalog[c].to_numpy().sum(dtype=np.int64)) for c in answer_columns)
    total = {
        "galaxies": len(catalog),
        "unique_galaxies": int(catalog["id_str"].nunique()),
        "votes": total_votes,
        "questions": schema.n_questions,
        "answers": schema.n_answers,
        "unlabelled_images": len(unlabelled),
    }
    splits = {name: int((catalog["split"] == name).sum()) for name in SPLITS}
    return {"schema": schema.name, "campaigns": per_campaign, "total": total, "splits": splits}
