"""Prediction catalogs: fractions and intervals against the Dirichlet by sampling, the
probability a question is asked on a hand-made tree, and the tables."""

from __future__ import annotations

import numpy as np
import pytest

from gz_evo.schema import Question, Schema
from gz_evo.science.predict import (
    mixture_fractions,
    mixture_intervals,
    prediction_tables,
    proportion_asked,
    select_campaigns,
)

#: a hand-made tree: shape -> (if disk) bar -> (if barred) bar length; and one root question
TREE = Schema(
    (
        Question("shape", ("round", "disk", "odd")),
        Question("bar", ("yes", "no"), depends_on="shape_disk"),
        Question("length", ("long", "short"), depends_on="bar_yes"),
        Question("clumps", ("yes", "no")),
    ),
    name="tree",
)


def _draw(concentrations: np.ndarray, schema: Schema, n: int, rng) -> np.ndarray:
    """Vote fractions drawn from the mixture: a sample index, then each question's Dirichlet."""
    samples = rng.integers(0, concentrations.shape[0], n)
    out = np.empty((n, schema.n_answers))
    for columns in schema.question_slices.values():
        for s in range(concentrations.shape[0]):
            rows = samples == s
            out[rows, columns] = rng.dirichlet(concentrations[s, columns], rows.sum())
    return out


@pytest.mark.parametrize("n_samples", [1, 3])
def test_fractions_and_intervals_match_the_dirichlet_by_sampling(n_samples: int) -> None:
    rng = np.random.default_rng(0)
    concentrations = rng.uniform(1.0, 30.0, (n_samples, TREE.n_answers))
    draws = _draw(concentrations, TREE, 200_000, rng)
    fractions = mixture_fractions(concentrations[None], TREE)[0]
    lower, upper = mixture_intervals(concentrations[None], TREE, 0.9)
    np.testing.assert_allclose(fractions, draws.mean(0), atol=3e-3)
    np.testing.assert_allclose(lower[0], np.quantile(draws, 0.05, axis=0), atol=4e-3)
    np.testing.assert_allclose(upper[0], np.quantile(draws, 0.95, axis=0), atol=4e-3)
    inside = ((draws >= lower[0]) & (draws <= upper[0])).mean(0)
    np.testing.assert_allclose(inside, 0.9, atol=5e-3)


def test_a_question_is_asked_with_the_product_of_the_fractions_leading_to_it() -> None:
    # answer order: shape round/disk/odd, bar yes/no, length long/short, clumps yes/no
    fractions = np.array([[0.2, 0.5, 0.3, 0.4, 0.6, 0.7, 0.3, 0.9, 0.1]])
    asked = proportion_asked(fractions, TREE)[0]
    np.testing.assert_allclose(asked, [1.0, 0.5, 0.5 * 0.4, 1.0])


def test_tables_have_one_column_per_answer_and_keep_the_samples() -> None:
    rng = np.random.default_rng(1)
    concentrations = rng.uniform(1, 10, (4, 2, TREE.n_answers))
    friendly, full = prediction_tables(["a", "b", "c", "d"], concentrations, TREE, 0.9, True)
    answers = TREE.answer_columns
    assert list(friendly.columns) == [
        "id_str",
        *(f"{c}_fraction" for c in answers),
        *(f"{q}_proportion_asked" for q in TREE.question_names),
    ]
    assert {f"{c}_concentration_{s}" for c in answers for s in (0, 1)} <= set(full.columns)
    np.testing.assert_allclose(full["bar_yes_concentration_1"], concentrations[:, 1, 3], rtol=1e-6)
    shape = [f"shape_{a}_fraction" for a in ("round", "disk", "odd")]
    np.testing.assert_allclose(friendly[shape].sum(axis=1), 1.0, rtol=1e-5)
    assert (full["shape_disk_lower"] <= full["shape_disk_fraction"]).all()
    assert (full["shape_disk_fraction"] <= full["shape_disk_upper"]).all()


def test_campaigns_can_be_chosen_and_unknown_ones_are_refused() -> None:
    from gz_evo.schema import load_schema
    from gz_evo.science.catalog import ScienceInputError

    schema = load_schema(["dr5", "gz2"])
    chosen, columns = select_campaigns(schema, ("gz2",))
    assert chosen.campaigns == ["gz2"]
    assert [schema.answer_columns[i] for i in columns] == chosen.answer_columns
    with pytest.raises(ScienceInputError, match="not trained on \\['dr8'\\]"):
        select_campaigns(schema, ("dr8",))
