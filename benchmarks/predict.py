"""Prediction catalogs at scale: the streamed ``predict`` pipeline against a load-all reference.

The catalog is the demo's ingested unlabelled table (500 galaxies) repeated ``--factors`` times
under new ids (the same image files), predicted with the trained encoder bundle. Each run is its
own process, so its peak resident memory (``ru_maxrss``) is its own:

- **streamed** (the project): ``PredictionStream`` decodes, predicts and writes one batch at a
  time through ``PredictionCatalogDataset`` (parquet row groups + CSV appends);
- **load-all** (the reference, how a notebook does it and how the downstream pipeline keeps its
  small task catalogs): decode every image into one tensor, predict it all, build the whole
  table, write it.

Both use the same decode, model, MC-dropout samples and table code, so the difference is the
streaming alone. Printed: images per second (wall) and CPU milliseconds per image (the fair
number on a shared machine), peak memory, its growth over the process after the model is loaded
and the lazy imports, and the ratios streamed / load-all.

    .venv/bin/python benchmarks/predict.py                    # 1x and 10x the demo
    .venv/bin/python benchmarks/predict.py --factors 1 10 40 --image-size 224
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "data/02_intermediate/unlabelled_images.parquet"
ENCODER = ROOT / "data/06_models/gz_evo_encoder"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _catalog(factor: int, folder: Path) -> Path:
    table = pd.read_parquet(CATALOG, columns=["id_str", "image_path"])
    table["image_path"] = [str(ROOT / p) for p in table["image_path"]]
    copies = [table.assign(id_str=table["id_str"] + f"-{i}") for i in range(factor)]
    path = folder / f"catalog_{factor}.parquet"
    pd.concat(copies, ignore_index=True).to_parquet(path)
    return path


def _settings(catalog: Path, image_size: int | None):
    import yaml

    from gz_evo.science.predict import PredictSettings

    params = yaml.safe_load((ROOT / "conf/base/parameters_predict.yml").read_text())["predict"]
    params.update(catalog=str(catalog), image_root=None, progress_bar=False)
    return PredictSettings.from_params(params)


def worker(approach: str, catalog: Path, out: Path, image_size: int | None) -> dict:
    """One run in this process: returns galaxies, seconds, peak and baseline memory."""
    import numpy as np
    import torch

    from gz_evo.datasets.predictions import PredictionCatalogDataset
    from gz_evo.datasets.pretraining import load_encoder_bundle
    from gz_evo.images.decode import BadImage, load_galaxy
    from gz_evo.science.catalog import read_catalog
    from gz_evo.science.predict import PredictionStream, Predictor, prediction_tables

    torch.set_num_threads(1)
    settings = _settings(catalog, image_size)
    bundle = load_encoder_bundle(ENCODER)
    predictor = Predictor(bundle, settings.mc_dropout_samples)
    if image_size:  # the same model fed larger images (what a 224 px encoder's catalog costs)
        predictor.image_size = image_size
        predictor.augment.output_size = image_size
    table = read_catalog(settings.catalog_settings, "benchmark")
    predictor(torch.zeros(2, 3, predictor.image_size, predictor.image_size, dtype=torch.uint8))
    # what both approaches import lazily, imported before the clock starts
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401
    import scipy.special  # noqa: F401
    import torch.utils.data
    import tqdm.auto  # noqa: F401

    baseline = _rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    if approach == "streamed":
        PredictionCatalogDataset(str(out)).save(PredictionStream(predictor, table, settings, 0))
    else:
        images, ids = [], []
        for galaxy, path in zip(table["id_str"], table["image_path"], strict=True):
            try:
                pixels = load_galaxy(path, None, predictor.image_size)
            except BadImage:
                continue
            images.append(torch.from_numpy(pixels.transpose(2, 0, 1).copy()))
            ids.append(galaxy)
        stacked = torch.stack(images)
        torch.manual_seed(0)
        concentrations = np.concatenate(
            [
                predictor(stacked[i : i + settings.batch_size])
                for i in range(0, len(stacked), settings.batch_size)
            ]
        )
        _, full = prediction_tables(
            ids,
            concentrations,
            predictor.schema,
            settings.interval,
            settings.mc_dropout_samples > 0,
        )
        out.mkdir()
        full.to_parquet(out / "predictions_full.parquet")
        full.to_csv(out / "predictions_full.csv", index=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "galaxies": len(table),
        "seconds": seconds,
        "cpu_ms_per_image": 1000 * cpu / len(table),
        "peak_mb": _rss_mb(),
        "baseline_mb": baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--worker", nargs=3, metavar=("APPROACH", "CATALOG", "OUT"))
    args = parser.parse_args()
    if args.worker:
        approach, catalog, out = args.worker
        print(json.dumps(worker(approach, Path(catalog), Path(out), args.image_size)))
        return
    for needed in (CATALOG, ENCODER):
        if not needed.exists():
            sys.exit(f"{needed} does not exist: run `kedro run` (the demo, ingestion, pretraining)")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for factor in args.factors:
            catalog = _catalog(factor, Path(folder))
            for approach in ("load-all", "streamed"):
                command = [
                    sys.executable,
                    __file__,
                    "--worker",
                    approach,
                    str(catalog),
                    str(Path(folder) / f"{approach}-{factor}"),
                ]
                if args.image_size:
                    command += ["--image-size", str(args.image_size)]
                result = json.loads(
                    subprocess.run(
                        command, check=True, capture_output=True, text=True
                    ).stdout.splitlines()[-1]
                )
                rows.append({"factor": factor, "approach": approach, **result})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["images_per_s"] = table["galaxies"] / table["seconds"]
    table["growth_mb"] = table["peak_mb"] - table["baseline_mb"]
    print()
    print(
        table[
            [
                "factor",
                "galaxies",
                "approach",
                "images_per_s",
                "cpu_ms_per_image",
                "peak_mb",
                "growth_mb",
            ]
        ]
        .round(1)
        .to_string(index=False)
    )
    print()
    for factor, group in table.groupby("factor"):
        one = group.set_index("approach")
        speed = one.images_per_s["streamed"] / one.images_per_s["load-all"]
        cpu = one.cpu_ms_per_image["streamed"] / one.cpu_ms_per_image["load-all"]
        peak = one.peak_mb["streamed"] / one.peak_mb["load-all"]
        growth = one.growth_mb
        print(
            f"{factor}x: streamed / load-all: speed {speed:.2f}x, CPU per image {cpu:.2f}x, "
            f"peak memory {peak:.2f}x, "
            f"memory growth {growth['streamed']:.0f} MB vs {growth['load-all']:.0f} MB"
        )
    growth = table.pivot(index="factor", columns="approach", values="growth_mb")
    first, last = min(args.factors), max(args.factors)
    change = growth.loc[last] - growth.loc[first]
    print(
        f"memory growth from {first}x to {last}x the demo: streamed "
        f"{change['streamed']:+.0f} MB, load-all {change['load-all']:+.0f} MB"
    )


if __name__ == "__main__":
    main()
