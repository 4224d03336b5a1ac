"""Scaling-law fits: held-out loss against training images (or parameters) as a power law.

Two forms, as in *Scaling Laws for Galaxy Images* (Walmsley et al. 2024)::

    power                L = a * D^(-alpha)          least squares on log L = log a - alpha log D
    power_plus_constant  L = a * D^(-alpha) + c      least squares on L; a, c >= 0 (closed form
                                                     for each alpha; alpha on a grid, then
                                                     scipy's bounded search)

Each fit uses every replicate's point; its exponent gets a bootstrap interval over replicates
(each bootstrap sample redraws, with replacement, the replicates at every D and refits). A fit
that the points cannot pin down says so (``identifiable`` False and a ``reason``) instead of
giving a number: too few distinct D for the form's parameters (3 for ``power``, 4 for
``power_plus_constant``: a curve through as many points as it has parameters fits anything),
flat losses, an exponent at the edge of its search range, a fit that fails.

    fit = fit_scaling_law(train_images, losses, "power", FitOptions(...), rng)
    fit.alpha, fit.alpha_interval, fit.identifiable, fit.reason
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.optimize import minimize_scalar

Form = Literal["power", "power_plus_constant"]
FORMS: tuple[str, ...] = get_args(Form)
#: free parameters of each form (a fit needs more distinct x than this to be tested at all)
N_PARAMETERS = {"power": 2, "power_plus_constant": 3}


@dataclass(frozen=True)
class FitOptions:
    """``scaling.fits``: bootstrap samples, central probability of the exponent's interval, the
    relative change of the mean loss across x below which the data are flat, and the largest
    exponent searched (the ``power_plus_constant`` form)."""

    bootstrap: int
    interval: float
    flat_tolerance: float
    max_alpha: float

    def __post_init__(self) -> None:
        if self.bootstrap < 0 or not 0 < self.interval < 1 or self.max_alpha <= 0:
            raise ValueError(
                "scaling.fits: bootstrap must be >= 0, interval in (0, 1), max_alpha > 0; got "
                f"{self.bootstrap}, {self.interval}, {self.max_alpha}"
            )


@dataclass(frozen=True)
class ScalingFit:
    """One fitted law: its form, the numbers (None when not identifiable) and why not."""

    form: str
    identifiable: bool
    reason: str | None
    a: float | None
    alpha: float | None
    c: float | None
    alpha_interval: tuple[float, float] | None
    n_points: int
    n_x: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The fitted loss at ``x`` (a fit that is not identifiable has none)."""
        if not self.identifiable:
            raise ValueError(f"the {self.form} fit is not identifiable: {self.reason}")
        return self.a * np.asarray(x, dtype=float) ** (-self.alpha) + (self.c or 0.0)

    def as_dict(self) -> dict:
        record = asdict(self)
        if self.alpha_interval is not None:
            record["alpha_interval"] = list(self.alpha_interval)
        return record


def _power_exponents(x: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, alpha) of ``log y = log a - alpha log x`` by least squares, for each row of ``ys``
    (samples x points)."""
    log_x, log_y = np.log(x), np.log(ys)
    centred = log_x - log_x.mean()
    slope = (log_y - log_y.mean(-1, keepdims=True)) @ centred / (centred @ centred)
    return np.exp(log_y.mean(-1) - slope * log_x.mean()), -slope


def _profile(
    alphas: np.ndarray, x: np.ndarray, ys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sum of squares, a, c) of the best ``a * x^-alpha + c`` with a, c >= 0, for each row of
    ``ys`` (samples x points) and each of its row of ``alphas`` (samples x exponents): the
    two-parameter non-negative least squares in closed form (the unconstrained solution if it
    is non-negative, else the better of a alone and c alone)."""
    u = (x / np.max(x)) ** (-alphas[..., None])  # samples x alphas x points; scaled: near 1
    n = len(x)
    sum_y, sum_yy = ys.sum(-1)[:, None], (ys * ys).sum(-1)[:, None]
    sum_u, sum_uu = u.sum(-1), (u * u).sum(-1)
    sum_uy = np.einsum("san,sn->sa", u, ys)

    def sse(a: np.ndarray, c: np.ndarray) -> np.ndarray:
        return (
            sum_yy - 2 * a * sum_uy - 2 * c * sum_y
            + a * a * sum_uu + 2 * a * c * sum_u + c * c * n
        )  # fmt: skip

    determinant = n * sum_uu - sum_u**2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (n * sum_uy - sum_u * sum_y) / determinant
        c = (sum_uu * sum_y - sum_u * sum_uy) / determinant
        a_alone = np.maximum(sum_uy / sum_uu, 0.0)
    inside = np.isfinite(a) & np.isfinite(c) & (a >= 0) & (c >= 0)
    zero = np.zeros_like(a_alone)
    c_alone = np.broadcast_to(np.maximum(sum_y / n, 0.0), a_alone.shape)
    use_a = sse(a_alone, zero) <= sse(zero, c_alone)
    a_best = np.where(inside, a, np.where(use_a, a_alone, 0.0))
    c_best = np.where(inside, c, np.where(use_a, 0.0, c_alone))
    scale = np.max(x) ** alphas  # back to unscaled x: a * (x / max)^-alpha = a * max^alpha x^-alpha
    return np.maximum(sse(a_best, c_best), 0.0), a_best * scale, c_best


#: points of the coarse grid over [0, max_alpha], and of the fine grid between the coarse best's
#: neighbours, for the constant-term fit (steps of 0.025 and 0.00125 at max_alpha 3)
_COARSE, _FINE = 121, 41


def _constant_exponents(x: np.ndarray, ys: np.ndarray, max_alpha: float) -> np.ndarray:
    """The exponent of ``y = a x^-alpha + c`` for each row of ``ys``: the best of a coarse grid
    over alpha (the profile can have several minima, and a kink where c reaches 0), then of a
    fine grid between its neighbours."""
    rows = np.arange(len(ys))
    coarse = np.linspace(0.0, max_alpha, _COARSE)
    best = np.argmin(_profile(np.broadcast_to(coarse, (len(ys), _COARSE)), x, ys)[0], axis=1)
    low = coarse[np.maximum(best - 1, 0)]
    high = coarse[np.minimum(best + 1, _COARSE - 1)]
    fine = low[:, None] + (high - low)[:, None] * np.linspace(0.0, 1.0, _FINE)
    return fine[rows, np.argmin(_profile(fine, x, ys)[0], axis=1)]


def _fit(form: str, x: np.ndarray, y: np.ndarray, options: FitOptions) -> tuple[float, ...]:
    """(a, alpha, c) of one fit; the constant-term exponent refined by scipy's bounded search
    around the grid's best."""
    if form == "power":
        a, alpha = _power_exponents(x, y[None, :])
        return float(a[0]), float(alpha[0]), 0.0
    ys = y[None, :]
    alpha = float(_constant_exponents(x, ys, options.max_alpha)[0])

    def loss(value: float) -> float:
        return float(_profile(np.array([[value]]), x, ys)[0][0, 0])

    step = options.max_alpha / (_COARSE - 1) / (_FINE - 1)
    low, high = max(alpha - step, 0.0), min(alpha + step, options.max_alpha)
    result = minimize_scalar(
        loss, bounds=(low, high), method="bounded", options={"xatol": 1e-6 * options.max_alpha}
    )
    if result.fun <= loss(alpha):
        alpha = float(result.x)
    _, a, c = _profile(np.array([[alpha]]), x, ys)
    return float(a[0, 0]), alpha, float(c[0, 0])


def _exponents(form: str, x: np.ndarray, ys: np.ndarray, options: FitOptions) -> np.ndarray:
    """The exponent for each row of ``ys`` (bootstrap samples), without the scipy refinement."""
    if form == "power":
        return _power_exponents(x, ys)[1]
    return _constant_exponents(x, ys, options.max_alpha)


def fit_scaling_law(
    x: Sequence[float],
    y: Sequence[float],
    form: Form,
    options: FitOptions,
    rng: np.random.Generator,
    what: str = "training images",
) -> ScalingFit:
    """Fit ``y`` (losses, every replicate) against ``x`` (e.g. training images) in ``form``,
    with a bootstrap interval of the exponent over the replicates at each x.

    ``what`` names x in the reasons (``"training images"``, ``"parameters"``).
    """
    if form not in FORMS:
        raise ValueError(f"unknown scaling-law form {form!r}; known: {list(FORMS)}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n_points, distinct = len(x), np.unique(x)
    n_x = len(distinct)
    reason = _not_enough(form, x, y, distinct, options, what)
    if reason is None:
        try:
            a, alpha, c = _fit(form, x, y, options)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as error:
            reason = f"the fit failed: {error}"
        else:
            reason = _at_an_edge(form, a, alpha, options, what)
    if reason is not None:
        return ScalingFit(form, False, reason, None, None, None, None, n_points, n_x)
    interval, note = _bootstrap_interval(form, x, y, distinct, options, rng)
    return ScalingFit(form, True, note, a, alpha, c, interval, n_points, n_x)


def _not_enough(
    form: str, x: np.ndarray, y: np.ndarray, distinct: np.ndarray, options: FitOptions, what: str
) -> str | None:
    """Why these points cannot pin the form down before fitting (None: they may)."""
    needed = N_PARAMETERS[form] + 1
    if len(distinct) < needed:
        return (
            f"{len(distinct)} distinct values of {what}: the {form} form has "
            f"{N_PARAMETERS[form]} parameters, so at least {needed} are needed"
        )
    if (x <= 0).any() or (y <= 0).any():
        return f"{what} and losses must be positive"
    means = np.array([y[x == value].mean() for value in distinct])
    change = float((means.max() - means.min()) / means.mean())
    if change < options.flat_tolerance:
        return (
            f"flat: the mean loss changes by {100 * change:.3g}% across {what} (below "
            f"scaling.fits.flat_tolerance, {100 * options.flat_tolerance:.3g}%)"
        )
    return None


def _at_an_edge(form: str, a: float, alpha: float, options: FitOptions, what: str) -> str | None:
    """Why a fitted ``power_plus_constant`` law says nothing (None: it does)."""
    if form != "power_plus_constant":
        return None
    edge = 1e-3 * options.max_alpha
    if a <= 0 or alpha <= edge:
        return f"the loss does not fall with {what} (best exponent 0)"
    if alpha >= options.max_alpha - edge:
        return (
            f"the exponent runs to the edge of its range (scaling.fits.max_alpha = "
            f"{options.max_alpha:g}): the points do not bend enough to separate a power law "
            "from the constant"
        )
    return None


def _bootstrap_interval(
    form: str,
    x: np.ndarray,
    y: np.ndarray,
    distinct: np.ndarray,
    options: FitOptions,
    rng: np.random.Generator,
) -> tuple[tuple[float, float] | None, str | None]:
    """(the exponent's central interval, None) or (None, why there is none). Each bootstrap
    sample redraws, with replacement, the replicates at every x (all samples fitted at once)."""
    groups = [np.flatnonzero(x == value) for value in distinct]
    if options.bootstrap == 0:
        return None, "no interval: scaling.fits.bootstrap is 0"
    if max(len(group) for group in groups) < 2:
        return None, "no interval: one replicate per point, nothing to resample"
    order = np.concatenate(groups)
    picks = np.concatenate(
        [
            group[rng.integers(0, len(group), size=(options.bootstrap, len(group)))]
            for group in groups
        ],
        axis=1,
    )
    with np.errstate(all="ignore"):
        alphas = _exponents(form, x[order], y[picks], options)
    alphas = alphas[np.isfinite(alphas)]
    if len(alphas) < options.bootstrap / 2:
        return None, f"no interval: {options.bootstrap - len(alphas)} bootstrap fits failed"
    tail = (1 - options.interval) / 2
    low, high = np.quantile(alphas, [tail, 1 - tail])
    return (float(low), float(high)), None


# ---- a sweep's fits ------------------------------------------------------------------------------
QUESTION_PREFIX = "test_loss_question/"


def sweep_fits(points: pd.DataFrame, options: FitOptions, seed: int) -> list[dict]:
    """Every fit of a sweep table (one row per point: ``model``, ``parameters``, ``fraction``,
    ``train_images``, ``test_loss``, ``test_loss_question/<q>``, ...):

    - against ``train_images``, per model, for the overall test loss and each question;
    - against ``parameters`` at the largest fraction, for the same targets;

    each in both forms. Records: ``target`` (``test_loss`` or the question), ``against``,
    ``model`` (data fits; None for parameter fits), ``fraction`` (parameter fits), and the fit.
    """
    rng = np.random.default_rng(seed)
    targets = ["test_loss", *[c for c in points.columns if c.startswith(QUESTION_PREFIX)]]
    records = []
    for model, rows in points.groupby("model", sort=True):
        for target in targets:
            for form in FORMS:
                fit = fit_scaling_law(rows["train_images"], rows[target], form, options, rng)
                records.append(_record(target, "train_images", str(model), None, fit))
    largest = points["fraction"].max() if len(points) else None
    full = points[points["fraction"] == largest]
    for target in targets:
        for form in FORMS:
            fit = fit_scaling_law(
                full["parameters"], full[target], form, options, rng, "parameters"
            )
            records.append(_record(target, "parameters", None, largest, fit))
    return records


def _record(target: str, against: str, model, fraction, fit: ScalingFit) -> dict:
    name = target.removeprefix(QUESTION_PREFIX)
    return {
        "target": name,
        "against": against,
        "model": model,
        "fraction": None if fraction is None else float(fraction),
        **fit.as_dict(),
    }


def headline_exponents(fits: list[dict]) -> dict:
    """The overall test loss's exponents (DVC metrics): per model against training images, and
    against parameters; None where the fit is not identifiable."""
    metrics: dict = {"alpha_data": {}, "alpha_parameters": {}}
    for fit in fits:
        if fit["target"] != "test_loss":
            continue
        key = "alpha_data" if fit["against"] == "train_images" else "alpha_parameters"
        where = metrics[key].setdefault(fit["model"] or "all_models", {})
        interval = fit["alpha_interval"]
        where[fit["form"]] = {
            "alpha": fit["alpha"],
            "low": interval[0] if interval else None,
            "high": interval[1] if interval else None,
        }
    return metrics


# ---- figures -------------------------------------------------------------------------------------
_STYLES = {"power": "-", "power_plus_constant": "--"}


def _fit_label(fit: dict) -> str:
    if not fit["identifiable"]:
        return f"{fit['form']}: not identifiable"
    text = f"{fit['form']}: alpha {fit['alpha']:.3g}"
    if fit["alpha_interval"]:
        low, high = fit["alpha_interval"]
        text += f" [{low:.3g}, {high:.3g}]"
    return text


def _draw(axes, x: pd.Series, y: pd.Series, fits: list[dict], colour, label: str) -> None:
    """Mean +- std over replicates at each x, and each identifiable fit as a line."""
    table = pd.DataFrame({"x": x.to_numpy(), "y": y.to_numpy()})
    stats = table.groupby("x")["y"].agg(["mean", "std"]).reset_index()
    axes.errorbar(
        stats["x"],
        stats["mean"],
        yerr=stats["std"].fillna(0.0),
        marker="o",
        linestyle="none",
        capsize=3,
        color=colour,
        label=label,
    )
    line = np.geomspace(stats["x"].min(), stats["x"].max(), 50)
    for fit in fits:
        style = {"color": colour, "label": f"  {_fit_label(fit)}"}
        if fit["identifiable"]:
            law = fit["a"] * line ** (-fit["alpha"]) + (fit["c"] or 0.0)
            axes.plot(line, law, _STYLES[fit["form"]], alpha=0.8, **style)
        else:  # in the legend only, saying so
            axes.plot([], [], _STYLES[fit["form"]], alpha=0.4, **style)


def _axes_style(axes, xlabel: str, title: str) -> None:
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("test loss (Dirichlet-multinomial NLL)")
    axes.set_title(title, fontsize="medium")
    axes.grid(True, which="both", alpha=0.3)


def scaling_figures(points: pd.DataFrame, fits: list[dict]) -> dict[str, Figure]:
    """``loss_vs_data`` (one colour per model), ``loss_vs_parameters`` (at the largest
    fraction) and ``questions_vs_data`` (a panel per question), log-log, with replicate error
    bars and the fitted laws (solid: power, dashed: with a constant)."""
    colours = _colours(sorted(points["model"].unique()))
    figures = {}
    figure = _figure(1)
    axes = figure.axes[0]
    for model, rows in points.groupby("model", sort=True):
        chosen = _fits_for(fits, "test_loss", "train_images", model)
        _draw(axes, rows["train_images"], rows["test_loss"], chosen, colours[model], str(model))
    _axes_style(axes, "training images", "Test loss against training images")
    axes.legend(fontsize="x-small")
    figures["loss_vs_data"] = figure

    figure = _figure(1)
    axes = figure.axes[0]
    largest = points["fraction"].max()
    full = points[points["fraction"] == largest]
    chosen = _fits_for(fits, "test_loss", "parameters", None)
    _draw(axes, full["parameters"], full["test_loss"], chosen, "black", f"fraction {largest:g}")
    for model, rows in full.groupby("model", sort=True):
        where = (rows["parameters"].iloc[0], rows["test_loss"].mean())
        axes.annotate(str(model), where, fontsize="x-small", color=colours[model])
    _axes_style(axes, "parameters", "Test loss against parameters (all training images)")
    axes.legend(fontsize="x-small")
    figures["loss_vs_parameters"] = figure

    questions = [c for c in points.columns if c.startswith(QUESTION_PREFIX)]
    if questions:
        figure = _figure(len(questions))
        for axes, column in zip(figure.axes, questions, strict=False):
            question = column.removeprefix(QUESTION_PREFIX)
            for model, rows in points.groupby("model", sort=True):
                chosen = _fits_for(fits, question, "train_images", model)
                chosen = [fit for fit in chosen if fit["form"] == "power"]
                _draw(axes, rows["train_images"], rows[column], chosen, colours[model], "")
            axes.set_xscale("log")
            axes.set_yscale("log")
            axes.set_title(question, fontsize="x-small")
            axes.tick_params(labelsize="xx-small")
            axes.minorticks_off()
        for axes in figure.axes[len(questions) :]:
            axes.set_visible(False)
        figure.suptitle("Test loss per question against training images (power-law fits)")
        handles = [Line2D([], [], color=colour, marker="o") for colour in colours.values()]
        figure.legend(handles, list(colours), loc="upper right", fontsize="small", ncols=4)
        figures["questions_vs_data"] = figure
    return figures


def _fits_for(fits: list[dict], target: str, against: str, model) -> list[dict]:
    return [
        fit
        for fit in fits
        if fit["target"] == target and fit["against"] == against and fit["model"] == model
    ]


def _colours(models: list) -> dict:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {model: palette(i % 10) for i, model in enumerate(models)}


def _figure(panels: int) -> Figure:
    columns = min(panels, 6)
    rows = -(-panels // columns)
    if panels == 1:
        figure = Figure(figsize=(6.0, 4.0), layout="constrained")
    else:  # fixed spacing: a layout engine over dozens of log axes costs seconds per save
        figure = Figure(figsize=(2.2 * columns, 1.9 * rows + 1.0))
        top = 1 - 1.0 / (1.9 * rows + 1.0)
        figure.subplots_adjust(left=0.05, right=0.98, bottom=0.04, top=top, hspace=0.5)
    FigureCanvasAgg(figure)
    figure.subplots(rows, columns, squeeze=False)
    return figure
