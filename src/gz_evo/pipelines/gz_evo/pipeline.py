"""Wiring of the ``gz_evo`` pipeline."""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.gz_evo.nodes import build_merged_schema, summarise_schema


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                build_merged_schema,
                inputs=["params:gz_evo.schema", "params:campaign_dirs"],
                outputs="gz_evo_schema",
                name="build_merged_schema",
            ),
            Node(
                summarise_schema,
                inputs="gz_evo_schema",
                outputs=["gz_evo_schema_metrics", "gz_evo_schema_mlflow_metrics"],
                name="summarise_schema",
            ),
        ]
    )
