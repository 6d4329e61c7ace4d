"""Marketing's bookkeeping on markets of a few people, driven one call at a time.

Fast tests (milliseconds each) for the mutation target ``engine/marketing`` of
``benchmarks/mutation.py``: the budget (fees, broadcasts, periods, pacing), single-use offers
(reservation, redemption, release, expiry, replacement), contacts (costs, money limits,
fatigue, strength, satisfaction, tickets, referrals), fatigue and churn, promotion side
effects, the strategy's view (orders, frequency caps) and the support desk. Every expectation
is computed by hand from the README's "The marketing equations" on a handful of people; random
numbers appear only where the contract is "drawn from the named stream ``X``" (the same seed
gives the same run), and there the test reads that stream itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from lifesim.config import load_scenario
from lifesim.config.scenario import Support
from lifesim.engine.core import Simulation
from lifesim.engine.support import SupportDesk
from lifesim.errors import ConfigError

NEVER = -32768


class Probe:
    """A strategy declaring ``tactics`` that calls ``act(view)`` each day (if given)."""

    def __init__(self, tactics, act=None, name="probe"):
        self._tactics, self.act, self.name = set(tactics), act, name
        self.views = []

    def tactics(self):
        return set(self._tactics)

    def decide(self, view):
        self.views.append(view)
        if self.act is not None:
            self.act(view)


def scenario(tactics, *, size=6, days=10, budget=None, period=10, catch_up=1.5, **extra):
    """Stages ``a`` (customer), ``b`` (prospect), ``c`` (churned); no move ever happens."""
    d = {
        "name": "tiny",
        "days": days,
        "market": {"size": size, "initial": "a"},
        "stages": {
            "a": {"kind": "customer", "to": {"b": 0.0, "c": 0.0}},
            "b": {"kind": "prospect", "to": {"a": 0.0}},
            "c": {"kind": "churned"},
        },
        "segments": {
            "all": {
                "propensity": {"dist": "constant", "value": 1.0},
                "order_value": {"dist": "constant", "value": 10.0},
            }
        },
        "tactics": tactics,
        "budget": {"per_period": budget, "period_days": period, "max_catch_up": catch_up},
        "fatigue": {
            "half_life_days": 1.0,
            "erosion": 0.5,
            "churn_threshold": 2.0,
            "churn_per_unit": 0.5,
            "max_churn_factor": 3.0,
            "satisfaction_per_unit": 0.125,
        },
    }
    d.update(extra)
    return load_scenario(d)


def make(tactics, used=None, act=None, seed=0, **kw):
    """A simulation (not run) whose strategy declares ``used`` (default: every tactic)."""
    used = list(tactics) if used is None else used
    return Simulation(scenario(tactics, **kw), seed=seed, strategy=Probe(used, act))


def rows(sim, kind=None):
    out = [tuple(r) for r in sim.ledger.rows]
    return out if kind is None else [r for r in out if r[3] == kind]


COUPON = {"stages": ["a"], "single_use": True, "duration": 3, "buy": 2.0, "order_value": 0.5}


def coupon(per_contact=1.0, per_redemption=4.0, **kw):
    return {**COUPON, "cost": {"per_contact": per_contact, "per_redemption": per_redemption}, **kw}


# -- budget: fees, broadcasts, periods, pacing ------------------------------------------------
FEES = {
    "ads": {"stages": ["a"], "cost": {"per_month": 30.0}},
    "seo": {"stages": ["a"], "mode": "broadcast", "cost": {"per_month": 100.0}},
    "chat": {"stages": ["a"], "mode": "broadcast"},
    "unused": {"stages": ["a"], "mode": "broadcast", "cost": {"per_month": 10.0}},
    "free": {"stages": ["a"]},
}


@pytest.mark.parametrize(
    ("budget", "fees", "broadcasts", "left"),
    [
        (200.0, [("ads", 30.0), ("seo", 100.0)], {"seo", "chat"}, 70.0),
        (130.0, [("ads", 30.0), ("seo", 100.0)], {"seo", "chat"}, 0.0),  # exactly enough
        (129.0, [("ads", 30.0)], {"chat"}, 99.0),  # seo's fee is not paid: it does not run
        (29.0, [], {"chat"}, 29.0),
    ],
)
def test_start_period_pays_the_strategys_fees_in_catalogue_order(budget, fees, broadcasts, left):
    sim = make(FEES, used=["free", "chat", "seo", "ads"], budget=budget)
    mk = sim.marketing
    assert mk.used == ["ads", "seo", "chat", "free"]
    sim.ledger.new_period(0)
    mk.start_period(0)
    assert rows(sim) == [(0, 0, t, "monthly fee", 1, fee) for t, fee in fees]
    assert mk.broadcasts == broadcasts
    assert sim.ledger.remaining == left
    assert mk.budget.even_rate == left / 10  # over the 10-day period


def test_broadcasts_are_chosen_anew_each_period():
    sim = make(FEES, used=["seo", "chat"], budget=100.0, days=30)
    mk = sim.marketing
    sim.ledger.new_period(0)
    mk.start_period(0)
    assert mk.broadcasts == {"seo", "chat"}
    sim.ledger.new_period(1, 0.5)  # 50: seo's fee is not paid any more
    mk.start_period(10)
    assert mk.broadcasts == {"chat"}
    assert rows(sim) == [(0, 0, "seo", "monthly fee", 1, 100.0)]


def test_period_end_is_the_next_period_or_the_horizon():
    mk = make(FEES, days=25, period=10).marketing
    got = {d: mk.budget.period_end(d) for d in (0, 1, 9, 10, 19, 20, 24)}
    assert got == {0: 10, 1: 10, 9: 10, 10: 20, 19: 20, 20: 25, 24: 25}


def test_even_rate_of_a_stub_period_and_of_a_one_day_stub():
    sim = make({"free": FEES["free"]}, days=25, period=10, budget=100.0)
    b = sim.marketing.budget
    sim.ledger.new_period(2, 5 / 10)  # days 20-24: half the budget over 5 days
    b.start_period(20)
    assert sim.ledger.remaining == 50.0 and b.even_rate == 10.0
    sim = make({"free": FEES["free"]}, days=21, period=10, budget=100.0)
    b = sim.marketing.budget
    sim.ledger.new_period(2, 1 / 10)  # day 20 alone: 10 for one day
    b.start_period(20)
    assert b.even_rate == 10.0
    assert b.allowance(20) == 10.0


def test_unlimited_budget_has_no_pacing():
    sim = make({"free": FEES["free"]}, budget=None)
    b = sim.marketing.budget
    assert b.even_rate == np.inf and b.max_catch_up == 1.5 and b.broadcasts == set()
    sim.ledger.new_period(0)
    b.start_period(0)
    assert b.remaining == np.inf and b.allowance(3) == np.inf


@pytest.mark.parametrize(
    ("day", "pending", "catch_up", "expected"),
    [
        (0, 0.0, 1.5, 8.0),  # 80 / 10 days; the ceiling 1.5 x 8 = 12 does not bind
        (0, 20.0, 1.5, 10.0),  # (80 + 20) / 10
        (6, 0.0, 1.5, 12.0),  # 80 / 4 = 20, capped at 1.5 x 8
        (6, 0.0, 3.0, 20.0),  # 80 / 4 under a looser ceiling
        (6, 0.0, None, 20.0),  # no ceiling
        (9, 0.0, None, 80.0),  # the last day of the period: all that is left
        (9, 4.0, 20.0, 84.0),
    ],
)
def test_allowance_spreads_money_and_pending_releases_under_the_ceiling(
    day, pending, catch_up, expected
):
    sim = make({"free": FEES["free"]}, budget=80.0, days=20, catch_up=catch_up)
    b = sim.marketing.budget
    sim.ledger.new_period(0)
    b.start_period(0)
    calls = []
    b.pending = lambda period, before: calls.append((period, before)) or pending
    assert b.allowance(day) == pytest.approx(expected, rel=1e-12)
    assert calls == [(0, 10)]


def test_allowance_in_the_second_period_asks_for_its_own_pending_money():
    sim = make({"free": FEES["free"]}, budget=40.0, days=20)
    b = sim.marketing.budget
    sim.ledger.new_period(1)
    b.start_period(10)
    calls = []
    b.pending = lambda period, before: calls.append((period, before)) or 0.0
    assert b.allowance(12) == pytest.approx(40.0 / 8)  # 5 <= 1.5 x 4
    assert calls == [(1, 20)]


def test_allowance_without_an_offer_book_counts_nothing_pending():
    sim = make({"free": FEES["free"]}, budget=80.0, days=20)
    b = sim.marketing.budget
    b.pending = None
    sim.ledger.new_period(0)
    b.start_period(0)
    assert b.allowance(2) == 10.0


BROADCASTS = {
    # a->b x2 and a->c x0.5 for people in a; buy x3; tickets +0.25
    "seo": {
        "stages": ["a"],
        "mode": "broadcast",
        "effect": {"a->b": 2.0, "a->c": 0.5},
        "buy": 3.0,
        "support_load": 0.25,
    },
    # a->b x1.5 and b->a x4 for people in a and b; buy x0.5; tickets +0.5
    "chat": {
        "stages": ["a", "b"],
        "mode": "broadcast",
        "effect": {"a->b": 1.5, "b->a": 4.0},
        "buy": 0.5,
        "support_load": 0.5,
    },
}


def _edge(sim, name):
    g = sim.graph
    s, d = (g.index(x) for x in name.split("->"))
    return int(np.flatnonzero((g.src == s) & (g.dst == d))[0])


def test_stage_factors_multiply_the_paid_broadcasts():
    sim = make(BROADCASTS)
    mk = sim.marketing
    g = sim.graph
    factor, cause, buy, tickets = mk.stage_factors()  # nothing paid yet: no effect
    assert (factor == 1).all() and (cause == -1).all() and (buy == 1).all()
    assert (tickets == 0).all() and cause.dtype == np.int16 and tickets.dtype == np.float32
    mk.budget.broadcasts = {"seo", "chat"}
    factor, cause, buy, tickets = mk.stage_factors()
    expected = {"a->b": 3.0, "a->c": 0.5, "b->a": 4.0}
    for e in range(g.n_edges):
        name = f"{g.names[g.src[e]]}->{g.names[g.dst[e]]}"
        assert factor[e] == expected.get(name, 1.0), name
    # the cause of a boosted move is the last tactic (by name) that raised it; a tactic that
    # only lowers a move is not its cause
    code = mk.code
    assert cause[_edge(sim, "a->b")] == code["seo"]
    assert cause[_edge(sim, "b->a")] == code["chat"]
    assert cause[_edge(sim, "a->c")] == -1
    a, b, c = (g.index(s) for s in "abc")
    assert buy[a] == 1.5 and buy[b] == 0.5 and buy[c] == 1.0
    assert tickets[a] == 0.75 and tickets[b] == 0.5 and tickets[c] == 0.0
    mk.budget.broadcasts = {"seo"}
    factor, cause, buy, tickets = mk.stage_factors()
    assert factor[_edge(sim, "a->b")] == 2.0 and cause[_edge(sim, "a->b")] == code["seo"]
    assert buy[a] == 3.0 and tickets[b] == 0.0


def test_the_days_tables_follow_the_paid_broadcasts_the_calendar_and_campaigns():
    """The engine reuses a day's tables only when nothing they depend on changed."""
    cal = {"start": "2026-06-01", "day_of_week": {"Tue": 0.5}}  # 2026-06-02 is a Tuesday
    stages = {
        "a": {
            "kind": "customer",
            "to": {"b": {"p": 0.1, "boost": True}, "c": 0.1},
            "buy": {"p": 0.2},
        },
        "b": {"kind": "prospect", "to": {"a": 0.1}},
        "c": {"kind": "churned"},
    }
    sim = make(BROADCASTS, days=30, calendar=cal, stages=stages)
    mk, g = sim.marketing, sim.graph
    a = g.index("a")
    ab = _edge(sim, "a->b")
    monday = sim._tables(0)
    assert sim._tables(0) is monday  # nothing changed: the same tables
    tuesday = sim._tables(1)
    assert tuesday.buy_b[a] == np.float32(0.1) and monday.buy_b[a] == np.float32(0.2)
    mk.budget.broadcasts = {"seo"}  # a new period paid for SEO: a->b x2, buy x3
    seo = sim._tables(0)
    assert seo.b_edge[ab] == 0.2 and seo.buy_b[a] == np.float32(0.6)
    assert sim._ticket_extra[a] == np.float32(0.25)
    mk.budget.broadcasts = set()
    assert sim._tables(0).b_edge[ab] == 0.1 and sim._ticket_extra[a] == 0
    sim._stage_boosts = [(a, 3.0, 2, 4, 7)]  # a campaign on stage a on days 2 and 3
    assert sim._tables(2).b_edge[ab] == 0.1 * 3.0 and sim._tables(2).edge_cause[ab] == 7
    assert sim._tables(4).b_edge[ab] == 0.1 and sim._stage_boosts == []


# -- single-use offers: reservation, redemption, release, expiry -------------------------------
def _store(sim, tactic):
    return sim.marketing.stores[sim.marketing.code[tactic]]


def test_a_single_use_offer_is_reserved_redeemed_once_and_released_when_it_lapses():
    sim = make({"coupon": coupon()}, budget=100.0, days=20)
    mk, led = sim.marketing, sim.ledger
    led.new_period(0)
    mk.start_period(0)
    mk.decide(2)
    assert mk.contact("coupon", np.array([4, 1, 3])) == 3
    # each contact commits 1 (contact) + 4 (its possible redemption)
    assert rows(sim) == [(2, 0, "coupon", "contact", 3, 3.0)]
    assert led.remaining == 100.0 - 3.0 - 12.0
    assert mk.stats["coupon"] == {"contacts": 3, "issued": 3, "redeemed": 0, "referrals": 0}
    e = _store(sim, "coupon")
    assert e.idx.tolist() == [1, 3, 4] and e.idx.dtype == np.int32
    assert e.until_each.tolist() == [5, 5, 5]  # day 2 + duration 3
    assert e.period_each.tolist() == [0, 0, 0] and e.used.tolist() == [False] * 3
    assert e.strength.tolist() == [1.0, 1.0, 1.0]  # nobody was tired
    assert (e.start, e.until, e.cause) == (2, 20, mk.code["coupon"])
    assert (e.buy_factor, e.value_factor) == (2.0, 0.5)
    assert mk.offers.effects() == [e]
    # the three offers lapse at the end of day 4 (until 5): all three come back then
    assert mk.offers.pending_release(0, 5) == 12.0
    assert mk.offers.pending_release(0, 4) == 0.0
    assert mk.offers.pending_release(1, 5) == 0.0
    used = mk.redeem(3, np.array([0, 3, 1]))
    assert used.tolist() == [-1, mk.code["coupon"], mk.code["coupon"]] and used.dtype == np.int16
    assert rows(sim, "redemption") == [(3, 0, "coupon", "redemption", 2, 8.0)]
    assert led.remaining == 85.0  # paid from the reservation
    assert mk.stats["coupon"]["redeemed"] == 2
    assert e.used.tolist() == [True, True, False]
    assert mk.offers.pending_release(0, 5) == 4.0
    assert mk.redeem(4, np.array([3, 1])).tolist() == [-1, -1]  # single use
    assert mk.redeem(4, np.array([], dtype=np.int64)).tolist() == []
    mk.expire(4)  # not yet lapsed
    assert led.remaining == 85.0 and len(e.idx) == 3
    mk.expire(5)
    assert led.remaining == 89.0  # person 4's unused offer comes back
    assert len(e.idx) == 0 and len(e.used) == 0 and len(e.until_each) == 0
    assert len(e.strength) == 0 and len(e.period_each) == 0
    assert mk.stats["coupon"]["redeemed"] == 2


def test_a_reservation_of_a_past_period_does_not_come_back():
    sim = make({"coupon": coupon()}, budget=100.0, days=20)
    mk, led = sim.marketing, sim.ledger
    led.new_period(0)
    mk.start_period(0)
    mk.decide(8)
    mk.contact("coupon", np.array([0, 1, 2]))  # until 11, in the next period
    assert mk.offers.pending_release(0, 20) == 12.0
    led.new_period(1)
    mk.start_period(10)
    assert led.remaining == 100.0
    assert mk.offers.pending_release(1, 20) == 0.0
    used = mk.redeem(10, np.array([1]))
    assert used.tolist() == [mk.code["coupon"]]
    # charged to the period that reserved the money
    assert rows(sim, "redemption") == [(10, 0, "coupon", "redemption", 1, 4.0)]
    mk.expire(11)
    assert led.remaining == 100.0 and len(_store(sim, "coupon").idx) == 0


def test_redemptions_are_charged_to_each_offers_period():
    sim = make({"coupon": coupon()}, budget=100.0, days=20)
    mk, led = sim.marketing, sim.ledger
    led.new_period(0)
    mk.decide(9)
    mk.contact("coupon", np.array([0, 1]))
    led.new_period(1)
    mk.decide(10)
    mk.contact("coupon", np.array([2, 3, 4]))
    used = mk.redeem(11, np.array([4, 0, 2, 1]))
    assert (used == mk.code["coupon"]).all()
    assert rows(sim, "redemption") == [
        (11, 0, "coupon", "redemption", 2, 8.0),
        (11, 1, "coupon", "redemption", 2, 8.0),
    ]
    assert mk.stats["coupon"]["redeemed"] == 4


def test_a_new_contact_replaces_the_earlier_one_and_returns_its_unused_reservation():
    sim = make({"coupon": coupon()}, budget=100.0, days=20)
    mk, led = sim.marketing, sim.ledger
    led.new_period(0)
    mk.decide(0)
    mk.contact("coupon", np.array([1, 2]))  # until 3
    mk.redeem(0, np.array([1]))
    assert led.remaining == 90.0
    mk.decide(1)
    mk.contact("coupon", np.array([3, 2]))  # until 4; 2's unused offer is replaced
    e = _store(sim, "coupon")
    assert led.remaining == 90.0 - 10.0 + 4.0
    assert e.idx.tolist() == [1, 2, 3]
    assert e.until_each.tolist() == [3, 4, 4]
    assert e.used.tolist() == [True, False, False]
    sim.pop.fatigue[1] = 2.0
    mk.decide(2)
    mk.contact("coupon", np.array([1]))  # 1's used offer is replaced: nothing comes back
    assert led.remaining == 84.0 - 5.0
    assert e.idx.tolist() == [1, 2, 3]
    assert e.until_each.tolist() == [5, 4, 4]
    assert e.used.tolist() == [False, False, False]
    assert e.strength.tolist() == pytest.approx([np.exp(-0.5 * 2.0), 1.0, 1.0], rel=1e-6)
    mk.decide(3)
    mk.contact("coupon", np.array([0]))  # below everyone held: nobody is replaced
    mk.decide(4)
    mk.contact("coupon", np.array([5]))  # above everyone held
    assert e.idx.tolist() == [0, 1, 2, 3, 5]
    assert e.until_each.tolist() == [6, 5, 4, 4, 7]
    assert e.period_each.tolist() == [0] * 5
    assert led.remaining == 79.0 - 10.0
    mk.expire(4)  # 2 and 3 lapse unused
    assert e.idx.tolist() == [0, 1, 5] and led.remaining == 69.0 + 8.0


def test_one_offer_per_order_and_offers_of_other_tactics_stay():
    tactics = {
        "coupon": coupon(),
        "voucher": coupon(per_contact=0.0, per_redemption=2.0),
        "nl": {"stages": ["a"], "duration": 2, "cost": {"per_contact": 1.0}},
    }
    sim = make(tactics, budget=100.0, days=20)
    mk, led = sim.marketing, sim.ledger
    led.new_period(0)
    mk.decide(0)
    mk.contact("voucher", np.array([0, 1]))
    mk.contact("coupon", np.array([1, 2]))
    mk.contact("nl", np.array([0, 1, 2]))
    assert led.remaining == 100.0 - 4.0 - 10.0 - 3.0
    assert mk.offers.pending_release(0, 5) == 4.0 + 8.0
    used = mk.redeem(1, np.array([0, 1, 2]))
    code = mk.code
    # 1 holds both offers: the coupon (the lower cause code) serves the order
    assert code["coupon"] < code["voucher"]
    assert used.tolist() == [code["voucher"], code["coupon"], code["coupon"]]
    assert _store(sim, "voucher").used.tolist() == [True, False]
    assert rows(sim, "redemption") == [
        (1, 0, "coupon", "redemption", 2, 8.0),
        (1, 0, "voucher", "redemption", 1, 2.0),
    ]
    assert mk.redeem(2, np.array([1])).tolist() == [code["voucher"]]
    nl = _store(sim, "nl")
    assert nl.used is None and nl.until_each.tolist() == [2, 2, 2]
    mk.expire(2)  # the newsletter lapses; it had nothing reserved
    assert len(nl.idx) == 0 and nl.strength.tolist() == []
    assert led.remaining == 83.0
    mk.expire(3)  # every offer lapses: nothing unused is left
    assert led.remaining == 83.0


def test_an_offer_without_a_redemption_cost_reserves_nothing():
    sim = make({"free": coupon(per_contact=1.0, per_redemption=0.0)}, budget=10.0)
    mk, led = sim.marketing, sim.ledger
    led.new_period(0)
    mk.decide(0)
    assert mk.contact("free", np.arange(6)) == 6
    assert led.remaining == 4.0
    assert mk.offers.pending_release(0, 10) == 0.0
    assert mk.redeem(1, np.array([3])).tolist() == [mk.code["free"]]
    assert rows(sim, "redemption") == [(1, 0, "free", "redemption", 1, 0.0)]
    mk.expire(3)
    assert led.remaining == 4.0


# -- contacts: who, how many, what they cost and do --------------------------------------------
NL = {
    "stages": ["a"],
    "duration": 4,
    "fatigue": 1.5,
    "satisfaction": -0.25,
    "cost": {"per_contact": 2.5},
}


def test_a_contact_reaches_people_in_order_within_money_and_stage():
    sim = make({"nl": NL}, budget=100.0)
    mk, pop = sim.marketing, sim.pop
    pop.stage[5] = sim.graph.index("b")  # not served by the tactic: skipped
    sim.ledger.new_period(0)
    mk.decide(1)
    # money 5 pays two contacts at 2.5: the first two served people in the given order
    assert mk.contact("nl", np.array([5, 4, 0, 2]), money=5.0) == 2
    assert rows(sim) == [(1, 0, "nl", "contact", 2, 5.0)]
    assert pop.fatigue.tolist() == [1.5, 0, 0, 0, 1.5, 0]
    assert pop.last_contact.tolist() == [1, NEVER, NEVER, NEVER, 1, NEVER]
    last = mk.contacts.last_contact_with("nl")
    assert last.dtype == np.int16 and last.tolist() == pop.last_contact.tolist()
    assert pop.satisfaction.tolist() == [0.75, 1, 1, 1, 0.75, 1]
    assert mk.stats["nl"] == {"contacts": 2, "issued": 0, "redeemed": 0, "referrals": 0}
    e = _store(sim, "nl")
    assert e.idx.tolist() == [0, 4] and e.used is None
    assert e.until_each.tolist() == [5, 5] and e.period_each.tolist() == [0, 0]
    assert e.period_each.dtype == np.int16 and e.until_each.dtype == np.int32
    assert e.edge_factor is mk.tactics["nl"].edge_factor


@pytest.mark.parametrize(
    ("money", "expected"),
    [(7.5, 3), (7.49, 2), (2.5, 1), (2.49, 0), (0.0, 0), (-5.0, 0), (np.inf, 6), (None, 6)],
)
def test_money_pays_whole_contacts(money, expected):
    sim = make({"nl": NL}, budget=None)
    sim.ledger.new_period(0)
    sim.marketing.decide(0)
    assert sim.marketing.contact("nl", np.arange(6), money=money) == expected
    assert rows(sim) == ([(0, 0, "nl", "contact", expected, 2.5 * expected)] if expected else [])


def test_money_counts_whole_contacts_despite_rounding():
    # 0.3 / 0.1 is 2.9999999999999996 in floating point: still three contacts
    sim = make({"nl": {**NL, "cost": {"per_contact": 0.1}}}, budget=None)
    sim.marketing.decide(0)
    assert sim.marketing.contact("nl", np.arange(6), money=0.3) == 3


def test_the_budget_caps_contacts_and_a_free_tactic_needs_no_money():
    tactics = {"nl": NL, "free": {"stages": ["a"], "duration": 2}}
    sim = make(tactics, budget=5.0)
    sim.ledger.new_period(0)
    mk = sim.marketing
    mk.decide(0)
    assert mk.contact("nl", np.arange(6)) == 2
    assert mk.contact("nl", np.arange(6)) == 0
    assert mk.contact("free", np.arange(6), money=0.0) == 6
    assert rows(sim) == [(0, 0, "nl", "contact", 2, 5.0)]  # free contacts are not charged
    assert _store(sim, "free").until_each.tolist() == [2] * 6


def test_contacts_end_at_the_horizon_and_must_be_distinct():
    sim = make({"nl": NL}, days=10)
    mk = sim.marketing
    mk.decide(8)
    mk.contact("nl", np.array([1]))
    assert _store(sim, "nl").until_each.tolist() == [10]  # day 8 + 4, cut at the horizon
    with pytest.raises(ValueError, match=r"contact\('nl'\): people must be distinct"):
        mk.contact("nl", np.array([3, 2, 3]))
    assert mk.contact("nl", np.array([], dtype=np.int64)) == 0
    assert mk.stats["nl"]["contacts"] == 1


def test_strength_is_set_by_the_fatigue_before_the_contact():
    sim = make({"nl": NL})
    mk, pop = sim.marketing, sim.pop
    pop.fatigue[:] = [0.0, 1.0, 2.0, 4.0, 0.0, 0.0]
    mk.decide(0)
    mk.contact("nl", np.array([3, 2, 1, 0]))
    e = _store(sim, "nl")
    # s = exp(-erosion x F) with erosion 0.5
    assert e.strength.dtype == np.float32
    assert e.strength.tolist() == pytest.approx(np.exp([0.0, -0.5, -1.0, -2.0]), rel=1e-6)
    assert pop.fatigue.tolist() == [1.5, 2.5, 3.5, 5.5, 0.0, 0.0]


def test_satisfaction_from_a_contact_stays_within_zero_and_one():
    tactics = {"nl": NL, "gift": {"stages": ["a"], "satisfaction": 0.5}}
    sim = make(tactics)
    mk, pop = sim.marketing, sim.pop
    pop.satisfaction[:] = [0.1, 0.5, 0.75, 1.0, 0.3, 0.6]
    mk.decide(0)
    mk.contact("nl", np.array([0, 1]))
    mk.contact("gift", np.array([2, 3, 4]))
    assert pop.satisfaction.tolist() == pytest.approx([0.0, 0.25, 1.0, 1.0, 0.8, 0.6])


def test_a_broadcast_cannot_be_contacted_and_undeclared_tactics_are_refused():
    sim = make({"nl": NL, **BROADCASTS}, used=["nl", "seo"])
    mk = sim.marketing
    mk.decide(0)
    assert mk.contact("seo", np.arange(6)) == 0
    assert mk.stats["seo"]["contacts"] == 0 and mk.stores == {}
    with pytest.raises(ConfigError, match="strategy 'probe' did not declare tactic 'chat'"):
        mk.contact("chat", np.arange(6))


def test_contacts_with_a_support_load_open_tickets_from_the_named_stream():
    support = {"agents": 1, "tickets_per_agent_per_day": 100}
    tactics = {"call": {"stages": ["a"], "support_load": 0.5}}
    sim = make(tactics, size=40, support=support)
    mk = sim.marketing
    mk.decide(3)
    people = np.arange(0, 40, 2)
    mk.contact("call", people)
    u = sim.stream("support:call:3").random(40)
    expected = np.zeros(40, dtype=int)
    expected[people[u[people] < 0.5]] = 1
    assert 0 < expected.sum() < 20
    assert sim.pop.open_tickets.tolist() == expected.tolist()
    assert sim.desk.opened == expected.sum()
    no_desk = make(tactics, size=40)  # without support staff the load opens nothing
    no_desk.marketing.decide(3)
    assert no_desk.marketing.contact("call", people) == 20
    assert (no_desk.pop.open_tickets == 0).all()


# -- referrals ----------------------------------------------------------------------------------
def referral(p=1.0, reward=2.0):
    ref = {"p": p, "from_stages": ["b"], "effect": {"b->a": 3.0}, "duration": 5, "reward": reward}
    return {"ref": {"stages": ["a"], "cost": {"per_contact": 1.0}, "referral": ref}}


def _referral_sim(p=1.0, reward=2.0, size=6, pool=(4, 5)):
    sim = make(referral(p, reward), budget=100.0, size=size, days=10)
    sim.pop.stage[list(pool)] = sim.graph.index("b")
    sim.ledger.new_period(0)
    return sim


def test_a_referral_reward_is_paid_only_for_referrals_made():
    sim = _referral_sim()
    mk = sim.marketing
    mk.decide(1)
    # three sure referrals, but only two people (4, 5) in b to be referred
    assert mk.contact("ref", np.array([0, 1, 2])) == 3
    assert rows(sim) == [
        (1, 0, "ref", "contact", 3, 3.0),
        (1, 0, "ref", "referral", 2, 4.0),
    ]
    assert sim.ledger.remaining == 100.0 - 3.0 - 4.0
    assert mk.stats["ref"]["referrals"] == 2
    (eff,) = sim.effects
    assert eff.idx.tolist() == [4, 5] and eff.idx.dtype == np.int32
    assert (eff.start, eff.until) == (1, 6)
    assert eff.cause == sim.causes.index("ref (referred)")
    g = sim.graph
    assert eff.edge_factor[_edge(sim, "b->a")] == 3.0
    assert eff.edge_factor.sum() == 3.0 + g.n_edges - 1
    mk.decide(7)
    mk.contact("ref", np.array([3]))
    assert sim.effects[-1].until == 10  # day 7 + 5, cut at the horizon


def test_no_referral_gives_the_whole_reward_back():
    sim = _referral_sim(p=0.0)
    mk = sim.marketing
    mk.decide(1)
    assert mk.contact("ref", np.array([0, 1, 2])) == 3
    assert rows(sim) == [(1, 0, "ref", "contact", 3, 3.0)]
    assert sim.ledger.remaining == 97.0
    assert sim.effects == [] and mk.stats["ref"]["referrals"] == 0


def test_a_referral_without_reward_costs_only_the_contact():
    sim = _referral_sim(reward=0.0)
    sim.marketing.decide(1)
    sim.marketing.contact("ref", np.array([0]))
    assert rows(sim) == [(1, 0, "ref", "contact", 1, 1.0)]
    assert sim.ledger.remaining == 99.0 and len(sim.effects) == 1


def test_tired_people_refer_less_and_the_referred_come_from_the_named_stream():
    sim = _referral_sim(size=40, pool=range(20, 40))
    mk = sim.marketing
    idx = np.arange(20)
    sim.pop.fatigue[idx] = 2.0  # strength exp(-1): chance p x s = 0.37 each
    mk.decide(2)
    mk.contact("ref", idx)
    rs = sim.stream("referral:ref:2")
    u = rs.random(40)
    k = int((u[idx] < np.exp(-1.0)).sum())
    assert 0 < k < 20
    referred = np.sort(rs.choice(np.arange(20, 40), size=k, replace=False))
    assert mk.stats["ref"]["referrals"] == k
    assert sim.effects[0].idx.tolist() == referred.tolist()
    assert sim.ledger.remaining == pytest.approx(100.0 - 20.0 - 2.0 * k)


# -- fatigue, churn, promotions -------------------------------------------------------------------
def test_churn_factor_combines_promotions_satisfaction_and_fatigue():
    sim = make({"nl": NL})
    c = sim.marketing.contacts
    pop = sim.pop
    pop.churn_mult[:] = [1.0, 2.0, 1.0, 1.0, 0.5, 1.0]
    pop.fatigue[:] = [0.0, 0.0, 4.0, 10.0, 3.0, 2.0]
    sat = np.array([0.0, 0.5, 0.0, 0.0, 1.0, 0.0], dtype=np.float32)
    # min(1 + 0.5 x max(F - 2, 0), 3) = [1, 1, 2, 3, 1.5, 1]
    f = c.churn_extra(sat)
    assert f.tolist() == [0.0, 2.0, 1.0, 2.0, 0.5, 0.0]
    assert c.churn_extra(None).tolist() == [0.0, 1.0, 1.0, 2.0, -0.25, 0.0]
    assert pop.churn_mult.tolist() == [1.0, 2.0, 1.0, 1.0, 0.5, 1.0]  # read, not changed
    quiet = make({"nl": NL}, used=[])  # no marketing: fatigue plays no part
    assert quiet.marketing.contacts.churn_extra(None) is None
    quiet.pop.fatigue[:] = 10.0
    assert quiet.marketing.contacts.churn_extra(sat).tolist() == pytest.approx(sat.tolist())


def test_no_churn_per_unit_means_fatigue_does_not_raise_churn():
    fat = {"churn_threshold": 1.0, "churn_per_unit": 0.0, "max_churn_factor": 3.0}
    sim = make({"nl": NL}, fatigue=fat)
    sim.pop.fatigue[:] = 5.0
    assert (sim.marketing.contacts.churn_extra(None) == 0).all()


def test_end_of_day_costs_satisfaction_then_decays_fatigue():
    fat = {"half_life_days": 2.0, "churn_threshold": 2.0, "satisfaction_per_unit": 0.125}
    sim = make({"nl": NL}, fatigue=fat)
    pop = sim.pop
    pop.fatigue[:] = [0.0, 2.0, 4.0, 10.0, 3.0, 1.0]
    pop.satisfaction[:] = [1.0, 1.0, 1.0, 0.5, 0.0, 1.0]
    sim.marketing.end_of_day()
    # loses 0.125 x max(F - 2, 0) (before the decay), floored at 0
    assert pop.satisfaction.tolist() == [1.0, 1.0, 0.75, 0.0, 0.0, 1.0]
    half = 0.5**0.5  # half-life 2 days
    assert pop.fatigue.tolist() == pytest.approx(
        [0.0, 2 * half, 4 * half, 10 * half, 3 * half, half], rel=1e-6
    )
    sim.marketing.end_of_day()
    assert pop.fatigue.tolist() == pytest.approx([0.0, 1.0, 2.0, 5.0, 1.5, 0.5], rel=1e-6)


def test_without_tactics_fatigue_and_satisfaction_stay():
    sim = make({"nl": NL}, used=[])
    sim.pop.fatigue[:] = 8.0
    sim.marketing.end_of_day()
    assert (sim.pop.fatigue == 8.0).all() and (sim.pop.satisfaction == 1.0).all()


def test_no_satisfaction_per_unit_keeps_satisfaction():
    sim = make(
        {"nl": NL},
        fatigue={"half_life_days": 1.0, "churn_threshold": 0.0, "satisfaction_per_unit": 0.0},
    )
    sim.pop.fatigue[:] = 8.0
    sim.marketing.end_of_day()
    assert (sim.pop.satisfaction == 1.0).all() and (sim.pop.fatigue == 4.0).all()


PROMOS = {
    "disc": {"stages": ["a"], "promo": {"propensity": 0.5, "churn": 2.0}},
    "gift": {"stages": ["a"], "promo": {"propensity": 1.0, "churn": 4.0}},
    "lure": {"stages": ["a"], "promo": {"propensity": 0.25}},
    "plain": {"stages": ["a"], "promo": {"propensity": 1.0, "churn": 1.0}},
    "nl": NL,
}


def test_promotion_side_effects_apply_once_per_person_and_promotion():
    sim = make(PROMOS)
    mk, pop = sim.marketing, sim.pop
    c = mk.code
    assert mk.contacts.has_promo
    assert mk.contacts.promo_codes == [c["disc"], c["gift"], c["lure"]]
    who = np.array([0, 1, 2, 3])
    mk.on_moves(who, np.array([c["disc"], c["gift"], c["nl"], -1], dtype=np.int16))
    assert pop.propensity.tolist() == [0.5, 1, 1, 1, 1, 1]
    assert pop.churn_mult.tolist() == [2.0, 4.0, 1, 1, 1, 1]
    # moved again by the same promotions: nothing more; by another one: its effects too
    mk.on_moves(who, np.array([c["disc"], c["disc"], c["gift"], c["lure"]], dtype=np.int16))
    assert pop.propensity.tolist() == [0.5, 0.5, 1, 0.25, 1, 1]
    assert pop.churn_mult.tolist() == [2.0, 8.0, 4.0, 1, 1, 1]
    mk.on_moves(np.array([1, 4]), np.array([c["plain"], c["plain"]], dtype=np.int16))
    assert pop.churn_mult.tolist() == [2.0, 8.0, 4.0, 1, 1, 1]
    mk.on_moves(np.array([], dtype=np.int64), np.array([], dtype=np.int16))
    assert pop.propensity.tolist() == [0.5, 0.5, 1, 0.25, 1, 1]


def test_a_catalogue_without_promotions_has_no_side_effects():
    sim = make({"plain": PROMOS["plain"], "nl": NL})
    c = sim.marketing.contacts
    assert not c.has_promo and c.promo_codes == []
    sim.marketing.on_moves(np.array([0]), np.array([sim.marketing.code["plain"]]))
    assert (sim.pop.churn_mult == 1).all() and (sim.pop.propensity == 1).all()
    only_prop = make({"lure": PROMOS["lure"]}).marketing.contacts
    assert only_prop.has_promo


# -- the strategy's side: codes, orders, the view, frequency caps --------------------------------
def test_codes_stats_and_unknown_tactics():
    tactics = {"nl": NL, **referral(), "seo": BROADCASTS["seo"]}
    sim = make(tactics, used=["seo", "nl"])
    mk = sim.marketing
    assert mk.used == ["nl", "seo"] and mk.active
    assert sim.causes == ["organic", "nl", "ref", "seo", "ref (referred)"]
    assert mk.code == {"nl": 1, "ref": 2, "seo": 3}
    assert mk.contacts.referred_codes == {"ref": 4}
    assert mk.stats == {
        t: {"contacts": 0, "issued": 0, "redeemed": 0, "referrals": 0} for t in ("nl", "ref", "seo")
    }
    assert mk.budget.pending == mk.offers.pending_release
    assert mk.budget.used is mk.used and mk.offers.stats is mk.stats
    with pytest.raises(ConfigError, match=r"strategies\.probe.*unknown tactic\(s\) \['x', 'y'\]"):
        make(tactics, used=["nl", "y", "x"])
    with pytest.raises(ConfigError, match="known: nl, ref, seo"):
        make(tactics, used=["x"])
    assert not make(tactics, used=[]).marketing.active


def test_the_crm_score_is_propensity_times_lognormal_noise():
    sim = make({"nl": NL}, size=4000, seed=5)
    mk = sim.marketing
    score = mk.score
    assert score.dtype == np.float32
    # propensity 1 for everyone: log score ~ N(0, 0.5); five standard errors either way
    logs = np.log(score.astype(np.float64))
    assert abs(logs.mean()) < 5 * 0.5 / np.sqrt(4000)
    assert abs(logs.std() - 0.5) < 5 * 0.5 / np.sqrt(2 * 4000)
    noise = sim.stream("crm_score").lognormal(0.0, 0.5, 4000).astype(np.float32)
    assert score.tolist() == (sim.pop.propensity * noise).tolist()


def test_orders_and_ranks():
    sim = make({"nl": NL}, size=50, seed=3)
    mk = sim.marketing
    sim.pop.propensity[::2] = 0.0  # ties at 0: kept in person order
    order, rank, score = mk.score_order, mk.score_rank, mk.score
    assert sorted(order.tolist()) == list(range(50))
    assert (np.diff(score[order]) <= 0).all()
    zeros = order[score[order] == 0]
    assert zeros.tolist() == list(range(0, 50, 2))
    assert rank.dtype == np.int32 and (rank[order] == np.arange(50)).all()
    ro, rr = mk.rand_order, mk.rand_rank
    assert ro.tolist() == np.argsort(sim.stream("random_order").random(50)).tolist()
    assert rr.dtype == np.int32 and (rr[ro] == np.arange(50)).all()
    assert mk.rand_order is ro and mk.score_order is order  # built once


def test_people_in_stage_are_bucketed_once_a_day():
    sim = make({"nl": NL}, size=12, seed=1)
    mk, pop = sim.marketing, sim.pop
    b = sim.graph.index("b")
    pop.stage[[1, 4, 7, 8]] = b
    mk.decide(0)
    for how, order in (("score", mk.score_order), ("random", mk.rand_order)):
        got = mk.people_in_stage(b, how)
        assert got.tolist() == [p for p in order if pop.stage[p] == b]
        a = mk.people_in_stage(0, how)
        assert a.tolist() == [p for p in order if pop.stage[p] == 0]
        assert mk.people_in_stage(sim.graph.index("c"), how).tolist() == []
    pop.stage[0] = b  # moves during the day are seen the next day
    assert 0 not in mk.people_in_stage(b).tolist()
    mk.decide(1)
    assert 0 in mk.people_in_stage(b).tolist() and mk.day == 1


def test_decide_shows_the_strategy_a_read_only_view():
    seen = []

    def act(view):
        seen.append(view)
        assert view.remaining() == 40.0
        assert view.allowance() == pytest.approx(40.0 / 6)  # days 4-9 left; ceiling 6
        assert view.contact("nl", np.array([2])) == 1

    sim = make({"nl": NL}, act=act, budget=40.0, catch_up=2.0)
    sim.ledger.new_period(0)
    sim.marketing.start_period(0)
    sim.marketing.decide(4)
    (v,) = seen
    assert v.day == 4 and v.n == 6
    assert v.stage_names == ("a", "b", "c") and v.segment_names == ("all",)
    assert v.tactics is sim.marketing.tactics
    pop = sim.pop
    for name in ("stage", "segment", "last_contact", "fatigue", "satisfaction"):
        arr = getattr(v, name)
        assert not arr.flags.writeable and np.shares_memory(arr, getattr(pop, name)), name
    for name in ("purchases", "revenue", "score"):
        assert not getattr(v, name).flags.writeable, name
    assert v.last_contact[2] == 4 and v.fatigue[2] == 1.5
    last = v.last_contact_with("nl")
    assert not last.flags.writeable and last.tolist() == [NEVER, NEVER, 4, NEVER, NEVER, NEVER]
    assert v.remaining() == 40.0 - 2.5
    h = v.history()
    assert set(h) >= {"events", "purchases"}
    idle = make({"nl": NL}, act=act, used=[])
    idle.marketing.decide(0)
    assert len(seen) == 1 and idle.marketing.day == 0  # no tactics: not asked


def _view(sim, day):
    from lifesim.engine.marketing import MarketView

    sim.marketing.decide(day)
    return MarketView(sim.marketing, day)


def test_frequency_cap_keeps_people_contacted_at_least_min_gap_days_ago():
    sim = make({"nl": NL}, size=6)
    sim.pop.last_contact[:] = [NEVER, 0, 5, 6, 7, 8]
    v = _view(sim, 8)
    everyone = sorted(v.people_in(["a"]).tolist())
    assert everyone == list(range(6))
    assert sorted(v.people_in(["a"], min_gap_days=3).tolist()) == [0, 1, 2]  # 8 - 5 >= 3
    assert sorted(v.people_in(["a"], min_gap_days=1).tolist()) == [0, 1, 2, 3, 4]
    assert sorted(v.people_in(["a"], min_gap_days=8).tolist()) == [0, 1]
    assert sorted(v.people_in(["a"], min_gap_days=9).tolist()) == [0]


def test_people_in_several_stages_merge_in_score_order():
    sim = make({"nl": NL}, size=30, seed=2)
    pop = sim.pop
    pop.stage[::3] = sim.graph.index("b")
    pop.stage[1::3] = sim.graph.index("c")
    v = _view(sim, 0)
    got = v.people_in(["a", "b"]).tolist()
    assert got == [p for p in sim.marketing.score_order if pop.stage[p] != 2]
    assert v.people_in(["c"]).tolist() == [
        p for p in sim.marketing.score_order if pop.stage[p] == 2
    ]
    with pytest.raises(ValueError, match="order must be 'score' or 'random', got 'best'"):
        v.people_in(["a"], order="best")


def test_random_order_starts_at_a_random_point_each_day():
    sim = make({"nl": NL}, size=30, seed=2)
    pop = sim.pop
    pop.stage[::3] = sim.graph.index("b")
    mk = sim.marketing
    starts = set()
    for day in range(4):
        v = _view(sim, day)
        got = v.people_in(["a", "b"], order="random", key="nl")
        ring = [p for p in mk.rand_order if pop.stage[p] != 2]
        start = int(sim.stream(f"policy:nl:{day}").integers(len(ring)))
        assert got.tolist() == ring[start:] + ring[:start]
        starts.add(start)
        single = v.people_in(["b"], order="random", key="x")
        ring = [p for p in mk.rand_order if pop.stage[p] == 1]
        start = int(sim.stream(f"policy:x:{day}").integers(len(ring)))
        assert single.tolist() == ring[start:] + ring[:start]
    assert len(starts) > 1


def test_random_order_of_two_people_is_rolled_too():
    sim = make({"nl": NL}, size=2, seed=0)
    firsts = set()
    for day in range(12):
        v = _view(sim, day)
        got = v.people_in(["a"], order="random", key="k").tolist()
        start = int(sim.stream(f"policy:k:{day}").integers(2))
        ring = sim.marketing.rand_order.tolist()
        assert got == ring[start:] + ring[:start]
        firsts.add(got[0])
    assert firsts == {0, 1}


def test_a_limit_gives_the_head_of_the_same_list():
    sim = make({"nl": NL}, size=40, seed=3)
    pop = sim.pop
    pop.stage[::3] = sim.graph.index("b")
    pop.stage[1::5] = sim.graph.index("c")
    pop.last_contact[::4] = 6  # contacted two days ago
    mk = sim.marketing
    for day in range(3):
        v = _view(sim, 8 + day)
        for stages in (["a"], ["a", "b"], ["c"]):
            for order in ("score", "random"):
                ring = [
                    p
                    for p in (mk.score_order if order == "score" else mk.rand_order)
                    if sim.graph.names[pop.stage[p]] in stages
                ]
                if order == "random":
                    start = int(sim.stream(f"policy:nl:{8 + day}").integers(len(ring)))
                    ring = ring[start:] + ring[:start]
                for gap in (0, 3):
                    want = [p for p in ring if gap == 0 or pop.last_contact[p] <= 8 + day - gap]
                    full = v.people_in(stages, gap, order=order, key="nl")
                    assert full.tolist() == want
                    for limit in (0, 1, 4, len(want), len(want) + 5):
                        got = v.people_in(stages, gap, order=order, key="nl", limit=limit)
                        assert got.tolist() == want[:limit]
                        assert got.dtype == full.dtype
    with pytest.raises(ValueError, match="limit must be >= 0 or None, got -1"):
        v.people_in(["a"], limit=-1)


def test_by_score_and_shuffled():
    sim = make({"nl": NL}, size=20, seed=4)
    v = _view(sim, 3)
    sc = sim.marketing.score
    people = np.array([5, 1, 9, 12])
    best = v.by_score(people)
    assert best.tolist() == sorted(people.tolist(), key=lambda p: -sc[p])
    assert v.by_score(best) is best  # already in order
    two = people[:2][np.argsort(sc[people[:2]])]  # worst first
    assert v.by_score(two).tolist() == two[::-1].tolist()
    assert v.by_score(people[:1]).tolist() == [5]
    mixed = v.shuffled(np.arange(20), key="t")
    pri = sim.stream("policy:t:3").random(20)
    assert mixed.tolist() == np.argsort(pri).tolist()
    assert v.shuffled(people, key="t").tolist() == people[np.argsort(pri[people])].tolist()


# -- the support desk -----------------------------------------------------------------------------
def test_support_desk_queues_batches_and_rewards_resolution():
    env = simpy.Environment()
    spec = Support(
        agents=1,
        tickets_per_agent_per_day=2,
        ticket_p={"b": 0.25, "a": 0.5},
        wait_penalty=0.25,
        resolve_bonus=0.5,
    )
    resolved = []
    desk = SupportDesk(env, spec, {"a": 0, "b": 1, "c": 2}, 3, resolved.append)
    assert desk.ticket_p.tolist() == [0.5, 0.25, 0.0] and desk.ticket_p.dtype == np.float32
    sat = np.array([1.0, 0.5, 0.5, 0.25, 0.0, 1.0], dtype=np.float32)
    tickets = np.zeros(6, dtype=np.int16)
    env.run(until=0.5)
    desk.open_tickets(0, np.array([0, 1, 2, 3, 4]), sat, tickets)
    assert tickets.tolist() == [1, 1, 1, 1, 1, 0] and desk.opened == 5
    env.run(until=0.9)
    desk.end_of_day(0, sat, tickets)  # everyone waiting loses 0.25, floored at 0
    assert sat.tolist() == [0.75, 0.25, 0.25, 0.0, 0.0, 1.0]
    assert desk.daily == [(0, 5, 0, 5)]
    env.run(until=1.9)  # one agent: batch [0, 1] done at 1.5, [2, 3] at 2.5, [4] at 3.5
    assert [r.tolist() for r in resolved] == [[0, 1]]
    assert sat.tolist() == [1.0, 0.75, 0.25, 0.0, 0.0, 1.0]  # +0.5, at most 1
    desk.end_of_day(1, sat, tickets)
    assert sat.tolist() == [1.0, 0.75, 0.0, 0.0, 0.0, 1.0]
    assert tickets.tolist() == [0, 0, 1, 1, 1, 0]
    env.run(until=4)
    assert [r.tolist() for r in resolved] == [[0, 1], [2, 3], [4]]
    assert (desk.opened, desk.resolved) == (5, 5)
    assert desk.wait_days_total == pytest.approx(2 * 1.0 + 2 * 2.0 + 1 * 3.0)
    desk.end_of_day(3, sat, tickets)
    assert desk.daily[-1] == (3, 5, 5, 0)
    assert tickets.tolist() == [0] * 6


def test_support_desk_without_penalty_or_hook():
    env = simpy.Environment()
    spec = Support(agents=2, tickets_per_agent_per_day=1, wait_penalty=0.0, resolve_bonus=0.0)
    desk = SupportDesk(env, spec, {"a": 0}, 1)
    sat = np.array([0.5, 0.5, 0.5], dtype=np.float32)
    tickets = np.zeros(3, dtype=np.int16)
    desk.open_tickets(0, np.array([0, 1, 2]), sat, tickets)
    desk.end_of_day(0, sat, tickets)
    assert sat.tolist() == [0.5, 0.5, 0.5]
    env.run(until=1.5)  # two agents: two single tickets done at 1, the third waits
    assert desk.resolved == 2 and tickets.tolist() == [0, 0, 1]
    env.run(until=3)
    assert desk.resolved == 3 and desk.wait_days_total == pytest.approx(0.5 + 0.5 + 1.5)


# -- edge cases: small fees and prices, repeated calls, stores in any order ---------------------
def test_a_budget_without_an_offer_book_paces_the_money_left():
    from lifesim.engine.budget import MarketingBudget

    sim = make({"free": FEES["free"]}, budget=80.0, days=20)
    mk = sim.marketing
    b = MarketingBudget(sim.services, mk.tactics, mk.used, mk.code)
    sim.ledger.new_period(0)
    b.start_period(0)
    assert b.pending is None and b.allowance(6) == pytest.approx(12.0)  # 80 / 4, capped


def test_a_fee_below_one_is_paid_too():
    sim = make({"seo": {**FEES["seo"], "cost": {"per_month": 0.5}}}, budget=10.0)
    sim.ledger.new_period(0)
    sim.marketing.start_period(0)
    assert rows(sim) == [(0, 0, "seo", "monthly fee", 1, 0.5)]
    assert sim.ledger.remaining == 9.5


def test_a_catalogue_without_tactics():
    sim = make({}, used=[])
    c = sim.marketing.contacts
    assert not c.has_promo and c.promo_codes == [] and not sim.marketing.active
    assert sim.causes == ["organic"]
    assert c.churn_extra(None) is None


def test_counters_add_up_over_calls():
    sim = make({"coupon": coupon(), **referral(reward=0.5)}, budget=100.0, size=8)
    sim.pop.stage[[6, 7]] = sim.graph.index("b")
    mk, led = sim.marketing, sim.ledger
    led.new_period(0)
    mk.decide(0)
    assert mk.contact("coupon", [0, 1]) == 2
    assert mk.contact("coupon", [2]) == 1
    assert mk.contact("coupon", []) == 0  # an empty list is no one
    assert mk.stats["coupon"]["contacts"] == 3 and mk.stats["coupon"]["issued"] == 3
    mk.redeem(1, np.array([0]))
    mk.redeem(2, np.array([1, 2]))
    assert mk.stats["coupon"]["redeemed"] == 3
    # a reward below 1 is reserved and paid like any other: one sure referral per contact
    before = led.remaining
    mk.contact("ref", [3])
    mk.contact("ref", [4])
    assert mk.stats["ref"]["referrals"] == 2
    assert rows(sim, "referral") == [(0, 0, "ref", "referral", 1, 0.5)] * 2
    assert led.remaining == pytest.approx(before - 2 * 1.5)
    with pytest.raises(ValueError, match="must be distinct"):
        mk.contact("coupon", [5, 5])


def test_stores_without_offers_are_skipped_wherever_they_come():
    # the newsletter (no offer) has the lower cause code: pending money, redemptions and
    # releases of the offers behind it still count
    tactics = {
        "nl": {"stages": ["a"], "duration": 2, "cost": {"per_contact": 1.0}},
        "offer": coupon(per_contact=0.0, per_redemption=1.0),
    }
    sim = make(tactics, budget=20.0)
    mk, led = sim.marketing, sim.ledger
    assert mk.code["nl"] < mk.code["offer"]
    led.new_period(0)
    mk.decide(0)
    assert mk.contact("nl", [0, 1, 2]) == 3
    assert led.remaining == 17.0
    assert mk.contact("offer", [1, 2]) == 2
    assert led.remaining == 15.0
    assert mk.offers.pending_release(0, 3) == 2.0  # the offers (1 each) lapse on day 3
    assert mk.redeem(1, np.array([1])).tolist() == [mk.code["offer"]]
    mk.expire(2)  # the newsletter lapses first ...
    assert len(_store(sim, "nl").idx) == 0
    assert mk.offers.pending_release(0, 3) == 1.0  # ... and its empty store is skipped
    assert mk.redeem(2, np.array([2])).tolist() == [mk.code["offer"]]
    mk.decide(2)
    mk.contact("offer", [3])  # until 5
    mk.expire(5)
    assert led.remaining == 15.0 - 1.0 + 1.0  # 3's unused offer (1.0) came back


def test_a_redemption_price_below_one_is_reserved():
    sim = make({"coupon": coupon(per_contact=0.0, per_redemption=0.5)}, budget=10.0)
    sim.ledger.new_period(0)
    sim.marketing.decide(0)
    sim.marketing.contact("coupon", [0, 1])
    assert sim.ledger.remaining == 9.0
    assert sim.marketing.offers.pending_release(0, 3) == 1.0


def test_a_contact_for_the_newest_person_held_replaces_the_old_one():
    sim = make({"coupon": coupon()}, budget=100.0)
    mk = sim.marketing
    sim.ledger.new_period(0)
    mk.decide(0)
    mk.contact("coupon", [1, 2])
    mk.decide(1)
    mk.contact("coupon", [0, 2])
    e = _store(sim, "coupon")
    assert e.idx.tolist() == [0, 1, 2] and e.until_each.tolist() == [4, 3, 4]
    assert sim.ledger.remaining == 100.0 - 20.0 + 4.0


def test_an_empty_store_does_not_hide_the_next_ones():
    tactics = {"nl": {"stages": ["a"], "duration": 1}, "offer": coupon()}
    sim = make(tactics, budget=100.0)
    mk, led = sim.marketing, sim.ledger
    assert mk.code["nl"] < mk.code["offer"]
    led.new_period(0)
    mk.decide(0)
    mk.contact("nl", [0])
    mk.expire(1)  # the newsletter's store is empty from now on
    mk.decide(1)
    mk.contact("offer", [1, 2])  # until 4
    assert mk.offers.pending_release(0, 4) == 8.0
    assert mk.redeem(2, np.array([1])).tolist() == [mk.code["offer"]]
    mk.expire(4)
    assert led.remaining == 100.0 - 10.0 + 4.0 and len(_store(sim, "offer").idx) == 0


def test_promotions_multiply_whatever_propensity_people_have_in_float32():
    sim = make(PROMOS)
    mk, pop = sim.marketing, sim.pop
    c = mk.code
    pop.propensity[:] = 0.6369617
    pop.churn_mult[:] = [1.0, 1.5, 0.6369617, 1.0, 1.0, 1.0]
    mk.contacts.promo_prop[c["disc"]] = 0.7
    mk.contacts.promo_churn[c["disc"]] = 1.1
    # only the second promotion moves anyone in this call: the first one is skipped, not all
    mk.on_moves(np.array([1, 3]), np.array([c["gift"], c["lure"]], dtype=np.int16))
    p = np.float32(0.6369617)
    assert pop.churn_mult[1] == np.float32(6.0)
    assert pop.propensity.tolist() == [p, p, p, p * np.float32(0.25), p, p]
    mk.on_moves(np.array([0, 2]), np.array([c["disc"], c["disc"]], dtype=np.int16))
    # float32 arithmetic, as for every per-person array (bit-identical runs)
    assert pop.propensity[0] == p * np.float32(0.7) != np.float32(float(p) * 0.7)
    assert pop.churn_mult[2] == p * np.float32(1.1) != np.float32(float(p) * 1.1)


def test_support_tickets_add_up_per_person():
    env = simpy.Environment()
    desk = SupportDesk(env, Support(agents=1, tickets_per_agent_per_day=10), {"a": 0}, 1)
    sat = np.ones(3, dtype=np.float32)
    tickets = np.zeros(3, dtype=np.int16)
    desk.open_tickets(0, np.array([0, 1]), sat, tickets)
    desk.open_tickets(0, np.array([1]), sat, tickets)
    assert tickets.tolist() == [1, 2, 0] and desk.opened == 3


# -- the view: orders without ties broken at random, default keys ---------------------------------
def test_the_first_contact_before_any_decision_is_on_day_zero():
    sim = make({"nl": NL}, budget=100.0)
    mk = sim.marketing
    sim.ledger.new_period(0)
    assert mk.people_in_stage(0).tolist() == [p for p in mk.score_order if sim.pop.stage[p] == 0]
    assert mk.contact("nl", [1]) == 1
    assert rows(sim) == [(0, 0, "nl", "contact", 1, 2.5)]
    with pytest.raises(ConfigError, match=r"\btactic: strategy 'probe' did not declare"):
        mk.contact("zzz", [1])


def test_score_order_is_not_rolled():
    sim = make({"nl": NL}, size=30, seed=2)
    pop = sim.pop
    pop.stage[::3] = sim.graph.index("b")
    for day in range(5):
        v = _view(sim, day)
        order = sim.marketing.score_order
        assert v.people_in(["a", "b"]).tolist() == [p for p in order if pop.stage[p] != 2]
        assert v.people_in(["a"]).tolist() == [p for p in order if pop.stage[p] == 0]


def test_the_default_key_of_random_orders_is_empty():
    sim = make({"nl": NL}, size=30, seed=2)
    for day in range(3):
        v = _view(sim, day)
        ring = sim.marketing.rand_order.tolist()
        start = int(sim.stream(f"policy::{day}").integers(30))
        assert v.people_in(["a"], order="random").tolist() == ring[start:] + ring[:start]
        pri = sim.stream(f"policy::{day}").random(30)
        assert v.shuffled(np.arange(30)).tolist() == np.argsort(pri).tolist()


def test_by_score_sorts_any_order_and_keeps_ties_in_place():
    sim = make({"nl": NL}, size=60, seed=4)
    sim.pop.propensity[10:] = 0.0  # fifty people share the score 0
    v = _view(sim, 0)
    sc = sim.marketing.score
    top = sorted(range(10), key=lambda p: -sc[p])
    people = np.array([top[0], top[2], top[1]])  # best first, then not in order
    assert v.by_score(people).tolist() == top[:3]
    mixed = np.array(list(range(59, 9, -1)) + top[::-1])
    assert v.by_score(mixed).tolist() == top + list(range(59, 9, -1))


UPLIFT = {
    "save": {"stages": ["a"], "effect": {"a->c": 0.5}, "duration": 4},
}


def _uplift_sim():
    scn = _uplift_scenario(size=40, satisfaction={"churn_weight": 1.0})
    return Simulation(scn, seed=0, strategy=Probe(["save"]))


def _uplift_scenario(size, satisfaction):
    scn = scenario(UPLIFT, size=size, satisfaction=satisfaction).model_dump(mode="json")
    scn["stages"]["a"]["to"] = {"b": 0.0, "c": 0.01}  # churn 1% a day, halved by "save"
    scn["stages"]["b"] = {"kind": "prospect"}
    return load_scenario(scn)


def test_expected_lift_follows_the_churn_factor_by_hand():
    sim = _uplift_sim()
    pop, mk = sim.pop, sim.marketing
    pop.fatigue[:4] = [0.0, 4.0, 10.0, 3.0]
    pop.satisfaction[:4] = [1.0, 0.5, 1.0, 0.0]
    pop.churn_mult[:4] = [1.0, 1.0, 2.0, 1.0]
    lift = mk.expected_lift("save", np.arange(4))
    # s x 0.01 x c x |0.5 - 1|, s = exp(-0.5 F),
    # c = churn_mult x (1 + 1 x (1 - sat)) x min(1 + 0.5 x max(F - 2, 0), 3)
    s = np.exp(-0.5 * np.array([0.0, 4.0, 10.0, 3.0]))
    c = np.array([1.0, 1.5 * 2.0, 2.0 * 3.0, 2.0 * 1.5])
    np.testing.assert_allclose(lift, s * 0.01 * c * 0.5, rtol=1e-6)
    assert mk.expected_lift("save", []).tolist() == []
    with pytest.raises(ConfigError, match=r"\btactic: unknown tactic 'zzz'"):
        mk.expected_lift("zzz", [0])


def test_expected_lift_noise_is_one_normal_per_person_from_its_stream():
    sim = _uplift_sim()
    mk = sim.marketing
    people = np.arange(40)
    base = mk.expected_lift("save", people)
    assert mk.expected_lift("save", people, 0.0).tolist() == base.tolist()
    z = sim.stream("uplift_model").standard_normal(40)
    noisy = mk.expected_lift("save", people[::-1], 0.5)
    np.testing.assert_allclose(noisy, (base * np.exp(0.5 * z))[::-1], rtol=1e-12)
    assert mk.expected_lift("save", people[::-1], 0.5).tolist() == noisy.tolist()
    v = _view(sim, 0)
    np.testing.assert_allclose(v.expected_lift("save", people), base, rtol=0)


def test_by_uplift_sorts_largest_first_and_keeps_ties_in_place():
    sim = _uplift_sim()
    pop = sim.pop
    pop.fatigue[:10] = np.arange(10, dtype=np.float32) / 4  # lifts fall with fatigue
    pop.stage[10:] = sim.graph.index("b")  # not served: thirty people with lift 0
    v = _view(sim, 0)
    people = np.array(list(range(39, 9, -1)) + [3, 0, 9, 5, 1, 2, 8, 4, 6, 7])
    assert v.by_uplift("save", people).tolist() == list(range(10)) + list(range(39, 9, -1))


def test_dropout_alone_makes_a_churn_factor_without_marketing():
    def with_dropout(value):
        scn = scenario({"nl": NL}).model_dump(mode="json")
        scn["segments"]["all"]["dropout"] = {"dist": "constant", "value": value}
        return Simulation(load_scenario(scn), seed=0, strategy=Probe([]))

    sim = with_dropout(2.0)
    assert sim.pop.churn_mult.tolist() == [2.0] * 6
    assert sim.marketing.contacts.churn_extra(None).tolist() == [1.0] * 6
    sim = with_dropout(0.5)
    assert sim.marketing.contacts.churn_extra(None).tolist() == [-0.5] * 6
    assert with_dropout(1.0).marketing.contacts.churn_extra(None) is None


def test_a_free_offer_ahead_does_not_hide_the_priced_ones():
    sim = make({"free": coupon(per_redemption=0.0), "offer": coupon()}, budget=100.0)
    mk = sim.marketing
    assert mk.code["free"] < mk.code["offer"]
    sim.ledger.new_period(0)
    mk.decide(0)
    mk.contact("free", [0, 1])
    mk.contact("offer", [2])
    assert mk.offers.pending_release(0, 3) == 4.0


def test_view_affordable_is_what_money_and_budget_pay_for():
    # unit cost 1 + 4 reserved per single-use offer = 5; a free tactic is limited by nobody
    sim = make({"coupon": coupon(), "free": {"stages": ["a"]}, **FEES}, budget=23.0, size=6)
    mk = sim.marketing
    sim.ledger.new_period(0)
    mk.decide(0)
    from lifesim.engine.marketing import MarketView

    view = MarketView(mk, 0)
    assert view.affordable("coupon") == 4  # floor(23 / 5)
    assert view.affordable("coupon", money=14.99) == 2
    assert view.affordable("coupon", money=0.0) == 0
    assert view.affordable("free", money=0.0) == 6  # free contacts: the whole market
    assert view.affordable("seo") == 0  # a broadcast is never contacted person by person
    # the bound holds: contact makes exactly that many when people are plentiful
    assert view.contact("coupon", np.arange(6), money=14.99) == 2
    assert view.affordable("coupon") == 2  # 23 - 2 x 5 = 13 left
    with pytest.raises(ConfigError, match="unknown tactic 'nope'"):
        view.affordable("nope")
