"""Killed runs resume from their last checkpoint; two CPU processes (gloo) train one model."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import torch

from tests.conftest import PROJECT_ROOT
from tests.models import resume_script
from tests.models.test_training import run

pytestmark = pytest.mark.slow


def test_a_killed_run_resumes_from_its_last_checkpoint_and_finishes(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    command = [sys.executable, "-m", "tests.models.resume_script", str(workdir)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    last = workdir / "checkpoints" / "last.ckpt"
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while not last.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert last.is_file(), process.communicate()[0].decode()[-3000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (workdir / "done.json").exists(), "the run must be killed before it finishes"
    killed_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert killed_at > 0

    finished = subprocess.run(
        command, check=False, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    log = finished.stdout + finished.stderr
    assert "resuming pretraining from" in log
    started = re.search(r"training starts at global step (\d+)", log)
    assert started is not None and int(started.group(1)) >= killed_at
    steps_per_epoch = resume_script.GALAXIES // resume_script.BATCH
    done = json.loads((workdir / "done.json").read_text())
    assert done["global_step"] == resume_script.EPOCHS * steps_per_epoch
    assert "FINISHED" in log


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
        result = run(
            schema,
            tmp_path / "work",
            strategy="ddp_spawn",
            devices=2,
            max_epochs=2,
        )
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([parent.info.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 2 and len(children) == 1  # kedro's (here: the test's) run + one fit run
    history = client.get_metric_history(children[0].info.run_id, "val/loss")
    assert len(history) == 2  # one value per epoch: rank 1 logged nothing
    assert "final/test/loss" in children[0].data.metrics
    checkpoints = sorted(p.name for p in (tmp_path / "work" / "checkpoints").iterdir())
    assert checkpoints == ["best.ckpt", "last.ckpt"]
    assert result.encoder is not None and len(result.predictions) == 16
    # two ranks of 16 galaxies each per epoch: 32 train galaxies / (2 x 16) = 1 step per epoch
    done = json.loads((tmp_path / "work" / "done.json").read_text())
    assert done["global_step"] == 2
