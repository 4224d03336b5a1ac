"""MLflow child runs, one per result cell, under the ``kedro run``'s run (kedro-mlflow's).

``save({cell: {"params": {...}, "metrics": {name: [(step, value), ...]}, "tables": {file:
DataFrame}, "figures": {file: Figure}}})`` creates one FINISHED child run per cell (tag
``mlflow.parentRunId``), so that each cell of a results table can be opened, filtered and
compared in ``mlflow ui``; a metric logged per step (e.g. per label budget) draws as a curve.
Without an active run (kedro-mlflow off, or on ranks > 0) nothing is logged. Write-only.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)


class MlflowChildRunsDataset(AbstractDataset[dict, None]):
    """One child run per cell; ``run_name_prefix`` starts every child run's name."""

    def __init__(self, run_name_prefix: str, metadata: dict | None = None) -> None:
        self._prefix = run_name_prefix
        self.metadata = metadata

    def save(self, data: dict[str, dict[str, Any]]) -> None:
        import mlflow

        parent = mlflow.active_run()
        if parent is None:
            logger.info("%s: no active MLflow run, so no child runs", self._prefix)
            return
        client = mlflow.MlflowClient()
        for cell, content in data.items():
            run = client.create_run(
                parent.info.experiment_id,
                run_name=f"{self._prefix}/{cell}",
                tags={"mlflow.parentRunId": parent.info.run_id},
            )
            run_id = run.info.run_id
            for key, value in content.get("params", {}).items():
                client.log_param(run_id, key, value)
            for name, points in content.get("metrics", {}).items():
                for step, value in points:
                    client.log_metric(run_id, name, float(value), step=int(step))
            for file, table in content.get("tables", {}).items():
                client.log_text(run_id, table.to_csv(index=False), file)
            for file, figure in content.get("figures", {}).items():
                client.log_figure(run_id, figure, file)
            client.set_terminated(run_id, "FINISHED")

    def load(self) -> None:
        raise DatasetError(f"{self._prefix}: child runs are written to MLflow, not read back")

    def _describe(self) -> dict[str, Any]:
        return {"run_name_prefix": self._prefix}
