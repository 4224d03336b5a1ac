"""Dirichlet-multinomial negative log-likelihood of Galaxy Zoo votes, all questions at once.

Each question's votes ``x`` (``N = sum(x)``) are modelled as Dirichlet-multinomial with the model's
concentrations ``a`` (``A = sum(a)``)::

    log p(x | a) = lgamma(N+1) + lgamma(A) - lgamma(N+A)
                   + sum_k [lgamma(x_k+a_k) - lgamma(a_k) - lgamma(x_k+1)]

The whole schema is one computation: per-answer terms on ``[B, n_answers]`` are scatter-summed
into ``[B, n_questions]`` by ``Schema.answer_question_index``. A question nobody was asked
(``N = 0``, every ``x_k = 0``) gives ``lgamma(A) - lgamma(0+A) = 0`` and
``lgamma(0+a_k) - lgamma(a_k) = 0`` exactly, so it adds exactly zero loss and zero gradient with no
masking code. lgamma is inaccurate in bf16/fp16, so the loss always runs in float32 (float64 if
given float64) with autocast off, whatever precision the model runs in.

Torch is imported inside functions so that pipelines which do not train never import it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class DirichletMultinomialNLL:
    """The batch loss and its per-question parts.

    ``loss``: scalar, per-galaxy NLL summed over questions, averaged over the batch.
    ``per_question``: ``[B, n_questions]`` NLL of each galaxy's answers to each question (0 if N=0).
    ``total_votes``: ``[B, n_questions]`` float32 N per galaxy and question.
    """

    loss: torch.Tensor
    per_question: torch.Tensor
    total_votes: torch.Tensor


def question_index_tensor(answer_question_index: Any, device: Any = None) -> torch.Tensor:
    """``Schema.answer_question_index`` as a long tensor on ``device``."""
    import torch

    return torch.as_tensor(answer_question_index, dtype=torch.long, device=device)


def sum_by_question(
    values: torch.Tensor, question_index: torch.Tensor, n_questions: int
) -> torch.Tensor:
    """Sum ``[B, n_answers]`` values into ``[B, n_questions]`` by each answer's question."""
    import torch

    out = torch.zeros(values.shape[0], n_questions, dtype=values.dtype, device=values.device)
    return out.index_add(1, question_index, values)


@functools.cache
def _log_prob_function() -> type:
    """The autograd function for log p(x | alpha) per question, built once torch is imported.

    Autograd would differentiate the same expression, but through a chain of saved intermediate
    tensors; the closed-form gradient ``digamma(x+a) - digamma(a) + digamma(A) - digamma(N+A)``
    is one pass over ``[B, n_answers]``, which makes forward + backward about a fifth faster on
    a CPU. Where ``x = 0`` (and ``N = 0``) both differences are exactly zero.
    """
    import torch
    from torch.autograd.function import once_differentiable

    class DirichletMultinomialLogProb(torch.autograd.Function):
        @staticmethod
        def forward(ctx, alpha, x, question_index, n_questions, total_votes, multinomial):
            x_plus_alpha = x + alpha
            answer_terms = torch.lgamma(x_plus_alpha).sub_(torch.lgamma(alpha))
            total_alpha = sum_by_question(alpha, question_index, n_questions)
            votes_plus_alpha = total_votes + total_alpha
            log_prob = sum_by_question(answer_terms, question_index, n_questions)
            log_prob.add_(torch.lgamma(total_alpha)).sub_(torch.lgamma(votes_plus_alpha))
            log_prob.add_(multinomial)
            saved = (alpha, x_plus_alpha, total_alpha, votes_plus_alpha, question_index)
            ctx.save_for_backward(*saved)
            return log_prob

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_log_prob):
            alpha, x_plus_alpha, total_alpha, votes_plus_alpha, question_index = ctx.saved_tensors
            per_question = torch.digamma(total_alpha).sub_(torch.digamma(votes_plus_alpha))
            per_question.mul_(grad_log_prob)
            grad = torch.digamma(x_plus_alpha).sub_(torch.digamma(alpha))
            grad.mul_(grad_log_prob.index_select(1, question_index))
            grad.add_(per_question.index_select(1, question_index))
            return grad, None, None, None, None, None

    return DirichletMultinomialLogProb


def dirichlet_multinomial_nll(
    concentrations: torch.Tensor,
    counts: torch.Tensor,
    question_index: torch.Tensor,
    n_questions: int,
) -> DirichletMultinomialNLL:
    """Negative log-likelihood of ``counts`` (``[B, A]`` integers) under ``concentrations``.

    ``question_index[j]`` is the question of answer column ``j`` (``Schema.answer_question_index``).
    At least float32 (float64 stays float64), even inside an autocast region.
    """
    import torch

    with torch.autocast(device_type=concentrations.device.type, enabled=False):
        dtype = torch.promote_types(concentrations.dtype, torch.float32)
        alpha = concentrations.to(dtype)
        x = counts.to(dtype)
        question_index = question_index.to(alpha.device)
        with torch.no_grad():  # terms of the counts alone: no gradient to track
            total_votes = sum_by_question(x, question_index, n_questions)
            multinomial = torch.lgamma(total_votes + 1.0) - sum_by_question(
                torch.lgamma(x + 1.0), question_index, n_questions
            )
        log_prob = _log_prob_function().apply(
            alpha, x, question_index, n_questions, total_votes, multinomial
        )
        per_question = -log_prob
        loss = per_question.sum(dim=1).mean()
    return DirichletMultinomialNLL(loss=loss, per_question=per_question, total_votes=total_votes)


def uniform_concentration_loss(
    counts: torch.Tensor, question_index: torch.Tensor, n_questions: int
) -> torch.Tensor:
    """The loss of predicting concentration 1 for every answer: a baseline a model must beat."""
    import torch

    ones = torch.ones(counts.shape, dtype=torch.float32, device=counts.device)
    return dirichlet_multinomial_nll(ones, counts, question_index, n_questions).loss
