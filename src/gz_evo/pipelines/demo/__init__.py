"""The ``demo`` pipeline: render the synthetic Galaxy Zoo universe into data/01_raw/demo."""

from gz_evo.pipelines.demo.pipeline import create_pipeline

__all__ = ["create_pipeline"]
