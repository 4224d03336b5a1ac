"""A folder of files written all at once: the demo universe's published-format folders.

``save({relative path: content})`` writes every file into a temporary folder beside ``path`` and
then swaps it into place, so an interrupted run leaves the previous folder (or none), never half of
one. Content is ``bytes`` (written as is), a pandas ``DataFrame`` (``.csv`` without index, or
``.parquet``) or a ``pyarrow.Table`` (``.parquet``, its schema metadata kept).

``load()`` hands back what a reader needs: with ``filepath`` (and ``image_dir``/``files``), the same
:class:`gz_evo.datasets.raw.RawCatalog` as ``RawCatalogDataset``, so one catalog entry can be both
the demo's output and ingestion's input; without, the sorted relative paths in the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from gz_evo.datasets.atomic import atomic_write_dir


def _write(target: Path, content: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes | bytearray):
        target.write_bytes(content)
        return
    suffix = target.suffix.lower()
    module = type(content).__module__
    if module.startswith("pyarrow") and suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(content, target, compression="zstd")
    elif module.startswith("pandas") and suffix == ".csv":
        content.to_csv(target, index=False)
    elif module.startswith("pandas") and suffix == ".parquet":
        content.to_parquet(target, index=False, compression="zstd")
    else:
        raise DatasetError(f"cannot write {type(content).__name__} to {target}")


def save_folder(path: str | Path, files: dict[str, Any]) -> None:
    """Write ``files`` into ``path`` atomically (temporary folder beside it, then rename)."""
    target = Path(path)
    with atomic_write_dir(target) as staging:
        root = staging.resolve()
        for relative, content in sorted(files.items()):
            destination = (root / relative).resolve()
            if root not in destination.parents:
                raise DatasetError(f"{relative!r} would be written outside {target}")
            _write(destination, content)


class DemoFolderDataset(AbstractDataset[dict, Any]):
    """A folder saved atomically from ``{relative path: content}``; see the module docstring."""

    def __init__(
        self,
        path: str,
        filepath: str | None = None,
        image_dir: str | None = None,
        files: dict[str, str] | None = None,
        metadata: dict | None = None,
    ) -> None:
        self._path = Path(path)
        self._filepath = filepath
        self._image_dir = image_dir
        self._files = dict(files or {})
        self.metadata = metadata

    def save(self, data: dict) -> None:
        if not isinstance(data, dict):
            raise DatasetError(
                f"{self._path}: expected {{relative path: content}}, got {type(data)}"
            )
        save_folder(self._path, data)

    def load(self) -> Any:
        if self._filepath is not None:
            from gz_evo.datasets.raw import RawCatalogDataset

            return RawCatalogDataset(self._filepath, self._image_dir, self._files).load()
        if not self._path.is_dir():
            raise DatasetError(f"{self._path} does not exist: run `kedro run --pipelines demo`")
        return sorted(str(p.relative_to(self._path)) for p in self._path.rglob("*") if p.is_file())

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "filepath": self._filepath, "image_dir": self._image_dir}
