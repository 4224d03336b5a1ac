"""Frozen downstream features on disk: one folder per task, one ``.npz`` per encoder.

``save``/``load`` take and give ``{task: {"kind", "classes", "ids": {split: [str]},
"labels": {split: array}, "encoders": {encoder: {split: float32 [N, F]}}}}``. Arrays are
``.npz`` (loaded with ``allow_pickle=False``), everything else JSON; the folder is replaced
atomically. Nothing heavy at module level (kedro-mlflow materialises every catalog entry).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from gz_evo.datasets.atomic import atomic_write_dir

_META = "meta.json"
_LABELS = "labels.npz"


class FeaturesDataset(AbstractDataset[dict, dict]):
    """A folder of tasks, each with ``meta.json``, ``labels.npz`` and ``<encoder>.npz``."""

    def __init__(self, path: str, metadata: dict | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def save(self, data: dict[str, dict[str, Any]]) -> None:
        import numpy as np

        with atomic_write_dir(self._path) as staging:
            for task, content in data.items():
                folder = staging / task
                folder.mkdir()
                meta = {key: content[key] for key in ("kind", "classes", "ids")}
                meta["encoders"] = sorted(content["encoders"])
                (folder / _META).write_text(json.dumps(meta) + "\n")
                np.savez(folder / _LABELS, **content["labels"])
                for encoder, splits in content["encoders"].items():
                    np.savez(folder / f"{encoder}.npz", **splits)

    def load(self) -> dict[str, dict[str, Any]]:
        import numpy as np

        if not self._path.is_dir():
            raise DatasetError(f"{self._path} does not exist: run the downstream pipeline")
        result = {}
        for folder in sorted(p for p in self._path.iterdir() if (p / _META).is_file()):
            meta = json.loads((folder / _META).read_text())
            names = meta.pop("encoders")
            with np.load(folder / _LABELS, allow_pickle=False) as labels:
                content = {**meta, "labels": {k: labels[k] for k in labels.files}, "encoders": {}}
            for encoder in names:
                with np.load(folder / f"{encoder}.npz", allow_pickle=False) as arrays:
                    content["encoders"][encoder] = {k: arrays[k] for k in arrays.files}
            result[folder.name] = content
        return result

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
