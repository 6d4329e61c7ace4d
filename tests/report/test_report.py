import re
from html import unescape

import matplotlib.pyplot as plt
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


@pytest.fixture(scope="module")
def res():
    return compare(None, replications=2, seed=1, customers=600, days=40)


def test_stage_shares_figure_draws_each_stage_as_a_difference_from_the_baseline(res):
    fig = stage_shares_figure(res)
    stages = list(res.scenario.stages)
    others = [s for s in res.strategies if s != res.baseline]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [f"{s} - {res.baseline}" for s in others]
    sh = res.stage_shares
    base = sh[sh.strategy == res.baseline].set_index("day")
    for ax, s in zip(panels, others, strict=True):
        lines = [ln for ln in ax.get_lines() if ln.get_label() in stages]
        assert [ln.get_label() for ln in lines] == stages, s
        sub = sh[sh.strategy == s].set_index("day")
        for ln in lines:
            st = ln.get_label()
            want = 100 * (sub[st] - base[st])  # percentage points of the market
            assert ln.get_ydata() == pytest.approx(want.to_numpy(), abs=1e-9), (s, st)
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
    # shares of the market, on the whole 0-100% scale, averaged over the replications
    assert ax.get_ylim() == (0, 1) and ax.get_ylabel() == "share of the market ever in the stage"
    assert ax.get_title().endswith(f"(mean of {res.replications} replications)")
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50%"
    plt.close(fig)


def test_forest_figure_points_are_differences_in_their_own_unit_one_panel_per_unit(res):
    fig = forest_figure(res)
    d = res.differences.set_index(["strategy", "metric"])
    others = [s for s in res.strategies if s != res.baseline]
    panels = [ax for ax in fig.axes if ax.get_xlabel()]
    units = [ax.get_xlabel() for ax in panels]
    assert units == [
        "difference, money (currency units)",
        "difference, money per customer (currency units)",
        "difference, rates (percentage points)",
        "difference, people",
        "difference, NPS points",
    ]
    money = ["profit", "revenue", "marketing_cost"]  # cost is in: a difference to 0 is fine
    rates = ["conversion_rate", "churn_rate", "churn_rate_period", "repeat_purchase_rate"]
    expected = [
        [d.loc[(s, m), "diff"] for m in money for s in others],
        [d.loc[(s, "clv"), "diff"] for s in others],
        [100 * d.loc[(s, m), "diff"] for m in rates for s in others],
        [d.loc[(s, m), "diff"] for m in ("customers_acquired", "customers_end") for s in others],
        [d.loc[(s, "nps"), "diff"] for s in others],
    ]
    for ax, want in zip(panels, expected, strict=True):
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        got = [float(c.lines[0].get_xdata()[0]) for c in bars]
        assert got == pytest.approx(want, rel=1e-9), ax.get_xlabel()
    plt.close(fig)


def test_report_folder(tmp_path, res):
    html = compare_report_html(res)
    assert html.startswith("<!doctype html>") and html.count("data:image/png;base64,") == 7
    text = unescape(re.sub(r"<[^>]+>", "", html))  # glossary links around the terms
    # the verdict as in the text summary, but p-values below 0.001 without scientific notation
    verdict = re.sub(r"p = \d(?:\.\d+)?e-\d+", "p < 0.001", res.verdict_text())
    assert verdict in text
    out = save_compare_run(res, tmp_path / "run")
    assert (out / "report.html").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_comparison_of_one_strategy_gets_its_report(tmp_path):
    one = compare(None, strategies=["none"], replications=2, seed=1, customers=300, days=20)
    assert len(one.differences) == 0
    fig = forest_figure(one)  # used to raise KeyError: 'metric' (no differences, no columns)
    assert any("nothing to compare" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)
    save_compare_run(one, tmp_path / "run")
    assert (tmp_path / "run" / "report.html").exists()
