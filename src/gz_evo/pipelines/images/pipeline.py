"""Wiring of the ``images`` pipeline."""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.images.nodes import accept_image_shards, write_image_shards


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                write_image_shards,
                inputs=[
                    "gz_evo_catalog",
                    "gz_evo_unlabelled",
                    "gz_evo_schema",
                    "params:images",
                    "params:seed",
                ],
                outputs=[
                    "images_staged_shards",
                    "images_bad_report",
                    "images_metrics",
                    "images_mlflow_metrics",
                ],
                name="write_image_shards",
            ),
            Node(
                accept_image_shards,
                inputs=[
                    "images_staged_shards",
                    "images_bad_report",
                    "params:images.max_bad_fraction",
                ],
                outputs="image_shards",
                name="accept_image_shards",
            ),
        ]
    )
