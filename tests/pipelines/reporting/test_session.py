"""`kedro run --pipelines reporting` from the project's own catalog, before any stage ran."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest


@pytest.mark.slow
def test_reporting_alone_names_every_stage_and_logs_the_page_to_mlflow(
    project_copy: Path, run_pipelines
) -> None:
    store = run_pipelines("reporting")

    html = (project_copy / "data/08_reporting/report.html").read_text()
    for name in ("gz_evo_summary", "pretraining_metrics", "scaling_points", "downstream_summary"):
        assert f"<code>{name}</code>" in html, name
    assert "kedro run --pipelines pretraining" in html and "0 of 6 sections complete" in html

    client = mlflow.MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("gz_evo").experiment_id])
    logged = [a.path for a in client.list_artifacts(run.info.run_id, "reporting")]
    assert logged == ["reporting/report.html"]
