"""Each arm's budget, exactly, when only some people are eligible for the experiment.

:class:`~lifesim.experiments.insim.ArmRouter` documents: when a period starts (or the window
opens) the market's budget left is split so that arm ``a`` gets ``share_a x f`` and the people
outside the experiment (on the control strategy) get ``1 - f``, where ``f`` is the share of
people in an arm; an arm's allowance is its budget left over the days left in the period, at
most ``budget.max_catch_up`` times its share of the period's even rate (as in a plain rollout).
Probe strategies record what each group sees; nobody spends, so every figure is exact.
"""

import numpy as np
import pytest

import lifesim
from lifesim.experiments.insim import ArmRouter, assign

BUDGET, PERIOD, DAYS, OPEN, CAP = 120.0, 10, 20, 2, 1.5


class Probe:
    """Record the day, the people visible, the budget left and the allowance; contact nobody."""

    def __init__(self, name):
        self.name = name
        self.seen = []

    def tactics(self):
        return {"mail"}

    def decide(self, view):
        who = view.people_in(["lead", "cust"])
        self.seen.append((view.day, len(who), view.remaining(), view.allowance()))


def _scenario():
    return {
        "name": "arms",
        "days": DAYS,
        "market": {"size": 40, "initial": {"lead": 0.5, "cust": 0.5}},
        "stages": {
            "lead": {"to": {"cust": 0.0}},
            "cust": {"kind": "customer", "to": {"lead": 0.0}},
        },
        "budget": {"per_period": BUDGET, "period_days": PERIOD},
        "tactics": {"mail": {"stages": ["lead", "cust"], "cost": {"per_contact": 1.0}}},
    }


@pytest.mark.parametrize("eligible", [None, "lead"])
def test_arm_budgets_are_their_share_of_the_eligible_people(global_seed, eligible):
    shares = [0.25, 0.75]
    control, treat = Probe("control"), Probe("t")
    router = ArmRouter(
        {"control": control, "t": treat},
        lambda k: assign(k, shares, global_seed),
        shares,
        control="control",
        exposure=(OPEN, DAYS),
        period_days=PERIOD,
        days=DAYS,
        eligible=None if eligible is None else np.array([0]),  # stage code of "lead"
    )
    res = lifesim.simulate(_scenario(), seed=global_seed, strategy=router)
    n = res.customers
    lead = (res.people["initial_stage"] == "lead").to_numpy()  # nobody ever moves
    inside = lead if eligible == "lead" else np.ones(n, dtype=bool)
    assert 0 < inside.sum() < n or eligible is None
    assert np.array_equal(router.assignment >= 0, inside)
    f = inside.mean()
    k = int(inside.sum())
    sizes = np.bincount(assign(k, shares, global_seed), minlength=2)
    expected_t, expected_c = [], []
    for day in range(DAYS):
        if day < OPEN:  # before the window: the control strategy over the whole market
            expected_c.append((day, n, BUDGET, BUDGET / (PERIOD - day)))
            continue
        left = PERIOD - day % PERIOD  # days left in the period, today included
        arm_c, arm_t, rest = BUDGET * shares[0] * f, BUDGET * shares[1] * f, BUDGET * (1 - f)
        # the pacing ceiling of a plain rollout (budget.max_catch_up, default 1.5) on the
        # group's share of the period's even rate
        expected_c.append((day, sizes[0], arm_c, min(arm_c / left, CAP * arm_c / PERIOD)))
        if rest > 0:  # the people outside the experiment: control's strategy, the rest
            expected_c.append((day, n - k, rest, min(rest / left, CAP * rest / PERIOD)))
        expected_t.append((day, sizes[1], arm_t, min(arm_t / left, CAP * arm_t / PERIOD)))
    for probe, expected in ((control, expected_c), (treat, expected_t)):
        assert [s[:2] for s in probe.seen] == [e[:2] for e in expected], probe.name
        got = np.array([s[2:] for s in probe.seen])
        assert got == pytest.approx(np.array([e[2:] for e in expected]), rel=1e-12), probe.name
