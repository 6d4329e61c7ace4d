"""``targeting: uplift``: the scenario's own uplift model, checked against the README equations
worked by hand from the default scenario's numbers, and the execution that uses it."""

from __future__ import annotations

import numpy as np
import pytest

import lifesim
from lifesim.config import load_scenario
from lifesim.config.scenario import StrategySpec
from lifesim.model import make_strategy


class _Probe:
    """A strategy that records what ``view`` says on chosen days (and contacts as told)."""

    name = "probe"

    def __init__(self, plan):
        self.plan = plan  # day -> callable(view)
        self.seen = {}

    def tactics(self):
        return {"proactive_support", "cross_sell", "newsletter"}

    def decide(self, view):
        fn = self.plan.get(view.day)
        if fn is not None:
            self.seen[view.day] = fn(view)


def _pop(view):
    return view._mk.svc.pop  # the hidden truth, for the hand computation only


def _stage(view, name):
    return np.flatnonzero(view.stage == view.stage_names.index(name))


def _churn_factor(sat, fatigue):
    # default scenario: satisfaction.churn_weight 1, fatigue threshold 3, 0.1 per unit, cap 1.5
    return (1 + 1.0 * (1 - sat)) * np.minimum(1 + 0.1 * np.maximum(fatigue - 3, 0), 1.5)


def test_lift_of_a_churn_reducing_tactic_matches_the_hand_formula(global_seed):
    # proactive_support: retention->churned x0.6 (p 0.007, not scaled by propensity); its
    # other move (retention->advocacy) is untouched, so lift = s x 0.007 x c x |0.6 - 1|
    def look(view):
        who = _stage(view, "retention")
        return who, view.expected_lift("proactive_support", who), view.satisfaction[who].copy()

    probe = _Probe({0: look})
    lifesim.simulate(None, strategy=probe, customers=3000, days=2, seed=global_seed)
    who, lift, sat = probe.seen[0]
    assert len(who) > 50
    # day 0: nobody has fatigue or a promotion's churn multiplier yet
    expected = 0.007 * _churn_factor(sat.astype(float), 0.0) * 0.4
    np.testing.assert_allclose(lift, expected, rtol=1e-6)
    assert np.ptp(lift) > 0  # satisfaction differs between people, and so does the lift


def test_lift_of_a_repeat_purchase_tactic_scales_with_propensity_and_fatigue(global_seed):
    # cross_sell: buy x1.35 on retention's repeat purchases (p 0.012 x propensity); no move
    # effects. Fatigue erodes it: s = exp(-0.4 F). Day 3, after everyone got a newsletter.
    def tire(view):
        view.contact("newsletter", _stage(view, "retention"))

    def look(view):
        who = _stage(view, "retention")
        pop = _pop(view)
        return (
            view.expected_lift("cross_sell", who),
            pop.propensity[who].astype(float),
            view.fatigue[who].astype(float),
        )

    probe = _Probe({0: tire, 3: look})
    lifesim.simulate(None, strategy=probe, customers=3000, days=5, seed=global_seed)
    lift, m, fat = probe.seen[3]
    assert (fat > 0).mean() > 0.5  # the newsletter left fatigue to erode the effect
    expected = np.exp(-0.4 * fat) * np.minimum(0.012 * m, 1) * 0.35
    np.testing.assert_allclose(lift, expected, rtol=1e-5)


def test_a_contact_still_in_force_counts_only_its_lapsed_days(global_seed):
    # proactive_support lasts 30 days and does not stack: 10 days after a contact, one more
    # adds 10/30 of a fresh one's lift
    def send(view):
        who = _stage(view, "retention")[:40]
        view.contact("proactive_support", who)
        return who

    def look(view):
        who = probe.seen[0]
        still = who[view.stage[who] == view.stage_names.index("retention")]
        pop = _pop(view)
        c = pop.churn_mult[still] * _churn_factor(
            view.satisfaction[still].astype(float), view.fatigue[still].astype(float)
        )
        fresh = np.exp(-0.4 * view.fatigue[still]) * 0.007 * c * 0.4
        return view.expected_lift("proactive_support", still), fresh

    probe = _Probe({0: send, 10: look})
    lifesim.simulate(None, strategy=probe, customers=3000, days=12, seed=global_seed)
    lift, fresh = probe.seen[10]
    assert len(lift) > 20
    np.testing.assert_allclose(lift, fresh * 10 / 30, rtol=1e-5)


def test_people_outside_the_tactics_stages_have_no_lift(global_seed):
    def look(view):
        return view.expected_lift("proactive_support", _stage(view, "awareness"))

    probe = _Probe({0: look})
    lifesim.simulate(None, strategy=probe, customers=2000, days=1, seed=global_seed)
    assert len(probe.seen[0]) > 100 and not probe.seen[0].any()


class _Recorder:
    """Wrap a built strategy; record who it contacts on day ``day`` and what the lift was."""

    def __init__(self, inner, day=5):
        self.inner, self.day = inner, day
        self.name = inner.name
        self.got = None

    def tactics(self):
        return self.inner.tactics()

    def decide(self, view):
        if view.day != self.day:
            self.inner.decide(view)
            return
        rec = self

        class View:
            def __getattr__(self, k):
                return getattr(view, k)

            def contact(self, tactic, people, money=None):
                eligible = np.asarray(people)
                lift = view.expected_lift(tactic, eligible)  # before the contact changes it
                sat = view.satisfaction[eligible].copy()
                n = view.contact(tactic, people, money)
                if tactic == "proactive_support":
                    rec.got = (eligible[:n], eligible, lift, sat)
                return n

        self.inner.decide(View())


def _retention_only(targeting, noise=None):
    scn = lifesim.default_scenario()
    ex = {"targeting": targeting, "min_gap_days": 7, "broadcasts": False}
    if noise is not None:
        ex["uplift_noise"] = noise
    spec = StrategySpec(
        type="stage_focused",
        plan={"retention": ["proactive_support"]},
        split={"retention": 1.0},
        execution=ex,
    )
    return scn, make_strategy(scn, spec)


def _day5(targeting, seed, noise=None, day=5):
    scn, strat = _retention_only(targeting, noise)
    rec = _Recorder(strat, day)
    lifesim.simulate(scn, strategy=rec, customers=5000, days=day + 1, seed=seed)
    return rec.got


def test_uplift_targeting_reaches_the_largest_lifts_first(global_seed):
    got, eligible, lift, _ = _day5("uplift", global_seed, noise=0.0)
    assert 0 < len(got) < len(eligible)  # the budget binds: the ranking decides
    assert np.all(np.diff(lift) <= 0)  # eligible people in decreasing lift
    k = len(got)
    assert lift[:k].min() >= np.sort(lift)[::-1][k - 1] - 1e-15


def test_uplift_targeting_moves_retention_money_to_people_at_risk(global_seed):
    # the intended direction: a churn-reducing contact goes to less satisfied (more at-risk)
    # customers than the CRM score (a read of propensity) sends it to, and each contact
    # buys more expected lift (day 0: both start from the same market)
    up, _, up_lift, up_sat = _day5("uplift", global_seed, noise=0.0, day=0)
    sc, _, sc_lift, sc_sat = _day5("score", global_seed, day=0)
    k = min(len(up), len(sc))
    assert k > 20
    assert up_sat[:k].mean() < sc_sat[:k].mean()
    assert up_lift[:k].sum() > sc_lift[:k].sum()


def test_uplift_noise_blurs_the_ranking_reproducibly(global_seed):
    exact = _day5("uplift", global_seed, noise=0.0)[0]
    noisy = _day5("uplift", global_seed, noise=1.0)[0]
    again = _day5("uplift", global_seed, noise=1.0)[0]
    np.testing.assert_array_equal(noisy, again)
    assert set(exact.tolist()) != set(noisy.tolist())


def _spec_dict(**strategy):
    d = lifesim.default_scenario().model_dump(mode="json")
    d["strategies"]["x"] = strategy
    return d


def test_uplift_noise_without_uplift_targeting_is_an_error():
    d = _spec_dict(objective="lifecycle", execution={"targeting": "score", "uplift_noise": 0.2})
    with pytest.raises(lifesim.ConfigError) as err:
        load_scenario(d)
    msg = str(err.value)
    assert "strategies.x.execution.uplift_noise" in msg and "'score'" in msg


def test_uplift_targeting_is_accepted_by_every_objective_and_the_shorthand():
    d = _spec_dict(objective="kpi", targeting="uplift")
    d["strategies"]["y"] = {"objective": "lifecycle", "execution": {"targeting": "uplift"}}
    scn = load_scenario(d)
    for name in ("x", "y"):
        strat = make_strategy(scn, name)
        assert strat.targeting == "uplift" and strat.uplift_noise == 0.5
    bad = _spec_dict(objective="kpi", targeting="upflit")
    with pytest.raises(lifesim.ConfigError, match=r"strategies\.x\.targeting"):
        load_scenario(bad)
