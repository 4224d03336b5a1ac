"""The predict pipeline end to end on a tiny encoder and a small catalog file (one bad image),
and its place in the default run (after the pipelines that write its inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets.figures import FiguresDataset
from gz_evo.datasets.predictions import PredictionCatalogDataset
from gz_evo.pipelines.predict import create_pipeline
from gz_evo.science.catalog import ScienceInputError
from tests.conftest import PROJECT_ROOT
from tests.science.fixtures import image_catalog, tiny_bundle


def predict_params(catalog: Path, **changes) -> dict:
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_predict.yml").read_text())
    return {
        **params["predict"],
        "catalog": str(catalog),
        "image_column": "file_loc",
        "image_root": None,
        "batch_size": 4,
        "mc_dropout_samples": 3,
        "progress_bar": False,
        "gallery": {"galaxies": 4, "campaign": "dr5", "answers": 2, "image_size": 32},
        **changes,
    }


def _catalog(tmp_path: Path, params: dict, encoder) -> DataCatalog:
    return DataCatalog(
        {
            "pretrained_encoder": encoder,
            "params:predict": MemoryDataset(params),
            "params:seed": MemoryDataset(0),
            "predictions": PredictionCatalogDataset(str(tmp_path / "out/predictions")),
            "predict_gallery": FiguresDataset(str(tmp_path / "out/gallery")),
        }
    )


@pytest.mark.slow
def test_the_pipeline_writes_a_prediction_catalog_and_a_gallery(tmp_path: Path) -> None:
    path = image_catalog(tmp_path / "cat", n=11, bad=1)
    params = predict_params(path)
    catalog = _catalog(tmp_path, params, MemoryDataset(tiny_bundle()))
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    predictions = catalog.load("predictions")
    friendly, full = predictions.table(), predictions.table(full=True)
    assert friendly["id_str"].tolist() == [f"g{i}" for i in range(10)]
    assert "bar-dr5_strong_fraction" in friendly and "bar-dr5_proportion_asked" in friendly
    assert "bar-dr5_strong_concentration_2" in full and "bar-dr5_strong_upper" in full
    root = [
        c for c in friendly if c.startswith("smooth-or-featured-dr5_") and c.endswith("_fraction")
    ]
    np.testing.assert_allclose(friendly[root].sum(axis=1), 1.0, rtol=1e-5)
    expected = (
        friendly["smooth-or-featured-dr5_featured-or-disk_fraction"]
        * friendly["disk-edge-on-dr5_no_fraction"]
    )
    np.testing.assert_allclose(friendly["bar-dr5_proportion_asked"], expected, rtol=1e-5)
    assert predictions.bad()["id_str"].tolist() == ["g10"]
    assert len(pd.read_csv(tmp_path / "out/predictions/predictions_full.csv")) == 10
    metrics = outputs["predict_metrics"].load()
    assert metrics["galaxies"] == 10 and metrics["bad_images"] == 1
    assert (tmp_path / "out/gallery/gallery.png").stat().st_size > 5000
    # MC-dropout samples differ; seeded runs repeat
    samples = full[[f"bar-dr5_no_concentration_{s}" for s in range(3)]].to_numpy()
    assert (samples.std(axis=1) > 0).all()
    SequentialRunner().run(
        create_pipeline(), _catalog(tmp_path, params, MemoryDataset(tiny_bundle()))
    )
    pd.testing.assert_frame_equal(catalog.load("predictions").table(full=True), full)


def test_a_catalog_without_images_stops_the_run_before_writing(tmp_path: Path) -> None:
    path = image_catalog(tmp_path / "cat", n=3)
    params = predict_params(path, image_column="image")
    with pytest.raises(ScienceInputError, match="catalog without images"):
        SequentialRunner().run(
            create_pipeline(), _catalog(tmp_path, params, MemoryDataset(tiny_bundle()))
        )
    assert not (tmp_path / "out/predictions").exists()


def test_a_missing_encoder_says_how_to_train_one(tmp_path: Path) -> None:
    from kedro.io import DatasetError

    from gz_evo.datasets.pretraining import EncoderDataset

    path = image_catalog(tmp_path / "cat", n=3)
    catalog = _catalog(tmp_path, predict_params(path), EncoderDataset(str(tmp_path / "none")))
    with pytest.raises(DatasetError, match="run `kedro run --pipelines pretraining`"):
        SequentialRunner().run(create_pipeline(), catalog)


def test_the_default_run_predicts_after_ingestion_and_pretraining() -> None:
    from kedro.framework.project import configure_project, pipelines

    configure_project("gz_evo")
    order = [node.name for node in pipelines["__default__"].nodes]
    producers = {
        output: node.name for node in pipelines["__default__"].nodes for output in node.outputs
    }
    for consumer in ("predict_galaxies", "embed_similarity_catalog"):
        # the catalogs (paths in the parameters) are written before the encoder is trained
        for needed in (
            "unlabelled_images",
            "downstream_catalog",
            "demo_truth",
            "pretrained_encoder",
        ):
            assert order.index(producers[needed]) < order.index(consumer), (needed, consumer)
    assert order.index("reduce_similarity_features") < order.index("rank_anomalies")
