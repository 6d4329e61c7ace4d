"""The compare report's figures can be read: tick labels do not run into each other, and every
axis with numbers says what they are (unit included)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import ErrorbarContainer

from lifesim.report import incremental_figure


def _overlapping_ticks(fig) -> list[tuple[str, str]]:
    """Pairs of neighbouring x tick labels whose drawn boxes overlap, over every axes."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    pairs = []
    for ax in fig.axes:
        labels = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        lo, hi = ax.get_xlim()
        labels = [t for t in labels if min(lo, hi) <= t.get_position()[0] <= max(lo, hi)]
        boxes = sorted(
            ((t.get_window_extent(renderer), t.get_text()) for t in labels), key=lambda b: b[0].x0
        )
        for (a, ta), (b, tb) in zip(boxes, boxes[1:], strict=False):
            if a.x1 > b.x0:
                pairs.append((ta, tb))
    return pairs


def _incremental_stub(values: dict[str, dict[str, tuple[float, float, float]]]):
    """What incremental_figure reads from a ComparisonResult, built by hand."""
    rows = [
        dict(strategy=s, measure=m, estimate=e, ci_low=lo, ci_high=hi)
        for s, by in values.items()
        for m, (e, lo, hi) in by.items()
    ]
    return SimpleNamespace(
        incremental=pd.DataFrame(rows),
        strategies=("none", *values),
        counterfactual="none",
        alpha=0.05,
    )


# the default shop at 3,000 people: six-digit amounts on both sides of 0 (a screenshot of the
# report showed "-25,000-20,000-15,000-10,000-5,000" run together)
SHOP = {
    "kpi_focused": {
        "incremental_profit": (-24_924, -26_867, -22_981),
        "incremental_revenue": (-32_507, -37_404, -27_611),
    },
    "stage_focused": {
        "incremental_profit": (10_735, 8_606, 12_864),
        "incremental_revenue": (45_805, 40_389, 51_221),
    },
}
BIG = {  # b2b-sized: millions
    s: {m: (v * 250.0, lo * 250.0, hi * 250.0) for m, (v, lo, hi) in by.items()}
    for s, by in SHOP.items()
}


@pytest.mark.parametrize("values", [SHOP, BIG], ids=["shop", "b2b-sized"])
def test_incremental_figure_tick_labels_do_not_overlap(values):
    fig = incremental_figure(_incremental_stub(values))
    assert _overlapping_ticks(fig) == []


def test_incremental_figure_axes_say_what_and_in_which_unit_and_the_colours_are_explained():
    fig = incremental_figure(_incremental_stub(SHOP))
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["incremental profit", "incremental revenue"]
    for ax in panels:
        assert ax.get_xlabel() == "strategy - no marketing, money (currency units)"
        # the points are the estimates, in strategy order from the top
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        m = "incremental_" + ax.get_title().split()[-1]
        got = [float(c.lines[0].get_xdata()[0]) for c in bars]
        assert got == [SHOP["kpi_focused"][m][0], SHOP["stage_focused"][m][0]]
        lo, hi = ax.get_ylim()
        assert lo > 1 and hi < 0  # inverted: first strategy on top, both inside the frame
    title = fig._suptitle.get_text()
    assert "95% paired CIs" in title and "green: CI above 0" in title and "red: CI below 0" in title
