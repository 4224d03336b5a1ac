"""The ``scaling`` pipeline: test loss against training images and parameters, and its laws."""

from gz_evo.pipelines.scaling.pipeline import create_pipeline

__all__ = ["create_pipeline"]
