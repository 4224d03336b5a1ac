"""A prediction catalog written while it is computed: chunks in, one folder out, atomically.

``save(stream)`` takes any iterable of chunks ``{"friendly": DataFrame, "full": DataFrame,
"bad": DataFrame}`` (one per batch of galaxies) and appends each to parquet (one row group per
chunk, pyarrow's ``ParquetWriter``) and CSV files in a staging folder, so memory holds one chunk
at a time however many galaxies there are. When the stream is exhausted, its ``summary``
attribute (a dict, if it has one) becomes ``summary.json`` and the folder replaces the previous
one; an error half-way leaves the previous catalog in place. Files:

- ``predictions.parquet`` / ``.csv``: the friendly table (one column per answer's fraction);
- ``predictions_full.parquet`` / ``.csv``: the full table (intervals, concentrations, samples);
- ``bad_images.csv``: galaxies whose image could not be used (id, file, reason, detail);
- ``summary.json``.

``load()`` gives a light :class:`PredictionCatalog` handle (paths; tables read on demand).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from gz_evo.datasets.atomic import atomic_write_dir

FRIENDLY, FULL, BAD, SUMMARY = "predictions", "predictions_full", "bad_images.csv", "summary.json"
BAD_COLUMNS = ["id_str", "file", "reason", "detail"]


@dataclass(frozen=True)
class PredictionCatalog:
    """Where a prediction catalog lies; ``table()`` reads it (``columns``: a subset)."""

    path: Path

    def table(self, full: bool = False, columns: list[str] | None = None) -> Any:
        import pandas as pd

        name = FULL if full else FRIENDLY
        return pd.read_parquet(self.path / f"{name}.parquet", columns=columns)

    def bad(self) -> Any:
        import pandas as pd

        return pd.read_csv(self.path / BAD, dtype={"id_str": str})

    def summary(self) -> dict:
        return json.loads((self.path / SUMMARY).read_text())


class _TableWriter:
    """One table as parquet (a row group per chunk) and CSV (appended), opened on first rows."""

    def __init__(self, folder: Path, name: str) -> None:
        self.parquet_path, self.csv_path = folder / f"{name}.parquet", folder / f"{name}.csv"
        self.writer, self.schema = None, None

    def write(self, frame: Any) -> None:
        import pyarrow as pa
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        # column by column from numpy: pandas' own conversion costs seconds per thousand columns
        table = pa.table({str(c): pa.array(frame[c].to_numpy()) for c in frame.columns})
        first = self.writer is None
        if first:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.parquet_path, self.schema, compression="zstd")
        table = table.cast(self.schema)
        self.writer.write_table(table)
        with pa.OSFile(str(self.csv_path), "ab") as sink:
            pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=first))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class PredictionCatalogDataset(AbstractDataset[Iterable, PredictionCatalog]):
    def __init__(self, path: str, metadata: dict | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def save(self, data: Iterable[dict[str, Any]]) -> None:
        import pandas as pd

        with atomic_write_dir(self._path) as staging:
            writers = {
                key: _TableWriter(staging, name)
                for key, name in (("friendly", FRIENDLY), ("full", FULL))
            }
            bad = staging / BAD
            pd.DataFrame(columns=BAD_COLUMNS).to_csv(bad, index=False)
            try:
                for chunk in data:
                    for key, writer in writers.items():
                        if len(chunk[key]):
                            writer.write(chunk[key])
                    if len(chunk["bad"]):
                        chunk["bad"][BAD_COLUMNS].to_csv(bad, mode="a", header=False, index=False)
            finally:
                for writer in writers.values():
                    writer.close()
            if writers["friendly"].writer is None:
                raise DatasetError(f"{self._path}: the prediction stream gave no galaxies")
            summary = getattr(data, "summary", None)
            if summary is not None:
                (staging / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")

    def load(self) -> PredictionCatalog:
        if not (self._path / f"{FRIENDLY}.parquet").is_file():
            raise DatasetError(f"{self._path} holds no predictions: run the predict pipeline")
        return PredictionCatalog(self._path)

    def _exists(self) -> bool:
        return (self._path / f"{FRIENDLY}.parquet").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
