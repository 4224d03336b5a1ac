"""The ``images`` pipeline: decode, check, resize and shard every GZ-Evo galaxy image."""

from gz_evo.pipelines.images.pipeline import create_pipeline

__all__ = ["create_pipeline"]
