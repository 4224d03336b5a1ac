"""make run's last step: outputs that match dvc.lock go into DVC's cache; real differences stay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gz_evo.dvc_cache import cache_matching_outputs

DVC_YAML = """\
stages:
  same:
    cmd: echo same > same.txt
    outs: [same.txt]
  edited:
    cmd: echo edited > edited.txt
    outs: [edited.txt]
"""


@pytest.fixture
def dvc_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "site_cache"))
    project = tmp_path / "project"
    project.mkdir()
    dvc = str(Path(sys.executable).with_name("dvc"))  # the project's environment's DVC

    def run(*args: str) -> None:
        subprocess.run(args, cwd=project, check=True, capture_output=True)

    run("git", "init", "-q")
    run(dvc, "init", "-q")
    (project / "dvc.yaml").write_text(DVC_YAML)
    run(dvc, "repro", "-q")
    return project


def test_a_run_outside_dvc_is_cached_where_it_matches_the_lock(dvc_project: Path) -> None:
    import shutil

    shutil.rmtree(dvc_project / ".dvc" / "cache")  # as after a fresh clone and a kedro run
    (dvc_project / "edited.txt").write_text("other bytes\n")
    lock = (dvc_project / "dvc.lock").read_text()
    cached, different = cache_matching_outputs(dvc_project)
    assert cached == ["same"]
    assert different == ["edited"]
    assert (dvc_project / "dvc.lock").read_text() == lock  # the lock keeps its hashes
    cached, different = cache_matching_outputs(dvc_project)
    assert (cached, different) == ([], ["edited"])  # the matching stage is now up to date
