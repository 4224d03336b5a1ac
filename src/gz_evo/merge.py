"""Merge canonical per-campaign vote tables into the GZ-Evo table, split it, and summarise it.

The merged table has one row per (campaign, galaxy) and an int32 column for every answer of the
merged schema, in ``Schema.answer_columns`` order; a campaign's galaxies carry 0 for every
question their campaign never asked, which gives exactly zero loss for those questions. Galaxies
with no vote at all join the unlabelled images.

Memory: the count block is allocated once, as a (answers x galaxies) int32 array that pandas
adopts without copying, and filled column by column from each campaign (no row loop, no
concat of wide frames, no float detour); unlabelled rows are never copied into it. The block's
pages come from ``gz_evo.memory``: never-written zeros cost nothing, written segments are
prefaulted one system call per answer row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gz_evo.checks import META_COLUMNS, count_block
from gz_evo.hashing import string_hash
from gz_evo.memory import prefault_rows, sparse_zeros
from gz_evo.schema import Schema

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
    return pd.Series(_split_array(ids, fractions, seed), index=ids.index, dtype="str")


def _split_array(ids, fractions: Mapping[str, float], seed: int) -> pa.Array:
    bounds = np.cumsum([float(fractions[name]) for name in SPLITS])
    if not np.isclose(bounds[-1], 1.0) or min(float(v) for v in fractions.values()) < 0:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {dict(fractions)}")
    unit = (string_hash(ids, seed) >> np.uint64(11)).astype(np.float64) / float(2**53)
    codes = np.searchsorted(bounds[:-1], unit, side="right").astype(np.int8)
    names = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(SPLITS))
    return names.cast(pa.large_string())


_META_TYPES = pa.schema(
    [
        ("id_str", pa.large_string()),
        ("campaign", pa.large_string()),
        ("ra", pa.float64()),
        ("dec", pa.float64()),
        ("image_path", pa.large_string()),
        ("image_bytes", pa.binary()),
    ]
)


def _arrow_meta(table: pd.DataFrame | None) -> pa.Table:
    """A canonical table's metadata columns as Arrow (zero-copy for Arrow-backed columns)."""
    if table is None:
        return _META_TYPES.empty_table()
    arrays = [
        pa.array(table[field.name], type=field.type, from_pandas=True) for field in _META_TYPES
    ]
    return pa.Table.from_arrays(arrays, schema=_META_TYPES)


def _with_keys(meta: pa.Table, split: pa.Array | None) -> pd.DataFrame:
    """``key``, ``split`` and the metadata columns, in the merged table's order, as pandas."""
    n_rows = meta.num_rows
    key = pc.binary_join_element_wise(
        meta.column("campaign"), meta.column("id_str"), pa.scalar("/", pa.large_string())
    )
    if split is None:
        split_column = pa.repeat(pa.scalar(UNLABELLED, pa.large_string()), n_rows)
    else:
        split_column = split
    table = pa.table(
        {
            "key": key,
            "id_str": meta.column("id_str"),
            "campaign": meta.column("campaign"),
            "split": split_column,
            "ra": meta.column("ra"),
            "dec": meta.column("dec"),
            "image_path": meta.column("image_path"),
            "image_bytes": meta.column("image_bytes"),
        }
    )
    frame = table.to_pandas(
        types_mapper={pa.binary(): _BINARY}.get, split_blocks=True, self_destruct=True
    )
    for name in ("key", "id_str", "campaign", "split", "image_path"):
        if frame[name].dtype != "str":
            frame[name] = frame[name].astype("str")
    return frame


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
        prefault_rows(block, rows, offset, n)
        if rows and rows == list(range(rows[0], rows[0] + len(rows))):
            target = block[rows[0] : rows[0] + len(rows), offset : offset + n]
            np.compress(mask, block_t, axis=1, out=target)
        else:
            for i, position_row in enumerate(rows):
                np.compress(mask, block_t[i], out=block[position_row, offset : offset + n])
        offset += n

    # metadata in Arrow: one concatenation (no copy), one filter per side, then pandas once
    meta = pa.concat_tables([_arrow_meta(table) for table, _, _ in used] or [_arrow_meta(None)])
    labelled = np.concatenate(labelled_masks) if labelled_masks else np.zeros(0, dtype=bool)
    labelled_meta = meta if labelled.all() else meta.filter(pa.array(labelled))
    unlabelled_parts = [] if labelled.all() else [meta.filter(pa.array(~labelled))]
    if unlabelled_images is not None and len(unlabelled_images):
        unlabelled_parts.append(_arrow_meta(unlabelled_images))
    unlabelled_meta = pa.concat_tables(unlabelled_parts or [_arrow_meta(None)])

    split = _split_array(labelled_meta.column("id_str"), fractions, seed)
    catalog_meta = _with_keys(labelled_meta, split)
    counts_frame = pd.DataFrame(block.T, columns=answer_columns, copy=False)
    catalog = pd.concat([catalog_meta, counts_frame], axis=1)
    unlabelled = _with_keys(unlabelled_meta, None)
    logger.info(
        "GZ-Evo table: %d labelled galaxies x %d answers, %d unlabelled",
        len(catalog),
        len(answer_columns),
        len(unlabelled),
    )
    return catalog, unlabelled


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
