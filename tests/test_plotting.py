"""One style for every figure: applied while drawing, restored afterwards."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.colors import to_hex

from gz_evo.evaluation.transfer import label_efficiency_figure
from gz_evo.plotting import PALETTE, STYLE, new_figure, png_bytes, styled


def test_styled_figures_draw_in_the_project_style_and_leave_rc_alone() -> None:
    before = matplotlib.rcParams["axes.spines.top"]

    @styled
    def draw():
        figure = new_figure(2, 2)
        axes = figure.add_subplot()
        (line,) = axes.plot([0, 1], [1, 0])
        return figure, axes, line, matplotlib.rcParams["font.size"]

    figure, axes, line, size = draw()
    assert size == STYLE["font.size"]
    assert not axes.spines["top"].get_visible() and to_hex(line.get_color()) == PALETTE[0].lower()
    assert matplotlib.rcParams["axes.spines.top"] == before
    assert png_bytes(figure, dpi=30)[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_downstream_figures_share_the_palette() -> None:
    summary = pd.DataFrame(
        {
            "task": "ring",
            "encoder": ["a", "a", "b", "b"],
            "protocol": ["linear_probe", "finetune", "linear_probe", "finetune"],
            "budget": [10, 10, 10, 10],
            "error_mean": [0.1, 0.2, 0.3, 0.4],
            "error_std": [0.01] * 4,
        }
    )
    (axes,) = label_efficiency_figure(summary, "ring").axes
    colours = [to_hex(line.get_color()) for line in axes.get_lines()]
    assert set(colours) == {PALETTE[0].lower(), PALETTE[1].lower()}  # one colour per encoder
    assert not axes.spines["right"].get_visible()
