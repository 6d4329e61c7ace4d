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
