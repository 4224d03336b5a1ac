"""Galaxy images: decoding and checks, training shards, and the data modules that read them.

``decode``, ``shards`` and ``build`` import only numpy, Pillow, astropy, fsspec and pandas (the
Kedro images stage uses them); ``GZEvoDataModule``, ``DownstreamDataModule`` and ``ShardStream``
live in ``gz_evo.images.data`` (torch + lightning) and are imported from here lazily.
"""

from __future__ import annotations

from typing import Any

from gz_evo.images.decode import BAD_REASONS, BadImage, DecodeConfig, decode_image, load_galaxy
from gz_evo.images.shards import ShardSet, plan_epoch

_LAZY = {"GZEvoDataModule", "DownstreamDataModule", "ShardStream", "EpochDataLoader"}

__all__ = [
    "BAD_REASONS",
    "BadImage",
    "DecodeConfig",
    "DownstreamDataModule",
    "EpochDataLoader",
    "GZEvoDataModule",
    "ShardSet",
    "ShardStream",
    "decode_image",
    "load_galaxy",
    "plan_epoch",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from gz_evo.images import data

        return getattr(data, name)
    raise AttributeError(f"module 'gz_evo.images' has no attribute {name!r}")
