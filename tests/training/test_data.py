"""Data modules: the batch contract, DDP x worker splits through real DataLoaders, determinism."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from gz_evo.config import ConfigError, from_params
from gz_evo.images import ShardSet
from gz_evo.images.build import ShardSpec, build_shards
from gz_evo.schema import Question, Schema
from gz_evo.training.config import DataConfig
from gz_evo.training.data import (
    BATCH_KEYS,
    DownstreamDataModule,
    EpochDataLoader,
    GZEvoDataModule,
    ShardStream,
)
from tests.images.galaxies import ANSWERS, catalog, encode, galaxy, unlabelled
from tests.training.downstream import downstream_catalog as _downstream

SCHEMA = Schema(
    (
        Question("smooth-or-featured-t", ("smooth", "featured"), campaign="t"),
        Question("bar-t", ("yes", "no"), campaign="t"),
    ),
    name="t",
)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> ShardSet:
    root = tmp_path_factory.mktemp("shards")
    table = catalog(root / "images", n=45, size=24)
    spec = ShardSpec(image_size=16, samples_per_shard=4, encoding="png")
    build_shards(root / "s", table, unlabelled(root, n=11, size=24), ANSWERS, spec, seed=0)
    return ShardSet.open(root / "s")


def _keys(loader) -> list[str]:
    return [key for batch in loader for key in batch["key"]]


def test_batches_follow_the_contract(shards: ShardSet) -> None:
    module = GZEvoDataModule(
        shards, SCHEMA.to_dict(), batch_size=8, seed=1, unlabelled_fraction=1.0
    )
    batches = list(module.train_dataloader())
    batch = batches[0]
    assert set(batch) == {"image", "counts", "labelled", "key"}
    assert batch["image"].dtype == torch.uint8 and batch["image"].shape[1:] == (3, 16, 16)
    assert batch["counts"].dtype == torch.int32 and batch["counts"].shape[1] == SCHEMA.n_answers
    assert batch["labelled"].dtype == torch.bool and isinstance(batch["key"], list)
    assert set(BATCH_KEYS) <= set(batch)
    keys = [k for b in batches for k in b["key"]]
    assert len(keys) == len(set(keys)) == shards.n_samples("train") + shards.n_samples("unlabelled")
    labelled = torch.cat([b["labelled"] for b in batches])
    counts = torch.cat([b["counts"] for b in batches])
    assert (counts[~labelled] == 0).all() and counts[labelled].sum() > 0
    assert all(
        k.startswith("u/") for k, flag in zip(keys, labelled.tolist(), strict=True) if not flag
    )
    assert sorted(_keys(module.val_dataloader())) == sorted(
        shards.samples().query("split == 'val'")["key"]
    )


def test_counts_follow_the_schema_order(shards: ShardSet) -> None:
    reordered = Schema((SCHEMA.questions[1], SCHEMA.questions[0]), name="r")
    plain = {
        k: c
        for b in GZEvoDataModule(shards, SCHEMA).test_dataloader()
        for k, c in zip(b["key"], b["counts"], strict=True)
    }
    swapped = {
        k: c
        for b in GZEvoDataModule(shards, reordered).test_dataloader()
        for k, c in zip(b["key"], b["counts"], strict=True)
    }
    for key, counts in plain.items():
        assert swapped[key].tolist() == counts[[2, 3, 0, 1]].tolist()
    with pytest.raises(ValueError, match="no counts"):
        GZEvoDataModule(shards, Schema((Question("other-x", ("a", "b")),)))


def test_two_ranks_by_two_workers_through_dataloaders(shards: ShardSet) -> None:
    expected = set(shards.samples().query("split == 'train'")["key"])
    per_rank = {}
    for rank in range(2):
        module = GZEvoDataModule(shards, SCHEMA, batch_size=3, num_workers=2, seed=5)
        stream = module.stream(["train"], shuffle=True, even=False)
        stream.set_distributed(rank, 2)
        loader = torch.utils.data.DataLoader(stream, batch_size=3, num_workers=2)
        batches = list(loader)
        assert len(batches) == len(loader)  # exact length: Lightning can plan its schedule
        per_rank[rank] = [key for batch in batches for key in batch["key"]]
    both = per_rank[0] + per_rank[1]
    assert len(both) == len(set(both)) and set(both) == expected
    assert abs(len(per_rank[0]) - len(per_rank[1])) <= 1


def test_training_ranks_are_padded_to_equal_length(shards: ShardSet) -> None:
    counts = []
    for rank in range(2):
        module = GZEvoDataModule(shards, SCHEMA, batch_size=4, num_workers=2, seed=5)
        stream = module.stream(["train"], shuffle=True, even=True)
        stream.set_distributed(rank, 2)
        keys = _keys(torch.utils.data.DataLoader(stream, batch_size=4, num_workers=2))
        counts.append(len(keys))
    assert counts[0] == counts[1] == -(-shards.n_samples("train") // 2)


def test_order_is_seeded_and_changes_each_epoch(shards: ShardSet) -> None:
    first = GZEvoDataModule(shards, SCHEMA, batch_size=4, seed=3, shuffle_buffer=8)
    second = GZEvoDataModule(shards, SCHEMA, batch_size=4, seed=3, shuffle_buffer=8)
    loader_a, loader_b = first.train_dataloader(), second.train_dataloader()
    epoch0_a, epoch0_b = _keys(loader_a), _keys(loader_b)
    assert epoch0_a == epoch0_b
    epoch1_a = _keys(loader_a)
    assert epoch1_a != epoch0_a and sorted(epoch1_a) == sorted(epoch0_a)
    other_seed = _keys(GZEvoDataModule(shards, SCHEMA, batch_size=4, seed=4).train_dataloader())
    assert other_seed != epoch0_a
    assert first.state_dict() == {"next_epoch": 2}
    assert first.steps_per_epoch() == -(-shards.n_samples("train") // 4)


def _batches(loader, epochs: int) -> list[dict]:
    return [batch for _ in range(epochs) for batch in loader]


def _same_batches(first: list[dict], second: list[dict]) -> bool:
    return len(first) == len(second) and all(
        a["key"] == b["key"]
        and torch.equal(a["image"], b["image"])
        and torch.equal(a["counts"], b["counts"])
        and torch.equal(a["labelled"], b["labelled"])
        for a, b in zip(first, second, strict=True)
    )


def _split_keys(shards: ShardSet, split: str) -> set[str]:
    return set(shards.samples().query(f"split == '{split}'")["key"])


@pytest.mark.parametrize("fraction, splits", [(0.0, ["train"]), (1.0, ["train", "unlabelled"])])
def test_no_or_all_unlabelled_stream_exactly_the_plain_splits(
    shards: ShardSet, fraction: float, splits: list[str]
) -> None:
    """0 streams what the train split alone did (include_unlabelled false), 1 train + unlabelled."""
    module = GZEvoDataModule(
        shards, SCHEMA, batch_size=4, seed=3, shuffle_buffer=8, unlabelled_fraction=fraction
    )
    plain = ShardStream(
        [shard for split in splits for shard in shards.shards(split)],
        shards.encoding,
        SCHEMA.n_answers,
        seed=3,
        shuffle=True,
        shuffle_buffer=8,
        even=True,
        batch_size=4,
    )
    expected = _batches(EpochDataLoader(plain, batch_size=4), epochs=2)
    assert _same_batches(_batches(module.train_dataloader(), epochs=2), expected)
    assert module.train_splits() == splits
    assert module.steps_per_epoch() == len(expected) // 2


def test_a_fraction_of_the_unlabelled_rotates_through_epochs(
    shards: ShardSet, caplog: pytest.LogCaptureFixture
) -> None:
    train, unlabelled = _split_keys(shards, "train"), _split_keys(shards, "unlabelled")
    module = GZEvoDataModule(
        shards, SCHEMA, batch_size=4, seed=3, shuffle_buffer=8, unlabelled_fraction=0.5
    )
    per_epoch = round(0.5 * len(unlabelled))  # 6 of 11
    assert module.unlabelled_per_epoch == per_epoch
    with caplog.at_level("INFO", logger="gz_evo.training.data"):
        loader = module.train_dataloader()
    assert f"{len(train)} labelled and {per_epoch} unlabelled galaxies" in caplog.text
    windows = []
    for _ in range(3):
        batches = list(loader)
        assert len(batches) == len(loader) == module.steps_per_epoch()
        assert len(batches) == -(-(len(train) + per_epoch) // 4)
        keys = [key for batch in batches for key in batch["key"]]
        flags = torch.cat([batch["labelled"] for batch in batches]).tolist()
        counts = torch.cat([batch["counts"] for batch in batches])
        assert len(keys) == len(set(keys))
        assert {k for k, flag in zip(keys, flags, strict=True) if flag} == train
        window = {k for k, flag in zip(keys, flags, strict=True) if not flag}
        assert len(window) == per_epoch and window <= unlabelled
        assert (counts[~torch.tensor(flags)] == 0).all()
        spots = [i for i, flag in enumerate(flags) if not flag]
        assert spots[-1] - spots[0] >= per_epoch  # shuffled in among the labelled, not one block
        windows.append(window)
    assert windows[0] != windows[1] and windows[0] | windows[1] == unlabelled
    assert not _split_keys(shards, "val") ^ set(_keys(module.val_dataloader()))
    assert not _split_keys(shards, "test") ^ set(_keys(module.test_dataloader()))


def test_a_fraction_of_the_unlabelled_on_two_ranks_by_two_workers(shards: ShardSet) -> None:
    train, unlabelled = _split_keys(shards, "train"), _split_keys(shards, "unlabelled")
    module = GZEvoDataModule(shards, SCHEMA, batch_size=3, num_workers=2, unlabelled_fraction=0.5)
    per_epoch = module.unlabelled_per_epoch
    windows = []
    for epoch in range(2):
        per_rank = []
        for rank in range(2):
            stream = module.train_stream()
            stream.set_distributed(rank, 2)
            stream.set_epoch(epoch)
            loader = torch.utils.data.DataLoader(stream, batch_size=3, num_workers=2)
            batches = list(loader)
            assert len(batches) == len(loader)
            per_rank.append([key for batch in batches for key in batch["key"]])
            assert len(per_rank[-1]) == len(stream) == -(-(len(train) + per_epoch) // 2)
        both = per_rank[0] + per_rank[1]
        assert len(both) - len(set(both)) <= 1  # padding to equal length repeats at most one
        assert set(both) & train == train
        windows.append(set(both) & unlabelled)
        assert len(windows[-1]) == per_epoch  # both ranks read the same window, split between them
    assert windows[0] != windows[1] and windows[0] | windows[1] == unlabelled


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), True, "0.5", None])
def test_a_fraction_outside_zero_to_one_is_refused(shards: ShardSet, fraction: object) -> None:
    message = r"pretraining.data.unlabelled_fraction must be a number in \[0, 1\]"
    with pytest.raises(ValueError, match=message):
        GZEvoDataModule(shards, SCHEMA, unlabelled_fraction=fraction)
    params = {
        "batch_size": 4,
        "num_workers": 0,
        "shuffle_buffer": 8,
        "pin_memory": False,
        "train_fraction": 1.0,
        "unlabelled_fraction": fraction,
    }
    with pytest.raises(ConfigError, match=r"pretraining\.data\.unlabelled_fraction"):
        from_params(DataConfig, params, "pretraining.data")
    config = from_params(DataConfig, {**params, "unlabelled_fraction": 1}, "pretraining.data")
    assert GZEvoDataModule.from_config(shards, SCHEMA, config, seed=0).unlabelled_fraction == 1.0


def test_data_module_accepts_a_path_and_reports_image_size(shards: ShardSet) -> None:
    module = GZEvoDataModule(shards.root, SCHEMA.to_json())
    assert module.image_size == 16 and module.shards.index == shards.index


def test_downstream_module_splits_labels_and_is_deterministic(tmp_path: Path) -> None:
    table = _downstream(tmp_path)
    table.loc[3, "image_path"] = str(tmp_path / "missing.png")
    module = DownstreamDataModule(table, "ring", image_size=16, batch_size=4, seed=0)
    module.setup()
    assert module.bad["reason"].tolist() == ["missing"]
    sizes = {split: len(ds) for split, ds in module.datasets.items()}
    # 20 galaxies split 12 / 4 / 4 before the bad one is dropped (splits never depend on others)
    assert sum(sizes.values()) == 19 and sizes["train"] >= 11 and sizes["val"] + sizes["test"] >= 7
    batch = next(iter(module.train_dataloader()))
    assert batch["image"].dtype == torch.uint8 and batch["image"].shape == (4, 3, 16, 16)
    assert batch["labels"].dtype == torch.int64 and batch["labels"].shape == (4,)
    assert set(BATCH_KEYS) <= set(batch) and batch["labelled"].all()  # the shared contract
    assert isinstance(batch["key"], list) and batch["key"][0].startswith("d")
    again = DownstreamDataModule(table, "ring", image_size=16, batch_size=4, seed=0)
    again.setup()
    assert [b["key"] for b in again.train_dataloader()] == [
        b["key"] for b in module.train_dataloader()
    ]
    many = DownstreamDataModule(table, ["tidal", "ring"], image_size=16, seed=0, train_size=5)
    many.setup()
    assert many.classes["tidal"] == ["none", "shell", "stream"]
    assert len(many.datasets["train"]) == 5 and many.datasets["train"].labels.shape == (5, 2)
    floats = DownstreamDataModule(table.assign(split="train"), "fraction", image_size=16)
    floats.setup()
    assert floats.datasets["train"].labels.dtype == torch.float32
    assert len(floats.datasets["train"]) == 19 and len(floats.datasets["test"]) == 0


def test_downstream_module_reports_pandas_missing_images(tmp_path: Path) -> None:
    import pyarrow as pa

    table = _downstream(tmp_path, n=10)
    table["image_bytes"] = pd.Series([None] * 10, dtype=pd.ArrowDtype(pa.binary()))
    table.loc[2, "image_bytes"] = encode(galaxy(24, seed=7))
    table["image_path"] = table["image_path"].astype("string")
    table.loc[2, "image_path"] = pd.NA  # embedded image, no path
    table.loc[5, "image_path"] = pd.NA  # neither
    module = DownstreamDataModule(table, "ring", image_size=16, seed=0)
    module.setup()
    assert module.bad[["id_str", "file", "reason"]].values.tolist() == [
        ["d5", "<image_bytes>", "missing"]
    ]
    assert sum(len(ds) for ds in module.datasets.values()) == 9


def test_lightning_fit_sees_each_galaxy_once_per_epoch(shards: ShardSet) -> None:
    import lightning as L

    seen: list[list[str]] = []

    class Probe(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)

        def on_train_epoch_start(self) -> None:
            seen.append([])

        def training_step(self, batch, batch_idx):
            seen[-1].extend(batch["key"])
            return self.layer(batch["image"].float().mean((1, 2, 3))[:, None]).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    module = GZEvoDataModule(shards, SCHEMA, batch_size=8, seed=2)
    trainer = L.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(Probe(), datamodule=module)
    expected = sorted(shards.samples().query("split == 'train'")["key"])
    assert [sorted(epoch) for epoch in seen] == [expected, expected]
    assert seen[0] != seen[1]


def test_jpeg_members_decode_to_the_same_pixels_as_pillow() -> None:
    """The loader's JPEG path (torchvision's libjpeg-turbo, channels first) matches Pillow's."""
    import numpy as np

    from gz_evo.images.shards import decode_pixels, encode_pixels
    from gz_evo.training.data import decode_chw

    rng = np.random.default_rng(0)
    pixels = (rng.random((40, 40, 3)) * 64 + np.linspace(0, 180, 40)[:, None, None]).astype(
        np.uint8
    )
    for encoding in ("jpg", "png", "npy"):
        data = encode_pixels(pixels, encoding)
        decoded = decode_chw(data, encoding)
        assert decoded.dtype == torch.uint8 and decoded.shape == (3, 40, 40)
        assert np.array_equal(decoded.permute(1, 2, 0).numpy(), decode_pixels(data, encoding))


def test_train_fractions_are_nested_subsets_read_with_their_pixels(shards: ShardSet) -> None:
    """Each fraction trains on round(f * N) galaxies, every epoch the same ones, inside every
    larger fraction's (same seed); val and test stay whole; the pixels are the galaxies' own."""
    train = _split_keys(shards, "train")
    seen = {}
    for fraction in (0.25, 0.5, 1.0):
        module = GZEvoDataModule(shards, SCHEMA, batch_size=4, seed=3, train_fraction=fraction)
        loader = module.train_dataloader()
        epochs = [_keys(loader) for _ in range(2)]
        assert sorted(epochs[0]) == sorted(epochs[1]) and epochs[0] != epochs[1]
        assert (
            len(epochs[0]) == len(set(epochs[0])) == module.n_train == round(fraction * len(train))
        )
        assert len(loader) == module.steps_per_epoch() == -(-module.n_train // 4)
        seen[fraction] = set(epochs[0])
        assert set(_keys(module.test_dataloader())) == _split_keys(shards, "test")
        assert set(_keys(module.val_dataloader())) == _split_keys(shards, "val")
    assert seen[0.25] < seen[0.5] < seen[1.0] == train
    other = GZEvoDataModule(shards, SCHEMA, batch_size=4, seed=4, train_fraction=0.5)
    assert set(_keys(other.train_dataloader())) != seen[0.5]  # the subset follows the seed
    whole = {
        key: image
        for batch in GZEvoDataModule(shards, SCHEMA, batch_size=4).dataloader("train")
        for key, image in zip(batch["key"], batch["image"], strict=True)
    }
    half = GZEvoDataModule(shards, SCHEMA, batch_size=4, seed=3, train_fraction=0.5)
    for batch in half.dataloader("train"):
        for key, image in zip(batch["key"], batch["image"], strict=True):
            assert torch.equal(image, whole[key])


def test_a_subset_on_two_ranks_by_two_workers_is_read_once(shards: ShardSet) -> None:
    module = GZEvoDataModule(shards, SCHEMA, batch_size=3, num_workers=2, train_fraction=0.6)
    per_rank = []
    for rank in range(2):
        stream = module.stream(["train"], shuffle=True, even=False)
        stream.set_distributed(rank, 2)
        per_rank += _keys(torch.utils.data.DataLoader(stream, batch_size=3, num_workers=2))
    assert len(per_rank) == len(set(per_rank)) == module.n_train


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5, True, "0.5"])
def test_a_train_fraction_outside_zero_to_one_is_refused(shards: ShardSet, fraction) -> None:
    with pytest.raises(ValueError, match=r"pretraining.data.train_fraction must be a number"):
        GZEvoDataModule(shards, SCHEMA, train_fraction=fraction)
