"""Named numpy arrays as one ``.npz`` file, written atomically and loaded without pickle.

``save({name: array})`` / ``load() -> {name: array}``. Text arrays (ids) are stored as fixed-width
unicode, so ``allow_pickle=False`` reads everything back. Used for frozen features, the PCA and
the nearest-neighbour index of the ``similarity`` pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from gz_evo.datasets.atomic import atomic_write_path


class NpzDataset(AbstractDataset[dict, dict]):
    def __init__(self, filepath: str, metadata: dict | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        import numpy as np

        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath} does not exist: run the pipeline that writes it")
        with np.load(self._filepath, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}

    def save(self, data: dict[str, Any]) -> None:
        import numpy as np

        arrays = {name: np.asarray(value) for name, value in data.items()}
        objects = [name for name, value in arrays.items() if value.dtype == object]
        if objects:
            raise DatasetError(f"{self._filepath}: arrays {objects} hold Python objects")
        with atomic_write_path(self._filepath, suffix=".npz") as temporary:
            with temporary.open("wb") as handle:
                np.savez(handle, **arrays)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
