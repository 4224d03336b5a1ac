"""Dirichlet-multinomial negative log-likelihood of Galaxy Zoo votes, all questions at once.

Each question's votes ``x`` (``N = sum(x)``) are modelled as Dirichlet-multinomial with the model's
concentrations ``a`` (``A = sum(a)``)::

    log p(x | a) = lgamma(N+1) + lgamma(A) - lgamma(N+A)
                   + sum_k [lgamma(x_k+a_k) - lgamma(a_k) - lgamma(x_k+1)]

The whole schema is one computation, with no loop over questions: per-question terms on
``[B, n_questions]``, plus per-answer terms scatter-summed into them by
``Schema.answer_question_index``. A per-answer term ``lgamma(x_k+a_k) - lgamma(a_k)`` is
identically zero when ``x_k = 0``, so those terms are evaluated only on the observed (non-zero)
counts, which are about a tenth of a GZ-Evo batch. A question nobody was asked (``N = 0``) has no
observed counts, and its per-question term ``lgamma(A) - lgamma(0+A)`` is exactly 0, as is its
gradient, so it adds exactly zero loss and zero gradient by the mathematics, with no masking code.
Finding the observed counts (``nonzero``) waits for the device once per call on a GPU; the
training step already waits once to check that the loss is finite.
lgamma is inaccurate in bf16/fp16, so the loss always runs in float32 (float64 if
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


@dataclass(frozen=True)
class ObservedVotes:
    """The non-zero entries of a ``[B, n_answers]`` count table, flattened (a COO view).

    Only these entries can give a non-zero answer term (see ``_log_prob_function``). ``entry``
    is each one's flat index into ``[B, n_answers]``, ``question`` its flat index
    ``row * n_questions + question`` into ``[B, n_questions]``, and ``count`` its vote count.
    """

    entry: torch.Tensor
    question: torch.Tensor
    count: torch.Tensor

    @classmethod
    def from_counts(
        cls, counts: torch.Tensor, question_index: torch.Tensor, n_questions: int, dtype: Any
    ) -> ObservedVotes:
        flat_counts = counts.reshape(-1)
        entry = flat_counts.nonzero().squeeze(1)
        row, column = entry.div(counts.shape[1], rounding_mode="floor"), entry % counts.shape[1]
        question = row * n_questions + question_index.index_select(0, column)
        return cls(entry, question, flat_counts.index_select(0, entry).to(dtype))

    def take(self, values: torch.Tensor) -> torch.Tensor:
        """The observed entries of a ``[B, n_answers]`` table, in order."""
        return values.reshape(-1).index_select(0, self.entry)

    def sum_by_question(self, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """Sum one value per observed entry into a ``shape`` = ``[B, n_questions]`` table."""
        import torch

        out = torch.zeros(shape[0] * shape[1], dtype=values.dtype, device=values.device)
        return out.index_add_(0, self.question, values).view(shape)


@functools.cache
def _log_prob_function() -> type:
    """The autograd function for log p(x | alpha) per question, built once torch is imported.

    Per question, ``lgamma(A) - lgamma(N+A)`` is evaluated for every galaxy (``[B, n_questions]``).
    Per answer, ``lgamma(x+a) - lgamma(a)`` is identically zero where ``x = 0`` (as is its
    gradient ``digamma(x+a) - digamma(a)``), so it is evaluated only on the observed entries:
    GZ-Evo counts are about 90% zeros (each galaxy answered one campaign's questions), and this
    is the bulk of the work. Nothing is evaluated and then discarded, so this is not a mask: a
    question with ``N = 0`` has no observed entries, and its per-question term
    ``lgamma(A) - lgamma(0+A)`` is zero, as is its gradient, by the mathematics.

    Autograd would differentiate the same expression through a chain of saved intermediates;
    the closed-form gradient is one pass, which makes forward + backward faster on a CPU.
    """
    import torch
    from torch.autograd.function import once_differentiable

    class DirichletMultinomialLogProb(torch.autograd.Function):
        @staticmethod
        def forward(ctx, alpha, observed, question_index, total_votes, multinomial):
            total_alpha = sum_by_question(alpha, question_index, total_votes.shape[1])
            votes_plus_alpha = total_votes + total_alpha
            log_prob = torch.lgamma(total_alpha).sub_(torch.lgamma(votes_plus_alpha))
            log_prob.add_(multinomial)
            alpha_observed = observed.take(alpha)
            x_plus_alpha = observed.count + alpha_observed
            answer_terms = torch.lgamma(x_plus_alpha).sub_(torch.lgamma(alpha_observed))
            log_prob.view(-1).index_add_(0, observed.question, answer_terms)
            ctx.observed = observed
            ctx.save_for_backward(
                alpha_observed, x_plus_alpha, total_alpha, votes_plus_alpha, question_index
            )
            return log_prob

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_log_prob):
            alpha_observed, x_plus_alpha, total_alpha, votes_plus_alpha, question_index = (
                ctx.saved_tensors
            )
            observed = ctx.observed
            per_question = torch.digamma(total_alpha).sub_(torch.digamma(votes_plus_alpha))
            per_question.mul_(grad_log_prob)
            grad = per_question.index_select(1, question_index)
            answer_grad = torch.digamma(x_plus_alpha).sub_(torch.digamma(alpha_observed))
            answer_grad.mul_(grad_log_prob.reshape(-1).index_select(0, observed.question))
            grad.view(-1).index_add_(0, observed.entry, answer_grad)
            return grad, None, None, None, None

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
        question_index = question_index.to(alpha.device)
        shape = (alpha.shape[0], n_questions)
        with torch.no_grad():  # terms of the counts alone: no gradient to track
            observed = ObservedVotes.from_counts(counts, question_index, n_questions, dtype)
            total_votes = observed.sum_by_question(observed.count, shape)
            multinomial = torch.lgamma(total_votes + 1.0)
            multinomial.sub_(observed.sum_by_question(torch.lgamma(observed.count + 1.0), shape))
        log_prob = _log_prob_function().apply(
            alpha, observed, question_index, total_votes, multinomial
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
