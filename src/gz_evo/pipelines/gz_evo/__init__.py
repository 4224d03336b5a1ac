"""The ``gz_evo`` pipeline: merge campaign schemas (and, later, their vote tables) into GZ-Evo."""

from gz_evo.pipelines.gz_evo.pipeline import create_pipeline

__all__ = ["create_pipeline"]
