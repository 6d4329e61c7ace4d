"""lifesim.calibrate: published fits reproduced, parameters recovered from the simulator's own
logs at the nominal rate, the simulated holdout forecast against the closed form, bad input."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from scipy.stats import binom

import lifesim
from lifesim.config import load_scenario
from lifesim.errors import ConfigError, DataError
from lifesim.experiments.calibration import Summary, calibrate, fit_bg_nbd, fit_pareto_nbd
from lifesim.experiments.calibration.models import pareto_nbd_expected, pareto_nbd_p_alive
from tests._cli import run_in_process as _cli

TRUE = {"r": 0.8, "alpha": 60.0, "s": 0.7, "beta": 120.0}  # days: ~0.013 orders/day alive


def _lifetimes_file(name: str) -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the `lifetimes` package (which ships CDNOW) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / name


def _cdnow_summary() -> Summary:
    d = pd.read_csv(_lifetimes_file("cdnow_customers_summary.csv"))
    return Summary(d.frequency.to_numpy(float), d.recency.to_numpy(float), d["T"].to_numpy(float))


def test_pareto_nbd_reproduces_the_published_cdnow_fit():
    # Fader & Hardie (2005), "A note on deriving the Pareto/NBD model", CDNOW sample of 2,357
    # customers, weeks: r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9594.98
    fit = fit_pareto_nbd(_cdnow_summary())
    published = [0.553, 10.578, 0.606, 11.669]
    np.testing.assert_allclose(fit.estimate, published, rtol=2e-3)
    assert fit.loglik == pytest.approx(-9594.98, abs=0.02)
    assert fit.converged


def test_bg_nbd_reproduces_the_published_cdnow_fit():
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", same data:
    # r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    fit = fit_bg_nbd(_cdnow_summary())
    np.testing.assert_allclose(fit.estimate, [0.243, 4.414, 0.793, 2.426], rtol=3e-3)
    assert fit.loglik == pytest.approx(-9582.4, abs=0.1)


def _market_log(n: int, days: int, seed: np.random.SeedSequence, rho: float = 0.0) -> pd.DataFrame:
    """The simulator's purchases of n customers with TRUE parameters, as a transaction log.

    Everyone is a new customer whose first order was on day -1 (the models' clock starts at
    the first purchase); the engine then buys and drops out for ``days`` days.
    """
    r, alpha, s, beta = TRUE.values()
    d = lifesim.default_scenario().model_dump(mode="json")
    d["stages"]["retention"]["buy"] = {"p": r / alpha, "propensity": True}
    d["stages"]["retention"]["to"]["churned"]["p"] = s / beta
    d["stages"]["retention"]["to"]["advocacy"]["p"] = 0.0
    d["stages"]["churned"]["to"]["awareness"]["p"] = 0.0
    d["satisfaction"]["churn_weight"] = 0.0
    d["stages"]["purchase"]["to"]["retention"]["propensity"] = False
    top_m, top_d = (stats.gamma(a, scale=1 / a).ppf(0.9999) for a in (r, s))  # P(clip) 1e-4
    d["segments"] = {
        "all": {
            "propensity": {"dist": "gamma", "shape": r, "scale": 1 / r, "max": top_m},
            "dropout": {"dist": "gamma", "shape": s, "scale": 1 / s, "max": top_d},
            "dropout_correlation": rho,  # the engine's Gaussian copula (0: Pareto/NBD)
        }
    }
    d["market"]["initial"] = "retention"
    res = lifesim.simulate(load_scenario(d), seed=seed, customers=n, days=days, record_events=False)
    pur = res.purchases
    first = pd.DataFrame({"customer": np.arange(n), "day": -1, "amount": 20.0})
    rest = pd.DataFrame(
        {
            "customer": pur["person"].to_numpy(),
            "day": pur["day"].to_numpy(),
            "amount": pur["amount"].to_numpy(),
        }
    )
    return pd.concat([first, rest], ignore_index=True)


def test_parameters_are_recovered_inside_their_intervals_at_the_nominal_rate(global_seed):
    # K datasets of the engine's own logs; each 95% interval should cover the truth in ~95%
    # of them. The floor is the exact binomial one at a false alarm of 1e-4 over the four
    # parameters (Bonferroni): at K = 30, 22 covers (P(<= 21 | 0.95) = 1e-5). (A normal
    # "3-sigma" floor of 25 failed correct code for 1.6% of seeds per parameter, ~6% a run.)
    # Each dataset is fitted by fit_pareto_nbd on its summary (x, t_x, T) made here by hand;
    # the first also goes through calibrate, which must give that very fit (so the rate is
    # calibrate's; the rest of calibrate, draws and forecast, is tested below).
    k, n = 30, 2000
    seeds = np.random.SeedSequence(global_seed).spawn(k)
    est, hits, ses = [], [], []
    for i, ss in enumerate(seeds):
        log = _market_log(n, 365, ss)
        fit = fit_pareto_nbd(Summary(*(np.asarray(a, float) for a in _summary_arrays(log, 364))))
        if i == 0:
            res = calibrate(log, cutoff=364, draws=10, forecast_draws=10, seed=1)
            np.testing.assert_allclose(res.fit.estimate, fit.estimate, rtol=1e-12)
            np.testing.assert_allclose(res.fit.interval(), fit.interval(), rtol=1e-12)
        lo, hi = fit.interval()
        truth = np.array(list(TRUE.values()))
        hits.append((lo <= truth) & (truth <= hi))
        est.append(np.log(fit.estimate))
        ses.append(np.sqrt(np.diag(fit.log_cov)))
    cover = np.mean(hits, axis=0)
    floor = binom.ppf(1e-4 / len(TRUE), k, 0.95) / k  # fail only below it: P <= 2.5e-5 each
    assert (cover >= floor).all(), dict(zip(TRUE, cover, strict=True))
    # and the intervals are not wide for nothing: the stated standard errors match the spread
    # of the estimates across datasets. The relative sd of a sample sd from k draws is
    # sqrt((kurtosis - 1) / 4k) (13% for normal estimates at k = 30; more when a dataset's
    # weakly identified beta runs far off, so the kurtosis of the estimates sets it); 3 sigma
    est = np.array(est)
    dev = est - est.mean(axis=0)
    kurt = (dev**4).mean(axis=0) / (dev**2).mean(axis=0) ** 2
    rel = np.sqrt((kurt - 1) / (4 * k))
    ratio = np.mean(ses, axis=0) / np.std(est, axis=0, ddof=1)
    lo, hi = 1 / (1 + 3 * rel), 1 / np.maximum(1 - 3 * rel, 1e-9)
    assert ((ratio > lo) & (ratio < hi)).all(), dict(
        zip(TRUE, zip(ratio.round(2), lo.round(2), hi.round(2), strict=True), strict=True)
    )


def test_the_simulated_holdout_matches_the_pareto_nbd_closed_form(global_seed):
    # the simulator, started from each customer's conditional state at the cutoff, forecasts
    # what the Pareto/NBD's conditional expectation says, draw by draw; the engine's days are
    # discrete (at most one order a day, a daily dropout probability), which the 2% allows
    log = _market_log(4000, 540, np.random.SeedSequence(global_seed))
    res = calibrate(log, cutoff=299, holdout_end=539, draws=30, forecast_draws=30, seed=2)
    arrays = _summary_arrays(log, 299)
    s = Summary(*(np.asarray(a, float) for a in arrays))
    draws = res.draws[["r", "alpha", "s", "beta"]].to_numpy()[:30]
    expected = np.array([pareto_nbd_expected(th, 240.0, s.x, s.t_x, s.T).sum() for th in draws])
    totals = res.holdout.total
    mean_expected = expected.mean()
    assert totals["predicted"] == pytest.approx(mean_expected, rel=0.02)
    assert abs(totals["actual"] - mean_expected) < 0.1 * mean_expected  # same model made it
    assert len(arrays[0]) == res.customers


def _summary_arrays(log: pd.DataFrame, cutoff: int):
    o = log[log["day"] <= cutoff].drop_duplicates(["customer", "day"])
    g = o.groupby("customer")["day"]
    first, last, n = g.min(), g.max(), g.size()
    return (n - 1).to_numpy(), (last - first).to_numpy(), (cutoff - first).to_numpy()


def test_p_alive_is_one_for_a_customer_who_just_bought():
    p = pareto_nbd_p_alive(
        [0.5, 10.0, 0.5, 10.0], np.array([3.0]), np.array([20.0]), np.array([20.0])
    )
    assert p[0] == pytest.approx(1.0)


def test_the_scenario_file_is_valid_and_says_what_was_fitted(tmp_path, global_seed):
    log = _market_log(1500, 365, np.random.SeedSequence(global_seed))
    res = calibrate(log, cutoff=364, draws=20, forecast_draws=10)
    res.save(tmp_path / "cal")
    text = (tmp_path / "cal" / "scenario.yaml").read_text()
    scn = load_scenario(yaml.safe_load(text))
    assert scn.stages["retention"].buy.p == pytest.approx(
        res.fit.params["r"] / res.fit.params["alpha"]
    )
    assert "# fitted (Pareto/NBD)" in text and "not identified" in text.lower()
    out = lifesim.simulate(scn, customers=500, days=30, seed=1)
    assert out.stage_counts.iloc[-1].sum() == 500
    draws = pd.read_parquet(tmp_path / "cal" / "draws.parquet")
    assert len(draws) == 20 and {"r", "alpha", "s", "beta"} <= set(draws.columns)
    fit = (tmp_path / "cal" / "fit.json").read_text()
    assert '"loglik"' in fit and '"not_identified"' in fit


def test_bad_input_is_refused_with_the_allowed_range(global_seed):
    log = _market_log(800, 200, np.random.SeedSequence(global_seed))
    with pytest.raises(DataError, match=r"cutoff == 500 is outside the data"):
        calibrate(log, cutoff=500)
    with pytest.raises(DataError, match=r"holdout_end == 50 is not after the cutoff"):
        calibrate(log, cutoff=100, holdout_end=50)
    with pytest.raises(DataError, match=r"holdout_end == 900 is beyond the data"):
        calibrate(log, cutoff=100, holdout_end=900)
    with pytest.raises(DataError, match=r"too few repeat buyers.*at least 30"):
        few = log[(log["day"] == -1) | log["customer"].isin(log["customer"].unique()[:20])]
        calibrate(few, cutoff=150)
    with pytest.raises(ConfigError, match=r"draws"):
        calibrate(log, cutoff=150, draws=3)


def test_the_cli_writes_the_run_folder_and_prints_fit_json(tmp_path, global_seed):
    log = _market_log(2000, 420, np.random.SeedSequence(global_seed))
    data = tmp_path / "tx.csv"
    log.rename(columns={"customer": "cid", "day": "t", "amount": "value"}).to_csv(data, index=False)
    out = tmp_path / "cal"
    args = [
        "calibrate",
        str(data),
        "--customer-col",
        "cid",
        "--time-col",
        "t",
        "--amount-col",
        "value",
        "--cutoff",
        "299",
        "--holdout-end",
        "419",
        "--draws",
        "30",
        "--forecast-draws",
        "10",
        "--no-progress",
        "--format",
        "json",
        "--out",
        str(out),
    ]
    r = _cli(*args)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("predicted", "actual", "lower", "upper", "error_pct"):
        assert isinstance(d["holdout"]["total"][key], float)
        assert isinstance(d["baseline_bgnbd"]["total"][key], float)
    assert {"corr", "mae"} <= set(d["holdout"]["per_customer"])
    assert d["holdout"]["weekly_mape_pct"] >= 0 and d["baseline_bgnbd"]["weekly_mape_pct"] >= 0
    assert set(d["parameters"]) == {"r", "alpha", "s", "beta"}
    assert d["customers"] == 2000
    assert json.loads((out / "fit.json").read_text())["parameters"] == d["parameters"]
    files = {p.name for p in out.iterdir()}
    assert {
        "scenario.yaml",
        "fit.json",
        "draws.parquet",
        "report.html",
        "holdout.png",
        "calibration.png",
    } <= files
    html = re.sub(r"base64,[^\"]+", "", (out / "report.html").read_text())
    assert "Not identified by this data" in html
    assert not re.search(r"\bnan\b", html, re.I) and not re.search(r"\de[+-]\d", html)
    # the scenario it wrote is valid for lifesim validate, as is
    v = _cli("validate", str(out / "scenario.yaml"))
    assert v.returncode == 0, v.stderr
    # a second run into the same folder is refused without --overwrite (exit 2, no traceback)
    again = _cli(*args)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "--overwrite" in again.stderr


def test_the_cli_refuses_bad_input_with_exit_2(tmp_path, global_seed):
    log = _market_log(600, 200, np.random.SeedSequence(global_seed))
    data = tmp_path / "tx.csv"
    log.to_csv(data, index=False)
    for extra, message in (
        (["--cutoff", "900"], "cutoff == '900' is outside the data"),
        (["--cutoff", "100", "--holdout-end", "50"], "is not after the cutoff"),
        (["--customer-col", "nope"], "nope"),
    ):
        r = _cli("calibrate", str(data), "--no-progress", *extra)
        assert r.returncode == 2, (extra, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr


def test_from_log_starts_from_the_customers_drawn_from_their_histories(tmp_path, global_seed):
    from lifesim.experiments.calibration.models import pareto_nbd_p_alive
    from lifesim.experiments.calibration.state import pareto_params, state_from_log

    log = _market_log(3000, 365, np.random.SeedSequence(global_seed))
    res = calibrate(log, cutoff=364, draws=10, forecast_draws=10)
    st = state_from_log(res.scenario, log, 200)
    assert st.customers == 3000  # everyone bought first on day -1
    params, alive_stage, *_ = pareto_params(res.scenario)
    np.testing.assert_allclose(params, res.fit.estimate, rtol=1e-9)  # read back from the file
    p = pareto_nbd_p_alive(params, st.summary.x, st.summary.t_x, st.summary.T)
    alive = np.mean([(st(s)["stage"] == alive_stage).mean() for s in range(5)])
    assert abs(alive - p.mean()) < 5 * np.sqrt(p.mean() * (1 - p.mean()) / (5 * 3000))
    just = st.summary.t_x == st.summary.T  # bought on the day itself: alive for sure
    assert (st(1)["stage"][just] == alive_stage).all()
    with pytest.raises(ConfigError, match=r"lifesim calibrate"):
        state_from_log(lifesim.default_scenario(), log, 200)
    with pytest.raises(DataError, match=r"as_of == 900 is outside the data"):
        state_from_log(res.scenario, log, 900)
    # the CLI: the market is the log's customers
    res.save(tmp_path / "cal")
    data = tmp_path / "tx.csv"
    log.to_csv(data, index=False)
    r = _cli(
        "simulate",
        str(tmp_path / "cal" / "scenario.yaml"),
        "--from-log",
        str(data),
        "--as-of",
        "200",
        "--days",
        "30",
        "--no-progress",
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["customers"] == 3000
    bad = _cli("simulate", "--as-of", "200", "--no-progress")
    assert bad.returncode == 2 and "--as-of: only with --from-log" in bad.stderr


def _ab_result(tmp_path, control=0.10, treated=0.12, n=6000, seed=0):
    from lifesim import ab

    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "variant": np.repeat(["control", "treatment"], n),
            "converted": np.r_[rng.random(n) < control, rng.random(n) < treated].astype(int),
        }
    )
    res = ab.analyze(df, arm="variant", control="control", metrics=[ab.Proportion("converted")])
    path = tmp_path / "ab.json"
    path.write_text(json.dumps(res.to_dict(), default=str))
    return path, res.to_dict()["results"][0]


def test_a_measured_effect_replaces_the_catalogue_guess_with_its_uncertainty(tmp_path, global_seed):
    path, r = _ab_result(tmp_path)
    log = _market_log(1500, 365, np.random.SeedSequence(global_seed))
    res = calibrate(
        log,
        cutoff=364,
        draws=400,
        forecast_draws=10,
        effects=[f"paid_ads={path}", f"first_purchase_discount.consideration->purchase={path}"],
    )
    t = res.scenario.tactics["paid_ads"]
    assert t.effect == {"awareness->consideration": pytest.approx(1 + r["rel_effect"])}
    assert t.source.startswith("measured: ab.json")
    fpd = res.scenario.tactics["first_purchase_discount"].effect
    assert fpd["consideration->purchase"] == pytest.approx(1 + r["rel_effect"])
    assert (
        fpd["purchase->retention"]
        == lifesim.default_scenario()
        .tactics["first_purchase_discount"]
        .effect["purchase->retention"]
    )  # the other move: as it was
    col = res.draws["tactics.paid_ads.effect.awareness->consideration"]
    lo, hi = np.log1p(r["rel_ci"])
    se = (hi - lo) / (2 * 1.959964)
    assert np.log(col).mean() == pytest.approx(np.log1p(r["rel_effect"]), abs=4 * se / 20)
    assert np.log(col).std() == pytest.approx(se, rel=0.15)  # sd of 400 draws: +-3.5%
    assert "# measured: ab.json" in res.scenario_yaml
    assert any("except the measured" in m for m in res.not_identified)
    with pytest.raises(ConfigError, match=r"unknown tactic 'nope'"):
        calibrate(log, cutoff=364, effects=[f"nope={path}"])
    with pytest.raises(ConfigError, match=r"discount has 2 move effects.*name the move"):
        calibrate(log, cutoff=364, effects=[f"first_purchase_discount={path}"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(DataError, match=r"not a result of 'lifesim ab analyze"):
        calibrate(log, cutoff=364, effects=[f"paid_ads={bad}"])


def test_forecast_matches_the_holdout_check_of_the_same_draws(global_seed):
    log = _market_log(1500, 400, np.random.SeedSequence(global_seed))
    res = calibrate(log, cutoff=299, holdout_end=399, draws=20, forecast_draws=10, seed=4)
    fc = res.forecast(100, draws=10, seed=9)
    assert len(fc) == 15 and {"predicted", "lower", "upper", "cum_predicted"} <= set(fc.columns)
    # the same draws, other random numbers: the totals agree within their spread
    tot, chk = fc["cum_predicted"].iloc[-1], res.holdout.total
    assert chk["lower"] - 0.05 * tot <= tot <= chk["upper"] + 0.05 * tot
    with pytest.raises(ConfigError, match=r"days: must be a whole number >= 1"):
        res.forecast(0)
    with pytest.raises(ConfigError, match=r"draws: must be a whole number in 2..20, got 2.5"):
        res.forecast(10, draws=2.5)  # was a TypeError from slicing


def _clockwork_log(n: int = 100) -> pd.DataFrame:
    """Everyone buys every 10 days and never leaves: no finite Pareto/NBD maximum."""
    return pd.DataFrame(
        {
            "customer": np.repeat(np.arange(n), 20),
            "day": np.tile(np.arange(0, 200, 10), n) + np.repeat(np.arange(n) % 7, 20),
            "amount": 10.0 + np.arange(20 * n) % 5,
        }
    )


def test_a_fit_without_a_finite_maximum_is_refused_not_a_linalg_crash(tmp_path):
    # before: numpy's LinAlgError ("Eigenvalues did not converge") from the draws, or
    # parameters running off to infinity returned with meaningless intervals. (The Python
    # call's DataError is checked in the next test, which also makes this fit.)
    data = tmp_path / "tx.csv"
    _clockwork_log().to_csv(data, index=False)
    r = _cli("calibrate", str(data), "--no-progress", "--out", str(tmp_path / "cal"))
    assert r.returncode == 2, r.stderr
    assert re.search(r"Pareto/NBD fit did not converge.*beta = ", r.stderr), r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "cal").exists()


def test_strongly_heterogeneous_dropout_gives_a_valid_scenario_and_valid_draws():
    # s = 0.11: the 99.99% quantile of the dropout multiplier (~97) times s / beta (0.044 a
    # day) made daily probabilities of 4.3, and calibrate failed with "invalid scenario"
    from lifesim.config import override
    from lifesim.experiments.calibration.scenario import calibrated_scenario, draw_paths

    params = {"r": 1.13, "alpha": 78.3, "s": 0.112, "beta": 2.57}
    scn, _, notes = calibrated_scenario(lifesim.default_scenario(), params, (3.0, 0.4), "x")
    d_max = scn.segments["customers"].dropout.max
    # the churned moves of the purchase stage: 0.15 to retention + (s / beta) x 2 x max <= 1
    assert 0.15 + 2 * d_max * 0.112 / 2.57 == pytest.approx(1.0, rel=1e-5)
    assert any("dropout.max: clipped" in n for n in notes)
    # draws with a higher dropout rate get a lower maximum; each one is a valid scenario
    draws = np.array([[1.13, 78.3, 0.112, 2.57, 3.0, 0.4], [1.13, 78.3, 0.3, 2.57, 3.0, 0.4]])
    paths = draw_paths(scn, draws)
    assert paths["segments.customers.dropout.max"][0] == pytest.approx(d_max, rel=1e-5)
    for i in range(2):
        override(scn, {k: float(v[i]) for k, v in paths.items()})
    # an ordinary fit keeps its 99.99% quantile and the draws do not touch the maximum
    scn, _, notes = calibrated_scenario(lifesim.default_scenario(), TRUE, (3.0, 0.4), "x")
    assert scn.segments["customers"].dropout.max == pytest.approx(
        stats.gamma(0.7, scale=1 / 0.7).ppf(0.9999)
    )
    assert not any("dropout.max" in n for n in notes)


def test_the_summary_states_the_lifetime_of_the_fitted_dropout_distribution(global_seed):
    # lifetime = Exp(mu), mu ~ Gamma(s, beta): P(T > t) = (beta / (beta + t))^s, so the median
    # is beta (2^(1/s) - 1) and the mean beta / (s - 1) (s > 1), infinite for s <= 1; the
    # summary said beta / s (the inverse of the mean dropout rate) and called it the mean
    res = calibrate(
        _market_log(1500, 365, np.random.SeedSequence(global_seed)),
        cutoff=364,
        draws=10,
        forecast_draws=10,
    )
    p = res.fit.params
    text = res.summary()
    median = p["beta"] * (2 ** (1 / p["s"]) - 1) / 7
    assert f"median lifetime {median:.3g} weeks" in text
    if p["s"] > 1:
        assert f"mean {p['beta'] / (p['s'] - 1) / 7:.3g} weeks" in text
    else:
        assert "mean infinite" in text
    # (as "mean": the median beta (2^(1/s) - 1) equals beta / s itself when s is ~1, which
    # failed this line for a seed when it checked the number alone)
    assert f"mean {p['beta'] / p['s'] / 7:.3g} weeks" not in text
    # the report said "very unequally" and "heterogeneous too" whatever r and s: it states
    # the coefficients of variation of the gamma rates, 1 / sqrt(shape), instead
    from lifesim.report.calibrate import calibrate_report_html

    page = calibrate_report_html(res, {"calibration": ""})
    assert f"coefficient of variation of {p['r'] ** -0.5:.3g}" in page
    assert f"one of {p['s'] ** -0.5:.3g}" in page and "very unequally" not in page
    # the stated interval conventions are the ones computed: log scale for the model rates,
    # plain Wald for the order value's mu and sigma (the text claimed exp(log +- 1.96 se) only)
    tab = res.to_pandas().set_index(["model", "parameter"])
    sd = np.sqrt(np.diag(res.fit.log_cov))
    np.testing.assert_allclose(
        tab.loc["Pareto/NBD", "lower"], res.fit.estimate * np.exp(-1.959964 * sd), rtol=1e-6
    )
    ov = tab.loc["order value"]
    np.testing.assert_allclose(ov["lower"], ov["estimate"] - 1.96 * ov["se"], rtol=1e-12)
    assert "order value mu and sigma, already on the log scale: estimate +- 1.96 se" in text


def test_options_are_checked_before_the_fit_and_only_where_they_matter(tmp_path):
    # a base scenario that does not exist is reported before the (slow, here failing) fit
    with pytest.raises(ConfigError, match=r"scenario file not found"):
        calibrate(_clockwork_log(), base=tmp_path / "nope.yaml", draws=10, forecast_draws=10)
    # --forecast-draws only matters with a holdout: --draws 20 alone is not refused for the
    # default --forecast-draws 50 (it was: "forecast_draws: must be <= draws (20), got 50")
    with pytest.raises(DataError, match=r"Pareto/NBD fit did not converge.*beta = "):
        calibrate(_clockwork_log(), draws=20)
    with pytest.raises(ConfigError, match=r"forecast_draws: must be <= draws \(20\), got 50"):
        calibrate(_clockwork_log(), draws=20, cutoff=100, holdout_end=150)


def _pareto_nbd_log(n: int, days: int, seed: int) -> pd.DataFrame:
    """Purchases of n customers from the continuous Pareto/NBD (first purchases in 0..59)."""
    r, alpha, s, beta = TRUE.values()
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 60, n)
    lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    end = np.minimum(first + rng.exponential(1, n) / mu, days)
    rows = [(i, first[i], 20.0) for i in range(n)]
    for i in range(n):
        t = first[i] + np.cumsum(rng.exponential(1 / lam[i], 200))
        rows += [(i, int(v), float(rng.lognormal(3, 0.5))) for v in t[t <= end[i]]]
    return pd.DataFrame(rows, columns=["customer", "day", "amount"])


def test_every_draw_of_a_weakly_identified_fit_is_a_valid_scenario():
    from lifesim.config import override

    res = calibrate(_pareto_nbd_log(600, 200, 8), cutoff=150, draws=50, forecast_draws=10)
    assert res.fit.params["s"] < 0.2  # the weakly identified case
    cols = [c for c in res.draws.columns if "." in c]
    for i in range(len(res.draws)):
        override(res.scenario, dict(zip(cols, res.draws[cols].iloc[i].tolist(), strict=True)))


def test_a_fit_whose_dropout_is_no_daily_probability_is_refused_with_the_reason():
    # this log's maximum is at s = 0.027, beta = 1.1e-5 (mean dropout rate s / beta = 2,376 a
    # day: part of the customers leave at once); calibrate failed with "invalid scenario:
    # stages.purchase.to.churned.p: must be in [0, 1], got 2375.87"
    with pytest.raises(DataError, match=r"fitted dropout \(s = 0.02.*cannot be a daily prob"):
        calibrate(_pareto_nbd_log(600, 200, 1), cutoff=120, draws=10, forecast_draws=10)


def test_simulate_refuses_customers_with_from_log(tmp_path):
    # --customers was silently ignored: the run had the log's customers, not the number asked
    data = tmp_path / "tx.csv"
    _clockwork_log(40).to_csv(data, index=False)
    r = _cli("simulate", "--from-log", str(data), "--as-of", "100", "--customers", "100")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--customers: not with --from-log: the market is the log's customers, got 100" in (
        r.stderr
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"rel_effect": float("nan"), "rel_ci": [float("nan"), float("nan")]},  # control mean 0
        {"rel_effect": -1.5},  # a factor of -0.5 was accepted
        {"rel_ci": ["a", "b"]},  # was a TypeError
        {"rel_ci": [0.02]},
        {"rel_ci": [0.18, 0.02]},
    ],
)
def test_a_measured_effect_needs_finite_numbers_inside_their_interval(tmp_path, changes):
    from lifesim.experiments.calibration.effects import read_effect

    r = {"metric": "conv", "arm": "t", "control": "c", "rel_effect": 0.1, "rel_ci": [0.02, 0.18]}
    path = tmp_path / "ab.json"
    path.write_text(json.dumps({"results": [{**r, **changes}]}))
    with pytest.raises(DataError, match=r"--effect .*ab.json: the relative effect of 'conv'"):
        read_effect(f"paid_ads={path}", lifesim.default_scenario())
    path.write_text(json.dumps({"results": [r], "confidence_level": 1.5}))
    with pytest.raises(DataError, match=r"confidence_level 1.5; allowed: a number in \(0, 1\)"):
        read_effect(f"paid_ads={path}", lifesim.default_scenario())
    path.write_text(json.dumps({"results": [r]}))
    assert read_effect(f"paid_ads={path}", lifesim.default_scenario()).factor == 1.1


def test_orders_of_value_zero_are_said_to_be_left_out_of_the_order_value_fit():
    # they were dropped silently: the scenario's orders are all positive, so its revenue per
    # order was higher than the log's by 1 / (1 - share) - 1 without a word
    log = _pareto_nbd_log(600, 200, 6)
    day = log.groupby(["customer", "day"]).ngroup()  # orders = (customer, day) pairs
    log.loc[day % 4 == 0, "amount"] = 0.0
    res = calibrate(log, cutoff=150, draws=10, forecast_draws=10)
    cal = log[log["day"] <= 150].groupby(["customer", "day"])["amount"].sum()
    zero, n = int((cal == 0).sum()), len(cal)
    note = next(m for m in res.not_identified if m.startswith("order value:"))
    assert f"{zero:,} of {n:,} orders ({zero / n:.1%}) had a value of 0" in note
    assert f"{n / (n - zero) - 1:.1%} higher" in note and note in res.summary()
    assert res.order_value["n"] == n - zero


def test_yyyymmdd_integers_are_read_as_dates():
    # the churn reader took YYYYMMDD integers as day numbers when the cutoff was a number
    # (19970131 -> 19970201 was 70 'days'), so calibrate fitted distorted recencies silently
    log = _pareto_nbd_log(600, 200, 6)
    dates = pd.Timestamp("1997-01-01") + pd.to_timedelta(log["day"], "D")
    as_int = log.assign(day=dates.dt.strftime("%Y%m%d").astype(int))
    cut = int((pd.Timestamp("1997-01-01") + pd.Timedelta(days=150)).strftime("%Y%m%d"))
    ref = calibrate(log, cutoff=150, draws=10, forecast_draws=10)
    for c in (cut, str(cut), "1997-05-31"):
        res = calibrate(as_int, cutoff=c, draws=10, forecast_draws=10)
        np.testing.assert_allclose(res.fit.estimate, ref.fit.estimate, rtol=1e-6)


def test_experiment_run_starts_from_the_log_customers(tmp_path):
    # `experiment run --from-log LOG --as-of DATE`, as on simulate and compare: the
    # experiment's market and every truth market are the log's customers at the date
    from lifesim.experiments.calibration.state import state_from_log
    from lifesim.experiments.insim import run_experiment

    log = _pareto_nbd_log(600, 200, 6)
    n_at = int(log.loc[log["day"] <= 40, "customer"].nunique())  # customers by day 40
    res = calibrate(log, cutoff=150, draws=10, forecast_draws=10)
    res.save(tmp_path / "cal")
    spec = yaml.safe_load((tmp_path / "cal" / "scenario.yaml").read_text())
    spec["experiment"] = {
        "arms": {"control": "none", "treatment": "stage_focused"},
        "start": 5,
        "metrics": {"revenue": {"kind": "revenue", "within": 20}},
        "truth_replications": 2,
    }
    spec["days"] = 30
    scn_path = tmp_path / "exp.yaml"
    scn_path.write_text(yaml.safe_dump(spec))
    scn = load_scenario(scn_path)
    state = state_from_log(scn, log, 40)
    assert state.customers == n_at < 600
    out = run_experiment(scn, customers=n_at, initial=state, truth_replications=2)
    assert len(out.people) == n_at
    assert set(out.truth["people"]) == {2 * n_at}  # both truth markets: the log's customers
    data = tmp_path / "tx.csv"
    log.to_csv(data, index=False)
    args = ["experiment", "run", str(scn_path), "--from-log", str(data), "--as-of", "40"]
    r = _cli(*args, "--no-progress", "--format", "json", "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    assert sum(json.loads(r.stdout)["n"].values()) == n_at
    assert len(pd.read_csv(tmp_path / "run" / "dataset.csv")) == n_at
    for extra, message in (
        (["--design", "market"], "--from-log: only with a person-level design"),
        (["--customers", "10"], "--customers: not with --from-log"),
        (["--as-of", "900"], "== '900' is outside the data"),
    ):
        r = _cli(*args, *extra, "--no-progress", "--out", str(tmp_path / "bad"))
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, extra
        assert not (tmp_path / "bad").exists()
    r = _cli("experiment", "run", str(scn_path), "--as-of", "100", "--no-progress")
    assert r.returncode == 2 and "--as-of: only with --from-log" in r.stderr


@pytest.mark.parametrize(
    ("a", "b", "z"),
    [
        (209.72, 4.3017, 0.99624834),
        (208.72, 3.3017, 0.99716791),
        (56.87, 21.75, 0.9127),
        (3.0, 2.0, 0.5),
    ],
)
def test_the_hypergeometric_term_is_finite_where_scipy_gives_nan(a, b, z):
    # a draw with a nearly homogeneous dropout (s = 205, beta = 60,670) made SciPy's hyp2f1
    # return NaN for 306 customers, and their P(alive) NaN: counted as gone in the holdout.
    # Reference: Euler's integral of 2F1(a, b; a + 1; z) itself, a t^(a-1) (1 - z t)^(-b)
    from scipy import integrate

    from lifesim.experiments.calibration.models import _log_f_pfaff

    f = lambda t: a * np.exp((a - 1) * np.log(t) - b * np.log1p(-z * t))  # noqa: E731
    ref = np.log(integrate.quad(f, 0, 1, limit=400, epsabs=0, epsrel=1e-12)[0])
    assert _log_f_pfaff(np.array([a]), np.array([b]), np.array([z]))[0] == pytest.approx(
        ref, rel=1e-9
    )


@pytest.mark.parametrize(
    ("a", "b", "w"),
    [
        (1.047e8, 1.047e8, -36.5),  # a runaway fit: a peak of width 3e-10 at t = 0
        (99.38, 98.77, -2.7e13),  # width 1e-14 (SciPy: inf; adaptive quad gave 0)
        (3.3e8, 3.3e8, -1e3),  # 1 - t must not be rounded: (a - 1) log(1 - t)
        (0.05, 2.0, -0.5),  # the (1 - t)^(a - 1) singularity at 1
        (0.03, 1e4, -1e-3),  # the singularity carries the integral
        (0.02, 0.02, -1e14),  # a slow power-law tail over 14 decades
        (0.5, 50.0, -1e12),
        (86.7248879, 34.1995189, -1333.52143),  # SciPy returns 3.35e6 (outside (0, 1])
        (5e3, 4e3, -1e5),
    ],
)
def test_euler_integral_matches_mpmath_where_scipy_fails(a, b, w):
    # reference: mpmath's hyp2f1 at 25 digits, 2F1(1, b; a + 1; w) = a int (1-t)^(a-1) (1-wt)^-b
    import mpmath

    from lifesim.experiments.calibration.models import _euler_integral, _log_f_pfaff

    mpmath.mp.dps = 25
    ref = float(mpmath.hyp2f1(1, b, a + 1, w))
    got = _euler_integral(np.array([a]), np.array([b]), np.array([w]))[0]
    assert got == pytest.approx(ref, rel=1e-11)
    # and through the likelihood's term log 2F1(a, b; a + 1; z) (Pfaff: w = z / (z - 1), the
    # w the code computes from z, which rounds for |w| ~ 1e14); SciPy's own values, used where
    # they are in (0, 1], are good to ~1e-8 here
    z = w / (w - 1.0)
    w_z = z / (z - 1.0)
    expected = float(-b * mpmath.log1p(-z) + mpmath.log(mpmath.hyp2f1(1, b, a + 1, w_z)))
    got = _log_f_pfaff(np.array([a]), np.array([b]), np.array([z]))[0]
    assert got == pytest.approx(expected, rel=1e-8, abs=1e-8)


def test_p_alive_is_a_probability_for_a_nearly_homogeneous_dropout():
    theta = np.array([3.30166412, 171.82184, 205.421542, 60669.6058])
    x, t_x, T = np.array([1.0, 0.0, 2.0]), np.array([56.0, 0.0, 171.0]), np.array([105.0, 191, 194])
    p = pareto_nbd_p_alive(theta, x, t_x, T)
    assert np.all(np.isfinite(p)) and np.all((p > 0) & (p <= 1))
    assert p[1] < p[0]  # silent for 191 days after one purchase: less likely alive
