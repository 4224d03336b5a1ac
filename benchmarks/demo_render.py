"""Demo rendering: galaxies per second on 1 and on 2 worker processes, and the speed-up.

Renders ``--galaxies`` galaxies of the default demo parameters (their campaigns' looks, at
``demo.image_size``) with ``workers=1`` and ``workers=2`` in this one process, checks the images
are identical, and prints both rates and their ratio (ideal on 2 free cores: 2.0).

    .venv/bin/python benchmarks/demo_render.py [--galaxies 400]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

from gz_evo.simulate import universe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--galaxies", type=int, default=400)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((root / "conf/base/parameters_demo.yml").read_text())["demo"]
    truth = universe.sample_universe(params, seed=42)
    # a mix of every group and look, in universe order
    truth = truth.iloc[np.linspace(0, len(truth) - 1, args.galaxies).astype(int)]
    seconds = {}
    images = {}
    for workers in (1, 2):
        start = time.perf_counter()
        images[workers] = universe.render_universe(truth, {**params, "workers": workers}, 42)
        seconds[workers] = time.perf_counter() - start
        print(
            f"workers={workers}: {len(truth)} galaxies at {params['image_size']} px in "
            f"{seconds[workers]:.1f} s ({len(truth) / seconds[workers]:.1f} galaxies/s)"
        )
    assert np.array_equal(images[1], images[2]), "images depend on the worker count"
    print(f"speed-up 2 workers / 1 worker: {seconds[1] / seconds[2]:.2f}x (images identical)")


if __name__ == "__main__":
    main()
