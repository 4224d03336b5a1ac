"""Datasets for pretraining outputs: the encoder folder, the checkpoint, rank-0-only saving.

The encoder bundle's file format lives here (``encoder.safetensors`` + ``encoder_config.json``);
:mod:`gz_evo.models.bundle` builds bundles and turns them back into models. Nothing heavy at
module level (kedro-mlflow materialises every catalog entry on every command).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from gz_evo.datasets.atomic import atomic_write_dir, atomic_write_path
from gz_evo.runtime import process_rank

WEIGHTS_FILE = "encoder.safetensors"
CONFIG_FILE = "encoder_config.json"


def save_encoder_bundle(bundle: dict, directory: str | Path) -> None:
    """Write the folder atomically: a temporary folder beside it, then renamed into place."""
    from safetensors.torch import save_file

    with atomic_write_dir(directory) as temporary:
        save_file(bundle["state_dict"], str(temporary / WEIGHTS_FILE))
        (temporary / CONFIG_FILE).write_text(json.dumps(bundle["config"], indent=2) + "\n")


def load_encoder_bundle(directory: str | Path) -> dict:
    """``{"config": dict, "state_dict": {name: tensor}}`` from the folder (no unpickling)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory / name} does not exist: run `kedro run --pipelines pretraining`"
            )
    config = json.loads((directory / CONFIG_FILE).read_text())
    return {"config": config, "state_dict": load_file(str(directory / WEIGHTS_FILE))}


class EncoderDataset(AbstractDataset[dict, dict]):
    """A folder with ``encoder.safetensors`` + ``encoder_config.json``, replaced atomically.

    ``save``/``load`` take and give ``{"config": dict, "state_dict": {name: tensor}}``; users load
    the model itself with ``gz_evo.models.load_encoder(path)``.
    """

    def __init__(self, path: str, metadata: dict | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict:
        try:
            return load_encoder_bundle(self._path)
        except FileNotFoundError as error:
            raise DatasetError(str(error)) from None

    def save(self, data: dict) -> None:
        save_encoder_bundle(data, self._path)

    def _exists(self) -> bool:
        return (self._path / CONFIG_FILE).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class CheckpointFileDataset(AbstractDataset[str, str]):
    """A portable copy of a Lightning checkpoint: ``save(path_of_source)`` writes it atomically.

    Lightning's ModelCheckpoint stores its folder and file names as absolute paths in the
    checkpoint; the copy has them relative to the project folder (the working directory), so
    the file has the same bytes on every machine and names no machine's folders.
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
        import torch

        checkpoint = torch.load(data, map_location="cpu", weights_only=True)
        portable = relative_paths(checkpoint, Path.cwd())
        with atomic_write_path(self._filepath, suffix=".ckpt") as temporary:
            with open(temporary, "wb") as handle:  # a handle: the zip's folder is "archive",
                torch.save(portable, handle)  # not the random temporary file's name

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


def relative_paths(value: Any, root: Path) -> Any:
    """``value`` with every string that is an absolute path inside ``root`` made relative to it
    (dict keys and values, lists and tuples walked; anything else, tensors included, kept)."""
    if isinstance(value, dict):
        return {relative_paths(k, root): relative_paths(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(relative_paths(item, root) for item in value)
    if isinstance(value, str) and os.path.isabs(value):
        path = Path(value)
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return value


class RankZeroDataset(AbstractDataset[Any, Any]):
    """Wraps any dataset so that only rank 0 saves and loads it.

    ``torchrun``/``srun`` run every node on every rank; only rank 0 has outputs. On other ranks
    ``load()`` gives None (rank 0 may still be writing the file), and the nodes that read it
    (evaluation, export) return placeholders there.
    """

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
        if process_rank() != 0:
            return None
        return self.dataset.load()

    def save(self, data: Any) -> None:
        if process_rank() == 0:
            self.dataset.save(data)

    def _exists(self) -> bool:
        return self.dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._config.get("type")}
