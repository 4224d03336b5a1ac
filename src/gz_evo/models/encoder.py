"""timm encoders by name, with pretrained weights only from local files (never a download).

Any timm architecture works (``convnext_nano``, ``efficientnet_b0``, ``resnet50``,
``maxvit_tiny_rw_224``, ``vit_small_patch16_224``, ...). The encoder is built with
``num_classes=0`` so it returns pooled features of size ``encoder.num_features``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


class PretrainedWeightsNotFound(FileNotFoundError):
    """``pretrained: true`` but no local copy of the weights exists; nothing is downloaded."""


def _hf_cached_file(hub_id: str, filename: str | None) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with timm
        return None
    for name in [filename] if filename else ["model.safetensors", "pytorch_model.bin"]:
        found = try_to_load_from_cache(hub_id, name)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def local_pretrained_weights(architecture: str, weights_path: str | None = None) -> Path:
    """Where the pretrained weights of ``architecture`` are on this machine.

    Looks at ``weights_path`` (a .safetensors/.pth file), then the Hugging Face cache, then the
    torch hub cache that timm downloads into. Raises ``PretrainedWeightsNotFound`` naming every
    place it looked, so that the user can copy the file there (or set ``weights_path``).
    """
    import timm
    import torch

    if weights_path:
        path = Path(weights_path)
        if not path.is_file():
            raise PretrainedWeightsNotFound(
                f"pretrained weights for {architecture!r}: weights_path {str(path)!r} "
                "does not exist"
            )
        return path
    config = timm.get_pretrained_cfg(architecture)
    if config is None:
        raise PretrainedWeightsNotFound(
            f"timm has no pretrained weights registered for {architecture!r}; "
            "set pretrained: false or give weights_path"
        )
    looked = []
    if config.hf_hub_id:
        found = _hf_cached_file(config.hf_hub_id, config.hf_hub_filename)
        if found is not None:
            return found
        looked.append(f"Hugging Face cache for {config.hf_hub_id!r} (HF_HOME / HF_HUB_CACHE)")
    if config.url:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(config.url)
        if cached.is_file():
            return cached
        looked.append(str(cached))
    raise PretrainedWeightsNotFound(
        f"pretrained weights for {architecture!r} are not available locally (looked in: "
        f"{'; '.join(looked) or 'nowhere: no source registered'}). gz_evo never downloads "
        "weights during a run: download them once (e.g. `timm.create_model(name, pretrained=True)` "
        "on a machine with internet, then copy the cache), or set "
        "pretraining.model.weights_path to a local .safetensors/.pth file, "
        "or set pretrained: false."
    )


def create_encoder(
    architecture: str,
    pretrained: bool = False,
    weights_path: str | None = None,
    drop_path_rate: float | None = None,
    **timm_kwargs: Any,
) -> nn.Module:
    """A timm model without its classifier (``num_classes=0``): images -> pooled features."""
    import timm

    kwargs: dict[str, Any] = {"num_classes": 0, **timm_kwargs}
    if drop_path_rate:
        kwargs["drop_path_rate"] = drop_path_rate
    if not timm.is_model(architecture):
        raise ValueError(
            f"unknown timm architecture {architecture!r}; see timm.list_models('*pattern*')"
        )
    if pretrained:
        path = local_pretrained_weights(architecture, weights_path)
        return timm.create_model(
            architecture, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs
        )
    return timm.create_model(architecture, pretrained=False, **kwargs)
