"""The frozen-features folder round-trips without pickles and is replaced atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kedro.io import DatasetError

from gz_evo.datasets.features import FeaturesDataset


def test_features_round_trip(tmp_path: Path) -> None:
    splits = {"train": np.ones((3, 2), np.float32), "val": np.zeros((1, 2), np.float32)}
    data = {
        "ring": {
            "kind": "binary",
            "classes": [0, 1],
            "ids": {"train": ["a", "b", "c"], "val": ["d"]},
            "labels": {"train": np.array([0, 1, 1]), "val": np.array([0])},
            "encoders": {"random_init": splits, "raw_pixels": splits},
        }
    }
    dataset = FeaturesDataset(str(tmp_path / "features"))
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="run the downstream pipeline"):
        dataset.load()
    dataset.save(data)
    loaded = dataset.load()["ring"]
    assert loaded["kind"] == "binary" and loaded["classes"] == [0, 1]
    assert loaded["ids"]["train"] == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded["labels"]["train"], [0, 1, 1])
    assert sorted(loaded["encoders"]) == ["random_init", "raw_pixels"]
    np.testing.assert_array_equal(loaded["encoders"]["raw_pixels"]["train"], splits["train"])
    dataset.save({})  # replaced whole: no task of the previous save survives
    assert dataset.load() == {}
    assert [p.name for p in tmp_path.iterdir()] == ["features"]
