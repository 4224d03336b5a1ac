"""Datasets for pretraining outputs: the encoder folder, the checkpoint, rank-0-only saving.

Nothing heavy at module level (kedro-mlflow materialises every catalog entry on every command).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from gz_evo.datasets.atomic import atomic_write_path


def process_rank() -> int:
    """RANK (torchrun) or SLURM_PROCID (srun); 0 in a single process."""
    for variable in ("RANK", "SLURM_PROCID"):
        if os.environ.get(variable):
            return int(os.environ[variable])
    return 0


class EncoderDataset(AbstractDataset[dict, dict]):
    """A folder with ``encoder.safetensors`` + ``encoder_config.json``, replaced atomically.

    ``save``/``load`` take and give ``{"config": dict, "state_dict": {name: tensor}}``; users load
    the model itself with ``gz_evo.models.load_encoder(path)``.
    """

    def __init__(self, path: str, metadata: dict | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict:
        from gz_evo.models.io import load_encoder_bundle

        try:
            return load_encoder_bundle(self._path)
        except FileNotFoundError as error:
            raise DatasetError(str(error)) from None

    def save(self, data: dict) -> None:
        from gz_evo.models.io import save_encoder_bundle

        save_encoder_bundle(data, self._path)

    def _exists(self) -> bool:
        return (self._path / "encoder_config.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class CheckpointFileDataset(AbstractDataset[str, str]):
    """A copy of a Lightning checkpoint: ``save(path_of_source)`` copies it in atomically.

    ``load()`` returns the file's path; read it with ``torch.load(path, weights_only=True)``.
    """

    def __init__(self, filepath: str, metadata: dict | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> str:
        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath} does not exist: run the pretraining stage")
        return str(self._filepath)

    def save(self, data: str) -> None:
        with atomic_write_path(self._filepath, suffix=".ckpt") as temporary:
            shutil.copyfile(data, temporary)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class RankZeroDataset(AbstractDataset[Any, Any]):
    """Wraps any dataset so that only rank 0 saves (``torchrun``/``srun`` run the node per rank)."""

    def __init__(self, dataset: dict, metadata: dict | None = None) -> None:
        self._config = dict(dataset)
        self._dataset: AbstractDataset | None = None
        self.metadata = metadata

    @property
    def dataset(self) -> AbstractDataset:
        if self._dataset is None:
            self._dataset = AbstractDataset.from_config("rank_zero_inner", self._config)
        return self._dataset

    def load(self) -> Any:
        return self.dataset.load()

    def save(self, data: Any) -> None:
        if process_rank() == 0:
            self.dataset.save(data)

    def _exists(self) -> bool:
        return self.dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._config.get("type")}
