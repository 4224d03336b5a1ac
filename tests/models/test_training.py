"""GZEvoModule + trainer: outputs, determinism, non-finite loss, evaluation, saved encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gz_evo.models.evaluation import expected_fractions, prediction_table, vote_fraction_metrics
from gz_evo.models.io import load_encoder, load_model, save_encoder_bundle
from gz_evo.models.module import NonFiniteLossError
from gz_evo.models.training import check_launch, pretrain
from gz_evo.schema import load_schema
from tests.models.synthetic import SimpleAugment, SyntheticDataModule

NORMALISATION = {"mean": [0.5] * 3, "std": [0.25] * 3}


@pytest.fixture(scope="module")
def schema():
    return load_schema(["dr5", "gz2"])


def tiny_params(workdir: Path, **trainer) -> dict:
    return {
        "workdir": str(workdir),
        "model": {"architecture": "test_resnet", "dropout": 0.1},
        "optimizer": {"lr": 3e-3, "weight_decay": 0.01, "schedule": "cosine", "warmup_steps": 1},
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_epochs": 2,
            "precision": "32-true",
            "log_every_n_steps": 1,
            "gradient_clip_val": 1.0,
            "deterministic": True,
            **trainer,
        },
        "evaluation": {"min_votes": 20, "interval": 0.9},
    }


def run(schema, workdir: Path, seed: int = 0, augment=None, **trainer):
    datamodule = SyntheticDataModule(schema.to_dict(), n=32, size=16, batch_size=16, seed=seed)
    return pretrain(
        datamodule,
        schema.to_dict(),
        tiny_params(workdir, **trainer),
        seed,
        augment or SimpleAugment(16),
        16,
        NORMALISATION,
    )


def test_pretrain_outputs_and_saved_encoder_round_trip(schema, tmp_path: Path) -> None:
    result = run(schema, tmp_path / "work")
    assert Path(result.checkpoint_path).is_file()
    assert result.predictions["key"].str.startswith(("dr5/", "gz2/")).all()
    assert len(result.predictions) == 16
    for name in ("val/loss", "test/loss", "test/uniform_loss", "test/coverage", "test/mae"):
        assert np.isfinite(result.metrics[name]), name
    assert any(k.startswith("test/loss_campaign/") for k in result.metrics)
    assert any(k.startswith("val/loss_question/bar-dr5") for k in result.metrics)

    save_encoder_bundle(result.encoder, tmp_path / "encoder")
    encoder = load_encoder(tmp_path / "encoder")
    assert encoder.gz_evo_config["architecture"] == "test_resnet"
    assert encoder.gz_evo_config["image_size"] == 16
    assert encoder.gz_evo_config["schema"]["n_answers"] == schema.n_answers
    model = load_model(tmp_path / "encoder")
    images = SimpleAugment(16).eval_view(torch.zeros(2, 3, 16, 16, dtype=torch.uint8))
    with torch.no_grad():
        concentrations = model(images)
    assert concentrations.shape == (2, schema.n_answers)
    assert encoder(images).shape == (2, encoder.num_features)


def test_same_seed_gives_the_same_validation_loss(schema, tmp_path: Path) -> None:
    first = run(schema, tmp_path / "a", seed=3, max_epochs=1)
    second = run(schema, tmp_path / "b", seed=3, max_epochs=1)
    assert first.metrics["val/loss"] == second.metrics["val/loss"]
    other = run(schema, tmp_path / "c", seed=4, max_epochs=1)
    assert other.metrics["val/loss"] != first.metrics["val/loss"]


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
        run(schema, tmp_path / "work", augment=NaNAfterTwoBatches())


def test_vote_fraction_metrics_and_prediction_table(schema) -> None:
    rng = np.random.default_rng(0)
    concentrations = rng.uniform(1, 101, (10, schema.n_answers))
    counts = rng.integers(0, 15, (10, schema.n_answers))
    counts[:, : schema.question_slices["smooth-or-featured-dr5"].stop] = 0
    fractions = expected_fractions(concentrations, schema)
    first = schema.question_slices["smooth-or-featured-gz2"]
    np.testing.assert_allclose(fractions[:, first].sum(1), 1.0)
    metrics = vote_fraction_metrics(concentrations, counts, schema, min_votes=20)
    assert "smooth-or-featured-dr5" not in metrics["coverage"]  # nobody answered it
    assert all(0 <= value <= 1 for value in metrics["coverage"].values())
    assert metrics["mae"]  # questions with >= 20 votes exist
    table = prediction_table([f"k{i}" for i in range(10)], concentrations, schema)
    column = schema.answer_columns[0]
    assert (table[f"{column}_lower"] <= table[f"{column}_fraction"]).all()
    assert (table[f"{column}_fraction"] <= table[f"{column}_upper"]).all()


def test_plain_ddp_without_a_launcher_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ValueError, match="ddp_spawn"):
        check_launch({"strategy": "ddp", "devices": 2})
    check_launch({"strategy": "ddp_spawn", "devices": 2})
    check_launch({"strategy": "ddp", "devices": 1})
    monkeypatch.setenv("RANK", "0")
    check_launch({"strategy": "ddp", "devices": 4, "num_nodes": 2})  # torchrun started us
