"""The GZ-Evo LightningModule: a timm encoder and a Dirichlet head trained on every question.

Batches are the images pipeline's dicts (``image`` uint8 ``[B,3,H,W]``, ``counts`` int32
``[B,A]``, ``labelled``, ``key``). Augmentation runs batched on the training device, in
``on_after_batch_transfer``, so data-loader workers only decode bytes.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn

from gz_evo.losses import dirichlet_multinomial_nll, question_index_tensor
from gz_evo.models.encoder import create_encoder
from gz_evo.models.head import DirichletHead
from gz_evo.schema import Schema


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; training stops instead of saving a NaN model."""


class LossAggregator(torchmetrics.Metric):
    """Epoch sums of the loss: in total, per question and per campaign (synchronised across ranks).

    Per question: mean NLL over galaxies that have votes for it. Per campaign: mean over galaxies
    with any vote in that campaign of the NLL summed over the campaign's questions.
    """

    full_state_update = False

    def __init__(self, question_campaign: torch.Tensor, n_campaigns: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        n_questions = question_campaign.numel()
        self.register_buffer("question_campaign", question_campaign.long(), persistent=False)
        self.n_campaigns = n_campaigns
        self.add_state("galaxies", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("question_sum", torch.zeros(n_questions, dtype=torch.float64), "sum")
        self.add_state("question_count", torch.zeros(n_questions, dtype=torch.float64), "sum")
        self.add_state("campaign_count", torch.zeros(n_campaigns, dtype=torch.float64), "sum")

    @classmethod
    def for_schema(cls, schema: Schema, **kwargs: Any) -> LossAggregator:
        """An aggregator over the schema's questions and campaigns (``kwargs``: torchmetrics')."""
        campaign_of_question = torch.as_tensor(
            [schema.campaigns.index(q.campaign) for q in schema.questions]
        )
        return cls(campaign_of_question, len(schema.campaigns), **kwargs)

    def update(self, per_question: torch.Tensor, total_votes: torch.Tensor) -> None:
        """Add a batch; the total and per-campaign loss sums follow from ``question_sum``."""
        answered = (total_votes > 0).double()
        self.galaxies += per_question.shape[0]
        self.question_sum += per_question.detach().double().sum(0)
        self.question_count += answered.sum(0)
        index = self.question_campaign.to(answered.device)
        asked = torch.zeros(
            answered.shape[0], self.n_campaigns, dtype=torch.float64, device=index.device
        ).index_add_(1, index, answered)
        self.campaign_count += (asked > 0).double().sum(0)

    def compute(self) -> dict[str, torch.Tensor]:
        index = self.question_campaign.to(self.question_sum.device)
        campaign_sum = torch.zeros_like(self.campaign_count).index_add_(0, index, self.question_sum)
        return {
            "loss": self.question_sum.sum() / self.galaxies.clamp(min=1),
            "question": self.question_sum / self.question_count.clamp(min=1),
            "question_count": self.question_count,
            "campaign": campaign_sum / self.campaign_count.clamp(min=1),
            "campaign_count": self.campaign_count,
        }


def metric_dict(prefix: str, values: dict[str, torch.Tensor], schema: Schema) -> dict[str, float]:
    """Flatten a ``LossAggregator.compute()`` into MLflow-friendly names."""
    # one transfer per tensor (not one per element), and torchmetrics squeezes one-element
    # outputs: keep the vectors as lists
    values = {key: value.reshape(-1).tolist() for key, value in values.items()}
    metrics = {f"{prefix}/loss": values["loss"][0]}
    for i, name in enumerate(schema.question_names):
        if values["question_count"][i] > 0:
            metrics[f"{prefix}/loss_question/{name}"] = values["question"][i]
    for i, campaign in enumerate(schema.campaigns):
        if values["campaign_count"][i] > 0:
            metrics[f"{prefix}/loss_campaign/{campaign}"] = values["campaign"][i]
    return metrics


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_factor: float) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to ``min_factor``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class GZEvoModule(pl.LightningModule):
    """Encoder + Dirichlet head, trained with the Dirichlet-multinomial loss on all questions.

    ``model``: ``architecture``, ``pretrained``, ``weights_path``, ``dropout``, ``drop_path_rate``,
    ``channels_last``. ``optimizer``: ``lr``, ``weight_decay``, ``betas``, ``schedule``
    (``cosine`` or ``constant``), ``warmup_steps``, ``min_lr_factor``. ``augment`` is a module
    with ``train_view`` / ``eval_view`` (``gz_evo.augment.GalaxyAugment``).
    """

    def __init__(
        self,
        schema_dict: dict,
        model: dict,
        optimizer: dict,
        augment: nn.Module,
        image_size: int,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["augment", "schema_dict"])
        self.schema_dict = schema_dict
        self.schema = Schema.from_dict(schema_dict)
        self.model_config = dict(model)
        self.optimizer_config = dict(optimizer)
        self.augment = augment
        self.channels_last = bool(model.get("channels_last", False))
        self.encoder = create_encoder(
            model["architecture"],
            pretrained=bool(model.get("pretrained", False)),
            weights_path=model.get("weights_path"),
            drop_path_rate=model.get("drop_path_rate"),
            **dict(model.get("timm_kwargs") or {}),
        )
        self.head = DirichletHead(
            self.encoder.num_features, self.schema.n_answers, float(model.get("dropout", 0.2))
        )
        if self.channels_last:
            self.encoder = self.encoder.to(memory_format=torch.channels_last)
        self.register_buffer(
            "question_index",
            question_index_tensor(self.schema.answer_question_index),
            persistent=False,
        )
        self.train_losses = LossAggregator.for_schema(self.schema)
        self.val_losses = LossAggregator.for_schema(self.schema)

    # --- forward ------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised float images ``[B,3,S,S]`` -> concentrations ``[B, n_answers]``."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.head(self.encoder(images))

    def on_train_start(self) -> None:
        # a resumed run says where it picked up (the resume test reads this line)
        logging.getLogger(__name__).info(
            "training starts at global step %d (epoch %d)", self.global_step, self.current_epoch
        )

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        images = batch["image"]
        trainer = self._trainer
        if trainer is not None and trainer.training:
            batch["view"] = self.augment.train_view(images)
        else:
            batch["view"] = self.augment.eval_view(images)
        return batch

    def _loss(self, batch: dict):
        concentrations = self(batch["view"])
        return dirichlet_multinomial_nll(
            concentrations, batch["counts"], self.question_index, self.schema.n_questions
        )

    # --- steps ----------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        result = self._loss(batch)
        finite = bool(torch.isfinite(result.loss))
        if self.trainer.world_size > 1:
            finite = self.trainer.strategy.reduce_boolean_decision(finite, all=True)
        if not finite:
            raise NonFiniteLossError(
                f"non-finite training loss ({float(result.loss.detach())}) at global step "
                f"{self.global_step} (epoch {self.current_epoch}, batch {batch_idx}); "
                "lower pretraining.optimizer.lr, use precision 32-true or check the data"
            )
        self.train_losses.update(result.per_question, result.total_votes)
        self.log("train/step_loss", result.loss, prog_bar=True, batch_size=len(batch["key"]))
        return result.loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        result = self._loss(batch)
        self.val_losses.update(result.per_question, result.total_votes)

    def _log_epoch(self, prefix: str, aggregator: LossAggregator) -> None:
        values = aggregator.compute()
        aggregator.reset()
        metrics = metric_dict(prefix, values, self.schema)
        # the aggregator already all-reduced its sums, so every rank holds the same values;
        # sync_dist (a mean over ranks, per key, once an epoch) only keeps Lightning from warning
        self.log_dict(metrics, prog_bar=False, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train", self.train_losses)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            self.val_losses.reset()
            return
        self._log_epoch("val", self.val_losses)

    # --- optimiser --------------------------------------------------------------------------
    def _total_steps(self) -> int:
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
        config = self.optimizer_config
        decay, no_decay = [], []
        for name, parameter in self.named_parameters():
            if not parameter.requires_grad:
                continue
            (no_decay if parameter.ndim <= 1 or name.endswith(".bias") else decay).append(parameter)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": float(config.get("weight_decay", 0.05))},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=float(config.get("lr", 1e-3)),
            betas=tuple(config.get("betas", (0.9, 0.999))),
        )
        schedule = config.get("schedule", "cosine")
        if schedule == "constant":
            return optimizer
        if schedule != "cosine":
            raise ValueError(
                f"pretraining.optimizer.schedule must be cosine or constant: {schedule}"
            )
        total = self._total_steps()
        warmup = int(config.get("warmup_steps", 0))
        min_factor = float(config.get("min_lr_factor", 0.01))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, warmup, total, min_factor)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
