"""The Dirichlet probe: it learns from frozen features and keeps its best validation step."""

from __future__ import annotations

import numpy as np
import torch

from gz_evo.evaluation.probe import fit_dirichlet_probe
from gz_evo.losses import (
    dirichlet_multinomial_nll,
    question_index_tensor,
    uniform_concentration_loss,
)
from gz_evo.schema import load_schema


def _data(schema, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature 0 sets the first answer's vote share of every question."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 8)).astype(np.float32)
    share = 1 / (1 + np.exp(-2 * features[:, 0]))
    counts = np.zeros((n, schema.n_answers), dtype=np.int64)
    for columns in schema.question_slices.values():
        k = columns.stop - columns.start
        for row in range(n):
            p = np.full(k, (1 - share[row]) / (k - 1))
            p[0] = share[row]
            counts[row, columns] = rng.multinomial(20, p)
    return torch.from_numpy(features), torch.from_numpy(counts)


def test_the_probe_learns_and_keeps_its_best_validation_step() -> None:
    schema = load_schema("dr5")
    train, val, test = _data(schema, 200, 0), _data(schema, 100, 1), _data(schema, 100, 2)
    state = torch.get_rng_state()
    probe, step = fit_dirichlet_probe(
        train, val, schema, head="dirichlet", steps=200, lr=0.05, seed=0
    )
    assert torch.equal(torch.get_rng_state(), state)  # the caller's generator untouched
    assert 0 < step <= 200 and not probe.training
    index = question_index_tensor(schema.answer_question_index)
    with torch.no_grad():
        loss = dirichlet_multinomial_nll(probe(test[0]), test[1], index, schema.n_questions).loss
    uniform = uniform_concentration_loss(test[1], index, schema.n_questions)
    assert float(loss) < 0.9 * float(uniform)
    again, same_step = fit_dirichlet_probe(
        train, val, schema, head="dirichlet", steps=200, lr=0.05, seed=0
    )
    assert same_step == step
    assert all(
        torch.equal(a, b)
        for a, b in zip(probe.state_dict().values(), again.state_dict().values(), strict=True)
    )
