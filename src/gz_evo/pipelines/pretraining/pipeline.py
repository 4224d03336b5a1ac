"""Wiring of the ``pretraining`` pipeline (no torch here: ``kedro registry list`` stays light)."""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.pretraining.nodes import pretrain_gz_evo


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                pretrain_gz_evo,
                inputs=[
                    "image_shards",
                    "gz_evo_schema",
                    "params:pretraining",
                    "params:images.augment",
                    "params:seed",
                ],
                outputs=[
                    "pretraining_checkpoint",
                    "pretrained_encoder",
                    "pretraining_test_predictions",
                    "pretraining_metrics",
                    "pretraining_mlflow_metrics",
                ],
                name="pretrain_gz_evo",
            )
        ]
    )
