"""Test-wide settings: no test writes into the project's MLflow store or data folders."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

# Set before kedro-mlflow reads conf/base/mlflow.yml in any test.
_MLFLOW_DIR = Path(tempfile.mkdtemp(prefix="gz_evo_test_mlflow_"))
os.environ["GZ_EVO_MLFLOW_URI"] = f"sqlite:///{_MLFLOW_DIR / 'mlflow.db'}"
os.environ["KEDRO_DISABLE_TELEMETRY"] = "1"
os.environ["DO_NOT_TRACK"] = "1"


@pytest.fixture(autouse=True)
def _isolated_mlflow_state():
    """End runs a test left open and forget its tracking URI and experiment.

    MLflow keeps the active run, tracking URI and experiment in process globals; without this a
    later test's ``kedro run`` would continue (and conflict with) an earlier test's run.
    """
    yield
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(os.environ["GZ_EVO_MLFLOW_URI"])
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a reason where it is absent."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the real data at {SHARED_DATA}")
        pytest.skip(f"real Galaxy Zoo data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway copy of the project's configuration to run Kedro sessions in.

    ``pyproject.toml`` and ``conf/`` are copied (the package is installed); data written by the run
    lands under ``tmp_path``.
    """
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        PROJECT_ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local")
    )
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()  # Kedro wants it; gz_evo itself is imported from the install
    (tmp_path / "logs").mkdir()  # conf/logging.yml writes logs/info.log
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run_pipelines(
    project_copy: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    """``run_pipelines(*names, runtime_params=None)``: a Kedro session (env ``test``) in
    :func:`project_copy` runs the pipelines, logging to a temporary MLflow store; returns the
    store's tracking URI."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    monkeypatch.setenv("GZ_EVO_MLFLOW_URI", uri)

    def run(*names: str, runtime_params: dict | None = None) -> str:
        bootstrap_project(project_copy)
        with KedroSession.create(
            project_path=project_copy, env="test", runtime_params=runtime_params
        ) as session:
            session.run(pipeline_names=list(names))
        return uri

    return run
