"""Outputs that may not exist yet: ``load()`` gives None instead of an error.

The report reads every stage's outputs and says which stages have not run, so its inputs must
load whether or not their files are there. Wrapping a catalog entry keeps its path where it was
(``conf/base/catalog.yml``) and its dependency in the pipeline graph (the report still runs after
the stage that writes it)::

    pretraining_metrics:
      type: gz_evo.datasets.optional.OptionalDataset
      dataset:
        type: gz_evo.datasets.AtomicJSONDataset
        filepath: data/08_reporting/pretraining_metrics.json

``save`` writes through to the wrapped dataset, unless the entry is a ``read_only`` view of a
file another entry writes. Torch-free, as every dataset class here must be.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)


class OptionalDataset(AbstractDataset[Any, Any]):
    """Any dataset, loaded as None when it does not exist; saved as the wrapped one saves."""

    def __init__(
        self, dataset: dict, read_only: bool = False, metadata: dict | None = None
    ) -> None:
        self._config = dict(dataset)
        self._read_only = read_only
        self._dataset: AbstractDataset | None = None
        self.metadata = metadata

    @property
    def dataset(self) -> AbstractDataset:
        if self._dataset is None:
            self._dataset = AbstractDataset.from_config("optional_inner", self._config)
        return self._dataset

    def load(self) -> Any:
        if not self.dataset.exists():
            logger.info("%s does not exist (its stage has not run): loaded as None", self._where())
            return None
        return self.dataset.load()

    def save(self, data: Any) -> None:
        if self._read_only:
            raise DatasetError(
                f"this catalog entry is a read-only view of {self._where()}, which another "
                "entry writes: save through that entry"
            )
        self.dataset.save(data)

    def _exists(self) -> bool:
        return self.dataset.exists()

    def _where(self) -> str:
        """The wrapped file or folder (looking through RankZeroDataset / MlflowArtifactDataset)."""
        config: Any = self._config
        while isinstance(config, dict):
            for key in ("filepath", "path"):
                if isinstance(config.get(key), str):
                    return config[key]
            config = config.get("dataset")
        return str(self._config.get("type"))

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._config.get("type"), "read_only": self._read_only}
