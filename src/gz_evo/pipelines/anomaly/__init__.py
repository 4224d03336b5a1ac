"""The ``anomaly`` pipeline: an isolation-forest score on the similarity pipeline's PCA features,
re-ranked with a few expert labels (on the demo: rounds with the truth as the expert)."""

from gz_evo.pipelines.anomaly.pipeline import create_pipeline

__all__ = ["create_pipeline"]
