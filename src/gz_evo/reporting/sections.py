"""Each stage's outputs, or their absence, as one section of the report.

Every function takes what the catalog loaded (None where a stage has not run) plus the names of
the entries that were missing, and returns a :func:`gz_evo.reporting.blocks.section`. Numbers in
tables and figures come from those inputs only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gz_evo.plotting import png_bytes
from gz_evo.reporting import figures
from gz_evo.reporting.blocks import figure, fmt, fmt_pm, heading, section, table, text
from gz_evo.schema import Schema

logger = logging.getLogger(__name__)


def command(stage: str) -> str:
    return f"kedro run --pipelines {stage}"


# ---- GZ-Evo composition ---------------------------------------------------------------------
def composition(summary: Mapping[str, Any] | None) -> dict:
    """The GZ-Evo table (campaigns, galaxies, questions, answers, votes) from ``gz_evo_summary``."""
    title = "The GZ-Evo catalog"
    if summary is None:
        return section("composition", title, "gz_evo", command("gz_evo"), [], ["gz_evo_summary"])
    campaigns = summary["campaigns"]
    total = summary["total"]
    unlabelled = any(v.get("unlabelled_images", 0) for v in campaigns.values())
    columns = ["Campaign", "Galaxies", "Questions", "Answers", "Votes"]
    columns += ["Unlabelled images"] if unlabelled else []
    rows = []
    for name, values in campaigns.items():
        row = [
            name,
            fmt(values["galaxies"]) if values["galaxies"] else "\u2013",
            fmt(values["questions"]) if values["questions"] else "\u2013",
            fmt(values["answers"]) if values["answers"] else "\u2013",
            fmt(values["votes"]) if values["votes"] else "\u2013",
        ]
        rows.append(row + ([fmt(values.get("unlabelled_images", 0))] if unlabelled else []))
    galaxies = fmt(total["galaxies"])
    if total.get("unique_galaxies", total["galaxies"]) != total["galaxies"]:
        galaxies += f" ({fmt(total['unique_galaxies'])} unique)"
    total_row = ["Total", galaxies, fmt(total["questions"]), fmt(total["answers"])]
    total_row += [fmt(total["votes"])]
    rows.append(total_row + ([fmt(total.get("unlabelled_images", 0))] if unlabelled else []))
    splits = summary.get("splits", {})
    split_text = ", ".join(f"{name} {fmt(count)}" for name, count in splits.items())
    blocks = [
        table(columns, rows, caption=f"Schema {summary['schema']}", total_rows=1),
        text(
            f"Every question keeps its campaign suffix; a galaxy carries zero votes for the "
            f"questions its campaign never asked. Labelled galaxies per split: {split_text}."
        ),
    ]
    return section("composition", title, "gz_evo", command("gz_evo"), blocks)


# ---- pretraining ----------------------------------------------------------------------------
def _question_campaigns(schema_dict: Mapping | None) -> dict[str, str]:
    if schema_dict is None:
        return {}
    return {q["name"]: q.get("campaign", "") for q in schema_dict["questions"]}


def pretraining(
    encoders: Mapping[str, Mapping[str, Any]],
    missing: Sequence[str],
    interval: float,
    schema_dict: Mapping | None = None,
    dpi: int = 110,
) -> dict:
    """Headline metrics, training curves, loss per campaign and per question, MAE and coverage.

    ``encoders``: ``{label: {"metrics": dict | None, "history": DataFrame | None}}``.
    """
    title = "Pretraining"
    metrics = {name: e["metrics"] for name, e in encoders.items() if e.get("metrics") is not None}
    if not metrics:
        return section("pretraining", title, "pretraining", command("pretraining"), [], missing)
    columns = ["Encoder", "Test loss", "Uniform", "Val loss", "Vote-fraction MAE"]
    columns += [f"Coverage ({interval:.0%} nominal)", "Epochs", "Best step"]
    rows = [
        [
            name,
            fmt(m.get("test_loss"), 2),
            fmt(m.get("test_uniform_loss"), 2),
            fmt(m.get("val_loss"), 2),
            fmt(m.get("test_mae"), 3),
            fmt(m.get("test_coverage"), 3),
            fmt(m.get("epochs")),
            fmt(m.get("best_global_step")),
        ]
        for name, m in metrics.items()
    ]
    blocks = [
        table(
            columns,
            rows,
            caption="Dirichlet-multinomial loss per test galaxy (lower is better) against "
            "uniform concentrations; vote fractions and intervals on questions with enough votes",
        )
    ]
    histories = {
        name: e["history"]
        for name, e in encoders.items()
        if e.get("history") is not None and not e["history"].empty
    }
    if histories:
        blocks.append(
            figure(
                png_bytes(figures.training_curves(histories), dpi),
                "Per-epoch losses of the fits (pretraining_history)",
            )
        )
    else:
        blocks.append(
            text(
                "No per-epoch history: these encoders were trained before the fit recorded one "
                "(pretraining.workdir/history). Remove the work folder and rerun the stage to "
                "draw the curves."
            )
        )
    blocks.append(
        figure(
            png_bytes(figures.campaign_losses(metrics), dpi),
            "Test loss per campaign; the whole test set at the top",
        )
    )
    blocks.append(
        figure(
            png_bytes(
                figures.question_metrics(metrics, interval, _question_campaigns(schema_dict)),
                dpi,
            ),
            "Per question: test loss, vote-fraction MAE and interval coverage (bands group "
            "each campaign's questions; a calibrated model sits on the dashed line)",
        )
    )
    return section("pretraining", title, "pretraining", command("pretraining"), blocks, missing)


# ---- the model against the volunteers --------------------------------------------------------
def _joined(predictions: pd.DataFrame, votes: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    keep = ["key", "campaign", "image_path", "image_bytes", *schema.answer_columns]
    votes = votes[[c for c in keep if c in votes.columns]]
    return votes.merge(predictions, on="key", how="inner", validate="one_to_one")


def _fractions(joined: pd.DataFrame, question: Any, suffix: str) -> np.ndarray:
    return joined[[f"{c}_{suffix}" for c in question.answer_columns]].to_numpy(float)


def calibration(
    predictions: pd.DataFrame | None,
    votes: pd.DataFrame | None,
    schema_dict: Mapping | None,
    missing: Sequence[str],
    min_votes: int,
    bins: int,
    dpi: int = 110,
) -> dict:
    """Predicted against volunteer vote fractions on the test set, and the error per campaign."""
    title = "Calibration: predicted and volunteer vote fractions"
    if predictions is None or votes is None or schema_dict is None:
        return section("calibration", title, "pretraining", command("pretraining"), [], missing)
    schema = Schema.from_dict(schema_dict)
    joined = _joined(predictions, votes, schema)
    predicted, observed, campaigns = [], [], []
    for question in schema.questions:
        counts = joined[question.answer_columns].to_numpy(float)
        totals = counts.sum(axis=1)
        enough = totals >= min_votes
        if not enough.any():
            continue
        predicted.append(_fractions(joined, question, "fraction")[enough].ravel())
        observed.append((counts[enough] / totals[enough, None]).ravel())
        campaign = joined["campaign"].to_numpy()[enough]
        campaigns.append(np.repeat(campaign, len(question.answers)))
    if not predicted:
        blocks = [text(f"No test galaxy has a question with at least {min_votes} votes.")]
        return section("calibration", title, "pretraining", command("pretraining"), blocks)
    predicted_all, observed_all = np.concatenate(predicted), np.concatenate(observed)
    campaign_all = np.concatenate(campaigns).astype(str)
    error = np.abs(predicted_all - observed_all)
    rows = [
        [c, fmt(int((campaign_all == c).sum())), fmt(float(error[campaign_all == c].mean()), 3)]
        for c in dict.fromkeys(campaign_all.tolist())
    ]
    rows.append(["All", fmt(len(error)), fmt(float(error.mean()), 3)])
    blocks = [
        figure(
            png_bytes(
                figures.calibration(predicted_all, observed_all, campaign_all, bins),
                dpi,
            ),
            f"{fmt(len(joined))} test galaxies; every answer of every question with at least "
            f"{min_votes} votes",
        ),
        table(
            ["Campaign", "Answers compared", "Mean |predicted - volunteer|"],
            rows,
            caption="Vote-fraction error on the test set",
            total_rows=1,
        ),
    ]
    return section("calibration", title, "pretraining", command("pretraining"), blocks, missing)


def _example(row: pd.Series, schema: Schema, campaign: str, n_questions: int) -> dict:
    questions = []
    for question in schema.campaign_questions(campaign):
        counts = row[question.answer_columns].to_numpy(float)
        if counts.sum() > 0:
            questions.append((counts.sum(), question, counts))
    chosen = sorted(questions, key=lambda item: -item[0])[:n_questions]
    shown = []
    for total, question, counts in chosen:
        values = {
            suffix: [float(row[f"{c}_{suffix}"]) for c in question.answer_columns]
            for suffix in ("fraction", "lower", "upper")
        }
        shown.append(
            {
                "name": question.base_name,
                "votes": int(total),
                "answers": list(question.answers),
                "observed": (counts / total).tolist(),
                "predicted": values["fraction"],
                "lower": values["lower"],
                "upper": values["upper"],
            }
        )
    return {"id": str(row["key"]).split("/", 1)[-1], "questions": shown}


def _image(row: pd.Series, size: int, image_root: str) -> np.ndarray | None:
    from gz_evo.images.decode import BadImage, load_galaxy

    raw = row.get("image_bytes")
    data = raw if isinstance(raw, bytes | bytearray) else None
    path = row.get("image_path")
    path = path if isinstance(path, str) and path else None
    try:
        return load_galaxy(path, data, size, root=Path(image_root))
    except (BadImage, OSError, ValueError) as error:
        logger.warning("report: no image for %s (%s)", row["key"], error)
        return None


def _diverse(rows: pd.DataFrame, question: Any, n: int, rng: np.random.Generator) -> list[int]:
    """Positions of ``n`` rows drawn at random, taking turns between the volunteers' majority
    answers to ``question`` (a smooth galaxy, a featured one, ...), most common answer first."""
    majority = rows[question.answer_columns].to_numpy().argmax(axis=1)
    answers, counts = np.unique(majority, return_counts=True)
    pools = [
        list(rng.permutation(np.flatnonzero(majority == answer)))
        for answer in answers[np.argsort(-counts, kind="stable")]
    ]
    picked: list[int] = []
    while len(picked) < min(n, len(rows)):
        for pool in pools:
            if pool and len(picked) < n:
                picked.append(int(pool.pop(0)))
    return picked


def examples(
    predictions: pd.DataFrame | None,
    votes: pd.DataFrame | None,
    schema_dict: Mapping | None,
    missing: Sequence[str],
    per_campaign: int,
    n_questions: int,
    image_size: int,
    image_root: str,
    min_votes: int,
    interval: float,
    seed: int,
    dpi: int = 110,
) -> dict:
    """A few test galaxies of each campaign: image, volunteers' and predicted vote fractions."""
    title = "Example galaxies"
    if predictions is None or votes is None or schema_dict is None:
        return section("examples", title, "pretraining", command("pretraining"), [], missing)
    schema = Schema.from_dict(schema_dict)
    joined = _joined(predictions, votes, schema)
    rng = np.random.default_rng(seed)
    blocks = []
    for campaign in schema.campaigns:
        rows = joined[joined["campaign"] == campaign]
        first = schema.campaign_questions(campaign)[0]
        rows = rows[rows[first.answer_columns].sum(axis=1) >= min_votes]
        if rows.empty:
            continue
        shown = []
        for _, row in rows.iloc[_diverse(rows, first, per_campaign, rng)].iterrows():
            example = _example(row, schema, campaign, n_questions)
            example["image"] = _image(row, image_size, image_root)
            shown.append(example)
        blocks.append(heading(campaign))
        blocks.append(
            figure(
                png_bytes(figures.example_galaxies(shown, interval), dpi),
                f"{campaign}: test galaxies drawn at random (seed {seed}) among those with at "
                f"least {min_votes} votes on {first.name}, one per majority answer in turn; "
                f"bars: the volunteers' vote fractions; points: the model's predicted "
                f"fractions with {interval:.0%} intervals",
            )
        )
    if not blocks:
        blocks = [text(f"No test galaxy has at least {min_votes} votes on its first question.")]
    return section("examples", title, "pretraining", command("pretraining"), blocks, missing)


# ---- scaling --------------------------------------------------------------------------------
def _exponent(fit: Mapping[str, Any]) -> str:
    if not fit.get("identifiable") or fit.get("alpha") is None:
        return "not identifiable"
    interval = fit.get("alpha_interval")
    text_ = fmt(fit["alpha"], 3)
    return f"{text_} [{fmt(interval[0], 3)}, {fmt(interval[1], 3)}]" if interval else text_


def _fit_rows(fits: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for fit in fits:
        if fit["against"] == "train_images":
            where = f"training images, model {fit.get('model')}"
        else:
            fraction = fit.get("fraction")
            where = "parameters" + ("" if fraction is None else f", fraction {fraction:g}")
        rows.append(
            [
                where,
                str(fit["form"]).replace("_", " "),
                _exponent(fit),
                fmt(fit.get("a"), 3),
                fmt(fit.get("c"), 3),
                fmt(fit.get("n_points")),
                str(fit.get("reason") or ""),
            ]
        )
    return rows


def _question_exponents(fits: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Per question, the power law's exponent against training images for each model."""
    chosen = [
        f
        for f in fits
        if f["target"] != "test_loss" and f["against"] == "train_images" and f["form"] == "power"
    ]
    models = list(dict.fromkeys(str(f.get("model")) for f in chosen))
    cells: dict[str, dict[str, str]] = {}
    for fit in chosen:
        cells.setdefault(fit["target"], {})[str(fit.get("model"))] = _exponent(fit)
    rows = [[q, *(by_model.get(m, "\u2013") for m in models)] for q, by_model in cells.items()]
    return ["Question", *(f"alpha, model {m}" for m in models)], rows


def scaling(
    points: pd.DataFrame | None,
    fits: Mapping[str, Any] | None,
    scaling_figures: Mapping[str, str] | None,
    missing: Sequence[str],
) -> dict:
    """The sweep's points, the fitted exponents with their intervals, the scaling plots.

    ``fits``: the scaling pipeline's ``{"interval": 0.9, "fits": [{"target", "against",
    "model", "fraction", "form", "identifiable", "reason", "a", "alpha", "c",
    "alpha_interval", "n_points", "n_x"}, ...]}``.
    """
    title = "Scaling"
    blocks: list[dict] = []
    if points is not None and not points.empty:
        group = [c for c in ("model", "parameters", "fraction", "train_images") if c in points]
        order = [c for c in ("parameters", "fraction", "train_images", "model") if c in group]
        summary = (
            points.groupby(group, sort=False, dropna=False)["test_loss"]
            .agg(["mean", "std", "count"])
            .reset_index()
            .sort_values(order, kind="stable")
        )
        rows = [
            [
                *(f"{float(r[c]):g}" if c == "fraction" else fmt(r[c]) for c in group),
                fmt_pm(r["mean"], r["std"], 3),
                fmt(int(r["count"])),
            ]
            for _, r in summary.iterrows()
        ]
        columns = [c.replace("_", " ").capitalize() for c in group]
        blocks.append(
            table(
                [*columns, "Test loss", "Replicates"],
                rows,
                caption=f"{fmt(len(points))} sweep points: test loss per galaxy, mean \u00b1 "
                "std over replicates",
            )
        )
    if fits is not None:
        every = fits.get("fits", [])
        level = fits.get("interval")
        interval_text = f"{level:.0%} bootstrap intervals" if level else "bootstrap intervals"
        overall = [f for f in every if f["target"] == "test_loss"]
        blocks.append(
            table(
                ["Against", "Form", "Exponent alpha", "a", "c", "Points", "Note"],
                _fit_rows(overall),
                caption=f"Overall test loss: L = a x^-alpha (power) and L = a x^-alpha + c; "
                f"exponents with {interval_text} over replicates",
            )
        )
        columns, rows = _question_exponents(every)
        if rows:
            blocks.append(
                table(
                    columns,
                    rows,
                    caption=f"Per question: the power law's exponent against training images "
                    f"({interval_text})",
                    collapsed=True,
                )
            )
    for name, path in (scaling_figures or {}).items():
        blocks.append(figure(Path(path).read_bytes(), name.replace("_", " ")))
    return section("scaling", title, "scaling", command("scaling"), blocks, missing)


# ---- downstream -----------------------------------------------------------------------------
def _full_budget(rows: pd.DataFrame) -> pd.DataFrame:
    """Each protocol's rows at its largest label budget (every training galaxy)."""
    largest = rows.groupby("protocol")["budget"].transform("max")
    return rows[rows["budget"] == largest]


def downstream(
    summary: pd.DataFrame | None,
    reductions: pd.DataFrame | None,
    tasks: Mapping[str, Mapping[str, Any]],
    missing: Sequence[str],
    dpi: int = 110,
) -> dict:
    """Per task: error with every label, relative error reductions against each baseline, the
    label-efficiency curve; tasks configured but absent from the results are named."""
    from gz_evo.evaluation.transfer import label_efficiency_figure

    title = "Downstream transfer"
    if summary is None:
        return section("downstream", title, "downstream", command("downstream"), [], missing)
    blocks: list[dict] = []
    present = list(dict.fromkeys(summary["task"]))
    order = [t for t in tasks if t in present] + [t for t in present if t not in tasks]
    for task in order:
        rows = _full_budget(summary[summary["task"] == task])
        kind = tasks.get(task, {}).get("kind", "")
        baselines = []
        if reductions is not None:
            baselines = sorted(set(reductions.loc[reductions["task"] == task, "baseline"]))
        columns = ["Encoder", "Protocol", "Galaxies", "Seeds", "Test error"]
        has_auc = "roc_auc_mean" in rows and rows["roc_auc_mean"].notna().any()
        columns += ["ROC AUC"] if has_auc else []
        columns += [f"Error reduction vs {b}" for b in baselines]
        body = []
        for _, r in rows.sort_values(["protocol", "error_mean"]).iterrows():
            cells = [r["encoder"], r["protocol"], fmt(int(r["budget"])), fmt(int(r["n"]))]
            cells.append(fmt_pm(r["error_mean"], r["error_std"], 3))
            if has_auc:
                cells.append(fmt_pm(r["roc_auc_mean"], r.get("roc_auc_std"), 3))
            for baseline in baselines:
                match = reductions[
                    (reductions["task"] == task)
                    & (reductions["protocol"] == r["protocol"])
                    & (reductions["budget"] == r["budget"])
                    & (reductions["encoder"] == r["encoder"])
                    & (reductions["baseline"] == baseline)
                ]["relative_error_reduction"]
                cells.append(f"{match.iloc[0]:+.1%}" if len(match) else "\u2013")
            body.append(cells)
        blocks.append(heading(f"{task} ({kind})" if kind else task))
        blocks.append(
            table(
                columns,
                body,
                caption="Every training galaxy: test error (1 - accuracy, or MAE) as mean "
                "\u00b1 std over seeds; relative error reduction 1 - error / baseline error",
            )
        )
        blocks.append(
            figure(
                png_bytes(label_efficiency_figure(summary, task), dpi),
                f"Label efficiency on {task}",
            )
        )
    absent = [t for t in tasks if t not in present]
    for task in absent:
        requires = tasks[task].get("requires")
        reason = f"it needs {requires}, which was not there" if requires else "no results"
        blocks.append(text(f"Task {task} did not run: {reason}."))
    return section("downstream", title, "downstream", command("downstream"), blocks, missing)
