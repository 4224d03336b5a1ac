"""benchmarks/loss.py compares against what zoobot 2.9 really computes."""

from __future__ import annotations

import pytest
import torch

from benchmarks.loss import make_batch, question_answer_pairs, zoobot_29_loss
from gz_evo.losses import dirichlet_multinomial_nll
from gz_evo.schema import load_schema


@pytest.fixture(scope="module")
def batch():
    schema = load_schema(["gz2", "dr5", "candels"])
    logits, counts = make_batch(schema, batch=32, device="cpu", seed=3)
    targets = {key: counts[:, j] for j, key in enumerate(schema.answer_columns)}
    return schema, 1 + 100 * torch.sigmoid(logits), counts, targets


def test_the_restatement_computes_the_project_loss_per_question(batch) -> None:
    schema, concentrations, counts, targets = batch
    index = torch.as_tensor(schema.answer_question_index)
    ours = dirichlet_multinomial_nll(concentrations, counts, index, schema.n_questions)
    theirs = zoobot_29_loss(question_answer_pairs(schema))(concentrations, targets)
    assert theirs.shape == (32, schema.n_questions)
    assert (ours.total_votes == 0).any()  # questions a galaxy was never asked
    # float32 (as in training): lgamma differences cancel to ~1e-5 of the value
    torch.testing.assert_close(theirs, ours.per_question, rtol=1e-4, atol=1e-4)


def test_the_restatement_is_zoobot_29_bit_for_bit(batch) -> None:
    losses = pytest.importorskip(
        "zoobot.pytorch.training.losses",
        reason="zoobot is benchmark-only: `make bench-setup` installs it (without dependencies)",
    )
    schema, concentrations, _, targets = batch
    pairs = question_answer_pairs(schema)
    zoobot = losses.CustomMultiQuestionLoss(pairs, losses.get_dirichlet_neg_log_prob)
    leaves = [concentrations.clone().requires_grad_(True) for _ in range(2)]
    theirs = zoobot(leaves[0], targets)
    ours = zoobot_29_loss(pairs)(leaves[1], targets)
    assert torch.equal(theirs, ours)
    theirs.sum().backward()
    ours.sum().backward()
    assert torch.equal(leaves[0].grad, leaves[1].grad)
