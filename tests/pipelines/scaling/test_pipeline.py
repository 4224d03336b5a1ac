"""The scaling pipeline on tiny shards: every point once, then only what is missing; a killed
point resumes from its checkpoint; one MLflow child run per point; fits, metrics and figures."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets import AtomicJSONDataset, AtomicParquetDataset
from gz_evo.datasets.figures import FiguresDataset
from gz_evo.datasets.mlflow_runs import MlflowChildRunsDataset
from gz_evo.datasets.shards import ShardsDataset
from gz_evo.pipelines.scaling import create_pipeline
from tests.conftest import PROJECT_ROOT
from tests.pipelines.scaling.conftest import SCHEMA

pytestmark = pytest.mark.slow

AUGMENT = {"output_size": 16, "crop_scale": [0.8, 0.9], "mean": [0.5] * 3, "std": [0.5] * 3}


def _params(name: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / f"conf/test/parameters_{name}.yml").read_text())[name]


def _scaling(tmp_path: Path, **changes) -> dict:
    return {**_params("scaling"), "workdir": str(tmp_path / "sweep"), **changes}


def _catalog(tmp_path: Path, shards_path: Path, scaling: dict) -> DataCatalog:
    out = tmp_path / "out"
    return DataCatalog(
        {
            "image_shards": ShardsDataset(path=str(shards_path)),
            "gz_evo_schema": MemoryDataset(SCHEMA.to_dict()),
            "params:pretraining": MemoryDataset(_params("pretraining")),
            "params:scaling": MemoryDataset(scaling),
            "params:images.augment": MemoryDataset(AUGMENT),
            "params:seed": MemoryDataset(0),
            "scaling_points": AtomicParquetDataset(str(out / "points.parquet")),
            "scaling_points_plot": AtomicJSONDataset(str(out / "points_plot.json")),
            "scaling_mlflow_points": MlflowChildRunsDataset("scaling"),
            "scaling_fits": AtomicJSONDataset(str(out / "fits.json")),
            "scaling_metrics": AtomicJSONDataset(str(out / "metrics.json")),
            "scaling_mlflow_metrics": MemoryDataset(),
            "scaling_figures": FiguresDataset(str(out / "figures")),
        }
    )


def _run(tmp_path: Path, shards_path: Path, caplog, **changes) -> tuple[DataCatalog, list[str]]:
    catalog = _catalog(tmp_path, shards_path, _scaling(tmp_path, **changes))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gz_evo.training.sweep"):
        SequentialRunner().run(create_pipeline(), catalog)
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "gz_evo.training.sweep" and r.getMessage().startswith("scaling ")
    ]
    return catalog, lines


def _assert_one_child_run_per_point(uri: str, parent, points) -> None:
    client = mlflow.MlflowClient(uri)
    children = [
        run
        for run in client.search_runs([parent.info.experiment_id])
        if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    ]
    assert sorted(run.info.run_name for run in children) == sorted(
        f"scaling/{point}" for point in points["point_id"]
    )
    child = children[0]
    row = points.set_index("point_id").loc[child.info.run_name.removeprefix("scaling/")]
    assert child.data.metrics["test_loss"] == pytest.approx(row["test_loss"])
    assert child.data.params["model"] == row["model"] and child.data.params["status"] == "trained"
    assert {f.path for f in client.list_artifacts(child.info.run_id)} == {"loss_per_question.csv"}


def test_sweep_runs_each_point_once_and_then_only_the_missing_ones(
    tmp_path: Path, shards_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("scaling")
    with mlflow.start_run() as parent:
        catalog, lines = _run(tmp_path, shards_path, caplog, fractions=[0.5, 1.0])
    points = catalog.load("scaling_points")
    assert len(points) == len(lines) == 2 * 2 * 2  # models x fractions x replicates
    assert all(line.endswith(" s]") and "[trained in" in line for line in lines)
    assert lines[0].startswith("scaling 1/8: narrow, fraction 0.5")
    train = int(points.loc[points["fraction"] == 1.0, "train_images"].iloc[0])
    assert sorted(points["train_images"].unique()) == [round(train / 2), train]
    assert (points["images_seen"] == points["train_images"]).all()  # one epoch each
    narrow, wide = (
        points.loc[points["model"] == m, "parameters"].iloc[0] for m in ("narrow", "wide")
    )
    assert 0 < narrow < wide
    assert set(points["seed"]) == {0, 1} and points["test_loss"].gt(0).all()
    assert "test_loss_campaign/t" in points and "test_loss_question/bar-t" in points
    assert points.filter(like="test_loss_question/").notna().all().all()
    workdirs = sorted((tmp_path / "sweep").iterdir())
    assert [(w / "result.json").is_file() for w in workdirs] == [True] * 8
    assert not any((w / "checkpoints").exists() for w in workdirs)  # keep_checkpoints: false

    _assert_one_child_run_per_point(uri, parent, points)

    fits = catalog.load("scaling_fits")["fits"]
    data_fit = _fit(fits, "narrow")
    assert not data_fit["identifiable"] and "2 distinct values" in data_fit["reason"]
    metrics = catalog.load("scaling_metrics")
    assert metrics["points"] == 8 and metrics["alpha_data"]["narrow"]["power"]["alpha"] is None

    # rerun with one more fraction: only its 4 points train, the 8 others are read back
    catalog, lines = _run(tmp_path, shards_path, caplog)
    trained = [line for line in lines if "[trained" in line]
    assert len(lines) == 12 and len(trained) == 4
    assert all("fraction 0.25" in line for line in trained)
    points_again = catalog.load("scaling_points")
    same = points_again.merge(points, on="point_id", suffixes=("", "_before"))
    assert len(same) == 8 and (same["test_loss"] == same["test_loss_before"]).all()
    fits = catalog.load("scaling_fits")["fits"]
    data_fit = _fit(fits, "narrow")
    assert data_fit["n_x"] == 3 and data_fit["n_points"] == 6
    if data_fit["identifiable"]:
        assert data_fit["alpha_interval"] is not None
    assert set(catalog.load("scaling_figures")) == {
        "loss_vs_data", "loss_vs_parameters", "questions_vs_data",
    }  # fmt: skip
    plot = json.loads((tmp_path / "out/points_plot.json").read_text())
    assert len(plot) == 12 and {"train_images", "test_loss", "model"} <= set(plot[0])

    # a changed recipe gives every point a new work folder: all train afresh
    changed = {"augment": {"output_size": 8}, "fractions": [1.0], "replicates": [0]}
    catalog, lines = _run(tmp_path, shards_path, caplog, **changed)
    assert len(lines) == 2 and all("[trained" in line for line in lines)


def _fit(fits: list[dict], model: str) -> dict:
    """The overall test loss's power law against training images for ``model``."""
    wanted = ("test_loss", "train_images", model, "power")
    return next(f for f in fits if (f["target"], f["against"], f["model"], f["form"]) == wanted)


class _Killed(Exception):
    pass


def test_a_killed_point_resumes_from_its_checkpoint(
    tmp_path: Path, shards_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import lightning.pytorch as pl

    from gz_evo.training import run

    class Kill(pl.Callback):
        def on_train_epoch_start(self, trainer, module) -> None:
            if trainer.current_epoch == 1:
                raise _Killed  # as a kill after the first epoch's checkpoint

    real_fit = run.fit

    def killed_fit(*args, callbacks=None, **kwargs):
        return real_fit(*args, callbacks=[*(callbacks or []), Kill()], **kwargs)

    grid = {
        "fractions": [1.0],
        "models": {"narrow": _params("scaling")["models"]["narrow"]},
        "replicates": [0],
        "pretraining": {**_params("scaling")["pretraining"], "trainer": {"max_epochs": 2,
                        "limit_train_batches": None, "limit_val_batches": None}},
    }  # fmt: skip
    monkeypatch.setattr(run, "fit", killed_fit)
    with pytest.raises(_Killed):
        _run(tmp_path, shards_path, caplog, **grid)
    (workdir,) = (tmp_path / "sweep").iterdir()
    assert (workdir / "checkpoints/last.ckpt").is_file() and not (workdir / "result.json").exists()

    monkeypatch.setattr(run, "fit", real_fit)
    with caplog.at_level(logging.INFO, logger="gz_evo.training.run"):
        catalog, lines = _run(tmp_path, shards_path, caplog, **grid)
    assert len(lines) == 1 and "[resumed in" in lines[0]
    (row,) = catalog.load("scaling_points").to_dict("records")
    assert row["epochs"] == 2 and row["images_seen"] == 2 * row["train_images"]
    assert (workdir / "result.json").is_file()
