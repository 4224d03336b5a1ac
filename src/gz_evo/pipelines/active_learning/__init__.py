"""The ``active_learning`` pipeline: BALD against random acquisition with simulated volunteers."""

from gz_evo.pipelines.active_learning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
