"""``byol``: Bootstrap Your Own Latent (Grill et al. 2020) from lightly's parts.

The online network (the core's encoder, a projection and a prediction head) learns to predict
the target network's projection of another view of the same galaxy; the target network (a copy
of the encoder and projection head) gets no gradient and follows the online one as an
exponential moving average whose momentum rises from ``base_momentum`` to 1 on a cosine
schedule over the run (a pure function of the global step, so a resumed run continues it; the
target's weights are part of the checkpoint). The loss is symmetric over the two views from
``GalaxyAugment.two_views``: ``(-cos(p0, z1) - cos(p1, z0)) / 2``, in ``[-1, 1]``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import nn

from gz_evo.training.objectives.base import Logs, Objective, StageMeans, register_objective

if TYPE_CHECKING:
    from gz_evo.schema import Schema
    from gz_evo.training.config import ModelConfig


@dataclass(frozen=True)
class BYOLOptions:
    """Head sizes and momentum (paper: hidden 1024, output 256, base momentum 0.99)."""

    projection_hidden: int
    projection_output: int
    prediction_hidden: int
    base_momentum: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.base_momentum <= 1.0:
            raise ValueError(
                "pretraining.objectives.byol.base_momentum must be in [0, 1], "
                f"got {self.base_momentum}"
            )


class BYOLBranches(nn.Module):
    """The BYOL parts around an encoder: online heads, the momentum target, the loss.

    Shared by ``byol`` and ``hybrid``. The encoder itself is passed in, never stored: it
    belongs to the core; ``target_encoder`` is this module's own copy.
    """

    def __init__(self, encoder: nn.Module, options: BYOLOptions) -> None:
        super().__init__()
        self.base_momentum = options.base_momentum
        self.projection = BYOLProjectionHead(
            encoder.num_features, options.projection_hidden, options.projection_output
        )
        self.prediction = BYOLPredictionHead(
            options.projection_output, options.prediction_hidden, options.projection_output
        )
        self.target_encoder = copy.deepcopy(encoder)
        self.target_projection = copy.deepcopy(self.projection)
        deactivate_requires_grad(self.target_encoder)
        deactivate_requires_grad(self.target_projection)
        self.criterion = NegativeCosineSimilarity()

    def momentum(self, step: int, total_steps: int) -> float:
        """Cosine schedule from ``base_momentum`` (step 0) to 1 (the last step)."""
        return float(cosine_schedule(step, max(total_steps, 1), self.base_momentum, 1.0))

    @torch.no_grad()
    def update_target(self, encoder: nn.Module, momentum: float) -> None:
        """``target <- momentum * target + (1 - momentum) * online``, parameters only."""
        update_momentum(encoder, self.target_encoder, momentum)
        update_momentum(self.projection, self.target_projection, momentum)

    def follow(self, encoder: nn.Module, step: int, total_steps: int) -> Logs:
        """Move the target towards the online network at this step's momentum; log it."""
        momentum = self.momentum(step, total_steps)
        self.update_target(encoder, momentum)
        return {"momentum": momentum}

    def forward(
        self, encoder: nn.Module, views: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(symmetric BYOL loss, the online encoder's features of the first view)."""
        first, second = views[0], views[-1]  # one evaluation view: compared with itself
        features = encoder(first)
        online_first = self.prediction(self.projection(features))
        online_second = self.prediction(self.projection(encoder(second)))
        with torch.no_grad():
            target_first = self.target_projection(self.target_encoder(first))
            target_second = self.target_projection(self.target_encoder(second))
        loss = 0.5 * (
            self.criterion(online_first, target_second)
            + self.criterion(online_second, target_first)
        )
        return loss, features


@register_objective("byol")
class BYOLObjective(Objective):
    """Self-supervised: labels are not read, so labelled and unlabelled galaxies count alike.

    ``val/loss`` (checkpointing, early stopping) is the BYOL loss on validation galaxies.
    """

    n_views = 2
    Options = BYOLOptions

    def __init__(self, *, encoder: nn.Module, schema: Schema, model: ModelConfig, **kwargs: Any):
        super().__init__(encoder=encoder, schema=schema, model=model, **kwargs)
        self.byol = BYOLBranches(encoder, self.options)
        self.means = StageMeans(["byol_loss"])

    def before_step(self, encoder: nn.Module, step: int, total_steps: int) -> Logs:
        return self.byol.follow(encoder, step, total_steps)

    def loss(
        self, encoder: nn.Module, views: Sequence[torch.Tensor], batch: dict, stage: str
    ) -> tuple[torch.Tensor, Logs]:
        loss, _ = self.byol(encoder, views)
        self.means.update(stage, {"byol_loss": loss}, len(views[0]))
        return loss, {"byol_loss": loss.detach()}

    def epoch_metrics(self, stage: str) -> dict[str, float]:
        metrics = self.means.compute(stage)
        return {f"{stage}/loss": metrics[f"{stage}/byol_loss"], **metrics}
