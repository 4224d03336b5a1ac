"""BALD of Dirichlet-multinomial votes: outcomes, probabilities, exact and sampled mutual
information, and the score of whole galaxies over a decision tree."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from gz_evo.evaluation.bald import (
    bald_scores,
    dirichlet_multinomial_log_prob,
    expected_fractions,
    expected_votes,
    mutual_information_exact,
    mutual_information_sampled,
    n_outcomes,
    question_mutual_information,
    vote_outcomes,
)
from gz_evo.losses import dirichlet_multinomial_nll
from gz_evo.models.heads import DirichletHead
from gz_evo.schema import Question, Schema, load_schema

TREE = Schema(
    (
        Question("smooth-or-featured-t", ("smooth", "featured", "artifact"), campaign="t"),
        Question("bar-t", ("yes", "no"), campaign="t", depends_on="smooth-or-featured-t_featured"),
    ),
    name="t",
)


def test_vote_outcomes_are_every_split_of_the_votes_once() -> None:
    outcomes = vote_outcomes(7, 3)
    assert len(outcomes) == n_outcomes(7, 3) == math.comb(9, 2)
    assert (outcomes.sum(1) == 7).all() and (outcomes >= 0).all()
    assert len({tuple(row) for row in outcomes.tolist()}) == len(outcomes)
    assert vote_outcomes(0, 4).tolist() == [[0, 0, 0, 0]]
    assert vote_outcomes(5, 1).tolist() == [[5]]


def test_log_prob_is_a_distribution_and_matches_the_training_loss() -> None:
    alpha = torch.tensor([[1.5, 7.0, 3.2], [40.0, 2.0, 1.0]], dtype=torch.float64)
    outcomes = vote_outcomes(12, 3)
    log_p = dirichlet_multinomial_log_prob(alpha, outcomes)
    assert torch.allclose(log_p.exp().sum(-1), torch.ones(2, dtype=torch.float64))
    # the same numbers as the project's loss (one question, answers 0..2)
    nll = dirichlet_multinomial_nll(
        alpha[:1].expand(len(outcomes), 3), outcomes, torch.zeros(3, dtype=torch.long), 1
    ).per_question[:, 0]
    assert torch.allclose(-nll, log_p[0])


def test_a_deterministic_model_has_exactly_zero_bald() -> None:
    alpha = (torch.rand(1, 6, 4, generator=torch.Generator().manual_seed(0)) * 30 + 1).expand(
        8, 6, 4
    )  # 8 identical dropout samples
    assert (mutual_information_exact(alpha, 25) == 0).all()
    assert (mutual_information_sampled(alpha, 25, 16, np.random.default_rng(0)) == 0).all()
    # a real head without dropout, through the whole galaxy score
    schema = load_schema("dr5")
    head = DirichletHead(16, schema.n_answers, dropout=0.0).eval()
    head.mc_dropout = True
    features = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        samples = torch.stack([head(features) for _ in range(6)])
    scores = bald_scores(samples, schema, total_votes=40, max_outcomes=500, samples=8, seed=0)
    assert scores.shape == (5, schema.n_questions) and (scores == 0).all()


def test_galaxies_the_samples_disagree_on_score_higher_than_agreed_ones() -> None:
    confident = torch.tensor([30.0, 2.0])
    ambiguous = [torch.tensor([30.0, 2.0]), torch.tensor([2.0, 30.0])]  # smooth? featured?
    alpha = torch.stack(
        [torch.stack([confident, ambiguous[t % 2], torch.tensor([10.0, 10.0])]) for t in range(10)]
    )  # [10 samples, 3 galaxies, 2 answers]
    values = mutual_information_exact(alpha, 40)
    assert values[0] == 0 and values[1] > 0.3  # identical samples: exactly nothing to learn
    # a galaxy whose samples all say 50/50 is ambiguous to the volunteers, not to the model:
    # its votes would teach nothing, and BALD says so
    assert values[2] == 0


def test_exact_bald_equals_the_beta_binomial_calculation() -> None:
    """Two answers: the Dirichlet-multinomial is the beta-binomial; scipy gives the pmf."""
    rng = np.random.default_rng(3)
    alpha = torch.as_tensor(rng.uniform(1, 40, size=(7, 4, 2)))
    n = 30
    k = np.arange(n + 1)
    pmf = scipy.stats.betabinom.pmf(
        k[None, None], n, alpha[..., 0].numpy()[..., None], alpha[..., 1].numpy()[..., None]
    )  # [T, G, N+1]
    entropy = lambda p: -(p * np.log(p)).sum(-1)  # noqa: E731
    expected = entropy(pmf.mean(0)) - entropy(pmf).mean(0)
    assert np.allclose(mutual_information_exact(alpha, n).numpy(), expected, atol=1e-10)


def test_the_monte_carlo_estimate_converges_on_the_exact_value() -> None:
    generator = torch.Generator().manual_seed(5)
    alpha = torch.rand(6, 5, 3, generator=generator, dtype=torch.float64) * 25 + 1
    exact = mutual_information_exact(alpha, 20).numpy()
    sampled = mutual_information_sampled(alpha, 20, 3000, np.random.default_rng(0)).numpy()
    assert exact.min() > 0.05
    assert np.allclose(sampled, exact, rtol=0.05, atol=0.005)
    # the dispatcher: exact under max_outcomes, sampled above, the same within the noise
    totals = np.array([20, 20, 0, 20, 20])
    small = question_mutual_information(
        alpha, totals, max_outcomes=10**6, samples=8, rng=np.random.default_rng(0)
    )
    large = question_mutual_information(
        alpha, totals, max_outcomes=1, samples=3000, rng=np.random.default_rng(0)
    )
    assert small[2] == large[2] == 0  # nobody reaches the question
    assert np.allclose(small[totals > 0], exact[totals > 0]) and np.allclose(
        large, small, rtol=0.05, atol=0.005
    )


def test_votes_reaching_a_question_follow_the_tree() -> None:
    concentrations = torch.tensor([[[2.0, 6.0, 2.0, 1.0, 1.0]]])  # featured 0.6
    fractions = expected_fractions(concentrations, TREE)
    assert np.allclose(fractions, [[0.2, 0.6, 0.2, 0.5, 0.5]])
    assert expected_votes(fractions, TREE, 40).tolist() == [[40, 24]]


def test_bald_scores_refuse_concentrations_of_another_schema() -> None:
    with pytest.raises(ValueError, match=r"\[samples, galaxies, 5\]"):
        bald_scores(torch.ones(3, 2, 4), TREE, total_votes=40, max_outcomes=10, samples=2, seed=0)
