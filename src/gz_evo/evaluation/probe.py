"""A Dirichlet linear probe: the supervised head fitted on frozen encoder features.

Methods without a supervised head of their own (BYOL) are compared with the others on the same
Dirichlet-multinomial test loss through this probe: one head, fitted full-batch on the training
galaxies' features, the encoder untouched.
"""

from __future__ import annotations

import torch
from torch import nn

from gz_evo.losses import dirichlet_multinomial_nll, question_index_tensor
from gz_evo.models.heads import create_head
from gz_evo.schema import Schema


def fit_dirichlet_probe(
    features: torch.Tensor,
    counts: torch.Tensor,
    schema: Schema,
    *,
    head: str,
    steps: int,
    lr: float,
    seed: int,
) -> nn.Module:
    """Head ``head`` fitted by AdamW on ``features [N, F]`` -> ``counts [N, A]`` (eval mode)."""
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)  # its own initialisation, leaving the caller's generator as it was
    probe = create_head(head, features.shape[1], schema.n_answers, dropout=0.0)
    torch.set_rng_state(generator_state)
    index = question_index_tensor(schema.answer_question_index)
    optimiser = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=0.0)
    features, counts = features.float(), counts.to(torch.int64)
    for _ in range(steps):
        loss = dirichlet_multinomial_nll(probe(features), counts, index, schema.n_questions).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return probe.eval()
