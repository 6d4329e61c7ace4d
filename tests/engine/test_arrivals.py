"""New people arriving during a run (market.arrivals): a Poisson number a day, the same for
every strategy, inert in the stage ``not_arrived`` until their day."""

from __future__ import annotations

import numpy as np
import pytest

import lifesim
from lifesim.config import load_scenario, resolve


def _scenario(per_day=30.0, stage="awareness", purchase=False, **market):
    d = lifesim.default_scenario().model_dump(mode="json")
    d["market"].update(size=2000, **market)
    d["market"]["arrivals"] = {"per_day": per_day, "stage": stage, "purchase": purchase}
    return load_scenario(d)


def test_arrivals_per_day_are_poisson_and_the_same_for_every_strategy(global_seed):
    scn = _scenario(per_day=30.0)
    runs = [
        lifesim.simulate(scn, seed=global_seed, days=200, strategy=s)
        for s in (None, "stage_focused")
    ]
    day = runs[0].people["arrival_day"].to_numpy()
    np.testing.assert_array_equal(day, runs[1].people["arrival_day"].to_numpy())
    assert (day[:2000] == -1).all() and (day[2000:] >= 0).all()
    assert (np.diff(day[2000:]) >= 0).all()  # people arrive in index order
    per_day = np.bincount(day[2000:], minlength=200)
    # mean 30 a day: the mean of 200 days has sd sqrt(30 / 200); Poisson dispersion ~ 1
    assert abs(per_day.mean() - 30) < 5 * np.sqrt(30 / 200)
    assert 0.6 < per_day.var(ddof=1) / per_day.mean() < 1.5
    assert runs[0].customers == 2000 + len(day[2000:])
    for res in runs:  # each arrival is one move out of not_arrived, on their day
        ev = res.events
        arr = ev[ev["from_stage"] == "not_arrived"]
        assert (arr["to_stage"] == "awareness").all() and (arr["cause"] == "arrival").all()
        np.testing.assert_array_equal(arr["person"], np.arange(2000, res.customers))
        np.testing.assert_array_equal(arr["day"], day[2000:])


def test_people_are_inert_until_they_arrive(global_seed):
    res = lifesim.simulate(
        _scenario(per_day=40.0), seed=global_seed, days=150, strategy="stage_focused"
    )
    day = res.people["arrival_day"].to_numpy()
    ev = res.events
    first_event = ev.groupby("person")["day"].min()
    later = ev[ev["from_stage"] != "not_arrived"]
    assert (later["day"].to_numpy() >= day[later["person"]]).all()
    assert (
        first_event.loc[first_event.index >= 2000]
        == day[first_event.index[first_event.index >= 2000]]
    ).all()
    pur = res.purchases
    assert (pur["day"].to_numpy() >= day[pur["person"]]).all()
    # not_arrived at the end of day d: everyone whose day is after d
    waiting = res.stage_counts["not_arrived"].to_numpy()
    np.testing.assert_array_equal(waiting, [(day > d).sum() for d in range(150)])
    assert waiting[-1] == 0  # everyone drawn arrives within the horizon
    assert res.people["initial_stage"].astype(str).iloc[2000:].eq("not_arrived").all()


def test_arriving_customers_make_their_first_order_on_their_day(global_seed):
    res = lifesim.simulate(
        _scenario(per_day=10.0, stage="retention", purchase=True), seed=global_seed, days=90
    )
    people = res.people
    day = people["arrival_day"].to_numpy()
    new = np.flatnonzero(day >= 0)
    assert len(new) > 500
    first = res.purchases[res.purchases["cause"] == "arrival"]
    np.testing.assert_array_equal(first["person"], new)
    np.testing.assert_array_equal(first["day"], day[new])
    assert (first["amount"] > 0).all()
    np.testing.assert_array_equal(people["first_customer_day"].to_numpy()[new], day[new])
    assert (people["acquired_by"].astype(str).iloc[new] == "arrival").all()


def test_a_new_market_size_scales_the_arrivals_with_it():
    scn = _scenario(per_day=30.0)
    assert resolve(scn, customers=6000).market.arrivals.per_day == pytest.approx(90.0)
    assert resolve(scn, days=10).market.arrivals.per_day == 30.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stage": "nowhere"}, r"market\.arrivals\.stage: unknown stage 'nowhere'"),
        ({"per_day": -1.0}, r"market\.arrivals\.per_day"),
        ({"per_day": 1e15}, r"market\.arrivals\.per_day: .*memory"),
    ],
)
def test_bad_arrivals_are_refused_naming_the_field(change, message):
    d = lifesim.default_scenario().model_dump(mode="json")
    d["market"]["arrivals"] = {"per_day": 5.0, "stage": "awareness", **change}
    with pytest.raises(lifesim.ConfigError, match=message):
        load_scenario(d)


def test_not_arrived_is_a_reserved_stage_name_with_arrivals():
    d = lifesim.default_scenario().model_dump(mode="json")
    d["stages"]["not_arrived"] = {"kind": "prospect", "to": {}}
    load_scenario(d)  # without arrivals it is an ordinary name
    d["market"]["arrivals"] = {"per_day": 5.0, "stage": "awareness"}
    with pytest.raises(lifesim.ConfigError, match=r"stages\.not_arrived: a reserved name"):
        load_scenario(d)


def test_a_given_start_describes_the_first_people_and_arrivals_follow(global_seed):
    scn = _scenario(per_day=5.0)
    res = lifesim.simulate(scn, seed=global_seed, days=50, initial={"stage": ["retention"] * 300})
    assert (res.people["initial_stage"].astype(str).iloc[:300] == "retention").all()
    assert res.customers > 300 and (res.people["arrival_day"].iloc[300:] >= 0).all()
    with pytest.raises(lifesim.ConfigError, match="unknown stage 'not_arrived'"):
        lifesim.simulate(scn, days=5, initial={"stage": ["not_arrived"] * 10})
