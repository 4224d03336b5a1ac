"""Small synthetic galaxies and catalogs for the images tests (no files outside tmp_path)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

ANSWERS = ["smooth-or-featured-t_smooth", "smooth-or-featured-t_featured", "bar-t_yes", "bar-t_no"]


def galaxy(size: int = 48, seed: int = 0) -> np.ndarray:
    """A noisy elliptical blob, ``uint8[size, size, 3]``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    blob = np.exp(-((u / (0.2 * size)) ** 2 + (v / (0.1 * size)) ** 2))
    colour = rng.uniform(0.5, 1.0, 3)
    pixels = 200 * blob[..., None] * colour + rng.normal(20, 5, (size, size, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def catalog(
    directory: Path,
    n: int = 30,
    size: int = 48,
    embed_every: int = 4,
    splits=("train", "val", "test"),
) -> pd.DataFrame:
    """A GZ-Evo-like catalog: PNG/JPEG files in ``directory`` and some embedded bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        pixels = galaxy(size, seed=i)
        fmt = "PNG" if i % 2 == 0 else "JPEG"
        path, blob = None, None
        if embed_every and i % embed_every == 0:
            blob = encode(pixels, fmt)
        else:
            path = directory / f"galaxy_{i}.{fmt.lower()}"
            path.write_bytes(encode(pixels, fmt))
            path = str(path)
        counts = {column: (i * (k + 1)) % 7 for k, column in enumerate(ANSWERS)}
        rows.append(
            {
                "key": f"t/g{i}",
                "id_str": f"g{i}",
                "campaign": "t",
                "split": splits[i % len(splits)],
                "ra": float(i),
                "dec": 0.0,
                "image_path": path,
                "image_bytes": blob,
                **counts,
            }
        )
    table = pd.DataFrame(rows)
    table[ANSWERS] = table[ANSWERS].astype("int32")
    return table


def unlabelled(directory: Path, n: int = 10, size: int = 48) -> pd.DataFrame:
    table = catalog(directory / "unlabelled", n, size, embed_every=0)
    table["key"] = [f"u/{i}" for i in range(n)]
    table["id_str"] = [str(i) for i in range(n)]
    table["campaign"] = "unlabelled"
    table["split"] = "unlabelled"
    return table.drop(columns=ANSWERS)
