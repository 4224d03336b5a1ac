"""`kedro run --pipelines images` in a Kedro session: the real catalog entries and parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from gz_evo.images.shards import ShardSet
from gz_evo.schema import Question, Schema
from tests.images.galaxies import catalog, unlabelled

SCHEMA = Schema(
    (
        Question("smooth-or-featured-t", ("smooth", "featured"), campaign="t"),
        Question("bar-t", ("yes", "no"), campaign="t"),
    ),
    name="t",
)


@pytest.mark.slow
def test_images_pipeline_runs_in_a_session(project_copy: Path) -> None:
    primary = project_copy / "data" / "03_primary"
    primary.mkdir(parents=True)
    table = catalog(project_copy / "data" / "01_raw" / "imgs", n=24)
    # relative to the project root, as the merged catalog writes them
    table["image_path"] = [
        None if pd.isna(p) else str(Path(p).relative_to(project_copy)) for p in table["image_path"]
    ]
    table.to_parquet(primary / "gz_evo_catalog.parquet")
    unlabelled(project_copy / "data" / "01_raw", n=5).to_parquet(
        primary / "gz_evo_unlabelled.parquet"
    )
    (primary / "gz_evo_schema.json").write_text(SCHEMA.to_json())
    bootstrap_project(project_copy)
    with KedroSession.create(project_path=project_copy, env="test") as session:
        session.run(pipeline_names=["images"])
    shards = ShardSet.open(project_copy / "data" / "04_feature" / "shards")
    assert sum(shards.n_samples(s) for s in shards.splits) == 29 and shards.image_size == 32
    metrics = json.loads((project_copy / "data/08_reporting/images_metrics.json").read_text())
    assert metrics["images_bad"] == 0 and metrics["images_written"] == 29
    assert (project_copy / "data/08_reporting/images_bad_report.parquet").is_file()
