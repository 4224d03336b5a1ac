"""The README's cluster launches, on CPU: 2 ranks of `kedro run`, strategy ddp, gloo.

Every rank runs the whole Kedro session, so this checks what ddp_spawn cannot: kedro-mlflow off on
rank 1, rank 0 evaluating alone after rank 1 has left, and one set of outputs. torchrun is run as
the README shows it; srun is not installed here, so its launch is two processes with the SLURM
variables srun sets (Lightning's ``SLURMEnvironment`` reads them).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from tests.pipelines.pretraining.conftest import PretrainingProject

pytestmark = pytest.mark.slow

PARAMS = (
    "pretraining.trainer.accelerator=cpu,pretraining.trainer.devices=2,"
    "pretraining.trainer.strategy=ddp,pretraining.trainer.max_epochs=2"
)
KEDRO_RUN = ["run", "--pipelines", "pretraining", "--env", "test", "--params", PARAMS]
TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _torchrun(cwd: Path, env: dict) -> tuple[int, str]:
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "kedro", *KEDRO_RUN]
    result = subprocess.run(
        command, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    return result.returncode, result.stdout + result.stderr


def _srun(cwd: Path, env: dict) -> tuple[int, str]:
    kedro = Path(sys.executable).with_name("kedro")
    slurm = {"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NODEID": "0",
             "SLURM_NODELIST": "localhost", "SLURM_JOB_NAME": "pretrain", "SLURM_JOB_ID": "1",
             "MASTER_PORT": str(_free_port())}  # fmt: skip
    logs = [cwd / f"rank{rank}.log" for rank in range(2)]  # files: a full pipe would deadlock
    with contextlib.ExitStack() as files:
        ranks = [
            subprocess.Popen(
                [str(kedro), *KEDRO_RUN],
                cwd=cwd,
                env={**env, **slurm, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)},
                stdout=files.enter_context(log.open("w")),
                stderr=subprocess.STDOUT,
            )
            for rank, log in enumerate(logs)
        ]
        for rank in ranks:
            rank.wait(timeout=TIMEOUT_S)
    return max(rank.returncode for rank in ranks), "\n".join(log.read_text() for log in logs)


@pytest.mark.parametrize("launch", [_torchrun, _srun], ids=["torchrun", "srun"])
def test_two_cpu_ranks_give_one_model_and_one_mlflow_run(
    launch, pretraining_project: PretrainingProject
) -> None:
    project_copy = pretraining_project.root
    returncode, log = launch(project_copy, pretraining_project.env)
    log = re.sub(r"\s+", " ", log)
    assert returncode == 0, log[-4000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log  # two ranks really trained together
    assert (project_copy / "data/06_models/gz_evo_encoder/encoder.safetensors").is_file()
    assert (project_copy / "data/06_models/gz_evo_pretrained.ckpt").is_file()
    assert (project_copy / "data/06_models/hybrid_encoder/encoder.safetensors").is_file()
    reporting = project_copy / "data/08_reporting"
    for name in ("pretraining_metrics.json", "hybrid_pretraining_metrics.json"):
        assert json.loads((reporting / name).read_text())["test_loss"] > 0, name

    # one kedro run, one MLflow run; the hybrid encoder's epochs in its child run
    client = mlflow.MlflowClient(f"sqlite:///{pretraining_project.store}")
    runs = client.search_runs([client.get_experiment_by_name("gz_evo").experiment_id])
    assert {run.info.status for run in runs} == {"FINISHED"}
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    assert len(parents) == 1 and [run.info.run_name for run in children] == ["pretraining-hybrid"]
    parent = parents[0]
    assert children[0].data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.params["pretraining.trainer.strategy"] == "ddp"
    assert {"pretraining.test_loss", "hybrid.pretraining.test_loss"} <= set(parent.data.metrics)
    assert "val/byol_loss" in children[0].data.metrics
