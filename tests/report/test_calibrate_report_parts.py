"""The calibration report says what the scenario got: a seasonality plot says whether its
multipliers were written into the calendar, and a fit that did not converge is not shown as
numbers."""

from __future__ import annotations

import re
from html import unescape
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lifesim._figure import subplots
from lifesim.experiments.calibration.seasonality import SeasonalFit
from lifesim.report.calibrate import _table, _unused_panels

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _weekly(p_value: float) -> SeasonalFit:
    m = np.array([1.0, 1.14, 1.02, 0.89, 1.01, 0.97, 0.97])
    table = pd.DataFrame(
        {"season": DAYS, "purchases": 100, "multiplier": m, "se": 0.05,
         "lower": m - 0.1, "upper": m + 0.1}
    )  # fmt: skip
    return SeasonalFit("day_of_week", True, "", table, p_value, "G-test")


@pytest.mark.parametrize(
    ("calendar", "says"),
    [
        ({}, "not written to the scenario"),  # p = 0.235: calibrate leaves it out
        ({"Mon": 1.0, "Tue": 1.14}, "in the scenario's calendar"),
    ],
)
def test_the_seasonality_plot_says_whether_the_scenario_has_it(calendar, says):
    res = SimpleNamespace(
        inflow=None,
        seasonality=(_weekly(0.235),),
        scenario=SimpleNamespace(calendar=SimpleNamespace(day_of_week=calendar, month={})),
    )
    (panel,) = _unused_panels(res)
    fig, ax = subplots()
    panel(ax)
    assert ax.get_title() == f"Day-of-week seasonality (test of none p = 0.23; {says})"


def _fit(converged: bool, names, est, se):
    est, se = np.asarray(est, float), np.asarray(se, float)
    return SimpleNamespace(
        converged=converged,
        names=names,
        estimate=est,
        se=se,
        interval=lambda: (est - 1.96 * se, est + 1.96 * se),
    )


def test_a_fit_that_did_not_converge_shows_no_numbers():
    spend = _fit(False, ["p", "q", "gamma"], [1.226, 4.258e30, 2.014e32], [np.nan] * 3)
    rows = pd.DataFrame(
        [
            ("Pareto/NBD", "r", 2.47, 0.434, 1.75, 3.49),
            ("Gamma-Gamma (spend)", "p", 1.226, np.nan, np.nan, np.nan),
            ("Gamma-Gamma (spend)", "q", 4.258e30, np.nan, np.nan, np.nan),
            ("Gamma-Gamma (spend)", "gamma", 2.014e32, np.nan, np.nan, np.nan),
        ],
        columns=["model", "parameter", "estimate", "se", "lower", "upper"],
    )
    res = SimpleNamespace(to_pandas=lambda: rows.copy(), spend=spend)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", _table(res))).split())
    assert "4,258" not in text and "201,377" not in text and "1.23" not in text
    assert text.count("did not converge") == 3
    assert "2.47 0.434 1.75 3.49" in text  # a converged fit keeps its numbers


def test_a_converged_spend_fit_keeps_its_numbers():
    spend = _fit(True, ["p", "q", "gamma"], [6.28, 3.62, 14.98], [0.1, 0.1, 0.5])
    rows = pd.DataFrame(
        [("Gamma-Gamma (spend)", "q", 3.62, 0.1, 3.42, 3.82)],
        columns=["model", "parameter", "estimate", "se", "lower", "upper"],
    )
    res = SimpleNamespace(to_pandas=lambda: rows.copy(), spend=spend)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", _table(res))).split())
    assert "3.62 0.1 3.42 3.82" in text and "did not converge" not in text


def test_the_text_summary_of_a_fit_that_did_not_converge_shows_no_numbers():
    """As the report's table: 'did not converge', not q = 4.258e+30 [nan, nan] se nan."""
    from lifesim.experiments.calibration.result import CalibrationResult

    rows = pd.DataFrame(
        [
            ("Pareto/NBD", "r", 2.47, 0.434, 1.75, 3.49),
            ("Gamma-Gamma (spend)", "q", 4.258e30, np.nan, np.nan, np.nan),
        ],
        columns=["model", "parameter", "estimate", "se", "lower", "upper"],
    )
    params = {"r": 0.5, "alpha": 10.0, "s": 2.0, "beta": 100.0}
    res = SimpleNamespace(
        fit=SimpleNamespace(params=params, loglik=-10.0), bgnbd=SimpleNamespace(loglik=-11.0),
        source="x.csv", cutoff="2020-01-01", holdout_end=None, customers=10, purchase_days=20,
        rows=30, repeat_buyers=5, to_pandas=lambda: rows.copy(), not_identified=[],
        stage_transitions=None, also_fitted=[], not_used=[], holdout=None,
        spend=_fit(False, ["q"], [4.258e30], [np.nan]),
    )  # fmt: skip
    text = CalibrationResult.summary(res)
    (q_line,) = [line for line in text.splitlines() if "Gamma-Gamma (spend)" in line]
    assert "did not converge" in q_line and "e+30" not in q_line and "nan" not in q_line
    assert "2.47  [1.75, 3.49]  se 0.434" in text  # the converged fit keeps its numbers
    res.spend = _fit(True, ["q"], [3.62], [0.1])
    rows.loc[1, ["estimate", "se", "lower", "upper"]] = [3.62, 0.1, 3.42, 3.82]
    assert "3.62  [3.42, 3.82]  se 0.1" in CalibrationResult.summary(res)
