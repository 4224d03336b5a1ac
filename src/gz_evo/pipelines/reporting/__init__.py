"""The report: every stage's outputs as one self-contained HTML page (the last node of the
default run)."""

from gz_evo.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
