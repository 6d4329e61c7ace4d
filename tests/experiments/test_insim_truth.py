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
from lifesim.experiments.insim.run import _router, resolve_experiment, true_effects

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


def test_truth_se_is_the_spread_of_the_truths_of_independent_markets(global_seed):
    from tests.experiments.test_insim import scenario

    scn, exp = resolve_experiment(scenario(), customers=500)
    seeds = np.random.SeedSequence(global_seed).spawn(5)
    # each market alone (its own truth), then all five together
    alone = [true_effects(scn, exp, [s]).set_index(["metric", "arm"]) for s in seeds]
    both = true_effects(scn, exp, seeds).set_index(["metric", "arm"])
    assert (both["replications"] == 5).all() and (both["truth_se_from"] == "markets").all()
    assert all((t["truth_se_from"] == "people").all() for t in alone)
    for key, row in both.iterrows():
        truths = np.array([t.loc[key, "true_effect"] for t in alone])
        assert row["people"] == 5 * alone[0].loc[key, "people"]  # everyone, every market
        assert row["true_effect"] == pytest.approx(truths.mean(), rel=1e-12, abs=1e-12)
        spread = truths.std(ddof=1) / np.sqrt(len(truths))  # markets are equal-sized
        assert row["truth_se"] == pytest.approx(spread, rel=1e-9, abs=1e-12), key
    assert (both["truth_se"] > 0).any()


def test_audit_expects_the_coverage_a_truth_known_to_its_error_allows():
    from lifesim.experiments.insim.audit import _expected_coverage

    # hand values (tables of Phi): 2 Phi(1.959964 / sqrt(2)) - 1 = 2 Phi(1.385904) - 1
    # = 2 x 0.917112 - 1; no truth error: the nominal rate
    assert _expected_coverage(0.05, 1.0, 1.0) == pytest.approx(0.834224, abs=1e-6)
    assert _expected_coverage(0.05, 0.0, 1.0) == pytest.approx(0.95)
    assert _expected_coverage(0.10, 0.5, 1.0) == pytest.approx(2 * 0.929382 - 1, abs=1e-5)
