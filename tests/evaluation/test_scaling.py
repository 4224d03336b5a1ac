"""Scaling-law fits on synthetic points with known exponents, and the fits that cannot be made."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gz_evo.evaluation.scaling import (
    FitOptions,
    fit_scaling_law,
    headline_exponents,
    scaling_figures,
    sweep_fits,
)

OPTIONS = FitOptions(bootstrap=200, interval=0.9, flat_tolerance=0.01, max_alpha=3.0)
SIZES = np.array([125, 250, 500, 1000, 2000, 4000])


def _replicates(law, noise: float, n: int, rng: np.random.Generator) -> tuple:
    x = np.repeat(SIZES, n).astype(float)
    return x, law(x) * (1 + noise * rng.standard_normal(len(x)))


def test_a_power_law_exponent_is_recovered_within_its_interval() -> None:
    rng = np.random.default_rng(0)
    x, y = _replicates(lambda d: 80 * d**-0.3, noise=0.02, n=4, rng=rng)
    fit = fit_scaling_law(x, y, "power", OPTIONS, rng)
    assert fit.identifiable and fit.reason is None
    low, high = fit.alpha_interval
    assert low < 0.3 < high and high - low < 0.1
    assert fit.alpha == pytest.approx(0.3, abs=0.03) and fit.a == pytest.approx(80, rel=0.2)
    assert fit.c == 0 and fit.n_points == len(x) and fit.n_x == len(SIZES)


def test_a_power_law_with_a_floor_is_recovered_and_the_plain_law_misses_it() -> None:
    rng = np.random.default_rng(1)
    x, y = _replicates(lambda d: 200 * d**-0.6 + 20, noise=0.005, n=3, rng=rng)
    fit = fit_scaling_law(x, y, "power_plus_constant", OPTIONS, rng)
    assert fit.identifiable, fit.reason
    low, high = fit.alpha_interval
    assert low < 0.6 < high
    assert fit.c == pytest.approx(20, rel=0.15) and fit.a == pytest.approx(200, rel=0.5)
    assert fit.predict(np.array([1000.0]))[0] == pytest.approx(200 * 1000**-0.6 + 20, rel=0.02)
    plain = fit_scaling_law(x, y, "power", OPTIONS, rng)  # a floor flattens the log-log line
    assert plain.alpha_interval[1] < 0.6


@pytest.mark.parametrize(
    ("sizes", "form", "reason"),
    [
        ([100, 200], "power", "2 distinct values of training images"),
        ([100, 200, 400], "power_plus_constant", "at least 4 are needed"),
        ([100, 200, 400, 800], "power", "flat"),
    ],
)
def test_fits_that_the_points_cannot_pin_down_say_why(sizes, form, reason) -> None:
    rng = np.random.default_rng(2)
    x = np.repeat(sizes, 2).astype(float)
    y = 50 * x**-0.3 if reason != "flat" else 40 + 0.01 * rng.standard_normal(len(x))
    fit = fit_scaling_law(x, y, form, OPTIONS, rng)
    assert not fit.identifiable and reason in fit.reason
    assert fit.alpha is None and fit.alpha_interval is None
    with pytest.raises(ValueError, match="not identifiable"):
        fit.predict(np.array([1.0]))


def test_a_constant_the_points_cannot_separate_is_not_identifiable() -> None:
    """Losses rising with D give no falling law with a floor: exponent 0, said so."""
    rng = np.random.default_rng(3)
    x = np.repeat(SIZES, 2).astype(float)
    fit = fit_scaling_law(x, 10 * x**0.2, "power_plus_constant", OPTIONS, rng)
    assert not fit.identifiable and "does not fall" in fit.reason


def test_one_replicate_gives_an_exponent_without_an_interval() -> None:
    rng = np.random.default_rng(4)
    fit = fit_scaling_law(SIZES, 30 * SIZES**-0.2, "power", OPTIONS, rng)
    assert fit.identifiable and fit.alpha == pytest.approx(0.2)
    assert fit.alpha_interval is None and "one replicate" in fit.reason


def _sweep_table() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for model, parameters, alpha in (("small", 1e4, 0.2), ("big", 1e5, 0.35)):
        for fraction in (0.125, 0.25, 0.5, 1.0):
            for seed in range(4):
                images = 2000 * fraction
                noise = 1 + 0.01 * rng.standard_normal(2)
                rows.append(
                    {
                        "model": model,
                        "parameters": parameters,
                        "fraction": fraction,
                        "train_images": images,
                        "seed": seed,
                        "test_loss": 100 * images**-alpha * noise[0],
                        "test_loss_question/bar-dr5": 10 + 0.01 * noise[1],  # flat: no law
                    }
                )
    return pd.DataFrame(rows)


def test_a_sweep_gets_every_fit_headlines_and_figures() -> None:
    points = _sweep_table()
    fits = sweep_fits(points, OPTIONS, seed=0)
    by_key = {(f["target"], f["against"], f["model"], f["form"]): f for f in fits}
    assert len(fits) == 2 * 2 * 2 + 2 * 2  # (model x target x form) + (target x form)
    for model, alpha in (("small", 0.2), ("big", 0.35)):
        fit = by_key[("test_loss", "train_images", model, "power")]
        assert fit["alpha"] == pytest.approx(alpha, abs=0.02)
        assert fit["alpha_interval"][0] < fit["alpha"] < fit["alpha_interval"][1]
        assert "flat" in by_key[("bar-dr5", "train_images", model, "power")]["reason"]
    parameters = by_key[("test_loss", "parameters", None, "power")]
    assert (
        not parameters["identifiable"]
        and "2 distinct values of parameters" in (parameters["reason"])
    )
    assert parameters["fraction"] == 1.0
    headline = headline_exponents(fits)
    assert (
        headline["alpha_data"]["big"]["power"]["alpha"]
        == by_key[("test_loss", "train_images", "big", "power")]["alpha"]
    )
    assert headline["alpha_parameters"]["all_models"]["power"]["alpha"] is None
    figures = scaling_figures(points, fits)
    assert set(figures) == {"loss_vs_data", "loss_vs_parameters", "questions_vs_data"}
    legend = [t.get_text() for t in figures["loss_vs_data"].axes[0].get_legend().get_texts()]
    assert any(text.startswith("  power: alpha") for text in legend)
    assert figures["loss_vs_data"].axes[0].get_xscale() == "log"
