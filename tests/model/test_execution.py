"""Strategies are an objective plus an execution; every execution field is honoured by every
objective (changing it changes behaviour in the intended direction), and a field a strategy
does not use is an error naming it."""

from __future__ import annotations

import numpy as np
import pytest

import lifesim
from lifesim.config import load_scenario
from lifesim.errors import ConfigError

N, DAYS = 3000, 60


def _scn(**strategies):
    d = lifesim.default_scenario().model_dump(mode="json")
    d["strategies"] = {**d["strategies"], **strategies}
    return load_scenario(d)


def _contacts(scn, strategy, seed=5, tactic=None):
    """Per day, who was contacted (with ``tactic`` if given); plus the run's result."""
    sim = lifesim.Simulation(scn, seed=seed, customers=N, days=DAYS, strategy=strategy)
    days: list[np.ndarray] = []

    def snap(day):
        if day == 0:
            return
        mk = sim.marketing
        last = (
            sim.pop.last_contact
            if tactic is None
            else mk.contacts.last_by_tactic.get(tactic, np.full(N, -32768, np.int16))
        )
        days.append(np.flatnonzero(last == day - 1))

    sim.on_day(snap)
    res = sim.run()
    return days, res


def _min_gap(days):
    last = np.full(N, -(10**6))
    gap = np.inf
    for d, who in enumerate(days):
        if len(who):
            gap = min(gap, (d - last[who]).min())
            last[who] = d
    return gap


@pytest.mark.parametrize("objective", ["kpi", "lifecycle"])
def test_min_gap_days_is_honoured(objective):
    loose = _scn(x={"objective": objective, "execution": {"min_gap_days": 0}})
    capped = _scn(x={"objective": objective, "execution": {"min_gap_days": 10}})
    assert _min_gap(_contacts(loose, "x")[0]) < 10  # without the cap people are re-contacted
    assert _min_gap(_contacts(capped, "x")[0]) >= 10


def test_per_tactic_caps_are_honoured():
    scn = _scn(
        a={"objective": "kpi", "split": {"paid_ads": 1.0}},
        b={"objective": "kpi", "split": {"paid_ads": 1.0}, "execution": {"caps": {"paid_ads": 15}}},
    )
    assert _min_gap(_contacts(scn, "a", tactic="paid_ads")[0]) < 15
    assert _min_gap(_contacts(scn, "b", tactic="paid_ads")[0]) >= 15


@pytest.mark.parametrize("objective", ["kpi", "lifecycle"])
def test_score_targeting_reaches_more_promising_people_than_random(objective):
    rnd = _scn(x={"objective": objective, "execution": {"targeting": "random"}})
    sco = _scn(x={"objective": objective, "execution": {"targeting": "score"}})
    means = []
    for scn in (rnd, sco):
        days, res = _contacts(scn, "x")
        who = np.concatenate(days)
        means.append(res.people["propensity"].to_numpy()[who].mean())
    assert means[1] > means[0] * 1.05


@pytest.mark.parametrize("objective", ["kpi", "lifecycle"])
def test_broadcasts_are_paid_only_when_the_execution_says_so(objective):
    scn = _scn(
        on={"objective": objective, "execution": {"broadcasts": True}},
        off={"objective": objective, "execution": {"broadcasts": False}},
    )
    fees = {}
    for s in ("on", "off"):
        led = lifesim.simulate(scn, seed=1, customers=N, days=DAYS, strategy=s).ledger
        fees[s] = set(led[led["kind"] == "monthly fee"]["item"])
    broadcasts = {n for n, t in scn.tactics.items() if t.mode == "broadcast"}
    assert fees["on"] & broadcasts
    assert not fees["off"] & broadcasts


@pytest.mark.parametrize("objective", ["kpi", "lifecycle"])
def test_allowed_tactics_limit_what_is_used(objective):
    scn = _scn(x={"objective": objective, "execution": {"tactics": ["paid_ads", "newsletter"]}})
    led = lifesim.simulate(scn, seed=1, customers=N, days=DAYS, strategy="x").ledger
    assert set(led["item"]) <= {"paid_ads", "newsletter"}
    assert len(led)


def test_asap_pacing_front_loads_the_period():
    scn = _scn(
        even={"objective": "kpi", "execution": {"pacing": "even"}},
        fast={"objective": "kpi", "execution": {"pacing": "asap"}},
    )
    first = {}
    for s in ("even", "fast"):
        led = lifesim.simulate(scn, seed=1, customers=N, days=30, strategy=s).ledger
        c = led[led["kind"] == "contact"]
        first[s] = c[c["day"] < 3]["cost"].sum() / c["cost"].sum()
    assert first["fast"] > 2 * first["even"]


def test_presets_keep_their_old_meaning():
    scn = lifesim.default_scenario()
    kpi = scn.strategies["kpi_focused"].resolved_execution()
    stage = scn.strategies["stage_focused"].resolved_execution()
    assert (kpi.targeting, kpi.min_gap_days, kpi.broadcasts) == ("random", 0, False)
    assert (stage.targeting, stage.min_gap_days, stage.broadcasts) == ("score", 7, True)


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"type": "none", "min_gap_days": 3}, "strategies.x.min_gap_days"),
        ({"type": "stage_focused", "kpi": "acquisition"}, "strategies.x.kpi"),
        ({"type": "kpi_focused", "plan": {"awareness": ["paid_ads"]}}, "strategies.x.plan"),
        ({"type": "custom", "target": "a:b", "execution": "naive"}, "strategies.x.execution"),
        (
            {"objective": "kpi", "targeting": "score", "execution": {"targeting": "random"}},
            "strategies.x.targeting",
        ),
        ({"objective": "kpi", "execution": {"caps": {"nope": 3}}}, "strategies.x.execution.caps"),
    ],
)
def test_fields_a_strategy_does_not_use_are_errors(spec, path):
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        _scn(x=spec)


_CHURN_TARGETED = {"type": "churn_targeted", "params": {"warmup_days": 40, "horizon_days": 10}}


def test_churn_targeted_honours_targeting_after_its_warm_up():
    # after the warm-up its acquisition and advocacy contacts follow the execution too
    rnd = _scn(x={**_CHURN_TARGETED, "execution": {"targeting": "random"}})
    sco = _scn(x={**_CHURN_TARGETED, "execution": {"targeting": "score"}})
    means = []
    for scn in (rnd, sco):
        days, res = _contacts(scn, "x")
        who = np.concatenate(days[40:])
        assert len(who) > 100
        means.append(res.people["propensity"].to_numpy()[who].mean())
    assert means[1] > means[0] * 1.05


def test_churn_targeted_honours_per_tactic_caps_after_its_warm_up():
    capped = _scn(x={**_CHURN_TARGETED, "execution": {"caps": {"paid_ads": 15}}})
    loose = _scn(x=_CHURN_TARGETED)
    assert _min_gap(_contacts(loose, "x", tactic="paid_ads")[0][40:]) < 15
    assert _min_gap(_contacts(capped, "x", tactic="paid_ads")[0][40:]) >= 15


def test_reach_does_not_look_for_people_money_cannot_pay_for():
    from lifesim.model import make_strategy

    scn = lifesim.default_scenario()
    strat = make_strategy(scn, "stage_focused")
    calls = []

    class View:
        day = 10

        def __init__(self, n):
            self.n = n

        def affordable(self, tactic, money):
            calls.append((tactic, money))
            return self.n

        def people_in(self, stages, min_gap_days=0, order="score", key=""):
            return np.array([3, 1, 2])

    assert strat.reach(View(0), ["awareness"], "paid_ads", 0.5).tolist() == []
    assert calls == [("paid_ads", 0.5)]
    assert strat.reach(View(2), ["awareness"], "paid_ads", 9.0).tolist() == [3, 1, 2]
    assert strat.reach(View(0), ["awareness"], "paid_ads").tolist() == [3, 1, 2]  # no money


def test_reach_asks_only_for_the_people_the_money_pays_for_when_order_alone_decides():
    from types import SimpleNamespace

    from lifesim.model import make_strategy

    scn = lifesim.default_scenario()
    asked = []

    class View:
        day = 10
        tactics = {
            t: SimpleNamespace(spec=SimpleNamespace(stages=list(spec.stages)))
            for t, spec in scn.tactics.items()
        }

        def affordable(self, tactic, money):
            return 2

        def people_in(self, stages, min_gap_days=0, order="score", key="", limit=None):
            asked.append(limit)
            return np.array([3, 1, 2, 0, 4])[:limit]

        def last_contact_with(self, tactic):
            return np.full(5, -32768, dtype=np.int16)

    strat = make_strategy(scn, "stage_focused")
    served = scn.tactics["newsletter"].stages
    assert strat.reach(View(), served, "newsletter", 9.0).tolist() == [3, 1]
    assert strat.reach(View(), served, "newsletter").tolist() == [3, 1, 2, 0, 4]  # no money
    other = next(s for s in scn.stages if s not in served)  # the contact skips this stage's
    assert len(strat.reach(View(), [other], "newsletter", 9.0)) == 5  # people: all are needed
    strat.caps = {"newsletter": 3}  # a cap filters the list after it is found
    assert len(strat.reach(View(), served, "newsletter", 9.0)) == 5
    strat.caps, strat.targeting = {}, "uplift"
    strat.uplift_noise = 0.0
    View.by_uplift = lambda self, tactic, people, noise: people[::-1]
    assert strat.reach(View(), served, "newsletter", 9.0).tolist() == [4, 0, 2, 1, 3]
    assert asked == [2, None, None, None, None]
