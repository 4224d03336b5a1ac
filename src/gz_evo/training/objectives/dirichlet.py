"""``supervised``: Zoobot's Dirichlet-multinomial loss on every question of every campaign."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gz_evo.evaluation.dirichlet import LossAggregator, metric_dict
from gz_evo.losses import DirichletMultinomialNLL, dirichlet_multinomial_nll, question_index_tensor
from gz_evo.models.heads import create_head
from gz_evo.training.objectives.base import Logs, Objective, register_objective

if TYPE_CHECKING:
    from gz_evo.schema import Schema
    from gz_evo.training.config import ModelConfig


class DirichletLoss(nn.Module):
    """The supervised head's loss: concentrations and vote counts -> per-question NLL.

    Shared by every objective that trains the Dirichlet head (``supervised`` and ``hybrid``), so
    the loss and its per-question, per-campaign epoch metrics are written once.
    """

    def __init__(self, schema: Schema) -> None:
        super().__init__()
        self.schema = schema
        self.register_buffer(
            "question_index",
            question_index_tensor(schema.answer_question_index),
            persistent=False,
        )
        self.train_losses = LossAggregator.for_schema(schema)
        self.val_losses = LossAggregator.for_schema(schema)

    def forward(
        self, concentrations: torch.Tensor, counts: torch.Tensor, stage: str
    ) -> DirichletMultinomialNLL:
        result = dirichlet_multinomial_nll(
            concentrations, counts, self.question_index, self.schema.n_questions
        )
        self._aggregator(stage).update(result.per_question, result.total_votes)
        return result

    def _aggregator(self, stage: str) -> LossAggregator:
        return self.train_losses if stage == "train" else self.val_losses

    def epoch_metrics(self, stage: str) -> dict[str, float]:
        """``{stage}/loss``, per question and per campaign (synchronised across ranks), reset."""
        aggregator = self._aggregator(stage)
        values = aggregator.compute()
        aggregator.reset()
        return metric_dict(stage, values, self.schema)


@register_objective("supervised")
class SupervisedObjective(Objective):
    """Encoder -> Dirichlet head -> Dirichlet-multinomial NLL of the volunteers' votes.

    A galaxy a campaign never asked (N = 0 everywhere, e.g. unlabelled) adds exactly zero loss.
    """

    n_views = 1

    def __init__(self, *, encoder: nn.Module, schema: Schema, model: ModelConfig, **kwargs: Any):
        super().__init__(encoder=encoder, schema=schema, model=model, **kwargs)
        self.head = create_head(
            model.head, encoder.num_features, schema.n_answers, dropout=model.dropout
        )
        self.dirichlet = DirichletLoss(schema)

    def loss(
        self, encoder: nn.Module, views: Sequence[torch.Tensor], batch: dict, stage: str
    ) -> tuple[torch.Tensor, Logs]:
        concentrations = self.head(encoder(views[0]))
        return self.dirichlet(concentrations, batch["counts"], stage).loss, {}

    def epoch_metrics(self, stage: str) -> dict[str, float]:
        return self.dirichlet.epoch_metrics(stage)
