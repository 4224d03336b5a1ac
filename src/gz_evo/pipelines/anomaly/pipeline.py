"""Wiring of the ``anomaly`` pipeline (no torch here): it reads the ``similarity`` pipeline's
PCA features; the demo truth is read from ``anomaly.expert.truth`` where it exists."""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.anomaly.nodes import rank_anomalies, simulate_expert_rounds


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                rank_anomalies,
                inputs=["similarity_pca", "params:anomaly", "params:seed"],
                outputs="anomaly_ranking",
                name="rank_anomalies",
            ),
            Node(
                simulate_expert_rounds,
                inputs=["similarity_pca", "params:anomaly"],
                outputs=[
                    "anomaly_rounds",
                    "anomaly_figures",
                    "anomaly_metrics",
                    "anomaly_mlflow_metrics",
                ],
                name="simulate_expert_rounds",
            ),
        ]
    )
