"""The README's Python examples import names that exist (docs do not rot when code moves)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
IMPORTS = sorted(
    {
        line.strip()
        for block in BLOCKS
        for line in block.splitlines()
        if re.match(r"\s*(from gz_evo[\w.]* import |import gz_evo)", line)
    }
)


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 4 and len(IMPORTS) >= 5


@pytest.mark.parametrize("statement", IMPORTS)
def test_every_readme_import_works(statement: str) -> None:
    exec(statement, {})


def test_the_simulator_example_runs() -> None:
    block = next(b for b in BLOCKS if "sample_morphology(100" in b)
    namespace: dict = {}
    exec(block, namespace)
    assert len(namespace["votes"]) == 100
