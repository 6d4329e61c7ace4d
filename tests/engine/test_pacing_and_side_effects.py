"""Budget pacing (prorated stub period, no end-of-period bursts) and promotion side effects
applied once per person per promotion."""

from __future__ import annotations

import numpy as np
import pytest

import lifesim
from lifesim.config import load_scenario


def _default(**budget):
    d = lifesim.default_scenario().model_dump(mode="json")
    d["budget"].update(budget)
    return load_scenario(d)


def _contact_spend_per_day(res) -> np.ndarray:
    led = res.ledger
    led = led[led["kind"] == "contact"]
    return np.bincount(led["day"].to_numpy(), weights=led["cost"].to_numpy(), minlength=res.days)


def test_stub_period_gets_a_prorated_budget():
    # 35 days = one 30-day period + a 5-day stub: the stub gets 5/30 of the budget
    scn = _default(per_period=3000.0)
    res = lifesim.simulate(scn, seed=4, customers=20_000, days=35, strategy="kpi_focused")
    led = res.ledger
    spent = led.groupby("period")["cost"].sum()
    assert spent.loc[1] <= 3000.0 * 5 / 30 + 1e-6
    assert spent.loc[0] > 3000.0 * 5 / 30  # the full period spends more than a stub may


def _even_rate(res, period: int = 0, budget: float = 8000.0, length: int = 30) -> float:
    led = res.ledger
    fees = led[(led["kind"] == "monthly fee") & (led["period"] == period)]["cost"].sum()
    return (budget - fees) / length


@pytest.mark.parametrize("strategy", ["stage_focused", "kpi_focused"])
def test_daily_contact_spend_stays_under_the_pacing_ceiling(strategy, global_seed):
    res = lifesim.simulate(None, seed=global_seed, customers=20_000, days=90, strategy=strategy)
    daily = _contact_spend_per_day(res)
    for k in range(3):
        ceiling = 1.5 * _even_rate(res, k)  # budget.max_catch_up (default 1.5) x even rate
        assert daily[30 * k : 30 * (k + 1)].max() <= ceiling + 1e-6


def _burst(catch_up, seed):
    d = lifesim.default_scenario().model_dump(mode="json")
    d["budget"]["max_catch_up"] = catch_up
    res = lifesim.simulate(
        load_scenario(d), seed=seed, customers=20_000, days=120, strategy="stage_focused"
    )
    daily = _contact_spend_per_day(res)
    return daily.max() / daily.mean(), res.ledger["cost"].sum()


def test_no_end_of_period_bursts(global_seed):
    # without a ceiling (the old rule: remaining / days left) money the strategy could not
    # use, or that came back from lapsed offers, is spent on the last days of each period:
    # measured 3.6x the mean daily contact spend (seed 9); with the default ceiling 1.5x
    burst, spent_old = _burst(None, global_seed)
    steady, spent_new = _burst(1.5, global_seed)
    assert burst > 2.5
    assert steady < 2.0
    assert spent_new < spent_old  # the price: money not spent evenly lapses (reported)


def test_max_catch_up_below_one_is_refused():
    with pytest.raises(lifesim.ConfigError, match=r"budget.max_catch_up.*>= 1"):
        _default(max_catch_up=0.5)


def test_promotion_side_effects_apply_once_per_person():
    d = lifesim.default_scenario().model_dump(mode="json")
    d["strategies"]["discounts"] = {
        "type": "kpi_focused",
        "split": {"first_purchase_discount": 1.0},
    }
    d["budget"]["per_period"] = None  # everyone reachable gets the discount, again and again
    scn = load_scenario(d)
    promo = scn.tactics["first_purchase_discount"].promo
    res = lifesim.simulate(scn, seed=2, customers=5_000, days=200, strategy="discounts")
    moved = res.events[res.events["cause"] == "first_purchase_discount"]
    repeat = moved.groupby("person").size()
    assert (repeat >= 2).sum() > 0, "the scenario must move some people twice by the promotion"
    mult = res.people["churn_mult"].to_numpy()
    allowed = np.array([1.0, promo.churn], dtype=np.float32)
    assert np.isin(mult, allowed).all(), np.unique(mult)
    hit = res.people.index.isin(moved["person"].unique())
    assert np.all(mult[hit] == np.float32(promo.churn))
    assert np.all(mult[~hit] == 1.0)
