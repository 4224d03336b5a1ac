"""Heads on top of an encoder's pooled features, created by name (``pretraining.model.head``).

``dirichlet``: one Dirichlet concentration per answer, in schema order (Zoobot's head).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

    def __init__(self, in_features: int, n_outputs: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, n_outputs)
        self.mc_dropout = False

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.mc_dropout:
            features = nn.functional.dropout(features, self.dropout.p, training=True)
        else:
            features = self.dropout(features)
        return MIN_CONCENTRATION + CONCENTRATION_SCALE * torch.sigmoid(self.linear(features))


_HEADS: dict[str, Callable[..., nn.Module]] = {"dirichlet": DirichletHead}


def list_heads() -> list[str]:
    """The head names :func:`create_head` knows, sorted."""
    return sorted(_HEADS)


def create_head(name: str, in_features: int, n_outputs: int, **kwargs: Any) -> nn.Module:
    """Head ``name`` from ``in_features`` to ``n_outputs``; unknown names list the known ones."""
    if name not in _HEADS:
        raise ValueError(f"unknown head {name!r}; known heads: {', '.join(list_heads())}")
    return _HEADS[name](in_features, n_outputs, **kwargs)
