"""Project pipelines: every package under ``gz_evo.pipelines``; the default runs them all but
``finetune``, and ``real`` all but ``finetune`` and ``demo`` (for real downloads:
``kedro run --env paper --pipelines real``)."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

#: pipelines left out of ``__default__``: ``finetune`` needs a user's labelled catalog
#: (``kedro run --pipelines finetune --params "finetune.catalog=...,finetune.label=..."``)
NOT_DEFAULT = ("finetune",)
#: pipelines left out of ``real`` as well: ``demo`` renders the synthetic universe into the raw
#: entries, which real-data environments (conf/paper) make read-only downloads
NOT_REAL = (*NOT_DEFAULT, "demo")


def register_pipelines() -> dict[str, Pipeline]:
    """Map pipeline names to pipelines; ``__default__`` is all of them but NOT_DEFAULT, ``real``
    all but NOT_REAL."""
    pipelines = find_pipelines(raise_errors=True)
    chosen = [pipeline for name, pipeline in pipelines.items() if name not in NOT_DEFAULT]
    real = [pipeline for name, pipeline in pipelines.items() if name not in NOT_REAL]
    pipelines["__default__"] = sum(chosen, Pipeline([]))
    pipelines["real"] = sum(real, Pipeline([]))
    return pipelines
