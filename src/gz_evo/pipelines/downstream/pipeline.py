"""Wiring of the ``downstream`` pipeline (no torch here).

embed (features once per task and encoder) -> linear probes; finetuning runs beside them; both
tables -> summary, error reductions, figures, metrics.
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.downstream.nodes import (
    embed_downstream,
    finetune_downstream,
    probe_downstream,
    summarise_downstream,
)

#: the trained encoders compared downstream: the pretraining pipeline's outputs (its main encoder
#: and each variant's; tests/pipelines/downstream checks this against pretraining's VARIANTS)
ENCODER_INPUTS = ("pretrained_encoder", "hybrid.pretrained_encoder")


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                embed_downstream,
                inputs=["downstream_catalog", *ENCODER_INPUTS, "params:downstream", "params:seed"],
                outputs="downstream_features",
                name="embed_downstream",
            ),
            Node(
                probe_downstream,
                inputs=["downstream_features", "params:downstream"],
                outputs="downstream_probe_results",
                name="probe_downstream",
            ),
            Node(
                finetune_downstream,
                inputs=[
                    "downstream_catalog",
                    *ENCODER_INPUTS,
                    "params:downstream",
                    "params:pretraining",
                    "params:seed",
                ],
                outputs="downstream_finetune_results",
                name="finetune_downstream",
            ),
            Node(
                summarise_downstream,
                inputs=[
                    "downstream_probe_results",
                    "downstream_finetune_results",
                    "params:downstream",
                ],
                outputs=[
                    "downstream_results",
                    "downstream_summary",
                    "downstream_error_reductions",
                    "downstream_figures",
                    "downstream_metrics",
                    "downstream_mlflow_metrics",
                    "downstream_mlflow_cells",
                ],
                name="summarise_downstream",
            ),
        ]
    )
