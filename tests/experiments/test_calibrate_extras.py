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
from tests._cli import run_in_process as _cli

TRUE = {"r": 0.8, "alpha": 60.0, "s": 0.7, "beta": 120.0}  # days


def _log(first: np.ndarray, days: int, rng: np.random.Generator, spend=None) -> pd.DataFrame:
    """Pareto/NBD purchases of customers whose first purchases are on the days ``first``.

    Order values: log-normal(3, 0.5) for everyone, or with ``spend = (p, q, gamma)`` the
    Gamma-Gamma model (each customer's values Gamma(p, nu), nu ~ Gamma(q, gamma)).
    """
    r, alpha, s, beta = TRUE.values()
    n = len(first)
    lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    end = np.minimum(first + rng.exponential(1, n) / mu, days)
    nu = rng.gamma(spend[1], 1 / spend[2], n) if spend is not None else None
    rows = [(i, int(first[i]), 20.0) for i in range(n)]
    for i in range(n):
        t = first[i] + np.cumsum(rng.exponential(1 / lam[i], 100))
        t = t[t <= end[i]]
        v = (
            rng.gamma(spend[0], 1 / nu[i], len(t))
            if nu is not None
            else rng.lognormal(3, 0.5, len(t))
        )
        rows += [(i, int(d), float(a)) for d, a in zip(t, v, strict=True)]
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


def test_calibrate_fits_the_inflow_of_a_log_that_covers_acquisition(tmp_path):
    import lifesim
    from lifesim.experiments.calibration.state import state_from_log
    from lifesim.report.calibrate import save_calibrate_run

    # fixed data whose Pareto/NBD fit converges (the rate's sampling is tested above)
    rng = np.random.default_rng(0)
    first = np.sort(rng.integers(0, 300, 900))
    log = _log(first, 365, rng)
    res = calibrate(log, cutoff=299, draws=10, forecast_draws=10)
    f = res.to_dict()["inflow"]
    n = int((first <= 299).sum())
    assert f["identified"] and f["first_purchases"] == n and f["days"] == 300
    assert f["per_day"]["estimate"] == pytest.approx(n / 300)
    assert abs(f["per_day"]["estimate"] - 3.0) < 4.5 * np.sqrt(3.0 / 300)  # 900 over 300 days
    assert f["used_by_engine"] is True and "market.arrivals" in f["note"]
    assert not res.not_used and not any(m.startswith("inflow") for m in res.not_identified)
    # the scenario: the business's customers, and new ones arriving with their first order
    scn = res.scenario
    assert scn.market.size == res.customers == n
    arr = scn.market.arrivals
    assert (arr.per_day, arr.stage, arr.purchase) == (n / 300, "retention", True)
    d = res.draws["market.arrivals.per_day"]
    assert d.nunique() == len(d) and (d > 0).all()
    save_calibrate_run(res, tmp_path / "cal")
    text = (tmp_path / "cal" / "scenario.yaml").read_text()
    assert "Fitted but not used by the engine" not in text
    assert f"fitted from the first purchases of {n:,} customers" in text
    assert json.loads((tmp_path / "cal" / "fit.json").read_text())["inflow"] == json.loads(
        json.dumps(f)
    )
    assert (tmp_path / "cal" / "inflow_seasonality.png").stat().st_size > 0
    assert "first purchases/day" in (tmp_path / "cal" / "report.html").read_text()
    assert lifesim.load_scenario(yaml.safe_load(text)).market.arrivals == arr
    # a run from the log's customers adds the customers still to come, each with an order
    state = state_from_log(scn, log, 299)
    run = lifesim.simulate(scn, seed=1, days=100, initial=state(1))
    arrivals = run.people["arrival_day"].to_numpy() >= 0
    assert arrivals[: state.customers].sum() == 0
    k = int(arrivals.sum())
    assert abs(k - 100 * n / 300) < 5 * np.sqrt(100 * n / 300)  # Poisson count
    first_orders = run.purchases[run.purchases["cause"] == "arrival"]
    assert sorted(first_orders["person"]) == list(np.flatnonzero(arrivals))
    day = run.people["arrival_day"].to_numpy()
    np.testing.assert_array_equal(first_orders["day"], day[first_orders["person"]])


def test_the_holdout_forecast_counts_the_customers_at_the_cutoff_not_arrivals():
    from lifesim.experiments.calibration import Summary
    from lifesim.experiments.calibration.models import pareto_nbd_expected

    rng = np.random.default_rng(0)  # fixed data whose Pareto/NBD fit converges
    first = np.sort(rng.integers(0, 300, 2000))
    log = _log(first, 420, rng)
    res = calibrate(log, cutoff=299, holdout_end=419, draws=20, forecast_draws=20, seed=1)
    assert res.scenario.market.arrivals is not None
    o = log[log["day"] <= 299].drop_duplicates(["customer", "day"]).groupby("customer")["day"]
    s = Summary((o.size() - 1).to_numpy(float), (o.max() - o.min()).to_numpy(float),
                (299 - o.min()).to_numpy(float))  # fmt: skip
    theta = res.draws[["r", "alpha", "s", "beta"]].to_numpy()[:20]
    expected = np.mean([pareto_nbd_expected(th, 120.0, s.x, s.t_x, s.T).sum() for th in theta])
    # as the cohort check (2%: the engine's discrete days); arrivals would add ~2,400 orders
    assert res.holdout.total["predicted"] == pytest.approx(expected, rel=0.03)


def _seasonal_days(rng, start: str, n_days: int, week, month, per_day=50.0):
    """Purchase days from a daily Poisson rate with weekday and month multipliers, rising 30%."""
    s = (pd.Timestamp(start) - pd.Timestamp(0)).days
    days = np.arange(s, s + n_days)
    months = pd.to_datetime(days, unit="D").month.to_numpy() - 1
    lam = per_day * (1 + 0.3 * (days - s) / n_days) * week[(days + 3) % 7] * month[months]
    return np.repeat(days, rng.poisson(lam)), s, s + n_days - 1


def test_day_of_week_and_yearly_multipliers_are_recovered(global_seed):
    from lifesim.experiments.calibration.seasonality import fit_day_of_week, fit_yearly

    rng = np.random.default_rng(global_seed)
    week = np.array([1.2, 1.0, 1.0, 1.0, 1.0, 0.7, 1.1])
    week /= week.mean()
    month = np.array([1.3, 0.8, 0.9, 1, 1, 1.1, 1, 0.9, 0.9, 1, 1.1, 1.5])
    month /= month.mean()
    days, s, e = _seasonal_days(rng, "2015-03-10", 3 * 365 + 40, week, month)
    w = fit_day_of_week(days, s, e, True)
    assert w.identified and list(w.table["season"])[:2] == ["Mon", "Tue"]
    assert np.all(np.abs(w.table["multiplier"] - week) < 4.5 * w.table["se"])
    assert w.p_value < 1e-10
    y = fit_yearly(days, s, e, True)
    assert y.identified and list(y.table["season"])[-1] == "Dec"
    assert np.all(np.abs(y.table["multiplier"] - month) < 4.5 * y.table["se"])
    assert y.p_value < 1e-10 and "highest Dec" in y.summary_line()
    # no seasonality: every weekday near 1 (0.1 is 5 standard errors here)
    flat, s, e = _seasonal_days(rng, "2015-03-10", 2 * 365 + 40, np.ones(7), np.ones(12), 20.0)
    assert np.all(np.abs(fit_day_of_week(flat, s, e, True).table["multiplier"] - 1) < 0.1)


def test_day_of_week_multipliers_by_hand_and_what_is_not_identified():
    from lifesim.experiments.calibration.seasonality import fit_day_of_week, fit_yearly

    monday = (pd.Timestamp("2024-01-01") - pd.Timestamp(0)).days  # a Monday
    # 8 weeks: 3 purchases every Monday, 1 every other day: N = 8 x 9 = 72
    days = np.r_[np.repeat(monday + 7 * np.arange(8), 2), monday + np.arange(56)]
    f = fit_day_of_week(days, monday, monday + 55, True)
    assert f.table["purchases"].tolist() == [24, 8, 8, 8, 8, 8, 8]
    np.testing.assert_allclose(f.table["multiplier"], [7 * 24 / 72] + [7 * 8 / 72] * 6)
    np.testing.assert_allclose(f.table["se"][0], 7 * np.sqrt(1 / 3 * 2 / 3 / 72))
    assert not fit_day_of_week(days, monday, monday + 54, True).identified  # 7 full weeks
    assert (
        "7 complete week(s); at least 8" in fit_day_of_week(days, monday, monday + 54, True).reason
    )
    assert fit_day_of_week(days, monday, monday + 55, False).reason == (
        "integer day numbers carry no weekday"
    )
    y = fit_yearly(days, monday, monday + 700, True)
    assert not y.identified and "spans 1.9 years; at least 2 are needed" in y.reason


def test_calibrate_writes_the_fitted_seasonality_into_the_scenario_calendar():
    import lifesim
    from lifesim.experiments.calibration.state import state_from_log

    rng = np.random.default_rng(0)  # fixed data whose Pareto/NBD fit converges
    first = np.sort(rng.integers(0, 200, 900))
    log = _log(first, 365, rng)
    start = pd.Timestamp("2024-01-01")
    dated = log.assign(day=start + pd.to_timedelta(log["day"], "D"))
    closed = dated["day"].dt.day_of_week == 6  # no repeat purchase on Sundays
    dated = dated[~closed | (dated.index < len(first))]  # _log's first rows: first purchases
    res = calibrate(dated, cutoff="2024-09-30", draws=10, forecast_draws=10)
    season = res.to_dict()["seasonality"]
    assert season["day_of_week"]["identified"] and season["day_of_week"]["used_by_engine"]
    multipliers = season["day_of_week"]["multipliers"]
    assert set(multipliers) == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    assert multipliers["Sun"]["estimate"] == 0.0
    cal = res.scenario.calendar
    assert str(cal.start) == "2024-10-01"  # day 0 of a run from the cutoff
    assert cal.day_of_week == {k: v["estimate"] for k, v in multipliers.items()}
    assert not cal.month  # yearly seasonality not identified (0.75 years)
    assert "calendar.day_of_week" in season["day_of_week"]["note"]
    assert not res.not_used and "calendar:" in res.scenario_yaml
    assert season["yearly"] == {
        "identified": False,
        "reason": "the calibration period spans 0.75 years; at least 2 are needed",
    }
    assert any(m.startswith("yearly seasonality of purchases: not identified") for m in (
        res.not_identified))  # fmt: skip
    # the engine uses it: a run from the log's customers at another date sells on no Sunday
    state = state_from_log(res.scenario, dated, "2024-10-06")  # a Sunday: day 0 a Monday
    scn = state.dated(res.scenario)
    assert str(scn.calendar.start) == "2024-10-07"
    run = lifesim.simulate(scn, seed=1, days=70, initial=state(1), record_events=False)
    days = run.purchases["day"].to_numpy()
    assert len(days) > 100 and not (days % 7 == 6).any()
    # integer days: no calendar
    res = calibrate(log, cutoff=273, draws=10, forecast_draws=10)
    assert res.to_dict()["seasonality"]["day_of_week"]["reason"] == (
        "integer day numbers carry no weekday"
    )
    assert not res.scenario.calendar.seasonal


#: Daily move probabilities of the synthetic CRM (stage names of the default scenario).
MOVES = {
    "awareness": {"consideration": 0.02, "churned": 0.004},
    "consideration": {"purchase": 0.03, "awareness": 0.01},
    "purchase": {"retention": 0.05},
    "retention": {"advocacy": 0.005},
}


def _crm_events(n: int, days: int, rng: np.random.Generator) -> pd.DataFrame:
    """Stage entries of n people walking MOVES day by day (one uniform per person and day)."""
    stages = ["awareness", "consideration", "purchase", "retention", "advocacy", "churned"]
    at = np.zeros(n, np.int64)
    rows = [pd.DataFrame({"customer": np.arange(n) + 10_000, "day": 0, "stage": "awareness"})]
    for day in range(1, days):
        u = rng.random(n)
        new = at.copy()
        for s, targets in MOVES.items():
            here = at == stages.index(s)
            edge = 0.0
            for dst, p in targets.items():
                hit = here & (u >= edge) & (u < edge + p)
                new[hit] = stages.index(dst)
                edge += p
        moved = np.flatnonzero(new != at)
        at = new
        rows.append(
            pd.DataFrame(
                {"customer": moved + 10_000, "day": day, "stage": np.array(stages)[at[moved]]}
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_observed_stage_transitions_are_recovered_and_written(tmp_path, global_seed):
    from lifesim.report.calibrate import save_calibrate_run

    # fixed purchases whose Pareto/NBD fit converges; CRM events from the session's seed
    log = _log(
        np.sort(np.random.default_rng(0).integers(0, 60, 600)), 300, np.random.default_rng(1)
    )
    events = _crm_events(2000, 300, np.random.default_rng(global_seed))
    res = calibrate(log, cutoff=250, draws=10, forecast_draws=10, events=events)
    t = res.stage_transitions.set_index(["from_stage", "to_stage"])
    for s, targets in MOVES.items():
        for dst, p in targets.items():
            row = t.loc[(s, dst)]
            # the estimate within 4.5 binomial standard errors of the truth
            assert abs(row.p_per_day - p) < 4.5 * np.sqrt(p * (1 - p) / row.days_at_risk)
            assert row.lower < row.p_per_day < row.upper
    # moves of the scenario's graph are written, unscaled by propensity, with a comment
    aw = res.scenario.stages["awareness"].to["consideration"]
    assert aw.p == t.loc[("awareness", "consideration")].p_per_day and not aw.propensity
    assert t.loc[("awareness", "consideration"), "scenario"] == (
        "stages.awareness.to.consideration.p"
    )
    text = res.scenario_yaml
    assert "observed in 600 customers" in text and "days at risk in awareness" in text
    # its uncertainty is in the draws (Jeffreys Gamma posterior: mean (n + 1/2) / days)
    path = "stages.awareness.to.consideration.p"
    row = t.loc[("awareness", "consideration")]
    d = res.draws[path]
    sd = np.sqrt(row.moves + 0.5) / row.days_at_risk
    assert abs(d.mean() - (row.moves + 0.5) / row.days_at_risk) < 4.5 * sd / np.sqrt(len(d))
    assert 0.3 * sd < d.std() < 2.0 * sd  # 10 draws: P(outside) < 1e-3 (chi, 9 df)
    assert path in res.to_dict()["draws"]["observed_transitions"]
    from lifesim.config import override

    cols = [c for c in res.draws.columns if "." in c]
    for i in range(len(res.draws)):  # every draw is a valid scenario (compare applies them)
        override(res.scenario, dict(zip(cols, res.draws[cols].iloc[i].tolist(), strict=True)))
    # the base's move, no longer scaled by propensity, is now observed: no stale note
    assert not any(m.startswith("stages.purchase.to.retention:") for m in res.not_identified)
    head = [ln for ln in text.splitlines() if ln.startswith("#   - ")]
    prospects = next(ln for ln in head if "prospect stages" in ln)
    customers = next(ln for ln in head if "moves between customer stages" in ln)
    assert "except the observed: stages.awareness.to.churned.p, " in prospects
    assert "stages.retention.to.advocacy.p" not in prospects
    assert customers.endswith(
        "(except the observed: stages.purchase.to.retention.p, stages.retention.to.advocacy.p)"
    )
    save_calibrate_run(res, tmp_path / "cal")
    fit = json.loads((tmp_path / "cal" / "fit.json").read_text())
    moves = {(m["from_stage"], m["to_stage"]): m for m in fit["stage_transitions"]["moves"]}
    assert moves[("awareness", "churned")]["p_per_day"] == pytest.approx(
        t.loc[("awareness", "churned")].p_per_day
    )
    assert (tmp_path / "cal" / "stage_transitions.csv").exists()
    assert "Observed stage transitions" in (tmp_path / "cal" / "report.html").read_text()


def test_cancellations_by_hand_and_the_cli_options(tmp_path):
    # cutoff day 100: A buys on days 0 and 4 and cancels on day 10; B buys on 2 and 6 and
    # never cancels; C buys on 5 and 9 and cancels on 9 (after the purchase). The customer
    # state runs from the first purchase: 10 + 98 + 4 = 112 days, 2 cancellations (plus the
    # other customers' days, none of whom cancels)
    rng = np.random.default_rng(0)
    base = _log(np.sort(rng.integers(0, 60, 400)), 300, rng)  # enough repeat buyers to fit
    base["customer"] += 100
    hand = pd.DataFrame(
        {
            "customer": [1, 1, 1, 2, 2, 3, 3, 3],
            "day": [0, 4, 10, 2, 6, 5, 9, 9],
            "amount": [10.0, 12.0, 0.0, 8.0, 9.0, 5.0, 6.0, 0.0],
            "event": ["buy", "buy", "cancel", "buy", "buy", "buy", "buy", "cancel"],
        }
    )
    log = pd.concat([hand, base.assign(event="buy")], ignore_index=True)
    from lifesim.churn import TransactionSchema

    schema = TransactionSchema(event="event", churn_events=("cancel",))
    res = calibrate(log, cutoff=100, schema=schema, draws=10, forecast_draws=10)
    row = res.stage_transitions.iloc[0]
    assert (row.from_stage, row.to_stage) == ("customer", "churned")
    first = base.groupby("customer")["day"].min()
    assert row.moves == 2 and row.days_at_risk == 112 + (100 - first[first <= 100]).sum()
    assert row.scenario.startswith("not written: the Pareto/NBD sets this move")
    # the CLI: --events / --stage-col / --event-col / --churn-event; bad ones exit 2
    data, ev = tmp_path / "tx.csv", tmp_path / "ev.csv"
    base.to_csv(data, index=False)
    _crm_events(300, 200, rng).to_csv(ev, index=False)
    args = ["calibrate", str(data), "--cutoff", "150", "--draws", "10", "--no-progress"]
    r = _cli(*args, "--events", str(ev), "--stage-col", "stage", "--format", "json")
    assert r.returncode == 0, r.stderr
    moves = json.loads(r.stdout)["stage_transitions"]["moves"]
    assert {(m["from_stage"], m["to_stage"]) for m in moves} >= {("awareness", "consideration")}
    for extra, message in (
        (["--events", str(tmp_path / "nope.csv")], "--events: no such file: "),
        (["--events", str(ev), "--stage-col", "nope"], "column 'nope' (stage, --stage-col)"),
        (["--event-col", "nope"], "column 'nope' (event, --event-col) not found"),
    ):
        r = _cli(*args, *extra)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, extra


def test_gamma_gamma_reproduces_the_published_cdnow_fit():
    # Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", CDNOW sample of
    # 2,357 customers, 946 repeat buyers: p = 6.25, q = 3.74, gamma = 15.44
    import importlib.util
    from pathlib import Path

    from lifesim.experiments.calibration.spend import fit_gamma_gamma

    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the `lifetimes` package (which ships CDNOW) is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets"
    d = pd.read_csv(folder / "cdnow_customers_summary_with_transactions.csv")
    fit = fit_gamma_gamma(d["x"].to_numpy(), d["zbar"].to_numpy())
    assert fit.n == 946 and fit.converged
    np.testing.assert_allclose(fit.estimate, [6.25, 3.74, 15.44], atol=0.01)


def test_gamma_gamma_recovers_known_parameters(global_seed):
    from lifesim.experiments.calibration.spend import fit_gamma_gamma, gamma_gamma_mean

    rng = np.random.default_rng(global_seed)
    p, q, g, n = 4.0, 5.0, 30.0, 3000
    x = rng.integers(1, 8, n)
    nu = rng.gamma(q, 1 / g, n)
    m = np.array([rng.gamma(p, 1 / v, k).mean() for v, k in zip(nu, x, strict=True)])
    fit = fit_gamma_gamma(x, m)
    z = np.abs(np.log(fit.estimate) - np.log([p, q, g])) / np.sqrt(np.diag(fit.log_cov))
    assert np.all(z < 4.5), (fit.params, z)
    # x = 0: the population mean p gamma / (q - 1); x > 0: shrunk toward it
    assert gamma_gamma_mean([p, q, g], 0, 0.0) == p * g / (q - 1)
    assert gamma_gamma_mean([p, q, g], 2, 50.0) == (g + 100.0) * p / (2 * p + q - 1)


def test_holdout_revenue_of_the_bgnbd_baseline_with_gamma_gamma():
    rng = np.random.default_rng(3)  # fixed data whose fits converge
    log = _log(np.sort(rng.integers(0, 60, 900)), 300, rng, spend=(4.0, 5.0, 30.0))
    res = calibrate(log, cutoff=200, holdout_end=299, draws=20, forecast_draws=10)
    out = res.to_dict()
    spend = out["baseline_bgnbd"]["spend"]
    assert set(spend["parameters"]) == {"p", "q", "gamma"} and spend["method"].startswith(
        "Gamma-Gamma"
    )
    rev = out["baseline_bgnbd"]["revenue"]
    day = log.groupby(["customer", "day"])["amount"].sum().reset_index()
    actual = day.loc[(day["day"] > 200) & (day["day"] <= 299), "amount"].sum()
    assert rev["actual"] == pytest.approx(actual) == out["holdout"]["revenue"]["actual"]
    assert rev["lower"] < rev["upper"] and abs(rev["error_pct"]) < 30
    assert "BG/NBD+GG revenue" in res.summary()
    # order values alike for everyone (log-normal): the spend heterogeneity is not identified,
    # so no revenue forecast rather than a degenerate one
    flat = _log(np.sort(rng.integers(0, 60, 900)), 300, np.random.default_rng(1))
    res = calibrate(flat, cutoff=180, holdout_end=299, draws=20, forecast_draws=10)
    assert not res.spend.converged and "revenue" not in res.to_dict()["baseline_bgnbd"]
    assert "BG/NBD+GG revenue: no forecast" in res.summary()
    assert res.to_pandas()["model"].str.startswith("Gamma-Gamma").sum() == 3


def test_an_observed_move_the_engine_cannot_hold_is_said_not_written():
    # prospects who leave within 5 days: awareness -> churned 200 / 1,500 days = 0.133 a day,
    # which the engine's dropout multiplier and satisfaction factor could push past 1
    log = _log(
        np.sort(np.random.default_rng(0).integers(0, 60, 600)), 300, np.random.default_rng(1)
    )
    ids = np.arange(90_000, 90_300)
    ev = pd.DataFrame(
        {
            "customer": np.r_[ids, ids],
            "day": np.r_[np.zeros(300, int), np.full(300, 5)],
            "stage": ["awareness"] * 300 + ["churned"] * 200 + ["consideration"] * 100,
        }
    )
    res = calibrate(log, cutoff=250, draws=10, forecast_draws=10, events=ev)
    t = res.stage_transitions.set_index(["from_stage", "to_stage"])
    assert t.loc[("awareness", "churned"), "p_per_day"] == pytest.approx(200 / 1500)
    assert t.loc[("awareness", "churned"), "scenario"].startswith(
        "not written: the scenario cannot hold it (invalid scenario"
    )
    assert "outgoing probabilities can sum to" in t.loc[("awareness", "churned"), "scenario"]
    assert res.scenario.stages["awareness"].to["churned"].p == 0.001  # the base's
    assert res.scenario.stages["awareness"].to["consideration"].p == pytest.approx(100 / 1500)


def test_seasonality_without_evidence_is_reported_not_written():
    rng = np.random.default_rng(1)  # fixed data: no weekday effect, test of none p = 0.47
    log = _log(np.sort(rng.integers(0, 200, 900)), 365, rng)
    dated = log.assign(day=pd.Timestamp("2024-01-01") + pd.to_timedelta(log["day"], "D"))
    res = calibrate(dated, cutoff="2024-09-30", draws=10, forecast_draws=10)
    dow = res.to_dict()["seasonality"]["day_of_week"]
    assert dow["identified"] and dow["p_value_no_seasonality"] > 0.05
    assert dow["used_by_engine"] is False
    assert not res.scenario.calendar.seasonal
    assert any(
        m.startswith("day_of_week seasonality: not written to the scenario (no evidence")
        for m in res.not_identified
    )
