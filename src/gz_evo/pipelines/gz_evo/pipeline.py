"""Wiring of the ``gz_evo`` pipeline: merged schema, merged table with splits, summary."""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.gz_evo.nodes import (
    build_merged_schema,
    merge_catalogs,
    summarise_catalog,
    summarise_schema,
)
from gz_evo.sources import CAMPAIGN_SOURCES, votes_entry


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
            Node(
                merge_catalogs,
                inputs=[
                    "gz_evo_schema",
                    "params:gz_evo.splits",
                    "params:seed",
                    "unlabelled_images",
                    *(votes_entry(campaign) for campaign in CAMPAIGN_SOURCES),
                ],
                outputs=["gz_evo_catalog", "gz_evo_unlabelled"],
                name="merge_catalogs",
            ),
            Node(
                summarise_catalog,
                inputs=["gz_evo_schema", "gz_evo_catalog", "gz_evo_unlabelled"],
                outputs=["gz_evo_summary", "gz_evo_summary_mlflow_metrics"],
                name="summarise_catalog",
            ),
        ]
    )
