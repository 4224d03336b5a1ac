"""The training core with the supervised objective: fit, restore, determinism, NaN guard, export."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from gz_evo.datasets.pretraining import save_encoder_bundle
from gz_evo.models.bundle import encoder_bundle, load_encoder, load_model
from gz_evo.schema import load_schema
from gz_evo.training.core import NonFiniteLossError, TrainingModule
from gz_evo.training.run import restore
from tests.training.synthetic import SimpleAugment, evaluate, tiny_config, train

NORMALISATION = {"mean": [0.5] * 3, "std": [0.25] * 3}


@pytest.fixture(scope="module")
def schema():
    return load_schema(["dr5", "gz2"])


def test_fit_evaluate_and_exported_encoder_round_trip(schema, tmp_path: Path) -> None:
    checkpoint, datamodule, config = train(schema, tmp_path / "work")
    assert checkpoint.is_file()
    metrics = evaluate(schema, checkpoint, datamodule, config)
    for name in ("val/loss", "test/loss", "test/uniform_loss", "test/coverage", "test/mae"):
        assert np.isfinite(metrics[name]), name
    assert any(k.startswith("test/loss_campaign/") for k in metrics)
    assert any(k.startswith("val/loss_question/bar-dr5") for k in metrics)

    module, progress = restore(checkpoint, config, schema, SimpleAugment(16))
    assert progress["global_step"] > 0
    model_params = {**asdict(config.model), "method": config.method}
    bundle = encoder_bundle(
        module.encoder, module.objective.head, model_params, schema.to_dict(), 16, NORMALISATION
    )
    assert set(bundle["state_dict"]) == {
        *(f"encoder.{k}" for k in module.encoder.state_dict()),
        *(f"head.{k}" for k in module.objective.head.state_dict()),
    }
    save_encoder_bundle(bundle, tmp_path / "encoder")
    encoder = load_encoder(tmp_path / "encoder")
    assert encoder.gz_evo_config["architecture"] == "test_resnet"
    assert encoder.gz_evo_config["method"] == "supervised"
    assert encoder.gz_evo_config["schema"]["n_answers"] == schema.n_answers
    model = load_model(tmp_path / "encoder")
    images = torch.randint(0, 255, (2, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad():
        concentrations = model(SimpleAugment(16).eval_view(images))
        torch.testing.assert_close(concentrations, module.predict_head(images))
    assert concentrations.shape == (2, schema.n_answers)
    assert encoder(SimpleAugment(16).eval_view(images)).shape == (2, encoder.num_features)


def test_same_seed_gives_the_same_validation_loss(schema, tmp_path: Path) -> None:
    def val_loss(seed: int, name: str) -> float:
        checkpoint, datamodule, config = train(schema, tmp_path / name, seed=seed, max_epochs=1)
        return evaluate(schema, checkpoint, datamodule, config)["val/loss"]

    first = val_loss(3, "a")
    assert val_loss(3, "b") == first
    assert val_loss(4, "c") != first


class NaNAfterTwoBatches(SimpleAugment):
    def __init__(self) -> None:
        super().__init__(16)
        self.calls = 0

    def train_view(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        view = super().train_view(images)
        return view * float("nan") if self.calls > 2 else view


def test_non_finite_loss_stops_training_naming_the_step(schema, tmp_path: Path) -> None:
    with pytest.raises(NonFiniteLossError, match="at global step 2 "):
        train(schema, tmp_path / "work", augment=NaNAfterTwoBatches())


def test_the_core_makes_the_views_the_objective_declares(schema, tmp_path: Path) -> None:
    module = TrainingModule(tiny_config(tmp_path), schema, SimpleAugment(16))
    batch = {"image": torch.zeros(3, 3, 16, 16, dtype=torch.uint8)}
    batch = module.on_after_batch_transfer(batch, 0)  # no trainer: evaluation views
    assert len(batch["views"]) == 1 and batch["views"][0].shape == (3, 3, 16, 16)
    assert batch["views"][0].dtype == torch.float32


def test_optimiser_decays_weights_only_and_skips_frozen_parameters(schema, tmp_path: Path) -> None:
    from gz_evo.training.core import adamw

    module = TrainingModule(tiny_config(tmp_path), schema, SimpleAugment(16))
    frozen = next(module.encoder.parameters())
    frozen.requires_grad_(False)
    optimiser = adamw(module.named_parameters(), module.config.optimizer)
    decay, no_decay = optimiser.param_groups
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    grouped = {id(p) for group in optimiser.param_groups for p in group["params"]}
    assert id(frozen) not in grouped
    assert len(grouped) == sum(p.requires_grad for p in module.parameters())
