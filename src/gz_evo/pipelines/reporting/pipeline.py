"""Wiring of the ``reporting`` pipeline (no torch, no matplotlib here).

One node per section, then ``render_report``. Each section reads its stage's outputs under their
own catalog names, so the report runs after every stage of the default run; those entries are
``gz_evo.datasets.optional.OptionalDataset`` wrappers, which load as None when a stage has not
run (``kedro run --pipelines reporting`` reports whatever exists and names what is missing).
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.reporting.nodes import (
    render_report,
    report_calibration,
    report_composition,
    report_downstream,
    report_examples,
    report_pretraining,
    report_scaling,
)

#: the pretraining pipeline's encoders by catalog prefix: the main encoder ("") and each
#: variant ("hybrid."); tests/pipelines/reporting checks it against pretraining's VARIANTS
ENCODER_PREFIXES: tuple[str, ...] = ("", "hybrid.")

SECTIONS = ("composition", "pretraining", "examples", "calibration", "scaling", "downstream")


def _pretraining_outputs() -> dict[str, str]:
    names = [
        f"{prefix}pretraining_{kind}"
        for prefix in ENCODER_PREFIXES
        for kind in ("metrics", "history")
    ]
    # keyword arguments cannot hold dots: hybrid.pretraining_metrics -> hybrid__pretraining_...
    return {name.replace(".", "__"): name for name in names}


def create_pipeline(**kwargs) -> Pipeline:
    volunteers = {
        "predictions": "pretraining_test_predictions",
        "votes": "reporting_test_votes",
        "schema_dict": "reporting_schema",
        "pretraining": "params:pretraining",
        "reporting": "params:reporting",
    }
    return Pipeline(
        [
            Node(
                report_composition,
                inputs="gz_evo_summary",
                outputs="report_section_composition",
                name="report_composition",
            ),
            Node(
                report_pretraining,
                inputs={
                    "pretraining": "params:pretraining",
                    "reporting": "params:reporting",
                    "schema_dict": "reporting_schema",
                    **_pretraining_outputs(),
                },
                outputs="report_section_pretraining",
                name="report_pretraining",
            ),
            Node(
                report_examples,
                inputs={
                    **volunteers,
                    "image_root": "params:images.image_root",
                    "seed": "params:seed",
                },
                outputs="report_section_examples",
                name="report_examples",
            ),
            Node(
                report_calibration,
                inputs=volunteers,
                outputs="report_section_calibration",
                name="report_calibration",
            ),
            Node(
                report_scaling,
                inputs=["scaling_points", "scaling_fits", "scaling_figures"],
                outputs="report_section_scaling",
                name="report_scaling",
            ),
            Node(
                report_downstream,
                inputs=[
                    "downstream_summary",
                    "downstream_error_reductions",
                    "params:downstream.tasks",
                    "params:reporting",
                ],
                outputs="report_section_downstream",
                name="report_downstream",
            ),
            Node(
                render_report,
                inputs=["params:reporting", *(f"report_section_{s}" for s in SECTIONS)],
                outputs="report_html",
                name="render_report",
            ),
        ]
    )
