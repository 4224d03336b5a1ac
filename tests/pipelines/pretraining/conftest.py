"""Real shards for the pretraining tests, written once by the images pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets.shards import ShardsDataset
from gz_evo.pipelines.images import create_pipeline as images_pipeline
from tests.images.galaxies import catalog, unlabelled
from tests.pipelines.images.test_pipeline import PARAMS as IMAGE_PARAMS
from tests.pipelines.images.test_pipeline import SCHEMA

__all__ = ["SCHEMA"]


@pytest.fixture(scope="package")
def shards_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shards")
    data = DataCatalog(
        {
            "gz_evo_catalog": MemoryDataset(catalog(root / "images", n=36, embed_every=0)),
            "gz_evo_unlabelled": MemoryDataset(unlabelled(root, n=4)),
            "gz_evo_schema": MemoryDataset(SCHEMA.to_dict()),
            "params:images": MemoryDataset(IMAGE_PARAMS),
            "params:images.max_bad_fraction": MemoryDataset(0.2),
            "params:seed": MemoryDataset(0),
            "image_shards": ShardsDataset(path=str(root / "shards")),
            "images_bad_report": MemoryDataset(),
            "images_metrics": MemoryDataset(),
            "images_mlflow_metrics": MemoryDataset(),
        }
    )
    SequentialRunner().run(images_pipeline(), data)
    return root / "shards"
