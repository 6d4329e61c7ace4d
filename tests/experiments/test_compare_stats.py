"""Holm's adjustment and Fieller's ratio interval: against statsmodels, and coverage rates."""

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from lifesim.experiments.stats import holm, ratio_ci


@pytest.mark.parametrize("m", [1, 2, 3, 6, 10, 45])
def test_holm_matches_statsmodels(global_seed, m, no_gc_collect):
    rng = np.random.default_rng([global_seed, m])
    for _ in range(50):
        p = rng.uniform(0, 1, m) ** rng.uniform(0.5, 4)  # many small ones too
        if m > 2:
            p[1] = p[0]  # ties
        want = multipletests(p, alpha=0.05, method="holm")[1]
        np.testing.assert_allclose(holm(p), want, rtol=1e-12, atol=0)


def test_holm_leaves_nan_out_of_the_family():
    p = np.array([0.01, np.nan, 0.04, 0.03])
    got = holm(p)
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2, 3]], multipletests([0.01, 0.04, 0.03], method="holm")[1])
    assert np.isnan(holm(np.array([np.nan]))).all() and holm(np.array([])).shape == (0,)


def test_ratio_ci_with_a_constant_denominator_is_the_t_interval():
    from scipy import stats

    rng = np.random.default_rng(3)
    x = rng.normal(5, 2, 12)
    y = np.full(12, 4.0)
    r = ratio_ci(x, y)
    ci = stats.ttest_1samp(x, 0).confidence_interval()
    assert r["ratio"] == pytest.approx(x.mean() / 4)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low / 4, ci.high / 4), rel=1e-12)
    assert r["bounded"] is True


def test_ratio_ci_is_unbounded_when_the_denominator_may_be_zero():
    rng = np.random.default_rng(4)
    y = rng.normal(0, 1, 10)
    x = rng.normal(1, 1, 10)
    r = ratio_ci(x, y)
    assert r["bounded"] is False and r["ci_low"] == -np.inf and r["ci_high"] == np.inf


@pytest.mark.parametrize(("mu_y", "rho"), [(10.0, 0.6), (3.0, -0.3), (-4.0, 0.0)])
def test_fieller_interval_covers_the_true_ratio_at_the_nominal_rate(global_seed, mu_y, rho):
    """Fieller's set is exact for normal replications: coverage 95% (unbounded sets count as
    covering). 2,000 datasets: the coverage's sd is 0.0049; 5 sd tolerance, any seed."""
    rng = np.random.default_rng([global_seed, int(10 * mu_y) % 97])
    sims, n, mu_x = 2000, 8, 7.0
    cov = np.array([[4.0, rho * 2 * 1.5], [rho * 2 * 1.5, 2.25]])
    draws = rng.multivariate_normal([mu_x, mu_y], cov, size=(sims, n))
    hits = 0
    for k in range(sims):
        r = ratio_ci(draws[k, :, 0], draws[k, :, 1])
        hits += r["ci_low"] <= mu_x / mu_y <= r["ci_high"]
    rate = hits / sims
    se = np.sqrt(0.95 * 0.05 / sims)
    assert abs(rate - 0.95) < 5 * se, rate
