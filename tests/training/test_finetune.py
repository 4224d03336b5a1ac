"""Finetuning: frozen layers, layer-wise learning rates, a saved encoder as the start, a fit."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from gz_evo.config import as_params
from gz_evo.datasets.pretraining import load_encoder_bundle, save_encoder_bundle
from gz_evo.models.bundle import encoder_bundle
from gz_evo.schema import load_schema
from gz_evo.training.config import PretrainingConfig
from gz_evo.training.core import TrainingModule, adamw
from gz_evo.training.data import DownstreamDataModule
from gz_evo.training.finetune import (
    check_label_columns,
    finetune_config,
    finetune_module,
    fit_finetune,
    predict_labels,
)
from tests.training.downstream import downstream_catalog
from tests.training.synthetic import SimpleAugment, tiny_config

# test_resnet's layer groups (timm's group_matcher): stem, layer1, layer2, layer3, layer4
FROZEN = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.")
TRAINED = ("layer4.",)


def _config(tmp_path: Path, **finetune) -> PretrainingConfig:
    options = {"kind": "binary", "n_classes": 2, "n_blocks": 2, "layer_decay": 0.5, "dropout": 0.0}
    return tiny_config(tmp_path, "finetune", {"finetune": {**options, **finetune}})


def test_only_the_last_blocks_and_the_head_take_a_gradient(tmp_path: Path) -> None:
    module = finetune_module(_config(tmp_path, n_blocks=2), SimpleAugment(16))
    trained = {name for name, p in module.named_parameters() if p.requires_grad}
    assert trained, "nothing trains"
    for name in trained:
        assert name.startswith(("encoder.layer3.", "encoder.layer4.", "objective.head."))
    for name, parameter in module.encoder.named_parameters():
        assert parameter.requires_grad == name.startswith(("layer3.", "layer4."))
    probe = finetune_module(_config(tmp_path, n_blocks=0), SimpleAugment(16))
    assert {n for n, p in probe.named_parameters() if p.requires_grad} == {
        "objective.head.1.weight",
        "objective.head.1.bias",
    }
    every = finetune_module(_config(tmp_path, n_blocks=-1), SimpleAugment(16))
    assert all(p.requires_grad for p in every.parameters())


def test_learning_rates_decay_layer_by_layer_from_the_top(tmp_path: Path) -> None:
    config = _config(tmp_path, n_blocks=3, layer_decay=0.5)
    module = finetune_module(config, SimpleAugment(16))
    lr, weight_decay = config.optimizer.lr, config.optimizer.weight_decay
    groups = module.objective.parameter_groups(module.encoder, config.optimizer)
    names = {id(p): n for n, p in module.named_parameters()}
    by_layer = {}
    for group in groups:
        for parameter in group["params"]:
            layer = names[id(parameter)].split(".")[1]
            by_layer.setdefault(layer, set()).add(group["lr"])
            decays = parameter.ndim > 1 and not names[id(parameter)].endswith(".bias")
            assert group["weight_decay"] == (weight_decay if decays else 0.0)
    # head lr, then the top block lr * decay, the next lr * decay^2, ... in this order
    assert by_layer == {"head": {lr}, "layer4": {lr / 2}, "layer3": {lr / 4}, "layer2": {lr / 8}}
    lrs = [group["lr"] for group in groups]
    assert lrs == sorted(lrs, reverse=True) and lrs[0] == lr
    in_groups = {id(p) for group in groups for p in group["params"]}
    for name, parameter in module.encoder.named_parameters():  # frozen ones are absent
        assert (id(parameter) in in_groups) == name.startswith(("layer2.", "layer3.", "layer4."))
    # the core builds its optimiser from these groups (and the cosine schedule scales each)
    trainer = pl.Trainer(max_steps=10, logger=False, enable_checkpointing=False)
    module.trainer = trainer
    built = module.configure_optimizers()["optimizer"]
    assert [g["lr"] for g in built.param_groups] == lrs


def test_the_supervised_optimiser_is_unchanged(tmp_path: Path) -> None:
    schema = load_schema(["dr5", "gz2"])
    config = tiny_config(tmp_path)
    module = TrainingModule(config, schema, SimpleAugment(16))
    assert module.objective.parameter_groups(module.encoder, config.optimizer) is None
    module.trainer = pl.Trainer(max_steps=10, logger=False, enable_checkpointing=False)
    built = module.configure_optimizers()["optimizer"]
    expected = adamw(module.named_parameters(), config.optimizer)
    assert len(built.param_groups) == len(expected.param_groups) == 2
    for got, want in zip(built.param_groups, expected.param_groups, strict=True):
        assert [id(p) for p in got["params"]] == [id(p) for p in want["params"]]
        skip = ("params", "initial_lr")  # initial_lr: set by the schedule
        assert {k: v for k, v in got.items() if k not in skip} == {
            k: v for k, v in want.items() if k not in skip
        }


def test_finetuning_starts_from_the_saved_encoder(tmp_path: Path) -> None:
    config = _config(tmp_path)
    torch.manual_seed(1)
    source = finetune_module(config, SimpleAugment(16))
    model = {**as_params(config.model), "method": "supervised", "head": None}
    bundle = encoder_bundle(source.encoder, None, model, {}, 16, {"mean": [0.5], "std": [0.25]})
    save_encoder_bundle(bundle, tmp_path / "bundle")
    torch.manual_seed(2)  # a different random start, which the bundle's weights replace
    module = finetune_module(config, SimpleAugment(16), load_encoder_bundle(tmp_path / "bundle"))
    saved = source.encoder.state_dict()
    for name, tensor in module.encoder.state_dict().items():
        assert torch.equal(tensor, saved[name]), name
    fresh = finetune_module(config, SimpleAugment(16), None)
    assert not torch.equal(fresh.encoder.conv1[0].weight, saved["conv1.0.weight"])
    assert not fresh.encoder.layer1[0].conv1.weight.requires_grad  # frozen after loading too
    other = {**bundle, "config": {**bundle["config"], "architecture": "resnet18"}}
    with pytest.raises(ValueError, match=r"bundle is resnet18 .* asks for test_resnet"):
        finetune_module(config, SimpleAugment(16), other)


class EpochLosses(pl.Callback):
    """The epoch-mean ``train/loss`` (logged after the callbacks' epoch-end hooks: read later)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def _read(self, trainer) -> None:
        if "train/loss" in trainer.callback_metrics:
            self.losses.append(float(trainer.callback_metrics["train/loss"]))

    def on_train_epoch_start(self, trainer, module) -> None:
        self._read(trainer)

    def on_train_end(self, trainer, module) -> None:
        self._read(trainer)


def _state(module: TrainingModule, prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    return {
        name: tensor.clone()
        for name, tensor in module.encoder.state_dict().items()
        if name.startswith(prefixes)
    }


@pytest.mark.parametrize(
    ("label", "finetune", "metric"),
    [
        ("ring", {"kind": "binary", "n_classes": 2}, "accuracy"),
        ("fraction", {"kind": "regression", "n_classes": 1}, "mae"),
    ],
)
def test_a_short_fit_trains_the_last_block_only_and_overfits(
    tmp_path: Path, label: str, finetune: dict, metric: str
) -> None:
    catalog = downstream_catalog(tmp_path, n=20)
    datamodule = DownstreamDataModule(catalog, label, image_size=16, batch_size=6, seed=0)
    config = finetune_config(
        as_params(_config(tmp_path / "work", n_blocks=1, **finetune)),
        {
            "optimizer": {"lr": 0.01, "schedule": "constant", "weight_decay": 0.0},
            "trainer": {"max_epochs": 12, "gradient_clip_val": None},
        },
    )
    pl.seed_everything(0)
    before = finetune_module(config, SimpleAugment(16))  # fit_finetune seeds the same start
    frozen, trained = _state(before, FROZEN), _state(before, TRAINED)
    losses = EpochLosses()
    module = fit_finetune(datamodule, config, SimpleAugment(16), None, seed=0, callbacks=[losses])
    after_frozen, after_trained = _state(module, FROZEN), _state(module, TRAINED)
    # frozen layers: weights and batch-norm statistics bit-identical; the trained block moved
    assert frozen.keys() == after_frozen.keys()
    assert all(torch.equal(frozen[k], after_frozen[k]) for k in frozen)
    assert not torch.equal(trained["layer4.0.conv1.weight"], after_trained["layer4.0.conv1.weight"])
    assert len(losses.losses) == 12 and losses.losses[-1] < 0.7 * losses.losses[0]
    metrics = module.trainer.callback_metrics
    assert f"val/{metric}" in metrics and "val/loss" in metrics

    outputs = predict_labels(module, datamodule.test_dataloader())
    n_test = len(datamodule.datasets["test"])
    assert len(outputs["key"]) == n_test == len(outputs["labels"])
    if finetune["kind"] == "binary":
        assert outputs["outputs"].shape == (n_test, 2)
        assert outputs["probabilities"].sum(axis=1) == pytest.approx(1.0, abs=1e-5)
    else:
        assert outputs["outputs"].shape == (n_test, 1) and outputs["probabilities"] is None


def test_unknown_kinds_and_wrong_class_counts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind must be one of binary, multiclass, regression"):
        _config(tmp_path, kind="ordinal")
    with pytest.raises(ValueError, match="n_classes must be 2 for kind binary"):
        _config(tmp_path, n_classes=3)
    with pytest.raises(ValueError, match="n_blocks is 9 but test_resnet has 5 layer groups"):
        finetune_module(_config(tmp_path, n_blocks=9), SimpleAugment(16))
    catalog = downstream_catalog(tmp_path, n=12)
    tidal = DownstreamDataModule(catalog, "tidal", image_size=16, seed=0)
    tidal.setup()
    options = _config(tmp_path, kind="multiclass", n_classes=4).objective_config()
    with pytest.raises(ValueError, match=r"'tidal' has 3 classes .*n_classes is 4"):
        check_label_columns(options, tidal)
    check_label_columns(_config(tmp_path, kind="multiclass", n_classes=3).objective_config(), tidal)
    regression = _config(tmp_path, kind="regression", n_classes=1).objective_config()
    with pytest.raises(ValueError, match="regression needs float labels"):
        check_label_columns(regression, tidal)
    module = finetune_module(_config(tmp_path), SimpleAugment(16))
    images = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    counts = {"image": images, "counts": torch.ones(2, 5), "key": ["a", "b"]}
    with pytest.raises(ValueError, match="downstream batches with labels"):
        module.objective.loss(module.encoder, [images.float()], counts, "train")
    fraction = DownstreamDataModule(catalog, "fraction", image_size=16, seed=0)
    fraction.setup()
    with pytest.raises(ValueError, match="'fraction' is continuous"):
        check_label_columns(_config(tmp_path).objective_config(), fraction)
