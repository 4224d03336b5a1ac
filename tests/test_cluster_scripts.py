"""The cluster recipes launch the right command: scripts/slurm, scripts/torchrun, scripts/airflow.

The launchers are replaced by stand-ins that record their arguments (no SLURM or GPUs here);
the recorded ``kedro run`` must name the paper environment, the pretraining pipeline and
parameters that exist and type-check, with one process per GPU.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kedro.config import OmegaConfigLoader

from gz_evo.config import merged
from gz_evo.settings import CONFIG_LOADER_ARGS
from gz_evo.training.config import PretrainingConfig
from gz_evo.training.run import check_launch
from tests.conftest import PROJECT_ROOT

SCRIPTS = PROJECT_ROOT / "scripts"


def _stand_in(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A program ``name`` that writes its arguments, one per line, to a file."""
    bin_dir, record = tmp_path / "bin", tmp_path / f"{name}.args"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / name
    program.write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" > {record}\n')
    program.chmod(0o755)
    return program, record


def _kedro_params(argv: list[str]) -> dict:
    """``--params "a.b=1,c=d"`` of a ``kedro run`` command line as nested parameters."""
    text = argv[argv.index("--params") + 1]
    changes: dict = {}
    for item in text.split(","):
        key, value = item.split("=", 1)
        *parents, leaf = key.split(".")
        node = changes
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = yaml.safe_load(value)
    return changes


def _check_pretraining_launch(argv: list[str], world_size: int, monkeypatch) -> None:
    assert argv[argv.index("run") - 1].endswith("kedro")
    assert argv[argv.index("--env") + 1] == "paper"
    assert argv[argv.index("--pipelines") + 1] == "pretraining"
    params = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"), env="paper", **CONFIG_LOADER_ARGS
    )["parameters"]
    changes = _kedro_params(argv)
    assert set(changes) == {"pretraining"}
    config = PretrainingConfig.from_params(merged(params["pretraining"], changes["pretraining"]))
    trainer = config.trainer
    assert trainer.strategy == "ddp" and trainer.precision == "bf16-mixed"
    assert trainer.devices * trainer.num_nodes == world_size  # one process per GPU
    with pytest.raises(ValueError, match="needs a launcher"):
        check_launch(trainer)  # a plain `kedro run` with these settings is refused
    monkeypatch.setenv("RANK", "0")
    check_launch(trainer)  # ... and accepted under the launcher


def test_slurm_batch_script_launches_one_kedro_run_per_gpu(tmp_path, monkeypatch) -> None:
    script = SCRIPTS / "slurm" / "pretrain.sbatch"
    header = dict(
        line.removeprefix("#SBATCH --").split("=", 1)
        for line in script.read_text().splitlines()
        if line.startswith("#SBATCH --")
    )
    assert header["ntasks-per-node"] == header["gpus-per-node"]
    srun, record = _stand_in(tmp_path, "srun")
    env = {
        **os.environ,
        "PATH": f"{srun.parent}:{os.environ['PATH']}",
        "SLURM_SUBMIT_DIR": str(PROJECT_ROOT),
        "SLURM_NNODES": header["nodes"],
        "SLURM_NTASKS_PER_NODE": header["ntasks-per-node"],
        "SLURM_CPUS_PER_TASK": header["cpus-per-task"],
    }
    subprocess.run(["bash", str(script)], env=env, check=True, timeout=60)
    argv = record.read_text().splitlines()
    assert argv[0] == "--kill-on-bad-exit=1" and argv[1] == ".venv/bin/kedro"
    world = int(header["nodes"]) * int(header["ntasks-per-node"])
    _check_pretraining_launch(argv, world, monkeypatch)
    assert _kedro_params(argv)["pretraining"]["data"]["num_workers"] == int(header["cpus-per-task"])


def test_torchrun_script_launches_one_kedro_run_per_gpu(tmp_path, monkeypatch) -> None:
    torchrun, record = _stand_in(tmp_path, "torchrun")
    env = {
        **os.environ,
        "HEAD": "node0",
        "NNODES": "2",
        "GPUS_PER_NODE": "4",
        "TORCHRUN": str(torchrun),
    }
    subprocess.run(["bash", str(SCRIPTS / "torchrun" / "pretrain.sh")], env=env, check=True)
    argv = record.read_text().splitlines()
    command = shlex.join(argv[: argv.index("-m")])
    assert (
        command == "--nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint node0:29500"
    )
    assert argv[argv.index("-m") + 1] == "kedro"
    _check_pretraining_launch(["kedro", *argv[argv.index("-m") + 2 :]], 8, monkeypatch)


def _dag_tasks(source: str) -> tuple[dict[str, list[str]], set[tuple[str, str]]]:
    """``({task id: its Kedro node names}, {(upstream task, downstream task)})`` of a DAG file."""
    import ast

    tasks, edges = {}, set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            decorator = node.decorator_list[0]
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "task":
                (keyword,) = decorator.keywords
                call = node.body[0].value
                names = next(k.value for k in call.keywords if k.arg == "node_names")
                tasks[keyword.value.value] = [ast.literal_eval(e) for e in names.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
            edges.add((node.left.slice.value, node.right.slice.value))
    return tasks, edges


@pytest.mark.slow
def test_airflow_dag_is_kedro_airflows_and_names_every_node(project_copy: Path) -> None:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    committed = SCRIPTS / "airflow" / "gz_evo_dag.py"
    kedro = Path(sys.executable).with_name("kedro")
    subprocess.run(
        [
            str(kedro),
            "airflow",
            "create",
            "--pipelines",
            "__default__",
            "--env",
            "local",
            "--group-by",
            "memory",
            "--target-dir",
            "dags",
        ],
        cwd=project_copy,
        check=True,
        capture_output=True,
        timeout=600,
    )
    generated = (project_copy / "dags" / "gz_evo_dag.py").read_text()
    assert generated == committed.read_text(), "stale DAG: run `make airflow-dag`"
    tasks, edges = _dag_tasks(generated)
    bootstrap_project(project_copy)
    pipeline = pipelines["__default__"]
    names = [name for group in tasks.values() for name in group]
    assert sorted(names) == sorted(node.name for node in pipeline.nodes)  # each node once
    task_of = {name: task for task, group in tasks.items() for name in group}
    for consumer in pipeline.nodes:  # every data dependency between tasks is an edge
        for producer in pipeline.nodes:
            if set(producer.outputs) & set(consumer.inputs):
                upstream, downstream = task_of[producer.name], task_of[consumer.name]
                assert upstream == downstream or (upstream, downstream) in edges
