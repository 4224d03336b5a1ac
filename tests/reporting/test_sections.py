"""Section builders without Kedro: what they choose and how they say a stage is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gz_evo.reporting.blocks import fmt, fmt_pm
from gz_evo.reporting.sections import _diverse, composition, downstream, scaling
from tests.reporting.synthetic import SCHEMA


def test_examples_take_turns_between_the_volunteers_majority_answers() -> None:
    question = SCHEMA.questions[0]  # smooth-or-featured-alpha: smooth, featured
    smooth, featured = question.answer_columns
    rows = pd.DataFrame({smooth: [9, 8, 7, 1, 9], featured: [1, 2, 3, 9, 0]})
    picked = _diverse(rows, question, 2, np.random.default_rng(0))
    majority = rows[[smooth, featured]].to_numpy().argmax(axis=1)[picked]
    assert sorted(majority) == [0, 1], "one smooth and one featured galaxy"
    assert len(_diverse(rows, question, 9, np.random.default_rng(0))) == 5


def test_a_missing_stage_gives_a_section_that_says_so() -> None:
    for built, name in [
        (composition(None), "gz_evo_summary"),
        (scaling(None, None, None, ["scaling_points"]), "scaling_points"),
        (downstream(None, None, {}, ["downstream_summary"]), "downstream_summary"),
    ]:
        assert built["status"] == "not run" and built["blocks"] == []
        assert built["missing"] == [name]


def test_numbers_are_formatted_once_and_plainly() -> None:
    assert fmt(1234567) == "1,234,567" and fmt(0.123456) == "0.123" and fmt(2.5, 1) == "2.5"
    assert fmt(None) == fmt(float("nan")) == "\u2013" and fmt(np.int64(42)) == "42"
    assert fmt_pm(0.4123, 0.0312) == "0.412 \u00b1 0.031" and fmt_pm(0.4, float("nan")) == "0.400"
