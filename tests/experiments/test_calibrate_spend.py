"""Per-customer spend in the calibrated simulator: the Gamma-Gamma model written into the
scenario, each customer's spend drawn from its posterior at the cutoff, and the simulated
holdout revenue against the closed form."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy import stats

from lifesim.config import load_scenario, override
from lifesim.experiments.calibration import Summary, calibrate
from lifesim.experiments.calibration.forecast import SpendState
from lifesim.experiments.calibration.models import pareto_nbd_expected
from lifesim.experiments.calibration.state import state_from_log
from tests.experiments.test_calibrate_extras import _log


def _gg_mean(p, q, g, x, m):
    """Fader, Hardie & Lee (2005): E[M | x, m] = (gamma + m x) p / (p x + q - 1)."""
    return (g + m * x) * p / (p * x + q - 1)


@pytest.mark.parametrize(
    ("x", "m", "draw_p"),
    [
        (0, 0.0, 6.0),  # no repeat order: the prior mean p gamma / (q - 1) = 30
        (3, 40.0, 6.0),  # 810 / 21 = 38.57
        (3, 10.0, 6.0),  # 270 / 21 = 12.86
        (10, 25.0, 6.0),  # 1590 / 63 = 25.24
        (2, 0.0, 6.0),  # repeat orders all of value 0: left out of the fit, so the prior
        (3, 40.0, 5.0),  # a draw whose p differs from the scenario's: its own mean 675 / 18
    ],
)
def test_a_customers_spend_is_drawn_from_its_gamma_gamma_posterior(global_seed, x, m, draw_p):
    q, g, n = 4.0, 15.0, 200_000
    state = SpendState(np.array([draw_p, q, g]), 6.0, np.full(n, m))
    orders = 6.0 * state.draw(np.full(n, float(x)), np.random.default_rng(global_seed))
    expected = _gg_mean(draw_p, q, g, x if m > 0 else 0, m)
    se = orders.std(ddof=1) / np.sqrt(n)
    assert abs(orders.mean() - expected) < 5 * se, (orders.mean(), expected)


def _repeat_means(log, cutoff):
    """Per customer (sorted ids): repeat purchase days and their mean value, by hand."""
    o = log[log["day"] <= cutoff].groupby(["customer", "day"], as_index=False)["amount"].sum()
    o = o.sort_values(["customer", "day"])
    rep = o[o.duplicated("customer")]  # every order of a customer but the first
    x = o.groupby("customer").size() - 1
    total = rep.groupby("customer")["amount"].sum().reindex(x.index, fill_value=0.0)
    return x.to_numpy(float), np.divide(total, x, out=np.zeros(len(x)), where=x > 0)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(11)  # fixed data whose fits converge
    log = _log(np.sort(rng.integers(0, 60, 3000)), 400, rng, spend=(4.0, 5.0, 30.0))
    res = calibrate(log, cutoff=250, holdout_end=399, draws=40, forecast_draws=30, seed=3)
    return log, res


def test_the_scenario_holds_the_fitted_spend_model(fitted):
    log, res = fitted
    p, q, g = res.spend.estimate
    seg = res.scenario.segments["customers"]
    assert (seg.order_value.dist, seg.order_value.shape, seg.order_value.scale) == ("gamma", p, 1)
    assert (seg.spend.dist, seg.spend.shape, seg.spend.scale) == ("invgamma", q, g)
    # the truth (4, 5, 30) inside the fit's intervals (a 95% interval each: 4.5 sigma margin)
    z = np.abs(np.log(res.spend.estimate) - np.log([4.0, 5.0, 30.0]))
    assert np.all(z < 4.5 * np.sqrt(np.diag(res.spend.log_cov))), res.spend.params
    text = res.scenario_yaml
    assert "Gamma-Gamma" in text and load_scenario(yaml.safe_load(text)) == res.scenario
    out = res.to_dict()
    assert set(out["spend"]["parameters"]) == {"p", "q", "gamma"}
    assert "not used by the engine" in out["order_value"]["method"]
    d = res.draws
    for col in ("spend_p", "spend_q", "spend_gamma"):
        assert d[col].nunique() == len(d) and (d["spend_q"] > 1).all()
    np.testing.assert_array_equal(d["segments.customers.spend.shape"], d["spend_q"])
    paths = [c for c in d.columns if c.startswith("segments.customers.")]
    row = {c: float(d[c].iloc[0]) for c in paths}
    assert (
        override(res.scenario, row).segments["customers"].spend.scale
        == row["segments.customers.spend.scale"]
    )


def test_the_holdout_revenue_matches_the_closed_form_draw_by_draw(fitted):
    # sum over customers of E[X_i] (Pareto/NBD) x E[M_i] (Gamma-Gamma), averaged over the same
    # parameter draws the simulation used: the simulated revenue should be this, up to the
    # engine's discrete days (at most one order a day, as the 2% of the count check) and the
    # Monte Carlo error of 30 simulations (about 1% here)
    log, res = fitted
    x, m = _repeat_means(log, 250)
    o = log[log["day"] <= 250].groupby("customer")["day"]
    t_x = (o.max() - o.min()).to_numpy(float)
    T = (250 - o.min()).to_numpy(float)
    s = Summary(x, t_x, T)
    d = res.draws.iloc[:30]
    theta = d[["r", "alpha", "s", "beta"]].to_numpy()
    phi = d[["spend_p", "spend_q", "spend_gamma"]].to_numpy()
    expected = np.mean(
        [
            pareto_nbd_expected(th, 149.0, s.x, s.t_x, s.T)
            @ _gg_mean(*ph, np.where(m > 0, x, 0), m)
            for th, ph in zip(theta, phi, strict=True)
        ]
    )
    rev = res.holdout.revenue
    assert rev["predicted"] == pytest.approx(expected, rel=0.04)


def test_a_start_from_the_log_draws_each_customers_spend_from_their_orders(fitted):
    log, res = fitted
    state = state_from_log(res.scenario, log, 250)
    drawn = state(7)
    x, m = _repeat_means(log, 250)
    assert drawn["spend"].shape == (state.customers,)
    rich = x >= 3
    rho = stats.spearmanr(drawn["spend"][rich], m[rich]).statistic
    assert rho > 0.5, rho
    # a scenario without the spend model draws no spend (everyone's orders alike)
    plain = override(res.scenario, {"segments.customers.spend": {"dist": "constant", "value": 1}})
    assert "spend" not in state.for_scenario(plain)(7)


def test_gamma_gamma_intervals_cover_the_truth_at_the_nominal_rate(global_seed):
    # K datasets from the model itself; each 95% interval should cover the truth in ~95% of
    # them: the one-sided 3-sigma binomial floor at K = 40 is 0.95 - 3 x 0.034 = 0.85
    from lifesim.experiments.calibration.spend import fit_gamma_gamma

    p, q, g, n, k = 4.0, 5.0, 30.0, 1500, 40
    hits = []
    for ss in np.random.SeedSequence(global_seed).spawn(k):
        rng = np.random.default_rng(ss)
        x = rng.integers(1, 8, n)
        nu = rng.gamma(q, 1 / g, n)
        m = rng.gamma(p * x, 1 / (nu * x))  # the mean of x Gamma(p, nu) orders
        fit = fit_gamma_gamma(x, m)
        lo, hi = fit.interval()
        hits.append((lo <= [p, q, g]) & ([p, q, g] <= hi))
    cover = np.mean(hits, axis=0)
    assert (cover >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / k)).all(), cover
