"""Progress lines for long loops: what a person watching the terminal or reading the log sees.

Kedro logs to the terminal and to ``logs/info.log`` alike, so a log line is the one kind of
progress that shows in both (a tqdm bar would not reach the log file, and interleaves badly with
parallel workers). A loop over ``total`` items logs one line each time it passes another
``1 / lines`` of the work, and always at the end, with the elapsed time and an estimate of what
is left.
"""

from __future__ import annotations

import logging
import time


class ProgressLog:
    """``advance(n)`` after each finished piece of work; about ``lines`` lines in all."""

    def __init__(
        self, logger: logging.Logger, what: str, total: int, unit: str, lines: int = 10
    ) -> None:
        self.logger, self.what, self.total, self.unit = logger, what, total, unit
        self.step = max(1, -(-total // max(1, lines)))
        self.done = 0
        self._next = self.step
        self._start = time.perf_counter()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items done; log when a step boundary (or the end) is passed."""
        self.done += count
        if self.done < self._next and self.done < self.total:
            return
        while self._next <= self.done:
            self._next += self.step
        self.logger.info("%s: %s", self.what, self.describe())

    def describe(self) -> str:
        """``'1,280 / 12,000 galaxies (11%), 9 s, about 75 s left'``."""
        elapsed = time.perf_counter() - self._start
        share = self.done / self.total if self.total else 1.0
        text = f"{self.done:,} / {self.total:,} {self.unit} ({share:.0%}), {elapsed:.0f} s"
        if 0 < self.done < self.total:
            text += f", about {elapsed * (self.total - self.done) / self.done:.0f} s left"
        return text
