"""The gz_evo pipeline's nodes, called directly."""

from gz_evo.pipelines.gz_evo.nodes import build_merged_schema, summarise_schema
from gz_evo.schema import Schema


def test_build_merged_schema_writes_the_named_merge() -> None:
    schema_dict = build_merged_schema("gz_evo_v0_1", campaign_dirs=[])
    assert Schema.from_dict(schema_dict).n_answers == 206


def test_schema_metrics_for_dvc_and_mlflow_agree() -> None:
    metrics, mlflow_metrics = summarise_schema(build_merged_schema(["gz2", "dr5"], []))
    assert metrics == {"schema_campaigns": 2, "schema_questions": 20, "schema_answers": 64}
    assert mlflow_metrics["schema_answers"] == {"value": 64.0, "step": 0}
