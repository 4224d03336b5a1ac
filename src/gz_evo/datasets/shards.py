"""Kedro dataset for training shards: load() gives a light handle, save() moves them in atomically.

The images stage writes a complete shard directory into a staging place
(:class:`gz_evo.images.build.StagedShards`); ``save`` moves it beside the target and renames it into
place, so an interrupted stage leaves either the previous shards or the new ones, never half a
shard. For a remote fsspec URL the shards are uploaded first and ``index.json`` last (readers only
see a shard set through its index). ``load`` returns a :class:`gz_evo.images.shards.ShardSet`
(root URL + index): no pixels are read. Torch-free, as every dataset class here must be.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from gz_evo.datasets.atomic import replace_directory


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


class ShardsDataset(AbstractDataset[Any, Any]):
    """A shard directory (``index.json`` + per-split tar shards), local or at an fsspec URL."""

    def __init__(
        self, path: str, storage_options: dict | None = None, metadata: dict | None = None
    ) -> None:
        self._path = str(path).rstrip("/")
        self._storage_options = dict(storage_options or {})
        self.metadata = metadata

    def load(self) -> Any:
        from gz_evo.images.shards import ShardSet

        if not self._exists():
            raise DatasetError(f"{self._path} has no shard index: run the images pipeline")
        return ShardSet.open(self._path, self._storage_options or None)

    def save(self, data: Any) -> None:
        staged = Path(data.directory)
        if not (staged / "index.json").is_file():
            raise DatasetError(f"{staged} is not a complete shard directory (no index.json)")
        if _is_local(self._path):
            self._save_local(staged)
        else:
            self._save_remote(staged)

    def _save_local(self, staged: Path) -> None:
        replace_directory(staged, self._path.removeprefix("file://"))

    def _save_remote(self, staged: Path) -> None:
        import fsspec

        fs, root = fsspec.core.url_to_fs(self._path, **self._storage_options)
        files = sorted(p for p in staged.rglob("*") if p.is_file() and p.name != "index.json")
        for file in files:
            fs.put_file(str(file), f"{root}/{file.relative_to(staged).as_posix()}")
        fs.put_file(str(staged / "index.json"), f"{root}/index.json")
        shutil.rmtree(staged, ignore_errors=True)

    def _exists(self) -> bool:
        if _is_local(self._path):
            return (Path(self._path.removeprefix("file://")) / "index.json").is_file()
        import fsspec

        fs, root = fsspec.core.url_to_fs(self._path, **self._storage_options)
        return fs.exists(f"{root}/index.json")

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path}
