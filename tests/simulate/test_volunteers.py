"""Simulated volunteers: counts fall down the tree, totals are realistic, any schema works."""

import numpy as np
import pandas as pd
import pytest

from gz_evo.schema import campaign_from_dict, known_campaigns, load_schema
from gz_evo.simulate.morphology import sample_morphology
from gz_evo.simulate.volunteers import (
    UnknownQuestionError,
    campaign_suffix,
    check_models,
    oracle_concentrations,
    simulate_votes,
)

CAMPAIGN_DIRS = ["conf/base/campaigns"]


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return sample_morphology(800, np.random.default_rng(0))


@pytest.fixture(scope="module", autouse=True)
def _project_root(request: pytest.FixtureRequest) -> None:
    import os

    from tests.conftest import PROJECT_ROOT

    previous = os.getcwd()
    os.chdir(PROJECT_ROOT)
    yield
    os.chdir(previous)


@pytest.mark.parametrize("campaign", known_campaigns(["conf/base/campaigns"]))
def test_every_campaign_votes_fall_down_its_tree(truth: pd.DataFrame, campaign: str) -> None:
    schema = load_schema(campaign, campaign_dirs=CAMPAIGN_DIRS)
    check_models(schema)
    votes = simulate_votes(truth, schema, np.random.default_rng(1), votes_mean=40)
    assert list(votes.columns) == schema.answer_columns
    assert (votes.to_numpy() >= 0).all()
    roots = [q for q in schema.questions if q.depends_on is None]
    root_totals = votes[roots[0].answer_columns].sum(axis=1)
    for question in schema.questions:
        totals = votes[question.answer_columns].sum(axis=1)
        if question.depends_on is None:
            pd.testing.assert_series_equal(totals, root_totals, check_names=False)
        else:  # exactly the volunteers who gave the parent answer reach this question
            assert (totals == votes[question.depends_on]).all(), question.name


def test_totals_are_realistic_per_campaign(truth: pd.DataFrame) -> None:
    for campaign, mean in (("dr5", 40), ("gz2", 45)):
        schema = load_schema(campaign)
        votes = simulate_votes(truth, schema, np.random.default_rng(2), votes_mean=mean)
        totals = votes[schema.questions[0].answer_columns].sum(axis=1)
        assert abs(totals.mean() - mean * 1.07) < 3  # a few galaxies get extra volunteers
        assert totals.min() >= 3


def test_unanswered_questions_are_zero_and_truth_shows(truth: pd.DataFrame) -> None:
    schema = load_schema("dr5")
    votes = simulate_votes(truth, schema, np.random.default_rng(3))
    nobody_featured = votes["smooth-or-featured-dr5_featured-or-disk"] == 0
    assert nobody_featured.any()
    assert (votes.loc[nobody_featured, "bar-dr5_strong":"bar-dr5_no"].to_numpy() == 0).all()
    fraction = votes["smooth-or-featured-dr5_smooth"] / votes.filter(like="smooth-or-featured").sum(
        axis=1
    )
    assert (
        fraction[truth["kind"] == "smooth"].mean()
        > fraction[truth["kind"] == "featured"].mean() + 0.3
    )


def test_hard_galaxies_get_blurred_answers(truth: pd.DataFrame) -> None:
    schema = load_schema("dr5")
    columns = schema.questions[0].answer_columns
    easy = simulate_votes(truth, schema, np.random.default_rng(4), difficulty=np.zeros(len(truth)))
    hard = simulate_votes(truth, schema, np.random.default_rng(4), difficulty=np.ones(len(truth)))

    def agreement(votes: pd.DataFrame) -> float:
        counts = votes[columns].to_numpy()
        return float((counts.max(axis=1) / counts.sum(axis=1)).mean())

    assert agreement(easy) > agreement(hard) + 0.1


def test_deterministic_and_merged_schema(truth: pd.DataFrame) -> None:
    schema = load_schema(["gz2", "candels", "demo_deep"], campaign_dirs=CAMPAIGN_DIRS)
    a = simulate_votes(truth.head(50), schema, np.random.default_rng(9))
    b = simulate_votes(truth.head(50), schema, np.random.default_rng(9))
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == schema.answer_columns
    assert campaign_suffix(schema, "candels") == "-candels"
    assert campaign_suffix(schema, "demo_deep") == "-deep"


def test_unknown_question_or_answer_is_named() -> None:
    unknown = campaign_from_dict(
        {
            "name": "mine",
            "suffix": "-mine",
            "questions": [
                {"name": "smooth-or-featured", "answers": ["smooth", "featured-or-disk"]},
                {"name": "lens", "answers": ["yes", "no"]},
            ],
        }
    )
    with pytest.raises(UnknownQuestionError, match="'lens-mine'"):
        check_models(unknown)
    odd_answer = campaign_from_dict(
        {
            "name": "mine",
            "suffix": "-mine",
            "questions": [
                {"name": "smooth-or-featured", "answers": ["smooth", "blob"]},
                {"name": "bar", "answers": ["yes", "no"]},
            ],
        }
    )
    with pytest.raises(UnknownQuestionError, match="blob"):
        check_models(odd_answer)


def test_oracle_concentrations_score_far_better_than_uniform(truth: pd.DataFrame) -> None:
    import torch

    from gz_evo.losses import dirichlet_multinomial_nll, question_index_tensor

    schema = load_schema("dr5")
    votes = simulate_votes(truth, schema, np.random.default_rng(5))
    oracle = oracle_concentrations(truth, schema)
    assert oracle.shape == votes.shape and (oracle > 0).all()
    counts = torch.as_tensor(votes.to_numpy())
    index = question_index_tensor(schema.answer_question_index)

    def loss(concentrations: np.ndarray) -> float:
        alpha = torch.as_tensor(concentrations, dtype=torch.float64)
        return dirichlet_multinomial_nll(alpha, counts, index, schema.n_questions).loss.item()

    assert loss(oracle) < 0.8 * loss(np.ones_like(oracle))
