"""Progress lines: about ``lines`` of them, monotonic, the last one at the end of the work."""

from __future__ import annotations

import logging
import re

import pytest

from gz_evo.progress import ProgressLog

logger = logging.getLogger("gz_evo.tests.progress")


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger.name]


def test_logs_about_lines_lines_and_always_the_end(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=logger.name)
    progress = ProgressLog(logger, "rendering", total=1000, unit="galaxies", lines=10)
    for _ in range(1000 // 64 + 1):
        progress.advance(min(64, 1000 - progress.done))
    lines = _lines(caplog)
    assert 8 <= len(lines) <= 11
    counts = [int(re.search(r"rendering: ([\d,]+) /", line)[1].replace(",", "")) for line in lines]
    assert counts == sorted(counts)
    assert lines[-1].startswith("rendering: 1,000 / 1,000 galaxies (100%)")
    assert "left" in lines[0] and "left" not in lines[-1]


def test_small_totals_log_every_item(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=logger.name)
    progress = ProgressLog(logger, "images", total=3, unit="shards written")
    for _ in range(3):
        progress.advance()
    assert [line.split(" (")[0] for line in _lines(caplog)] == [
        "images: 1 / 3 shards written",
        "images: 2 / 3 shards written",
        "images: 3 / 3 shards written",
    ]
