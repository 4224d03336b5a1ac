"""A Dirichlet linear probe: the supervised head fitted on frozen encoder features.

Methods without a supervised head of their own (BYOL) are compared with the others on the same
Dirichlet-multinomial test loss through this probe: one head, fitted full-batch on the training
galaxies' features, the encoder untouched. A linear head on a few thousand galaxies overfits
within a few hundred steps, so the head kept is the one with the lowest validation loss (checked
every ``check_every`` steps), as linear-probe evaluations usually do.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from gz_evo.losses import dirichlet_multinomial_nll, question_index_tensor
from gz_evo.models.heads import create_head
from gz_evo.schema import Schema


def fit_dirichlet_probe(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    schema: Schema,
    *,
    head: str,
    steps: int,
    lr: float,
    seed: int,
    check_every: int = 10,
) -> tuple[nn.Module, int]:
    """(head, its step): head ``head`` fitted by AdamW on ``train = (features [N, F], counts
    [N, A])``, the state with the lowest loss on ``val`` within ``steps`` steps (eval mode)."""
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)  # its own initialisation, leaving the caller's generator as it was
    probe = create_head(head, train[0].shape[1], schema.n_answers, dropout=0.0)
    torch.set_rng_state(generator_state)
    index = question_index_tensor(schema.answer_question_index)

    def loss_of(features: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        return dirichlet_multinomial_nll(
            probe(features.float()), counts.to(torch.int64), index, schema.n_questions
        ).loss

    optimiser = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=0.0)
    best_loss, best_step, best_state = float("inf"), 0, copy.deepcopy(probe.state_dict())
    for step in range(1, steps + 1):
        loss = loss_of(*train)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % check_every == 0 or step == steps:
            with torch.no_grad():
                val_loss = float(loss_of(*val))
            if val_loss < best_loss:
                best_loss, best_step, best_state = val_loss, step, copy.deepcopy(probe.state_dict())
    probe.load_state_dict(best_state)
    return probe.eval(), best_step
