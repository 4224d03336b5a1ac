"""Real shards for the pretraining tests, written once by the images pipeline."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets.shards import ShardsDataset
from gz_evo.pipelines.images import create_pipeline as images_pipeline
from tests.images.galaxies import catalog, unlabelled
from tests.pipelines.images.test_pipeline import PARAMS as IMAGE_PARAMS
from tests.pipelines.images.test_pipeline import SCHEMA
from tests.training.downstream import downstream_catalog

__all__ = ["SCHEMA", "PretrainingProject"]


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


@dataclass(frozen=True)
class PretrainingProject:
    """A project copy holding the pretraining stage's inputs, and a private MLflow store."""

    root: Path
    store: Path
    env: dict[str, str]


@pytest.fixture
def pretraining_project(
    project_copy: Path, shards_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> PretrainingProject:
    """Shards and schema in place for a `kedro run --pipelines pretraining` subprocess."""
    shutil.copytree(shards_path, project_copy / "data/04_feature/shards")
    (project_copy / "data/03_primary").mkdir(parents=True)
    (project_copy / "data/03_primary/gz_evo_schema.json").write_text(SCHEMA.to_json())
    intermediate = project_copy / "data/02_intermediate"
    (intermediate / "downstream").mkdir(parents=True)
    downstream_catalog(intermediate / "downstream").to_parquet(
        intermediate / "downstream_catalog.parquet"
    )
    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    env = {**os.environ, "GZ_EVO_MLFLOW_URI": f"sqlite:///{store}", "COLUMNS": "200"}
    for launcher_variable in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS"):
        env.pop(launcher_variable, None)
    return PretrainingProject(project_copy, store, env)
