"""DVC on a fresh copy of the project: repro, metrics, an experiment, a remote round trip.

In a throwaway git repository holding the project's files (tracked and new, as in the working
tree) with the `demo` stage's tiny universe (conf/test's demo parameters in conf/base), the user
commands of the README's DVC section run for real: `dvc repro demo`, `dvc metrics show`, a
commit's metrics (from the DVC cache), `dvc exp run -S ...` and `dvc exp show`, `dvc push` to a
local remote, the cache and the outputs deleted, `dvc pull` restoring them byte for byte, and a
second `dvc repro` with nothing to do. Nothing reaches the network, the project's data, its DVC
cache or the user's DVC configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gz_evo.datasets import AtomicCSVDataset
from gz_evo.training.run import history_curves
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

STAGE = "demo"
METRICS = "data/08_reporting/demo_summary.json"


def _run(repo: Path, env: dict, *command: str) -> str:
    result = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _project_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (PROJECT_ROOT / name).is_file()]


def _fresh_repository(tmp_path: Path) -> tuple[Path, dict]:
    """The working tree's files in a new git repository, and an environment that isolates it."""
    repo = tmp_path / "repo"
    for name in _project_files():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, repo / name)
    shutil.copy(repo / "conf/test/parameters_demo.yml", repo / "conf/base/parameters_demo.yml")
    (repo / "conf/local").mkdir(exist_ok=True)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(repo / "src"),
        "GZ_EVO_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / "dvc-site-cache"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / "dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / "dvc-system"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "gz_evo test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "gz_evo test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
        "COLUMNS": "200",
    }
    _run(repo, env, "git", "init", "-q", "-b", "main")
    _run(repo, env, "git", "add", "-A")
    _run(repo, env, "git", "commit", "-q", "-m", "project with the tiny demo universe")
    _run(repo, env, "dvc", "config", "--local", "cache.dir", str(tmp_path / "cache"))
    _run(repo, env, "dvc", "remote", "add", "--local", "-d", "store", str(tmp_path / "remote"))
    return repo, env


def _cached_outputs(repo: Path) -> list[str]:
    """The stage's outputs that DVC caches (and pushes)."""
    stage = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][STAGE]
    entries = [o if isinstance(o, dict) else {o: None} for o in stage["outs"]]
    return [path for o in entries for path, props in o.items() if (props or {}).get("cache", True)]


def _hashes(repo: Path, outputs: list[str]) -> dict[str, str]:
    files = {}
    for out in outputs:
        root = repo / out
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file():
                files[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _galaxies(universe: dict) -> int:
    groups = [*universe["campaigns"].values(), universe["unlabelled"], universe["downstream"]]
    return sum(group["n"] for group in groups)


def _experiment_metrics(shown: list[dict]) -> dict[str, dict]:
    """`dvc exp show --json`: experiment name -> its demo metrics."""
    found = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                metrics = (rev.get("data") or {}).get("metrics", {}).get(METRICS, {})
                found[rev.get("name") or rev["rev"]] = metrics.get("data", metrics)
    return found


def test_repro_metrics_experiment_and_remote_round_trip(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs git and the project's git checkout")
    repo, env = _fresh_repository(tmp_path)
    tiny = yaml.safe_load((repo / "conf/base/parameters_demo.yml").read_text())["demo"]

    _run(repo, env, "dvc", "repro", STAGE)
    shown = json.loads(_run(repo, env, "dvc", "metrics", "show", "--json", METRICS))
    assert shown[""]["data"][METRICS]["data"]["galaxies"] == _galaxies(tiny)

    # Git picks up dvc.lock, no outputs; the metrics are read from the DVC cache for the commit
    untracked = _run(repo, env, "git", "status", "--porcelain", "--untracked-files=all")
    assert "dvc.lock" in untracked and "data/" not in untracked, untracked
    _run(repo, env, "git", "add", "-A")
    _run(repo, env, "git", "commit", "-q", "-m", "demo stage run")
    committed = json.loads(_run(repo, env, "dvc", "metrics", "show", "--json", "-a", METRICS))
    assert committed["main"]["data"][METRICS]["data"]["galaxies"] == _galaxies(tiny)

    # an experiment: one more DECaLS DR5 galaxy; its metrics are part of the experiment
    dr5 = tiny["campaigns"]["dr5"]["n"] + 1
    _run(
        repo,
        env,
        "dvc",
        "exp",
        "run",
        "-n",
        "more-dr5",
        "-S",
        f"conf/base/parameters_demo.yml:demo.campaigns.dr5.n={dr5}",
        STAGE,
    )
    experiments = _experiment_metrics(json.loads(_run(repo, env, "dvc", "exp", "show", "--json")))
    assert experiments["more-dr5"]["galaxies_dr5"] == dr5
    assert experiments["more-dr5"]["galaxies"] == _galaxies(tiny) + 1

    # `dvc plots show` draws the per-epoch curves from the CSVs the pretraining stage writes
    history = pd.DataFrame(
        {"epoch": [0, 1], "step": [9, 19], "train/loss": [3.0, 2.0], "val/loss": [3.5, 2.5]}
    )
    history["val/loss_question/bar-dr5"] = [1.0, 0.5]
    for prefix in ("", "hybrid_"):
        path = repo / f"data/08_reporting/{prefix}pretraining_history_plot.csv"
        AtomicCSVDataset(str(path)).save(history_curves(history))
    plots = json.loads(_run(repo, env, "dvc", "plots", "show", "--json", "pretraining_loss"))
    assert "errors" not in plots["data"]["pretraining_loss"][0]
    assert len(plots["data"]["pretraining_loss"][0]["content"]["data"]["values"]) == 2 * 2 * 2
    for prefix in ("", "hybrid_"):
        (repo / f"data/08_reporting/{prefix}pretraining_history_plot.csv").unlink()

    # remote round trip: push, lose the cache and every cached output, pull them back
    outputs = _cached_outputs(repo)
    before = _hashes(repo, outputs)
    assert len(before) > 20
    _run(repo, env, "dvc", "push", STAGE)
    shutil.rmtree(tmp_path / "cache")
    for out in outputs:
        shutil.rmtree(repo / out) if (repo / out).is_dir() else (repo / out).unlink()
    assert "not in cache" in _run(repo, env, "dvc", "status", STAGE)
    _run(repo, env, "dvc", "pull", STAGE)
    assert _hashes(repo, outputs) == before

    # nothing left to do
    assert "up to date" in _run(repo, env, "dvc", "status", STAGE)
    second = _run(repo, env, "dvc", "repro", STAGE)
    assert "Data and pipelines are up to date." in second, second
