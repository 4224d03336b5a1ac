"""Wiring of the ``finetune`` pipeline (no torch here). Not part of ``__default__``: it needs a
user's catalog (``kedro run --pipelines finetune --params "finetune.catalog=...,..."``)."""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.finetune.nodes import finetune_catalog

OUTPUTS = ("finetuned_model", "finetune_metrics", "finetune_calibration", "finetune_predictions")


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                finetune_catalog,
                inputs=["params:finetune", "params:pretraining", "params:seed"],
                outputs=list(OUTPUTS),
                name="finetune_catalog",
            )
        ]
    )
