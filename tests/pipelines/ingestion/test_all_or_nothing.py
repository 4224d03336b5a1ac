"""A failed ingestion run changes nothing: every source is checked before any output is written.
And the run's log names each input file with its checksum (gz_evo.hooks)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from gz_evo.checks import IngestionError
from tests.gz_fixtures import LogLines, write_project_universe

pytestmark = pytest.mark.slow

OUTPUTS = [
    *(f"02_intermediate/{c}_votes.parquet" for c in ("dr5", "dr8", "gz2", "candels", "demo_deep")),
    "02_intermediate/unlabelled_images.parquet",
    "02_intermediate/downstream_catalog.parquet",
    "08_reporting/ingestion_dropped.parquet",
    "08_reporting/ingestion_report.json",
]


def _run(project: Path) -> None:
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="base") as session:
        session.run(pipeline_names=["ingestion"])


def test_a_failing_source_leaves_every_output_as_it_was(
    project_copy: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    monkeypatch.setenv("GZ_EVO_MLFLOW_URI", f"sqlite:///{store}")
    universe = write_project_universe(project_copy, n=8)
    lines, inputs_logger = LogLines(), logging.getLogger("gz_evo.inputs")
    level = inputs_logger.level
    inputs_logger.addHandler(lines)
    inputs_logger.setLevel(logging.INFO)
    try:
        _run(project_copy)
    finally:
        inputs_logger.removeHandler(lines)
        inputs_logger.setLevel(level)
    data = project_copy / "data"
    before = {name: (data / name).read_bytes() for name in OUTPUTS}

    # the log names every raw input file with its sha256, and image folders by manifest
    dr5 = universe["dr5"]["path"]
    digest = hashlib.sha256(dr5.read_bytes()).hexdigest()
    named = tuple(
        f"input raw_dr5: {p} sha256={digest}" for p in (dr5, dr5.relative_to(project_copy))
    )
    assert any(line.startswith(named) for line in lines.lines), lines.lines
    assert any("input raw_dr5:" in line and "files," in line and "manifest sha256=" in line
               for line in lines.lines)  # fmt: skip
    assert sum(line.startswith("input raw_") for line in lines.lines) >= 7

    # dr5 changes (its table would change if written) and unlabelled, read after it (nodes
    # run in name order), breaks: a header and no rows
    frame = pd.read_csv(dr5, dtype={"iauname": str})
    frame.iloc[:-1].to_csv(dr5, index=False)
    unlabelled = universe["unlabelled"]["path"]
    pd.read_csv(unlabelled).iloc[:0].to_csv(unlabelled, index=False)
    with pytest.raises(IngestionError, match="has a header but no rows"):
        _run(project_copy)
    after = {name: (data / name).read_bytes() for name in OUTPUTS}
    assert after == before, [name for name in OUTPUTS if after[name] != before[name]]
    leftovers = [p.name for p in data.rglob(".*.tmp")]
    assert not leftovers
