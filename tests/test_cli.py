"""The ``kedro`` command line as users meet it: no telemetry prompt, no heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

HEAVY_MODULES = ("torch", "timm", "lightning")

_REPORT_HEAVY_IMPORTS_AND_RUN_KEDRO = """
import atexit, sys
def report():
    heavy = sorted(m for m in {heavy!r} if m in sys.modules)
    sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
atexit.register(report)
from kedro.framework.cli import main
sys.argv = ["kedro", *{args!r}]
main()
"""


def run_kedro(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a kedro command in the project, with no stdin, reporting heavy modules on exit."""
    code = _REPORT_HEAVY_IMPORTS_AND_RUN_KEDRO.format(heavy=HEAVY_MODULES, args=list(args))
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=env if env is not None else os.environ.copy(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_registry_list_imports_no_deep_learning_library() -> None:
    result = run_kedro("registry", "list")
    assert result.returncode == 0, result.stderr
    assert "gz_evo" in result.stdout
    assert "HEAVY=\n" in result.stderr


def test_telemetry_consent_is_false_in_a_fresh_clone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed ``.telemetry`` opts out even where nobody set the environment variables."""
    from kedro_telemetry.plugin import _check_for_telemetry_consent

    monkeypatch.delenv("KEDRO_DISABLE_TELEMETRY", raising=False)
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    assert _check_for_telemetry_consent(PROJECT_ROOT) is False
    tracked = subprocess.run(
        ["git", "ls-files", ".telemetry"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert tracked.stdout.strip() == ".telemetry"
