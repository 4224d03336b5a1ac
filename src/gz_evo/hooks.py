"""Kedro hooks: each run's log names the input files it read, with their checksums.

``logs/info.log`` (``conf/logging.yml``; git and DVC ignore ``logs/``) gets, for every dataset a
run loads that no node of the run wrote (its inputs: raw catalogs, earlier stages' tables,
shards, encoders), one line per file or folder behind it:

    input raw_dr5: data/01_raw/demo/dr5/gz_decals_volunteers_5.csv sha256=3f5c... (812,345 bytes)
    input raw_dr5: data/01_raw/demo/dr5/images/ 1,000 files, 5,123,456 bytes, manifest sha256=...

A single file is hashed whole (sha256). A folder (images, shards) is summarised by its file
count, total size and the sha256 of its manifest (each file's relative path and size), which
costs one directory walk and no reading: hashing every image of a 300,000-galaxy campaign at
every run would cost minutes. The console gets one summary line per run.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)
#: the per-file lines go to the log file only (conf/logging.yml), not to the console
files_logger = logging.getLogger("gz_evo.inputs")

_PATH_KEYS = ("filepath", "path", "image_dir", "files")


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def folder_manifest(path: Path) -> tuple[int, int, str]:
    """(files, total bytes, sha256 of the sorted "relative path<TAB>size" lines) of a folder."""
    lines, total = [], 0
    for folder, _, names in os.walk(path):
        for name in names:
            full = Path(folder) / name
            try:
                size = full.stat().st_size
            except OSError:
                continue
            total += size
            lines.append(f"{full.relative_to(path).as_posix()}\t{size}\n")
    lines.sort()
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    return len(lines), total, digest


def fingerprint(path: Path) -> str:
    """One log line's description of a file (sha256) or folder (manifest)."""
    if path.is_file():
        return f"{path} sha256={file_sha256(path)} ({path.stat().st_size:,} bytes)"
    count, total, digest = folder_manifest(path)
    return f"{path}/ {count:,} files, {total:,} bytes, manifest sha256={digest}"


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str | os.PathLike):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _described_paths(description: Any) -> list[str]:
    """Path-like values of a dataset's ``_describe()`` (nested datasets included)."""
    found: list[str] = []
    if isinstance(description, dict):
        for key, value in description.items():
            if key in _PATH_KEYS:
                found += list(_strings(value))
            elif isinstance(value, dict):
                found += _described_paths(value)
    return found


def local_paths(candidates: Iterable[str]) -> list[Path]:
    """Existing local files and folders named by ``candidates`` (globs expanded, URLs left out)."""
    paths: list[Path] = []
    for candidate in candidates:
        if "://" in candidate and not candidate.startswith("file://"):
            continue
        local = candidate.removeprefix("file://")
        matches = sorted(glob.glob(local)) if glob.has_magic(local) else [local]
        paths += [Path(m) for m in matches if Path(m).exists()]
    return list(dict.fromkeys(paths))


def dataset_paths(dataset: Any, data: Any) -> list[Path]:
    """The files and folders a loaded dataset came from.

    A raw catalog hands its paths over as data (``RawCatalog``: tables, image folder, extra
    files); any other dataset names them in ``_describe()`` (``filepath``, ``path``).
    """
    candidates: list[str] = []
    if hasattr(data, "paths") and hasattr(data, "image_dir"):
        candidates += [str(p) for p in data.paths]
        candidates += [str(data.image_dir)] if data.image_dir is not None else []
        candidates += [str(p) for p in getattr(data, "files", {}).values()]
    elif dataset is not None:
        try:
            candidates += _described_paths(dataset._describe())
        except Exception:  # a third-party dataset's description is best effort
            logger.debug("no description of %r", dataset, exc_info=True)
    return local_paths(candidates)


class InputChecksumHooks:
    """Log each run's inputs (path + sha256, or a folder's manifest) as they are first loaded."""

    def __init__(self) -> None:
        self._catalog = None
        self._inputs: set[str] = set()
        self._logged: set[str] = set()
        self._seconds = 0.0
        self._files = 0

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._catalog = catalog
        self._inputs = {name for name in pipeline.inputs() if not name.startswith("params:")} - {
            "parameters"
        }
        self._logged, self._seconds, self._files = set(), 0.0, 0
        files_logger.info(
            "kedro run %s: pipelines %s, env %s, from %s",
            run_params.get("run_id") or run_params.get("session_id"),
            run_params.get("pipeline_names") or run_params.get("pipeline_name") or "__default__",
            run_params.get("env"),
            run_params.get("project_path"),
        )

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node) -> None:
        if dataset_name not in self._inputs or dataset_name in self._logged:
            return
        self._logged.add(dataset_name)
        start = time.perf_counter()
        try:
            dataset = self._catalog.get(dataset_name) if self._catalog is not None else None
        except Exception:
            dataset = None
        for path in dataset_paths(dataset, data):
            try:
                files_logger.info("input %s: %s", dataset_name, fingerprint(path))
            except OSError as error:
                files_logger.info("input %s: %s (unreadable: %s)", dataset_name, path, error)
            self._files += 1
        self._seconds += time.perf_counter() - start

    def _summary(self, outcome: str) -> None:
        logger.info(
            "%s: %d input(s) read, %d file(s)/folder(s) checksummed in %.2f s (logs/info.log)",
            outcome,
            len(self._logged),
            self._files,
            self._seconds,
        )

    @hook_impl
    def after_pipeline_run(self, run_params, run_result, pipeline, catalog) -> None:
        self._summary("run finished")

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        self._summary(f"run failed ({type(error).__name__})")
