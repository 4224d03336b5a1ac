"""The ``pretraining`` pipeline: a timm encoder + Dirichlet head on every GZ-Evo question."""

from gz_evo.pipelines.pretraining.pipeline import create_pipeline

__all__ = ["create_pipeline"]
