"""The vectorised Dirichlet-multinomial loss against pyro's reference distribution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pyro.distributions import DirichletMultinomial

from gz_evo.losses import (
    dirichlet_multinomial_nll,
    question_index_tensor,
    uniform_concentration_loss,
)
from gz_evo.schema import load_schema


@pytest.fixture(scope="module")
def schema():
    return load_schema(["gz2", "dr5", "candels"])


def _random_batch(schema, batch: int, seed: int, dtype=torch.float64):
    """Counts where each galaxy answers one campaign's questions only (others N=0)."""
    generator = torch.Generator().manual_seed(seed)
    concentrations = 1.0 + 100.0 * torch.rand(batch, schema.n_answers, generator=generator)
    counts = torch.randint(0, 30, (batch, schema.n_answers), generator=generator)
    campaigns = schema.campaigns
    campaign_of_answer = np.array(
        [q.campaign for q in schema.questions for _ in q.answers], dtype=object
    )
    for row in range(batch):
        own = campaigns[row % len(campaigns)]
        counts[row, torch.as_tensor(campaign_of_answer != own)] = 0
    counts[0, :] = 0  # a galaxy with no votes at all
    return concentrations.to(dtype), counts.to(torch.int32)


def _pyro_nll(schema, concentrations, counts) -> torch.Tensor:
    columns = []
    for question_slice in schema.question_slices.values():
        alpha = concentrations[:, question_slice].double()
        x = counts[:, question_slice].double()
        distribution = DirichletMultinomial(alpha, total_count=x.sum(-1), validate_args=False)
        columns.append(-distribution.log_prob(x))
    return torch.stack(columns, dim=1)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_pyro_per_question_and_in_total_including_zero_votes(schema, seed) -> None:
    concentrations, counts = _random_batch(schema, batch=24, seed=seed)
    index = question_index_tensor(schema.answer_question_index)
    result = dirichlet_multinomial_nll(concentrations, counts, index, schema.n_questions)
    expected = _pyro_nll(schema, concentrations, counts)
    assert (result.total_votes == 0).any(), "the batch must include N=0 questions"
    torch.testing.assert_close(result.per_question, expected, rtol=1e-5, atol=0.0)
    torch.testing.assert_close(result.loss, expected.sum(1).mean(), rtol=1e-5, atol=0.0)
    # N=0 questions: exactly zero
    assert torch.all(result.per_question[result.total_votes == 0] == 0)


def test_float32_total_matches_pyro_float64(schema) -> None:
    """Training precision: float32 totals agree with the float64 reference to 1e-5 relative."""
    concentrations, counts = _random_batch(schema, batch=24, seed=4)
    index = question_index_tensor(schema.answer_question_index)
    result = dirichlet_multinomial_nll(concentrations.float(), counts, index, schema.n_questions)
    assert result.loss.dtype == torch.float32
    expected = _pyro_nll(schema, concentrations.float(), counts)
    torch.testing.assert_close(result.loss.double(), expected.sum(1).mean(), rtol=1e-5, atol=0.0)
    # single questions can lose a few digits to cancellation between large lgamma terms
    torch.testing.assert_close(result.per_question.double(), expected, rtol=1e-3, atol=1e-3)


def test_zero_vote_questions_give_exactly_zero_gradient(schema) -> None:
    concentrations, counts = _random_batch(schema, batch=8, seed=1, dtype=torch.float32)
    concentrations.requires_grad_(True)
    index = question_index_tensor(schema.answer_question_index)
    result = dirichlet_multinomial_nll(concentrations, counts, index, schema.n_questions)
    result.loss.backward()
    unanswered = (result.total_votes == 0)[:, index]
    assert unanswered.any()
    assert torch.all(concentrations.grad[unanswered] == 0)
    assert torch.all(concentrations.grad[~unanswered] != 0)


def test_float32_under_autocast(schema) -> None:
    concentrations, counts = _random_batch(schema, batch=8, seed=2, dtype=torch.float32)
    index = question_index_tensor(schema.answer_question_index)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        result = dirichlet_multinomial_nll(
            concentrations.bfloat16(), counts, index, schema.n_questions
        )
    assert result.loss.dtype == torch.float32
    assert result.per_question.dtype == torch.float32
    reference = dirichlet_multinomial_nll(
        concentrations.bfloat16().float(), counts, index, schema.n_questions
    )
    torch.testing.assert_close(result.loss, reference.loss)


def test_uniform_baseline_is_positive_and_finite(schema) -> None:
    _, counts = _random_batch(schema, batch=8, seed=3)
    index = question_index_tensor(schema.answer_question_index)
    baseline = uniform_concentration_loss(counts, index, schema.n_questions)
    assert torch.isfinite(baseline) and baseline > 0


def test_closed_form_gradient_matches_finite_differences(schema) -> None:
    concentrations, counts = _random_batch(schema, batch=4, seed=3, dtype=torch.float64)
    index = question_index_tensor(schema.answer_question_index)

    def loss(alpha: torch.Tensor) -> torch.Tensor:
        return dirichlet_multinomial_nll(alpha, counts, index, schema.n_questions).per_question

    assert torch.autograd.gradcheck(loss, (concentrations.requires_grad_(True),))


def test_batch_without_any_votes_gives_zero_loss_and_zero_gradient(schema) -> None:
    """No observed counts at all (an empty ``nonzero``): every term is exactly zero."""
    concentrations = (1.0 + 100.0 * torch.rand(3, schema.n_answers)).requires_grad_(True)
    counts = torch.zeros(3, schema.n_answers, dtype=torch.int32)
    index = question_index_tensor(schema.answer_question_index)
    result = dirichlet_multinomial_nll(concentrations, counts, index, schema.n_questions)
    result.loss.backward()
    assert result.loss.item() == 0.0
    assert torch.all(result.per_question == 0)
    assert torch.all(concentrations.grad == 0)
