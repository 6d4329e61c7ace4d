"""The in-simulator truth is a plain rollout, and its error is the spread between markets.

Issue 12, item 6: (a) an arm given everyone (share 1) must meet exactly the budget of a plain
rollout of its strategy - contacts, reservations for single-use offers and their return when the
offers lapse unused, the pacing ceiling - so its run is bit-identical to ``lifesim.simulate`` of
that strategy with the same seed (the truth runs seed replication 0 with the root seed, as
``lifesim.simulate`` does); (b) ``truth_se`` comes from the spread of the per-market truths.
"""

import numpy as np
import pytest

import lifesim
from lifesim.experiments.insim.run import _router, resolve_experiment

N = 3000


@pytest.fixture(scope="module")
def study():
    from tests.conftest import CONFIGS

    scn, exp = resolve_experiment(CONFIGS / "study_short_kpi_trap.yaml", customers=N)
    exp = exp.model_copy(update={"start": 0})  # exposure from day 0 to the horizon
    return scn.model_copy(update={"experiment": exp}), exp


@pytest.mark.parametrize("arm", ["discount", "onboarding"])
def test_an_arm_with_share_one_is_a_plain_rollout_bit_for_bit(study, global_seed, arm):
    scn, exp = study
    labels = list(exp.arms)
    a = labels.index(arm)
    shares = [1.0 if i == a else 0.0 for i in range(len(labels))]
    router = _router(scn, exp, lambda k: np.full(k, a), shares)  # as the truth runs build it
    routed = lifesim.simulate(scn, seed=global_seed, strategy=router)
    plain = lifesim.simulate(scn, seed=global_seed, strategy=exp.arms[arm].strategy)
    stats = plain.tactics.set_index("tactic")
    assert stats["contacts"].sum() > 0
    if arm == "discount":  # single-use offers: reserved, and some lapse unused (come back)
        assert (
            stats.loc["first_purchase_discount", "issued"]
            > stats.loc["first_purchase_discount", "redeemed"]
        )
    for frame in ("people", "purchases", "events", "ledger"):
        assert getattr(routed, frame).equals(getattr(plain, frame)), frame
    cols = ["contacts", "issued", "redeemed", "cost"]
    got = routed.tactics.set_index("tactic")[cols]
    assert got.equals(stats[cols])
