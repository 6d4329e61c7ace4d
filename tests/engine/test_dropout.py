"""Heterogeneous dropout: a per-person multiplier on moves into churned stages, drawn per
segment (optionally correlated with propensity through a Gaussian copula)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import lifesim
from lifesim.config import load_scenario
from lifesim.engine.exact import expected_path

GAMMA = {"dist": "gamma", "shape": 0.6, "scale": 1 / 0.6, "max": 12.0}  # mean ~1, very spread


def _reference(dropout=None, rho=0.0):
    d = load_scenario("configs/reference.yaml").model_dump(mode="json")
    for seg in d["segments"].values():
        if dropout is not None:
            seg["dropout"] = dropout
        seg["dropout_correlation"] = rho
    return d


def test_the_default_is_everyone_alike_and_changes_no_draw(global_seed):
    base = lifesim.simulate(None, seed=global_seed, customers=2000, days=30)
    d = lifesim.default_scenario().model_dump(mode="json")
    for seg in d["segments"].values():
        seg["dropout"] = {"dist": "constant", "value": 1.0}
    same = lifesim.simulate(load_scenario(d), seed=global_seed, customers=2000, days=30)
    assert (base.people["churn_mult"] == 1).all()
    np.testing.assert_array_equal(base.stage_counts, same.stage_counts)


@pytest.mark.parametrize("rho", [0.0, 0.6, -0.6])
def test_dropout_draws_follow_their_distribution_and_copula(global_seed, rho):
    n = 40_000
    res = lifesim.simulate(
        load_scenario(_reference(GAMMA, rho)), seed=global_seed, customers=n, days=1
    )
    people = res.people
    c = people["churn_mult"].to_numpy(np.float64)
    # marginal: Kolmogorov-Smirnov against the clipped gamma (P(>12) ~ 1e-4, negligible)
    ks = stats.kstest(c, stats.gamma(a=0.6, scale=1 / 0.6).cdf)
    assert ks.pvalue > 1e-4
    # dependence: Spearman's rho of a Gaussian copula is (6 / pi) asin(rho / 2); its sampling
    # sd is about 1 / sqrt(n)
    m = people["propensity"].to_numpy(np.float64)
    target = 6 / np.pi * np.arcsin(rho / 2)
    got = stats.spearmanr(m[m > 0], c[m > 0]).statistic
    assert abs(got - target) < 5 / np.sqrt(n)


def test_heterogeneous_dropout_matches_the_exact_expectation(global_seed):
    # reference scenario (independent people) with a spread dropout correlated with propensity
    scn = _reference(GAMMA, -0.5)
    n = 200_000
    res = lifesim.simulate(load_scenario(scn), seed=global_seed, customers=n, record_events=False)
    exact = expected_path(scn)
    for day in (100, len(exact.shares) - 1):
        p = exact.shares.iloc[day].to_numpy()
        obs = res.stage_counts.iloc[day].to_numpy() / n
        z = (obs - p) / np.sqrt(p * (1 - p) / n)
        assert np.abs(z).max() < 5, dict(zip(res.stage_names, z.round(2), strict=True))
    # and the check has power: everyone alike gives other shares at this size
    alike = expected_path(_reference()).shares.iloc[-1].to_numpy()
    obs = res.stage_counts.iloc[-1].to_numpy() / n
    assert np.abs((obs - alike) / np.sqrt(alike * (1 - alike) / n)).max() > 5


def test_an_unbounded_dropout_distribution_is_refused():
    with pytest.raises(lifesim.ConfigError, match=r"segments\.\w+\.dropout\.max"):
        load_scenario(_reference({"dist": "gamma", "shape": 1.0, "scale": 1.0}))


def test_dropout_correlation_outside_minus_one_one_is_refused():
    with pytest.raises(lifesim.ConfigError, match=r"dropout_correlation"):
        load_scenario(_reference(GAMMA, 1.5))
