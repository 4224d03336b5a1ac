"""Vectorised Dirichlet-multinomial loss vs what zoobot 2.9 runs (and two other per-question loops).

Forward + backward on the 88-question ``gz_evo_scaling`` schema at batch 256, where each galaxy
has votes only for its own campaign's questions (realistic GZ-Evo sparsity). The arms:

- ``project``: ``gz_evo.losses.dirichlet_multinomial_nll``, the whole schema at once;
- ``zoobot 2.9``: what ``zoobot.pytorch.estimators.define_model.ZoobotTree`` trains with in zoobot
  2.9: ``CustomMultiQuestionLoss(question_answer_pairs, get_dirichlet_neg_log_prob)`` called on the
  predictions and a dict of per-answer vote tensors, then ``mean(sum over questions)``. A Python
  loop over questions, each with a per-question lgamma closed form (its pyro code is commented
  out). Timed from zoobot's own package where it is installed (``make bench-setup``: zoobot 2.9.0
  without its dependencies; its loss module needs only torch), otherwise from
  ``zoobot_29_loss`` below, an exact re-statement of that loop; the output says which;
- ``slice loop``: a hand-written per-question loop of the same closed form over contiguous slices
  (zoobot's loop without its dict look-ups and index lists);
- ``pyro loop``: pyro's ``DirichletMultinomial`` per question (``validate_args=True``), the code
  path zoobot used before 2.9.

Values (and gradients) are checked equal before timing. Run::

    .venv/bin/python benchmarks/loss.py [--device cuda] [--batch 256] [--repeats 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gz_evo.losses import dirichlet_multinomial_nll
from gz_evo.schema import load_schema


def question_answer_pairs(schema) -> dict[str, list[str]]:
    """zoobot's ``question_answer_pairs``: key = question + answer suffix (``bar-dr5_no``)."""
    return {q.name: [f"_{answer}" for answer in q.answers] for q in schema.questions}


def zoobot_29_loss(pairs: dict[str, list[str]]):
    """An exact re-statement of zoobot 2.9.0's Dirichlet loss, statement for statement.

    ``zoobot/pytorch/training/losses.py``: ``CustomMultiQuestionLoss.forward`` with
    ``get_dirichlet_neg_log_prob``, ``log_prob`` and ``_log_beta_1``. Returns
    ``loss(inputs, targets) -> [B, Q]``.
    """
    answer_keys = [q + a for q, a_list in pairs.items() for a in a_list]

    def log_beta_1(alpha, value):
        return torch.lgamma(1 + value) + torch.lgamma(alpha) - torch.lgamma(value + alpha)

    def log_prob(alpha, value):
        return log_beta_1(alpha.sum(-1), value.sum(-1)) - log_beta_1(alpha, value).sum(-1)

    def forward(inputs: torch.Tensor, targets: dict) -> torch.Tensor:
        q_losses = []
        for question, answers in pairs.items():
            q_answer_keys = [question + answer for answer in answers]
            targets_for_answers = torch.stack([targets[key] for key in q_answer_keys], dim=1).int()
            answer_indices = [answer_keys.index(key) for key in q_answer_keys]
            predictions_for_answers = inputs[:, answer_indices]
            q_losses.append(-log_prob(predictions_for_answers, targets_for_answers.int()))
        return torch.stack(q_losses, dim=1)

    return forward


def zoobot_loss(pairs: dict[str, list[str]]):
    """``(loss(inputs, targets) -> [B, Q], source)``: zoobot's own class where it is installed."""
    try:
        from zoobot.pytorch.training import losses
    except ImportError:
        return zoobot_29_loss(pairs), "exact re-statement of zoobot 2.9.0's loop (not installed)"
    from importlib.metadata import version

    loss = losses.CustomMultiQuestionLoss(
        question_answer_pairs=pairs,
        question_functional_loss=losses.get_dirichlet_neg_log_prob,
        careful=False,
        sum_over_questions=False,
    )
    return loss.forward, f"zoobot {version('zoobot')} package (CustomMultiQuestionLoss)"


def per_question_loop(concentrations, counts, slices) -> torch.Tensor:
    """One question at a time over contiguous slices, each with the closed form."""
    total = torch.zeros(concentrations.shape[0], device=concentrations.device)
    for question_slice in slices:
        alpha = concentrations[:, question_slice]
        x = counts[:, question_slice].float()
        n = x.sum(1)
        a = alpha.sum(1)
        log_prob = (
            torch.lgamma(n + 1)
            + torch.lgamma(a)
            - torch.lgamma(n + a)
            + (torch.lgamma(x + alpha) - torch.lgamma(alpha) - torch.lgamma(x + 1)).sum(1)
        )
        total = total - log_prob
    return total.mean()


def pyro_loop(concentrations, counts, slices) -> torch.Tensor:
    """zoobot before 2.9: pyro's DirichletMultinomial per question (validate_args=True)."""
    from pyro.distributions import DirichletMultinomial

    losses = []
    for question_slice in slices:
        labels = counts[:, question_slice]
        distribution = DirichletMultinomial(
            total_count=labels.sum(1).int(),
            concentration=concentrations[:, question_slice],
            is_sparse=False,
            validate_args=True,
        )
        losses.append(-distribution.log_prob(labels.int()))
    return torch.stack(losses, dim=1).sum(1).mean()


def make_batch(schema, batch: int, device: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    counts = np.zeros((batch, schema.n_answers), dtype=np.int32)
    for row in range(batch):
        campaign = schema.campaigns[rng.integers(len(schema.campaigns))]
        for question in schema.campaign_questions(campaign):
            cols = schema.question_slices[question.name]
            counts[row, cols] = rng.multinomial(
                int(rng.integers(3, 40)), rng.dirichlet(np.ones(cols.stop - cols.start))
            )
    logits = torch.randn(batch, schema.n_answers, device=device, generator=None)
    return logits, torch.as_tensor(counts, device=device)


def time_it(step, repeats: int, device: str, rounds: int = 5) -> float:
    """Best of ``rounds`` averages over ``repeats`` calls (shared machines are noisy)."""
    for _ in range(5):
        step()
    best = float("inf")
    for _ in range(rounds):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    schema = load_schema("gz_evo_scaling")
    logits, counts = make_batch(schema, args.batch, args.device)
    index = torch.as_tensor(schema.answer_question_index, device=args.device)
    slices = list(schema.question_slices.values())
    pairs = question_answer_pairs(schema)
    zoobot_forward, zoobot_source = zoobot_loss(pairs)
    # zoobot's data modules hand the loss one tensor of votes per answer key
    targets = {key: counts[:, j] for j, key in enumerate(schema.answer_columns)}
    assert list(targets) == [q + a for q, answers in pairs.items() for a in answers]

    def arm(loss_of_concentrations):
        def step():
            leaf = logits.detach().requires_grad_(True)
            loss = loss_of_concentrations(1 + 100 * torch.sigmoid(leaf))
            loss.backward()
            return loss, leaf.grad

        return step

    arms = {
        "project (vectorised)": arm(
            lambda c: dirichlet_multinomial_nll(c, counts, index, schema.n_questions).loss
        ),
        "zoobot 2.9": arm(lambda c: zoobot_forward(c, targets).sum(1).mean()),
        "slice loop": arm(lambda c: per_question_loop(c, counts, slices)),
        "pyro loop (zoobot < 2.9)": arm(lambda c: pyro_loop(c, counts, slices)),
    }
    ours, our_grad = arms["project (vectorised)"]()
    for name, step in arms.items():
        loss, grad = step()
        torch.testing.assert_close(loss, ours, rtol=1e-5, atol=0, msg=f"{name}: loss differs")
        torch.testing.assert_close(grad, our_grad, rtol=1e-4, atol=1e-6, msg=f"{name}: grad")
    times = {
        name: time_it(
            step, args.repeats if "pyro" not in name else max(1, args.repeats // 4), args.device
        )
        for name, step in arms.items()
    }
    print(
        f"schema {schema.name}: {schema.n_questions} questions, {schema.n_answers} answers; "
        f"batch {args.batch}; device {args.device}; torch threads {torch.get_num_threads()}"
    )
    print(f"zoobot 2.9 arm: {zoobot_source}")
    print(f"loss values equal in every arm: {float(ours.detach()):.6f} (gradients equal too)")
    project = times["project (vectorised)"]
    for name, seconds in times.items():
        print(
            f"{name:>26}: {seconds * 1e3:8.3f} ms per forward+backward, "
            f"{seconds / project:5.1f}x the project's time"
        )
    print(f"speed-up vs zoobot 2.9's loss: {times['zoobot 2.9'] / project:.1f}x")


if __name__ == "__main__":
    main()
