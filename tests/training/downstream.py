"""A small downstream catalog with its images on disk (the ``downstream_catalog`` format)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.images.galaxies import encode, galaxy


def downstream_catalog(tmp_path: Path, n: int = 20) -> pd.DataFrame:
    """``id_str``, ``image_path`` (24 px PNGs) and labels ``ring`` 0/1, ``tidal`` text and a
    continuous ``fraction``."""
    rows = []
    for i in range(n):
        path = tmp_path / f"d{i}.png"
        path.write_bytes(encode(galaxy(24, seed=100 + i)))
        rows.append(
            {
                "id_str": f"d{i}",
                "image_path": str(path),
                "ring": i % 2,
                "tidal": ["none", "shell", "stream"][i % 3],
                "fraction": i / n,
            }
        )
    return pd.DataFrame(rows)
