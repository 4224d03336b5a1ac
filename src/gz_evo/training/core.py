"""The one LightningModule every training method shares: encoder + objective.

The core owns what all methods have in common: the timm encoder, the augmented views of each
batch (made batched on the training device, in ``on_after_batch_transfer``, so data-loader
workers only decode bytes), channels-last layout, the optimiser and its schedule, the non-finite
loss guard and logging. What differs between methods (heads, loss, their metrics) is the
objective (:mod:`gz_evo.training.objectives`), created by name from ``pretraining.method``.

Batches follow the data modules' contract (:mod:`gz_evo.training.data`): ``image`` uint8
``[B,3,H,W]``, ``key``, ``labelled`` and ``counts`` (GZ-Evo votes) or ``labels`` (downstream).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from gz_evo.models.encoder import create_encoder
from gz_evo.schema import Schema
from gz_evo.training.config import ModelConfig, OptimizerConfig, PretrainingConfig
from gz_evo.training.objectives import Objective, create_objective


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; training stops instead of saving a NaN model."""


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_factor: float) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to ``min_factor``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_encoder(model: ModelConfig, pretrained: bool | None = None) -> nn.Module:
    """The timm encoder of ``model`` (``pretrained`` overrides the config: False when weights
    are about to be loaded from a checkpoint anyway)."""
    encoder = create_encoder(
        model.architecture,
        pretrained=model.pretrained if pretrained is None else pretrained,
        weights_path=model.weights_path,
        drop_path_rate=model.drop_path_rate,
        **model.timm_kwargs,
    )
    if model.channels_last:
        encoder = encoder.to(memory_format=torch.channels_last)
    return encoder


class TrainingModule(pl.LightningModule):
    """Encoder + objective, trained by Lightning.

    Args:
        config: the typed ``pretraining`` parameters (method, model, optimiser, ...).
        schema: the GZ-Evo schema (answer order of the counts and of the Dirichlet head).
        augment: a module with ``train_view``, ``two_views`` and ``eval_view``
            (:class:`gz_evo.training.augment.GalaxyAugment`).
        pretrained: None to follow ``config.model.pretrained``; False to skip loading
            ImageNet weights (a checkpoint is loaded next).
    """

    def __init__(
        self,
        config: PretrainingConfig,
        schema: Schema,
        augment: nn.Module,
        pretrained: bool | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.schema = schema
        self.augment = augment
        self.encoder = build_encoder(config.model, pretrained)
        self.objective: Objective = create_objective(
            config.method,
            encoder=self.encoder,
            schema=schema,
            model=config.model,
            blocks=config.objectives,
        )
        self.total_steps = 0

    # --- forward ----------------------------------------------------------------------------------
    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """Normalised float views ``[B,3,S,S]`` -> pooled features ``[B, num_features]``."""
        return self.encoder(self._layout(views))

    def predict_head(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> the supervised head's outputs (eval view, as at test time)."""
        return self.objective.predict(self(self.augment.eval_view(images)))

    def _layout(self, views: torch.Tensor) -> torch.Tensor:
        if self.config.model.channels_last:
            return views.contiguous(memory_format=torch.channels_last)
        return views

    # --- exact resume -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Keep the random number generators' states, so a resumed run draws the same dropout
        masks and augmentations as an unbroken one (Lightning saves model, optimiser, loops)."""
        checkpoint["rng_states"] = random_states(self.augment)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "rng_states" in checkpoint:
            restore_random_states(checkpoint["rng_states"], self.augment)

    def on_train_start(self) -> None:
        # a resumed run says where it picked up (the resume test reads this line)
        logging.getLogger(__name__).info(
            "training starts at global step %d (epoch %d)", self.global_step, self.current_epoch
        )

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        images = batch["image"]
        trainer = self._trainer
        if trainer is not None and trainer.training:
            if self.objective.n_views == 2:
                views = list(self.augment.two_views(images))
            else:
                views = [self.augment.train_view(images) for _ in range(self.objective.n_views)]
        else:
            views = [self.augment.eval_view(images)]
        batch["views"] = [self._layout(view) for view in views]
        return batch

    # --- steps ----------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        size = len(batch["key"])
        before = self.objective.before_step(self.encoder, self.global_step, self.total_steps)
        loss, logs = self.objective.loss(self.encoder, batch["views"], batch, "train")
        self._check_finite(loss, batch_idx)
        self.log("train/step_loss", loss, prog_bar=True, batch_size=size)
        for name, value in {**before, **logs}.items():
            self.log(f"train/{name}", value, batch_size=size)
        return loss

    def _check_finite(self, loss: torch.Tensor, batch_idx: int) -> None:
        finite = bool(torch.isfinite(loss))
        if self.trainer.world_size > 1:
            finite = self.trainer.strategy.reduce_boolean_decision(finite, all=True)
        if not finite:
            raise NonFiniteLossError(
                f"non-finite training loss ({float(loss.detach())}) at global step "
                f"{self.global_step} (epoch {self.current_epoch}, batch {batch_idx}); "
                "lower pretraining.optimizer.lr, use precision 32-true or check the data"
            )

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        _, logs = self.objective.loss(self.encoder, batch["views"], batch, "val")
        for name, value in logs.items():
            self.log(f"val/{name}", value, batch_size=len(batch["key"]))

    def _log_epoch(self, stage: str) -> None:
        metrics = self.objective.epoch_metrics(stage)
        # aggregators already all-reduced their sums, so every rank holds the same values;
        # sync_dist (a mean over ranks, per key, once an epoch) only keeps Lightning from warning
        self.log_dict(metrics, prog_bar=False, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            self.objective.epoch_metrics("val")  # computed and reset, not logged
            return
        self._log_epoch("val")
        # progress a person can follow in the log, whatever the progress bar setting
        logging.getLogger(__name__).info(
            "%s: epoch %d of %s, global step %d, val/loss %.3f",
            self.config.method,
            self.current_epoch + 1,
            self.trainer.max_epochs,
            self.global_step,
            float(self.trainer.callback_metrics.get("val/loss", float("nan"))),
        )

    # --- optimiser --------------------------------------------------------------------------
    def _count_total_steps(self) -> int:
        """Optimiser steps in the whole fit (streamed shards have no length: ask the datamodule)."""
        estimated = self.trainer.estimated_stepping_batches
        if math.isfinite(estimated):
            return int(estimated)
        datamodule = self.trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "steps_per_epoch"):
            raise ValueError("set pretraining.trainer.max_steps: the training loader has no length")
        per_epoch = math.ceil(datamodule.steps_per_epoch() / self.trainer.accumulate_grad_batches)
        return per_epoch * int(self.trainer.max_epochs)

    def configure_optimizers(self) -> Any:
        self.total_steps = self._count_total_steps()
        config = self.config.optimizer
        groups = self.objective.parameter_groups(self.encoder, config)
        if groups is None:
            optimizer = adamw(self.named_parameters(), config)
        else:
            check_parameter_groups(groups, self.named_parameters())
            optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)
        if config.schedule == "constant":
            return optimizer
        total, warmup, floor = self.total_steps, config.warmup_steps, config.min_lr_factor
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, warmup, total, floor)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def random_states(augment: nn.Module) -> dict[str, torch.Tensor]:
    """The global torch (CPU and CUDA) and the augmentation's own generator states (tensors:
    checkpoints stay loadable with ``weights_only=True``). Rank 0's states are the ones saved."""
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    generator = getattr(augment, "generator", None)
    if generator is not None:
        states["augment"] = generator.get_state()
    return states


def restore_random_states(states: dict[str, torch.Tensor], augment: nn.Module) -> None:
    torch.set_rng_state(states["torch"].cpu())
    if "cuda" in states and torch.cuda.is_available():
        saved = list(states["cuda"].cpu())
        torch.cuda.set_rng_state_all(saved[: torch.cuda.device_count()])
    generator = getattr(augment, "generator", None)
    if generator is not None and "augment" in states:
        generator.set_state(states["augment"].cpu())


def check_parameter_groups(groups: list[dict], named_parameters: Any) -> None:
    """An objective's own parameter groups hold every parameter that takes a gradient, once."""
    seen: dict[int, int] = {}
    for group in groups:
        for parameter in group["params"]:
            seen[id(parameter)] = seen.get(id(parameter), 0) + 1
    for name, parameter in named_parameters:
        count = seen.get(id(parameter), 0)
        if parameter.requires_grad and count != 1:
            raise ValueError(f"parameter {name} is in {count} optimiser groups, not exactly one")


def adamw(named_parameters: Any, config: OptimizerConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on weights only (not on biases and norm parameters); parameters
    that take no gradient (e.g. a momentum target network) are left out."""
    decay, no_decay = [], []
    for name, parameter in named_parameters:
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim <= 1 or name.endswith(".bias") else decay).append(parameter)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        betas=config.betas,
    )
