"""Transfer evaluation: label checks, nested budgets, linear probes, metrics, tables, figure."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.evaluation.transfer import (
    budget_indices,
    check_labels,
    error_reductions,
    fit_linear_probe,
    label_efficiency_figure,
    relative_error_reduction,
    save_figure_png,
    score_predictions,
    score_probe,
    summarise,
)


def _clusters(n: int, seed: int, classes: int = 3, dim: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Each class shifted along its own axis: linearly separable."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    features = rng.normal(0, 1.0, (n, dim))
    features[np.arange(n), labels] += 6.0
    return features, labels


# ---- labels ---------------------------------------------------------------------------------


def test_good_labels_pass() -> None:
    check_labels(np.array(["ring", "none", "ring"]), "binary", where="a.csv column 'ring'")
    check_labels(np.array([0, 1, 2, 1]), "multiclass", where="b")
    check_labels(np.array([0.5, 2.0, -1.0], dtype=object), "regression", where="c")


@pytest.mark.parametrize(
    ("labels", "kind", "message"),
    [
        (np.array(["a", "b", "c"]), "binary", "3 classes .* exactly 2"),
        (np.array([1, 1, 1]), "binary", "only one class"),
        (np.array(["x", "x"]), "multiclass", "only one class"),
        (np.array([1.0, "big", 2.0], dtype=object), "regression", "finite numbers.*'big'"),
        (np.array([1.0, np.inf]), "regression", "finite numbers"),
        (np.array([0, None, 1], dtype=object), "binary", "1 missing labels"),
        (np.array([]), "multiclass", "no labels"),
    ],
)
def test_bad_labels_name_the_place(labels: np.ndarray, kind: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"my_labels.csv column 'ring'.*{message}"):
        check_labels(labels, kind, where="my_labels.csv column 'ring'")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="task kind must be one of"):
        check_labels(np.array([0, 1]), "ordinal", where="x")


# ---- budgets --------------------------------------------------------------------------------


def test_budgets_are_stratified_nested_and_seeded() -> None:
    labels = np.array(["rare"] * 3 + ["medium"] * 30 + ["common"] * 267)
    budgets = [3, 10, 25, 50, 100, 300]
    subsets = [budget_indices(labels, b, seed=0, kind="multiclass") for b in budgets]
    for budget, rows in zip(budgets, subsets, strict=True):
        assert len(rows) == len(set(rows)) == budget
        assert set(labels[rows]) == {"rare", "medium", "common"}
    for smaller, larger in itertools.pairwise(subsets):
        assert set(smaller) <= set(larger)
    counts = pd.Series(labels[subsets[3]]).value_counts()  # 50 galaxies: about 1 / 5 / 44
    assert counts["common"] >= 40 and 3 <= counts["medium"] <= 7
    again = budget_indices(labels, 25, seed=0, kind="multiclass")
    other = budget_indices(labels, 25, seed=1, kind="multiclass")
    assert np.array_equal(again, subsets[2]) and not np.array_equal(other, subsets[2])
    assert np.array_equal(budget_indices(labels, None, 0, "multiclass"), np.arange(300))


def test_regression_budgets_are_nested_seeded_prefixes() -> None:
    labels = np.linspace(0, 1, 40)
    small, large = (budget_indices(labels, b, seed=3, kind="regression") for b in (5, 20))
    assert len(small) == 5 and set(small) <= set(large)
    assert not np.array_equal(small, budget_indices(labels, 5, seed=4, kind="regression"))


def test_impossible_budgets_are_refused() -> None:
    labels = np.array([0, 1, 2] * 4)
    with pytest.raises(ValueError, match="smaller than the 3 classes"):
        budget_indices(labels, 2, seed=0, kind="multiclass")
    with pytest.raises(ValueError, match="larger than the 12 training galaxies"):
        budget_indices(labels, 13, seed=0, kind="multiclass")
    with pytest.raises(ValueError, match="at least 1"):
        budget_indices(labels, 0, seed=0, kind="regression")


# ---- probes and metrics ---------------------------------------------------------------------


def test_probe_separates_separable_features_and_not_shuffled_labels() -> None:
    train, train_labels = _clusters(150, seed=0)
    test, test_labels = _clusters(300, seed=1)
    probe = fit_linear_probe(train, train_labels, "multiclass", seed=0)
    scores = score_probe(probe, test, test_labels, "multiclass")
    assert scores["accuracy"] > 0.97 and scores["error"] == pytest.approx(1 - scores["accuracy"])
    assert scores["log_loss"] < 0.2
    shuffled = np.random.default_rng(2).permutation(train_labels)
    chance = score_probe(
        fit_linear_probe(train, shuffled, "multiclass", 0), test, test_labels, "multiclass"
    )
    assert chance["accuracy"] < 0.5 and chance["log_loss"] > 1.0


def test_binary_probe_reports_roc_auc_of_string_classes() -> None:
    train, train_labels = _clusters(120, seed=3, classes=2)
    test, test_labels = _clusters(200, seed=4, classes=2)
    names = np.array(["none", "ring"])
    rows = budget_indices(names[train_labels], 20, seed=0, kind="binary")
    probe = fit_linear_probe(train[rows], names[train_labels][rows], "binary", seed=0)
    scores = score_probe(probe, test, names[test_labels], "binary")
    assert scores["accuracy"] > 0.95 and scores["roc_auc"] > 0.98
    one_per_class = budget_indices(names[train_labels], 2, seed=0, kind="binary")
    tiny = fit_linear_probe(train[one_per_class], names[train_labels][one_per_class], "binary", 0)
    assert set(tiny.predict(test)) <= set(names)  # no folds to cross-validate: still a probe


def test_ridge_probe_fits_a_linear_target() -> None:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(260, 10))
    target = features @ rng.normal(size=10) + 3.0 + rng.normal(0, 0.05, 260)
    probe = fit_linear_probe(features[:200], target[:200], "regression", seed=0)
    scores = score_probe(probe, features[200:], target[200:], "regression")
    assert scores["mae"] < 0.1 and scores["error"] == scores["mae"]
    assert scores["rmse"] >= scores["mae"]
    baseline = np.mean(np.abs(target[200:] - target[:200].mean()))
    assert scores["mae"] < 0.05 * baseline


def test_scores_on_hand_computed_examples() -> None:
    truth = np.array(["a", "b", "b", "a"])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    scores = score_predictions(truth, np.array(["a", "b", "a", "a"]), "binary", probabilities)
    assert scores["accuracy"] == 0.75 and scores["error"] == 0.25
    assert scores["roc_auc"] == 1.0  # every "b" has a higher P(b) than every "a"
    expected = -np.mean(np.log([0.9, 0.8, 0.4, 0.7]))
    assert scores["log_loss"] == pytest.approx(expected)
    assert set(score_predictions(truth, truth, "binary")) == {"accuracy", "error"}
    regression = score_predictions(np.array([1.0, 2.0]), np.array([2.0, 5.0]), "regression")
    assert regression == {"mae": 2.0, "rmse": pytest.approx(np.sqrt(5.0)), "error": 2.0}


def test_relative_error_reduction() -> None:
    assert relative_error_reduction(0.15, 0.20) == pytest.approx(0.25)
    assert relative_error_reduction(0.30, 0.20) == pytest.approx(-0.5)
    assert relative_error_reduction(0.0, 0.4) == 1.0
    assert np.isnan(relative_error_reduction(0.1, 0.0))


# ---- tables and figure ----------------------------------------------------------------------


def _results() -> pd.DataFrame:
    rows = []
    for encoder, base_error in (("gz_evo", 0.10), ("imagenet", 0.20), ("random", 0.40)):
        for budget in (10, 100):
            for seed, wobble in enumerate((-0.02, 0.02)):
                error = base_error * (2.0 if budget == 10 else 1.0) + wobble
                row = ("rings", encoder, "linear", budget, seed, error, 1 - error)
                rows.append(row)
    columns = ["task", "encoder", "protocol", "budget", "seed", "error", "accuracy"]
    return pd.DataFrame(rows, columns=columns)


def test_summarise_gives_mean_std_and_n_per_setting() -> None:
    summary = summarise(_results())
    assert len(summary) == 6
    row = summary.query("encoder == 'imagenet' and budget == 10").iloc[0]
    assert row["n"] == 2 and row["error_mean"] == pytest.approx(0.40)
    assert row["error_std"] == pytest.approx(np.std([0.38, 0.42], ddof=1))
    assert row["accuracy_mean"] == pytest.approx(0.60)
    with pytest.raises(ValueError, match="lacks columns \\['seed'\\]"):
        summarise(_results().drop(columns="seed"))


def test_error_reductions_compare_mean_errors_with_each_baseline() -> None:
    reductions = error_reductions(summarise(_results()), baselines=["imagenet", "random"])
    assert len(reductions) == 2 * 2 * 2  # budgets x baselines x other encoders
    by_pair = reductions.set_index(["budget", "encoder", "baseline"])["relative_error_reduction"]
    assert by_pair[(100, "gz_evo", "imagenet")] == pytest.approx(1 - 0.10 / 0.20)
    assert by_pair[(10, "gz_evo", "random")] == pytest.approx(1 - 0.20 / 0.80)
    assert by_pair[(100, "random", "imagenet")] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="'imagnet'"):
        error_reductions(summarise(_results()), baselines=["imagnet"])


def test_label_efficiency_figure_has_a_line_per_encoder_and_protocol(tmp_path: Path) -> None:
    results = _results()
    finetuned = results[results["encoder"] == "gz_evo"].assign(protocol="finetune")
    figure = label_efficiency_figure(summarise(pd.concat([results, finetuned])), task="rings")
    (axes,) = figure.axes
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert labels == [
        "gz_evo (finetune)",
        "gz_evo (linear)",
        "imagenet (linear)",
        "random (linear)",
    ]
    assert len(axes.containers) == 4 and axes.get_xscale() == "log"
    assert "rings" in axes.get_title()
    target = tmp_path / "figures" / "rings.png"
    save_figure_png(figure, target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 1000
    assert list(target.parent.iterdir()) == [target]  # no temporary file left beside it
    with pytest.raises(ValueError, match="'bars' is not in the summary"):
        label_efficiency_figure(summarise(results), task="bars")
