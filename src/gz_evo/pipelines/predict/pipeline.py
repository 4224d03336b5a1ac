"""Wiring of the ``predict`` pipeline (no torch here).

The catalog is read from the paths in ``predict.catalog`` (by default the ingested demo table);
the ``pretrained_encoder`` input orders the default run after pretraining, hence after the
ingestion that wrote the demo tables.
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.predict.nodes import draw_prediction_gallery, predict_galaxies

ENCODER = "pretrained_encoder"


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                predict_galaxies,
                inputs=[ENCODER, "params:predict", "params:seed"],
                outputs="predictions",
                name="predict_galaxies",
            ),
            Node(
                draw_prediction_gallery,
                inputs=["predictions", ENCODER, "params:predict", "params:seed"],
                outputs=["predict_gallery", "predict_metrics"],
                name="draw_prediction_gallery",
            ),
        ]
    )
