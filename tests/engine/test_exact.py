"""The simulator agrees with the exact expectation (propagated without sampling)."""

import numpy as np

import lifesim
from lifesim.engine.exact import expected_path


def test_final_shares_and_revenue_match_the_exact_expectation(configs_dir, global_seed):
    ref = configs_dir / "reference.yaml"
    n = 200_000
    res = lifesim.simulate(ref, seed=global_seed, customers=n, record_events=False)
    exact = expected_path(ref)
    p = exact.shares.iloc[-1].to_numpy()
    obs = res.stage_counts.iloc[-1].to_numpy() / n
    # people are independent here, so each share is a mean of n iid indicators
    z = (obs - p) / np.sqrt(p * (1 - p) / n)
    assert np.abs(z).max() < 5, dict(zip(res.stage_names, z.round(2), strict=True))
    rev = res.people.revenue.to_numpy()
    se = rev.std(ddof=1) / np.sqrt(n)
    assert abs(rev.mean() - exact.revenue_per_person) < 5 * se
    # and along the way, not just at the end (day 100)
    mid = res.stage_counts.iloc[100].to_numpy() / n
    pm = exact.shares.iloc[100].to_numpy()
    assert np.abs((mid - pm) / np.sqrt(pm * (1 - pm) / n)).max() < 5


def test_the_check_has_power_against_a_wrong_model(configs_dir, global_seed):
    """Without the weekly email the shares are measurably different at the same size."""
    ref = configs_dir / "reference.yaml"
    scn = lifesim.load_scenario(ref).model_dump(mode="json")
    scn["campaigns"] = {}
    n = 200_000
    res = lifesim.simulate(scn, seed=global_seed, customers=n, record_events=False)
    p = expected_path(ref).shares.iloc[-1].to_numpy()
    obs = res.stage_counts.iloc[-1].to_numpy() / n
    assert np.abs((obs - p) / np.sqrt(p * (1 - p) / n)).max() > 5


def test_a_move_that_is_an_order_counts_in_orders_and_revenue():
    """One move a day with probability 0.1 that is an order of 10: 1, then 1 + 0.9."""
    scn = {
        "name": "moves",
        "days": 2,
        "market": {"size": 10, "initial": "lead"},
        "stages": {
            "lead": {"kind": "prospect", "to": {"buyer": {"p": 0.1, "purchase": True}}},
            "buyer": {"kind": "customer"},
        },
        "segments": {"all": {"order_value": {"dist": "constant", "value": 10.0}}},
    }
    exact = expected_path(scn)
    np.testing.assert_allclose(exact.orders, [0.1, 0.9 * 0.1])
    assert np.isclose(exact.revenue_per_person, 10 * (0.1 + 0.09))
