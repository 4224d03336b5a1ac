"""dvc.yaml's outputs and Git agree: DVC caches every output, Git ignores them all; plots draw
outputs.

Git keeps no outputs (the project's rule). So no output may be `cache: false`: such a file would be
in neither Git nor the DVC cache, and `dvc metrics diff`, `dvc exp show` (an experiment commit
leaves git-ignored files out), `dvc push` and a fresh clone would never see it. Cached, metrics
travel with `dvc push`/`dvc pull` and are read from the cache for any commit or experiment.
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


def test_dvc_caches_every_output_and_git_ignores_them_all() -> None:
    outputs = _outputs()
    uncached = sorted(path for path, cached in outputs.items() if not cached)
    assert not uncached, f"cache: false outputs would be in neither Git nor DVC: {uncached}"
    ignored = _git_ignored(sorted(outputs))
    assert set(outputs) <= ignored, f"outputs Git would pick up: {set(outputs) - ignored}"


def test_every_stage_declares_its_metrics() -> None:
    metrics = [
        next(iter(m)) if isinstance(m, dict) else m
        for stage in DVC_YAML["stages"].values()
        for m in stage.get("metrics", [])
    ]
    assert len(metrics) >= 10
    assert all(path.startswith("data/08_reporting/") for path in metrics)


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
