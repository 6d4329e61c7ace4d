"""Behaviour of insim's assignment, arm router, runs and audits pinned for mutation testing.

Fast and in-process (benchmarks/mutation.py runs it against every mutant of
``experiments/insim``): the arm router is driven by a fake market view and spy strategies with
every budget worked out by hand; runs and audits use markets of a few dozen people over 60
days, checked against their own parts (a plain ``simulate`` of an arm's strategy, the analysis
of their own dataset, the child seeds they document) and hand-computed statistics.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lifesim import ab, simulate
from lifesim._random import spawn_seeds, stream
from lifesim.ab import gsd
from lifesim.config import load_scenario
from lifesim.errors import ConfigError
from lifesim.experiments.insim.audit import (
    _expected_coverage,
    _rate_se,
    _summarise,
    aa_version,
    audit,
)
from lifesim.experiments.insim.dataset import COVARIATE_OF
from lifesim.experiments.insim.design import (
    ASSIGNMENT_STREAM,
    ArmRouter,
    ArmView,
    ContactLog,
    _offer_book,
    _pacing,
    assign,
)
from lifesim.experiments.insim.run import (
    _broadcasts,
    _router,
    _strategy,
    _truth_se,
    _truth_task,
    analyse_dataset,
    analysis_metrics,
    caveats_of,
    check_experiment_trust,
    child_seed,
    resolve_experiment,
    run_experiment,
    simulate_experiment,
    true_effects,
)
from tests.experiments.test_insim import scenario

SPENDER = "tests.experiments.test_verdict:Spender"


def _small(**experiment):
    """A 60-day market (resolve with ``customers=``): revenue and conversion from day 20."""
    metrics = {"conv": {"kind": "converted", "within": 30}, "rev": {"kind": "revenue"}}
    experiment.setdefault("metrics", metrics)
    return scenario(**experiment)


# --- design.py: assign ---------------------------------------------------------------------


def test_assign_gives_each_arm_its_rounded_share_at_random_positions():
    a = assign(10, [0.25, 0.75], 3)
    assert a.dtype == np.int8 and len(a) == 10
    assert np.bincount(a).tolist() == [3, 7]  # round(2.5) = 3 (half up), the last arm the rest
    perm = stream(3, "experiment:assignment").permutation(10)
    assert a[perm].tolist() == [0] * 3 + [1] * 7
    assert ASSIGNMENT_STREAM == "experiment:assignment"
    assert np.array_equal(assign(10, [0.25, 0.75], 3), a)
    assert np.bincount(assign(9, [0.5, 0.5], 3)).tolist() == [5, 4]  # 4.5 -> 5
    assert np.bincount(assign(9, [0.3, 0.3, 0.4], 3)).tolist() == [3, 3, 3]  # 2.7 -> 3
    assert np.bincount(assign(11, [0.33, 0.33, 0.34], 3)).tolist() == [4, 4, 3]  # 3.63 -> 4
    assert assign(0, [0.5, 0.5], 3).tolist() == []
    # 0.5 rounds up to 1 and leaves 0 for the last arm: that is not an overshoot
    assert np.bincount(assign(1, [0.5, 0.5], 3), minlength=2).tolist() == [1, 0]


def test_assign_falls_back_to_rounding_down_when_rounding_half_up_overshoots():
    # 1.5 + 1.5 + 1.5 rounds to 2 + 2 + 2 = 6 > 5: the first arms take floor(1.5) = 1 each
    a = assign(5, [0.3, 0.3, 0.3, 0.1], 3)
    assert np.bincount(a, minlength=4).tolist() == [1, 1, 1, 2]
    b = assign(3, [0.5, 0.5, 0.0], 3)  # 2 + 2 > 3: floor gives 1, 1 and the rest 1
    assert np.bincount(b, minlength=3).tolist() == [1, 1, 1]


# --- design.py: ArmView ---------------------------------------------------------------------


class _Base:
    """A market view: people 5, 1, 3, 0 listed; contacts the first two it is given."""

    def __init__(self):
        self.day, self.n = 4, 6
        self.stage = np.array([1, 1, 0, 1, 1, 1])
        per = SimpleNamespace(per_contact=0.5)
        self.tactics = {
            "t": SimpleNamespace(stage_mask=np.array([False, True]), spec=SimpleNamespace(cost=per))
        }
        self.calls = []

    def allowance(self):
        return 7.0

    def remaining(self):
        return 70.0

    def people_in(self, stages, min_gap_days=0, order="score", key=""):
        self.calls.append(("people_in", stages, min_gap_days, order, key))
        return np.array([5, 1, 3, 0])

    def contact(self, tactic, people, money=None):
        self.calls.append(("contact", tactic, list(people), money))
        return min(len(people), 2)


MEMBER = np.array([True, False, True, True, False, True])  # people 0, 2, 3, 5


def test_arm_view_lists_and_contacts_only_its_people():
    base, log = _Base(), ContactLog()
    v = ArmView(base, MEMBER, log, (1.5, 30.0))
    assert (v.allowance(), v.remaining()) == (1.5, 30.0)
    assert (v.day, v.n) == (4, 6)  # everything else is the market's
    assert v.people_in(["a"], min_gap_days=3, order="shuffled", key="k").tolist() == [5, 3, 0]
    assert base.calls[-1] == ("people_in", ["a"], 3, "shuffled", "k")
    assert v.people_in(["a"]).tolist() == [5, 3, 0]
    assert base.calls[-1] == ("people_in", ["a"], 0, "score", "")
    assert v.contact("t", [5, 1, 2, 3, 0], money=9.0) == 2
    assert base.calls[-1] == ("contact", "t", [5, 2, 3, 0], 9.0)
    # the two contacted are the first two the tactic can reach (2 is in a stage it cannot)
    assert log.days == [4] and log.people[0].tolist() == [5, 3] and log.cost == [0.5]
    assert v.contact("t", [3]) == 1  # one contact is logged too
    assert log.days == [4, 4] and log.people[1].tolist() == [3]
    assert v.contact("t", np.array([1, 4])) == 0  # nobody of the arm: nothing logged
    assert base.calls[-1] == ("contact", "t", [], None) and log.days == [4, 4]


def test_arm_view_without_a_budget_or_a_log_is_the_market():
    base = _Base()
    v = ArmView(base, np.ones(6, dtype=bool))
    assert (v.allowance(), v.remaining()) == (7.0, 70.0)
    assert v.contact("t", [0, 2, 3]) == 2


# --- design.py: ArmRouter ---------------------------------------------------------------------


class _Spy:
    """A strategy that records what its view shows and commits ``spend`` on given days."""

    def __init__(self, tactics=("a",), spend=None):
        self._tactics, self.spend, self.seen = set(tactics), spend or {}, []

    def tactics(self):
        return set(self._tactics)

    def decide(self, view):
        self.seen.append(
            (view.day, view.allowance(), view.remaining(), view.people_in([]).tolist())
        )
        view.commit(self.spend.get(view.day, 0.0))


class _Market:
    """The engine's view of one day: 8 people, a budget left, no contacts."""

    def __init__(self, day, left=100.0, mk=None, n=8):
        self.day, self.n, self._left = day, n, left
        self.stage = np.array([0, 1, 1, 2, 0, 1, 1, 2])[:n]
        if mk is not None:
            self._mk = mk

    def remaining(self):
        return self._left

    def allowance(self):
        return 7.0

    def commit(self, x):
        self._left -= x

    def people_in(self, stages, min_gap_days=0, order="score", key=""):
        return np.arange(self.n)


ASSIGNMENT = np.array([0, 1, 1, 1, 0, 1, -1, -1])  # arm 0: 0, 4; arm 1: 1, 2, 3, 5; rest: 6, 7


def _router_of(ctl, trt, shares=(0.25, 0.75), exposure=(0, 60), days=60, **kw):
    return ArmRouter({"ctl": ctl, "trt": trt}, ASSIGNMENT, shares, "ctl", exposure, days=days, **kw)


def test_router_budget_shares_count_the_people_outside_the_arms():
    r = _router_of(_Spy(), _Spy())
    assert r.budget_shares == [0.1875, 0.5625, 0.25]  # 6 of 8 in arms: 0.75 x shares, rest 0.25
    assert r.labels == ["ctl", "trt"] and r.shares == [0.25, 0.75] and r.period_days == 30
    assert [m.tolist() for m in r.members] == [(ASSIGNMENT == a).tolist() for a in (0, 1)]
    assert r.rest.tolist() == [False] * 6 + [True] * 2
    full = ArmRouter({"a": _Spy(), "b": _Spy()}, np.array([0, 1, 1, 0]), [0.5, 0.5], "a", (0, 9))
    assert full.budget_shares == [0.5, 0.5, 0.0]
    empty = ArmRouter({"a": _Spy(), "b": _Spy()}, np.array([], dtype=int), [0.5, 0.5], "a", (0, 9))
    assert empty.budget_shares == [0.5, 0.5, 0.0]


def test_router_splits_each_period_budget_and_keeps_what_an_arm_spends_to_it():
    ctl, trt = _Spy(spend={5: 6.0}), _Spy()
    r = _router_of(ctl, trt)
    m = _Market(5, 100.0)
    r.decide(m)
    # day 5 of the 30-day period: 25 days left. arm ctl: 0.1875 x 100 = 18.75 (0.75 a day);
    # it commits 6, all its own: trt still has 0.5625 x 100 = 56.25, the rest 0.25 x 100 = 25
    assert ctl.seen[0] == (5, 0.75, 18.75, [0, 4])
    assert trt.seen[0][0] == 5 and trt.seen[0][1:3] == pytest.approx((2.25, 56.25))
    assert trt.seen[0][3] == [1, 2, 3, 5]
    assert ctl.seen[1][1:3] == pytest.approx((1.0, 25.0))  # the rest: control's strategy
    assert ctl.seen[1][3] == [6, 7]
    # the rest (control's strategy again) commits 6 too, from its own 25
    assert r._left == pytest.approx([12.75, 56.25, 19.0])
    r.decide(_Market(6, 88.0))  # the same period: 24 days left, the deviations kept
    assert ctl.seen[2][1:3] == pytest.approx((12.75 / 24, 12.75))
    assert trt.seen[1][1:3] == pytest.approx((56.25 / 24, 56.25))
    assert ctl.seen[3][1:3] == pytest.approx((19.0 / 24, 19.0))
    r.decide(_Market(30, 60.0))  # a new period: what is left is split by the shares again
    assert ctl.seen[4][1:3] == pytest.approx((11.25 / 30, 11.25))
    assert trt.seen[2][1:3] == pytest.approx((33.75 / 30, 33.75))
    assert ctl.seen[5][1:3] == pytest.approx((15.0 / 30, 15.0))
    assert r._period == 1
    ctl, trt = _Spy(), _Spy()
    r = _router_of(ctl, trt)
    r.decide(_Market(29, 2.0))  # the period's last day, 2.0 left: all of each arm's share
    assert ctl.seen[0][1:3] == pytest.approx((0.375, 0.375))
    assert trt.seen[0][1:3] == pytest.approx((1.125, 1.125))
    assert ctl.seen[1][1:3] == pytest.approx((0.5, 0.5))
    assert r._left == pytest.approx([0.375, 1.125, 0.5])


def test_router_paces_to_the_horizon_and_caps_at_the_catch_up():
    ctl, trt = _Spy(), _Spy()
    r = _router_of(ctl, trt, days=40)
    r.decide(_Market(35, 100.0))  # period 1 ends at day 60 but the horizon at 40: 5 days left
    assert ctl.seen[0][1:3] == pytest.approx((18.75 / 5, 18.75))
    ctl, trt = _Spy(), _Spy()
    r = _router_of(ctl, trt)
    budget = SimpleNamespace(even_rate=2.0, max_catch_up=1.5)
    r.decide(_Market(5, 100.0, SimpleNamespace(budget=budget, offers=None)))
    # capped at 1.5 x share x even rate: 0.5625 < 0.75, 1.6875 < 2.25, 0.75 < 1
    assert ctl.seen[0][1] == pytest.approx(0.5625) and trt.seen[0][1] == pytest.approx(1.6875)
    assert ctl.seen[1][1] == pytest.approx(0.75)
    for b in (
        SimpleNamespace(even_rate=np.inf, max_catch_up=1.5),
        SimpleNamespace(even_rate=2.0, max_catch_up=None),
    ):
        ctl, trt = _Spy(), _Spy()
        _router_of(ctl, trt).decide(_Market(5, 100.0, SimpleNamespace(budget=b)))
        assert ctl.seen[0][1] == pytest.approx(0.75)  # no cap


def test_router_gives_everyone_the_control_strategy_outside_the_window():
    ctl, trt = _Spy(), _Spy()
    r = _router_of(ctl, trt, exposure=(5, 40))
    for day in (4, 40):
        r.decide(_Market(day, 100.0))
    assert ctl.seen == [(4, 7.0, 100.0, list(range(8))), (40, 7.0, 100.0, list(range(8)))]
    assert trt.seen == []
    r.decide(_Market(5, 100.0))
    assert len(trt.seen) == 1 and ctl.seen[2][0] == 5


def test_router_skips_arms_without_a_share_and_leaves_out_broadcasts():
    ctl, trt = _Spy(tactics=("a", "seo")), _Spy(tactics=("b", "seo", "chat"))
    r = ArmRouter(
        {"ctl": ctl, "trt": trt}, np.zeros(4, dtype=int), [1.0, 0.0], "ctl", (0, 9), {"seo", "chat"}
    )
    assert r.dropped == {"ctl": ["seo"], "trt": ["chat", "seo"]}
    assert r.tactics() == {"a"}  # trt has no share: its tactics are not used
    r.decide(_Market(1, 90.0, n=4))
    assert trt.seen == [] and len(ctl.seen) == 1  # and nobody is left for the rest
    assert ctl.seen[0][1:3] == pytest.approx((90.0 / 29, 90.0)) and ctl.seen[0][3] == [0, 1, 2, 3]
    both = ArmRouter(
        {"ctl": ctl, "trt": trt}, np.zeros(4, dtype=int), [0.5, 0.5], "trt", (0, 9), {"seo"}
    )
    assert both.tactics() == {"a", "b", "chat"}
    out = both.tactics()
    out.add("z")
    assert both.tactics() == {"a", "b", "chat"}


def test_router_randomises_the_eligible_people_when_the_window_opens():
    calls = []

    def assigner(k):
        calls.append(k)
        return np.arange(k) % 2

    ctl, trt = _Spy(), _Spy()
    r = ArmRouter(
        {"ctl": ctl, "trt": trt}, assigner, [0.5, 0.5], "ctl", (3, 9), eligible=np.array([1, 2])
    )
    assert r.assignment is None
    r.decide(_Market(2, 100.0))  # before the window: nobody assigned yet
    assert calls == [] and r.assignment is None
    r.decide(_Market(3, 100.0))  # stages 0 1 1 2 0 1 1 2: people 1, 2, 3, 5, 6, 7 are eligible
    assert calls == [6]
    assert r.assignment.tolist() == [-1, 0, 1, 0, -1, 1, 0, 1]
    assert r.assignment.dtype == np.int8
    assert r.budget_shares == [0.375, 0.375, 0.25]
    r.assign_from(np.zeros(8, dtype=int))  # once only
    assert calls == [6] and r.assignment.tolist() == [-1, 0, 1, 0, -1, 1, 0, 1]
    everyone = ArmRouter({"ctl": ctl, "trt": trt}, assigner, [0.5, 0.5], "ctl", (3, 9))
    everyone.assign_from(np.array([0, 5, 9]))
    assert calls[-1] == 3 and everyone.assignment.tolist() == [0, 1, 0]
    fixed = _router_of(ctl, trt)
    fixed.assign_from(np.zeros(8, dtype=int))  # a fixed assignment is kept
    assert fixed.assignment.tolist() == ASSIGNMENT.tolist()


def _book(idx, used, period, until, half=False):
    entry = SimpleNamespace(
        idx=np.array(idx),
        used=np.array(used),
        period_each=np.array(period),
        until_each=np.array(until),
    )
    per = lambda x: SimpleNamespace(spec=SimpleNamespace(cost=SimpleNamespace(per_redemption=x)))  # noqa: E731
    stores = {
        4: SimpleNamespace(idx=np.array([1]), used=None),  # reusable: no reservation
        5: SimpleNamespace(idx=np.array([], dtype=int), used=np.array([], dtype=bool)),
        6: entry,  # a free offer: nothing reserved
        3: entry,
    }
    if half:  # a second single-use offer of 0.5 a redemption, held by person 1
        stores[7] = SimpleNamespace(
            idx=np.array([1]),
            used=np.array([False]),
            period_each=np.array([0]),
            until_each=np.array([20]),
        )
    return SimpleNamespace(
        stores=stores,
        tactics={"cpn": per(2.0), "free": per(0.0), "x": per(5.0), "half": per(0.5)},
        svc=SimpleNamespace(causes={3: "cpn", 4: "x", 5: "cpn", 6: "free", 7: "half"}),
    )


def test_router_reads_unused_reservations_of_the_period_from_the_offer_book():
    r = _router_of(_Spy(), _Spy())
    book = _book([0, 1, 2, 6], [False, True, False, False], [0, 0, 0, 1], [10, 12, 40, 50])
    held = r._held_now(_Market(5, mk=SimpleNamespace(offers=book)), 0)
    assert len(held) == 1  # the reusable, empty and free offers listed first are skipped
    unit, who, until = held[0]
    assert unit == 2.0 and who.tolist() == [0, 2] and until.tolist() == [10, 40]
    assert who.dtype == np.int64
    both = r._held_now(
        _Market(5, mk=SimpleNamespace(offers=_book([0], [False], [0], [9], half=True))), 0
    )
    assert [(u, w.tolist()) for u, w, _ in both] == [(2.0, [0]), (0.5, [1])]
    assert r._held_now(_Market(5), 0) == []  # a view without an offer book
    assert _offer_book(_Market(5)) is None
    assert _offer_book(_Market(5, mk=SimpleNamespace(offers=book))) is book
    assert _pacing(_Market(5)) == (np.inf, None)
    assert _pacing(
        _Market(5, mk=SimpleNamespace(budget=SimpleNamespace(even_rate=3, max_catch_up=2.0)))
    ) == (3.0, 2.0)


def test_router_released_and_pending_reservations_per_group():
    r = _router_of(_Spy(), _Spy())
    # person 0 (arm 0) until day 4, 3 (arm 1) until 5, 6 (rest) until 5, 4 (arm 0) until 9
    held = [
        (2.0, np.array([0, 3, 6, 4]), np.array([4, 5, 5, 9])),
        (1.0, np.array([4]), np.array([3])),
    ]
    r._held = held
    assert r._released(6) == [2.0 + 1.0, 2.0, 2.0]  # lapsed by the end of day 5
    assert r._released(5) == [3.0, 0.0, 0.0]  # by the end of day 4
    assert r._released(1) == [0.0, 0.0, 0.0]
    assert r._released(10) == [2.0 * 2 + 1.0, 2.0, 2.0]  # 0 and 4 of one offer: 2 x 2.0
    assert r._pending(held, 5) == [3.0, 2.0, 2.0]
    assert r._pending(held, 9) == [5.0, 2.0, 2.0]
    assert r._pending([], 9) == [0.0, 0.0, 0.0]


def test_router_counts_pending_reservations_and_gives_lapsed_ones_back_to_their_arm():
    ctl, trt = _Spy(), _Spy()
    r = _router_of(ctl, trt)
    # day 5: person 0 (arm ctl) holds a 2.0 reservation lapsing on day 10, before the period's end
    book = _book([0, 1, 2, 6], [False, True, False, False], [0, 0, 0, 1], [10, 12, 40, 50])
    r.decide(_Market(5, 100.0, SimpleNamespace(offers=book, budget=None)))
    assert ctl.seen[0][1:3] == pytest.approx(((18.75 + 2.0) / 25, 18.75))
    assert trt.seen[0][1:3] == pytest.approx((2.25, 56.25))  # 2 holds one due after day 30
    assert [h[1].tolist() for h in r._held] == [[0, 2]]
    # by day 6 person 0's offer lapsed (the book moved it back to the market's budget): the 2.0
    # goes back to arm ctl alone
    r._held = [(2.0, np.array([0, 2]), np.array([5, 40]))]
    book6 = _book([2, 6], [False, False], [0, 1], [40, 50])
    r.decide(_Market(6, 102.0, SimpleNamespace(offers=book6, budget=None)))
    assert ctl.seen[2][1:3] == pytest.approx((20.75 / 24, 20.75))
    assert trt.seen[1][1:3] == pytest.approx((56.25 / 24, 56.25))
    assert ctl.seen[3][1:3] == pytest.approx((25.0 / 24, 25.0))
    r._held = []
    r.decide(_Market(7, np.inf))  # an unlimited budget: no bookkeeping
    assert ctl.seen[4][1] == np.inf and r._held == []


# --- run.py ---------------------------------------------------------------------------------


def test_child_seed_is_a_documented_spawn_key():
    root = np.random.SeedSequence(123, spawn_key=(4,), pool_size=8)
    c = child_seed(root, 2)
    assert c.entropy == 123 and c.spawn_key == (4, 0x45_58_50, 2) and c.pool_size == 8
    assert child_seed(root, 1).spawn_key == (4, 0x455850, 1)


def test_resolve_experiment_overrides_and_refusals():
    scn, exp = resolve_experiment(_small(), customers=30, days=50)
    assert (scn.market.size, scn.days, exp.start) == (30, 50, 20)
    assert exp is scn.experiment and exp.design.unit == "person"
    scn, exp = resolve_experiment(_small(), design="market", clusters=4, customers=40)
    assert (exp.design.unit, exp.design.clusters) == ("market", 4)
    assert scn.experiment.design.clusters == 4
    scn, exp = resolve_experiment(_small(), clusters=7)
    assert (exp.design.unit, exp.design.clusters) == ("person", 7)
    with pytest.raises(ConfigError) as err:
        resolve_experiment(_small(), design="region")
    assert err.value.problems[0][0] == "design" and "'region'" in err.value.problems[0][1]
    with pytest.raises(ConfigError) as err:
        resolve_experiment(_small(), clusters=0)
    assert err.value.problems[0] == ("clusters", "must be a whole number >= 1, got 0")
    with pytest.raises(ConfigError) as err:
        resolve_experiment(_small(), design="market", clusters=3)
    assert err.value.problems[0][0] == "experiment.design.clusters"
    with pytest.raises(ConfigError) as err:
        resolve_experiment(_small(), days=40)  # converted's window [20, 50) ends after day 40
    assert err.value.problems[0][0] == "experiment.metrics.conv.within"
    plain = _small()
    del plain["experiment"]
    with pytest.raises(ConfigError) as err:
        resolve_experiment(plain)
    assert err.value.problems == [
        ("experiment", "the scenario has no 'experiment:' block (arms, metrics, start)")
    ]


def _custom(inline):
    data = _small()
    if inline:
        data["experiment"]["arms"]["treatment"] = {
            "strategy": {"type": "custom", "target": SPENDER}
        }
    else:
        data["strategies"]["spend"] = {"type": "custom", "target": SPENDER, "params": {"k": 1}}
        data["experiment"]["arms"]["treatment"] = "spend"
    return data


def test_custom_arms_are_refused_unless_trusted():
    for inline, path in (
        (False, "strategies.spend.target"),
        (True, "experiment.arms.treatment.strategy.target"),
    ):
        with pytest.raises(ConfigError) as err:
            resolve_experiment(_custom(inline))
        (p, msg), *more = err.value.problems
        assert p == path and repr(SPENDER) in msg and not more
        scn, _ = resolve_experiment(_custom(inline), trust_code=True)
        assert scn._trust_code is True
        check_experiment_trust(scn)  # a trusted scenario passes
        check_experiment_trust(load_scenario(_custom(inline)), trust_code=True)
    scn, _ = resolve_experiment(_small())
    assert scn._trust_code is False
    check_experiment_trust(scn.model_copy(update={"experiment": None}))
    with pytest.raises(ConfigError):  # not trusted by default
        check_experiment_trust(load_scenario(_custom(False)))
    unused = _small()  # custom code that no arm uses is not run: nothing to refuse
    unused["strategies"]["spend"] = {"type": "custom", "target": SPENDER, "params": {"k": 1}}
    check_experiment_trust(load_scenario(unused))


def test_router_of_an_experiment():
    scn, exp = resolve_experiment(
        _small(duration=10, eligible=["awareness", "churned"]), customers=8
    )
    assert _broadcasts(scn) == {"seo_content", "live_chat"}
    r = _router(scn, exp, np.zeros(8, dtype=int), [0.5, 0.5])
    assert r.eligible.tolist() == [0, 5] and r.exposure == (20, 30)
    assert (r.control, r.period_days, r.days, r.labels) == (
        "control",
        30,
        90,
        ["control", "treatment"],
    )
    assert r.dropped == {"control": [], "treatment": []}
    assert r.name == "experiment"
    data = _small(control="treatment", arms={"control": "none", "treatment": "seo"})
    data["strategies"]["seo"] = {
        "type": "stage_focused",
        "plan": {"awareness": ["seo_content", "paid_ads"]},
    }
    data["budget"] = {"per_period": 800, "period_days": 10}
    scn, exp = resolve_experiment(data, customers=8)
    r = _router(scn, exp, np.zeros(8, dtype=int), [0.5, 0.5])
    assert r.eligible is None and r.control == "treatment" and r.period_days == 10
    assert r.dropped == {"control": [], "treatment": ["seo_content"]}
    assert r.tactics() == {"paid_ads"}  # the broadcast is left out
    data = _small()
    data["market"]["arrivals"] = {"per_day": 1.0, "stage": "awareness"}
    scn, exp = resolve_experiment(data, customers=8)
    assert _router(scn, exp, np.zeros(8, dtype=int), [0.5, 0.5]).eligible.tolist() == list(range(6))


@pytest.mark.filterwarnings("error")  # one person: no spread, and no NumPy warning
def test_truth_se_from_markets_and_from_people_by_hand():
    # sizes 2 and 1, means 2 and 5: pooled 3, deviations -2 and 2: sqrt(2 x 8) / 3
    se, basis = _truth_se([np.array([1.0, 3.0]), np.array([5.0])])
    assert se == pytest.approx(4 / 3) and basis == "markets"
    se, basis = _truth_se([np.array([1.0, 3.0, 5.0, 7.0])])  # sd sqrt(20/3) over sqrt(4)
    assert se == pytest.approx(np.sqrt(20 / 3) / 2) and basis == "people"
    se, basis = _truth_se([np.array([1.0, 3.0]), np.array([])])  # an empty market: people
    assert se == pytest.approx(1.0) and basis == "people"
    se, basis = _truth_se([np.array([2.0, 2.0]), np.array([2.0])])
    assert se == 0.0 and basis == "markets"
    for x in ([np.array([4.0])], []):
        se, basis = _truth_se(x)
        assert np.isnan(se) and basis == "people"
    # three markets: sizes 2, 1, 3, means 2, 5, 2; pooled 2.5; deviations -1, 2.5, -1.5
    se, basis = _truth_se([np.array([1.0, 3.0]), np.array([5.0]), np.array([2.0, 2.0, 2.0])])
    assert se == pytest.approx(np.sqrt(1.5 * 9.5) / 6) and basis == "markets"


def test_analysis_plan_per_metric_kind():
    exp = resolve_experiment(_small(), customers=8)[1]
    plan = analysis_metrics(exp)
    assert [(n, m) for n, m, _ in plan] == [
        ("conv", "plain"),
        ("conv", "cuped"),
        ("rev", "plain"),
        ("rev", "cuped"),
    ]
    assert isinstance(plan[0][2], ab.Proportion) and plan[0][2].label == "conv"
    assert isinstance(plan[1][2], ab.Mean) and plan[1][2].covariate == COVARIATE_OF["converted"]
    assert plan[1][2].label == "conv [cuped]" and plan[3][2].label == "rev [cuped]"
    assert isinstance(plan[2][2], ab.Mean) and plan[2][2].covariate is None
    assert plan[3][2].covariate == "pre_revenue"
    clusters = analysis_metrics(exp, clusters=True)
    assert type(clusters[0][2]) is ab.Mean and clusters[0][2].covariate is None
    at1 = resolve_experiment(_small(start=1), customers=8)[1]
    assert [m for _, m, _ in analysis_metrics(at1)] == ["plain", "cuped", "plain", "cuped"]
    at0 = resolve_experiment(_small(start=0), customers=8)[1]
    assert [(n, m) for n, m, _ in analysis_metrics(at0)] == [("conv", "plain"), ("rev", "plain")]


def test_analyse_dataset_by_hand():
    exp = resolve_experiment(_small(alpha=0.1), customers=8)[1]
    data = pd.DataFrame(
        {
            "arm": ["control"] * 4 + ["treatment"] * 4,
            "conv": np.array([0, 0, 1, 0, 1, 1, 1, 0], dtype=np.int8),
            "rev": [1.0, 2.0, 3.0, 2.0, 2.0, 4.0, 6.0, 4.0],
            "pre_customer": np.array([0, 1, 0, 1, 0, 1, 0, 1], dtype=np.int8),
            "pre_revenue": [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
        }
    )
    res, est = analyse_dataset(data, exp)
    assert list(est.columns) == [
        "metric",
        "method",
        "arm",
        "control",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "p_value",
        "significant",
        "test",
    ]
    assert list(zip(est.metric, est.method, strict=True)) == [
        ("conv", "plain"),
        ("conv", "cuped"),
        ("rev", "plain"),
        ("rev", "cuped"),
    ]
    assert (est.arm == "treatment").all() and (est.control == "control").all()
    rev = est.iloc[2]
    welch = stats.ttest_ind([2, 4, 6, 4], [1, 2, 3, 2], equal_var=False)
    assert rev.estimate == pytest.approx(2.0) and rev.se == pytest.approx(
        np.sqrt(8 / 3 / 4 + 2 / 3 / 4)
    )
    assert rev.p_value == pytest.approx(welch.pvalue)
    ci = welch.confidence_interval(0.9)
    assert (rev.ci_low, rev.ci_high) == pytest.approx((ci.low, ci.high))
    assert rev.significant == bool(welch.pvalue < 0.1)
    conv = est.iloc[0]  # 3/4 - 1/4; pooled z-test: p = 1/2, se0 = sqrt(1/4 x 1/2)
    z = 0.5 / np.sqrt(0.25 * 0.5)
    assert conv.estimate == pytest.approx(0.5) and conv.p_value == pytest.approx(
        2 * stats.norm.sf(z)
    )
    assert not conv.significant  # p = 0.157
    assert est.test.iloc[0] != est.test.iloc[2]
    assert len(res.comparisons) == 4
    clusters, cl = analyse_dataset(
        data.drop(columns=["pre_customer", "pre_revenue"]),
        resolve_experiment(_small(start=0, alpha=0.1), customers=8)[1],
        clusters=True,
    )
    assert list(cl.method) == ["plain", "plain"] and cl.iloc[0].estimate == pytest.approx(0.5)
    assert cl.iloc[0].p_value == pytest.approx(
        stats.ttest_ind([1, 1, 1, 0], [0, 0, 1, 0], equal_var=False).pvalue
    )


def _caveat_scenario():
    d = _small(design={"unit": "market", "clusters": 6})
    d["support"] = {
        "name": "sales",
        "agents": 2,
        "tickets_per_agent_per_day": 2,
        "ticket_p": {"consideration": 0.1},
    }
    d["strategies"]["refer"] = {
        "type": "stage_focused",
        "plan": {"advocacy": ["referral_programme"], "awareness": ["seo_content"]},
    }
    d["experiment"]["arms"] = {"control": "none", "treatment": "refer", "third": "lifecycle"}
    return d


def test_caveats_name_broadcasts_regional_staff_and_referrals():
    scn, exp = resolve_experiment(_caveat_scenario(), customers=10)
    assert caveats_of(scn, exp, {"control": [], "treatment": ["seo_content"]}) == [
        "arm 'treatment': broadcast tactic(s) ['seo_content'] reach everyone in their stages "
        "and cannot be randomised per person; left out of every arm and of the truth runs",
        "sales staff are scaled to each region and rounded to whole agents (at least one): "
        "per-person capacity can differ from the whole market's",
    ]
    scn, exp = resolve_experiment(_caveat_scenario(), customers=10, design="person")
    assert caveats_of(scn, exp, {}) == [
        "arm 'treatment' uses referral tactic(s) ['referral_programme']: referred people are "
        "drawn from the whole market, so some land in other arms (interference); the estimate "
        "can be biased - consider design: {unit: market}"
    ]
    d = _caveat_scenario()
    d["experiment"]["control"] = "treatment"  # the control arm's referrals are business as usual
    scn, exp = resolve_experiment(d, customers=10, design="person")
    assert caveats_of(scn, exp, {}) == []
    d = _caveat_scenario()
    del d["support"]
    scn, exp = resolve_experiment(d, customers=10)
    assert caveats_of(scn, exp, {"control": []}) == []


def test_market_design_splits_the_market_into_regions_assigned_whole():
    scn, exp = resolve_experiment(_small(design={"unit": "market", "clusters": 4}), customers=10)
    seed = np.random.SeedSequence(9)
    people, clusters, dropped = simulate_experiment(scn, exp, seed)
    assert people["cluster"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]  # sizes 3, 3, 2, 2
    assert people["person"].tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 0, 1]
    arms = np.array(["control", "treatment"])[assign(4, [0.5, 0.5], seed)]
    assert clusters["arm"].tolist() == arms.tolist()
    assert people.groupby("cluster")["arm"].nunique().tolist() == [1, 1, 1, 1]
    assert clusters["people"].tolist() == [3, 3, 2, 2]
    assert clusters["rev"].tolist() == pytest.approx(
        people.groupby("cluster")["rev"].mean().tolist()
    )
    assert dropped == {"control": [], "treatment": []}
    # each region is a market of its own size on child seed c of the run's seed
    region = resolve_experiment(_small(), customers=2)[0]
    sim = simulate(region, seed=spawn_seeds(seed, 4)[3])
    assert (
        people.loc[people.cluster == 3, "segment"].tolist()
        == sim.people["segment"].astype(str).tolist()
    )
    again = simulate_experiment(scn, exp, np.random.SeedSequence(9))
    pd.testing.assert_frame_equal(again[0], people)  # the regions' seeds come from the seed
    pd.testing.assert_frame_equal(again[1], clusters)
    with pytest.raises(ConfigError) as err:
        simulate_experiment(scn, exp, seed, initial={"awareness": 5})
    assert err.value.problems == [
        (
            "initial",
            "only with a person-level design (experiment.design.unit: person): a market-level "
            "design splits the market into regions, the log's customers have none; got "
            "design.unit 'market'",
        )
    ]


def _rollout_means(scn, strategy, seed):
    """Per-person conversion in [0, 30) and revenue in [0, 60) of a plain rollout (start 0)."""
    sim = simulate(scn, seed=seed, strategy=strategy)
    p = sim.people
    first = p["first_customer_day"].to_numpy()
    conv = ((first >= 0) & (first < 30) & ~p["initial_customer"].to_numpy()).astype(float)
    rev = np.bincount(sim.purchases["person"], weights=sim.purchases["amount"], minlength=len(p))
    return {"conv": conv, "rev": rev}


def test_true_effects_are_paired_rollouts_of_every_arm():
    scn, exp = resolve_experiment(_small(start=0), customers=30, days=60)
    seeds = [np.random.SeedSequence(11), np.random.SeedSequence(12)]
    calls = []
    truth = true_effects(scn, exp, seeds, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert list(truth.columns) == [
        "metric", "arm", "control", "true_effect", "truth_se", "truth_se_from",
        "control_value", "arm_value", "replications", "people",
    ]  # fmt: skip
    assert truth["metric"].tolist() == ["conv", "rev"] and (truth["arm"] == "treatment").all()
    assert (truth["control"] == "control").all() and (truth["replications"] == 2).all()
    assert (truth["people"] == 60).all() and (truth["truth_se_from"] == "markets").all()
    ctl = [_rollout_means(scn, "none", s) for s in seeds]
    arm = [_rollout_means(scn, "lifecycle", s) for s in seeds]
    for i, name in enumerate(["conv", "rev"]):
        row = truth.iloc[i]
        e = [arm[r][name].mean() - ctl[r][name].mean() for r in range(2)]
        assert row["control_value"] == pytest.approx(np.mean([c[name].mean() for c in ctl]))
        assert row["arm_value"] == pytest.approx(np.mean([a[name].mean() for a in arm]))
        assert row["true_effect"] == pytest.approx(np.mean(e))
        assert row["truth_se"] == pytest.approx(abs(e[0] - e[1]) / 2)  # sd / sqrt(2), 2 markets
    one = true_effects(scn, exp, seeds[:1])
    assert (one["truth_se_from"] == "people").all() and (one["replications"] == 1).all()
    d = arm[0]["rev"] - ctl[0]["rev"]
    assert one["truth_se"].iloc[1] == pytest.approx(d.std(ddof=1) / np.sqrt(30))
    assert one["people"].iloc[1] == 30


def test_true_effects_of_three_arms_leave_out_control_wherever_it_is():
    d = _small(start=0, control="b")
    d["experiment"]["arms"] = {"a": "lifecycle", "b": "none", "c": "none"}
    scn, exp = resolve_experiment(d, customers=20, days=60)
    truth = true_effects(scn, exp, [np.random.SeedSequence(1)])
    assert truth["arm"].tolist() == ["a", "c", "a", "c"] and (truth["control"] == "b").all()
    assert truth.loc[truth.arm == "c", "true_effect"].tolist() == [0.0, 0.0]  # the same strategy


def test_run_experiment_puts_the_truth_beside_its_own_analysis():
    scn, exp = resolve_experiment(_small(), customers=30, days=60)
    calls = []
    res = run_experiment(
        _small(), seed=17, customers=30, days=60, truth_replications=2,
        progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert res.seed == 17 and res.scenario.days == 60 and res.scenario.market.size == 30
    assert 0 < res.elapsed_s < 600
    root = np.random.SeedSequence(17)
    people, clusters, _ = simulate_experiment(scn, exp, root)
    pd.testing.assert_frame_equal(res.people, people)
    assert res.clusters is None and clusters is None
    seeds = [root, *spawn_seeds(child_seed(root, 2), 1)]
    pd.testing.assert_frame_equal(res.truth, true_effects(scn, exp, seeds))
    analysis, est = analyse_dataset(people, exp)
    pd.testing.assert_frame_equal(res.estimates[list(est.columns)], est)
    assert res.analysis.srm.p_value == analysis.srm.p_value
    assert len(res.analysis.comparisons) == len(est)
    # this market has CIs that miss the truth and a CI whose ends are the truth (0 +- 0)
    e = res.estimates
    assert (~e.covers_truth).sum() == 2
    assert ((e.ci_low == e.true_effect) & (e.ci_high == e.true_effect) & e.covers_truth).any()
    truth = res.truth.set_index(["metric", "arm"])["true_effect"]
    for r in res.estimates.itertuples():
        t = truth[(r.metric, r.arm)]
        assert r.true_effect == t
        assert r.covers_truth == (r.ci_low <= t <= r.ci_high)
    assert list(res.estimates.columns)[-3:] == ["true_effect", "truth_se", "covers_truth"]
    assert res.caveats[:-1] == tuple(analysis.warnings)
    assert res.caveats[-1] == (
        "truth_se comes from the spread between 2 market(s) (1 degree(s) of freedom: a rough "
        "error, which can even be 0); use --truth-replications 10 for a firmer one"
    )
    assert res.elapsed_s > 0


def test_run_experiment_truth_replications_and_default_seed():
    res = run_experiment(_small(truth_replications=1), customers=20, days=60)
    assert res.seed == 5  # the scenario's
    assert (res.truth["replications"] == 1).all()
    assert res.caveats[-1] == (
        "truth_se comes from the spread between 1 market(s) (none: the pooled person-level "
        "error, which understates it); use --truth-replications 10 for a firmer one"
    )
    five = run_experiment(_small(truth_replications=5), seed=1, customers=20, days=60)
    assert (five.truth["replications"] == 5).all()
    assert not any("truth_se comes" in c for c in five.caveats)
    four = run_experiment(_small(), seed=1, customers=20, days=60, truth_replications=4)
    assert "between 4 market(s) (3 degree(s)" in four.caveats[-1]
    with pytest.raises(ConfigError) as err:
        run_experiment(_small(), customers=20, days=60, truth_replications=0)
    assert err.value.problems[0][0] == "truth_replications"


def test_run_experiment_starts_every_market_from_the_initial_state_of_its_seed():
    seen = []

    def initial(seed):
        seen.append(seed.entropy)

    res = run_experiment(
        _small(), seed=4, customers=20, days=60, truth_replications=2, initial=initial
    )
    assert len(seen) == 5 and seen[:3] == [4, 4, 4]  # the market, then replication 0's arms
    assert len(res.people) == 20


def test_run_experiment_of_a_market_design_analyses_the_regions():
    res = run_experiment(
        _small(design={"unit": "market", "clusters": 4}), seed=2, customers=80, days=60,
        truth_replications=5,
    )  # fmt: skip
    assert len(res.clusters) == 4 and res.dataset is res.clusters
    assert res.people["cluster"].tolist() == [c for c in range(4) for _ in range(20)]
    assert res.clusters["rev"].gt(0).all()  # every region bought something
    assert set(res.estimates["method"]) == {"plain", "cuped"}
    exp = res.experiment
    _, est = analyse_dataset(res.clusters, exp, clusters=True)
    pd.testing.assert_frame_equal(res.estimates[list(est.columns)], est)


# --- audit.py --------------------------------------------------------------------------------


def test_aa_version_gives_every_arm_the_control_strategy():
    exp = resolve_experiment(
        _small(
            arms={
                "c": {"strategy": "none", "share": 0.4},
                "t": {"strategy": "lifecycle", "share": 0.6},
            }
        )
    )[1]
    aa = aa_version(exp)
    assert {a: arm.strategy for a, arm in aa.arms.items()} == {"c": "none", "t": "none"}
    assert aa.shares() == {"c": 0.4, "t": 0.6} and aa.metrics == exp.metrics
    assert exp.arms["t"].strategy == "lifecycle"
    other = resolve_experiment(_small(control="treatment"))[1]
    assert {arm.strategy for arm in aa_version(other).arms.values()} == {"lifecycle"}


def test_rate_se_keeps_the_rate_off_0_and_1():
    assert _rate_se(0.5, 4) == pytest.approx(0.25)
    assert _rate_se(0.0, 10) == pytest.approx(np.sqrt(0.05 * 0.95 / 10))
    assert _rate_se(1.0, 10) == pytest.approx(np.sqrt(0.05 * 0.95 / 10))
    assert _rate_se(0.2, 100) == pytest.approx(0.04)


def test_expected_coverage_allows_for_the_truths_own_error():
    assert _expected_coverage(0.05, 0.0, 1.0) == pytest.approx(0.95)
    assert _expected_coverage(0.1, float("nan"), 1.0) == pytest.approx(0.9)
    assert _expected_coverage(0.1, -1.0, 1.0) == pytest.approx(0.9)
    assert _expected_coverage(0.1, 1.0, 0.0) == pytest.approx(0.9)
    assert _expected_coverage(0.1, 1.0, float("nan")) == pytest.approx(0.9)
    # truth_se = se: z / sqrt(2) = 1.95996 / 1.41421 = 1.38590; 2 Phi(1.3859) - 1 = 0.83423
    assert _expected_coverage(0.05, 2.0, 2.0) == pytest.approx(0.83423, abs=1e-5)
    assert _expected_coverage(0.05, 0.5, 0.5) == pytest.approx(0.83423, abs=1e-5)  # se < 1 too
    assert _expected_coverage(0.05, 0.5, 4 / 3) == pytest.approx(
        2 * stats.norm.cdf(1.959964 / np.sqrt(1.140625)) - 1
    )


def _est_rows():
    rows = [
        ("A/B", 0, "rev", "plain", "t", 1.0, 1.0, -1.0, 3.0, 0.01),
        ("A/B", 1, "rev", "plain", "t", 2.0, 1.0, 0.5, 3.5, 0.2),
        ("A/B", 2, "rev", "plain", "t", 4.0, 2.0, 3.5, 6.0, 0.04),
        ("A/A", 0, "rev", "plain", "t", 0.5, 1.0, 0.0, 2.0, 0.05),
        ("A/A", 1, "rev", "plain", "t", -0.5, 1.0, -1.0, -0.1, 0.01),
        ("A/B", 0, "conv", "cuped", "t", 0.1, 0.05, -0.1, 0.3, 0.5),
    ]
    cols = [
        "version",
        "repeat",
        "metric",
        "method",
        "arm",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "p_value",
    ]
    return pd.DataFrame(rows, columns=cols)


@pytest.mark.filterwarnings("error")  # one repeat: no spread, and no NumPy warning
def test_summarise_audit_by_hand():
    truth = pd.DataFrame(
        {
            "metric": ["conv", "rev"],
            "arm": ["t", "t"],
            "true_effect": [0.3, 2.0],
            "truth_se": [0.0, 0.5],
        }
    )
    out = _summarise(_est_rows(), truth, 0.05)
    assert list(out.columns) == [
        "version", "metric", "method", "arm", "true_effect", "truth_se", "mean_estimate", "bias",
        "bias_se", "sd_estimate", "mean_se", "rmse", "rejection_rate", "rejection_se", "coverage",
        "coverage_se", "expected_coverage", "mean_ci_width", "repeats",
    ]  # fmt: skip
    assert list(zip(out.version, out.metric, strict=True)) == [
        ("A/B", "rev"),
        ("A/A", "rev"),
        ("A/B", "conv"),
    ]
    ab_ = out.iloc[0]
    # estimates 1, 2, 4 against the truth 2 (+/- 0.5); p 0.01, 0.2, 0.04; CIs cover, cover, miss
    assert (ab_.true_effect, ab_.truth_se, ab_.repeats) == (2.0, 0.5, 3)
    assert ab_.mean_estimate == pytest.approx(7 / 3) and ab_.bias == pytest.approx(1 / 3)
    assert ab_.sd_estimate == pytest.approx(np.sqrt(7 / 3))
    assert ab_.bias_se == pytest.approx(np.sqrt(7 / 9 + 0.25))
    assert ab_.mean_se == pytest.approx(4 / 3) and ab_.rmse == pytest.approx(np.sqrt(5 / 3))
    assert ab_.rejection_rate == pytest.approx(2 / 3) and ab_.coverage == pytest.approx(2 / 3)
    assert ab_.rejection_se == pytest.approx(np.sqrt(2 / 27)) and ab_.coverage_se == pytest.approx(
        np.sqrt(2 / 27)
    )
    assert ab_.expected_coverage == pytest.approx(_expected_coverage(0.05, 0.5, 4 / 3))
    assert ab_.mean_ci_width == pytest.approx(9.5 / 3)
    aa = out.iloc[1]
    # truth 0 exactly; p = 0.05 is not below alpha; the CI [0, 2] covers 0, [-1, -0.1] not
    assert (aa.true_effect, aa.truth_se) == (0.0, 0.0)
    assert aa.rejection_rate == 0.5 and aa.coverage == 0.5
    assert aa.bias == pytest.approx(0.0) and aa.bias_se == pytest.approx(0.5)
    assert aa.expected_coverage == pytest.approx(0.95) and aa.rmse == pytest.approx(0.5)
    one = out.iloc[2]
    assert one.repeats == 1 and np.isnan(one.sd_estimate) and np.isnan(one.bias_se)
    # its CI [-0.1, 0.3] ends at the truth 0.3: covered
    assert one.bias == pytest.approx(-0.2) and one.coverage == 1.0 and one.rejection_rate == 0.0
    assert one.rejection_se == pytest.approx(0.5)


def test_audit_repeats_the_experiment_on_child_seeds():
    calls = []
    res = audit(
        _small(), repeats=2, seed=3, customers=30, days=60, truth_replications=2,
        progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    assert calls == [(1, 6), (2, 6), (3, 6), (4, 6), (5, 6), (6, 6)]
    scn, exp = resolve_experiment(_small(), customers=30, days=60)
    root = np.random.SeedSequence(3)
    truth = true_effects(scn, exp, spawn_seeds(child_seed(root, 2), 2))
    pd.testing.assert_frame_equal(res.truth, truth)
    seeds = spawn_seeds(child_seed(root, 1), 2)
    assert list(res.estimates.columns) == [
        "version", "repeat", "metric", "method", "arm",
        "estimate", "se", "ci_low", "ci_high", "p_value",
    ]  # fmt: skip
    assert res.estimates["version"].tolist() == ["A/A"] * 8 + ["A/B"] * 8
    assert list(res.estimates.index) == list(range(16))
    assert res.estimates["repeat"].tolist() == [0] * 4 + [1] * 4 + [0] * 4 + [1] * 4
    for i in range(2):
        for version, e in (("A/B", exp), ("A/A", aa_version(exp))):
            people, _, _ = simulate_experiment(scn, e, seeds[i])
            want = analyse_dataset(people, e)[1]
            got = res.estimates[(res.estimates.version == version) & (res.estimates.repeat == i)]
            for col in ("estimate", "se", "ci_low", "ci_high", "p_value"):
                assert got[col].tolist() == pytest.approx(want[col].tolist(), nan_ok=True)
    assert res.table["version"].tolist() == ["A/B"] * 4 + ["A/A"] * 4
    assert list(res.table.index) == list(range(8))
    want = _summarise(res.estimates, truth, 0.05)
    ab_rows = want[want.version == "A/B"].reset_index(drop=True)
    pd.testing.assert_frame_equal(res.table.iloc[:4].reset_index(drop=True), ab_rows)
    assert (res.seed, res.repeats, res.alpha, res.peek, res.peeking) == (3, 2, 0.05, None, None)
    assert res.scenario.name == "insim_test" and res.scenario.market.size == 30
    assert res.experiment == exp
    assert 0 < res.elapsed_s < 600


def test_audit_options_and_refusals():
    res = audit(_small(alpha=0.1), repeats=2, seed=1, customers=20, days=60, aa=False, jobs=1)
    assert set(res.table["version"]) == {"A/B"} and res.alpha == 0.1
    assert (res.truth["replications"] == 10).all()  # at least 10 markets by default
    assert (
        audit(_small(truth_replications=12), repeats=2, seed=1, customers=10, days=60, aa=False)
        .truth["replications"]
        .iloc[0]
        == 12
    )
    assert res.seed == 1 and len(res.estimates) == 8
    for kw, name in (
        ({"repeats": 1}, "repeats"),
        ({"jobs": 0}, "jobs"),
        ({"truth_replications": 0}, "truth_replications"),
        ({"peek": "often"}, "peek"),
    ):
        with pytest.raises(ConfigError) as err:
            audit(_small(), customers=10, days=60, **{"repeats": 2, **kw})
        assert err.value.problems[0][0] == name
    with pytest.raises(ConfigError) as err:
        audit(
            _small(design={"unit": "market", "clusters": 4}),
            repeats=2,
            customers=12,
            days=60,
            peek=2,
        )
    assert err.value.problems == [
        ("peek", "peeking is audited for person-level designs only (design: person)")
    ]


def test_audit_with_peeking_keeps_the_same_repeats():
    kw = {"repeats": 2, "seed": 2, "customers": 20, "days": 60, "truth_replications": 1}
    plain = audit(_small(), **kw)
    peek = audit(_small(), peek="2", **kw)
    assert peek.peek == 2 and plain.peeking is None
    pd.testing.assert_frame_equal(peek.estimates, plain.estimates)
    pd.testing.assert_frame_equal(peek.table, plain.table)
    p = peek.peeking
    assert len(p) == 2 * 2 * 3 and set(p["looks"]) == {2}
    assert set(zip(p.version, p.metric, strict=True)) == {
        ("A/B", "conv"),
        ("A/B", "rev"),
        ("A/A", "conv"),
        ("A/A", "rev"),
    }
    assert (p.loc[p.version == "A/A", "true_effect"] == 0).all()
    daily = audit(
        _small(metrics={"ret": {"kind": "retained", "within": 3}}), peek="daily", aa=False, **kw
    )
    assert daily.peek == "daily" and set(daily.peeking["looks"]) == {3}
    # retained is a state: its sequential tests run on calendar time (days 1, 2, 3 of 3)
    gs = daily.peeking.set_index("method").loc["group-sequential", "final_boundary"]
    cal = gsd.boundaries(np.array([1 / 3, 2 / 3, 1.0]), 0.05, "obf")[0]
    assert gs == pytest.approx(cal[-1])


class _Display:
    """What ``progress=True`` gets from ``lifesim._progress.auto_progress``: records the calls."""

    def __init__(self, label, unit):
        self.made, self.begun, self.calls = (label, unit), [], []

    def begin(self, total, done=0):
        self.begun.append((total, done))

    def __call__(self, done, total):
        self.calls.append((done, total))


def _displays(monkeypatch):
    made = []

    def auto(label, unit="runs"):
        made.append(_Display(label, unit))
        return made[-1]

    monkeypatch.setattr("lifesim._progress.auto_progress", auto)
    return made


def test_progress_true_names_the_job_and_counts_its_runs(monkeypatch):
    made = _displays(monkeypatch)
    run_experiment(_small(), seed=1, customers=20, days=60, truth_replications=2, progress=True)
    assert len(made) == 1 and made[0].made == ("experiment run", "runs")
    assert made[0].begun == [(5, 0)] and made[0].calls == [(i, 5) for i in range(1, 6)]
    audit(_small(), repeats=2, seed=1, customers=20, days=60, truth_replications=1, progress=True)
    assert len(made) == 2 and made[1].made == ("experiment audit", "runs")
    assert made[1].begun == [(4, 0)] and made[1].calls == [(i, 4) for i in range(1, 5)]


def test_runs_and_audits_refuse_custom_arms_unless_trusted():
    for job in (run_experiment, audit):
        with pytest.raises(ConfigError) as err:
            job(_custom(False), customers=20, days=60)
        assert err.value.problems[0][0] == "strategies.spend.target"
        # trusted, the code is imported and run (and refused by the engine: its tactic 'ad'
        # is not one of this scenario's)
        with pytest.raises(ConfigError) as err:
            job(_custom(False), customers=20, days=60, trust_code=True)
        assert "unknown tactic(s) ['ad']" in err.value.problems[0][1]


def test_audit_of_a_market_design_analyses_the_regions():
    data = _small(design={"unit": "market", "clusters": 4})
    res = audit(data, repeats=2, seed=4, customers=80, days=60, truth_replications=1, aa=False)
    scn, exp = resolve_experiment(data, customers=80, days=60)
    seeds = spawn_seeds(child_seed(np.random.SeedSequence(4), 1), 2)
    _, clusters, _ = simulate_experiment(scn, exp, seeds[1])
    want = analyse_dataset(clusters, exp, clusters=True)[1]
    got = res.estimates[res.estimates.repeat == 1]
    assert got["estimate"].tolist() == pytest.approx(want["estimate"].tolist())
    assert got["se"].tolist() == pytest.approx(want["se"].tolist())


def test_audit_defaults():
    import inspect

    params = inspect.signature(audit).parameters
    assert params["repeats"].default == 500 and params["jobs"].default == 1
    assert params["aa"].default is True and params["trust_code"].default is False
    for job in (true_effects, run_experiment):  # one process unless asked
        assert inspect.signature(job).parameters["jobs"].default == 1
    res = audit(_small(), repeats=2, customers=10, days=60, truth_replications=1, aa=False)
    assert res.seed == 5  # the scenario's


def test_analyse_dataset_names_the_control_and_the_expected_split():
    exp = resolve_experiment(
        _small(
            arms={
                "control": {"strategy": "none", "share": 0.25},
                "treatment": {"strategy": "none", "share": 0.75},
            },
            control="treatment",
        ),
        customers=8,
    )[1]
    data = pd.DataFrame(
        {
            "arm": ["control"] * 2 + ["treatment"] * 6,
            "conv": np.array([0, 1, 0, 0, 1, 0, 0, 0], dtype=np.int8),
            "rev": [1.0, 3.0, 2.0, 2.0, 4.0, 2.0, 1.0, 1.0],
            "pre_customer": np.zeros(8, dtype=np.int8),
            "pre_revenue": np.zeros(8),
        }
    )
    res, est = analyse_dataset(data, exp)
    assert (est.arm == "control").all() and (est.control == "treatment").all()
    assert est.iloc[2].estimate == pytest.approx(2.0 - 2.0)  # control's 2 - treatment's 2
    assert res.srm.p_value == pytest.approx(1.0)  # 2 and 6 units: exactly the 1:3 split


@pytest.mark.parametrize(
    ("arms", "budget"),
    [
        # 4 a month per region of 10: what a region's arm gets (its whole budget) matters
        ({"control": "none", "treatment": "lifecycle"}, 800),
        # 10.1 a month per region against the loyalty programme's monthly fee of 10: a
        # control region must not pay the fee of the other arm's tactics
        ({"control": "lifecycle", "treatment": "loyal"}, 2020),
    ],
)
def test_each_region_is_a_whole_market_on_its_arm_with_the_whole_budget(arms, budget):
    # each region must be what the truth run of its arm gives on that region
    data = _small(
        design={"unit": "market", "clusters": 4},
        metrics={"cost": {"kind": "cost"}, "rev": {"kind": "revenue"}},
        arms=arms,
    )
    data["strategies"]["loyal"] = {
        "type": "stage_focused",
        "plan": {"retention": ["loyalty_programme", "newsletter"], "consideration": ["newsletter"]},
    }
    data["budget"] = {"per_period": budget}
    scn, exp = resolve_experiment(data, customers=40, days=60)
    seed = np.random.SeedSequence(12)
    people, clusters, _ = simulate_experiment(scn, exp, seed)
    assert list(people.index) == list(range(40))
    cluster_arm = assign(4, [0.5, 0.5], seed)
    assert sorted(cluster_arm.tolist()) == [0, 0, 1, 1]
    for c, seed_c in enumerate(spawn_seeds(seed, 4)):
        region = resolve_experiment(data, customers=10, days=60)[0]
        values, inside = _truth_task(region, exp, seed_c, int(cluster_arm[c]))
        mine = people[people.cluster == c]
        assert inside.tolist() == list(range(10))
        for m in ("cost", "rev"):
            assert mine[m].tolist() == pytest.approx(values[m].tolist()), (c, m)
    assert people.loc[people.arm == "treatment", "cost"].sum() > 0  # its contacts were paid


def test_truth_units_are_the_eligible_people_on_the_eve_of_the_start_when_no_arm_acts():
    # an A/A test of "none" among the prospects in consideration: the router is never
    # called, so its people are read after the run from the stages at the end of day 19
    data = _small(arms={"control": "none", "treatment": "none"}, eligible=["consideration"])
    data["stages"]["awareness"]["to"]["consideration"] = 0.2
    scn, exp = resolve_experiment(data, customers=60, days=60)
    seed = np.random.SeedSequence(2)  # 43, 41, 37 in consideration after days 18, 19, 21
    people = simulate_experiment(scn, exp, seed)[0]
    truth = true_effects(scn, exp, [seed])
    assert 0 < len(people) < 60 and (truth["people"] == len(people)).all()
    assert (truth["true_effect"] == 0).all()


class _Contacting(_Spy):
    """A strategy that contacts person 0 and 1 with tactic ``t`` every day."""

    def decide(self, view):
        view.contact("t", np.array([0, 1]))


class _ContactMarket(_Market):
    def __init__(self, day, left=100.0):
        super().__init__(day, left)
        per = SimpleNamespace(per_contact=0.5)
        mask = np.array([True, True, True])
        self.tactics = {"t": SimpleNamespace(stage_mask=mask, spec=SimpleNamespace(cost=per))}

    def contact(self, tactic, people, money=None):
        return len(people)


def test_router_logs_the_control_strategys_contacts_outside_the_window():
    r = ArmRouter(
        {"ctl": _Contacting(), "trt": _Contacting()}, ASSIGNMENT, [0.5, 0.5], "ctl", (5, 40)
    )
    r.decide(_ContactMarket(45))  # after the window: everyone gets control's contacts
    assert r.log.days == [45] and r.log.people[0].tolist() == [0, 1] and r.log.cost == [0.5]
    r.decide(_ContactMarket(10))  # inside: each arm contacts its own people among 0 and 1
    assert r.log.days == [45, 10, 10] and [p.tolist() for p in r.log.people[1:]] == [[0], [1]]


def test_units_include_the_arrivals_of_the_assignment_day():
    # bug fix: arrivals enter the market before the strategies decide, so a router that acts
    # on day 10 assigns the people who arrived that day; a run in which no arm acts (control
    # "none" in the truth runs, or an A/A test of "none") assigned from the stages at the end of
    # day 9 and left them out: true_effects raised "the eligible people differ between arms"
    data = _small()
    data["market"]["arrivals"] = {"per_day": 100.0, "stage": "awareness"}  # 1 a day for 20
    data["experiment"]["start"] = 10
    data["experiment"]["metrics"] = {"rev": {"kind": "revenue"}}
    scn, exp = resolve_experiment(data, customers=20, days=60)
    seeds = [np.random.SeedSequence(2), np.random.SeedSequence(3)]  # 2 arrivals on day 10 each
    sizes = [len(simulate_experiment(scn, exp, s)[0]) for s in seeds]
    truth = true_effects(scn, exp, seeds)
    assert (truth["people"] == sum(sizes)).all()
    aa = resolve_experiment(data, customers=20, days=60)[1]
    aa = aa.model_copy(
        update={
            "arms": {a: arm.model_copy(update={"strategy": "none"}) for a, arm in aa.arms.items()}
        }
    )
    for s, n in zip(seeds, sizes, strict=True):
        people = simulate_experiment(scn, aa, s)[0]  # nobody acts: assigned after the run
        assert len(people) == n
        assert people["person"].tolist() == simulate_experiment(scn, exp, s)[0]["person"].tolist()


def test_true_effects_with_arrivals_pool_markets_of_different_sizes():
    data = _small(start=0)
    data["market"]["arrivals"] = {"per_day": 100.0, "stage": "awareness"}  # 1 a day for 20
    data["experiment"]["start"] = 10
    scn, exp = resolve_experiment(data, customers=20, days=60)
    seeds = [np.random.SeedSequence(1), np.random.SeedSequence(2)]
    sizes = [len(simulate_experiment(scn, exp, s)[0]) for s in seeds]
    assert sizes[0] != sizes[1]  # the people present on day 10 differ between the markets
    truth = true_effects(scn, exp, seeds)
    assert (truth["people"] == sum(sizes)).all()


def test_inline_arm_strategies_are_built_from_their_spec():
    scn, _ = resolve_experiment(_small(), customers=8)
    spec = {"type": "stage_focused", "plan": {"awareness": ["paid_ads"], "retention": ["coupon"]}}
    strat = _strategy(scn, spec)
    assert strat.tactics() == {"paid_ads", "coupon"}
    assert _strategy(scn, "lifecycle").tactics() == {
        "newsletter", "first_purchase_discount", "onboarding", "cross_sell", "coupon",
    }  # fmt: skip
