"""Kedro hooks: each run's log names the input files it read; each MLflow run says what ran.

:class:`MlflowRunTagsHooks` tags the ``kedro run``'s MLflow run (kedro-mlflow's) with the git
commit of the checkout (``git_commit``, ``git_dirty``) and the pipelines run (``kedro_pipelines``,
``kedro_namespaces``), and keeps this machine's paths out of it: kedro-mlflow's ``project_path``
tag goes, MLflow's ``mlflow.source.name`` keeps only the script's name, and any other tag that
names a path inside the project (or the home folder) names it relative to the project (``~``).

:class:`InputChecksumHooks`:

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
import re
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from gz_evo.runtime import process_rank

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


# ---- MLflow run tags ---------------------------------------------------------------------------

#: tags MLflow and kedro-mlflow set that hold this machine's paths and say nothing a git commit
#: does not: the checkout folder (kedro-mlflow) and the git remote when it is a local folder
_MACHINE_TAGS = ("project_path",)
_SOURCE_NAME = "mlflow.source.name"
_MLFLOW_GIT_COMMIT = "mlflow.source.git.commit"
_MLFLOW_GIT_BRANCH = "mlflow.source.git.branch"
_MLFLOW_GIT_REPO_URL = "mlflow.source.git.repoURL"
#: what may follow a folder's path in a tag (its end, a separator, a quote, a delimiter)
_PATH_END = r"(?=$|[/\\\s'\",;:\])}])"


def _git(project: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(project), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state(project: Path) -> dict[str, str]:
    """``commit``, ``branch`` and ``dirty`` ("true": tracked files differ from the commit) of the
    checkout at ``project``; empty where it is not a git checkout (or git is missing)."""
    commit = _git(project, "rev-parse", "HEAD")
    if not commit:
        return {}
    status = _git(project, "status", "--porcelain", "--untracked-files=no")
    state = {"commit": commit, "dirty": "unknown" if status is None else str(bool(status)).lower()}
    branch = _git(project, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        state["branch"] = branch
    return state


def _is_local_path(value: str) -> bool:
    return value.startswith(("/", "file:", "~")) or (len(value) > 1 and value[1] == ":")


def without_machine_paths(value: str, project: Path, home: Path | None = None) -> str:
    """``value`` with the project's absolute path made relative (``.``), the home folder ``~``."""
    for root, short in ((project, "."), (home, "~")):
        if root is None or str(root) in ("", "/", "."):
            continue
        for spelling in dict.fromkeys((root.as_posix(), str(root))):
            # the folder itself, not a sibling that starts like it (/home/ann vs /home/anna)
            value = re.sub(re.escape(spelling) + _PATH_END, short, value)
    return value


def run_tags(
    tags: dict[str, str], run_params: dict[str, Any], git: dict[str, str], home: Path | None
) -> tuple[dict[str, str], list[str]]:
    """(tags to set, tags to delete) for a kedro run's MLflow run that has ``tags`` so far."""
    project = Path(run_params["project_path"])
    names = run_params.get("pipeline_names") or run_params.get("pipeline_name") or ["__default__"]
    names = [names] if isinstance(names, str) else list(names)
    new = {"kedro_pipelines": "+".join(names), "git_commit": git.get("commit", "unknown")}
    if run_params.get("namespaces"):
        new["kedro_namespaces"] = "+".join(run_params["namespaces"])
    delete = [key for key in _MACHINE_TAGS if key in tags]
    if git:
        new["git_dirty"] = git["dirty"]
        # MLflow looks for git beside the script it runs (the kedro script of the venv), which
        # may be another checkout than the project's: the project's commit is the one that ran
        new[_MLFLOW_GIT_COMMIT] = git["commit"]
        if "branch" in git:
            new[_MLFLOW_GIT_BRANCH] = git["branch"]
    else:
        delete += [k for k in (_MLFLOW_GIT_COMMIT, _MLFLOW_GIT_BRANCH) if k in tags]
    if _is_local_path(tags.get(_MLFLOW_GIT_REPO_URL, "")):
        delete.append(_MLFLOW_GIT_REPO_URL)
    if _SOURCE_NAME in tags and _is_local_path(tags[_SOURCE_NAME]):
        new[_SOURCE_NAME] = Path(tags[_SOURCE_NAME]).name
    # Kedro records a runner instance as its repr: the class name says it without the address
    runner = re.fullmatch(r"<(?:[\w]+\.)*(\w+) object at 0x[0-9a-fA-F]+>", tags.get("runner", ""))
    if runner:
        new["runner"] = runner.group(1)
    for key, value in tags.items():
        if key in new or key in delete:
            continue
        relative = without_machine_paths(value, project, home)
        if relative != value:
            new[key] = relative
    return new, delete


class MlflowRunTagsHooks:
    """Tag the ``kedro run``'s MLflow run with its git commit and pipelines; drop machine paths.

    Runs after kedro-mlflow's ``before_pipeline_run`` (``trylast``), which starts the run and sets
    its tags from Kedro's run parameters. Only rank 0 talks to MLflow (``settings.py``); a run
    without an active MLflow run (tracking disabled for the pipeline) is left alone.
    """

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        if process_rank() > 0:
            return
        import mlflow

        active = mlflow.active_run()
        if active is None:
            return
        client = mlflow.MlflowClient()
        run_id = active.info.run_id
        tags = client.get_run(run_id).data.tags
        git = git_state(Path(run_params["project_path"]))
        new, delete = run_tags(tags, run_params, git, Path.home())
        for key in delete:
            client.delete_tag(run_id, key)
        mlflow.set_tags(new)
        logger.info(
            "MLflow run %s: git %s%s, pipelines %s",
            run_id,
            new["git_commit"][:12],
            " (uncommitted changes)" if new.get("git_dirty") == "true" else "",
            new["kedro_pipelines"],
        )
