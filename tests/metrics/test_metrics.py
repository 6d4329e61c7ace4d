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
    r = np.array([20.0, 30.0, 10.0, 0.0]) * 10
    expected = np.mean([(r[0] - r[1]) / r[0], (r[1] - r[2]) / r[1], (r[2] - r[3]) / r[2]])
    assert m["revenue_churn"] == pytest.approx(expected)
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
    assert cac_by_channel(res).empty or "cac" in cac_by_channel(res)


def test_every_metric_states_its_convention():
    for name, info in METRICS.items():
        assert info.label and len(info.convention) > 10, name
