"""The active-learning loop's parts: the pool and its checks, the volunteers, the head, the
rounds of acquisition and their summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gz_evo.evaluation.active import (
    ActiveLearningConfig,
    ActiveLearningError,
    ask_volunteers,
    fit_head,
    head_loss,
    headline_metrics,
    learning_curve_figure,
    mc_concentrations,
    pool_table,
    pool_truth,
    reference_rows,
    run_active_learning,
    split_pool,
    summarise,
)
from gz_evo.schema import load_schema
from gz_evo.simulate.morphology import sample_morphology

BEHAVIOUR = {"max_blur": 0.6, "agreement": 25.0}


def _params(**changes) -> dict:
    params = {
        "campaign": "dr5", "test_size": 20, "initial": 8, "batch_size": 6, "rounds": 2,
        "strategies": ["bald", "random"], "seeds": [0, 1],
        "volunteers": {"votes_mean": 40, "extra_fraction": 0.05},
        "head": {"dropout": 0.5, "steps": 30, "lr": 0.01, "weight_decay": 0.05,
                 "init_concentration": 2.0},
        "bald": {"mc_samples": 6, "max_outcomes": 500, "outcome_samples": 8},
        "embed_batch_size": 16,
    }  # fmt: skip
    return {**params, **changes}


def _universe(n: int = 70) -> tuple[pd.DataFrame, np.ndarray]:
    """Truth and features that say something about it (kind, inclination, arms, noise)."""
    truth = sample_morphology(n, np.random.default_rng(0))
    truth.insert(0, "id_str", [f"g{i}" for i in range(n)])
    truth["difficulty"] = np.random.default_rng(1).uniform(0, 0.3, n)
    kind = pd.get_dummies(truth["kind"]).to_numpy(float)
    signal = np.column_stack([kind, truth["inclination"] / 90, truth["arm_count"] > 0])
    noise = np.random.default_rng(2).normal(0, 0.3, (n, 8))
    return truth, np.column_stack([signal, noise]).astype(np.float32)


def test_the_config_refuses_unknown_strategies_and_empty_sizes() -> None:
    with pytest.raises(ActiveLearningError, match=r"unknown.*'uncertainty'.*known: bald, random"):
        ActiveLearningConfig.from_params(_params(strategies=["bald", "uncertainty"]))
    with pytest.raises(ActiveLearningError, match="batch_size must be at least 1"):
        ActiveLearningConfig.from_params(_params(batch_size=0))
    with pytest.raises(ValueError, match=r"missing key.*rounds"):
        ActiveLearningConfig.from_params({k: v for k, v in _params().items() if k != "rounds"})


def test_a_catalog_without_images_is_refused_naming_it() -> None:
    ok = pd.DataFrame({"id_str": ["a"], "image_path": ["a.png"]})
    blind = pd.DataFrame({"id_str": ["b", "c"], "image_path": [None, None]})
    with pytest.raises(ActiveLearningError, match="catalog downstream_catalog has no images"):
        pool_table({"unlabelled_images": ok, "downstream_catalog": blind})
    with pytest.raises(ActiveLearningError, match="catalog mine has no id_str"):
        pool_table({"mine": pd.DataFrame({"image_path": ["a.png"]})})
    with pytest.raises(ActiveLearningError, match=r"more than one row.*'a'"):
        pool_table({"one": ok, "two": ok})
    table = pool_table({"unlabelled_images": ok, "downstream_catalog": None})
    assert table[["id_str", "source"]].values.tolist() == [["a", "unlabelled_images"]]


def test_pool_galaxies_without_truth_are_refused() -> None:
    truth, _ = _universe(5)
    assert pool_truth(truth, np.array(["g3", "g1"]))["id_str"].tolist() == ["g3", "g1"]
    with pytest.raises(ActiveLearningError, match=r"1 pool galaxies have no latent truth.*'x9'"):
        pool_truth(truth, np.array(["g1", "x9"]))
    with pytest.raises(ActiveLearningError, match="needs demo_truth"):
        pool_truth(None, np.array(["g1"]))


def test_a_pool_too_small_for_the_rounds_is_refused() -> None:
    config = ActiveLearningConfig.from_params(_params())
    test, candidates = split_pool(40, config, seed=0)
    assert len(test) == 20 and len(np.union1d(test, candidates)) == 40
    with pytest.raises(ActiveLearningError, match=r"39 pool galaxies.*need 40"):
        split_pool(39, config, seed=0)


def test_the_head_is_seeded_and_leaves_the_callers_random_state_alone() -> None:
    truth, features = _universe()
    schema = load_schema("dr5")
    votes = ask_volunteers(truth, schema, ActiveLearningConfig.from_params(_params()).volunteers,
                           BEHAVIOUR, seed=0)  # fmt: skip
    assert votes.shape == (70, schema.n_answers) and votes.sum() > 0
    x, counts = torch.as_tensor(features), torch.as_tensor(votes)
    options = ActiveLearningConfig.from_params(_params()).head
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = fit_head(x, counts, schema, options, seed=4)
    samples = mc_concentrations(first, x, 5, seed=1)
    assert torch.equal(torch.get_rng_state(), before)
    second = fit_head(x, counts, schema, options, seed=4)
    assert torch.equal(first.linear.weight, second.linear.weight)
    assert torch.equal(samples, mc_concentrations(second, x, 5, seed=1))
    assert not torch.equal(samples[0], samples[1])  # dropout differs between passes
    assert first.mc_dropout is False  # put back as it was
    assert head_loss(first, x, counts, schema) < head_loss(
        fit_head(x, counts, schema, options.__class__(0.5, 0, 0.01, 0.0, 2.0), 4), x, counts, schema
    )  # training lowers the loss from the vague start


def test_the_rounds_acquire_from_the_candidates_and_summarise() -> None:
    truth, features = _universe()
    schema = load_schema("dr5")
    config = ActiveLearningConfig.from_params(_params())
    votes = ask_volunteers(truth, schema, config.volunteers, BEHAVIOUR, seed=0)
    results = run_active_learning(
        features, votes, truth["difficulty"].to_numpy(), schema, config, seed=0
    )
    loop = results[results["strategy"] != "all_candidates"]
    assert len(loop) == 2 * 2 * 3  # strategies x seeds x (rounds + 1)
    assert sorted(loop["labelled"].unique()) == [8, 14, 20]
    # both strategies of a seed start from the same galaxies: the same first head
    first = loop[loop["round"] == 0].pivot(index="seed", columns="strategy", values="test_loss")
    assert (first["bald"] == first["random"]).all()
    acquired = loop[loop["round"] < 2]
    assert acquired["acquired_bald_mean"].gt(0).all()
    # BALD takes the galaxies BALD ranks highest: more informative than random picks on average
    by_strategy = acquired.groupby("strategy")["acquired_bald_mean"].mean()
    assert by_strategy["bald"] > by_strategy["random"]
    every = results[results["strategy"] == "all_candidates"]
    assert every["labelled"].tolist() == [50]

    references = reference_rows(truth, votes, schema, BEHAVIOUR, config, seed=0)
    losses = dict(zip(references["strategy"], references["test_loss"], strict=True))
    assert losses["oracle"] < losses["uniform"]  # knowing the truth beats knowing nothing
    everything = pd.concat([results, references], ignore_index=True)
    summary = summarise(everything)
    assert summary["strategy"].tolist()[:6] == ["bald"] * 3 + ["random"] * 3
    assert set(summary["strategy"][6:]) == {"all_candidates", "oracle", "uniform"}
    assert (summary.loc[:5, "count"] == 2).all()
    metrics = headline_metrics(summary, everything)
    assert metrics["bald"]["final_labelled"] == 20 and metrics["random"]["start_labelled"] == 8
    paired = metrics["random_minus_bald_final"]
    last = loop[loop["labelled"] == 20].pivot(index="seed", columns="strategy", values="test_loss")
    assert paired["mean"] == pytest.approx((last["random"] - last["bald"]).mean())
    assert paired["seeds"] == 2
    assert set(metrics["reference"]) == {"all_candidates", "oracle", "uniform"}
    figure = learning_curve_figure(summary)
    assert len(figure.axes[0].lines) >= 3
