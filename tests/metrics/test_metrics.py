import numpy as np
import pytest

import lifesim
from lifesim.metrics import (
    METRICS,
    cac_by_channel,
    funnel,
    run_metrics,
    stage_conversion,
    time_in_stage,
)


def chain():
    """a -> b (customer, buys every day, 10 each) -> c (churned) deterministically."""
    return {
        "name": "chain",
        "days": 10,
        "market": {"size": 10, "initial": "a"},
        "stages": {
            "a": {"to": {"b": {"p": 1.0}}},
            "b": {"kind": "customer", "buy": {"p": 1.0}, "to": {"c": {"p": 1e-12, "boost": True}}},
            "c": {"kind": "churned"},
        },
        "segments": {
            "all": {
                "propensity": {"dist": "constant", "value": 1.0},
                "order_value": {"dist": "constant", "value": 10.0},
            }
        },
        "campaigns": {
            "push": {"every": 100, "start": 6, "duration": 1, "targets": ["b"], "boost": 1e12}
        },
        "budget": {"per_period": None, "period_days": 3},
        "economics": {"margin": 0.5},
    }


def test_metrics_of_a_deterministic_run():
    res = lifesim.simulate(chain(), seed=0)
    m = run_metrics(res)
    assert set(m) == set(METRICS)
    # everyone: day 0 a->b, buys days 1..6 (6 orders of 10), day 6 b->c
    assert m["revenue"] == pytest.approx(10 * 6 * 10)
    assert m["profit"] == pytest.approx(0.5 * 600)
    assert m["customers_acquired"] == 10 and m["conversion_rate"] == 1.0
    assert m["churn_rate"] == 1.0 and m["repeat_purchase_rate"] == 1.0
    assert m["clv"] == pytest.approx(0.5 * 60)
    # period ends: days 2, 5, 8, 9 -> customers 10, 10, 0, 0 -> churn per period 0, 1 (then
    # no customers at the start of the last period): mean 0.5
    assert m["churn_rate_period"] == pytest.approx(0.5)
    # revenue by period: [20, 30, 10, 0]... each person buys days 1-6: periods (0-2: days 1,2),
    # (3-5: 3 days), (6-8: day 6), (9): none
    # R = 200, 300, 100, 0 and R_new = 0 (everyone bought the period before):
    # mean((200 - 300) / 200, (300 - 100) / 300, (100 - 0) / 100) = (-1/2 + 2/3 + 1) / 3 = 7/18
    assert m["revenue_churn"] == pytest.approx(7 / 18, rel=1e-12)
    assert np.isnan(m["roi"]) and np.isnan(m["coupon_redemption_rate"])


def test_tables_of_a_run():
    res = lifesim.simulate(chain(), seed=0)
    f = funnel(res)
    assert f.to_dict() == {"a": 1.0, "b": 1.0, "c": 1.0}
    sc = stage_conversion(res)
    ab = sc[(sc.from_stage == "a") & (sc.to_stage == "b")].iloc[0]
    assert ab.moves == 10 and ab.share_of_exits == 1.0 and ab.daily_hazard == 1.0
    bc = sc[(sc.from_stage == "b") & (sc.to_stage == "c")].iloc[0]
    assert bc.daily_hazard == pytest.approx(10 / 60)  # 10 moves over 6 days x 10 people
    tis = time_in_stage(res).set_index("stage")
    assert tis.loc["b", "mean"] == 6.0  # entered day 0, left day 6
    assert cac_by_channel(res).empty  # no tactics, no channels


class AdsOn:
    """Contact people 0-3 with 'ads' on day 0, people 0-1 with 'thanks' on day 1."""

    name = "ads_on_day_0"

    def tactics(self):
        return {"ads", "thanks"}

    def decide(self, view):
        if view.day == 0:
            view.contact("ads", np.arange(4))
        if view.day == 1:
            view.contact("thanks", np.arange(2))


def test_cac_by_channel_and_cac_by_hand():
    scn = chain()
    # ads double a sure move (rescaled to 1): they become its cause for the 4 contacted
    scn["tactics"] = {
        "ads": {
            "stages": ["a"],
            "channel": "social",
            "group": "acquisition",
            "effect": {"a->b": 2.0},
            "cost": {"per_contact": 2.0},
        },
        "thanks": {"stages": ["b"], "group": "retention", "cost": {"per_contact": 5.0}},
    }
    res = lifesim.simulate(scn, seed=0, strategy=AdsOn())
    assert res.people.acquired_by.astype(str).tolist() == ["ads"] * 4 + ["organic"] * 6
    cac = cac_by_channel(res).set_index("channel")
    assert cac.index.tolist() == ["social"]
    assert cac.loc["social"].tolist() == [8.0, 4, 2.0]  # 4 x 2 spent, 4 customers
    m = run_metrics(res)
    assert m["cac"] == pytest.approx(8.0 / 10)  # acquisition spend / all customers acquired
    assert m["marketing_cost"] == pytest.approx(8.0 + 10.0)  # retention spend is no CAC
    assert m["roi"] == pytest.approx((0.5 * 600 - 18) / 18)


def test_every_metric_states_its_convention():
    for name, info in METRICS.items():
        assert info.label and len(info.convention) > 10, name
