"""The in-simulator experiment's estimate-vs-truth figure says what its axes and colours are."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

from lifesim.report.experiment import estimate_vs_truth_figure


def test_each_panel_names_the_effect_and_the_figure_its_ci_level_and_colours():
    est = pd.DataFrame(
        {
            "metric": ["converted_14d", "converted_14d", "clv_180"],
            "method": ["plain", "cuped", "plain"],
            "arm": ["discount"] * 3,
            "control": ["onboarding"] * 3,
            "estimate": [0.0093, 0.0094, -7.55],
            "ci_low": [-0.0045, -0.0043, -11.63],
            "ci_high": [0.0234, 0.0232, -3.48],
            "true_effect": [0.0137, 0.0137, -2.0],
            "truth_se": [0.0003, 0.0003, 0.6],
            "covers_truth": [True, True, False],
        }
    )
    res = SimpleNamespace(estimates=est, experiment=SimpleNamespace(alpha=0.1))
    fig = estimate_vs_truth_figure(res)
    panels = fig.axes
    assert [ax.get_xlabel() for ax in panels] == [
        "effect on converted_14d: arm - onboarding",
        "effect on clv_180: arm - onboarding",
    ]
    title = fig._suptitle.get_text()
    assert title.startswith("90% CIs of the estimates (red: misses the true effect)")
    assert "1.96 truth_se" in title
    # the clv estimate misses its truth and is drawn red; its truth is the diamond
    bars = [c for c in panels[1].containers if isinstance(c, ErrorbarContainer)]
    assert bars[0].lines[0].get_color() == "tab:red"
    assert float(bars[1].lines[0].get_xdata()[0]) == -2.0


def test_the_audit_figure_names_power_and_keeps_rate_bars_within_0_and_1():
    from lifesim.report.experiment import audit_figure

    tbl = pd.DataFrame(
        {
            "version": ["A/B", "A/A"],
            "metric": ["clv_180"] * 2,
            "method": ["plain"] * 2,
            "arm": ["discount"] * 2,
            "rejection_rate": [0.45, 0.0],
            "rejection_se": [0.111, 0.035],
            "coverage": [1.0, 0.9],
            "coverage_se": [0.03, 0.067],
        }
    )
    fig = audit_figure(SimpleNamespace(table=tbl, alpha=0.05))
    a1, a2 = fig.axes
    assert a1.get_title() == "rejection rate (A/B: power; A/A: false positives)"

    def ends(ax):  # (low, high) of each horizontal error bar, row by row
        bars = next(c for c in ax.containers if isinstance(c, ErrorbarContainer))
        segs = bars.lines[2][0].get_segments()
        return [(min(s[:, 0]), max(s[:, 0])) for s in segs]

    rej, cov = ends(a1), ends(a2)
    assert rej[0] == pytest.approx((0.45 - 1.96 * 0.111, 0.45 + 1.96 * 0.111))
    assert rej[1] == pytest.approx((0.0, 1.96 * 0.035))  # not below 0%
    assert cov[0] == pytest.approx((1 - 1.96 * 0.03, 1.0))  # not above 100%
    assert cov[1] == pytest.approx((0.9 - 1.96 * 0.067, 1.0))
