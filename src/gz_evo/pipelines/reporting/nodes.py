"""Thin nodes: each turns one stage's outputs (None where the stage has not run) into a section
of the report (:mod:`gz_evo.reporting.sections`); ``render_report`` writes the page.

Missing inputs are named by their catalog entries, so the page says what to run.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gz_evo.reporting.config import ReportingConfig

#: read-only views of upstream files the report also needs (the test split of the catalog, the
#: schema) -> the entries that write those files (named when missing). The report depends on
#: them through pretraining_test_predictions, which is made from both.
VIEWS = {"reporting_test_votes": "gz_evo_catalog", "reporting_schema": "gz_evo_schema"}


def _missing(named: dict[str, Any], views: dict[str, str] | None = None) -> list[str]:
    """Catalog names of the inputs that loaded as None (a view is named by what it views)."""
    return [(views or {}).get(name, name) for name, value in named.items() if value is None]


def report_composition(summary: dict | None) -> dict:
    from gz_evo.reporting import sections

    return sections.composition(summary)


def report_pretraining(
    pretraining: dict,
    reporting: dict,
    schema_dict: dict | None,
    **outputs: Any,
) -> dict:
    """``outputs``: ``[<variant>__]pretraining_{metrics,history}`` for every encoder; the main
    encoder is labelled by its method, a variant by its name."""
    from gz_evo.reporting import sections

    config = ReportingConfig.from_params(reporting)
    encoders: dict[str, dict[str, Any]] = {}
    named = {}
    for argument, value in outputs.items():
        prefix, _, kind = argument.rpartition("pretraining_")
        variant = prefix.removesuffix("__")
        label = variant or pretraining["method"]
        encoders.setdefault(label, {})[kind] = value
        named[argument.replace("__", ".")] = value
    named["reporting_schema"] = schema_dict
    return sections.pretraining(
        encoders,
        _missing(named, VIEWS),
        pretraining["evaluation"]["interval"],
        schema_dict,
        config.figure_dpi,
    )


def report_examples(
    predictions: pd.DataFrame | None,
    votes: pd.DataFrame | None,
    schema_dict: dict | None,
    pretraining: dict,
    reporting: dict,
    image_root: str,
    seed: int,
) -> dict:
    from gz_evo.reporting import sections

    config = ReportingConfig.from_params(reporting)
    named = {
        "pretraining_test_predictions": predictions,
        "reporting_test_votes": votes,
        "reporting_schema": schema_dict,
    }
    return sections.examples(
        predictions,
        votes,
        schema_dict,
        _missing(named, VIEWS),
        per_campaign=config.examples_per_campaign,
        n_questions=config.example_questions,
        image_size=config.example_image_size,
        image_root=image_root,
        min_votes=pretraining["evaluation"]["min_votes"],
        interval=pretraining["evaluation"]["interval"],
        seed=seed,
        dpi=config.figure_dpi,
    )


def report_calibration(
    predictions: pd.DataFrame | None,
    votes: pd.DataFrame | None,
    schema_dict: dict | None,
    pretraining: dict,
    reporting: dict,
) -> dict:
    from gz_evo.reporting import sections

    config = ReportingConfig.from_params(reporting)
    named = {
        "pretraining_test_predictions": predictions,
        "reporting_test_votes": votes,
        "reporting_schema": schema_dict,
    }
    return sections.calibration(
        predictions,
        votes,
        schema_dict,
        _missing(named, VIEWS),
        min_votes=pretraining["evaluation"]["min_votes"],
        bins=config.calibration_bins,
        dpi=config.figure_dpi,
    )


def report_scaling(points: pd.DataFrame | None, fits: Any, figures: dict[str, str] | None) -> dict:
    from gz_evo.reporting import sections

    named = {"scaling_points": points, "scaling_fits": fits, "scaling_figures": figures}
    return sections.scaling(points, fits, figures, _missing(named))


def report_downstream(
    summary: pd.DataFrame | None,
    reductions: pd.DataFrame | None,
    tasks: dict,
    reporting: dict,
) -> dict:
    from gz_evo.reporting import sections

    config = ReportingConfig.from_params(reporting)
    named = {"downstream_summary": summary, "downstream_error_reductions": reductions}
    return sections.downstream(summary, reductions, tasks, _missing(named), config.figure_dpi)


def render_report(reporting: dict, *sections: dict) -> str:
    """The HTML page, sections in the pipeline's order."""
    from gz_evo.reporting.render import render

    config = ReportingConfig.from_params(reporting)
    ran = sum(s["status"] == "ran" for s in sections)
    subtitle = f"{ran} of {len(sections)} sections complete"
    return render(sections, config.title, subtitle)
