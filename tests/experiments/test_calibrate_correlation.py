"""The copula correlation of purchase and dropout rates: quadrature against the closed-form
Pareto/NBD, recovery from the engine's own correlated customers, and correlated cutoff states."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import lifesim
from lifesim.experiments.calibration import Summary, calibrate
from lifesim.experiments.calibration.correlation import (
    copula_loglik,
    correlated_state,
    fit_correlation,
)
from lifesim.experiments.calibration.models import pareto_nbd_loglik, pareto_nbd_p_alive
from tests.experiments.test_calibrate import TRUE, _market_log

THETA = np.array(list(TRUE.values()))


def _summary(n, seed):
    rng = np.random.default_rng(seed)
    T = rng.uniform(50, 400, n).round()
    x = rng.poisson(3, n).astype(float)
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, n) * T), 0.0)
    return Summary(x, t_x, T)


def test_with_rho_zero_the_quadrature_is_the_closed_form_pareto_nbd():
    s = _summary(3000, 1)
    x, t_x, T, cnt = s.grouped()
    exact = float(pareto_nbd_loglik(THETA, x, t_x, T) @ cnt)
    assert copula_loglik(THETA, 0.0, s, k=48) == pytest.approx(exact, abs=1e-3)
    assert copula_loglik(THETA, 0.0, s) == pytest.approx(exact, rel=1e-5)
    # and it depends on rho (the test has power)
    assert abs(copula_loglik(THETA, 0.5, s) - exact) > 1.0


def _correlated_log(rho, n, seed):
    return _market_log(n, 365, np.random.SeedSequence(seed), rho=rho)


def test_a_correlation_in_the_engine_is_found_and_its_absence_is_not(global_seed):
    pos = calibrate(_correlated_log(0.6, 4000, global_seed), cutoff=364, draws=10)
    c = pos.correlation
    assert c.rho > 0.2 and c.p_value < 1e-3, c
    none = calibrate(_correlated_log(0.0, 4000, global_seed), cutoff=364, draws=10)
    # 5 standard errors from 0 (the profile's curvature): a false alarm once in 1.7 million
    assert abs(none.correlation.rho) < 5 * none.correlation.se, none.correlation
    out = pos.to_dict()["correlation"]
    assert out["used_by_engine"] is False and set(out["rho"]) == {
        "estimate",
        "se",
        "lower",
        "upper",
    }
    assert pos.scenario.segments["customers"].dropout_correlation == 0
    assert any(m.startswith("correlation of purchase and dropout") for m in pos.not_identified)


def test_a_large_log_is_fitted_on_a_subsample_and_says_so():
    c = fit_correlation(_summary(3000, 2), THETA, max_customers=500)
    assert c.customers == 500 and "500 customers" in c.summary_line()


def test_correlated_cutoff_states_follow_the_copula(global_seed):
    rng = np.random.default_rng(global_seed)
    n = 20_000
    s = Summary(np.full(n, 2.0), np.full(n, 100.0), np.full(n, 200.0))  # one history
    # rho ~ 0: P(alive) is the closed form's and the rates the independent posteriors
    alive, lam, mu = correlated_state(THETA, 1e-9, s, rng)
    p = pareto_nbd_p_alive(THETA, s.x[:1], s.t_x[:1], s.T[:1])[0]
    assert abs(alive.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    r, alpha, sh, beta = THETA
    mean_lam = (r + 2) / (alpha + 200)  # Gamma(r + x, alpha + T)
    assert abs(lam.mean() - mean_lam) < 5 * np.sqrt((r + 2) / (alpha + 200) ** 2 / n)
    assert abs(stats.spearmanr(lam, mu).statistic) < 5 / np.sqrt(n)
    # rho = 0.6: among people with the same history, faster buyers leave faster
    alive, lam, mu = correlated_state(THETA, 0.6, s, rng)
    assert stats.spearmanr(lam, mu).statistic > 10 / np.sqrt(n)
    assert 0 < alive.mean() < 1


def test_a_scenario_with_correlated_rates_starts_from_the_log_with_them(global_seed):
    from lifesim.config import override
    from lifesim.experiments.calibration.state import state_from_log

    log = _correlated_log(0.0, 1500, global_seed)
    res = calibrate(log, cutoff=300, draws=10)
    scn = override(res.scenario, {"segments.customers.dropout_correlation": 0.7})
    state = state_from_log(scn, log, 300)
    assert state.rho == 0.7 and state.for_scenario(res.scenario).rho == 0.0
    drawn = state(global_seed)
    alive = drawn["stage"] == state.alive_stage
    both = drawn["propensity"][alive], drawn["dropout"][alive]
    assert stats.spearmanr(*both).statistic > 0.1
    lifesim.simulate(scn, seed=1, days=30, initial=drawn)  # a valid start
