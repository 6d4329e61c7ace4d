"""The sweep report's tornado chart shows both ends of every parameter and says what it shows."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Rectangle

from lifesim.report.sweep import tornado_figure


@pytest.fixture
def res():
    # both ends of the same sign (the low end smaller: it used to hide under the high end's
    # bar), and a parameter whose ends have opposite signs
    tornado = pd.DataFrame(
        {
            "param": ["budget.per_period", "economics.margin"],
            "at_low": [1_522.0, -800.0],
            "at_high": [4_956.0, 2_100.0],
        }
    )
    return SimpleNamespace(
        tornado=tornado, pair=("stage_focused", "kpi_focused"), objective="profit"
    )


def _bars(ax, label):
    bars = [c for c in ax.containers if c.get_label() == label]
    assert len(bars) == 1, label
    return list(bars[0])


def test_both_ends_are_drawn_side_by_side_with_their_values(res):
    fig = tornado_figure(res)
    ax = fig.axes[0]
    low, high = _bars(ax, "at the low end"), _bars(ax, "at the high end")
    t = res.tornado.iloc[::-1]  # widest swing on top: rows drawn bottom-up
    assert [r.get_width() for r in low] == t["at_low"].tolist()
    assert [r.get_width() for r in high] == t["at_high"].tolist()
    for lo, hi in zip(low, high, strict=True):
        assert isinstance(lo, Rectangle) and lo.get_alpha() in (None, 1.0)
        # no vertical overlap: each end is seen whatever its size
        lo_y = (lo.get_y(), lo.get_y() + lo.get_height())
        hi_y = (hi.get_y(), hi.get_y() + hi.get_height())
        assert lo_y[0] >= hi_y[1] or hi_y[0] >= lo_y[1]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == t["param"].tolist()


def test_the_tornado_says_what_is_compared_and_its_legend_covers_no_bar(res):
    fig = tornado_figure(res)
    ax = fig.axes[0]
    assert ax.get_title() == (
        "Tornado: stage_focused - kpi_focused on profit at each parameter's low and high end"
    )
    assert ax.get_xlabel().startswith("stage_focused - kpi_focused (profit")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    legend, frame = ax.get_legend().get_window_extent(r), ax.get_window_extent(r)
    assert legend.x0 >= frame.x1  # beside the axes, not over the bars
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert any("," in t for t in ticks) and not any("e+" in t for t in ticks)


def test_a_sampled_design_s_tornado_says_fifths(res):
    res.design = "lhs"  # the tornado of a sampled design compares its lowest and highest fifths
    ax = tornado_figure(res).axes[0]
    assert ax.get_title().endswith("at each parameter's lowest and highest fifth")
    assert [c.get_label() for c in ax.containers] == [
        "in the lowest fifth",
        "in the highest fifth",
    ]
