"""Downstream tasks and encoders: catalogs read by name, every galaxy embedded once per encoder,
ImageNet weights never downloaded, random initialisation seeded."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from gz_evo.training.downstream import (
    DownstreamTask,
    EncoderChoice,
    augment_of,
    build_choice,
    build_encoders,
    load_task_images,
    task_features,
)
from tests.training.downstream import downstream_catalog

REFERENCE = {
    "architecture": "test_resnet",
    "timm_kwargs": {},
    "augment": {"output_size": 16, "mean": [0.5] * 3, "std": [0.5] * 3},
}


def _task(catalog: str, **changes) -> DownstreamTask:
    fields = {
        "name": "rings", "catalog": catalog, "id_column": "name", "image_column": "file",
        "label": "ring", "kind": "binary", "image_root": None, "requires": None,
        "val_fraction": 0.25, "test_fraction": 0.25,
    }  # fmt: skip
    return DownstreamTask(**{**fields, **changes})


@pytest.fixture
def catalog_csv(tmp_path: Path) -> Path:
    table = downstream_catalog(tmp_path, n=16)
    table["image_path"] = [Path(p).name for p in table["image_path"]]  # relative to the CSV
    table = table.rename(columns={"id_str": "name", "image_path": "file"})
    table.to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path / "labels.csv"


def test_a_csv_task_is_read_by_its_column_names_relative_to_its_folder(catalog_csv: Path) -> None:
    images = load_task_images(_task(str(catalog_csv)), None, image_size=16, seed=0)
    assert sum(len(ids) for ids in images.ids.values()) == 16 and images.bad.empty
    assert images.images["train"].shape[1:] == (3, 16, 16)
    assert set(np.unique(images.labels["train"])) <= {0, 1}
    with pytest.raises(ValueError, match=r"has no column\(s\) \['ring_flag'\]"):
        load_task_images(_task(str(catalog_csv), label="ring_flag"), None, 16, 0)
    with pytest.raises(FileNotFoundError, match=r"missing\.csv does not exist"):
        load_task_images(_task(str(catalog_csv.with_name("missing.csv"))), None, 16, 0)


def test_a_task_whose_data_is_absent_is_skipped_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    task = _task("x.csv", requires=str(tmp_path / "absent"))
    with caplog.at_level(logging.INFO):
        assert not task.available()
    assert "skipped" in caplog.text and "absent" in caplog.text


class CountingEncoder(torch.nn.Module):
    """Counts the galaxies it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 4)
        self.num_features = 4
        self.galaxies = 0

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        self.galaxies += len(views)
        return self.linear(views.mean((2, 3)))


def test_every_galaxy_is_embedded_once_per_encoder(
    catalog_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The features are the cache: budgets, seeds and probes never embed again."""
    images = load_task_images(_task(str(catalog_csv)), None, image_size=16, seed=0)
    built: list[CountingEncoder] = []

    def counting(choice, reference, seed):
        built.append(CountingEncoder())
        return built[-1]

    monkeypatch.setattr("gz_evo.training.downstream.build_choice", counting)
    choices = [EncoderChoice("a", "random_init"), EncoderChoice("b", "random_init"),
               EncoderChoice("raw_pixels", "raw_pixels")]  # fmt: skip
    encoders = build_encoders(choices, REFERENCE, seed=0)
    features = task_features(images, encoders, augment_of(REFERENCE), batch_size=5, pixel_side=4)
    assert [encoder.galaxies for encoder in built] == [16, 16]  # once each, in batches of 5
    assert features["a"]["train"].shape == (len(images.ids["train"]), 4)
    assert features["raw_pixels"]["test"].shape == (len(images.ids["test"]), 3 * 4 * 4)


def test_imagenet_weights_are_never_downloaded(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = {**REFERENCE, "architecture": "resnet18"}
    assert build_choice(EncoderChoice("imagenet", "imagenet"), reference, seed=0) is None


def test_random_initialisation_is_seeded_and_leaves_the_global_generator(catalog_csv) -> None:
    state = torch.get_rng_state()
    first = build_choice(EncoderChoice("r", "random_init"), REFERENCE, seed=3)
    second = build_choice(EncoderChoice("r", "random_init"), REFERENCE, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(
        torch.equal(a, b)
        for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )
