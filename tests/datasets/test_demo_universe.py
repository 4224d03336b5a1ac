"""DemoFolderDataset: whole folders appear at once, replace the old one, or not at all."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError

from gz_evo.datasets.demo_universe import DemoFolderDataset
from gz_evo.datasets.raw import RawCatalog


def test_save_writes_bytes_csv_and_parquet_and_replaces_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "dr5"
    dataset = DemoFolderDataset(str(target), filepath=str(target / "votes.csv"))
    dataset.save({"stale.txt": b"old"})
    dataset.save(
        {
            "votes.csv": pd.DataFrame({"id_str": ["a"], "q_x": [3]}),
            "data/train.parquet": pa.table({"x": [1, 2]}),
            "cat.parquet": pd.DataFrame({"y": [1.5]}),
            "images/a/a.png": b"\x89PNG",
        }
    )
    assert not (target / "stale.txt").exists()
    assert pd.read_csv(target / "votes.csv").to_dict("list") == {"id_str": ["a"], "q_x": [3]}
    assert pq.read_table(target / "data/train.parquet").column("x").to_pylist() == [1, 2]
    assert (target / "images/a/a.png").read_bytes() == b"\x89PNG"
    loaded = dataset.load()
    assert isinstance(loaded, RawCatalog) and loaded.paths == (target / "votes.csv",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dr5"]  # no temporary leftovers


def test_a_failed_save_leaves_the_previous_folder(tmp_path: Path) -> None:
    dataset = DemoFolderDataset(str(tmp_path / "gz2"))
    dataset.save({"a.csv": pd.DataFrame({"x": [1]})})
    with pytest.raises(DatasetError, match="cannot write"):
        dataset.save({"b.csv": b"fine", "c.json": {"not": "writable"}})
    assert dataset.load() == ["a.csv"]
    with pytest.raises(DatasetError, match="outside"):
        dataset.save({"../escape.txt": b"x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gz2"]
