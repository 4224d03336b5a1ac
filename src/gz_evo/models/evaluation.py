"""What predicted concentrations say about vote fractions: expectations, intervals, calibration.

For one question with concentrations ``a`` (``A = sum(a)``) the fraction of votes for answer ``k``
has the Beta(``a_k``, ``A - a_k``) marginal (infinitely many volunteers); with ``N`` volunteers the
count is Beta-binomial(``N``, ``a_k``, ``A - a_k``), the Dirichlet-multinomial's marginal. The
prediction table reports the Beta intervals; calibration compares each observed count with its
Beta-binomial interval, since a galaxy with 5 votes is noisier than the Beta says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gz_evo.schema import Schema


def _per_question_sums(values: np.ndarray, schema: Schema) -> np.ndarray:
    """``[n, n_answers]`` -> each answer's question total, broadcast back to ``[n, n_answers]``."""
    index = schema.answer_question_index
    sums = np.zeros((values.shape[0], schema.n_questions), dtype=np.float64)
    np.add.at(sums.T, index, values.T.astype(np.float64))
    return sums[:, index]


def expected_fractions(concentrations: np.ndarray, schema: Schema) -> np.ndarray:
    """Expected vote fraction per answer: concentration / its question's total concentration."""
    return concentrations / _per_question_sums(concentrations, schema)


def beta_intervals(
    concentrations: np.ndarray, schema: Schema, level: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval of each answer's vote fraction (Beta marginal)."""
    from scipy import stats

    total = _per_question_sums(concentrations, schema)
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
    total_votes = _per_question_sums(counts, schema)
    total_conc = _per_question_sums(concentrations, schema)
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
