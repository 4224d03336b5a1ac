"""Thin nodes over ``gz_evo.schema`` and ``gz_evo.merge``: the merged schema, table and summary."""

from __future__ import annotations

import logging

import pandas as pd

from gz_evo.merge import merge_vote_tables, summarise
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


def merge_catalogs(
    schema_dict: dict,
    split_fractions: dict,
    seed: int,
    unlabelled_images: pd.DataFrame,
    *campaign_tables: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The merged GZ-Evo table over the schema's answer columns, and the unlabelled table."""
    schema = Schema.from_dict(schema_dict)
    return merge_vote_tables(campaign_tables, schema, unlabelled_images, split_fractions, seed)


def summarise_catalog(
    schema_dict: dict, catalog: pd.DataFrame, unlabelled: pd.DataFrame
) -> tuple[dict, dict]:
    """The GZ-Evo table summary (DVC metrics JSON) and the same numbers as MLflow metrics."""
    summary = summarise(catalog, unlabelled, Schema.from_dict(schema_dict))
    mlflow_metrics = {}
    for campaign, numbers in {**summary["campaigns"], "total": summary["total"]}.items():
        for name, value in numbers.items():
            mlflow_metrics[f"summary.{campaign}.{name}"] = {"value": float(value), "step": 0}
    for split, value in summary["splits"].items():
        mlflow_metrics[f"summary.split.{split}"] = {"value": float(value), "step": 0}
    logger.info("GZ-Evo summary: %s", summary["total"])
    return summary, mlflow_metrics
