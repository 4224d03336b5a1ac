"""`kedro viz build` draws the project: every registered pipeline and every node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project


@pytest.mark.slow
def test_kedro_viz_build_names_every_pipeline_and_node(project_copy: Path) -> None:
    kedro = Path(sys.executable).with_name("kedro")
    done = subprocess.run(
        [str(kedro), "viz", "build"],
        cwd=project_copy,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    build = project_copy / "build"
    assert (build / "index.html").is_file()
    bootstrap_project(project_copy)
    assert {"__default__", "pretraining", "finetune"} <= set(pipelines)
    for name, pipeline in pipelines.items():  # api/main is __default__, drawn again by name
        graph = json.loads((build / "api" / "pipelines" / name).read_text())
        assert {p["id"] for p in graph["pipelines"]} == set(pipelines)
        drawn = {n["full_name"] for n in graph["nodes"] if n["type"] == "task"}
        assert drawn == {node.name for node in pipeline.nodes}, name
        datasets = {n["name"] for n in graph["nodes"] if n["type"] == "data"}
        assert pipeline.all_outputs() <= datasets, name
