"""BALD for Galaxy Zoo votes: how much a galaxy's volunteer votes would teach a Bayesian model.

Walmsley et al. (2020, *Galaxy Zoo: Probabilistic Morphology through Bayesian CNNs and Active
Learning*) pick the galaxies to show volunteers by BALD (Houlsby et al. 2011): the mutual
information between the votes ``x`` a galaxy would get and the model's parameters ``theta``,

    I[x; theta] = H[ E_theta p(x | theta) ] - E_theta H[ p(x | theta) ]
                = E_theta KL( p(x | theta) || E_theta' p(x | theta') ),

with ``theta`` drawn by Monte-Carlo dropout (``T`` forward passes with dropout on). Here
``p(x | theta)`` is the Dirichlet head's Dirichlet-multinomial for ``N`` votes on one question, so
a galaxy whose dropout samples all predict the same concentrations scores exactly 0 however
ambiguous that prediction is (the volunteers would disagree, but nothing would be learnt), and one
whose samples disagree scores high. As in the paper, each question is taken on its own and the
information is summed over questions; a question's ``N`` is the expected number of volunteers
who reach it (``total_votes`` times the predicted fractions of the answers leading to it,
:func:`expected_votes`), rounded to whole votes.

The entropies are exact where the vote outcomes are few enough to enumerate (every way ``N`` votes
fall into ``K`` answers: ``C(N+K-1, K-1)`` outcomes; ``max_outcomes``), and a Monte Carlo estimate
otherwise (``samples`` vote tables drawn from each dropout sample's Dirichlet-multinomial, scored
under every sample). Both are written as the average KL divergence above, with the mixture's log
probability taken relative to its largest term, so identical samples give exactly 0 in either.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch

from gz_evo.evaluation import dirichlet
from gz_evo.schema import Schema

#: doubles held at once while enumerating (about 64 MB); galaxies are processed in chunks
CHUNK_ELEMENTS = 2**23


@functools.cache
def _outcomes(total: int, n_answers: int) -> np.ndarray:
    # stars and bars: where the K - 1 bars go among N + K - 1 places
    positions = list(itertools.combinations(range(total + n_answers - 1), n_answers - 1))
    bars = np.array(positions, dtype=np.int64).reshape(len(positions), n_answers - 1)
    edges = np.concatenate(
        [np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), total + n_answers - 1)], 1
    )
    counts = np.diff(edges, axis=1) - 1
    counts.setflags(write=False)
    return counts


def vote_outcomes(total: int, n_answers: int) -> torch.Tensor:
    """Every way ``total`` votes fall into ``n_answers`` answers: int64 ``[C(N+K-1, K-1), K]``."""
    if total < 0 or n_answers < 1:
        raise ValueError(f"no vote outcomes for {total} votes over {n_answers} answers")
    return torch.from_numpy(_outcomes(int(total), int(n_answers)).copy())


def n_outcomes(total: int, n_answers: int) -> int:
    """How many vote outcomes :func:`vote_outcomes` would enumerate."""
    return math.comb(total + n_answers - 1, n_answers - 1)


def dirichlet_multinomial_log_prob(alpha: torch.Tensor, outcomes: torch.Tensor) -> torch.Tensor:
    """``log p(x | alpha)`` for every outcome: ``alpha [..., K]``, ``outcomes [M, K]`` (all with
    the same total ``N``) -> ``[..., M]``."""
    total = int(outcomes[0].sum()) if len(outcomes) else 0
    n_answers = alpha.shape[-1]
    x = outcomes.to(alpha.dtype)
    constant = math.lgamma(total + 1.0) - torch.lgamma(x + 1.0).sum(-1)  # [M]
    big_a = alpha.sum(-1, keepdim=True)
    question = torch.lgamma(big_a) - torch.lgamma(big_a + total)  # [..., 1]
    # lgamma(n + a_k) - lgamma(a_k) for n = 0..N, then picked per outcome: one lgamma per
    # (answer, count) instead of one per (outcome, answer)
    steps = torch.arange(total + 1, dtype=alpha.dtype)
    table = torch.lgamma(alpha[..., None] + steps)
    table = (table - table[..., :1]).flatten(-2)  # [..., K * (N + 1)]
    index = torch.arange(n_answers) * (total + 1) + outcomes  # [M, K]
    answers = table[..., index].sum(-1)  # [..., M]
    return constant + question + answers


def _log_mean_exp(values: torch.Tensor, dim: int) -> torch.Tensor:
    """``log mean exp`` along ``dim``, relative to the largest term: identical terms give that
    term back bit for bit (``exp(0) = 1``, their mean is 1, ``log 1 = 0``)."""
    top = values.amax(dim, keepdim=True)
    return (top + (values - top).exp().mean(dim, keepdim=True).log()).squeeze(dim)


def mutual_information_exact(alpha: torch.Tensor, total: int) -> torch.Tensor:
    """BALD of one question by enumerating every vote outcome: ``alpha [T, G, K]`` (T dropout
    samples of G galaxies' concentrations), ``total`` votes -> ``[G]`` nats (float64)."""
    alpha = alpha.double()
    samples, galaxies, n_answers = alpha.shape
    outcomes = vote_outcomes(total, n_answers)
    chunk = max(1, CHUNK_ELEMENTS // (samples * len(outcomes) * n_answers))
    parts = []
    for start in range(0, galaxies, chunk):
        log_p = dirichlet_multinomial_log_prob(alpha[:, start : start + chunk], outcomes)
        log_mixture = _log_mean_exp(log_p, 0)  # [g, M]
        divergence = (log_p.exp() * (log_p - log_mixture)).sum(-1)  # [T, g]: KL to the mixture
        parts.append(divergence.mean(0))
    if not parts:
        return torch.zeros(0, dtype=torch.float64)
    return torch.cat(parts).clamp_min(0.0)


def _log_prob_of(alpha: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``log p(counts | alpha)`` elementwise over broadcast batch dims (``[..., K]`` each)."""
    total = counts.sum(-1)
    big_a = alpha.sum(-1)
    return (
        torch.lgamma(total + 1.0)
        - torch.lgamma(counts + 1.0).sum(-1)
        + torch.lgamma(big_a)
        - torch.lgamma(big_a + total)
        + (torch.lgamma(counts + alpha) - torch.lgamma(alpha)).sum(-1)
    )


def mutual_information_sampled(
    alpha: torch.Tensor, total: int, samples: int, rng: np.random.Generator
) -> torch.Tensor:
    """Monte Carlo BALD of one question: ``samples`` vote tables from each dropout sample's
    Dirichlet-multinomial, ``mean[log p(x | alpha_t) - log mean_t' p(x | alpha_t')]`` -> ``[G]``
    nats (consistent: converges on :func:`mutual_information_exact` as ``samples`` grows)."""
    alpha = alpha.double()
    n_samples, galaxies, n_answers = alpha.shape
    if galaxies == 0:
        return torch.zeros(0, dtype=torch.float64)
    shape = (samples, n_samples, galaxies, n_answers)
    probabilities = rng.gamma(np.broadcast_to(alpha.numpy(), shape))
    probabilities /= probabilities.sum(-1, keepdims=True)
    counts = torch.from_numpy(rng.multinomial(total, probabilities).astype(np.float64))
    chunk = max(1, CHUNK_ELEMENTS // (samples * n_samples * n_samples * n_answers))
    parts = []
    for start in range(0, galaxies, chunk):
        part = counts[:, :, start : start + chunk]  # [S, T, g, K]
        # log p of the votes drawn from sample t under every sample t': [S, T', T, g]
        log_p = _log_prob_of(alpha[None, :, None, start : start + chunk], part[:, None])
        own = torch.diagonal(log_p, dim1=1, dim2=2).permute(0, 2, 1)  # [S, T, g]
        parts.append((own - _log_mean_exp(log_p, 1)).mean((0, 1)))
    return torch.cat(parts).clamp_min(0.0)


def question_mutual_information(
    alpha: torch.Tensor,
    totals: np.ndarray,
    *,
    max_outcomes: int,
    samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """BALD of one question for galaxies with different vote totals: ``alpha [T, G, K]``,
    ``totals [G]`` whole votes -> ``[G]`` nats; exact where ``C(N+K-1, K-1) <= max_outcomes``."""
    totals = np.asarray(totals, dtype=np.int64)
    result = np.zeros(alpha.shape[1])
    for total in np.unique(totals):
        rows = np.flatnonzero(totals == total)
        if total <= 0:
            continue  # nobody would answer: no information
        if n_outcomes(int(total), alpha.shape[2]) <= max_outcomes:
            value = mutual_information_exact(alpha[:, rows], int(total))
        else:
            value = mutual_information_sampled(alpha[:, rows], int(total), samples, rng)
        result[rows] = value.numpy()
    return result


def expected_fractions(concentrations: torch.Tensor, schema: Schema) -> np.ndarray:
    """``[G, A]`` expected vote fractions, ``mean_t alpha / sum over the question``, from
    ``[T, G, A]`` dropout samples."""
    return dirichlet.expected_fractions(concentrations.double().numpy(), schema).mean(0)


def expected_votes(fractions: np.ndarray, schema: Schema, total_votes: float) -> np.ndarray:
    """``[G, Q]`` whole volunteers expected to reach each question: ``total_votes`` times the
    product of the expected fractions of the answers that lead to it (root questions: all)."""
    return np.rint(total_votes * dirichlet.proportion_asked(fractions, schema)).astype(np.int64)


def bald_scores(
    concentrations: torch.Tensor,
    schema: Schema,
    *,
    total_votes: float,
    max_outcomes: int,
    samples: int,
    seed: int,
) -> np.ndarray:
    """``[G, Q]`` BALD per galaxy and question (nats) from ``[T, G, A]`` MC-dropout
    concentrations in ``schema`` order; sum over questions for a galaxy's score."""
    if concentrations.ndim != 3 or concentrations.shape[2] != schema.n_answers:
        raise ValueError(
            f"concentrations must be [samples, galaxies, {schema.n_answers}] for schema "
            f"{schema.name!r}; got {list(concentrations.shape)}"
        )
    totals = expected_votes(expected_fractions(concentrations, schema), schema, total_votes)
    rng = np.random.default_rng(seed)
    scores = np.zeros(totals.shape)
    for q, columns in enumerate(schema.question_slices.values()):
        scores[:, q] = question_mutual_information(
            concentrations[:, :, columns], totals[:, q],
            max_outcomes=max_outcomes, samples=samples, rng=rng,
        )  # fmt: skip
    return scores
