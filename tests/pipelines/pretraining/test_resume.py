"""Kill a real `kedro run --pipelines pretraining`, rerun it: it resumes and finishes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import torch

from tests.pipelines.pretraining.conftest import PretrainingProject

pytestmark = pytest.mark.slow

EPOCHS = 12
PARAMS = (
    f"pretraining.trainer.max_epochs={EPOCHS},pretraining.data.batch_size=4,"
    "pretraining.trainer.limit_train_batches=null,pretraining.trainer.limit_val_batches=null"
)


def _kedro(project: Path) -> list[str]:
    kedro = Path(sys.executable).with_name("kedro")
    # the main encoder alone: the kill waits for its checkpoint, not for the hybrid encoder's fit
    return [
        str(kedro), "run", "--pipelines", "pretraining", "--namespaces", "main",
        "--env", "test", "--params", PARAMS,
    ]  # fmt: skip


def test_killed_kedro_run_resumes_from_the_last_checkpoint(
    pretraining_project: PretrainingProject,
) -> None:
    project_copy, env = pretraining_project.root, pretraining_project.env
    work = project_copy / "data/06_models/pretraining_work"
    last = work / "checkpoints/last.ckpt"
    encoder = project_copy / "data/06_models/gz_evo_encoder"

    process = subprocess.Popen(
        _kedro(project_copy), cwd=project_copy, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 150
    while not last.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert last.is_file(), process.communicate()[0].decode()[-4000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (work / "done.json").exists(), "killed too late: the run had already finished"
    assert not encoder.exists()  # no output half-written
    killed_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]

    rerun = subprocess.run(
        _kedro(project_copy), check=False, cwd=project_copy, env=env,
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    log = re.sub(r"\s+", " ", rerun.stdout + rerun.stderr)
    assert rerun.returncode == 0, log[-4000:]
    assert "resuming pretraining from" in log
    started = re.search(r"training starts at global step (\d+)", log)
    assert started is not None and int(started.group(1)) >= killed_at > 0
    assert json.loads((work / "done.json").read_text())["global_step"] > int(started.group(1))
    assert (encoder / "encoder.safetensors").is_file()
    metrics = json.loads((project_copy / "data/08_reporting/pretraining_metrics.json").read_text())
    assert metrics["epochs"] <= EPOCHS and metrics["test_loss"] > 0

    client = mlflow.MlflowClient(f"sqlite:///{pretraining_project.store}")
    runs = client.search_runs([client.get_experiment_by_name("gz_evo").experiment_id])
    finished = [r for r in runs if r.info.status == "FINISHED"]
    assert any("pretraining.test_loss" in r.data.metrics for r in finished)
