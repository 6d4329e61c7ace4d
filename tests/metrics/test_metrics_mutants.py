"""Run metrics on a hand-built result, every number worked out by hand (benchmarks/mutation.py).

The result is a stand-in with only the attributes the metric functions read, so each metric's
definition is checked on values small enough to compute in the comments, independently of the
engine.
"""

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lifesim.metrics import cac_by_channel, funnel, run_metrics, stage_conversion, time_in_stage
from lifesim.metrics.run import _churn_period, _periods, _revenue_churn

STAGES = ["lead", "buyer", "gone"]
KINDS = ["prospect", "customer", "churned"]


def _cat(values):
    return pd.Categorical(values, categories=STAGES)


def fake(days=25, period_days=10, cost=20.0, tactics=True, snapshots=3, purchases=None):
    """Five people.

    person  initial  first_customer_day  stage  orders  revenue  nps  acquired_by
    0       yes      0                   buyer  3       30       10   -
    1       no       5                   buyer  1       10       9    ads
    2       no       7                   gone   2       20       6    ads
    3       no       -1                  lead   0       0        3    -      (never a customer)
    4       no       3                   gone   0       0        7    mail
    """
    people = pd.DataFrame(
        {
            "initial_customer": [True, False, False, False, False],
            "first_customer_day": [0, 5, 7, -1, 3],
            "stage": _cat(["buyer", "buyer", "gone", "lead", "gone"]),
            "initial_stage": _cat(["buyer", "lead", "lead", "lead", "lead"]),
            "purchases": [3, 1, 2, 0, 0],
            "revenue": [30.0, 10.0, 20.0, 0.0, 0.0],
            "nps_score": [10, 9, 6, 3, 7],
            "acquired_by": ["", "ads", "ads", "", "mail"],
        }
    )
    tac = pd.DataFrame(
        {
            "tactic": ["ads", "mail", "coupon", "banner"],
            "group": ["acquisition", "acquisition", "retention", "acquisition"],
            "channel": ["search", "email", "email", "display"],
            "cost": [9.0, 3.0, 8.0, 2.0],
            "issued": [0, 0, 4, 0],
            "redeemed": [0, 0, 1, 0],
        }
    )
    if purchases is None:
        purchases = pd.DataFrame(
            {
                "person": [0, 0, 0, 1, 2, 2],
                "day": [2, 12, 22, 15, 8, 18],
                "amount": [10.0, 10.0, 10.0, 10.0, 5.0, 15.0],
            }
        )
    snaps = pd.DataFrame(
        {
            "s0": [True, False, False, False, False],
            "s1": [True, True, True, False, True],
            "s2": [True, True, False, False, False],
        }
    ).iloc[:, :snapshots]
    # events: (person, day, from, to); people 1, 2, 4 move lead -> buyer, 2 and 4 buyer -> gone
    events = pd.DataFrame(
        {
            "person": [4, 1, 2, 4, 2],
            "day": [3, 5, 7, 9, 20],
            "from_stage": _cat(["lead", "lead", "lead", "buyer", "buyer"]),
            "to_stage": _cat(["buyer", "buyer", "buyer", "gone", "gone"]),
        }
    )
    return SimpleNamespace(
        scenario=SimpleNamespace(
            economics=SimpleNamespace(margin=0.5),
            budget=SimpleNamespace(period_days=period_days),
        ),
        days=days,
        customers=5,
        people=people,
        revenue_total=60.0,
        marketing_cost=cost,
        stage_names=STAGES,
        stage_kinds=KINDS,
        tactics=tac if tactics else None,
        customer_snapshots=snaps if snapshots else None,
        purchases=purchases,
        events=events,
        stage_counts=None,
    )


def test_scalar_metrics_by_hand():
    m = run_metrics(fake())
    assert m["profit"] == 0.5 * 60 - 20 and m["roi"] == pytest.approx(10 / 20)
    assert m["customers_acquired"] == 3.0  # people 1, 2, 4
    assert m["clv"] == pytest.approx(0.5 * (10 + 20 + 0) / 3)
    assert m["cac"] == pytest.approx((9 + 3 + 2) / 3)  # acquisition-group cost only
    assert m["conversion_rate"] == pytest.approx(3 / 4)  # 4 people were not customers
    assert m["customers_end"] == 2.0
    assert m["churn_rate"] == pytest.approx(2 / 4)  # of the 4 ever customers, 2 are gone
    assert m["repeat_purchase_rate"] == pytest.approx(2 / 3)
    # ever customers' scores 10, 9, 6, 7: promoters 2/4, detractors (0-6) 1/4 -> 25
    assert m["nps"] == pytest.approx(25.0)
    assert m["coupon_redemption_rate"] == pytest.approx(1 / 4)


def test_roi_with_a_small_spend_and_undefined_ratios():
    assert run_metrics(fake(cost=0.5))["roi"] == pytest.approx((30 - 0.5) / 0.5)
    m = run_metrics(fake(cost=0.0, tactics=False))
    assert math.isnan(m["roi"]) and math.isnan(m["coupon_redemption_rate"])
    assert m["cac"] == 0.0  # no acquisition spend, 3 acquired


def test_no_one_ever_a_customer_leaves_rates_undefined():
    r = fake()
    r.people["first_customer_day"] = -1
    r.people["initial_customer"] = False
    r.people["purchases"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # undefined, not 0/0
        m = run_metrics(r)
    for k in ("clv", "cac", "churn_rate", "repeat_purchase_rate", "nps"):
        assert math.isnan(m[k]), k
    assert m["customers_acquired"] == 0.0 and m["conversion_rate"] == 0.0


def test_repeat_rate_is_zero_when_nobody_orders_twice():
    r = fake()
    r.people["purchases"] = [1, 1, 0, 0, 1]
    assert run_metrics(r)["repeat_purchase_rate"] == 0.0


def test_everyone_a_customer_from_the_start_has_no_conversion_rate():
    r = fake()
    r.people["initial_customer"] = True
    assert math.isnan(run_metrics(r)["conversion_rate"])


@pytest.mark.parametrize(
    ("days", "ends"),
    [(25, [9, 19, 24]), (20, [9, 19]), (10, [9]), (5, [4]), (40, [9, 19, 29, 39])],
)
def test_budget_periods_end_on_the_last_day(days, ends):
    per, got = _periods(fake(days=days))
    assert got.tolist() == ends


def test_period_churn_by_hand():
    # snapshot columns s0, s1, s2: customers at s0 = {0}, kept at s1 -> 0/1;
    # at s1 = {0, 1, 2, 4}, kept at s2 = {0, 1} -> 2/4; mean 0.25
    assert _churn_period(fake()) == pytest.approx(0.25)
    assert _churn_period(fake(snapshots=2)) == pytest.approx(0.0)
    assert math.isnan(_churn_period(fake(snapshots=1)))
    assert math.isnan(_churn_period(fake(snapshots=0)))


def test_period_churn_without_customers_is_undefined():
    r = fake()
    r.customer_snapshots = r.customer_snapshots & False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # undefined, not the mean of nothing
        assert math.isnan(_churn_period(r))


def test_revenue_churn_by_hand():
    # periods end 9, 19, 24: revenue by period 15 (p0: 10 + 5), 35 (p1: 10 + 10 + 15),
    # 10 (p2: person 0); R_new of p1 = 10 (person 1 bought nothing in p0), of p2 = 0.
    # (15 - (35 - 10)) / 15 = -2/3 and (35 - 10) / 35 = 5/7 -> mean
    assert _revenue_churn(fake()) == pytest.approx((-2 / 3 + 5 / 7) / 2, rel=1e-12)
    # with periods ending 9, 19 only: p0 = 15, p1 = 35 + 10 (day 22 is past the end? no:
    # days=20 keeps purchases on days <= 19) -> use the first two purchases' periods only
    two = fake(days=20, purchases=fake().purchases.query("day < 20"))
    # p0 = 15, p1 = 10 + 10 + 15 = 35, R_new = 10 -> -2/3
    assert _revenue_churn(two) == pytest.approx(-2 / 3, rel=1e-12)


def test_revenue_churn_skips_periods_without_revenue():
    # small amounts (< 1) and an empty middle period: p0 = 0.5, p1 = 0, p2 = 0.25 (person 1,
    # new): only p0 -> p1 counts: (0.5 - (0 - 0)) / 0.5 = 1
    buys = pd.DataFrame({"person": [0, 1], "day": [3, 21], "amount": [0.5, 0.25]})
    assert _revenue_churn(fake(purchases=buys)) == pytest.approx(1.0)
    none = pd.DataFrame({"person": [1], "day": [21], "amount": [3.0]})
    assert math.isnan(_revenue_churn(fake(purchases=none)))  # no revenue before the last
    assert math.isnan(_revenue_churn(fake(days=10)))  # one period


def test_funnel_by_hand():
    f = funnel(fake())
    assert f.name == "ever_in" and f.index.name == "stage"
    # lead: 1, 2, 3, 4 at the start; buyer: 0 at the start + 1, 2, 4; gone: 2, 4
    assert f.to_dict() == {"lead": 4 / 5, "buyer": 4 / 5, "gone": 2 / 5}
    assert f.dtype == np.float64


def test_stage_conversion_by_hand():
    r = fake()
    # people in each stage at the end of days 0..3 (4 days); start of day = sum - last + initial
    r.stage_counts = pd.DataFrame(
        {"lead": [4, 4, 4, 3], "buyer": [1, 1, 1, 2], "gone": [0, 0, 0, 0]}
    )
    out = stage_conversion(r).set_index(["from_stage", "to_stage"])
    assert out.loc[("lead", "buyer"), "moves"] == 3
    assert out.loc[("buyer", "gone"), "moves"] == 2
    assert out["share_of_exits"].tolist() == [1.0, 1.0]
    # lead person-days at risk: 4 + 4 + 4 (days 1..3 from the end of days 0..2) + 4 initial
    assert out.loc[("lead", "buyer"), "daily_hazard"] == pytest.approx(3 / 16)
    assert out.loc[("buyer", "gone"), "daily_hazard"] == pytest.approx(2 / (1 + 1 + 1 + 1))
    assert len(out) == 2  # no rows for moves that never happen


def test_stage_conversion_shares_split_exits_of_one_stage():
    r = fake()
    r.events = pd.DataFrame(
        {
            "person": [1, 2, 3],
            "day": [1, 2, 3],
            "from_stage": _cat(["lead", "lead", "lead"]),
            "to_stage": _cat(["buyer", "buyer", "gone"]),
        }
    )
    r.stage_counts = pd.DataFrame({"lead": [4, 3], "buyer": [1, 2], "gone": [0, 0]})
    out = stage_conversion(r).set_index(["from_stage", "to_stage"])
    assert out["share_of_exits"].to_dict() == {("lead", "buyer"): 2 / 3, ("lead", "gone"): 1 / 3}


def test_time_in_stage_by_hand():
    # person 1: buyer on day 5, gone on 8 -> a 3-day buyer stay; person 2: lead on 2, buyer on
    # 7 (a 5-day lead stay), gone on 20 (13 days); the last stays are cut by the horizon
    r = fake()
    r.events = pd.DataFrame(
        {
            "person": [2, 1, 2, 1, 2],
            "day": [20, 8, 7, 5, 2],
            "from_stage": _cat(["buyer", "buyer", "lead", "lead", "lead"]),
            "to_stage": _cat(["gone", "gone", "buyer", "buyer", "lead"]),
        }
    )  # unsorted on purpose
    out = time_in_stage(r).set_index("stage")
    assert list(out.columns) == ["stays", "mean", "median"]
    assert out.loc["buyer"].tolist() == [2, 8.0, 8.0]
    assert out.loc["lead"].tolist() == [1, 5.0, 5.0]
    assert "gone" not in out.index


def test_cac_by_channel_by_hand():
    out = cac_by_channel(fake()).set_index("channel")
    # last touch: ads (search) acquired 1 and 2, mail (email) acquired 4, banner none;
    # the retention coupon's cost is not acquisition cost
    assert out["cost"].to_dict() == {"display": 2.0, "email": 3.0, "search": 9.0}
    assert out["customers"].to_dict() == {"display": 0, "email": 1, "search": 2}
    assert out["customers"].dtype.kind == "i"  # a count
    assert out.loc["search", "cac"] == pytest.approx(4.5)
    assert out.loc["email", "cac"] == pytest.approx(3.0)
    assert math.isnan(out.loc["display", "cac"])


def test_cac_by_channel_without_tactics_has_the_columns():
    out = cac_by_channel(fake(tactics=False))
    assert list(out.columns) == ["channel", "cost", "customers", "cac"] and out.empty
