"""One look for every figure the project draws: a matplotlib rc dict, applied while drawing.

Figures are built with the object API (``Figure`` + an Agg canvas, never ``pyplot``: no global
backend is chosen). rc parameters are read when artists are created, so a figure function runs
its drawing inside :func:`style` (or is decorated with :func:`styled`)::

    @styled
    def my_figure(table) -> Figure:
        figure = new_figure(6, 4)
        axes = figure.add_subplot()
        ...
        return figure

    png = png_bytes(my_figure(table))

The palette is Okabe and Ito's (colour-blind safe); curves share one colour per series across
every figure that uses :data:`PALETTE` in order.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from cycler import cycler

#: Okabe & Ito (2008): distinguishable with every common colour-vision deficiency
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # green
    "#D55E00",  # vermillion
    "#CC79A7",  # purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: neutral grey for reference lines (diagonals, nominal levels, baselines)
REFERENCE = "#7f7f7f"

STYLE: dict[str, Any] = {
    "figure.facecolor": "white",
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.facecolor": "white",
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "axes.edgecolor": "#4d4d4d",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "grid.color": "#d9d9d9",
    "grid.linewidth": 0.6,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "xtick.color": "#4d4d4d",
    "ytick.color": "#4d4d4d",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
    "errorbar.capsize": 2.5,
    "image.cmap": "viridis",
}

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The project's rc parameters while the block runs (then the caller's again)."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def styled(function: F) -> F:
    """Decorator: draw ``function``'s figure in the project's style."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with style():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float, **kwargs: Any) -> Any:
    """A ``Figure`` of ``width`` x ``height`` inches with constrained layout and an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Any, dpi: float | None = None) -> bytes:
    """The figure as PNG bytes, saved in the project's style (``savefig.*`` rc parameters)."""
    buffer = io.BytesIO()
    with style():
        figure.savefig(buffer, format="png", dpi=dpi or STYLE["savefig.dpi"])
    return buffer.getvalue()
