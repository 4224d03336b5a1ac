"""Thin nodes over ``gz_evo.schema``: build the merged schema and report its size."""

from __future__ import annotations

import logging

from gz_evo.schema import Schema, load_schema

logger = logging.getLogger(__name__)


def build_merged_schema(schema_spec: str | list[str], campaign_dirs: list[str]) -> dict:
    """Load the named merge or campaign list from parameters; return it as a JSON-able dict."""
    schema = load_schema(schema_spec, campaign_dirs=campaign_dirs)
    logger.info(
        "GZ-Evo schema %r: %d campaigns, %d questions, %d answers",
        schema.name,
        len(schema.campaigns),
        schema.n_questions,
        schema.n_answers,
    )
    return schema.to_dict()


def summarise_schema(schema_dict: dict) -> tuple[dict, dict]:
    """Question and answer counts, as DVC metrics (plain JSON) and as MLflow metrics."""
    schema = Schema.from_dict(schema_dict)
    metrics = {
        "schema_campaigns": len(schema.campaigns),
        "schema_questions": schema.n_questions,
        "schema_answers": schema.n_answers,
    }
    mlflow_metrics = {name: {"value": float(value), "step": 0} for name, value in metrics.items()}
    return metrics, mlflow_metrics
