"""dvc.yaml cannot go stale: every stage's ``deps`` cover the code its ``kedro run`` executes.

For each stage ``kedro run --pipelines NAME``, the code that decides its outputs is the pipeline
package, every gz_evo module it imports (transitively, function-level imports included, with the
``__init__`` of every package on the way) and the dataset classes of the catalog entries the
pipeline reads or writes (with their imports). Each of those files must lie under one of the
stage's deps; otherwise an edit to it would leave a cache that ``dvc repro`` never rebuilds.
(The registry and settings, which every stage imports, only choose what runs.)
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import parse
import pytest
import yaml
from kedro.framework.project import configure_project

from gz_evo.pipeline_registry import register_pipelines
from tests.conftest import PROJECT_ROOT

SRC = PROJECT_ROOT / "src"
STAGE_COMMAND = re.compile(r"kedro run --pipelines (\S+)")


@cache
def _pipelines() -> dict:
    configure_project("gz_evo")
    return register_pipelines()


def _stages() -> dict[str, dict]:
    return yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]


def _kedro_stages() -> list[tuple[str, str]]:
    found = []
    for name, stage in _stages().items():
        match = STAGE_COMMAND.search(stage["cmd"])
        if match:
            found.append((name, match.group(1)))
    return found


def _module_file(module: str) -> Path | None:
    """The source file of a gz_evo module or package (None outside gz_evo)."""
    if module != "gz_evo" and not module.startswith("gz_evo."):
        return None
    base = SRC.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _package_inits(module: str) -> set[Path]:
    """``__init__.py`` of every package a module's import runs."""
    parts = module.split(".")
    files = {_module_file(".".join(parts[:i])) for i in range(1, len(parts))}
    return {f for f in files if f is not None}


def _imports_of(path: Path, module: str) -> set[str]:
    """Modules a file imports anywhere in its body (``from x import y``: x, and x.y if a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if _module_file(m) is not None}


@cache
def _closure(module: str) -> frozenset[Path]:
    """Files of ``module`` and of everything it imports within gz_evo, transitively."""
    seen: set[str] = set()
    files: set[Path] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        path = _module_file(current)
        if path is None:
            continue
        files.add(path)
        files |= _package_inits(current)
        todo.extend(_imports_of(path, current))
        todo.extend(_parent_modules(current))
    return frozenset(files)


def _parent_modules(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _pipeline_modules(pipeline: str) -> set[str]:
    folder = SRC / "gz_evo" / "pipelines" / pipeline
    return {
        ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for path in folder.rglob("*.py")
    }


def _catalog_entry(catalog: dict, dataset: str) -> dict | None:
    """The catalog entry of a dataset name: exact, else the first matching factory pattern."""
    if dataset in catalog:
        return catalog[dataset]
    for pattern, entry in catalog.items():
        if "{" in pattern and parse.parse(pattern, dataset) is not None:
            return entry
    return None


def _dataset_modules(pipeline: str) -> set[str]:
    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    modules = set()
    for dataset in _pipelines()[pipeline].datasets():
        entry = _catalog_entry(catalog, dataset)
        while isinstance(entry, dict):  # wrappers too (OptionalDataset, MlflowArtifactDataset)
            if isinstance(entry.get("type"), str) and entry["type"].startswith("gz_evo."):
                modules.add(entry["type"].rpartition(".")[0])
            entry = entry.get("dataset")
    return modules


def _code_files(pipeline: str) -> set[Path]:
    files: set[Path] = set()
    for module in _pipeline_modules(pipeline) | _dataset_modules(pipeline):
        files |= _closure(module)
    return files


def _covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(PROJECT_ROOT)
    return any(relative == Path(dep) or Path(dep) in relative.parents for dep in deps)


@pytest.mark.parametrize(("stage", "pipeline"), _kedro_stages())
def test_stage_deps_cover_the_code_it_runs(stage: str, pipeline: str) -> None:
    deps = _stages()[stage]["deps"]
    missing = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for path in _code_files(pipeline)
        if not _covered(path, deps)
    )
    assert not missing, f"dvc.yaml stage {stage!r}: add to its deps: {missing}"


def test_every_pipeline_has_a_stage() -> None:
    staged = {pipeline for _, pipeline in _kedro_stages()}
    # finetune needs a user's catalog; real is a union of staged pipelines for conf/paper's data
    unstaged = set(_pipelines()) - staged - {"__default__", "finetune", "real"}
    assert not unstaged, f"pipelines without a dvc.yaml stage: {sorted(unstaged)}"


def test_the_import_walk_finds_function_level_and_relative_imports() -> None:
    files = _closure("gz_evo.pipelines.pretraining.nodes")
    names = {str(path.relative_to(SRC)) for path in files}
    # nodes.py imports gz_evo.training.run inside a function; run imports torch-side modules
    assert "gz_evo/training/run.py" in names
    assert "gz_evo/schema.py" in names
    assert "gz_evo/__init__.py" in names
