"""dvc.yaml's outputs and Git agree: what DVC does not cache, Git keeps; plots draw outputs.

A `cache: false` output (metrics, small plot data) is in no DVC cache or remote, so Git must keep
it: ignored, `dvc metrics diff`, `dvc exp show` and a fresh clone would never see it (an experiment
commit leaves git-ignored files out). A cached output must stay out of Git.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

DVC_YAML = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())


def _outputs() -> dict[str, bool]:
    """Every stage output, metric and plot file: path -> cached by DVC."""
    found = {}
    for stage in DVC_YAML["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                path, props = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
                found[path] = (props or {}).get("cache", True)
    return found


def _git_ignored(paths: list[str]) -> set[str]:
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs the project's git checkout")
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=PROJECT_ROOT,
        input="\n".join(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: nothing ignored
    return set(result.stdout.split())


def test_git_keeps_exactly_the_outputs_dvc_does_not_cache() -> None:
    outputs = _outputs()
    ignored = _git_ignored(sorted(outputs))
    uncached = {path for path, cached in outputs.items() if not cached}
    assert uncached, "dvc.yaml declares no cache: false output"
    assert not uncached & ignored, f"ignored by git but not cached by DVC: {uncached & ignored}"
    cached = set(outputs) - uncached
    assert cached <= ignored, f"cached by DVC but not ignored by git: {cached - ignored}"


def test_every_metrics_file_is_kept_by_git() -> None:
    metrics = [
        next(iter(m)) if isinstance(m, dict) else m
        for stage in DVC_YAML["stages"].values()
        for m in stage.get("metrics", [])
    ]
    assert len(metrics) >= 10
    assert not _git_ignored(metrics)


def test_top_level_plots_draw_stage_outputs() -> None:
    outputs = _outputs()
    drawn = []
    for plot in DVC_YAML["plots"]:
        if isinstance(plot, str):
            drawn.append(plot)
            continue
        (props,) = plot.values()
        assert props["x"] and props["y"]
        drawn.extend(props["y"])
    assert len(drawn) >= 4
    assert set(drawn) <= set(outputs), set(drawn) - set(outputs)


def test_dvc_plots_output_is_ignored() -> None:
    assert _git_ignored(["dvc_plots/index.html"]) == {"dvc_plots/index.html"}
