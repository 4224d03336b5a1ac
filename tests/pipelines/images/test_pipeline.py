"""The images pipeline on a tiny catalog: shards, report, metrics; too many bad images fail."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets import AtomicJSONDataset, AtomicParquetDataset
from gz_evo.datasets.shards import ShardsDataset
from gz_evo.images.shards import ShardSet
from gz_evo.pipelines.images import create_pipeline
from gz_evo.pipelines.images.nodes import TooManyBadImages, write_image_shards
from gz_evo.schema import Question, Schema
from tests.images.galaxies import ANSWERS, catalog, unlabelled

SCHEMA = Schema(
    (
        Question("smooth-or-featured-t", ("smooth", "featured"), campaign="t"),
        Question("bar-t", ("yes", "no"), campaign="t"),
    ),
    name="t",
)
PARAMS = {
    "image_size": 16,
    "image_root": ".",
    "max_bad_fraction": 0.2,
    "checks": {"blank_std": 1.0},
    "fits": {},
    "shards": {"encoding": "jpg", "jpeg_quality": 95, "samples_per_shard": 5, "num_workers": 0},
    "augment": {},
}


def _catalog(tmp_path: Path, bad: int) -> DataCatalog:
    table = catalog(tmp_path / "images", n=20, embed_every=0)
    for row in range(bad):
        table.loc[row, "image_path"] = str(tmp_path / f"missing_{row}.png")
    assert list(table.columns[-4:]) == ANSWERS == SCHEMA.answer_columns
    return DataCatalog(
        {
            "gz_evo_catalog": MemoryDataset(table),
            "gz_evo_unlabelled": MemoryDataset(unlabelled(tmp_path, n=6)),
            "gz_evo_schema": MemoryDataset(SCHEMA.to_dict()),
            "params:images": MemoryDataset(PARAMS),
            "params:images.max_bad_fraction": MemoryDataset(PARAMS["max_bad_fraction"]),
            "params:seed": MemoryDataset(0),
            "image_shards": ShardsDataset(path=str(tmp_path / "out" / "shards")),
            "images_bad_report": AtomicParquetDataset(str(tmp_path / "out" / "bad.parquet")),
            "images_metrics": AtomicJSONDataset(str(tmp_path / "out" / "metrics.json")),
            "images_mlflow_metrics": MemoryDataset(),
        }
    )


def test_pipeline_writes_shards_report_and_metrics(tmp_path: Path) -> None:
    data = _catalog(tmp_path, bad=2)
    SequentialRunner().run(create_pipeline(), data)
    shards = data.load("image_shards")
    assert isinstance(shards, ShardSet)
    assert sum(shards.n_samples(s) for s in shards.splits) == 24
    report = pd.read_parquet(tmp_path / "out" / "bad.parquet")
    assert report["reason"].tolist() == ["missing", "missing"]
    metrics = data.load("images_metrics")
    assert metrics["images_bad"] == 2 and metrics["images_written"] == 24
    assert metrics["images_unlabelled"] == 6 and metrics["bad_missing"] == 2
    assert metrics["bad_blank"] == 0


def test_too_many_bad_images_fail_after_saving_the_report(tmp_path: Path) -> None:
    data = _catalog(tmp_path, bad=7)
    with pytest.raises(TooManyBadImages, match=r"7 of 26 images are bad"):
        SequentialRunner().run(create_pipeline(), data)
    assert len(pd.read_parquet(tmp_path / "out" / "bad.parquet")) == 7
    assert not (tmp_path / "out" / "shards").exists()


def test_node_names_the_missing_column(tmp_path: Path) -> None:
    table = catalog(tmp_path, n=3).drop(columns="bar-t_yes")
    with pytest.raises(ValueError, match="bar-t_yes"):
        write_image_shards(table, unlabelled(tmp_path, n=2), SCHEMA.to_dict(), PARAMS, 0)
