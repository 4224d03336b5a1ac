"""Shards: the round trip, sample-level splitting across ranks and workers, seeded order, fsspec."""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

from gz_evo.images.build import ShardSpec, build_shards
from gz_evo.images.decode import load_galaxy
from gz_evo.images.shards import (
    ShardInfo,
    ShardSet,
    ShardWriter,
    epoch_window,
    iter_plan,
    iter_shard,
    plan_epoch,
)
from tests.images.galaxies import ANSWERS, catalog, galaxy, unlabelled


def _every_sample(shards: ShardSet, split: str) -> dict[str, dict]:
    out = {}
    for shard in shards.shards(split):
        for sample in iter_shard(shard.url, encoding=shards.encoding):
            assert sample["key"] not in out
            out[sample["key"]] = sample
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_shard_writing_logs_its_progress(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, workers: int
) -> None:
    caplog.set_level(logging.INFO, logger="gz_evo.images.build")
    table = catalog(tmp_path / "images", n=20, size=40)
    spec = ShardSpec(image_size=16, samples_per_shard=4, num_workers=workers)
    index, _ = build_shards(tmp_path / "shards", table, None, ANSWERS, spec, seed=0)
    shards = sum(len(entry["shards"]) for entry in index["splits"].values())
    lines = [r.getMessage() for r in caplog.records if "shards written" in r.getMessage()]
    assert lines[-1].startswith(f"images: {shards} / {shards} shards written (100%)")


@pytest.mark.parametrize("encoding", ["png", "npy"])
def test_round_trip_pixels_and_counts_are_exact(tmp_path: Path, encoding: str) -> None:
    table = catalog(tmp_path / "images", n=20, size=40)
    spec = ShardSpec(image_size=32, samples_per_shard=4, encoding=encoding)
    index, bad = build_shards(tmp_path / "shards", table, None, ANSWERS, spec, seed=0)
    assert bad.empty and set(index["splits"]) == {"train", "val", "test"}
    shards = ShardSet.open(tmp_path / "shards")
    for row in table.itertuples():
        expected = load_galaxy(row.image_path, row.image_bytes, 32)
        sample = _every_sample(shards, row.split)[row.key]
        assert np.array_equal(sample["image"], expected)
        assert sample["counts"].dtype == np.int32
        assert sample["counts"].tolist() == table.loc[row.Index, ANSWERS].tolist()


def test_jpeg_shards_are_close_and_much_smaller_than_raw(tmp_path: Path) -> None:
    table = catalog(tmp_path / "images", n=12, size=64)
    sizes = {}
    for encoding in ("jpg", "npy"):
        spec = ShardSpec(image_size=64, samples_per_shard=100, encoding=encoding)
        build_shards(tmp_path / encoding, table, None, ANSWERS, spec, seed=0)
        sizes[encoding] = sum(p.stat().st_size for p in (tmp_path / encoding).rglob("*.tar"))
        shards = ShardSet.open(tmp_path / encoding)
        for row in table.itertuples():
            sample = _every_sample(shards, row.split)[row.key]
            expected = load_galaxy(row.image_path, row.image_bytes, 64).astype(int)
            assert np.abs(sample["image"].astype(int) - expected).mean() < 4
    assert sizes["jpg"] < sizes["npy"] / 2


def test_unlabelled_split_and_index(tmp_path: Path) -> None:
    spec = ShardSpec(image_size=16, samples_per_shard=3, encoding="png")
    build_shards(
        tmp_path / "s", catalog(tmp_path, n=9), unlabelled(tmp_path, n=7), ANSWERS, spec, seed=0
    )
    shards = ShardSet.open(tmp_path / "s")
    assert shards.splits == ["train", "val", "test", "unlabelled"]
    assert shards.n_samples("unlabelled") == 7 and len(shards.shards("unlabelled")) == 3
    assert not shards.shards("unlabelled")[0].labelled and shards.shards("train")[0].labelled
    samples = _every_sample(shards, "unlabelled")
    assert all(s["counts"].sum() == 0 for s in samples.values())
    located = shards.samples()
    assert len(located) == 16 and set(located["split"]) == set(shards.splits)
    assert shards.answer_columns == ANSWERS and shards.image_size == 16
    assert json.loads((tmp_path / "s" / "index.json").read_text())["version"] == 1


def test_bad_images_are_left_out_and_reported(tmp_path: Path) -> None:
    table = catalog(tmp_path / "images", n=12, embed_every=0)
    table.loc[1, "image_path"] = str(tmp_path / "nowhere.png")
    Path(table.loc[2, "image_path"]).write_bytes(b"garbage")
    Path(table.loc[3, "image_path"]).write_bytes(
        Path(table.loc[3, "image_path"]).read_bytes()[:200]
    )
    table.loc[4, "image_bytes"] = _png(np.full((20, 20, 3), 7, np.uint8))
    table.loc[5, "image_bytes"] = _png(galaxy(20)[..., 0])
    spec = ShardSpec(image_size=16, samples_per_shard=5, encoding="png")
    index, report = build_shards(tmp_path / "s", table, None, ANSWERS, spec, seed=0)
    assert dict(zip(report["key"], report["reason"], strict=True)) == {
        "t/g1": "missing",
        "t/g2": "unreadable",
        "t/g3": "truncated",
        "t/g4": "blank",
        "t/g5": "wrong_channels",
    }
    assert list(report.columns) == [
        "key",
        "id_str",
        "campaign",
        "split",
        "file",
        "reason",
        "detail",
    ]
    assert sum(entry["n_samples"] for entry in index["splits"].values()) == 7


def _png(pixels: np.ndarray) -> bytes:
    from tests.images.galaxies import encode

    return encode(pixels)


def test_bad_counts_name_the_row_and_column(tmp_path: Path) -> None:
    table = catalog(tmp_path, n=4)
    with pytest.raises(ValueError, match="bar-t_no"):
        build_shards(
            tmp_path / "s",
            table.drop(columns="bar-t_no"),
            None,
            ANSWERS,
            ShardSpec(image_size=16),
            seed=0,
        )
    table["bar-t_yes"] = table["bar-t_yes"].astype(float)
    table.loc[2, "bar-t_yes"] = np.nan
    with pytest.raises(ValueError, match="t/g2"):
        build_shards(tmp_path / "s", table, None, ANSWERS, ShardSpec(image_size=16), seed=0)


def test_unknown_encodings_are_refused_with_the_known_ones(tmp_path: Path) -> None:
    from gz_evo.images.shards import encode_pixels

    message = r"unknown shard encoding 'webp'; use one of \['jpg', 'npy', 'png'\]"
    with pytest.raises(ValueError, match=message):
        ShardWriter(tmp_path, "train", 5, "webp")
    with pytest.raises(ValueError, match=message):
        encode_pixels(galaxy(8), "webp")


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64", "object"])
def test_negative_or_missing_counts_name_the_first_bad_row(tmp_path: Path, dtype: str) -> None:
    table = catalog(tmp_path, n=6)
    table[ANSWERS] = table[ANSWERS].astype(dtype)
    table.loc[4, "bar-t_no"] = -1
    if dtype in ("float32", "float64", "object"):
        table.loc[3, "smooth-or-featured-t_featured"] = np.nan
    first = "t/g3" if dtype in ("float32", "float64", "object") else "t/g4"
    spec = ShardSpec(image_size=16)
    with pytest.raises(ValueError, match=f"gz_evo_catalog: key '{first}' has missing/negative"):
        build_shards(tmp_path / "s", table, None, ANSWERS, spec, seed=0)


@pytest.mark.parametrize("sizes", [[5, 3, 7], [1], [4, 4, 4, 4, 1], [2, 0, 9, 1, 1], [3]])
@pytest.mark.parametrize("even", [False, True])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_two_ranks_by_two_workers_see_every_sample_once(
    sizes: list[int], even: bool, batch_size: int
) -> None:
    total = sum(sizes)
    for epoch in range(3):
        per_rank = {}
        for rank in range(2):
            per_worker = [
                [
                    (shard, position)
                    for shard, start, stop in plan_epoch(
                        sizes,
                        seed=7,
                        epoch=epoch,
                        shuffle=True,
                        rank=rank,
                        world_size=2,
                        worker=worker,
                        num_workers=2,
                        even=even,
                        batch_size=batch_size,
                    )
                    for position in range(start, stop)
                ]
                for worker in range(2)
            ]
            # whole batches per worker, so the rank yields ceil(n / batch_size) batches in all
            assert len(per_worker[0]) % batch_size == 0
            per_rank[rank] = per_worker[0] + per_worker[1]
            batches = sum(-(-len(samples) // batch_size) for samples in per_worker)
            assert batches == -(-len(per_rank[rank]) // batch_size)
        everything = per_rank[0] + per_rank[1]
        assert set(everything) == {(s, p) for s, n in enumerate(sizes) for p in range(n)}
        if even:
            assert len(per_rank[0]) == len(per_rank[1]) == -(-total // 2)
            assert len(everything) - total == len(everything) - len(set(everything)) <= 1
        else:
            assert len(everything) == total  # nothing twice
            assert abs(len(per_rank[0]) - len(per_rank[1])) <= 1


def test_plan_is_seeded_by_seed_and_epoch() -> None:
    sizes = [3] * 10

    def plan(seed: int, epoch: int) -> list:
        return plan_epoch(sizes, seed=seed, epoch=epoch, shuffle=True)

    assert plan(1, 0) == plan(1, 0)
    assert plan(1, 0) != plan(1, 1) and plan(1, 0) != plan(2, 0)
    assert plan_epoch(sizes, seed=1, epoch=5, shuffle=False) == [(i, 0, 3) for i in range(10)]


def test_partial_shard_reads_skip_to_the_start(tmp_path: Path) -> None:
    with ShardWriter(tmp_path, "train", samples_per_shard=10, encoding="npy") as writer:
        for i in range(10):
            writer.add(f"k{i}", np.full((4, 4, 3), i, np.uint8), np.array([i], np.int32))
    url = str(tmp_path / "train" / "train-000000.tar")
    for start, stop in itertools.combinations(range(11), 2):
        keys = [s["key"] for s in iter_shard(url, start, stop, "npy")]
        assert keys == [f"k{i}" for i in range(start, stop)]


def _window_samples(shards: list[ShardInfo], count: int, epoch: int) -> list[tuple[str, int]]:
    """(shard url, position in the shard file) of every sample of an epoch's window, in order."""
    sizes = {shard.url: shard.n_samples for shard in shards}
    samples = []
    for piece in epoch_window(shards, count, epoch):
        assert piece.n_samples > 0 and piece.start + piece.n_samples <= sizes[piece.url]
        assert piece.labelled is False  # pieces keep everything but their extent
        samples += [(piece.url, piece.start + i) for i in range(piece.n_samples)]
    return samples


@pytest.mark.parametrize("sizes", [[5, 3, 7, 1], [4, 4, 4, 4], [16], [1, 1, 1, 13]])
@pytest.mark.parametrize("count", [1, 3, 4, 5, 8, 15])
def test_epoch_windows_rotate_through_every_sample_before_repeating(
    sizes: list[int], count: int
) -> None:
    shards = [ShardInfo(f"u{i}", n, labelled=False) for i, n in enumerate(sizes)]
    stream = [(shard.url, position) for shard in shards for position in range(shard.n_samples)]
    total = len(stream)
    epochs = -(-total // count)
    windows = [_window_samples(shards, count, epoch) for epoch in range(epochs + 2)]
    assert all(len(window) == count for window in windows)
    seen = [sample for window in windows for sample in window]
    # one stream, read on where the last epoch stopped, wrapping around its end
    assert seen == [stream[i % total] for i in range(count * (epochs + 2))]
    assert sorted(seen[:total]) == sorted(stream)  # every sample once before any repeats
    if total % count == 0:  # whole cycles: each sample exactly once per total / count epochs
        assert sorted(seen[: epochs * count]) == sorted(stream)


def test_epoch_window_wraps_across_shard_boundaries_in_pieces() -> None:
    shards = [ShardInfo(f"u{i}", n, labelled=False) for i, n in enumerate([5, 3, 7, 1])]
    # epoch 2 of 6 per epoch starts at sample 12: the last 3 of u2, u3, then the first 2 of u0
    assert epoch_window(shards, 6, 2) == [
        ShardInfo("u2", 3, False, start=4),
        ShardInfo("u3", 1, False, start=0),
        ShardInfo("u0", 2, False, start=0),
    ]
    assert epoch_window(shards, 0, 3) == []
    assert epoch_window(shards, 16, 3) == shards  # all of them: the shards unchanged
    with pytest.raises(ValueError, match="count must be >= 0"):
        epoch_window(shards, -1, 0)


def test_shard_pieces_are_read_from_their_start(tmp_path: Path) -> None:
    with ShardWriter(tmp_path, "unlabelled", samples_per_shard=5, encoding="npy") as writer:
        for i in range(10):
            writer.add(f"k{i}", np.full((4, 4, 3), i, np.uint8), np.array([0], np.int32))
    shards = [
        ShardInfo(str(tmp_path / "unlabelled" / f"unlabelled-00000{n}.tar"), 5, False)
        for n in range(2)
    ]
    piece = ShardInfo(shards[0].url, 3, False, start=2)
    keys = [s["key"] for s in iter_plan([piece], [(0, 1, 3)], "npy")]
    assert keys == ["k3", "k4"]  # positions 1:3 of the piece = 3:5 of the shard file
    window = epoch_window(shards, 4, 2)  # samples 8, 9, then 0, 1
    segments = [(i, 0, piece.n_samples) for i, piece in enumerate(window)]
    samples = list(iter_plan(window, segments, "npy"))
    assert [s["key"] for s in samples] == ["k8", "k9", "k0", "k1"]
    assert [int(s["image"][0, 0, 0]) for s in samples] == [8, 9, 0, 1]
    assert not any(s["labelled"] for s in samples)


def test_shards_stream_from_an_fsspec_url(tmp_path: Path) -> None:
    spec = ShardSpec(image_size=16, samples_per_shard=4, encoding="jpg")
    build_shards(tmp_path / "s", catalog(tmp_path, n=10), None, ANSWERS, spec, seed=0)
    memory = fsspec.filesystem("memory")
    for path in (tmp_path / "s").rglob("*"):
        if path.is_file():
            memory.pipe(
                f"/gzshards/{path.relative_to(tmp_path / 's').as_posix()}", path.read_bytes()
            )
    local = ShardSet.open(tmp_path / "s")
    for root in ("memory://gzshards", f"file://{tmp_path / 's'}"):
        remote = ShardSet.open(root)
        assert remote.index == local.index
        shards = remote.shards("train")
        segments = plan_epoch([s.n_samples for s in shards], seed=0, epoch=0, shuffle=False)
        keys = [s["key"] for s in iter_plan(shards, segments, remote.encoding)]
        assert sorted(keys) == sorted(_every_sample(local, "train"))
    memory.rm("/gzshards", recursive=True)


def test_shard_bytes_are_reproducible(tmp_path: Path) -> None:
    table = catalog(tmp_path / "images", n=8)
    spec = ShardSpec(image_size=16, samples_per_shard=3, encoding="jpg")
    for name in ("a", "b"):
        build_shards(tmp_path / name, table, None, ANSWERS, spec, seed=3)
    for path in (tmp_path / "a").rglob("*.tar"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    order = pd.read_parquet(tmp_path / "a" / "samples.parquet")
    assert len(order) == 8


def test_worker_processes_write_the_same_shards(tmp_path: Path) -> None:
    table = catalog(tmp_path / "images", n=10)
    for name, workers in (("one", 0), ("two", 2)):
        spec = ShardSpec(image_size=16, samples_per_shard=3, encoding="png", num_workers=workers)
        build_shards(tmp_path / name, table, None, ANSWERS, spec, seed=3)
    assert (tmp_path / "one" / "index.json").read_text() == (
        tmp_path / "two" / "index.json"
    ).read_text()
