import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from lifesim.experiments import compare
from lifesim.report import (
    compare_report_html,
    forest_figure,
    funnel_figure,
    save_compare_run,
    stage_shares_figure,
)
from lifesim.report.plots import FOREST_METRICS


@pytest.fixture(scope="module")
def res():
    return compare(None, replications=2, seed=1, customers=600, days=40)


def test_stage_shares_figure_has_one_stacked_panel_per_strategy(res):
    fig = stage_shares_figure(res)
    stages = list(res.scenario.stages)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(res.strategies)
    for ax, s in zip(panels, res.strategies, strict=True):
        assert len(ax.collections) == len(stages), s  # one band per stage
        # the top of the stack is the whole market every day
        top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
        assert top == pytest.approx(1.0, abs=1e-6), s
    plt.close(fig)


def test_funnel_figure_bars_are_the_funnel_table(res):
    fig = funnel_figure(res)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == len(res.strategies)
    for c, s in zip(bars, res.funnel.index, strict=True):
        heights = [b.get_height() for b in c]
        assert heights == pytest.approx(res.funnel.loc[s].tolist()), s
    assert [t.get_text() for t in ax.get_xticklabels()] == list(res.funnel.columns)
    plt.close(fig)


def test_forest_figure_points_are_differences_in_percent_of_the_baseline(res):
    fig = forest_figure(res)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    base = res.summary_table[res.summary_table.strategy == res.baseline].set_index("metric")
    d = res.differences.set_index(["strategy", "metric"])
    others = [s for s in res.strategies if s != res.baseline]
    shown = [m for m in FOREST_METRICS if np.isfinite(base.loc[m, "mean"]) and base.loc[m, "mean"]]
    assert "marketing_cost" not in shown  # 0 for the baseline 'none': no % of it
    expected = [
        100 * d.loc[(s, m), "diff"] / abs(base.loc[m, "mean"]) for m in shown for s in others
    ]
    assert len(bars) == len(expected)
    got = [float(c.lines[0].get_xdata()[0]) for c in bars]
    assert got == pytest.approx(expected, rel=1e-9)
    plt.close(fig)


def test_report_folder(tmp_path, res):
    html = compare_report_html(res)
    assert html.startswith("<!doctype html>") and html.count("data:image/png;base64,") == 4
    assert res.verdict_text() in html
    out = save_compare_run(res, tmp_path / "run")
    assert (out / "report.html").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
