"""Vectorised Dirichlet-multinomial loss vs a per-question Python loop (how zoobot computes it).

Forward + backward on the 88-question ``gz_evo_scaling`` schema at batch 256, where each galaxy
has votes only for its own campaign's questions (realistic GZ-Evo sparsity). Both evaluate the
same closed form; the values are checked equal before timing. Run::

    .venv/bin/python benchmarks/loss.py [--device cuda] [--batch 256] [--repeats 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gz_evo.losses import dirichlet_multinomial_nll
from gz_evo.schema import load_schema


def per_question_loop(concentrations, counts, slices) -> torch.Tensor:
    """Zoobot-style: one question at a time, each with the Dirichlet-multinomial closed form."""
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


def zoobot_pyro_loop(concentrations, counts, slices) -> torch.Tensor:
    """Zoobot's own code path: pyro's DirichletMultinomial per question (validate_args=True)."""
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

    def project() -> torch.Tensor:
        leaf = logits.detach().requires_grad_(True)
        loss = dirichlet_multinomial_nll(
            1 + 100 * torch.sigmoid(leaf), counts, index, schema.n_questions
        ).loss
        loss.backward()
        return loss, leaf.grad

    def reference() -> torch.Tensor:
        leaf = logits.detach().requires_grad_(True)
        loss = per_question_loop(1 + 100 * torch.sigmoid(leaf), counts, slices)
        loss.backward()
        return loss, leaf.grad

    def zoobot() -> torch.Tensor:
        leaf = logits.detach().requires_grad_(True)
        loss = zoobot_pyro_loop(1 + 100 * torch.sigmoid(leaf), counts, slices)
        loss.backward()
        return loss, leaf.grad

    (ours, our_grad), (theirs, their_grad) = project(), reference()
    torch.testing.assert_close(ours, zoobot()[0], rtol=1e-5, atol=0)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)
    torch.testing.assert_close(our_grad, their_grad, rtol=1e-4, atol=1e-6)
    t_project = time_it(project, args.repeats, args.device)
    t_reference = time_it(reference, args.repeats, args.device)
    t_zoobot = time_it(zoobot, max(1, args.repeats // 4), args.device)
    print(
        f"schema {schema.name}: {schema.n_questions} questions, {schema.n_answers} answers; "
        f"batch {args.batch}; device {args.device}; torch threads {torch.get_num_threads()}"
    )
    print(
        f"loss values equal: {float(ours.detach()):.6f} vs {float(theirs.detach()):.6f}",
        "(gradients equal too)",
    )
    print(f"vectorised (project):       {t_project * 1e3:8.3f} ms per forward+backward")
    print(f"per-question loop:          {t_reference * 1e3:8.3f} ms per forward+backward")
    print(f"zoobot (pyro per question): {t_zoobot * 1e3:8.3f} ms per forward+backward")
    print(f"speed-up vs the closed-form loop: {t_reference / t_project:.1f}x (target >= 10x)")
    print(f"speed-up vs zoobot's pyro loop:   {t_zoobot / t_project:.1f}x")


if __name__ == "__main__":
    main()
