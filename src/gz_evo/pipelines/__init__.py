"""Kedro pipelines: one package per `kedro run --pipelines NAME` (see pipeline_registry)."""
