"""Atomic writes: an interrupted write leaves the previous output; outputs get ordinary modes."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from gz_evo.datasets import (
    AtomicCSVDataset,
    AtomicJSONDataset,
    AtomicParquetDataset,
    atomic_write_dir,
    atomic_write_path,
)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_failed_file_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    dataset = AtomicJSONDataset(str(target))
    dataset.save({"version": 1})
    with pytest.raises(RuntimeError), atomic_write_path(target) as temporary:
        temporary.write_text("{half")
        raise RuntimeError("killed mid-write")
    assert dataset.load() == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_failed_folder_write_keeps_the_previous_folder(tmp_path: Path) -> None:
    target = tmp_path / "folder"
    with atomic_write_dir(target) as staging:
        (staging / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_write_dir(target) as staging:
        (staging / "a.txt").write_text("half")
        raise RuntimeError("killed mid-write")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
    with atomic_write_dir(target) as staging:
        (staging / "b.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]


def test_outputs_have_the_permissions_of_an_ordinary_write(tmp_path: Path) -> None:
    table = tmp_path / "table.parquet"
    AtomicParquetDataset(str(table)).save(pd.DataFrame({"a": [1, 2]}))
    with atomic_write_dir(tmp_path / "folder") as staging:
        (staging / "x").write_text("x")
    assert table.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o777 & ~_umask()
    assert AtomicParquetDataset(str(table)).load()["a"].tolist() == [1, 2]


def test_csv_round_trip_without_index_and_a_clear_error_when_missing(tmp_path: Path) -> None:
    target = tmp_path / "history.csv"
    with pytest.raises(Exception, match="run the stage that writes it"):
        AtomicCSVDataset(str(target)).load()
    frame = pd.DataFrame({"epoch": [0, 1], "train/loss": [2.5, 1.25]})
    AtomicCSVDataset(str(target)).save(frame)
    assert target.read_text().splitlines() == ["epoch,train/loss", "0,2.5", "1,1.25"]
    pd.testing.assert_frame_equal(AtomicCSVDataset(str(target)).load(), frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]
