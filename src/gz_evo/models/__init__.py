"""GZ-Evo models: timm encoders, the Dirichlet head, the LightningModule, and saved encoders.

Loading a pretrained encoder::

    from gz_evo.models import load_encoder
    encoder = load_encoder("data/06_models/gz_evo_encoder")

Names are imported lazily, so ``import gz_evo.models`` does not import torch or Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_encoder": "gz_evo.models.encoder",
    "PretrainedWeightsNotFound": "gz_evo.models.encoder",
    "DirichletHead": "gz_evo.models.head",
    "GZEvoModule": "gz_evo.models.module",
    "NonFiniteLossError": "gz_evo.models.module",
    "build_trainer": "gz_evo.models.trainer",
    "load_encoder": "gz_evo.models.io",
    "load_model": "gz_evo.models.io",
    "load_encoder_bundle": "gz_evo.models.io",
    "save_encoder_bundle": "gz_evo.models.io",
    "pretrain": "gz_evo.models.training",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gz_evo.models' has no attribute {name!r}")
