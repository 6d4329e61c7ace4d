"""The in-simulator experiment's estimate-vs-truth figure says what its axes and colours are."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
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
