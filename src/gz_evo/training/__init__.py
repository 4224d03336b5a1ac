"""What turns shards into a trained encoder, for every method.

``data``        Lightning data modules (one batch contract: image, key, labelled, counts/labels)
``augment``     batched views on the training device (train_view, two_views, eval_view)
``config``      the ``pretraining`` parameters as frozen dataclasses
``core``        one LightningModule: encoder, optimiser + schedule, NaN guard, views, logging
``objectives``  registry by name (``pretraining.method``): supervised, ... -> ``(loss, logs)``
``run``         launch checks, resumable work folder, Trainer, MLflow, fit, restore, predict
``monitors``    callbacks that watch training without changing it (kNN accuracy: KNNMonitor)

Names are imported lazily, so ``import gz_evo.training`` does not import torch or Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GalaxyAugment": "gz_evo.training.augment",
    "GZEvoDataModule": "gz_evo.training.data",
    "DownstreamDataModule": "gz_evo.training.data",
    "PretrainingConfig": "gz_evo.training.config",
    "TrainingModule": "gz_evo.training.core",
    "NonFiniteLossError": "gz_evo.training.core",
    "create_objective": "gz_evo.training.objectives",
    "list_objectives": "gz_evo.training.objectives",
    "register_objective": "gz_evo.training.objectives",
    "Objective": "gz_evo.training.objectives",
    "fit": "gz_evo.training.run",
    "restore": "gz_evo.training.run",
    "predict": "gz_evo.training.run",
    "KNNMonitor": "gz_evo.training.monitors",
    "knn_monitor": "gz_evo.training.monitors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gz_evo.training' has no attribute {name!r}")
