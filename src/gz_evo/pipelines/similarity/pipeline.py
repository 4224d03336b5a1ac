"""Wiring of the ``similarity`` pipeline (no torch here).

embed (the encoder and the baselines) -> PCA -> index -> queries; embed -> neighbours against the
demo truth (read from ``similarity.truth.table``). The catalog comes from the paths in
``similarity.catalog``; the ``pretrained_encoder`` input orders the default run after pretraining.
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.similarity.nodes import (
    build_similarity_index,
    embed_similarity_catalog,
    find_similar_galaxies,
    reduce_similarity_features,
    score_similarity_truth,
)

ENCODER = "pretrained_encoder"


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                embed_similarity_catalog,
                inputs=[ENCODER, "params:similarity", "params:seed"],
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
                    ENCODER,
                    "params:similarity",
                    "params:seed",
                ],
                outputs=["similarity_results", "similarity_query_figures"],
                name="find_similar_galaxies",
            ),
            Node(
                score_similarity_truth,
                inputs=["similarity_features", "params:similarity", "params:seed"],
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
