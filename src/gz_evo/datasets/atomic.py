"""Atomic JSON, text, parquet and CSV datasets, and the temp-then-rename helper they share."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _ordinary_permissions(path: Path) -> None:
    """Give a temporary file or folder the permissions a plain ``open``/``mkdir`` would have.

    ``mkstemp``/``mkdtemp`` create private (0600/0700) paths; outputs are meant to be shared.
    """
    mode = 0o777 if path.is_dir() else 0o666
    path.chmod(mode & ~_current_umask())


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
        _ordinary_permissions(temporary_path)
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


def replace_directory(staged: str | Path, target: str | Path) -> None:
    """Move a complete ``staged`` folder onto ``target``, replacing any previous version.

    Readers see either the old folder or the new one: the new one is moved beside the target
    first (a rename on one filesystem), the old one is renamed away, then the new one renamed in.
    """
    staged, target = Path(staged), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    incoming = target.parent / f".{target.name}.incoming-{token}"
    outgoing = target.parent / f".{target.name}.outgoing-{token}"
    try:
        shutil.move(str(staged), str(incoming))
        _ordinary_permissions(incoming)
        if target.exists():
            os.replace(target, outgoing)
        os.replace(incoming, target)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.rmtree(outgoing, ignore_errors=True)


@contextlib.contextmanager
def atomic_write_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; it becomes ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
        replace_directory(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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


class AtomicTextDataset(AbstractDataset[str, str]):
    """A text file (an HTML report, ...), written atomically in UTF-8."""

    def __init__(self, filepath: str, metadata: dict | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> str:
        try:
            return self._filepath.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DatasetError(
                f"{self._filepath} does not exist: run the stage that writes it"
            ) from None

    def save(self, data: str) -> None:
        with atomic_write_path(self._filepath, suffix=self._filepath.suffix) as temporary:
            temporary.write_text(data, encoding="utf-8")

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


class AtomicCSVDataset(AbstractDataset[Any, Any]):
    """A pandas DataFrame as one CSV file (no index), written atomically: small tables that
    other tools read as text (``dvc plots show``)."""

    def __init__(self, filepath: str, metadata: dict | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> Any:
        import pandas as pd

        if not self._filepath.exists():
            raise DatasetError(f"{self._filepath} does not exist: run the stage that writes it")
        return pd.read_csv(self._filepath)

    def save(self, data: Any) -> None:
        with atomic_write_path(self._filepath, suffix=".csv") as temporary:
            data.to_csv(temporary, index=False)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
