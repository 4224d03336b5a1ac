"""The input-checksum hook: which inputs it logs, and how it fingerprints files and folders."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from gz_evo.datasets import AtomicJSONDataset
from gz_evo.datasets.raw import RawCatalog
from gz_evo.hooks import InputChecksumHooks, dataset_paths, fingerprint, folder_manifest


def test_a_file_gets_its_sha256_and_a_folder_its_manifest(tmp_path: Path) -> None:
    (tmp_path / "images" / "a").mkdir(parents=True)
    (tmp_path / "images" / "a" / "x.png").write_bytes(b"12345")
    (tmp_path / "images" / "y.png").write_bytes(b"123")
    table = tmp_path / "votes.csv"
    table.write_text("id\n1\n")
    digest = hashlib.sha256(b"id\n1\n").hexdigest()
    assert fingerprint(table) == f"{table} sha256={digest} (5 bytes)"
    count, size, manifest = folder_manifest(tmp_path / "images")
    assert (count, size) == (2, 8)
    (tmp_path / "images" / "y.png").write_bytes(b"1234")  # a file changes size
    assert folder_manifest(tmp_path / "images")[2] != manifest
    changed = folder_manifest(tmp_path / "images")[2]
    assert fingerprint(tmp_path / "images").endswith(f"2 files, 9 bytes, manifest sha256={changed}")


def test_paths_come_from_a_raw_catalog_or_the_dataset_description(tmp_path: Path) -> None:
    for name in ("a.parquet", "b.parquet", "map.csv"):
        (tmp_path / name).write_text("x")
    raw = RawCatalog(paths=(tmp_path / "a.parquet",), image_dir=tmp_path,
                     files={"filename_mapping": tmp_path / "map.csv"})  # fmt: skip
    assert dataset_paths(None, raw) == [tmp_path / "a.parquet", tmp_path, tmp_path / "map.csv"]
    dataset = AtomicJSONDataset(str(tmp_path / "b.parquet"))
    assert dataset_paths(dataset, None) == [tmp_path / "b.parquet"]
    assert dataset_paths(MemoryDataset(1), 1) == []


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_only_the_runs_inputs_are_logged_once_each(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text("[1]")
    catalog = DataCatalog({"source": AtomicJSONDataset(str(source)),
                           "middle": AtomicJSONDataset(str(tmp_path / "mid.json"))})  # fmt: skip
    pipeline = Pipeline([Node(lambda x: x, "source", "middle", name="copy"),
                         Node(lambda x: x, "middle", "out", name="again")])  # fmt: skip
    hooks, lines = InputChecksumHooks(), _Lines()
    logger = logging.getLogger("gz_evo.inputs")
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    try:
        hooks.before_pipeline_run({"run_id": "r1", "env": "test"}, pipeline, catalog)
        hooks.after_dataset_loaded("source", [1], None)
        hooks.after_dataset_loaded("source", [1], None)
        hooks.after_dataset_loaded("middle", [1], None)  # written by the run: not an input
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    inputs = [line for line in lines.lines if line.startswith("input ")]
    digest = hashlib.sha256(b"[1]").hexdigest()
    assert inputs == [f"input source: {source} sha256={digest} (3 bytes)"]
    assert lines.lines[0].startswith("kedro run r1: pipelines __default__, env test")
