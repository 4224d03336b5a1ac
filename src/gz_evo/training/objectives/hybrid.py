"""``hybrid``: BYOL with the Zoobot Dirichlet head on the online branch (Walmsley et al. 2022,
"Towards Galaxy Foundation Models with Hybrid Contrastive Learning").

The Dirichlet head reads the online encoder's features of the first view. The supervised term is
rescaled to the contrastive one, then weighted::

    L = L_byol + w * (|L_byol| / L_sup) * L_sup      (the ratio detached: a number, not a path)

so ``w`` sets the two terms' relative size whatever their units. Unlabelled galaxies (zero
counts, N = 0 for every question) add exactly nothing to ``L_sup``, with no special case.
``w = 0`` is BYOL: the supervised loss is then computed without gradient (for its metrics only),
so the Dirichlet head never gets a gradient and the optimiser never touches it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gz_evo.models.heads import create_head
from gz_evo.training.objectives.base import Logs, Objective, StageMeans, register_objective
from gz_evo.training.objectives.byol import BYOLBranches
from gz_evo.training.objectives.dirichlet import DirichletLoss

if TYPE_CHECKING:
    from gz_evo.schema import Schema
    from gz_evo.training.config import ModelConfig

#: the rescale factor's denominator never goes below this (a batch with no votes at all)
_TINY = 1e-8


@dataclass(frozen=True)
class HybridOptions:
    """``supervised_weight``: ``w`` above (0: BYOL; the BYOL knobs are ``objectives.byol``)."""

    supervised_weight: float

    def __post_init__(self) -> None:
        if self.supervised_weight < 0:
            raise ValueError(
                "pretraining.objectives.hybrid.supervised_weight must be >= 0, "
                f"got {self.supervised_weight}"
            )


@register_objective("hybrid")
class HybridObjective(Objective):
    """BYOL + Dirichlet head on the online branch. ``val/loss`` is the Dirichlet loss."""

    n_views = 2
    Options = HybridOptions
    uses = ("byol",)

    def __init__(self, *, encoder: nn.Module, schema: Schema, model: ModelConfig, **kwargs: Any):
        super().__init__(encoder=encoder, schema=schema, model=model, **kwargs)
        self.byol = BYOLBranches(encoder, kwargs["used"]["byol"])
        self.head = create_head(
            model.head, encoder.num_features, schema.n_answers, dropout=model.dropout
        )
        self.dirichlet = DirichletLoss(schema)
        self.means = StageMeans(["byol_loss", "supervised_loss"])

    def before_step(self, encoder: nn.Module, step: int, total_steps: int) -> Logs:
        return self.byol.follow(encoder, step, total_steps)

    def loss(
        self, encoder: nn.Module, views: Sequence[torch.Tensor], batch: dict, stage: str
    ) -> tuple[torch.Tensor, Logs]:
        byol_loss, features = self.byol(encoder, views)
        weight = self.options.supervised_weight
        with torch.set_grad_enabled(torch.is_grad_enabled() and weight > 0):
            supervised = self.dirichlet(self.head(features), batch["counts"], stage).loss
        rescale = byol_loss.detach().abs() / supervised.detach().clamp(min=_TINY)
        total = byol_loss + weight * rescale * supervised if weight > 0 else byol_loss
        logs = {"byol_loss": byol_loss.detach(), "supervised_loss": supervised.detach()}
        self.means.update(stage, logs, len(views[0]))
        return total, {**logs, "rescale": rescale}

    def epoch_metrics(self, stage: str) -> dict[str, float]:
        # the Dirichlet metrics hold {stage}/loss (what checkpoints and early stopping watch)
        return {**self.dirichlet.epoch_metrics(stage), **self.means.compute(stage)}
