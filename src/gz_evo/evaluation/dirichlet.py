"""What predicted concentrations say about vote fractions: expectations, intervals, calibration.

For one question with concentrations ``a`` (``A = sum(a)``) the fraction of votes for answer ``k``
has the Beta(``a_k``, ``A - a_k``) marginal (infinitely many volunteers); with ``N`` volunteers the
count is Beta-binomial(``N``, ``a_k``, ``A - a_k``), the Dirichlet-multinomial's marginal. The
prediction table reports the Beta intervals; calibration compares each observed count with its
Beta-binomial interval, since a galaxy with 5 votes is noisier than the Beta says.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
import torchmetrics

from gz_evo.losses import (
    dirichlet_multinomial_nll,
    question_index_tensor,
    uniform_concentration_loss,
)
from gz_evo.schema import Schema


class LossAggregator(torchmetrics.Metric):
    """Epoch sums of the loss: in total, per question and per campaign (synchronised across ranks).

    Per question: mean NLL over galaxies that have votes for it. Per campaign: mean over galaxies
    with any vote in that campaign of the NLL summed over the campaign's questions.
    """

    full_state_update = False

    def __init__(self, question_campaign: torch.Tensor, n_campaigns: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        n_questions = question_campaign.numel()
        self.register_buffer("question_campaign", question_campaign.long(), persistent=False)
        self.n_campaigns = n_campaigns
        self.add_state("galaxies", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("question_sum", torch.zeros(n_questions, dtype=torch.float64), "sum")
        self.add_state("question_count", torch.zeros(n_questions, dtype=torch.float64), "sum")
        self.add_state("campaign_count", torch.zeros(n_campaigns, dtype=torch.float64), "sum")

    @classmethod
    def for_schema(cls, schema: Schema, **kwargs: Any) -> LossAggregator:
        """An aggregator over the schema's questions and campaigns (``kwargs``: torchmetrics')."""
        campaign_of_question = torch.as_tensor(
            [schema.campaigns.index(q.campaign) for q in schema.questions]
        )
        return cls(campaign_of_question, len(schema.campaigns), **kwargs)

    def update(self, per_question: torch.Tensor, total_votes: torch.Tensor) -> None:
        """Add a batch; the total and per-campaign loss sums follow from ``question_sum``."""
        answered = (total_votes > 0).double()
        self.galaxies += per_question.shape[0]
        self.question_sum += per_question.detach().double().sum(0)
        self.question_count += answered.sum(0)
        index = self.question_campaign.to(answered.device)
        asked = torch.zeros(
            answered.shape[0], self.n_campaigns, dtype=torch.float64, device=index.device
        ).index_add_(1, index, answered)
        self.campaign_count += (asked > 0).double().sum(0)

    def compute(self) -> dict[str, torch.Tensor]:
        index = self.question_campaign.to(self.question_sum.device)
        campaign_sum = torch.zeros_like(self.campaign_count).index_add_(0, index, self.question_sum)
        return {
            "loss": self.question_sum.sum() / self.galaxies.clamp(min=1),
            "question": self.question_sum / self.question_count.clamp(min=1),
            "question_count": self.question_count,
            "campaign": campaign_sum / self.campaign_count.clamp(min=1),
            "campaign_count": self.campaign_count,
        }


def metric_dict(prefix: str, values: dict[str, torch.Tensor], schema: Schema) -> dict[str, float]:
    """Flatten a ``LossAggregator.compute()`` into MLflow-friendly names."""
    # one transfer per tensor (not one per element), and torchmetrics squeezes one-element
    # outputs: keep the vectors as lists
    values = {key: value.reshape(-1).tolist() for key, value in values.items()}
    metrics = {f"{prefix}/loss": values["loss"][0]}
    for i, name in enumerate(schema.question_names):
        if values["question_count"][i] > 0:
            metrics[f"{prefix}/loss_question/{name}"] = values["question"][i]
    for i, campaign in enumerate(schema.campaigns):
        if values["campaign_count"][i] > 0:
            metrics[f"{prefix}/loss_campaign/{campaign}"] = values["campaign"][i]
    return metrics


def question_totals(values: np.ndarray, schema: Schema) -> np.ndarray:
    """``[..., n_answers]`` -> each answer's question total (float64), broadcast back to
    ``[..., n_answers]``."""
    index = schema.answer_question_index
    flat = values.reshape(-1, values.shape[-1])
    sums = np.zeros((flat.shape[0], schema.n_questions), dtype=np.float64)
    np.add.at(sums.T, index, flat.T.astype(np.float64))
    return sums[:, index].reshape(values.shape)


def expected_fractions(concentrations: np.ndarray, schema: Schema) -> np.ndarray:
    """Expected vote fraction per answer: concentration / its question's total concentration
    (any leading dimensions: galaxies, dropout samples)."""
    return concentrations / question_totals(concentrations, schema)


def proportion_asked(fractions: np.ndarray, schema: Schema) -> np.ndarray:
    """``[N, Q]``: the product of the expected fractions of the answers each question depends
    on (1 for a question everyone is asked), as the published GZ DECaLS catalogs give it."""
    index = {column: i for i, column in enumerate(schema.answer_columns)}
    asked = np.ones((fractions.shape[0], schema.n_questions), dtype=np.float64)
    for q, question in enumerate(schema.questions):
        chain = [index[column] for column in schema.ancestors(question.name)]
        if chain:
            asked[:, q] = np.prod(fractions[:, chain], axis=1)
    return asked


def beta_intervals(
    concentrations: np.ndarray, schema: Schema, level: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval of each answer's vote fraction (Beta marginal)."""
    from scipy import stats

    total = question_totals(concentrations, schema)
    tail = (1.0 - level) / 2.0
    a, b = concentrations.astype(np.float64), total - concentrations
    return stats.beta.ppf(tail, a, b), stats.beta.ppf(1.0 - tail, a, b)


def prediction_table(
    keys: list[str], concentrations: np.ndarray, schema: Schema, level: float = 0.9
) -> pd.DataFrame:
    """One row per galaxy: ``key``, then per answer ``{col}_fraction``, ``_lower``, ``_upper``."""
    fractions = expected_fractions(concentrations, schema)
    lower, upper = beta_intervals(concentrations, schema, level)
    columns: dict[str, np.ndarray] = {}
    for j, column in enumerate(schema.answer_columns):
        columns[f"{column}_fraction"] = fractions[:, j].astype(np.float32)
        columns[f"{column}_lower"] = lower[:, j].astype(np.float32)
        columns[f"{column}_upper"] = upper[:, j].astype(np.float32)
    table = pd.DataFrame(columns)
    table.insert(0, "key", pd.array(keys, dtype="string"))
    return table


def vote_fraction_metrics(
    concentrations: np.ndarray,
    counts: np.ndarray,
    schema: Schema,
    min_votes: int = 20,
    level: float = 0.9,
) -> dict[str, dict[str, float]]:
    """Per question: MAE of expected vote fractions (galaxies with >= ``min_votes`` votes) and
    coverage of the ``level`` Beta-binomial intervals (galaxies with >= 1 vote).

    Returns ``{"mae": {question: value}, "coverage": {question: value}}``; a question with no
    qualifying galaxy is left out.
    """
    from scipy import stats

    counts = counts.astype(np.float64)
    total_votes = question_totals(counts, schema)
    total_conc = question_totals(concentrations, schema)
    fractions = concentrations / total_conc  # expected_fractions, reusing the sums
    observed = np.divide(counts, total_votes, out=np.zeros_like(counts), where=total_votes > 0)
    tail = (1.0 - level) / 2.0
    a, b = concentrations.astype(np.float64), total_conc - concentrations
    answered = total_votes > 0
    # scipy's discrete ppf is slow and coverage only reads answered entries (most are not)
    low, high = np.full_like(a, np.nan), np.full_like(a, np.nan)
    n, a_answered, b_answered = total_votes[answered], a[answered], b[answered]
    low[answered] = stats.betabinom.ppf(tail, n, a_answered, b_answered)
    high[answered] = stats.betabinom.ppf(1.0 - tail, n, a_answered, b_answered)
    inside = (counts >= low) & (counts <= high)
    error = np.abs(fractions - observed)
    results: dict[str, dict[str, float]] = {"mae": {}, "coverage": {}}
    for name, columns in schema.question_slices.items():
        rows_answered = answered[:, columns.start]
        if rows_answered.any():
            results["coverage"][name] = float(inside[rows_answered, columns].mean())
        rows_many = total_votes[:, columns.start] >= min_votes
        if rows_many.any():
            results["mae"][name] = float(error[rows_many, columns].mean())
    return results


def evaluation_metrics(
    concentrations: np.ndarray,
    counts: np.ndarray,
    schema: Schema,
    prefix: str,
    min_votes: int,
    level: float,
    vote_fractions: bool = True,
) -> dict[str, float]:
    """Loss (total, per question, per campaign), uniform baseline, and on the test split the
    vote-fraction MAE and interval coverage (``vote_fractions``; False: the losses alone)."""
    index = question_index_tensor(schema.answer_question_index)
    count_tensor = torch.as_tensor(counts)
    result = dirichlet_multinomial_nll(
        torch.as_tensor(concentrations), count_tensor, index, schema.n_questions
    )
    # evaluated in one process after fit: a cross-rank sync here would wait for ranks that left
    aggregator = LossAggregator.for_schema(schema, sync_on_compute=False)
    aggregator.update(result.per_question, result.total_votes)
    metrics = metric_dict(prefix, aggregator.compute(), schema)
    metrics[f"{prefix}/uniform_loss"] = float(
        uniform_concentration_loss(count_tensor, index, schema.n_questions)
    )
    if prefix == "test" and vote_fractions:
        fractions = vote_fraction_metrics(concentrations, counts, schema, min_votes, level)
        for name, values in fractions.items():
            for question, value in values.items():
                metrics[f"{prefix}/{name}/{question}"] = value
            if values:
                metrics[f"{prefix}/{name}"] = float(np.mean(list(values.values())))
    return metrics
