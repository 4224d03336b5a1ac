"""OptionalDataset: None where a stage has not run, the wrapped dataset everywhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DatasetError

from gz_evo.datasets.optional import OptionalDataset

JSON = "gz_evo.datasets.AtomicJSONDataset"


def test_missing_loads_as_none_and_present_loads_through(tmp_path: Path) -> None:
    dataset = OptionalDataset({"type": JSON, "filepath": str(tmp_path / "m.json")})
    assert not dataset.exists() and dataset.load() is None
    dataset.save({"test_loss": 1.5})  # writes through to the wrapped dataset
    assert dataset.exists() and dataset.load() == {"test_loss": 1.5}


def test_a_read_only_view_refuses_to_write(tmp_path: Path) -> None:
    view = OptionalDataset({"type": JSON, "filepath": str(tmp_path / "s.json")}, read_only=True)
    with pytest.raises(DatasetError, match=r"read-only view .*s\.json"):
        view.save({})
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    "wrapper",
    [
        {"type": "gz_evo.datasets.pretraining.RankZeroDataset"},
        {"type": "kedro_mlflow.io.artifacts.MlflowArtifactDataset", "artifact_path": "x"},
    ],
    ids=["rank_zero", "mlflow_artifact"],
)
def test_it_wraps_the_catalogs_other_wrappers(tmp_path: Path, wrapper: dict) -> None:
    path = tmp_path / "m.json"
    dataset = OptionalDataset({**wrapper, "dataset": {"type": JSON, "filepath": str(path)}})
    assert dataset.load() is None
    path.write_text('{"a": 1}')
    assert dataset.load() == {"a": 1}
