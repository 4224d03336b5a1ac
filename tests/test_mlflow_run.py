"""A `kedro run`'s MLflow run is worth opening: artifacts, git and pipeline tags, no machine paths.

One tiny run (module scope) of the merged schema, the images and the main encoder's pretraining,
in a git checkout of its own under tmp, writes a private sqlite store. The first test reads it
with the MLflow client and loads the encoder back as the README says; the second starts
`mlflow server` on loopback against the same store and finds everything through the REST API.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from gz_evo.models import load_encoder
from tests.conftest import PROJECT_ROOT
from tests.images.galaxies import catalog, unlabelled
from tests.test_readme import BLOCKS as README_BLOCKS
from tests.training.downstream import downstream_catalog

pytestmark = pytest.mark.slow

PIPELINES = ["gz_evo", "images", "pretraining"]
#: everything but merge_catalogs (its vote tables are not needed: the merged table is made here)
#: and the hybrid encoder
NODES = [
    "build_merged_schema",
    "summarise_schema",
    "summarise_catalog",
    "write_image_shards",
    "accept_image_shards",
    "main.fit_model",
    "main.evaluate_model",
    "main.export_encoder",
]
#: a campaign of the tests' galaxies (tests.images.galaxies.ANSWERS)
CAMPAIGN = """\
name: t
title: The tests' galaxies
suffix: -t
questions:
  - {name: smooth-or-featured, answers: [smooth, featured], depends_on: null}
  - {name: bar, answers: ["yes", "no"], depends_on: null}
"""
GZ_EVO_PARAMS = "gz_evo:\n  schema: [t]\n  splits: {train: 0.8, val: 0.1, test: 0.1}\n"
ARTIFACTS = {
    "gz_evo": ["gz_evo_schema.json", "gz_evo_schema_metrics.json", "gz_evo_summary.json"],
    "images": ["images_bad_report.parquet", "images_metrics.json"],
    "pretraining": ["gz_evo_encoder", "pretraining_history.parquet", "pretraining_metrics.json"],
    "pretraining/gz_evo_encoder": ["encoder.safetensors", "encoder_config.json"],
}


@dataclass(frozen=True)
class TinyRun:
    project: Path
    store: Path
    commit: str
    run_id: str

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.store}"


def _git(project: Path, *args: str) -> str:
    command = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    return subprocess.run([*command, *args], check=True, capture_output=True, text=True).stdout


def _project(root: Path) -> None:
    """The project's conf (plus the test campaign), its tiny inputs, and a git commit of it."""
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    for folder in ("conf/local", "src", "logs"):
        (root / folder).mkdir()
    (root / "conf/base/campaigns/t.yaml").write_text(CAMPAIGN)
    (root / "conf/test/parameters_gz_evo.yml").write_text(GZ_EVO_PARAMS)
    primary, intermediate = root / "data/03_primary", root / "data/02_intermediate"
    primary.mkdir(parents=True)
    (intermediate / "downstream").mkdir(parents=True)
    table = catalog(root / "data/01_raw/images", n=36, embed_every=0)
    table["image_path"] = [str(Path(p).relative_to(root)) for p in table["image_path"]]
    table.to_parquet(primary / "gz_evo_catalog.parquet")
    extra = unlabelled(root / "data/01_raw", n=4)
    extra["image_path"] = [str(Path(p).relative_to(root)) for p in extra["image_path"]]
    extra.to_parquet(primary / "gz_evo_unlabelled.parquet")
    downstream_catalog(intermediate / "downstream").to_parquet(
        intermediate / "downstream_catalog.parquet"
    )
    _git(root, "init", "-q")
    _git(root, "add", "conf", "pyproject.toml")
    _git(root, "commit", "-q", "-m", "tiny project")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyRun]:
    root = tmp_path_factory.mktemp("mlflow_project")
    _project(root)
    store = root / "mlflow.db"  # where the default GZ_EVO_MLFLOW_URI puts it (the README's)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("GZ_EVO_MLFLOW_URI", f"sqlite:///{store}")
        for launcher_variable in ("RANK", "SLURM_PROCID"):
            patch.delenv(launcher_variable, raising=False)
        bootstrap_project(root)
        # batches of 4 of the 12 training galaxies: a training loss curve of 3 steps
        runtime_params = {"pretraining": {"data": {"batch_size": 4}}}
        with KedroSession.create(
            project_path=root, env="test", runtime_params=runtime_params
        ) as session:
            session.run(pipeline_names=PIPELINES, node_names=NODES)
        while mlflow.active_run() is not None:
            mlflow.end_run()
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store}")
        runs = client.search_runs([client.get_experiment_by_name("gz_evo").experiment_id])
        (top,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        commit = _git(root, "rev-parse", "HEAD").strip()
        yield TinyRun(root, store, commit, top.info.run_id)


def _machine_paths(project: Path) -> list[str]:
    """Absolute paths of this machine that a run must not hold: the tmp project, this checkout,
    the venv, the home folder."""
    paths = {str(project), str(project.resolve()), str(PROJECT_ROOT), sys.prefix}
    home = Path.home()
    if str(home) != "/":
        paths.add(str(home))
    return sorted(paths)


def test_the_run_has_the_git_commit_the_pipelines_and_no_machine_paths(tiny_run: TinyRun) -> None:
    client = mlflow.MlflowClient(tracking_uri=tiny_run.uri)
    run = client.get_run(tiny_run.run_id)
    tags = run.data.tags
    assert tags["git_commit"] == tags["mlflow.source.git.commit"] == tiny_run.commit
    assert tags["git_dirty"] == "false"  # the tracked files are as committed (data is untracked)
    assert tags["kedro_pipelines"] == "gz_evo+images+pretraining"
    assert "project_path" not in tags
    assert tags["mlflow.runName"] == "gz_evo+images+pretraining"
    runs = client.search_runs([run.info.experiment_id])
    for one in runs:
        values = {**one.data.tags, **one.data.params}
        for path in _machine_paths(tiny_run.project):
            found = {key: value for key, value in values.items() if path in value}
            assert not found, f"run {one.info.run_name} names {path}: {found}"
    assert "pretraining.workdir" in run.data.params


def test_the_run_holds_the_schema_summaries_and_the_encoder(tiny_run: TinyRun) -> None:
    client = mlflow.MlflowClient(tracking_uri=tiny_run.uri)
    for folder, names in ARTIFACTS.items():
        listed = [a.path for a in client.list_artifacts(tiny_run.run_id, folder)]
        assert listed == [f"{folder}/{name}" for name in names], folder
    project = tiny_run.project
    schema = mlflow.artifacts.download_artifacts(
        run_id=tiny_run.run_id,
        artifact_path="gz_evo/gz_evo_schema.json",
        tracking_uri=tiny_run.uri,
    )
    assert json.loads(Path(schema).read_text()) == json.loads(
        (project / "data/03_primary/gz_evo_schema.json").read_text()
    )
    # the README's lines, in the project folder: the encoder of the newest run, back from MLflow
    block = next(b for b in README_BLOCKS if '"pretraining/gz_evo_encoder"' in b)
    block = block.replace("'__default__'", "'gz_evo+images+pretraining'")
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        exec(block, namespace)
    assert namespace["runs"][0].info.run_id == tiny_run.run_id
    encoder = namespace["encoder"]
    local = load_encoder(project / "data/06_models/gz_evo_encoder")
    assert encoder.gz_evo_config == local.gz_evo_config
    state, expected = encoder.state_dict(), local.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[k], expected[k]) for k in state)
    history = pd.read_parquet(
        mlflow.artifacts.download_artifacts(
            run_id=tiny_run.run_id,
            artifact_path="pretraining/pretraining_history.parquet",
            tracking_uri=tiny_run.uri,
        )
    )
    assert len(history) >= 1 and "epoch" in history.columns


# ---- the REST API of `mlflow server` ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(base: str, route: str, **query) -> dict:
    url = f"{base}/api/2.0/mlflow/{route}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _post(base: str, route: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base}/api/2.0/mlflow/{route}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_until_up(base: str, server: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited ({server.returncode}): {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"mlflow server not up after {seconds} s: {log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (uvicorn and its workers), SIGKILL if it lingers."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=20)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_mlflow_server_serves_the_run_its_parameters_metrics_and_artifacts(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    log = tmp_path / "server.log"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(log, "w") as output:
        server = subprocess.Popen(
            [str(mlflow_cli), "server", "--backend-store-uri", tiny_run.uri,
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_until_up(base, server, log)
        experiment = _get(base, "experiments/get-by-name", experiment_name="gz_evo")["experiment"]
        found = _post(
            base,
            "runs/search",
            {
                "experiment_ids": [experiment["experiment_id"]],
                "filter": "tags.kedro_pipelines = 'gz_evo+images+pretraining'",
            },
        )["runs"]
        (run,) = [r for r in found if r["info"]["run_id"] == tiny_run.run_id]
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        assert tags["git_commit"] == tiny_run.commit
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        assert params["gz_evo.schema"] == "['t']"
        assert params["pretraining.data.batch_size"] == "4"
        # the training loss of every step: a curve, not a point
        history = _get(
            base, "metrics/get-history", run_id=tiny_run.run_id, metric_key="train/step_loss"
        )["metrics"]
        assert [m["step"] for m in history] == sorted(m["step"] for m in history)
        assert len({m["step"] for m in history}) > 1
        assert all(m["value"] > 0 for m in history)
        for folder, names in ARTIFACTS.items():
            listed = _get(base, "artifacts/list", run_id=tiny_run.run_id, path=folder)["files"]
            assert [f["path"] for f in listed] == [f"{folder}/{name}" for name in names]
        bundle = _get(
            base, "artifacts/list", run_id=tiny_run.run_id, path="pretraining/gz_evo_encoder"
        )["files"]
        (weights,) = [f for f in bundle if f["path"].endswith("encoder.safetensors")]
        local = tiny_run.project / "data/06_models/gz_evo_encoder/encoder.safetensors"
        assert int(weights["file_size"]) == local.stat().st_size
    finally:
        _stop(server)
    assert server.returncode is not None
    assert not _group_alive(server.pid), "a process of the mlflow server outlived it"
