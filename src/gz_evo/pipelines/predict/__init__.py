"""The ``predict`` pipeline: a prediction catalog (vote fractions, intervals, probability each
question is asked) for any image catalog, streamed in batches, and a gallery."""

from gz_evo.pipelines.predict.pipeline import create_pipeline

__all__ = ["create_pipeline"]
