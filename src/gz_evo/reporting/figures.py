"""The report's figures, drawn in the project's style (:mod:`gz_evo.plotting`).

Each function takes plain tables / dicts read from the stages' outputs and returns a matplotlib
``Figure`` (object API, Agg canvas, no pyplot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from gz_evo.plotting import PALETTE, REFERENCE, new_figure, styled

MARKERS = ("o", "s", "D", "^", "v", "P")
VOLUNTEERS = "#9ecae1"  # the volunteers' bars, behind the model's points


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _campaign_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per campaign, the same in every figure (by name; the encoders' blue and
    orange and the faint yellow left out)."""
    colours = [c for c in PALETTE if c not in (PALETTE[0], PALETTE[1], "#F0E442")]
    return {name: colours[i % len(colours)] for i, name in enumerate(sorted(set(names)))}


def _metric_columns(history: pd.DataFrame, prefix: str) -> dict[str, str]:
    """``{"dr5": "val/loss_campaign/dr5", ...}`` for columns starting with ``prefix``."""
    return {c.removeprefix(prefix): c for c in history.columns if c.startswith(prefix)}


@styled
def training_curves(histories: Mapping[str, pd.DataFrame]) -> Any:
    """Per-epoch Dirichlet loss (train dashed, validation solid) for every encoder; validation
    loss per campaign of the first encoder; kNN accuracy of the frozen encoders when monitored.
    """
    histories = {name: table for name, table in histories.items() if not table.empty}
    first_name, first = next(iter(histories.items()))
    campaigns = _metric_columns(first, "val/loss_campaign/")
    knn = sorted({c for table in histories.values() for c in table if c.startswith("knn/")})
    panels = 1 + bool(campaigns) + bool(knn)
    figure = new_figure(3.6 * panels + 0.6, 3.3)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    panel = iter(axes)

    ax = next(panel)
    for index, (name, table) in enumerate(histories.items()):
        epoch = table["epoch"] + 1
        if "train/loss" in table:
            ax.plot(epoch, table["train/loss"], ls="--", color=_colour(index), alpha=0.8)
        if "val/loss" in table:
            ax.plot(epoch, table["val/loss"], marker="o", color=_colour(index), label=name)
    ax.plot([], [], ls="--", color=REFERENCE, label="training (dashed)")
    ax.set(xlabel="epoch", ylabel="loss per galaxy", title="Dirichlet loss")
    ax.legend()

    if campaigns:
        ax = next(panel)
        colours = _campaign_colours(list(campaigns))
        for campaign, column in campaigns.items():
            ax.plot(
                first["epoch"] + 1,
                first[column],
                marker="o",
                color=colours[campaign],
                label=campaign,
            )
        ax.set(xlabel="epoch", ylabel="loss per galaxy", title=f"Validation loss ({first_name})")
        ax.legend(ncols=2)

    if knn:
        ax = next(panel)
        styles = ("-", ":", "-.", "--")
        for index, (name, table) in enumerate(histories.items()):
            for order, column in enumerate(knn):
                if column in table and table[column].notna().any():
                    label = f"{name}: {column.removeprefix('knn/')}"
                    ax.plot(
                        table["epoch"] + 1,
                        table[column],
                        ls=styles[order % len(styles)],
                        marker=MARKERS[index % len(MARKERS)],
                        color=_colour(index),
                        label=label,
                    )
        ax.set(xlabel="epoch", ylabel="accuracy", title="kNN accuracy, frozen encoder")
        ax.legend()
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


@styled
def campaign_losses(metrics: Mapping[str, Mapping[str, Any]]) -> Any:
    """Test loss per campaign (and over the whole test set) for every encoder, with the loss of
    uniform concentrations over the whole test set for comparison."""
    campaigns: list[str] = []
    for values in metrics.values():
        campaigns += [c for c in values.get("test_loss_per_campaign", {}) if c not in campaigns]
    groups = ["all", *campaigns]
    width = 0.8 / max(len(metrics), 1)
    figure = new_figure(6.4, 0.45 * len(groups) * max(len(metrics), 1) ** 0.5 + 1.2)
    ax = figure.add_subplot()
    positions = np.arange(len(groups))[::-1]
    for index, (name, values) in enumerate(metrics.items()):
        per_campaign = values.get("test_loss_per_campaign", {})
        numbers = [
            values.get("test_loss", np.nan),
            *(per_campaign.get(c, np.nan) for c in groups[1:]),
        ]
        y = positions + (len(metrics) - 1) / 2 * width - index * width
        bars = ax.barh(y, numbers, height=width * 0.9, color=_colour(index), label=name)
        ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=7.5)
    uniform = [v.get("test_uniform_loss") for v in metrics.values() if "test_uniform_loss" in v]
    if uniform:
        ax.plot(
            uniform[0],
            positions[0],
            marker="|",
            ms=18,
            mew=2,
            color="black",
            ls="none",
            label="uniform concentrations",
        )
    ax.set_yticks(positions, groups)
    ax.set(xlabel="test loss per galaxy (lower is better)", title="Test loss per campaign")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.12)
    figure.legend(loc="outside upper right", ncols=len(metrics) + bool(uniform))
    return figure


@styled
def question_metrics(
    metrics: Mapping[str, Mapping[str, Any]],
    nominal: float,
    question_campaigns: Mapping[str, str] | None = None,
) -> Any:
    """Per question: test loss, vote-fraction MAE and coverage of the nominal intervals (a
    calibrated model sits on the dashed line), one marker per encoder."""
    keys = (
        ("test_loss_per_question", "test loss per galaxy"),
        ("test_mae_per_question", "vote-fraction MAE"),
        ("test_coverage_per_question", f"coverage of {nominal:.0%} intervals"),
    )
    questions: list[str] = []
    for values in metrics.values():
        for key, _ in keys:
            questions += [q for q in values.get(key, {}) if q not in questions]
    y = np.arange(len(questions))[::-1]
    figure = new_figure(9.6, 0.19 * len(questions) + 1.3)
    axes = figure.subplots(1, len(keys), sharey=True)
    campaigns = [(question_campaigns or {}).get(q, "") for q in questions]
    for ax in axes:  # light bands group each campaign's questions
        shade, start = False, 0
        for index in range(1, len(questions) + 1):
            if index == len(questions) or campaigns[index] != campaigns[start]:
                if shade:
                    ax.axhspan(y[index - 1] - 0.5, y[start] + 0.5, color="#f2f2f2", zorder=0)
                shade, start = not shade, index
    for index, (name, values) in enumerate(metrics.items()):
        for ax, (key, _) in zip(axes, keys, strict=True):
            numbers = np.array([values.get(key, {}).get(q, np.nan) for q in questions], float)
            ax.plot(
                numbers,
                y,
                ls="none",
                marker=MARKERS[index % len(MARKERS)],
                color=_colour(index),
                label=name,
                alpha=0.9,
            )
    for ax, (_, label) in zip(axes, keys, strict=True):
        ax.set_xlabel(label)
        ax.grid(axis="y", visible=False)
    axes[2].axvline(nominal, color=REFERENCE, ls="--", lw=1)
    axes[2].set_xlim(min(0.5, axes[2].get_xlim()[0]), 1.02)
    axes[0].set_yticks(y, questions, fontsize=7.5)
    axes[0].set_ylim(-0.7, len(questions) - 0.3)
    figure.suptitle("Per question", x=0.01, ha="left", fontweight="bold", fontsize=10.5)
    if len(metrics) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside upper right", ncols=len(metrics))
    return figure


@styled
def calibration(
    predicted: np.ndarray,
    observed: np.ndarray,
    campaigns: np.ndarray,
    bins: int,
) -> Any:
    """Predicted against volunteer vote fractions (one point per answer of a test galaxy's
    question): density, mean per bin, and the absolute error per campaign."""
    figure = new_figure(9.6, 3.9)
    left, right = figure.subplots(1, 2, width_ratios=(1.05, 1))
    left.hexbin(
        predicted,
        observed,
        gridsize=28,
        extent=(0, 1, 0, 1),
        bins="log",
        cmap="Blues",
        mincnt=1,
        linewidths=0,
    )
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(predicted, edges) - 1, 0, bins - 1)
    centres, means, errors = [], [], []
    for b in range(bins):
        inside = which == b
        if inside.sum() >= 2:
            centres.append(predicted[inside].mean())
            means.append(observed[inside].mean())
            errors.append(observed[inside].std() / np.sqrt(inside.sum()))
    left.plot([0, 1], [0, 1], color=REFERENCE, ls="--", lw=1, label="perfect calibration")
    left.errorbar(
        centres,
        means,
        yerr=errors,
        marker="o",
        color=PALETTE[3],
        label=f"mean per bin ({bins} bins)",
    )
    left.set(
        xlim=(0, 1),
        ylim=(0, 1),
        aspect="equal",
        xlabel="predicted vote fraction",
        ylabel="volunteer vote fraction",
        title="Vote fractions",
    )
    left.legend(loc="upper left")

    names = list(dict.fromkeys(campaigns.tolist()))
    errors_by_campaign = [np.abs(predicted - observed)[campaigns == c] for c in names]
    parts = right.boxplot(
        errors_by_campaign,
        orientation="horizontal",
        tick_labels=names,
        showfliers=False,
        patch_artist=True,
        widths=0.6,
    )
    colours = _campaign_colours(names)
    for name, box in zip(names, parts["boxes"], strict=True):
        box.set(facecolor=colours[name], alpha=0.35, edgecolor=colours[name])
    for median in parts["medians"]:
        median.set(color="black")
    for index, values in enumerate(errors_by_campaign):
        right.plot(values.mean(), index + 1, marker="D", color="black", ms=4)
    right.plot([], [], marker="D", color="black", ls="none", ms=4, label="mean")
    right.invert_yaxis()
    right.set(
        xlabel="|predicted - volunteer| vote fraction",
        xlim=(0, None),
        title="Absolute error per campaign",
    )
    right.grid(axis="y", visible=False)
    right.legend(loc="lower right")
    return figure


@styled
def example_galaxies(examples: Sequence[Mapping[str, Any]], interval: float) -> Any:
    """One row per galaxy: its image, then its most-answered questions with the volunteers'
    vote fractions (bars) and the model's predicted fractions with their intervals."""
    n_questions = max((len(e["questions"]) for e in examples), default=1)
    answers = max((len(q["answers"]) for e in examples for q in e["questions"]), default=2)
    row_height = max(1.9, 0.28 * answers + 0.7)
    figure = new_figure(1.9 + 2.8 * n_questions, row_height * len(examples) + 0.4)
    grid = figure.subplots(
        len(examples), 1 + n_questions, squeeze=False, width_ratios=(0.8, *[1] * n_questions)
    )
    for row, example in zip(grid, examples, strict=True):
        image_ax = row[0]
        image_ax.set_axis_off()
        if example.get("image") is not None:
            image_ax.imshow(example["image"])
        else:
            image_ax.text(
                0.5,
                0.5,
                "image\nunavailable",
                ha="center",
                va="center",
                color=REFERENCE,
                transform=image_ax.transAxes,
            )
        image_ax.set_title(example["id"], fontsize=7.5, loc="center", fontweight="normal")
        for ax, question in zip(row[1:], example["questions"], strict=False):
            y = np.arange(len(question["answers"]))[::-1]
            ax.barh(y, question["observed"], color=VOLUNTEERS, height=0.7, label="volunteers")
            predicted = np.asarray(question["predicted"])
            low = predicted - np.asarray(question["lower"])
            high = np.asarray(question["upper"]) - predicted
            ax.errorbar(
                predicted,
                y,
                xerr=[low, high],
                ls="none",
                marker="o",
                color=PALETTE[0],
                label=f"model ({interval:.0%} interval)",
            )
            ax.set_yticks(y, question["answers"], fontsize=7.5)
            ax.set_xlim(0, 1)
            ax.set_ylim(-0.6, len(y) - 0.4)
            ax.grid(axis="y", visible=False)
            ax.set_title(f"{question['name']}  \u00b7  {question['votes']} votes", fontsize=8.5)
        for ax in row[1 + len(example["questions"]) :]:
            ax.set_axis_off()
    handles, labels = grid[0][1].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper right", ncols=2)
    return figure
