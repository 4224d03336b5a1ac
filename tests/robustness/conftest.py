"""Hypothesis profiles for the fuzz tests, and a count of the examples they ran.

``ci`` (the default): a fixed example budget per test, derandomised (every run draws the same
inputs, so CI is reproducible), a 10 s deadline per input (the bound on time per input; a typical
input takes milliseconds). ``thorough``: ten times the examples, fresh random inputs each run::

    HYPOTHESIS_PROFILE=thorough .venv/bin/pytest tests/robustness/test_fuzz.py
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": timedelta(seconds=10),
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "database": None,
}
settings.register_profile("ci", max_examples=50, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: examples run, per fuzz test (printed at the end of the session)
EXAMPLES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter) -> None:
    if EXAMPLES:
        terminalreporter.write_sep("-", "fuzz examples run")
        for name, count in sorted(EXAMPLES.items()):
            terminalreporter.write_line(f"{name}: {count}")
        terminalreporter.write_line(f"total: {sum(EXAMPLES.values())}")
