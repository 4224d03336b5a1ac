"""The ``downstream`` pipeline: transfer of every trained encoder to new galaxy questions."""

from gz_evo.pipelines.downstream.pipeline import create_pipeline

__all__ = ["create_pipeline"]
