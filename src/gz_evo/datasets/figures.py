"""A folder of PNG figures: ``save({name: matplotlib Figure})`` writes ``<name>.png`` each.

The folder is replaced atomically. Wrap it in kedro-mlflow's ``MlflowArtifactDataset`` (as
``conf/base/catalog.yml`` does) to log the folder to the run as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from gz_evo.datasets.atomic import atomic_write_dir


class FiguresDataset(AbstractDataset[dict, dict]):
    """``save`` takes ``{name: Figure}``; ``load`` gives ``{name: path of the PNG}``."""

    def __init__(self, path: str, dpi: int = 120, metadata: dict | None = None) -> None:
        self._path = Path(path)
        self._dpi = dpi
        self.metadata = metadata

    def save(self, data: dict[str, Any]) -> None:
        with atomic_write_dir(self._path) as staging:
            for name, figure in data.items():
                figure.savefig(staging / f"{name}.png", format="png", dpi=self._dpi)

    def load(self) -> dict[str, str]:
        if not self._path.is_dir():
            raise DatasetError(f"{self._path} does not exist: run the pipeline that draws it")
        return {p.stem: str(p) for p in sorted(self._path.glob("*.png"))}

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
