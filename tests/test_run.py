"""The Kedro project as a user runs it: a session, the default pipeline, one MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow


def test_default_pipeline_runs_in_a_session_and_logs_one_mlflow_run(
    project_copy: Path, run_pipelines
) -> None:
    store = run_pipelines("__default__")

    schema = json.loads((project_copy / "data/03_primary/gz_evo_schema.json").read_text())
    metrics = json.loads(
        (project_copy / "data/08_reporting/gz_evo_schema_metrics.json").read_text()
    )
    assert metrics["schema_answers"] == schema["n_answers"] > 0

    client = mlflow.MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("gz_evo")
    runs = client.search_runs([experiment.experiment_id])
    top_level = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(top_level) == 1, "one kedro run is one MLflow run"
    run = top_level[0]
    # a stage may log its own work (the training fit) as a child of the kedro run, nothing else
    assert all(r.data.tags["mlflow.parentRunId"] == run.info.run_id for r in runs if r != run)
    assert run.data.metrics["gz_evo.schema_answers"] == schema["n_answers"]
    # the last node: the report, written beside the outputs and logged to the run
    report = (project_copy / "data/08_reporting/report.html").read_text()
    assert f"Schema {schema['name']}" in report
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "reporting")]
    assert artifacts == ["reporting/report.html"]
    # parameters are logged flat: one MLflow parameter per leaf of the parameters tree
    assert "gz_evo.schema" in run.data.params
    nested = [k for k, v in run.data.params.items() if v.startswith(("{'", '{"'))]
    assert not nested, f"parameters logged as whole dicts: {nested}"
