"""Wiring of the ``predict`` pipeline (no torch here).

The ``@optional`` inputs are the ingested demo tables and the pretraining pipeline's encoder
through Kedro's transcoding: the default run orders this pipeline after the ones that write
them, and a run on a user's catalog and encoder (``--params``) does not need them to exist.
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.predict.nodes import draw_prediction_gallery, predict_galaxies

SOURCES = ["unlabelled_images@optional", "downstream_catalog@optional"]
ENCODER = "pretrained_encoder@optional"


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                predict_galaxies,
                inputs=[*SOURCES, ENCODER, "params:predict", "params:seed"],
                outputs="predictions",
                name="predict_galaxies",
            ),
            Node(
                draw_prediction_gallery,
                inputs=["predictions", *SOURCES, ENCODER, "params:predict", "params:seed"],
                outputs=["predict_gallery", "predict_metrics"],
                name="draw_prediction_gallery",
            ),
        ]
    )
