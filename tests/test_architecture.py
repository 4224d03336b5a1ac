"""The import graph follows the layers: no module imports one from a layer above it.

Pipelines sit on top; training and evaluation in the middle; nn.Modules below them; then the
data side (readers, simulation, merge, images, Kedro datasets); schema, losses and small
utilities on the ground. Imports inside functions count too (they are how heavy libraries are
kept out of light commands, not a way around the layers).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "src" / "gz_evo"

#: bottom to top; a module may import its own layer or lower ones
LAYERS: list[set[str]] = [
    {
        "runtime",
        "config",
        "memory",
        "hashing",
        "sources",
        "schema",
        "losses",
        "checks",
        "plotting",
        "progress",
        "dvc_cache",
    },
    {"datasets", "images", "readers", "simulate", "merge"},
    {"models"},
    {"training", "evaluation", "science", "reporting"},
    {"pipelines", "pipeline_registry", "settings", "hooks", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _room(module: str) -> str:
    """``gz_evo.training.core`` -> ``training``."""
    return module.split(".")[1]


def _project_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.startswith("gz_evo.")]
    return found


def _own_room(path: Path) -> str:
    return path.stem if path.parent == PACKAGE else path.relative_to(PACKAGE).parts[0]


def _modules() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE
    )


def test_every_room_of_the_package_has_a_layer() -> None:
    rooms = {_own_room(path) for path in _modules()}
    assert rooms <= set(RANK), f"add {sorted(rooms - set(RANK))} to LAYERS"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_from_a_layer_above_it(path: Path) -> None:
    own = _own_room(path)
    upward = [
        f"line {line}: {name} ({_room(name)} is above {own})"
        for line, name in _project_imports(path)
        if RANK[_room(name)] > RANK[own]
    ]
    assert not upward, f"{path.relative_to(PROJECT_ROOT)} imports upward: {upward}"


def test_no_pipeline_imports_another_pipeline() -> None:
    for path in (PACKAGE / "pipelines").rglob("*.py"):
        own = path.relative_to(PACKAGE / "pipelines").parts[0]
        for line, name in _project_imports(path):
            parts = name.split(".")
            if parts[1] == "pipelines" and len(parts) > 2:
                assert parts[2] == own, f"{path}:{line} imports {name}"


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule is not vacuous: a ground-floor module importing training is caught."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from gz_evo.training.core import TrainingModule\n")
    ((line, name),) = _project_imports(probe)
    assert line == 2 and RANK[_room(name)] > RANK["schema"]
