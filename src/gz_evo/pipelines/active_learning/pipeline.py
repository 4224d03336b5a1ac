"""Wiring of the ``active_learning`` pipeline (no torch here).

embed the pool once -> the simulated volunteers' votes -> rounds of acquisition (BALD, random)
-> summary table, learning-curve figure, metrics.
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.active_learning.nodes import (
    ask_volunteers,
    embed_pool,
    run_acquisitions,
    summarise_active_learning,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                embed_pool,
                inputs=[
                    "pretrained_encoder",
                    "unlabelled_images",
                    "downstream_catalog",
                    "params:active_learning",
                ],
                outputs="active_learning_pool",
                name="embed_active_learning_pool",
            ),
            Node(
                ask_volunteers,
                inputs=[
                    "active_learning_pool",
                    "demo_truth",
                    "params:active_learning",
                    "params:demo.volunteers",
                    "params:seed",
                ],
                outputs="active_learning_votes",
                name="ask_active_learning_volunteers",
            ),
            Node(
                run_acquisitions,
                inputs=[
                    "active_learning_pool",
                    "active_learning_votes",
                    "demo_truth",
                    "params:active_learning",
                    "params:demo.volunteers",
                    "params:seed",
                ],
                outputs="active_learning_results",
                name="run_active_learning",
            ),
            Node(
                summarise_active_learning,
                inputs="active_learning_results",
                outputs=[
                    "active_learning_summary",
                    "active_learning_figures",
                    "active_learning_metrics",
                    "active_learning_mlflow_metrics",
                ],
                name="summarise_active_learning",
            ),
        ]
    )
