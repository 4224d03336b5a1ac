"""Thin nodes: the work is :mod:`gz_evo.training.user_finetune` (torch imported inside)."""

from __future__ import annotations

import pandas as pd


def finetune_catalog(
    params: dict, pretraining_params: dict, seed: int
) -> tuple[dict, dict, dict, pd.DataFrame]:
    """Finetune ``finetune.encoder`` on ``finetune.catalog``'s labels: the model bundle, test
    metrics, the calibration figure and ``finetune.predict_catalog``'s predictions. Every check
    of the catalog raises before anything is returned, so a wrong catalog writes nothing."""
    from gz_evo.training.user_finetune import FinetuneSettings, finetune_user_catalog

    settings = FinetuneSettings.from_params(params)
    result = finetune_user_catalog(settings, pretraining_params, seed)
    return result.bundle, result.metrics, result.figures, result.predictions
