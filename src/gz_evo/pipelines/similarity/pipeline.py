"""Wiring of the ``similarity`` pipeline (no torch here).

embed (the encoder and the baselines) -> PCA -> index -> queries; embed -> neighbours against the
demo truth. The ``@optional`` inputs: see ``gz_evo.pipelines.predict.pipeline``.
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.similarity.nodes import (
    build_similarity_index,
    embed_similarity_catalog,
    find_similar_galaxies,
    reduce_similarity_features,
    score_similarity_truth,
)

SOURCES = ["unlabelled_images@optional", "downstream_catalog@optional"]
ENCODER = "pretrained_encoder@optional"


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                embed_similarity_catalog,
                inputs=[*SOURCES, ENCODER, "params:similarity", "params:seed"],
                outputs="similarity_features",
                name="embed_similarity_catalog",
            ),
            Node(
                reduce_similarity_features,
                inputs=["similarity_features", "params:similarity", "params:seed"],
                outputs="similarity_pca",
                name="reduce_similarity_features",
            ),
            Node(
                build_similarity_index,
                inputs=["similarity_pca", "params:similarity"],
                outputs="similarity_index",
                name="build_similarity_index",
            ),
            Node(
                find_similar_galaxies,
                inputs=[
                    "similarity_pca",
                    "similarity_index",
                    *SOURCES,
                    ENCODER,
                    "params:similarity",
                    "params:seed",
                ],
                outputs=["similarity_results", "similarity_query_figures"],
                name="find_similar_galaxies",
            ),
            Node(
                score_similarity_truth,
                inputs=[
                    "similarity_features",
                    "demo_truth@optional",
                    "params:similarity",
                    "params:seed",
                ],
                outputs=[
                    "similarity_truth",
                    "similarity_figures",
                    "similarity_metrics",
                    "similarity_mlflow_metrics",
                ],
                name="score_similarity_truth",
            ),
        ]
    )
