"""ShardsDataset: load gives a handle; save moves shards in atomically, or not at all."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pytest
from kedro.io import DatasetError

from gz_evo.datasets.shards import ShardsDataset
from gz_evo.images.build import ShardSpec, StagedShards, stage_shards
from gz_evo.images.shards import ShardSet
from tests.images.galaxies import ANSWERS, catalog


def _stage(tmp_path: Path, n: int, seed: int = 0) -> StagedShards:
    spec = ShardSpec(image_size=16, samples_per_shard=4, encoding="png")
    staged, _ = stage_shards(
        catalog(tmp_path / f"i{n}", n=n),
        None,
        ANSWERS,
        spec,
        seed,
        staging_dir=tmp_path / "staging",
    )
    return staged


def test_save_moves_the_staged_directory_into_place_and_load_gives_a_handle(tmp_path: Path) -> None:
    dataset = ShardsDataset(path=str(tmp_path / "data" / "shards"))
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="run the images pipeline"):
        dataset.load()
    staged = _stage(tmp_path, 9)
    dataset.save(staged)
    assert not Path(staged.directory).exists()
    handle = dataset.load()
    assert isinstance(handle, ShardSet) and handle.index == staged.index
    # a second save replaces the shards as a whole and leaves no temporary directory behind
    dataset.save(_stage(tmp_path, 5))
    assert (
        dataset.load().n_samples("train")
        + dataset.load().n_samples("val")
        + dataset.load().n_samples("test")
        == 5
    )
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["shards"]


def test_an_interrupted_save_keeps_the_previous_shards(tmp_path: Path, monkeypatch) -> None:
    dataset = ShardsDataset(path=str(tmp_path / "data" / "shards"))
    dataset.save(_stage(tmp_path, 9))
    before = dataset.load().index

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("gz_evo.datasets.atomic.os.replace", crash)
    with pytest.raises(KeyboardInterrupt):
        dataset.save(_stage(tmp_path, 5))
    monkeypatch.undo()
    assert dataset.load().index == before
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["shards"]
    assert not list((tmp_path / "data" / "shards").rglob("*.partial"))


def test_an_incomplete_staging_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    with pytest.raises(DatasetError, match=r"no index\.json"):
        ShardsDataset(path=str(tmp_path / "shards")).save(
            StagedShards(str(tmp_path / "half"), {}, 0)
        )


def test_remote_urls_get_the_index_last(tmp_path: Path) -> None:
    dataset = ShardsDataset(path="memory://gz/shards")
    staged = _stage(tmp_path, 6)
    dataset.save(staged)
    assert dataset.exists() and dataset.load().index == staged.index
    fsspec.filesystem("memory").rm("/gz", recursive=True)
