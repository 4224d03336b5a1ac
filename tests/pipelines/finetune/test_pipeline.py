"""The finetune pipeline on a user's CSV: outputs written and reloadable; every bad input stopped
with a message naming the file, row and column, and nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets import AtomicJSONDataset, AtomicParquetDataset
from gz_evo.datasets.figures import FiguresDataset
from gz_evo.datasets.pretraining import EncoderDataset, save_encoder_bundle
from gz_evo.pipeline_registry import register_pipelines
from gz_evo.pipelines.finetune import create_pipeline
from gz_evo.pipelines.finetune.pipeline import OUTPUTS
from tests.conftest import PROJECT_ROOT
from tests.pipelines.downstream.test_pipeline import _bundle, _pretraining_params
from tests.training.downstream import downstream_catalog


def _setup(tmp_path: Path, **overrides) -> tuple[dict, Path]:
    """A 24-galaxy catalog CSV, an encoder bundle folder and the finetune parameters."""
    images = tmp_path / "images"
    images.mkdir()
    table = downstream_catalog(images, n=24)
    table["image_path"] = [Path(p).name for p in table["image_path"]]  # relative to the CSV
    table.to_csv(images / "labels.csv", index=False)
    encoder = tmp_path / "encoder"
    save_encoder_bundle(_bundle("supervised"), encoder)
    params = {
        "catalog": str(images / "labels.csv"), "id_column": "id_str",
        "image_column": "image_path", "label": "ring", "kind": "binary", "image_root": None,
        "encoder": str(encoder), "val_fraction": 0.25, "test_fraction": 0.25,
        "max_bad_fraction": 0.1, "min_labelled": 10, "predict_catalog": None,
        "workdir": str(tmp_path / "work"),
        "changes": {"data": {"batch_size": 4}, "trainer": {"max_epochs": 1},
                    "monitor": {"knn": False}, "mlflow": {"enabled": False}},
    }  # fmt: skip
    return {**params, **overrides}, images


def _run(tmp_path: Path, params: dict) -> tuple[DataCatalog, Path]:
    out = tmp_path / "out"
    catalog = DataCatalog(
        {
            "params:finetune": MemoryDataset(params),
            "params:pretraining": MemoryDataset(_pretraining_params(tmp_path)),
            "params:seed": MemoryDataset(0),
            "finetuned_model": EncoderDataset(str(out / "finetuned_model")),
            "finetune_metrics": AtomicJSONDataset(str(out / "finetune_metrics.json")),
            "finetune_calibration": FiguresDataset(str(out / "finetune_calibration")),
            "finetune_predictions": AtomicParquetDataset(str(out / "predictions.parquet")),
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog, out


@pytest.mark.parametrize("kind, label", [("binary", "ring"), ("regression", "fraction")])
def test_the_pipeline_finetunes_predicts_and_saves_a_reloadable_model(
    tmp_path: Path, kind: str, label: str
) -> None:
    import torch

    from gz_evo.models import load_finetuned
    from gz_evo.training.augment import GalaxyAugment
    from gz_evo.training.data import DownstreamDataModule

    params, images = _setup(tmp_path, kind=kind, label=label)
    (images / "d5.png").write_bytes(b"not a png")  # 1 of 24 bad: left out, listed
    if kind == "binary":
        unlabelled = pd.DataFrame({"id_str": ["u1", "u2", "u3"],
                                   "image_path": ["d1.png", "d2.png", "d3.png"]})  # fmt: skip
        unlabelled.to_csv(images / "unlabelled.csv", index=False)
        params["predict_catalog"] = str(images / "unlabelled.csv")
    catalog, out = _run(tmp_path, params)

    metrics = catalog.load("finetune_metrics")
    assert metrics["bad_images"] == ["d5"] and sum(metrics["galaxies"].values()) == 23
    assert (out / "finetune_calibration" / "calibration.png").stat().st_size > 1000
    predictions = catalog.load("finetune_predictions")
    model = load_finetuned(out / "finetuned_model")
    config = model.gz_evo_config
    assert (config["kind"], config["label"], config["image_size"]) == (kind, label, 16)
    if kind == "regression":
        assert set(metrics["test"]) == {"mae", "rmse", "error"}
        assert list(predictions.columns) == ["id", "predicted"] and predictions.empty
        return
    assert config["classes"] == [0, 1] and 0 <= metrics["test"]["accuracy"] <= 1
    assert list(predictions.columns) == ["id", "predicted", "probability_0", "probability_1"]
    assert predictions["id"].tolist() == ["u1", "u2", "u3"]
    data = DownstreamDataModule(
        pd.read_csv(images / "unlabelled.csv").assign(x=0.0), "x", image_size=16,
        image_root=images,
    )  # fmt: skip
    data.setup()
    pixels = torch.cat([data.datasets[s].images for s in ("train", "val", "test")])
    ids = [i for s in ("train", "val", "test") for i in data.datasets[s].ids]
    with torch.inference_mode():
        logits = model(GalaxyAugment(**config["augment"]).eval_view(pixels))
    expected = predictions.set_index("id").loc[ids, ["probability_0", "probability_1"]]
    np.testing.assert_allclose(logits.softmax(1).numpy(), expected.to_numpy(), atol=1e-5)


def _refused(tmp_path: Path, params: dict, error: type, *patterns: str) -> None:
    with pytest.raises(error) as raised:
        _run(tmp_path, params)
    for pattern in patterns:
        assert pattern in str(raised.value), (pattern, str(raised.value))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_no_catalog_says_how_to_set_it(tmp_path: Path) -> None:
    params, _ = _setup(tmp_path, catalog=None)
    _refused(tmp_path, params, ValueError, "set finetune.catalog=path")


def test_a_missing_catalog_file_is_named(tmp_path: Path) -> None:
    params, _ = _setup(tmp_path, catalog=str(tmp_path / "nowhere.csv"))
    _refused(tmp_path, params, FileNotFoundError, "nowhere.csv does not exist")


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    params, _ = _setup(tmp_path, label="bar")
    _refused(tmp_path, params, ValueError, "labels.csv has no column(s) ['bar']")


def test_too_many_bad_images_are_listed_with_their_rows(tmp_path: Path) -> None:
    params, images = _setup(tmp_path)
    (images / "d3.png").unlink()
    (images / "d7.png").write_bytes(b"garbage")
    (images / "d8.png").write_bytes(b"garbage")
    expected = ("labels.csv: 3 of 24 images (12%)", "max_bad_fraction=0.1",
                "d3.png (row 3, id 'd3'", "d7.png (row 7, id 'd7'")  # fmt: skip
    _refused(tmp_path, params, ValueError, *expected)


def test_one_class_is_refused(tmp_path: Path) -> None:
    params, images = _setup(tmp_path)
    table = pd.read_csv(images / "labels.csv").assign(ring=1)
    table.to_csv(images / "labels.csv", index=False)
    _refused(tmp_path, params, ValueError, "labels.csv column 'ring' has only one class")


def test_regression_labels_that_are_not_numbers_are_refused(tmp_path: Path) -> None:
    params, images = _setup(tmp_path, kind="regression", label="fraction")
    table = pd.read_csv(images / "labels.csv")
    table["fraction"] = table["fraction"].astype(object)
    table.loc[6, "fraction"] = "big"
    table.to_csv(images / "labels.csv", index=False)
    _refused(tmp_path, params, ValueError, "labels.csv column 'fraction'", "'big'", "row 6")


def test_classification_labels_that_are_not_classes_are_refused(tmp_path: Path) -> None:
    params, images = _setup(tmp_path, kind="multiclass", label="fraction")
    table = pd.read_csv(images / "labels.csv")
    table.loc[0, "fraction"] = None  # left out as unlabelled; the rest are fractions
    table.to_csv(images / "labels.csv", index=False)
    _refused(tmp_path, params, ValueError, "labels.csv column 'fraction'", "at row 1",
             "kind regression")  # fmt: skip


def test_too_few_labelled_galaxies_are_refused(tmp_path: Path) -> None:
    params, images = _setup(tmp_path)
    table = pd.read_csv(images / "labels.csv")
    table.loc[5:, "ring"] = None
    table.to_csv(images / "labels.csv", index=False)
    _refused(tmp_path, params, ValueError, "labels.csv has 5 labelled galaxies in column 'ring'",
             "min_labelled=10")  # fmt: skip


def test_finetune_is_left_out_of_the_default_pipeline() -> None:
    bootstrap_project(PROJECT_ROOT)
    pipelines = register_pipelines()
    assert "finetune" in pipelines
    default_outputs = pipelines["__default__"].all_outputs()
    assert not set(OUTPUTS) & default_outputs
    assert set(pipelines["downstream"].all_outputs()) <= default_outputs
