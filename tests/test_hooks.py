"""The project's hooks: the input checksums (which inputs, how files and folders are fingerprinted)
and the MLflow run's tags (git, pipelines, no machine paths; after kedro-mlflow, rank 0 only)."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from gz_evo.datasets import AtomicJSONDataset
from gz_evo.datasets.raw import RawCatalog
from gz_evo.hooks import (
    InputChecksumHooks,
    MlflowRunTagsHooks,
    dataset_paths,
    fingerprint,
    folder_manifest,
    git_state,
    run_tags,
    without_machine_paths,
)
from tests.gz_fixtures import LogLines


def test_a_file_gets_its_sha256_and_a_folder_its_manifest(tmp_path: Path) -> None:
    (tmp_path / "images" / "a").mkdir(parents=True)
    (tmp_path / "images" / "a" / "x.png").write_bytes(b"12345")
    (tmp_path / "images" / "y.png").write_bytes(b"123")
    table = tmp_path / "votes.csv"
    table.write_text("id\n1\n")
    digest = hashlib.sha256(b"id\n1\n").hexdigest()
    assert fingerprint(table) == f"{table} sha256={digest} (5 bytes)"
    count, size, manifest = folder_manifest(tmp_path / "images")
    assert (count, size) == (2, 8)
    (tmp_path / "images" / "y.png").write_bytes(b"1234")  # a file changes size
    assert folder_manifest(tmp_path / "images")[2] != manifest
    changed = folder_manifest(tmp_path / "images")[2]
    assert fingerprint(tmp_path / "images").endswith(f"2 files, 9 bytes, manifest sha256={changed}")


def test_paths_come_from_a_raw_catalog_or_the_dataset_description(tmp_path: Path) -> None:
    for name in ("a.parquet", "b.parquet", "map.csv"):
        (tmp_path / name).write_text("x")
    raw = RawCatalog(paths=(tmp_path / "a.parquet",), image_dir=tmp_path,
                     files={"filename_mapping": tmp_path / "map.csv"})  # fmt: skip
    assert dataset_paths(None, raw) == [tmp_path / "a.parquet", tmp_path, tmp_path / "map.csv"]
    dataset = AtomicJSONDataset(str(tmp_path / "b.parquet"))
    assert dataset_paths(dataset, None) == [tmp_path / "b.parquet"]
    assert dataset_paths(MemoryDataset(1), 1) == []


def test_only_the_runs_inputs_are_logged_once_each(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text("[1]")
    catalog = DataCatalog({"source": AtomicJSONDataset(str(source)),
                           "middle": AtomicJSONDataset(str(tmp_path / "mid.json"))})  # fmt: skip
    pipeline = Pipeline([Node(lambda x: x, "source", "middle", name="copy"),
                         Node(lambda x: x, "middle", "out", name="again")])  # fmt: skip
    hooks, lines = InputChecksumHooks(), LogLines()
    logger = logging.getLogger("gz_evo.inputs")
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    try:
        hooks.before_pipeline_run({"run_id": "r1", "env": "test"}, pipeline, catalog)
        hooks.after_dataset_loaded("source", [1], None)
        hooks.after_dataset_loaded("source", [1], None)
        hooks.after_dataset_loaded("middle", [1], None)  # written by the run: not an input
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    inputs = [line for line in lines.lines if line.startswith("input ")]
    digest = hashlib.sha256(b"[1]").hexdigest()
    assert inputs == [f"input source: {source} sha256={digest} (3 bytes)"]
    assert lines.lines[0].startswith("kedro run r1: pipelines __default__, env test")


# ---- MLflow run tags ---------------------------------------------------------------------------


def _git(project: Path, *args: str) -> str:
    command = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    return subprocess.run([*command, *args], check=True, capture_output=True, text=True).stdout


def test_git_state_gives_the_commit_and_whether_tracked_files_changed(tmp_path: Path) -> None:
    assert git_state(tmp_path) == {}  # not a checkout
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "init", "-q", "-b", "trunk")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    commit = _git(tmp_path, "rev-parse", "HEAD").strip()
    (tmp_path / "untracked.txt").write_text("data")
    assert git_state(tmp_path) == {"commit": commit, "dirty": "false", "branch": "trunk"}
    (tmp_path / "a.txt").write_text("2")
    assert git_state(tmp_path)["dirty"] == "true"


RUN_PARAMS = {
    "project_path": "/srv/me/gz_evo",
    "pipeline_names": ["gz_evo", "pretraining"],
    "namespaces": ["main"],
}
KEDRO_MLFLOW_TAGS = {  # what kedro-mlflow and MLflow set on a run of /srv/me/gz_evo
    "project_path": "/srv/me/gz_evo",
    "env": "local",
    "mlflow.source.name": "/srv/me/gz_evo/.venv/bin/kedro",
    "mlflow.source.git.commit": "f" * 40,  # found beside the venv's script: another checkout
    "mlflow.source.git.repoURL": "/srv/me/elsewhere",
    "runtime_params": "{'predict': {'catalog': '/srv/me/gz_evo/data/x.csv'}, 'o': '/home/me/y'}",
    "kedro_command": "kedro run --pipeline=gz_evo,pretraining",
    "runner": "<kedro.runner.sequential_runner.SequentialRunner object at 0x7fcf9bfb7950>",
}


def test_run_tags_add_git_and_pipelines_and_leave_no_machine_path() -> None:
    git = {"commit": "a" * 40, "dirty": "true", "branch": "main"}
    new, delete = run_tags(KEDRO_MLFLOW_TAGS, RUN_PARAMS, git, Path("/home/me"))
    assert sorted(delete) == ["mlflow.source.git.repoURL", "project_path"]
    assert new == {
        "kedro_pipelines": "gz_evo+pretraining",
        "kedro_namespaces": "main",
        "git_commit": "a" * 40,
        "git_dirty": "true",
        "mlflow.source.git.commit": "a" * 40,
        "mlflow.source.git.branch": "main",
        "mlflow.source.name": "kedro",
        "runner": "SequentialRunner",
        "runtime_params": "{'predict': {'catalog': './data/x.csv'}, 'o': '~/y'}",
    }
    # outside a checkout: the commit is unknown and MLflow's guess goes
    new, delete = run_tags(KEDRO_MLFLOW_TAGS, {"project_path": "/srv/me/gz_evo"}, {}, None)
    assert new["git_commit"] == "unknown" and "git_dirty" not in new
    assert new["kedro_pipelines"] == "__default__"
    assert "mlflow.source.git.commit" in delete


def test_a_folder_is_replaced_where_it_is_named_whole() -> None:
    home = Path("/home/ann")
    text = "/home/ann/x, /home/anna/y, '/home/ann'] /srv/p/data /srv/pp"
    assert (
        without_machine_paths(text, Path("/srv/p"), home)
        == "~/x, /home/anna/y, '~'] ./data /srv/pp"
    )


def test_the_tags_hook_runs_after_kedro_mlflows_and_on_rank_zero_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from kedro.framework.hooks.manager import _create_hook_manager
    from kedro_mlflow.framework.hooks import MlflowHook

    ours, theirs = MlflowRunTagsHooks(), MlflowHook()
    # a session registers settings.HOOKS before plugins; ours comes last either way (trylast)
    for order in ((ours, theirs), (theirs, ours)):
        manager = _create_hook_manager()
        for hooks in order:
            manager.register(hooks)
        impls = manager.hook.before_pipeline_run.get_hookimpls()
        called = [impl.plugin for impl in reversed(impls)]  # pluggy calls the list backwards
        assert called.index(theirs) < called.index(ours)

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_params = {"project_path": str(tmp_path), "pipeline_names": ["demo"]}
    with mlflow.start_run() as run:
        mlflow.set_tag("project_path", str(tmp_path))
        monkeypatch.setenv("RANK", "1")
        ours.before_pipeline_run(run_params, None, None)
        assert "kedro_pipelines" not in mlflow.get_run(run.info.run_id).data.tags
        monkeypatch.delenv("RANK")
        ours.before_pipeline_run(run_params, None, None)
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["kedro_pipelines"] == "demo" and tags["git_commit"] == "unknown"
    assert "project_path" not in tags
