"""Stage-flow figures and the report's flow section."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from lifesim.experiments import compare
from lifesim.report.flows import (
    cause_colors,
    flows_section_html,
    sankey_figure,
    transition_heatmap,
)
from lifesim.report.html import compare_report_html

STAGES = ["awareness", "consideration", "purchase"]
FLOWS = pd.DataFrame(
    {
        "from_stage": ["awareness", "awareness", "consideration", "consideration"],
        "to_stage": ["consideration", "consideration", "purchase", "awareness"],
        "cause": ["organic", "ads", "email", "organic"],
        "moves": [30, 50, 15, 5],
    }
)


def _extent_at_left(coll: PolyCollection) -> float:
    v = coll.get_paths()[0].vertices
    x0 = v[:, 0].min()
    ys = v[np.isclose(v[:, 0], x0), 1]
    return float(ys.max() - ys.min())


def test_sankey_draws_one_band_per_flow_as_wide_as_its_moves():
    fig = sankey_figure(FLOWS, STAGES, title="t")
    ax = fig.axes[0]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert sorted(round(_extent_at_left(b)) for b in bands) == [5, 15, 30, 50]
    colors = cause_colors(FLOWS["cause"])
    assert colors["organic"] == "#9e9e9e" and len(set(colors.values())) == 3
    # node bars: awareness left 80 moves out, consideration right 80 in and left 20 out
    heights = sorted(round(p.get_height()) for p in ax.patches if isinstance(p, Rectangle))
    assert heights == [5, 15, 20, 80, 80]
    labels = {t.get_text() for t in ax.texts}
    assert {"awareness 80", "consideration 20", "consideration 80", "purchase 15"} <= labels
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["organic", "ads", "email"]
    plt.close(fig)


def test_sankey_without_moves_says_so():
    fig = sankey_figure(FLOWS.iloc[:0], STAGES)
    assert "no moves" in {t.get_text() for t in fig.axes[0].texts}
    plt.close(fig)


def test_heatmap_annotates_each_move_and_marks():
    m = pd.DataFrame([[0, 1234, 5.5], [2, 0, 0], [0, 0, 0]], index=STAGES, columns=STAGES)
    fig = transition_heatmap(m)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1,234", "2", "5.5"]
    plt.close(fig)
    marks = m != 0
    fig = transition_heatmap(-m.astype(float), diverging=True, marks=marks)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["-1,234*", "-2.0*", "-5.5*"]
    plt.close(fig)


@pytest.fixture(scope="module")
def small_cmp():
    return compare(
        "configs/reference.yaml",
        strategies="none,stage_focused",
        replications=2,
        customers=300,
        days=20,
        seed=5,
    )


def test_compare_report_has_the_flow_section(small_cmp):
    sec = flows_section_html(small_cmp)
    assert sec.count("<img ") == 3  # Sankey, matrices, differences
    assert "attribution, not causation" in sec
    text = re.sub(r"data:image/png;base64,[^\"]+", "", sec)
    assert not re.search(r"\bnan\b|\binf\b|\de[+-]\d", text, re.I)
    d = small_cmp.flow_difference("stage_focused", by_cause=False)
    top = d.loc[d["diff"].abs().idxmax()]
    assert f"{top.from_stage} &rarr; {top.to_stage}</td>" in sec
    assert f"<td>{top['diff']:+,.1f}</td>" in sec
    page = compare_report_html(small_cmp)
    assert 'id="flows"' in page
    old = type(small_cmp)(**{**small_cmp.__dict__, "flow_counts": pd.DataFrame()})
    assert flows_section_html(old) == ""
