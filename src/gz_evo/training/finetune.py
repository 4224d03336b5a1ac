"""Downstream transfer: the ``finetune`` objective on the training core, from a saved encoder.

Kedro-free. The configuration is the ``pretraining`` block with ``method: finetune`` (its knobs in
``pretraining.objectives.finetune``; optimiser, trainer and model as for pretraining), so the
same typed :class:`~gz_evo.training.config.PretrainingConfig` serves::

    config = finetune_config(params["pretraining"], {"objectives": {"finetune": {...}}})
    bundle = load_encoder_bundle("data/06_models/gz_evo_encoder")   # or None: random init
    datamodule = DownstreamDataModule(catalog, "ring", image_size=...)
    module = fit_finetune(datamodule, config, augment, bundle, seed=42)
    outputs = predict_labels(module, datamodule.test_dataloader(), config.trainer.precision)

``augment`` must feed the encoder as it was pretrained (``bundle["config"]["image_size"]`` and
``normalisation``), e.g. a :class:`gz_evo.training.augment.GalaxyAugment` built from them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gz_evo.config import merged
from gz_evo.training.config import PretrainingConfig
from gz_evo.training.core import TrainingModule
from gz_evo.training.objectives.finetune import FinetuneOptions
from gz_evo.training.run import autocast, build_trainer, checkpoint_dir, chosen_checkpoint


def finetune_config(params: dict, changes: dict | None = None) -> PretrainingConfig:
    """The ``pretraining`` parameters with ``changes`` merged in and ``method: finetune``."""
    return PretrainingConfig.from_params(params, merged(changes or {}, {"method": "finetune"}))


def _encoder_state(bundle: dict) -> dict[str, torch.Tensor]:
    state = bundle["state_dict"]
    return {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}


def finetune_module(
    config: PretrainingConfig, augment: nn.Module, bundle: dict | None = None
) -> TrainingModule:
    """A :class:`TrainingModule` for ``method: finetune`` whose encoder starts from ``bundle``
    (``{"config", "state_dict"}`` from :func:`gz_evo.datasets.pretraining.load_encoder_bundle`,
    ``encoder.*`` weights loaded strictly) or, with None, from ``config.model`` (random or
    ImageNet weights, as ``model.pretrained`` says). Frozen layers are frozen already."""
    if config.method != "finetune":
        raise ValueError(f"finetune_module needs method 'finetune', got {config.method!r}")
    if bundle is not None:
        saved = bundle["config"]
        wanted = (config.model.architecture, dict(config.model.timm_kwargs))
        found = (saved["architecture"], dict(saved.get("timm_kwargs", {})))
        if wanted != found:
            raise ValueError(
                f"the encoder bundle is {found[0]} {found[1]} but pretraining.model asks for "
                f"{wanted[0]} {wanted[1]}: set model.architecture/timm_kwargs to the bundle's"
            )
    # the finetune objective reads no GZ-Evo schema
    module = TrainingModule(config, None, augment, pretrained=False if bundle else None)
    if bundle is not None:
        module.encoder.load_state_dict(_encoder_state(bundle))
    return module


def check_label_columns(options: FinetuneOptions, datamodule: Any) -> None:
    """The downstream labels fit ``kind`` and ``n_classes`` (after ``datamodule.setup()``)."""
    columns, classes = list(datamodule.label_columns), datamodule.classes
    path = "pretraining.objectives.finetune"
    if options.classification:
        if len(columns) != 1:
            raise ValueError(f"finetune kind {options.kind} takes one label column, got {columns}")
        column = columns[0]
        if column not in classes:
            raise ValueError(
                f"label {column!r} is continuous (float): use kind regression, or class codes"
            )
        if len(classes[column]) != options.n_classes:
            raise ValueError(
                f"label {column!r} has {len(classes[column])} classes {classes[column]} but "
                f"{path}.n_classes is {options.n_classes} (kind {options.kind})"
            )
    else:
        coded = [column for column in columns if column in classes]
        if coded:
            raise ValueError(f"finetune kind regression needs float labels; {coded} are classes")
        if len(columns) != options.n_classes:
            raise ValueError(
                f"{len(columns)} label column(s) {columns} but {path}.n_classes is "
                f"{options.n_classes}: for regression n_classes is the number of label columns"
            )


def fit_finetune(
    datamodule: Any,
    config: PretrainingConfig,
    augment: nn.Module,
    bundle: dict | None = None,
    seed: int = 42,
    callbacks: list | None = None,
    logger: Any = False,
) -> TrainingModule:
    """Finetune on a :class:`~gz_evo.training.data.DownstreamDataModule` and return the module
    (eval mode) with the weights of its best validation-loss checkpoint.

    Always starts afresh (no resume), so the checkpoints are deleted once the best weights are
    loaded: downstream transfer finetunes dozens of cells (1.9 GB of checkpoints in the default
    run otherwise). The returned module is the result; save it where it should be kept.
    """
    import lightning.pytorch as pl

    datamodule.setup("fit")
    check_label_columns(config.objective_config(), datamodule)
    workdir = Path(config.workdir)
    shutil.rmtree(checkpoint_dir(workdir), ignore_errors=True)
    pl.seed_everything(seed, workers=True)
    module = finetune_module(config, augment, bundle)
    trainer = build_trainer(config.trainer, workdir, logger, callbacks)
    trainer.fit(module, datamodule=datamodule)
    chosen = chosen_checkpoint(workdir)
    if chosen.is_file():
        state = torch.load(chosen, map_location="cpu", weights_only=True)
        module.load_state_dict(state["state_dict"])
    shutil.rmtree(checkpoint_dir(workdir), ignore_errors=True)
    return module.eval()


def predict_labels(module: TrainingModule, dataloader: Any, precision: str | int = 32) -> dict:
    """Head outputs for every galaxy of a downstream loader (eval views, no dropout):
    ``key``, ``outputs`` (logits, or values for regression), ``probabilities`` (softmax of the
    logits; None for regression) and ``labels``, as numpy arrays."""
    device = next(module.parameters()).device
    module.eval()
    keys, outputs, labels = [], [], []
    with torch.inference_mode(), autocast(precision, device):
        for batch in dataloader:
            outputs.append(module.predict_head(batch["image"].to(device)).float().cpu())
            labels.append(batch["labels"].cpu())
            keys.extend(batch["key"])
    logits = torch.cat(outputs)
    classification = module.objective.options.classification
    return {
        "key": keys,
        "outputs": logits.numpy(),
        "probabilities": logits.softmax(dim=1).numpy() if classification else None,
        "labels": torch.cat(labels).numpy(),
    }
