"""A trained encoder as a bundle: weights (encoder + supervised head) and how to rebuild it.

On disk a bundle is a folder with ``encoder.safetensors`` + ``encoder_config.json``
(:mod:`gz_evo.datasets.pretraining` reads and writes it, atomically; safetensors holds only
tensors, so loading never unpickles anything). The config says how to rebuild and feed the
encoder: timm architecture, training method, head, GZ-Evo schema (the head's answer order), image
size and normalisation. Users::

    from gz_evo.models import load_encoder, load_model
    encoder = load_encoder("data/06_models/gz_evo_encoder")   # images -> features
    encoder.gz_evo_config["image_size"], encoder.gz_evo_config["normalisation"]
    model = load_model("data/06_models/gz_evo_encoder")        # images -> concentrations
    finetuned = load_finetuned("data/06_models/finetuned_model")  # images -> your labels
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gz_evo.datasets.pretraining import load_encoder_bundle

if TYPE_CHECKING:
    import torch
    from torch import nn

#: 2: adds ``method`` and ``head``; a version-1 bundle is a supervised Dirichlet model
FORMAT_VERSION = 2


def encoder_bundle(
    encoder: nn.Module,
    head: nn.Module | None,
    model: dict[str, Any],
    schema_dict: dict,
    image_size: int,
    normalisation: dict,
    extra: dict | None = None,
) -> dict:
    """Weights (CPU, contiguous) and config of a trained encoder and its supervised head.

    ``model``: ``architecture``, ``timm_kwargs``, ``method``, ``head`` (None without one) and
    ``dropout`` (the head's).
    """
    parts = [("encoder.", encoder)] + ([("head.", head)] if head is not None else [])
    state = {
        prefix + name: tensor.detach().cpu().contiguous()
        for prefix, part in parts
        for name, tensor in part.state_dict().items()
    }
    config = {
        "format_version": FORMAT_VERSION,
        "architecture": model["architecture"],
        "timm_kwargs": dict(model["timm_kwargs"]),
        "method": model["method"],
        "head": model["head"] if head is not None else None,
        "num_features": int(encoder.num_features),
        "dropout": float(model["dropout"]),
        "image_size": int(image_size),
        "normalisation": {k: [float(v) for v in normalisation[k]] for k in ("mean", "std")},
        "schema": schema_dict,
        **(extra or {}),
    }
    return {"config": config, "state_dict": state}


def _part(state: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def load_encoder(directory: str | Path) -> nn.Module:
    """The pretrained timm encoder (eval mode): normalised images ``[B,3,S,S]`` -> features.

    ``encoder.gz_evo_config`` holds the config (image size, normalisation, schema).
    """
    return encoder_from_bundle(load_encoder_bundle(directory))


def load_model(directory: str | Path) -> nn.Module:
    """Encoder + supervised head (eval mode): normalised images -> concentrations per answer."""
    return model_from_bundle(load_encoder_bundle(directory), str(directory))


def model_from_bundle(bundle: dict, name: str = "the bundle") -> nn.Module:
    """Encoder + supervised head (eval mode) of a loaded bundle (``{"config", "state_dict"}``);
    ``name`` says where it came from in the error for a bundle without a head."""
    from torch import nn

    from gz_evo.models.heads import create_head

    config = bundle["config"]
    head_name = "dirichlet" if config["format_version"] == 1 else config["head"]
    if head_name is None:
        raise ValueError(
            f"{name} holds a {config['method']!r} encoder without a supervised head: "
            "use load_encoder (features) and fit a head on your labels"
        )
    encoder = encoder_from_bundle(bundle)
    n_answers = sum(len(q["answers"]) for q in config["schema"]["questions"])
    head = create_head(head_name, config["num_features"], n_answers, dropout=config["dropout"])
    head.load_state_dict(_part(bundle["state_dict"], "head."))
    model = nn.Sequential(encoder, head).eval()
    model.gz_evo_config = config
    return model


def encoder_from_bundle(bundle: dict) -> nn.Module:
    """The encoder of a loaded bundle (``{"config", "state_dict"}``), in eval mode."""
    from gz_evo.models.encoder import create_encoder

    config = bundle["config"]
    encoder = create_encoder(config["architecture"], pretrained=False, **config["timm_kwargs"])
    encoder.load_state_dict(_part(bundle["state_dict"], "encoder."))
    encoder.gz_evo_config = config
    return encoder.eval()


def load_finetuned(directory: str | Path) -> nn.Module:
    """A model finetuned by the ``finetune`` pipeline (eval mode): normalised images
    ``[B,3,S,S]`` -> logits ``[B, classes]`` (classification) or values ``[B, 1]`` (regression).

    ``model.gz_evo_config`` holds the config: ``kind``, ``label``, ``classes`` (the logits'
    order), ``image_size``, ``normalisation`` and ``augment`` (``GalaxyAugment(**augment)``'s
    ``eval_view`` turns uint8 images into the model's input).
    """
    from torch import nn

    bundle = load_encoder_bundle(directory)
    config = bundle["config"]
    if config.get("method") != "finetune":
        raise ValueError(
            f"{directory} holds a {config.get('method')!r} encoder, not a finetuned model: "
            "use load_encoder or load_model"
        )
    encoder = encoder_from_bundle(bundle)
    head = nn.Sequential(
        nn.Dropout(config["dropout"]), nn.Linear(config["num_features"], config["n_outputs"])
    )
    head.load_state_dict(_part(bundle["state_dict"], "head."))
    model = nn.Sequential(encoder, head).eval()
    model.gz_evo_config = config
    return model
