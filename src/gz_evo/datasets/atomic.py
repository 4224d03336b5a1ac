"""Atomic JSON and parquet datasets, and the temp-then-rename helper every writer here shares."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


@contextlib.contextmanager
def atomic_write_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f"{suffix}.tmp", dir=target.parent
    )
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


class AtomicJSONDataset(AbstractDataset[Any, Any]):
    """A JSON file (dict or list), written atomically; good for schemas, summaries, DVC metrics."""

    def __init__(self, filepath: str, indent: int = 2, metadata: dict | None = None) -> None:
        self._filepath = Path(filepath)
        self._indent = indent
        self.metadata = metadata

    def load(self) -> Any:
        try:
            return json.loads(self._filepath.read_text())
        except FileNotFoundError:
            raise DatasetError(
                f"{self._filepath} does not exist: run the stage that writes it"
            ) from None

    def save(self, data: Any) -> None:
        with atomic_write_path(self._filepath) as temporary:
            temporary.write_text(json.dumps(data, indent=self._indent, sort_keys=False) + "\n")

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class AtomicParquetDataset(AbstractDataset[Any, Any]):
    """A pandas DataFrame as one parquet file, written atomically and deterministically.

    ``load_args['columns']`` reads a subset of columns, as pandas does.
    """

    def __init__(
        self,
        filepath: str,
        load_args: dict | None = None,
        save_args: dict | None = None,
        metadata: dict | None = None,
    ) -> None:
        self._filepath = Path(filepath)
        self._load_args = dict(load_args or {})
        self._save_args = {"index": False, "compression": "zstd", **(save_args or {})}
        self.metadata = metadata

    def load(self) -> Any:
        import pandas as pd

        if not self._filepath.exists():
            raise DatasetError(f"{self._filepath} does not exist: run the stage that writes it")
        return pd.read_parquet(self._filepath, **self._load_args)

    def save(self, data: Any) -> None:
        with atomic_write_path(self._filepath, suffix=".parquet") as temporary:
            data.to_parquet(temporary, **self._save_args)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "load_args": self._load_args}
