"""Wiring of the ``pretraining`` pipeline (no torch here: ``kedro registry list`` stays light).

fit -> ``pretraining_checkpoint`` -> evaluate (predictions, metrics) and export (encoder).
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.pretraining.nodes import evaluate_model, export_encoder, fit_model

_CONFIG = ["gz_evo_schema", "params:pretraining", "params:images.augment", "params:seed"]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                fit_model,
                inputs=["image_shards", *_CONFIG],
                outputs="pretraining_checkpoint",
                name="fit_model",
            ),
            Node(
                evaluate_model,
                inputs=["pretraining_checkpoint", "image_shards", *_CONFIG],
                outputs=[
                    "pretraining_test_predictions",
                    "pretraining_metrics",
                    "pretraining_mlflow_metrics",
                ],
                name="evaluate_model",
            ),
            Node(
                export_encoder,
                inputs=["pretraining_checkpoint", *_CONFIG, "pretraining_metrics"],
                outputs="pretrained_encoder",
                name="export_encoder",
            ),
        ]
    )
