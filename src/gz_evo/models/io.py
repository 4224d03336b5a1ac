"""The pretrained encoder on disk: ``encoder.safetensors`` + ``encoder_config.json`` in a folder.

Safetensors holds only tensors, so loading never unpickles anything. The config says how to
rebuild and feed the encoder: timm architecture, GZ-Evo schema (the head's answer order), image
size and normalisation. Users::

    from gz_evo.models import load_encoder, load_model
    encoder = load_encoder("data/06_models/gz_evo_encoder")   # images -> features
    encoder.gz_evo_config["image_size"], encoder.gz_evo_config["normalisation"]
    model = load_model("data/06_models/gz_evo_encoder")        # images -> concentrations
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gz_evo.datasets.atomic import atomic_write_dir

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS_FILE = "encoder.safetensors"
CONFIG_FILE = "encoder_config.json"
FORMAT_VERSION = 1


def encoder_bundle(
    module: Any, image_size: int, normalisation: dict, extra: dict | None = None
) -> dict:
    """Weights (encoder + head, CPU, contiguous) and config of a trained ``GZEvoModule``."""
    state = {}
    for prefix, part in (("encoder.", module.encoder), ("head.", module.head)):
        for name, tensor in part.state_dict().items():
            state[prefix + name] = tensor.detach().cpu().contiguous()
    config = {
        "format_version": FORMAT_VERSION,
        "architecture": module.model_config["architecture"],
        "timm_kwargs": dict(module.model_config.get("timm_kwargs") or {}),
        "num_features": int(module.encoder.num_features),
        "dropout": float(module.model_config.get("dropout", 0.2)),
        "image_size": int(image_size),
        "normalisation": {k: [float(v) for v in normalisation[k]] for k in ("mean", "std")},
        "schema": module.schema_dict,
        **(extra or {}),
    }
    return {"config": config, "state_dict": state}


def save_encoder_bundle(bundle: dict, directory: str | Path) -> None:
    """Write the folder atomically: a temporary folder beside it, then renamed into place."""
    from safetensors.torch import save_file

    with atomic_write_dir(directory) as temporary:
        save_file(bundle["state_dict"], str(temporary / WEIGHTS_FILE))
        (temporary / CONFIG_FILE).write_text(json.dumps(bundle["config"], indent=2) + "\n")


def load_encoder_bundle(directory: str | Path) -> dict:
    """``{"config": dict, "state_dict": {name: tensor}}`` from the folder (no unpickling)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory / name} does not exist: run `kedro run --pipelines pretraining`"
            )
    config = json.loads((directory / CONFIG_FILE).read_text())
    return {"config": config, "state_dict": load_file(str(directory / WEIGHTS_FILE))}


def _part(state: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def load_encoder(directory: str | Path) -> nn.Module:
    """The pretrained timm encoder (eval mode): normalised images ``[B,3,S,S]`` -> features.

    ``encoder.gz_evo_config`` holds the config (image size, normalisation, schema).
    """
    return _encoder_from_bundle(load_encoder_bundle(directory))


def load_model(directory: str | Path) -> nn.Module:
    """Encoder + Dirichlet head (eval mode): normalised images -> concentrations per answer."""
    from torch import nn

    from gz_evo.models.head import DirichletHead

    bundle = load_encoder_bundle(directory)
    config = bundle["config"]
    encoder = _encoder_from_bundle(bundle)
    n_answers = sum(len(q["answers"]) for q in config["schema"]["questions"])
    head = DirichletHead(config["num_features"], n_answers, config.get("dropout", 0.2))
    head.load_state_dict(_part(bundle["state_dict"], "head."))
    model = nn.Sequential(encoder, head).eval()
    model.gz_evo_config = config
    return model


def _encoder_from_bundle(bundle: dict) -> nn.Module:
    from gz_evo.models.encoder import create_encoder

    config = bundle["config"]
    encoder = create_encoder(
        config["architecture"], pretrained=False, **config.get("timm_kwargs", {})
    )
    encoder.load_state_dict(_part(bundle["state_dict"], "encoder."))
    encoder.gz_evo_config = config
    return encoder.eval()
