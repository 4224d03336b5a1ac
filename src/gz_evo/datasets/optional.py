"""A read-only view of another dataset that loads ``None`` where its data does not exist yet.

Catalog entries such as ``unlabelled_images@optional`` use it with Kedro's transcoding: the
``@optional`` name is the same dataset as ``unlabelled_images`` to Kedro's dependency order (so
the default run predicts after ingestion has written the table), while a pipeline run on its own
with a user's catalog (``--params predict.catalog=my.csv``) gets ``None`` instead of a failure
for a demo table that was never written. The node decides whether ``None`` is an error.
"""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError


class OptionalDataset(AbstractDataset[Any, Any]):
    """``dataset``: the wrapped dataset's config (``type`` + its arguments) or the dataset."""

    def __init__(self, dataset: dict | AbstractDataset, metadata: dict | None = None) -> None:
        if isinstance(dataset, dict):
            dataset = AbstractDataset.from_config("optional", dict(dataset))
        self._dataset = dataset
        self.metadata = metadata

    def load(self) -> Any:
        return self._dataset.load() if self._dataset.exists() else None

    def save(self, data: Any) -> None:
        raise DatasetError(
            f"{self._dataset} is read here through an @optional view; save it under its own name"
        )

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"dataset": str(self._dataset)}
