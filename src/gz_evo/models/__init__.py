"""``nn.Module``s only: timm encoders by name, heads by name, and trained encoder bundles.

Loading a pretrained encoder::

    from gz_evo.models import load_encoder
    encoder = load_encoder("data/06_models/gz_evo_encoder")

Names are imported lazily, so ``import gz_evo.models`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_encoder": "gz_evo.models.encoder",
    "PretrainedWeightsNotFound": "gz_evo.models.encoder",
    "DirichletHead": "gz_evo.models.heads",
    "create_head": "gz_evo.models.heads",
    "list_heads": "gz_evo.models.heads",
    "encoder_bundle": "gz_evo.models.bundle",
    "load_encoder": "gz_evo.models.bundle",
    "load_model": "gz_evo.models.bundle",
    "load_finetuned": "gz_evo.models.bundle",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gz_evo.models' has no attribute {name!r}")
