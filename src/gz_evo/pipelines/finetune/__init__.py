"""The ``finetune`` pipeline: a trained encoder finetuned on a user's own labelled catalog."""

from gz_evo.pipelines.finetune.pipeline import create_pipeline

__all__ = ["create_pipeline"]
