"""Tiny catalogs in the REAL published column layouts (see ../shared/FORMATS.md), for reader tests.

Votes follow the decision tree (a question's voters are those who chose the answer leading to
it), so the fixtures pass every check unless a test breaks them on purpose.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from PIL import Image

from gz_evo.readers.gz2_hart import STEMS
from gz_evo.schema import Schema, campaign_suffix, load_campaign

HART_T08 = (
    "t08_odd_feature_a19_ring",
    "t08_odd_feature_a20_lens_or_arc",
    "t08_odd_feature_a21_disturbed",
    "t08_odd_feature_a22_irregular",
    "t08_odd_feature_a23_other",
    "t08_odd_feature_a24_merger",
    "t08_odd_feature_a38_dust_lane",
)
HART_SUFFIXES = ("count", "weight", "fraction", "weighted_fraction", "debiased", "flag")

USER_CAMPAIGN = {
    "name": "fixture_deep",
    "title": "A user's own deep-field campaign (test fixture)",
    "suffix": "-fdeep",
    "questions": [
        {"name": "smooth-or-featured", "answers": ["smooth", "featured", "artifact"]},
        {
            "name": "clumpy",
            "answers": ["yes", "no"],
            "depends_on": "smooth-or-featured_featured",
        },
        {"name": "merging", "answers": ["none", "merger"], "depends_on": None},
    ],
}


def tree_votes(schema: Schema, n: int, rng: np.random.Generator, mean_total: int = 40) -> dict:
    """Canonical column -> int64 counts that respect the schema's dependencies."""
    counts: dict[str, np.ndarray] = {}
    roots = rng.poisson(mean_total, n) + 3
    for question in schema.questions:
        totals = roots if question.depends_on is None else counts[question.depends_on]
        pvals = rng.dirichlet(np.ones(len(question.answers)))
        votes = rng.multinomial(totals, pvals)
        for i, column in enumerate(question.answer_columns):
            counts[column] = votes[:, i].astype(np.int64)
    return counts


def tiny_image(path: Path, fmt: str = "PNG", colour: int = 128) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), colour, dtype=np.uint8)).save(buffer, format=fmt)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _iaunames(n: int, rng: np.random.Generator) -> np.ndarray:
    ra = rng.uniform(0, 360, n)
    return np.array(
        [f"J{int(r / 15):02d}{i:04d}.{i % 100:02d}+00{i % 60:02d}02.0" for i, r in enumerate(ra)]
    )


def write_decals(
    folder: Path, n: int = 30, seed: int = 0, campaign: str = "dr5", images: bool = True
) -> dict:
    """``gz_decals_volunteers_5.csv`` + ``images/{iauname[:4]}/{iauname}.png``."""
    rng = np.random.default_rng(seed)
    schema = load_campaign(campaign)
    suffix = campaign_suffix(campaign)
    votes = tree_votes(schema, n, rng)
    names = _iaunames(n, rng)
    columns: dict[str, object] = {
        "iauname": names,
        "ra": rng.uniform(0, 360, n),
        "dec": rng.uniform(-10, 30, n),
        "redshift": rng.uniform(0.01, 0.1, n),
        "upload_group": "active_baseline",
        "png_loc": [f"/Volumes/alpha/decals/png_native/dr5/{x[:4]}/{x}.png" for x in names],
    }
    for question in schema.questions:
        plain = question.name.removesuffix(suffix)
        total = sum(votes[c] for c in question.answer_columns)
        columns[f"{plain}_total-votes"] = total
        for answer, column in zip(question.answers, question.answer_columns, strict=True):
            columns[f"{plain}_{answer}"] = votes[column]
            with np.errstate(invalid="ignore", divide="ignore"):
                columns[f"{plain}_{answer}_fraction"] = votes[column] / total
            columns[f"{plain}_{answer}_debiased"] = columns[f"{plain}_{answer}_fraction"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"gz_decals_volunteers_{campaign[2:]}.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    if images:
        for name in names:
            tiny_image(folder / "images" / name[:4] / f"{name}.png")
    return {"path": path, "image_dir": folder / "images", "ids": names, "votes": votes}


def write_gz2_hart(folder: Path, n: int = 30, seed: int = 1) -> dict:
    """``gz2_hart16.csv`` (231 columns), ``gz2_filename_mapping.csv``, ``images/{asset_id}.jpg``."""
    rng = np.random.default_rng(seed)
    schema = load_campaign("gz2")
    votes = tree_votes(schema, n, rng)
    objids = 587732591714893851 + np.arange(n, dtype=np.int64) * 1_000_003
    columns: dict[str, object] = {
        "dr7objid": objids,
        "ra": rng.uniform(0, 360, n),
        "dec": rng.uniform(-10, 60, n),
        "rastring": "13:22:00.16",
        "decstring": "+00:52:02.0",
        "sample": "original",
        "gz2_class": "Sb",
        "total_classifications": 45,
        "total_votes": 295,
    }
    reverse = {f"{q}-gz2_{a}": stem for stem, (q, a) in STEMS.items()}
    stems = sorted([*STEMS, *HART_T08], key=lambda s: int(re.search(r"_a(\d\d)_", s).group(1)))
    for stem in stems:
        column = next((c for c, s in reverse.items() if s == stem), None)
        count = votes[column] if column else rng.integers(0, 5, n)
        for suffix in HART_SUFFIXES:
            columns[f"{stem}_{suffix}"] = count if suffix == "count" else rng.uniform(0, 1, n)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gz2_hart16.csv"
    frame = pd.DataFrame(columns)
    assert frame.shape[1] == 231
    frame.to_csv(path, index=False)
    asset_ids = 10_000 + np.arange(n)
    mapping = pd.DataFrame({"objid": objids, "sample": "original", "asset_id": asset_ids})
    mapping.to_csv(folder / "gz2_filename_mapping.csv", index=False)
    for asset in asset_ids:
        tiny_image(folder / "images" / f"{asset}.jpg", fmt="JPEG")
    return {
        "path": path,
        "mapping": folder / "gz2_filename_mapping.csv",
        "image_dir": folder / "images",
        "ids": objids.astype(str),
        "votes": votes,
    }


def _suffixed_columns(schema: Schema, votes: dict, float_counts: bool) -> dict:
    columns: dict[str, object] = {}
    for question in schema.questions:
        total = sum(votes[c] for c in question.answer_columns)
        for column in question.answer_columns:
            columns[column] = votes[column].astype(float) if float_counts else votes[column]
            with np.errstate(invalid="ignore", divide="ignore"):
                columns[f"{column}_fraction"] = votes[column] / total
        columns[f"{question.name}_total-votes"] = total
    return columns


def write_galaxy_datasets(
    folder: Path, n: int = 30, seed: int = 2, campaign: str = "candels"
) -> dict:
    """``{campaign}_ortho_{train,test}_catalog.parquet`` + ``images/{filename}``."""
    rng = np.random.default_rng(seed)
    schema = load_campaign(campaign)
    votes = tree_votes(schema, n, rng, mean_total=30)
    ids = np.array([f"GDS_{1000 + i}" for i in range(n)])
    frame = pd.DataFrame(
        {
            "id_str": ids,
            "filename": [f"{i}.jpg" for i in ids],
            "file_loc": [f"/share/nas2/walml/galaxy_zoo/candels/{i}.jpg" for i in ids],
            "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-30, 60, n),
            **_suffixed_columns(schema, votes, float_counts=True),
            "clump-configuration_chain_fraction": rng.uniform(0, 1, n),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    cut = int(0.8 * n)
    paths = []
    for split, part in (("train", frame.iloc[:cut]), ("test", frame.iloc[cut:])):
        path = folder / f"{campaign}_ortho_{split}_catalog.parquet"
        part.to_parquet(path, index=False)
        paths.append(path)
    for i in ids:
        tiny_image(folder / "images" / f"{i}.jpg", fmt="JPEG")
    return {"paths": paths, "image_dir": folder / "images", "ids": ids, "votes": votes}


def write_huggingface(folder: Path, n: int = 30, seed: int = 3, campaign: str = "dr8") -> dict:
    """``data/{train,test}-00000-of-00001.parquet`` with the HF ``Image`` struct per row."""
    rng = np.random.default_rng(seed)
    schema = load_campaign(campaign)
    votes = tree_votes(schema, n, rng)
    ids = np.array([f"{387274 + i}_{3520 + i}" for i in range(n)])
    blobs = [tiny_image(None, fmt="JPEG", colour=i % 256) for i in range(n)]
    image = pa.array(
        [{"bytes": b, "path": f"{i}.jpg"} for b, i in zip(blobs, ids, strict=True)],
        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    )
    arrays = {"image": image, "id_str": pa.array(ids), "dataset_name": pa.array(["gz_desi"] * n)}
    arrays["ra"] = pa.array(rng.uniform(0, 360, n))
    arrays["dec"] = pa.array(rng.uniform(-10, 30, n))
    for question in schema.questions:
        total = sum(votes[c] for c in question.answer_columns)
        for k, column in enumerate(question.answer_columns):
            arrays[column] = pa.array(votes[column].astype(np.int32))
            with np.errstate(invalid="ignore", divide="ignore"):
                fraction = (votes[column] / total).astype(np.float32)
            arrays[f"{column}_fraction"] = pa.array(fraction, from_pandas=True)
            if k == 0:
                arrays[f"{question.name}_total-votes"] = pa.array(total.astype(np.int32))
    table = pa.table(arrays)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    cut = int(0.8 * n)
    paths = [
        folder / "data" / "train-00000-of-00001.parquet",
        folder / "data" / "test-00000-of-00001.parquet",
    ]
    pq.write_table(table.slice(0, cut), paths[0])
    pq.write_table(table.slice(cut), paths[1])
    return {"paths": paths, "ids": ids, "votes": votes, "blobs": blobs}


def write_user_campaign(campaign_dir: Path, name: str = USER_CAMPAIGN["name"]) -> Path:
    campaign_dir.mkdir(parents=True, exist_ok=True)
    path = campaign_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**USER_CAMPAIGN, "name": name}, sort_keys=False))
    return path


def write_user(
    folder: Path, campaign_dir: Path, n: int = 20, seed: int = 4, name: str = USER_CAMPAIGN["name"]
) -> dict:
    """``votes.csv`` (``id_str``, ``file_loc`` relative to the folder, suffixed counts) + YAML."""
    write_user_campaign(campaign_dir, name)
    schema = load_campaign(name, [campaign_dir])
    rng = np.random.default_rng(seed)
    votes = tree_votes(schema, n, rng, mean_total=20)
    ids = np.array([f"deep-{i:04d}" for i in range(n)])
    frame = pd.DataFrame({"id_str": ids, "file_loc": [f"images/{i}.png" for i in ids], **votes})
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "votes.csv", index=False)
    for i in ids:
        tiny_image(folder / "images" / f"{i}.png")
    return {"path": folder / "votes.csv", "ids": ids, "votes": votes, "campaign_dir": campaign_dir}


def write_image_catalog(folder: Path, n: int = 10, prefix: str = "unl", labels: bool = False):
    """``catalog.csv`` (``id_str``, ``file_loc``[, ``ring``, ``tidal``]) + images."""
    ids = np.array([f"{prefix}-{i:04d}" for i in range(n)])
    frame = pd.DataFrame({"id_str": ids, "file_loc": [f"images/{i}.png" for i in ids]})
    if labels:
        frame["ring"] = np.arange(n) % 2
        frame["tidal"] = np.array(["none", "shell", "stream", "plume"])[np.arange(n) % 4]
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "catalog.csv", index=False)
    for i in ids:
        tiny_image(folder / "images" / f"{i}.png")
    return {"path": folder / "catalog.csv", "ids": ids, "frame": frame}


def write_universe(raw: Path, campaign_dir: Path, n: int = 12) -> dict:
    """The demo universe's raw layout (data/01_raw/demo/...) in the real formats, tiny."""
    return {
        "dr5": write_decals(raw / "dr5", n=n),
        "dr8": write_huggingface(raw / "dr8", n=n),
        "gz2": write_gz2_hart(raw / "gz2", n=n),
        "candels": write_galaxy_datasets(raw / "candels", n=n),
        "demo_deep": write_user(raw / "demo_deep", campaign_dir, n=n, name="demo_deep"),
        "unlabelled": write_image_catalog(raw / "unlabelled", n=5),
        "downstream": write_image_catalog(raw / "downstream", n=6, prefix="ds", labels=True),
    }


def write_project_universe(project: Path, n: int) -> dict:
    """:func:`write_universe` in a project's ``data/01_raw/demo``, demo_deep voting in the
    project's own ``demo_deep.yaml`` (the fixture's campaign file copied in if it has none)."""
    campaign_dir = project / "conf" / "base" / "campaigns"
    scratch = project / "scratch_campaigns"
    universe = write_universe(project / "data/01_raw/demo", scratch, n=n)
    if not (campaign_dir / "demo_deep.yaml").exists():
        shutil.copy(scratch / "demo_deep.yaml", campaign_dir / "demo_deep.yaml")
    else:
        schema = load_campaign("demo_deep", [campaign_dir])
        frame = pd.read_csv(universe["demo_deep"]["path"])[["id_str", "file_loc"]]
        votes = tree_votes(schema, len(frame), np.random.default_rng(0))
        pd.concat([frame, pd.DataFrame(votes)], axis=1).to_csv(
            universe["demo_deep"]["path"], index=False
        )
    shutil.rmtree(scratch)
    return universe


class LogLines(logging.Handler):
    """Collects the messages of the records it handles (attach it to a logger under test)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
