"""Ingestion + GZ-Evo merge at scale, against pyarrow just reading the same files.

Builds catalogs totalling ``--galaxies`` (default 1,000,000) over the 88-question
``gz_evo_scaling`` schema, split across its 8 campaigns in roughly their real proportions, in the
galaxy-datasets parquet layout (``id_str``, ``ra``, ``dec``, ``file_loc``, suffixed int32 counts,
``{question}_total-votes``), with votes that follow each decision tree (counts fall down the tree,
so most deep answers are small or zero) and ~2% of galaxies with no votes at all. Then, in this
one process:

- time ratio: (read every file with the galaxy_datasets reader + all validation checks +
  the decision-tree check + the pandera canonical check + merge into the wide table with splits)
  / (``pyarrow.parquet.read_table`` of the same files, best of 3);
- merge ratio: the merge alone (canonical tables -> wide table with splits and the unlabelled
  set, what the ``gz_evo`` pipeline's merge node does) / the same pyarrow read;
- memory ratio: peak RSS increase during ingestion + merge / the merged table's size in memory
  (``DataFrame.memory_usage(deep=True)`` of the merged and unlabelled tables).

Writing the merged parquet is not part of either number (it is printed separately).

    .venv/bin/python benchmarks/ingest.py [--galaxies 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np

SCHEMA = "gz_evo_scaling"
# Rough relative sizes of the campaigns in GZ-Evo (Walmsley et al. 2024).
WEIGHTS = {
    "dr12": 92,
    "dr5": 253,
    "dr8": 300,
    "gz2": 209,
    "candels": 50,
    "hubble": 114,
    "cd": 30,
    "ukidss": 70,
}
MEAN_VOTES = {"gz2": 44, "hubble": 30, "candels": 30, "ukidss": 25, "cd": 30}
UNVOTED_FRACTION = 0.02


def _vm(field: str) -> int:
    """A /proc/self/status memory field in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS


def write_catalogs(folder: str, n_galaxies: int, seed: int) -> list[tuple[str, str]]:
    """One parquet catalog per campaign; returns (campaign, path) pairs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gz_evo.schema import load_schema

    schema = load_schema(SCHEMA)
    rng = np.random.default_rng(seed)
    total_weight = sum(WEIGHTS.values())
    sizes = {c: int(n_galaxies * w / total_weight) for c, w in WEIGHTS.items()}
    sizes["dr8"] += n_galaxies - sum(sizes.values())
    files = []
    for campaign, n in sizes.items():
        roots = rng.poisson(MEAN_VOTES.get(campaign, 40), n) + 3
        roots[rng.random(n) < UNVOTED_FRACTION] = 0
        ids = np.char.add(f"{campaign}_", np.arange(n).astype(str))
        arrays = {
            "id_str": pa.array(ids),
            "ra": pa.array(rng.uniform(0, 360, n)),
            "dec": pa.array(rng.uniform(-30, 60, n)),
            "file_loc": pa.array(np.char.add(np.char.add("images/", ids), ".jpg")),
        }
        counts: dict[str, np.ndarray] = {}
        for question in schema.campaign_questions(campaign):
            totals = roots if question.depends_on is None else counts[question.depends_on]
            votes = rng.multinomial(totals, rng.dirichlet(np.ones(len(question.answers))))
            for i, column in enumerate(question.answer_columns):
                counts[column] = votes[:, i].astype(np.int32)
                arrays[column] = pa.array(counts[column])
            arrays[f"{question.name}_total-votes"] = pa.array(votes.sum(1).astype(np.int32))
        path = str(Path(folder) / f"{campaign}_ortho_train_catalog.parquet")
        pq.write_table(pa.table(arrays), path)
        files.append((campaign, path))
    return files


def ingest_campaign(campaign: str, path: str):
    """The ingestion pipeline's node itself: read, check, drop tree-inconsistent rows, validate."""
    from gz_evo.datasets.raw import RawCatalog
    from gz_evo.pipelines.ingestion import nodes

    settings = {"reader": "galaxy_datasets", "options": {"images": "file_loc"}}
    raw = RawCatalog(paths=(Path(path),))
    table, _, _ = nodes.ingest_campaign(
        raw, settings, tolerance=0.01, check_images=False, campaign_dirs=[], campaign=campaign
    )
    return table


def ingest_and_merge(files: list[tuple[str, str]], schema, seed: int, workers: int = 1):
    """What ``kedro run --pipelines ingestion,gz_evo`` computes, minus the writes.

    ``workers=1`` runs the ingestion nodes one after the other (Kedro's SequentialRunner);
    ``workers=2`` runs two at a time, as ``kedro run --runner ThreadRunner`` does with these
    independent nodes. The merged schema is built beforehand, as its own node does.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        tables = list(pool.map(lambda file: ingest_campaign(*file), files))
    return merge_only(tables, schema, seed)


def merge_only(tables: list, schema, seed: int):
    """The ``gz_evo`` pipeline's merge node on already-ingested canonical tables."""
    from gz_evo.merge import merge_vote_tables

    fractions = {"train": 0.8, "val": 0.1, "test": 0.1}
    return merge_vote_tables(tables, schema, None, fractions, seed)


def warm_up(folder: str, seed: int) -> None:
    """Ingest a tiny universe once: lazy imports and pandera's backends load outside the timing."""
    from gz_evo.schema import load_schema

    small = Path(folder) / "warm_up"
    small.mkdir()
    ingest_and_merge(write_catalogs(str(small), 2000, seed), load_schema(SCHEMA), seed)


def measure_memory(files, schema, seed: int, folder: str) -> dict:
    """One sequential run in this (fresh) process: peak RSS increase and the merged table's size."""
    _reset_peak()
    baseline = _vm("VmRSS")
    started = time.perf_counter()
    catalog, unlabelled = ingest_and_merge(files, schema, seed)
    cold = time.perf_counter() - started
    peak = _vm("VmHWM") - baseline
    merged = int(catalog.memory_usage(deep=True).sum() + unlabelled.memory_usage(deep=True).sum())
    started = time.perf_counter()
    catalog.to_parquet(Path(folder) / "gz_evo_catalog.parquet", compression="zstd")
    write = time.perf_counter() - started
    return {
        "peak": peak,
        "merged": merged,
        "cold": cold,
        "write": write,
        "shape": catalog.shape,
        "unlabelled": len(unlabelled),
    }


def measure_times(files, schema, seed: int, repeats: int) -> tuple[dict, dict]:
    """Wall-clock and CPU seconds of each contender, interleaved so all see the same load."""
    import pyarrow.parquet as pq

    wall: dict[str, list[float]] = {"pyarrow": [], "sequential": [], "threads": [], "merge": []}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    tables = [ingest_campaign(*file) for file in files]
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        read = [pq.read_table(path) for _, path in files]
        wall["pyarrow"].append(time.perf_counter() - started)
        cpu["pyarrow"].append(time.process_time() - cpu_started)
        del read
        for name, workers in (("sequential", 1), ("threads", 2)):
            started, cpu_started = time.perf_counter(), time.process_time()
            result = ingest_and_merge(files, schema, seed, workers)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
            del result
        started, cpu_started = time.perf_counter(), time.process_time()
        result = merge_only(tables, schema, seed)
        wall["merge"].append(time.perf_counter() - started)
        cpu["merge"].append(time.process_time() - cpu_started)
        del result
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--galaxies", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import pandera.pandas  # imports are not part of the measurement

    import gz_evo.merge
    import gz_evo.pipelines.ingestion.nodes
    import gz_evo.readers
    from gz_evo.schema import load_schema

    del pandera, gz_evo
    schema = load_schema(SCHEMA)
    with tempfile.TemporaryDirectory(prefix="gz_evo_bench_") as folder:
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(1) as pool:  # keep this process clean
            files = pool.apply(write_catalogs, (folder, args.galaxies, args.seed))
        size_on_disk = sum(Path(p).stat().st_size for _, p in files)
        print(
            f"wrote {args.galaxies:,} galaxies in {len(files)} parquet catalogs "
            f"({size_on_disk / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        warm_up(folder, args.seed)
        for _, path in files:  # the OS page cache holds the files for both contenders
            Path(path).read_bytes()
        memory = measure_memory(files, schema, args.seed, folder)
        wall, cpu = measure_times(files, schema, args.seed, args.repeats)

    best = {name: min(values) for name, values in wall.items()}
    best_cpu = {name: min(values) for name, values in cpu.items()}
    print(
        f"merged table: {memory['shape'][0]:,} labelled x {memory['shape'][1]} columns, "
        f"{memory['unlabelled']:,} unlabelled, {memory['merged'] / 1e6:.0f} MB in memory"
    )
    for name, values in wall.items():
        print(
            f"{name:>10}: best {best[name]:.2f} s of {[round(t, 2) for t in values]} "
            f"(CPU: best {best_cpu[name]:.2f} s)"
        )
    print(
        f"(first sequential run, cold memory: {memory['cold']:.2f} s; "
        f"writing the merged parquet: {memory['write']:.2f} s, not counted)"
    )
    print(f"peak RSS increase: {memory['peak'] / 1e6:.0f} MB")
    print(
        f"time ratio   (ingest+merge / pyarrow read): "
        f"{best['sequential'] / best['pyarrow']:.2f} sequential, "
        f"{best['threads'] / best['pyarrow']:.2f} with 2 ingestion threads  (target <= 3)"
    )
    print(
        f"merge ratio  (merge alone / pyarrow read):   {best['merge'] / best['pyarrow']:.2f}"
        f"  (CPU {best_cpu['merge'] / best_cpu['pyarrow']:.2f}; target <= 3)"
    )
    cpu_ratio = best_cpu["sequential"] / best_cpu["pyarrow"]
    print(f"CPU ratio    (ingest+merge / pyarrow read): {cpu_ratio:.2f}")
    ratio = memory["peak"] / memory["merged"]
    print(f"memory ratio (peak RSS / merged table):     {ratio:.2f}  (target <= 3)")
    print(f"(load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
