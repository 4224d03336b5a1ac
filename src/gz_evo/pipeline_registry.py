"""Project pipelines: every package under ``gz_evo.pipelines``; the default runs them all but
``finetune``."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

#: pipelines left out of ``__default__``: ``finetune`` needs a user's labelled catalog
#: (``kedro run --pipelines finetune --params "finetune.catalog=...,finetune.label=..."``)
NOT_DEFAULT = ("finetune",)


def register_pipelines() -> dict[str, Pipeline]:
    """Map pipeline names to pipelines; ``__default__`` is all of them but NOT_DEFAULT."""
    pipelines = find_pipelines(raise_errors=True)
    chosen = [pipeline for name, pipeline in pipelines.items() if name not in NOT_DEFAULT]
    pipelines["__default__"] = sum(chosen, Pipeline([]))
    return pipelines
