"""lifesim.calibrate beyond the Pareto/NBD: the inflow of new customers, seasonality, observed
stage transitions and the Gamma-Gamma spend model of the BG/NBD baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from lifesim.experiments.calibration import calibrate
from lifesim.experiments.calibration.inflow import fit_inflow

TRUE = {"r": 0.8, "alpha": 60.0, "s": 0.7, "beta": 120.0}  # days


def _log(first: np.ndarray, days: int, rng: np.random.Generator) -> pd.DataFrame:
    """Pareto/NBD purchases of customers whose first purchases are on the days ``first``."""
    r, alpha, s, beta = TRUE.values()
    n = len(first)
    lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    end = np.minimum(first + rng.exponential(1, n) / mu, days)
    rows = [(i, int(first[i]), 20.0) for i in range(n)]
    for i in range(n):
        t = first[i] + np.cumsum(rng.exponential(1 / lam[i], 100))
        rows += [(i, int(v), float(rng.lognormal(3, 0.5))) for v in t[t <= end[i]]]
    return pd.DataFrame(rows, columns=["customer", "day", "amount"])


def test_inflow_interval_covers_the_true_rate_at_the_nominal_rate(global_seed):
    # Poisson arrivals at a known rate over 200 days: the exact interval covers it in >= 95%
    # of 400 datasets (Garwood's interval is conservative), up to the binomial error
    rng = np.random.default_rng(global_seed)
    rate, days, reps = 3.0, 200, 400
    hits, est = 0, []
    for _ in range(reps):
        n = rng.poisson(rate * days)
        first = rng.integers(0, days, n)
        f = fit_inflow(first, 0, days - 1)
        assert f.identified and f.first_purchases == n and f.days == days
        hits += f.lower <= rate <= f.upper
        est.append(f.rate)
    tol = 4.5 * np.sqrt(0.95 * 0.05 / reps)
    assert hits / reps >= 0.95 - tol
    # the estimate is unbiased: mean within 4.5 standard errors of the mean
    assert abs(np.mean(est) - rate) < 4.5 * np.sqrt(rate / days / reps)


def test_inflow_by_hand_and_a_cohort_is_not_identified():
    # 28 days, 2 first purchases a day (56): 2.0 a day, exact interval from chi-square
    first = np.repeat(np.arange(28), 2)
    f = fit_inflow(first, 0, 27)
    assert f.rate == 2.0 and f.se == pytest.approx(np.sqrt(56) / 28)
    assert f.lower == pytest.approx(1.51083, rel=1e-4)  # chi2.ppf(.025, 112) / 2 / 28
    assert f.upper == pytest.approx(2.59728, rel=1e-4)  # chi2.ppf(.975, 114) / 2 / 28
    assert f.half_ratio == 1.0 and f.half_lower < 1 < f.half_upper
    assert list(f.weekly["observed"]) == [14, 14, 14, 14] and f.dispersion == 0.0
    # all first purchases in the first quarter: a cohort
    g = fit_inflow(np.arange(20), 0, 99)
    assert not g.identified and np.isnan(g.rate)
    assert "cohort: the first purchases run from 0 to 19" in g.reason
    assert "(20, 0, 0, 0 by quarter)" in g.reason
    # doubling inflow: the second half's rate is said to differ
    h = fit_inflow(np.r_[np.repeat(np.arange(50), 2), np.repeat(np.arange(50, 100), 4)], 0, 99)
    assert h.half_ratio == 2.0 and h.half_lower > 1
    assert "not constant: the second half's rate is 2 x the first's" in h.summary_line()


def test_calibrate_fits_the_inflow_of_a_log_that_covers_acquisition(tmp_path, global_seed):
    from lifesim.report.calibrate import save_calibrate_run

    rng = np.random.default_rng(global_seed)
    first = np.sort(rng.integers(0, 300, 900))
    log = _log(first, 365, rng)
    res = calibrate(log, cutoff=299, draws=10, forecast_draws=10)
    f = res.to_dict()["inflow"]
    n = int((first <= 299).sum())
    assert f["identified"] and f["first_purchases"] == n and f["days"] == 300
    assert f["per_day"]["estimate"] == pytest.approx(n / 300)
    assert abs(f["per_day"]["estimate"] - 3.0) < 4.5 * np.sqrt(3.0 / 300)  # 900 over 300 days
    assert f["used_by_engine"] is False
    line = next(m for m in res.not_used if m.startswith("inflow of new customers: fitted"))
    assert "not used by the engine" in line and line in res.summary()
    assert not any(m.startswith("inflow") for m in res.not_identified)
    save_calibrate_run(res, tmp_path / "cal")
    text = (tmp_path / "cal" / "scenario.yaml").read_text()
    head = text.split("\nname:")[0]
    assert "Fitted but not used by the engine" in head and f"{n / 300:.4g} first purchases" in head
    assert json.loads((tmp_path / "cal" / "fit.json").read_text())["inflow"] == json.loads(
        json.dumps(f)
    )
    assert (tmp_path / "cal" / "unused.png").stat().st_size > 0
    assert "first purchases/day" in (tmp_path / "cal" / "report.html").read_text()
    yaml.safe_load(text)  # still a plain scenario file
