"""The Hugging Face Galaxy Zoo layout (``mwalmsley/gz_evo``, ``gz_desi``, ``gz2``, ...).

Each dataset is a set of parquet shards (``data/train-00000-of-00005.parquet``,
``data/test-...``) with ``id_str``, ``dataset_name``, ``ra``, ``dec``, suffixed int32 counts,
float32 ``_fraction`` and int32 ``{question}_total-votes``, and the image embedded in each row as
the Hugging Face ``Image`` struct ``{bytes: binary, path: string}``. The encoded bytes go to
``image_bytes`` without being decoded, and without passing through Python objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gz_evo.checks import IngestionError
from gz_evo.readers._common import (
    PathLike,
    Plan,
    as_paths,
    campaign_questions,
    check_has_rows,
    check_memory,
    header,
    reading,
    source_name,
    to_canonical,
)


def read_huggingface(
    paths: PathLike | Sequence[PathLike],
    campaign: str,
    *,
    campaign_dirs: Sequence[PathLike] = (),
    id_column: str = "id_str",
    image_column: str | None = "image",
    dataset_name: str | None = None,
    missing_questions: str = "error",
    image_dir: PathLike | None = None,
    check_images: bool = True,
    max_memory_gb: float | None = None,
) -> pd.DataFrame:
    """Parquet shards in the Hugging Face layout as the canonical vote table of ``campaign``.

    ``dataset_name`` keeps only rows of that ``dataset_name`` (the combined ``gz_evo`` dataset
    mixes campaigns); ``image_column=None`` reads votes only. ``image_dir`` and
    ``check_images`` have no effect: the images are embedded bytes, not files (they are accepted
    so that every reader takes the ingestion node's common options).
    """
    import pyarrow.parquet as pq

    paths = as_paths(paths)
    schema, suffix, questions = campaign_questions(campaign, campaign_dirs)
    by_name = {q.name: q for q in questions}
    plan = Plan(campaign, schema, source_name(paths), id_column)
    tables = []
    for path in paths:
        columns = header(path)
        plan.find_votes(columns, by_name, path, suffix=suffix, missing_questions=missing_questions)
        for required in [id_column, *([image_column] if image_column else [])]:
            if required not in columns:
                raise IngestionError(str(path), "missing column", required)
        wanted = plan.wanted(columns)
        if dataset_name is not None:
            wanted.append("dataset_name")
        if image_column:
            wanted.append(image_column)
        wanted = list(dict.fromkeys(wanted))
        check_memory(path, wanted, max_memory_gb)
        with reading(path):
            table = pq.read_table(path, columns=wanted)
            table.validate(full=True)  # text must be UTF-8 (a corrupt file may hold anything)
        check_has_rows(table, path)
        if dataset_name is not None:
            with reading(path):
                table = table.filter(pc.equal(table.column("dataset_name"), dataset_name))
        tables.append(table)
    source = source_name(paths)
    with reading(paths[0]):
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    image_bytes = None
    if image_column:
        image_bytes = _image_bytes(table.column(image_column), source, image_column)
        table = table.drop_columns([image_column])
    with reading(paths[0]):
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
    return to_canonical(frame, plan, image_bytes=image_bytes)


def _image_bytes(column: pa.ChunkedArray, source: str, name: str) -> pa.ChunkedArray:
    """The encoded bytes of an HF ``Image`` struct column (or of a plain binary column)."""
    if pa.types.is_struct(column.type):
        if column.type.get_field_index("bytes") < 0:
            raise IngestionError(source, f"image struct {column.type} has no 'bytes' field", name)
        column = pc.struct_field(column, "bytes")
    if not (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)
            or pa.types.is_null(column.type)):  # fmt: skip
        raise IngestionError(
            source, f"image column holds {column.type}, not encoded image bytes", name
        )
    return column.cast(pa.binary())
