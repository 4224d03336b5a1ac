"""A tiny encoder bundle with a Dirichlet head and a small image catalog on disk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.images.galaxies import encode, galaxy

AUGMENT = {"output_size": 16, "mean": [0.5] * 3, "std": [0.5] * 3}


def tiny_bundle(seed: int = 0, campaigns: tuple[str, ...] = ("dr5",)) -> dict:
    """``test_resnet`` (16 px) + a Dirichlet head over the campaigns' questions."""
    import torch

    from gz_evo.models.bundle import encoder_bundle
    from gz_evo.models.encoder import create_encoder
    from gz_evo.models.heads import create_head
    from gz_evo.schema import load_schema

    torch.manual_seed(seed)
    schema = load_schema(list(campaigns))
    encoder = create_encoder("test_resnet")
    head = create_head("dirichlet", encoder.num_features, schema.n_answers, dropout=0.5)
    model = {
        "architecture": "test_resnet",
        "timm_kwargs": {},
        "method": "supervised",
        "head": "dirichlet",
        "dropout": 0.5,
    }
    normalisation = {"mean": AUGMENT["mean"], "std": AUGMENT["std"]}
    return encoder_bundle(
        encoder, head, model, schema.to_dict(), 16, normalisation, {"augment": AUGMENT}
    )


def image_catalog(folder: Path, n: int = 12, bad: int = 0, prefix: str = "g") -> Path:
    """``catalog.csv`` (``id_str``, ``file_loc`` relative to the folder) + PNGs; the last
    ``bad`` rows point at files that do not exist."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        name = f"images/{prefix}{i}.png"
        if i < n - bad:
            (folder / name).write_bytes(encode(galaxy(24, seed=200 + i)))
        rows.append({"id_str": f"{prefix}{i}", "file_loc": name})
    path = folder / "catalog.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
