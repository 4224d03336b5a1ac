"""Images per second delivered to the training step: shards + batched augmentation vs per-file.

The reference is what galaxy-datasets does: PIL open per galaxy + torchvision transforms per sample
(its default galaxy augmentation: rotate by any angle, flip, random resized crop 0.7-0.8 / 0.9-1.1).

Both loaders read the 370 real DECaLS ring galaxies (424 px JPEG) in ``../shared/data/rings``,
repeated ``--repeat`` times per epoch (so that starting DataLoader workers each epoch weighs as
little as on a real catalog), with the same augmentations (rotation by any angle, both flips,
random resized crop with the same scale and ratio), the same output size, batch size and number
of DataLoader workers. The reference opens and decodes every 424 px JPEG and augments it in PIL /
torchvision per sample inside the workers. The project's loader streams pre-resized shards
(``gz_evo.images.build``, written once and not timed, like any preprocessing) and augments whole
batches with ``GalaxyAugment`` on the training device (CUDA when there is one, else the CPU of the
main process). Timing runs are interleaved and repeated: the speed-up is the median of the paired
rounds' ratios. CPU milliseconds per image (main process + DataLoader workers) are printed beside
it: on a shared machine they do not depend on what else is running. ``GalaxyAugment`` raises glibc's
mmap/trim thresholds the first time it runs on a CPU (``gz_evo.memory.reuse_freed_memory``); the
benchmark applies that before the first round, so both loaders (and the workers they fork) run
under the same allocator settings in every round.

    .venv/bin/python benchmarks/loader.py                  # 224 and 64 px, 2 workers
    .venv/bin/python benchmarks/loader.py --sizes 224 --encodings jpg npy --workers 4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from gz_evo.images import ShardSet
from gz_evo.images.build import ShardSpec, build_shards
from gz_evo.memory import reuse_freed_memory
from gz_evo.schema import Question, Schema
from gz_evo.training.augment import GalaxyAugment
from gz_evo.training.data import GZEvoDataModule

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = Schema((Question("ring-bench", ("yes", "no"), campaign="bench"),), name="bench")
AUGMENT = {
    "rotation_degrees": 180.0,
    "hflip_p": 0.5,
    "vflip_p": 0.5,
    "crop_scale": (0.7, 0.8),
    "crop_ratio": (0.9, 1.1),
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
}


class PerFileDataset(Dataset):
    """The reference: PIL open per galaxy, torchvision v2 transforms per sample (PIL ops first)."""

    def __init__(self, files: list[Path], size: int) -> None:
        self.files = files
        self.transform = v2.Compose(
            [
                v2.RandomRotation(AUGMENT["rotation_degrees"], v2.InterpolationMode.BILINEAR),
                v2.RandomHorizontalFlip(AUGMENT["hflip_p"]),
                v2.RandomVerticalFlip(AUGMENT["vflip_p"]),
                v2.RandomResizedCrop(
                    size, scale=AUGMENT["crop_scale"], ratio=AUGMENT["crop_ratio"], antialias=True
                ),
                v2.PILToTensor(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(AUGMENT["mean"], AUGMENT["std"]),
            ]
        )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        with Image.open(self.files[index]) as image:
            return self.transform(image.convert("RGB"))


def rings_catalog(rings: Path) -> pd.DataFrame:
    table = pd.read_csv(rings / "catalog.csv")
    return pd.DataFrame(
        {
            "key": "rings/" + table["iauname"],
            "id_str": table["iauname"],
            "campaign": "rings",
            "split": "train",
            "image_path": [str(rings / loc) for loc in table["file_loc"]],
            "image_bytes": None,
            "ring-bench_yes": table["ring"].astype("int32"),
            "ring-bench_no": (1 - table["ring"]).astype("int32"),
        }
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def repeated(shards: ShardSet, times: int) -> ShardSet:
    """The same shard files listed ``times`` over: an epoch reads every galaxy ``times`` times."""
    index = json.loads(json.dumps(shards.index))
    for entry in index["splits"].values():
        entry["shards"] = entry["shards"] * times
        entry["n_samples"] *= times
    return ShardSet(shards.root, index)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (DataLoader workers exit each epoch)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_reference(files, size, batch_size, workers, epochs, device) -> tuple[float, float]:
    loader = DataLoader(
        PerFileDataset(files, size),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
    )
    delivered, start, cpu = 0, time.perf_counter(), _cpu_seconds()
    for _ in range(epochs):
        for batch in loader:
            view = batch.to(device, non_blocking=True)
            delivered += view.shape[0]
    _sync(device)
    return delivered / (time.perf_counter() - start), (_cpu_seconds() - cpu) / delivered * 1e3


def time_project(shards, size, batch_size, workers, epochs, device) -> tuple[float, float]:
    module = GZEvoDataModule(
        shards,
        SCHEMA,
        batch_size=batch_size,
        num_workers=workers,
        seed=0,
        pin_memory=device.type == "cuda",
    )
    augment = GalaxyAugment(output_size=size, seed=0, **AUGMENT).to(device)
    loader = module.train_dataloader()
    delivered, start, cpu = 0, time.perf_counter(), _cpu_seconds()
    for _ in range(epochs):
        for batch in loader:
            view = augment.train_view(batch["image"].to(device, non_blocking=True))
            delivered += view.shape[0]
    _sync(device)
    return delivered / (time.perf_counter() - start), (_cpu_seconds() - cpu) / delivered * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rings", type=Path, default=ROOT.parent / "shared" / "data" / "rings")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 64])
    parser.add_argument("--encodings", nargs="+", default=["jpg"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--repeat", type=int, default=4, help="an epoch is the 370 galaxies repeated this often"
    )
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timing round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/loader.json")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of the main process; default on a CPU: the cores the workers leave",
    )
    args = parser.parse_args()

    if args.threads is None and not torch.cuda.is_available():
        # the workers already keep `workers` cores busy; a larger intra-op pool only spins
        args.threads = max(1, (os.cpu_count() or 1) - args.workers)
    if args.threads:
        torch.set_num_threads(args.threads)
    reuse_freed_memory()  # as GalaxyAugment would on its first CPU batch: same for both loaders
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    table = rings_catalog(args.rings)
    files = [Path(p) for p in table["image_path"]]
    jpeg_bytes = sum(f.stat().st_size for f in files)
    files = files * args.repeat
    print(
        f"device {device}, {len(files)} galaxies x {args.epochs} epochs, batch {args.batch_size}, "
        f"{args.workers} workers, torch threads {torch.get_num_threads()}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="gz_evo_bench_") as scratch:
        for size in args.sizes:
            for encoding in args.encodings:
                root = Path(scratch) / f"{size}_{encoding}"
                spec = ShardSpec(image_size=size, samples_per_shard=64, encoding=encoding)
                build_shards(root, table, None, SCHEMA.answer_columns, spec, seed=0)
                shards = repeated(ShardSet.open(root), args.repeat)
                shard_bytes = sum(p.stat().st_size for p in root.rglob("*.tar"))
                rounds = {"reference": [], "project": [], "reference_cpu": [], "project_cpu": []}
                for _ in range(args.rounds):  # interleaved, so load on the machine hits both
                    rate, cpu = time_reference(
                        files, size, args.batch_size, args.workers, args.epochs, device
                    )
                    rounds["reference"].append(rate)
                    rounds["reference_cpu"].append(cpu)
                    rate, cpu = time_project(
                        shards, size, args.batch_size, args.workers, args.epochs, device
                    )
                    rounds["project"].append(rate)
                    rounds["project_cpu"].append(cpu)
                median = {name: statistics.median(values) for name, values in rounds.items()}
                paired = statistics.median(
                    p / r for p, r in zip(rounds["project"], rounds["reference"], strict=True)
                )
                result = {
                    "size": size,
                    "encoding": encoding,
                    "device": str(device),
                    "workers": args.workers,
                    "batch_size": args.batch_size,
                    "reference_images_per_s": round(median["reference"], 1),
                    "project_images_per_s": round(median["project"], 1),
                    "speedup": round(paired, 2),
                    "reference_cpu_ms_per_image": round(median["reference_cpu"], 2),
                    "project_cpu_ms_per_image": round(median["project_cpu"], 2),
                    "cpu_ratio": round(median["reference_cpu"] / median["project_cpu"], 2),
                    "shard_bytes": shard_bytes,
                    "jpeg_bytes": jpeg_bytes,
                    "disk_ratio": round(shard_bytes / jpeg_bytes, 3),
                    "rounds": rounds,
                }
                results.append(result)
                print(
                    f"{size:4d} px {encoding}: reference {median['reference']:6.1f} img/s, "
                    f"project {median['project']:6.1f} img/s -> {paired:.2f}x (median of paired "
                    f"rounds); CPU {median['reference_cpu']:.2f} vs {median['project_cpu']:.2f} "
                    f"ms/image -> {median['reference_cpu'] / median['project_cpu']:.2f}x; shards "
                    f"{shard_bytes / 1e6:.1f} MB vs JPEGs {jpeg_bytes / 1e6:.1f} MB "
                    f"({shard_bytes / jpeg_bytes:.2f}x)"
                )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results in {args.output}")


if __name__ == "__main__":
    main()
