"""``kedro run --pipelines ingestion,gz_evo`` in a session, on a tiny universe in real formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from gz_evo.schema import load_schema
from tests.gz_fixtures import write_project_universe

pytestmark = pytest.mark.slow
CAMPAIGNS = ["dr5", "dr8", "gz2", "candels", "demo_deep"]


def test_ingestion_and_merge_run_on_every_published_format(
    project_copy: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    monkeypatch.setenv("GZ_EVO_MLFLOW_URI", f"sqlite:///{store}")
    write_project_universe(project_copy, n=12)
    params = project_copy / "conf" / "base" / "parameters_gz_evo.yml"
    text = params.read_text()
    schema_line = next(line for line in text.splitlines() if line.startswith("  schema:"))
    params.write_text(text.replace(schema_line, f"  schema: {CAMPAIGNS}"))

    bootstrap_project(project_copy)
    with KedroSession.create(project_path=project_copy, env="base") as session:
        session.run(pipeline_names=["ingestion", "gz_evo"])

    data = project_copy / "data"
    for campaign in CAMPAIGNS:
        table = pd.read_parquet(data / f"02_intermediate/{campaign}_votes.parquet")
        assert len(table) == 12 and set(table["campaign"]) == {campaign}
    report = json.loads((data / "08_reporting/ingestion_report.json").read_text())
    assert report["total"]["rows_read"] == 60
    catalog = pd.read_parquet(data / "03_primary/gz_evo_catalog.parquet")
    unlabelled = pd.read_parquet(data / "03_primary/gz_evo_unlabelled.parquet")
    schema = load_schema(CAMPAIGNS, [project_copy / "conf/base/campaigns"])
    assert list(catalog.columns[8:]) == schema.answer_columns
    assert len(catalog) + len(unlabelled) == 60 + 5
    assert set(catalog["split"]) <= {"train", "val", "test"}
    dr8 = catalog[catalog["campaign"] == "dr8"]
    assert dr8["image_bytes"].notna().all() and dr8["image_path"].isna().all()
    assert catalog.loc[catalog["campaign"] == "dr5", "image_path"].notna().all()
    summary = json.loads((data / "08_reporting/gz_evo_summary.json").read_text())
    assert summary["total"]["galaxies"] == len(catalog)
    assert summary["campaigns"]["unlabelled"]["unlabelled_images"] == 5
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store}")
    (run,) = client.search_runs([client.get_experiment_by_name("gz_evo").experiment_id])
    assert run.data.metrics["gz_evo.summary.total.galaxies"] == len(catalog)
    assert run.data.metrics["gz_evo.summary.dr8.answers"] == 34
    downstream = pd.read_parquet(data / "02_intermediate/downstream_catalog.parquet")
    assert list(downstream.columns) == ["id_str", "image_path", "ring", "tidal"]


def test_ingestion_pipeline_imports_no_deep_learning_library():
    code = (
        "import sys; from gz_evo.pipelines.ingestion import create_pipeline; create_pipeline(); "
        "import gz_evo.pipelines.gz_evo, gz_evo.readers, gz_evo.merge; "
        "bad = [m for m in ('torch', 'timm', 'lightning') if m in sys.modules]; print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
