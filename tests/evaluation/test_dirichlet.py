"""Dirichlet metrics: vote-fraction MAE and coverage, the prediction table, the loss aggregator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gz_evo.evaluation.dirichlet import (
    LossAggregator,
    evaluation_metrics,
    expected_fractions,
    metric_dict,
    prediction_table,
    vote_fraction_metrics,
)
from gz_evo.schema import load_schema


@pytest.fixture(scope="module")
def schema():
    return load_schema(["dr5", "gz2"])


def test_vote_fraction_metrics_and_prediction_table(schema) -> None:
    rng = np.random.default_rng(0)
    concentrations = rng.uniform(1, 101, (10, schema.n_answers))
    counts = rng.integers(0, 15, (10, schema.n_answers))
    counts[:, : schema.question_slices["smooth-or-featured-dr5"].stop] = 0
    fractions = expected_fractions(concentrations, schema)
    first = schema.question_slices["smooth-or-featured-gz2"]
    np.testing.assert_allclose(fractions[:, first].sum(1), 1.0)
    metrics = vote_fraction_metrics(concentrations, counts, schema, min_votes=20)
    assert "smooth-or-featured-dr5" not in metrics["coverage"]  # nobody answered it
    assert all(0 <= value <= 1 for value in metrics["coverage"].values())
    assert metrics["mae"]  # questions with >= 20 votes exist
    table = prediction_table([f"k{i}" for i in range(10)], concentrations, schema)
    column = schema.answer_columns[0]
    assert (table[f"{column}_lower"] <= table[f"{column}_fraction"]).all()
    assert (table[f"{column}_fraction"] <= table[f"{column}_upper"]).all()


def test_aggregated_loss_matches_the_evaluation_metrics(schema) -> None:
    rng = np.random.default_rng(1)
    concentrations = rng.uniform(1, 101, (12, schema.n_answers))
    counts = np.zeros((12, schema.n_answers), dtype=np.int64)
    gz2 = schema.question_slices["smooth-or-featured-gz2"]
    counts[:6, gz2] = rng.integers(1, 10, (6, gz2.stop - gz2.start))  # only gz2 asked
    metrics = evaluation_metrics(concentrations, counts, schema, "val", 20, 0.9)
    assert set(k for k in metrics if "loss_campaign" in k) == {"val/loss_campaign/gz2"}
    assert list(k for k in metrics if "loss_question" in k) == [
        "val/loss_question/smooth-or-featured-gz2"
    ]
    # 6 of 12 galaxies carry all the loss: the per-question mean is twice the per-galaxy mean
    assert metrics["val/loss_question/smooth-or-featured-gz2"] == pytest.approx(
        2 * metrics["val/loss"]
    )
    aggregator = LossAggregator.for_schema(schema, sync_on_compute=False)
    aggregator.update(torch.ones(2, schema.n_questions), torch.ones(2, schema.n_questions))
    again = metric_dict("train", aggregator.compute(), schema)
    assert again["train/loss"] == schema.n_questions
    assert again["train/loss_campaign/dr5"] == len(schema.campaign_questions("dr5"))
