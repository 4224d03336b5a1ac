"""The pieces a section is made of: plain dicts (picklable, easy to test), rendered by the
template. Numbers are formatted here, once, so a table shows what its inputs hold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def fmt(value: Any, digits: int = 3) -> str:
    """``1234567`` -> ``1,234,567``; floats to ``digits`` decimals; None / NaN -> an en dash."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and digits == 0):
        return f"{int(value):,}"
    if isinstance(value, float | int):
        return "\u2013" if math.isnan(value) else f"{value:,.{digits}f}"
    try:  # numpy scalars
        return fmt(value.item(), digits)
    except AttributeError:
        return str(value)


def fmt_pm(mean: Any, spread: Any, digits: int = 3) -> str:
    """``0.412 ± 0.031``; the spread left out when it is missing (one seed)."""
    text = fmt(mean, digits)
    spread_text = fmt(spread, digits)
    return text if spread_text == "\u2013" else f"{text} \u00b1 {spread_text}"


def text(body: str) -> dict:
    return {"kind": "text", "text": body}


def heading(title: str) -> dict:
    return {"kind": "heading", "text": title}


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    caption: str = "",
    total_rows: int = 0,
    collapsed: bool = False,
) -> dict:
    """A table of already formatted cells; the last ``total_rows`` rows are set as totals;
    ``collapsed``: folded under its caption until the reader opens it."""
    return {
        "kind": "table",
        "caption": caption,
        "columns": list(columns),
        "rows": [[str(cell) for cell in row] for row in rows],
        "total_rows": total_rows,
        "collapsed": collapsed,
    }


def figure(png: bytes, caption: str, alt: str | None = None) -> dict:
    return {"kind": "figure", "png": png, "caption": caption, "alt": alt or caption}


def section(
    key: str,
    title: str,
    stage: str,
    command: str,
    blocks: list[dict],
    missing: Sequence[str] = (),
    intro: str = "",
) -> dict:
    """One section of the report. ``missing``: catalog entries that were not there (their stage
    has not run); the section then says so and how to run it. Its ``status`` is ``ran`` (nothing
    missing), ``partial`` (something missing, something shown) or ``not run`` (nothing to show).
    """
    status = "ran" if not missing else ("partial" if blocks else "not run")
    return {
        "key": key,
        "title": title,
        "stage": stage,
        "command": command,
        "missing": list(missing),
        "status": status,
        "intro": intro,
        "blocks": blocks,
    }
