"""Two CPU processes (gloo, ddp_spawn) train one model, logging epochs into one MLflow run.

The kill-and-resume test runs a real `kedro run`: tests/pipelines/pretraining/test_resume.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from tests.training.synthetic import evaluate, train

pytestmark = pytest.mark.slow


def test_two_cpu_processes_train_one_model_with_one_mlflow_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gz_evo.schema import load_schema

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    schema = load_schema(["dr5", "gz2"])
    mlflow.set_experiment("ddp")
    with mlflow.start_run() as parent:
        checkpoint, datamodule, config = train(
            schema, tmp_path / "work", strategy="ddp_spawn", devices=2, max_epochs=2
        )
        # still open: the run's owner (kedro-mlflow, here the test) ends it, not Lightning
        assert mlflow.MlflowClient(uri).get_run(parent.info.run_id).info.status == "RUNNING"
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([parent.info.experiment_id])
    assert [r.info.run_id for r in runs] == [parent.info.run_id]  # one MLflow run, no extras
    history = client.get_metric_history(parent.info.run_id, "val/loss")
    assert len(history) == 2  # one value per epoch: rank 1 logged nothing
    checkpoints = sorted(p.name for p in (tmp_path / "work" / "checkpoints").iterdir())
    assert checkpoints == ["best.ckpt", "last.ckpt"]
    assert evaluate(schema, checkpoint, datamodule, config)["test/loss"] > 0
    # two ranks of 16 galaxies each per epoch: 32 train galaxies / (2 x 16) = 1 step per epoch
    done = json.loads((tmp_path / "work" / "done.json").read_text())
    assert done["global_step"] == 2
