"""Galaxy images: decoding and checks, and training shards (no torch, no Lightning here).

``decode``, ``shards`` and ``build`` import only numpy, Pillow, astropy, fsspec and pandas (the
Kedro images stage uses them). The Lightning data modules that read the shards are training's:
:mod:`gz_evo.training.data`.
"""

from __future__ import annotations

from gz_evo.images.decode import BAD_REASONS, BadImage, DecodeConfig, decode_image, load_galaxy
from gz_evo.images.shards import ShardSet, plan_epoch

__all__ = [
    "BAD_REASONS",
    "BadImage",
    "DecodeConfig",
    "ShardSet",
    "decode_image",
    "load_galaxy",
    "plan_epoch",
]
