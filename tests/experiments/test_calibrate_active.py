"""Active customers over the holdout (at least one purchase): BG/NBD's closed form against its
own generative model, and both forecasters' figures in the holdout check."""

from __future__ import annotations

import numpy as np
import pytest

from lifesim.experiments.calibration import calibrate
from lifesim.experiments.calibration.models import bg_nbd_active
from tests.experiments.test_calibrate_extras import _log


def _bg_nbd_histories(params, n, T, t, rng):
    """Simulate BG/NBD customers from a first purchase at 0 (Fader, Hardie & Lee 2005, sec. 2):
    purchases at rate lambda ~ Gamma(r, alpha) while alive; after each one, gone with p ~
    Beta(a, b). Return (x, t_x) by T and whether they bought in (T, T + t]."""
    r, alpha, a, b = params
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    now = np.zeros(n)
    alive = np.ones(n, bool)
    x = np.zeros(n)
    t_x = np.zeros(n)
    active = np.zeros(n, bool)
    for _ in range(400):
        now = now + rng.exponential(1 / lam)
        buy = alive & (now <= T + t)
        if not buy.any():
            break
        before = buy & (now <= T)
        x[before] += 1
        t_x[before] = now[before]
        active |= buy & (now > T)
        alive &= ~(buy & (rng.random(n) < p))  # may drop out after each purchase
        alive &= now <= T + t
    return x, t_x, active


def test_bg_nbd_active_matches_its_generative_model(global_seed):
    params = (0.25, 4.0, 0.8, 2.5)  # a CDNOW-like fit, in weeks
    n, T, t = 100_000, 39.0, 39.0
    x, t_x, active = _bg_nbd_histories(params, n, T, t, np.random.default_rng(global_seed))
    prob = bg_nbd_active(params, t, x, t_x, np.full(n, T))
    # a sum of independent Bernoullis: its sd is sqrt(sum p (1 - p))
    sd = np.sqrt((prob * (1 - prob)).sum())
    assert abs(active.sum() - prob.sum()) < 5 * sd, (active.sum(), prob.sum(), sd)
    # by history too: repeat buyers and one-time buyers separately
    for group in (x == 0, (x > 0) & (x <= 2), x > 2):
        sd = np.sqrt((prob[group] * (1 - prob[group])).sum())
        assert abs(active[group].sum() - prob[group].sum()) < 5 * sd
    # x = 0 at T = 0: the NBD's P(X(t) = 0) = (alpha / (alpha + t))^r
    r, alpha = params[:2]
    assert bg_nbd_active(params, t, 0.0, 0.0, 0.0) == pytest.approx(1 - (alpha / (alpha + t)) ** r)


def test_the_holdout_check_reports_active_customers_for_both_forecasters():
    rng = np.random.default_rng(0)  # fixed data whose fits converge
    log = _log(np.sort(rng.integers(0, 60, 1500)), 300, rng)
    res = calibrate(log, cutoff=200, holdout_end=299, draws=20, forecast_draws=20, seed=2)
    out = res.to_dict()
    day = log.drop_duplicates(["customer", "day"])
    first = day.groupby("customer")["day"].transform("min")
    hold = day[(day["day"] > 200) & (day["day"] <= 299) & (first <= 200)]
    actual = hold["customer"].nunique()
    for key in ("holdout", "baseline_bgnbd"):
        act = out[key]["active_customers"]
        assert act["actual"] == actual
        assert act["lower"] <= act["upper"]
        # both models generated nothing else: within 15% of what happened
        assert abs(act["error_pct"]) < 15, (key, act)
    assert "active customers (>= 1 purchase)" in res.summary()


def test_lifesim_active_customers_match_the_pareto_nbd_it_simulates():
    # the continuous-time Pareto/NBD's own answer by Monte Carlo, draw by draw: alive with
    # P(alive), rates from their posteriors, Poisson purchases over the remaining lifetime
    from lifesim.experiments.calibration import Summary
    from lifesim.experiments.calibration.models import pareto_nbd_p_alive

    rng = np.random.default_rng(0)  # fixed data whose fits converge
    log = _log(np.sort(rng.integers(0, 60, 3000)), 300, rng)
    res = calibrate(log, cutoff=200, holdout_end=299, draws=20, forecast_draws=20, seed=4)
    o = log[log["day"] <= 200].drop_duplicates(["customer", "day"]).groupby("customer")["day"]
    s = Summary((o.size() - 1).to_numpy(float), (o.max() - o.min()).to_numpy(float),
                (200 - o.min()).to_numpy(float))  # fmt: skip
    mc = np.random.default_rng(1)
    active = []
    for r, alpha, sh, beta in res.draws[["r", "alpha", "s", "beta"]].to_numpy()[:20]:
        for _ in range(10):
            alive = mc.random(len(s.x)) < pareto_nbd_p_alive((r, alpha, sh, beta), s.x, s.t_x, s.T)
            lam = mc.gamma(r + s.x, 1 / (alpha + s.T))
            tau = np.minimum(mc.exponential(1 / mc.gamma(sh, 1 / (beta + s.T))), 99.0)
            active.append(((mc.poisson(lam * tau) > 0) & alive).sum())
    # the engine's days are discrete (at most one order a day): 3%, as the count checks
    assert res.holdout.active["predicted"] == pytest.approx(np.mean(active), rel=0.03)
