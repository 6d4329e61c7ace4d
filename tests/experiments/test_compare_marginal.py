"""Marginal ROI of budget steps: by hand from the runs table, and on a useless ad (ROI -1)."""

import json

import pytest
from scipy import stats

from lifesim.errors import ConfigError
from lifesim.experiments import marginal_roi
from lifesim.experiments.incremental import COUNTERFACTUAL
from tests.experiments.test_verdict import _scenario


def test_a_useless_ad_returns_minus_one_per_extra_unit_of_spend():
    r = marginal_roi(
        _scenario(), "spend_3", budgets=[12, 0, 6], replications=3, seed=4, trust_code=True
    )
    assert r.budgets == (0.0, 6.0, 12.0)
    lv = r.levels.set_index("budget")
    assert lv.loc[0.0, "spend"] == 0 and lv.loc[0.0, "incremental_profit"] == 0
    # the ad changes nothing but the money spent: incremental profit = -spend, exactly
    assert lv.loc[12.0, "spend"] > lv.loc[6.0, "spend"] > 0
    assert lv.loc[[6.0, 12.0], "incremental_profit"].to_numpy() == pytest.approx(
        -lv.loc[[6.0, 12.0], "spend"].to_numpy()
    )
    for s in r.steps.itertuples():
        assert s.marginal_roi == pytest.approx(-1.0)
        assert (s.roi_ci_low, s.roi_ci_high) == pytest.approx((-1.0, -1.0))
    json.dumps(r.to_dict(), allow_nan=False)


def test_steps_are_paired_differences_by_hand():
    r = marginal_roi(
        None, "stage_focused", budgets=[2000, 8000], replications=3, customers=600, days=60, seed=3
    )
    runs = r.runs
    assert (runs.strategy == COUNTERFACTUAL).sum() == 3
    w = runs[runs.strategy == "stage_focused"].pivot(
        index="replication", columns="budget", values=["profit", "marketing_cost"]
    )
    dp = (w["profit"][8000.0] - w["profit"][2000.0]).to_numpy()
    ds = (w["marketing_cost"][8000.0] - w["marketing_cost"][2000.0]).to_numpy()
    s = r.steps.iloc[0]
    assert s.extra_profit == pytest.approx(dp.mean()) and s.extra_spend == pytest.approx(ds.mean())
    ci = stats.ttest_1samp(dp, 0).confidence_interval()
    assert (s.ci_low, s.ci_high) == pytest.approx((ci.low, ci.high))
    assert s.profit_per_budget_unit == pytest.approx(dp.mean() / 6000)
    if ds.mean() != 0:
        assert s.marginal_roi == pytest.approx(dp.sum() / ds.sum())
    cf = runs[runs.strategy == COUNTERFACTUAL].set_index("replication")["profit"]
    inc = (w["profit"][2000.0] - cf).to_numpy()
    assert r.levels.iloc[0].incremental_profit == pytest.approx(inc.mean())
    assert "marginal ROI" in r.summary() and "<table" in r._repr_html_()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budgets": [1000]}, "budgets: must be >= 2 distinct"),
        ({"budgets": [1000, 1000]}, "budgets: must be >= 2 distinct"),
        ({"budgets": [-1, 1000]}, "budgets: must be >= 2 distinct"),
        ({"budgets": ["a", 1]}, "budgets: must be numbers"),
        ({"budgets": [0, 1], "strategy": "nope"}, "unknown strategy 'nope'"),
        ({"budgets": [0, 1], "replications": 1}, "replications"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    kwargs = {"strategy": "stage_focused", **kwargs}
    with pytest.raises(ConfigError, match=match):
        marginal_roi(None, **kwargs)


def test_marginal_roi_is_exported():
    import lifesim.experiments as ex

    assert {"marginal_roi", "MarginalROIResult"} <= set(ex.__all__)
