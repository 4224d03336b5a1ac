"""The Dirichlet head: pooled features -> one concentration per answer, in schema order."""

from __future__ import annotations

import torch
from torch import nn

MIN_CONCENTRATION = 1.0
CONCENTRATION_SCALE = 100.0


class DirichletHead(nn.Module):
    """Dropout, a linear layer, and ``1 + 100 * sigmoid``: concentrations in (1, 101).

    The lower bound of 1 keeps every Dirichlet unimodal-or-flat (no mass piling at the simplex
    corners) and the upper bound stops a few confident galaxies from dominating the loss.
    ``mc_dropout=True`` keeps dropout active in eval mode, for Monte-Carlo dropout samples.
    """

    def __init__(self, in_features: int, n_answers: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, n_answers)
        self.mc_dropout = False

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.mc_dropout:
            features = nn.functional.dropout(features, self.dropout.p, training=True)
        else:
            features = self.dropout(features)
        return MIN_CONCENTRATION + CONCENTRATION_SCALE * torch.sigmoid(self.linear(features))
