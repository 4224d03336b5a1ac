"""The datasets of the science pipelines: .npz arrays, and the prediction
catalog written chunk by chunk (atomically: a failing stream leaves the previous one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from gz_evo.datasets.arrays import NpzDataset
from gz_evo.datasets.predictions import PredictionCatalogDataset


def test_arrays_round_trip_without_pickle(tmp_path: Path) -> None:
    dataset = NpzDataset(str(tmp_path / "a.npz"))
    dataset.save(
        {"ids": np.array(["x", "yy"]), "v": np.eye(2, dtype=np.float32), "name": np.array("faiss")}
    )
    loaded = dataset.load()
    assert loaded["ids"].tolist() == ["x", "yy"] and str(loaded["name"]) == "faiss"
    np.testing.assert_array_equal(loaded["v"], np.eye(2))
    with pytest.raises(DatasetError, match="Python objects"):
        dataset.save({"o": np.array([{}, 1], dtype=object)})


class _Stream:
    def __init__(self, n_chunks: int, fail_at: int | None = None) -> None:
        self.n_chunks, self.fail_at, self.summary = n_chunks, fail_at, None

    def __iter__(self):
        for i in range(self.n_chunks):
            if i == self.fail_at:
                raise RuntimeError("boom")
            ids = [f"g{i}{j}" for j in range(3)]
            frame = pd.DataFrame({"id_str": ids, "a_fraction": np.full(3, i, np.float32)})
            bad = pd.DataFrame(
                {"id_str": [f"b{i}"], "file": ["f"], "reason": ["missing"], "detail": ["d"]}
            )
            yield {"friendly": frame, "full": frame.assign(extra=1.0), "bad": bad}
        self.summary = {"galaxies": 3 * self.n_chunks}


def test_the_prediction_catalog_is_written_chunk_by_chunk_and_atomically(tmp_path: Path) -> None:
    dataset = PredictionCatalogDataset(str(tmp_path / "predictions"))
    dataset.save(_Stream(3))
    catalog = dataset.load()
    table = catalog.table()
    assert len(table) == 9 and table["a_fraction"].tolist() == [0] * 3 + [1] * 3 + [2] * 3
    assert "extra" in catalog.table(full=True)
    csv = pd.read_csv(tmp_path / "predictions/predictions.csv")
    assert len(csv) == 9 and list(csv.columns) == ["id_str", "a_fraction"]
    assert catalog.bad()["id_str"].tolist() == ["b0", "b1", "b2"]
    assert catalog.summary() == {"galaxies": 9}
    with pytest.raises(DatasetError, match="boom"):  # Kedro wraps errors raised while saving
        dataset.save(_Stream(3, fail_at=1))
    assert len(dataset.load().table()) == 9  # the previous catalog is still there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions"]
