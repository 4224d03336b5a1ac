"""Objectives by name: unknown names refused; a new method trains with no change to the core."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from gz_evo.config import ConfigError
from gz_evo.models.heads import create_head, list_heads
from gz_evo.schema import load_schema
from gz_evo.training.core import TrainingModule
from gz_evo.training.objectives import (
    Objective,
    create_objective,
    list_objectives,
    register_objective,
)
from gz_evo.training.objectives.base import _REGISTRY
from tests.training.synthetic import SimpleAugment, tiny_config, train


@pytest.fixture(scope="module")
def schema():
    return load_schema(["dr5", "gz2"])


def test_unknown_method_is_refused_listing_the_known_ones(schema, tmp_path: Path) -> None:
    assert "supervised" in list_objectives()
    with pytest.raises(
        ValueError, match=r"unknown pretraining.method 'simclr'; known methods: .*supervised"
    ):
        tiny_config(tmp_path, method="simclr")
    encoder = nn.Linear(2, 2)
    encoder.num_features = 2
    with pytest.raises(ValueError, match="known methods"):
        create_objective("simclr", encoder=encoder, schema=schema, model=None, blocks={})


def test_unknown_head_is_refused_listing_the_known_ones() -> None:
    assert list_heads() == ["dirichlet"]
    with pytest.raises(ValueError, match="unknown head 'softmax'; known heads: dirichlet"):
        create_head("softmax", 8, 3)


def test_an_objective_block_with_a_wrong_key_names_it(tmp_path: Path) -> None:
    from gz_evo.config import as_params
    from gz_evo.training.config import PretrainingConfig

    params = as_params(tiny_config(tmp_path))
    params["objectives"]["supervised"] = {"temperature": 0.1}
    with pytest.raises(ConfigError, match=r"pretraining.objectives.supervised: unknown key"):
        PretrainingConfig.from_params(params)
    del params["objectives"]["supervised"]
    with pytest.raises(ValueError, match="no block for method 'supervised'"):
        PretrainingConfig.from_params(params)


@dataclass(frozen=True)
class ShrinkOptions:
    scale: float


class ShrinkFeatures(Objective):
    """A toy method: pull the features of two views towards zero (two views, options, logs)."""

    n_views = 2
    Options = ShrinkOptions

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epoch_losses: dict[str, list[float]] = {"train": [], "val": []}

    def loss(self, encoder, views, batch, stage):
        # the core made the views this objective declared (one evaluation view in validation)
        assert len(views) == (2 if stage == "train" else 1), (stage, len(views))
        loss = self.options.scale * sum(encoder(view).pow(2).mean() for view in views)
        self.epoch_losses[stage].append(float(loss.detach()))
        return loss, {"shrink": loss.detach()}

    def epoch_metrics(self, stage):
        values = self.epoch_losses[stage]
        self.epoch_losses[stage] = []
        return {f"{stage}/loss": sum(values) / max(1, len(values))}


@pytest.fixture
def shrink_registered():
    register_objective("shrink")(ShrinkFeatures)
    yield
    _REGISTRY.pop("shrink")


def test_a_new_objective_trains_through_the_unchanged_core(
    schema, tmp_path: Path, shrink_registered
) -> None:
    config = tiny_config(tmp_path / "work", "shrink", {"shrink": {"scale": 2.0}})
    module = TrainingModule(config, schema, SimpleAugment(16))
    assert module.objective.options == ShrinkOptions(scale=2.0)
    assert module.objective.head is None
    with pytest.raises(ValueError, match="no supervised head"):
        module.eval().predict_head(torch.zeros(2, 3, 16, 16, dtype=torch.uint8))

    checkpoint, _, _ = train(
        schema, tmp_path / "work2", method="shrink", objectives={"shrink": {"scale": 2.0}},
        max_epochs=1,
    )  # fmt: skip
    state = torch.load(checkpoint, weights_only=True)
    assert state["global_step"] == 2  # 32 galaxies, batch 16
    assert not any(key.startswith("objective.head") for key in state["state_dict"])
