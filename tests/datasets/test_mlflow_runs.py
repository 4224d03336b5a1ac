"""One MLflow child run per cell, under the active run; nothing without one."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.io import DatasetError
from matplotlib.figure import Figure

from gz_evo.datasets.mlflow_runs import MlflowChildRunsDataset


def test_each_cell_becomes_a_finished_child_run(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("cells")
    cells = {
        "ring/a/linear_probe": {
            "params": {"task": "ring", "encoder": "a"},
            "metrics": {"error": [(25, 0.4), (50, 0.3)]},
            "tables": {"summary.csv": pd.DataFrame({"budget": [25, 50], "error": [0.4, 0.3]})},
            "figures": {"plot.png": Figure()},
        },
        "ring/b/finetune": {"params": {"task": "ring", "encoder": "b"}, "metrics": {}},
    }
    dataset = MlflowChildRunsDataset("downstream")
    with mlflow.start_run() as parent:
        dataset.save(cells)
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([parent.info.experiment_id])
    children = {r.info.run_name: r for r in runs if r.info.run_id != parent.info.run_id}
    assert set(children) == {"downstream/ring/a/linear_probe", "downstream/ring/b/finetune"}
    child = children["downstream/ring/a/linear_probe"]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.info.status == "FINISHED" and child.data.params["encoder"] == "a"
    history = client.get_metric_history(child.info.run_id, "error")
    assert [(m.step, m.value) for m in history] == [(25, 0.4), (50, 0.3)]
    files = {f.path for f in client.list_artifacts(child.info.run_id)}
    assert files == {"summary.csv", "plot.png"}
    with pytest.raises(DatasetError, match="not read back"):
        dataset.load()


def test_without_an_active_run_nothing_is_logged(tmp_path: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    MlflowChildRunsDataset("downstream").save({"x": {"params": {"a": 1}}})
    assert mlflow.search_runs(search_all_experiments=True).empty
