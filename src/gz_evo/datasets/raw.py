"""A read-only dataset that hands a reader the paths of a raw catalog, not its contents.

Published catalogs come as several files (train/test parquet, shards, a CSV plus a filename
mapping) with images beside them, and each reader knows best how to read its own format (only
the columns it needs, ids as strings). So ``load()`` resolves the paths, and reading is the
reader's job. Nothing is read at catalog-creation time, and missing files are reported by the
reader with the file's name.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


@dataclass(frozen=True)
class RawCatalog:
    """Paths of one raw catalog: its table file(s), image folder and extra files by role."""

    paths: tuple[Path, ...]
    image_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)


class RawCatalogDataset(AbstractDataset[None, RawCatalog]):
    """``filepath`` is a file or a glob (``data/*.parquet``: every match, sorted).

    ``image_dir`` is the folder image paths are relative to; ``files`` names extra files by role
    (``{filename_mapping: .../gz2_filename_mapping.csv}``), passed to the reader as keywords.
    """

    def __init__(
        self,
        filepath: str,
        image_dir: str | None = None,
        files: dict[str, str] | None = None,
        metadata: dict | None = None,
    ) -> None:
        self._filepath = filepath
        self._image_dir = image_dir
        self._files = dict(files or {})
        self.metadata = metadata

    def load(self) -> RawCatalog:
        if glob.has_magic(self._filepath):
            matches = sorted(glob.glob(self._filepath))
            if not matches:
                raise DatasetError(f"no file matches {self._filepath}")
            paths = tuple(Path(p) for p in matches)
        else:
            paths = (Path(self._filepath),)
        return RawCatalog(
            paths=paths,
            image_dir=Path(self._image_dir) if self._image_dir else None,
            files={role: Path(path) for role, path in self._files.items()},
        )

    def save(self, data: Any) -> None:
        raise DatasetError(f"{self._filepath} is a raw input; gz_evo never writes it")

    def _exists(self) -> bool:
        if glob.has_magic(self._filepath):
            return bool(glob.glob(self._filepath))
        return Path(self._filepath).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "image_dir": self._image_dir, "files": self._files}
