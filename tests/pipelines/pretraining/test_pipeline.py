"""The pretraining pipeline on real (tiny) shards from the images pipeline: every output, once."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets import AtomicJSONDataset, AtomicParquetDataset
from gz_evo.datasets.pretraining import (
    CheckpointFileDataset,
    EncoderDataset,
    RankZeroDataset,
)
from gz_evo.datasets.shards import ShardsDataset
from gz_evo.models import load_encoder, load_model
from gz_evo.pipelines.pretraining import create_pipeline
from gz_evo.pipelines.pretraining.nodes import summarise_metrics
from tests.conftest import PROJECT_ROOT
from tests.pipelines.pretraining.conftest import SCHEMA
from tests.training.downstream import downstream_catalog

AUGMENT = {"output_size": 16, "crop_scale": [0.8, 0.9], "mean": [0.5] * 3, "std": [0.5] * 3}


def tiny_params(workdir: Path) -> dict:
    """conf/test's pretraining parameters, with the work folder under tmp_path."""
    text = (PROJECT_ROOT / "conf/test/parameters_pretraining.yml").read_text()
    params = yaml.safe_load(text)["pretraining"]
    params["workdir"] = str(workdir)
    params["data"]["batch_size"] = 4
    return params


def _catalog(tmp_path: Path, shards_path: Path) -> DataCatalog:
    out = tmp_path / "out"
    return DataCatalog(
        {
            "image_shards": ShardsDataset(path=str(shards_path)),
            "downstream_catalog": MemoryDataset(downstream_catalog(tmp_path)),
            "gz_evo_schema": MemoryDataset(SCHEMA.to_dict()),
            "params:pretraining": MemoryDataset(tiny_params(tmp_path / "work")),
            "params:images.augment": MemoryDataset(AUGMENT),
            "params:seed": MemoryDataset(0),
            "pretraining_checkpoint": CheckpointFileDataset(str(out / "model.ckpt")),
            "pretrained_encoder": EncoderDataset(str(out / "encoder")),
            "pretraining_test_predictions": AtomicParquetDataset(str(out / "predictions.parquet")),
            "pretraining_metrics": AtomicJSONDataset(str(out / "metrics.json")),
            "pretraining_mlflow_metrics": MemoryDataset(),
            "pretraining_history": AtomicParquetDataset(str(out / "history.parquet")),
            "params:pretraining_variants.hybrid": MemoryDataset(
                {
                    "method": "hybrid",
                    "workdir": str(tmp_path / "hybrid_work"),
                    "data": {"unlabelled_fraction": 1.0},
                }
            ),
            "hybrid.pretrained_encoder": EncoderDataset(str(out / "hybrid_encoder")),
            "hybrid.pretraining_metrics": AtomicJSONDataset(str(out / "hybrid_metrics.json")),
        }
    )


def test_pipeline_writes_checkpoint_encoder_predictions_and_metrics(
    tmp_path: Path, shards_path: Path
) -> None:
    data = _catalog(tmp_path, shards_path)
    SequentialRunner().run(create_pipeline(), data)
    out = tmp_path / "out"

    state = torch.load(out / "model.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] > 0
    encoder = load_encoder(out / "encoder")
    config = encoder.gz_evo_config
    assert config["architecture"] == "test_resnet" and config["image_size"] == 16
    assert config["normalisation"] == {"mean": [0.5] * 3, "std": [0.5] * 3}
    assert config["schema"]["name"] == SCHEMA.name
    assert config["augment"]["crop_scale"] == [0.8, 0.9]

    predictions = pd.read_parquet(out / "predictions.parquet")
    assert predictions["key"].str.startswith("t/").all() and predictions["key"].is_unique
    for column in SCHEMA.answer_columns:
        assert (predictions[f"{column}_lower"] <= predictions[f"{column}_upper"]).all()
    metrics = json.loads((out / "metrics.json").read_text())
    for name in ("val_loss", "val_uniform_loss", "test_loss", "test_coverage"):
        assert metrics[name] == metrics[name], name  # present and not NaN
    assert set(metrics["test_loss_per_campaign"]) == {"t"}
    assert 0 <= metrics["test_coverage"] <= 1
    mlflow_metrics = data.load("pretraining_mlflow_metrics")
    assert mlflow_metrics["test_loss"]["value"] == metrics["test_loss"]
    assert (
        mlflow_metrics["test_loss_per_campaign/t"]["value"]
        == metrics["test_loss_per_campaign"]["t"]
    )
    assert config["method"] == "supervised" and config["head"] == "dirichlet"
    assert config["metrics"]["test_loss"] == metrics["test_loss"]
    # the per-epoch history (CSV logs of the fit): one epoch, its losses per question
    history = pd.read_parquet(out / "history.parquet")
    assert history["epoch"].tolist() == [0] and history["step"].tolist() == [2]
    for column in ("train/loss", "val/loss", "val/loss_campaign/t", "val/loss_question/bar-t"):
        assert history[column].notna().all(), column
    assert "train/step_loss" not in history
    # no temporary files left beside the outputs
    assert not [p for p in out.iterdir() if p.name.startswith(".")]

    # the hybrid variant: its own work folder, method and metrics, the same schema and head
    hybrid = load_encoder(out / "hybrid_encoder").gz_evo_config
    assert hybrid["method"] == "hybrid" and hybrid["head"] == "dirichlet"
    assert (tmp_path / "hybrid_work" / "checkpoints" / "last.ckpt").is_file()
    hybrid_metrics = data.load("hybrid.pretraining_metrics")
    assert hybrid_metrics["test_loss"] > 0 and hybrid_metrics["test_loss"] != metrics["test_loss"]


def test_byol_is_one_parameter_away_and_scored_through_a_probe(
    tmp_path: Path, shards_path: Path
) -> None:
    from gz_evo.pipelines.pretraining.nodes import evaluate_model, export_encoder, fit_model

    shards = ShardsDataset(path=str(shards_path)).load()
    inputs = (SCHEMA.to_dict(), tiny_params(tmp_path / "work"), AUGMENT, 0, {"method": "byol"})
    checkpoint = fit_model(shards, None, *inputs)
    predictions, metrics, _, history, curves = evaluate_model(checkpoint, shards, *inputs)
    assert metrics["test_loss"] > 0 and len(predictions) > 0
    assert len(curves) == len(history) > 0
    assert {"epoch", "train/loss"} <= set(curves.columns) <= set(history.columns)
    assert not [c for c in curves.columns if "_question/" in c or "_campaign/" in c]
    bundle = export_encoder(checkpoint, metrics, *inputs)
    assert bundle["config"]["method"] == "byol" and bundle["config"]["head"] is None
    assert not any(name.startswith("head.") for name in bundle["state_dict"])
    EncoderDataset(str(tmp_path / "byol_encoder")).save(bundle)
    with pytest.raises(ValueError, match="without a supervised head"):
        load_model(tmp_path / "byol_encoder")
    assert load_encoder(tmp_path / "byol_encoder").gz_evo_config["method"] == "byol"


def test_unknown_method_stops_the_run_listing_the_known_ones(tmp_path: Path) -> None:
    from gz_evo.pipelines.pretraining.nodes import fit_model

    with pytest.raises(ValueError, match=r"known methods: byol, finetune, hybrid, supervised"):
        fit_model(
            None, None, SCHEMA.to_dict(), tiny_params(tmp_path), AUGMENT, 0, {"method": "simclr"}
        )


def test_only_rank_zero_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "metrics.json"
    dataset = RankZeroDataset(
        {"type": "gz_evo.datasets.AtomicJSONDataset", "filepath": str(target)}
    )
    monkeypatch.setenv("RANK", "1")
    dataset.save({"a": 1})
    assert not target.exists()
    assert dataset.load() is None  # rank 1 never reads what rank 0 may still be writing
    monkeypatch.setenv("RANK", "0")
    dataset.save({"a": 1})
    assert dataset.load() == {"a": 1}


def test_summary_nests_per_campaign_and_per_question_metrics() -> None:
    summary, mlflow_metrics = summarise_metrics(
        {
            "val/loss": 2.0,
            "test/loss": 3.0,
            "test/mae": 0.1,
            "test/loss_campaign/dr5": 4.0,
            "test/mae/bar-dr5": 0.1,
        }
    )
    assert summary == {
        "val_loss": 2.0,
        "test_loss": 3.0,
        "test_mae": 0.1,
        "test_loss_per_campaign": {"dr5": 4.0},
        "test_mae_per_question": {"bar-dr5": 0.1},
    }
    assert mlflow_metrics == {
        "val_loss": {"value": 2.0, "step": 0},
        "test_loss": {"value": 3.0, "step": 0},
        "test_mae": {"value": 0.1, "step": 0},
        "test_loss_per_campaign/dr5": {"value": 4.0, "step": 0},
        "test_mae_per_question/bar-dr5": {"value": 0.1, "step": 0},
    }
