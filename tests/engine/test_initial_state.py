"""Start a run from a given market (real customers at a cutoff) instead of a drawn one."""

from __future__ import annotations

import numpy as np
import pytest

import lifesim


def test_the_given_stages_and_multipliers_are_the_start(global_seed):
    stage = np.array(["retention"] * 300 + ["churned"] * 200 + ["advocacy"] * 100)
    prop = np.r_[np.full(300, 2.0), np.zeros(200), np.full(100, 0.5)]
    drop = np.r_[np.full(300, 0.0), np.ones(200), np.full(100, 3.0)]
    res = lifesim.simulate(
        None,
        seed=global_seed,
        days=60,
        initial={"stage": stage, "propensity": prop, "dropout": drop},
    )
    people = res.people
    assert res.customers == 600
    assert people["initial_stage"].astype(str).tolist() == stage.tolist()
    np.testing.assert_array_equal(people["propensity"].to_numpy(), prop.astype(np.float32))
    np.testing.assert_array_equal(people["churn_mult"].to_numpy(), drop.astype(np.float32))
    # dropout 0: none of the first 300 can reach a churned stage in the run
    assert not (people["stage"].astype(str).to_numpy()[:300] == "churned").any()
    assert people["initial_customer"].to_numpy()[:300].all()
    assert not people["initial_customer"].to_numpy()[300:500].any()


def test_stage_codes_work_like_names(global_seed):
    a = lifesim.simulate(None, seed=global_seed, days=20, initial={"stage": ["retention"] * 50})
    code = lifesim.default_scenario()
    idx = list(code.stages).index("retention")
    b = lifesim.simulate(None, seed=global_seed, days=20, initial={"stage": np.full(50, idx)})
    np.testing.assert_array_equal(a.stage_counts, b.stage_counts)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"stage": ["retenton"]}, r"initial: unknown stage 'retenton'; known stages: awareness"),
        ({"stage": [9]}, r"initial: stage code 9 not in 0..5"),
        ({"stage": ["retention"], "propensity": [-1.0]}, r"propensity must be finite and >= 0"),
        ({"stage": ["retention"] * 2, "dropout": [1.0]}, r"dropout has shape \(1,\); expected"),
        ({"stage": ["retention"], "segment": [0]}, r"unknown key\(s\) \['segment'\]"),
        ({"propensity": [1.0]}, r"'stage' is required"),
        # not a mapping: was a bare TypeError ("argument of type 'int' is not iterable")
        (5, r"initial: must be a mapping with 'stage'.*got int"),
        (lambda seed: {"stage": ["retention"]}, r"got function \(a LogState is called with a"),
    ],
)
def test_a_bad_initial_state_names_the_key_and_what_is_allowed(state, message):
    with pytest.raises(lifesim.ConfigError, match=message):
        lifesim.simulate(None, days=5, initial=state)


@pytest.mark.parametrize("key", ["spend", "propensity", "dropout"])
@pytest.mark.parametrize("value", [1e300, 1e13, float("inf")])
def test_huge_multipliers_in_an_initial_state_are_refused_naming_the_person(key, value):
    """A multiplier past 1e12 would become inf in the float32 arrays (or overflow money)."""
    state = {"stage": ["retention", "retention", "retention"], key: [1.0, value, 2.0]}
    msg = rf"{key} must be finite .* at most 1e\+12 .* for person 1"
    with pytest.raises(ValueError, match=msg):
        lifesim.simulate(customers=3, days=2, seed=1, initial=state)
    state[key] = [1.0, 1e12, 2.0]  # the bound itself is allowed
    res = lifesim.simulate(customers=3, days=2, seed=1, initial=state)
    assert np.isfinite(res.revenue_total)
