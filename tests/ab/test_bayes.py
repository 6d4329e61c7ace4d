"""Bayesian read-out (`lifesim.ab.bayes`, `ab analyze --bayes`).

References are independent of the implementation: Evan Miller's closed form of P(B > A) for
Beta posteriors with integer parameters ("Formulas for Bayesian A/B testing", 2015), Chris
Stucchio's expected-loss identity built on it, and numerical integration with SciPy for the
normal model. Monte Carlo results are compared within 4.5 of their reported standard errors
(a correct estimate fails about once in 150,000 comparisons). Simulations pass for any seed
(``global_seed``): a coverage count is compared with exact binomial bounds at level 1e-3.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats
from typer.testing import CliRunner

from lifesim import ab
from lifesim.cli import app
from lifesim.errors import DataError

runner = CliRunner()
TOL = 4.5  # Monte Carlo standard errors


def binary(n0, x0, n1, x1, arm="b"):
    """Units of a binary experiment with exactly x successes out of n per arm."""
    return pd.DataFrame(
        {
            "variant": ["control"] * n0 + [arm] * n1,
            "converted": [1] * x0 + [0] * (n0 - x0) + [1] * x1 + [0] * (n1 - x1),
        }
    )


def p_x_beats_y(ax, bx, ay, by):
    """Evan Miller's closed form of P(X > Y), X ~ Beta(ax, bx), Y ~ Beta(ay, by), integer ax."""
    i = np.arange(int(ax))
    terms = (
        special.betaln(ay + i, by + bx)
        - np.log(bx + i)
        - special.betaln(1 + i, bx)
        - special.betaln(ay, by)
    )
    return float(np.exp(terms).sum())


CASES = [(50, 10, 50, 20), (1000, 100, 1000, 115), (300, 30, 200, 18), (40, 0, 40, 3)]


@pytest.mark.parametrize(("n0", "x0", "n1", "x1"), CASES)
def test_beta_binomial_matches_closed_forms(n0, x0, n1, x1):
    res = ab.bayes(binary(n0, x0, n1, x1), arm="variant", metrics="converted", draws=100_000)
    p = res.posteriors[0]
    a0, b0, a1, b1 = 1 + x0, 1 + n0 - x0, 1 + x1, 1 + n1 - x1  # Beta(1, 1) prior
    assert p.posterior == f"control: Beta({a0}, {b0}); b: Beta({a1}, {b1})"
    exact = p_x_beats_y(a1, b1, a0, b0)
    assert abs(p.prob_beat_control - exact) < TOL * p.mc_se_prob
    # mean and SD of the difference are exact
    assert p.effect == pytest.approx(a1 / (a1 + b1) - a0 / (a0 + b0), rel=1e-12)
    var = stats.beta.var(a1, b1) + stats.beta.var(a0, b0)
    assert p.effect_sd == pytest.approx(math.sqrt(var), rel=1e-12)
    # expected losses (Stucchio): E[max(A - B, 0)] = mA P(A' > B) - mB P(A > B')
    m0, m1 = a0 / (a0 + b0), a1 / (a1 + b1)
    ship = m0 * p_x_beats_y(a0 + 1, b0, a1, b1) - m1 * p_x_beats_y(a0, b0, a1 + 1, b1)
    keep = m1 * p_x_beats_y(a1 + 1, b1, a0, b0) - m0 * p_x_beats_y(a1, b1, a0 + 1, b0)
    assert abs(p.expected_loss - ship) < TOL * p.mc_se_loss
    assert abs(p.expected_loss_control - keep) < TOL * p.mc_se_loss
    assert keep - ship == pytest.approx(p.effect, abs=1e-12)  # identity the reference obeys


def test_credible_interval_has_its_level_by_numerical_integration():
    a0, b0, a1, b1 = 61, 241, 81, 221
    res = ab.bayes(binary(300, 60, 300, 80), arm="variant", metrics="converted", alpha=0.1)
    lo, hi = res.posteriors[0].ci

    def cdf(t):  # P(B - A <= t) = int f_A(x) F_B(x + t) dx
        f = lambda x: stats.beta.pdf(x, a0, b0) * stats.beta.cdf(x + t, a1, b1)  # noqa: E731
        return integrate.quad(f, 0, 1, limit=200)[0]

    # quantile MC error in probability: sqrt(q (1 - q) / N)
    se_q = math.sqrt(0.05 * 0.95 / res.draws)
    assert abs(cdf(lo) - 0.05) < TOL * se_q
    assert abs(cdf(hi) - 0.95) < TOL * se_q
    assert res.posteriors[0].mc_se_ci > 0


def test_reported_monte_carlo_errors_match_the_spread_over_seeds():
    """Each mc_se_* equals the SD of its quantity over 300 seeds (SD of an SD: ~4%, so 20%)."""
    df = binary(400, 60, 400, 75)
    runs = [ab.bayes(df, arm="variant", metrics="converted", draws=2000, rng=s).posteriors[0]
            for s in range(300)]  # fmt: skip
    p = runs[0]
    for got, reported in (
        ([r.prob_beat_control for r in runs], p.mc_se_prob),
        ([r.expected_loss_control for r in runs], p.mc_se_loss),
        ([r.ci[0] for r in runs], p.mc_se_ci),
        ([r.ci[1] for r in runs], p.mc_se_ci),
    ):
        assert np.std(got, ddof=1) == pytest.approx(reported, rel=0.2)


def test_user_beta_prior_and_seed():
    df = binary(100, 10, 100, 14)
    res = ab.bayes(df, arm="variant", metrics="converted", prior="beta:2,18", rng=1)
    p = res.posteriors[0]
    assert p.posterior == "control: Beta(12, 108); b: Beta(16, 104)"
    assert p.prior == "Beta(2, 18) on each arm's share"
    again = ab.bayes(df, arm="variant", metrics="converted", prior="beta:2,18", rng=1)
    assert again.to_dict() == res.to_dict()
    other = ab.bayes(df, arm="variant", metrics="converted", prior="beta:2,18", rng=2)
    q = other.posteriors[0]
    assert q.prob_beat_control != p.prob_beat_control
    assert abs(q.prob_beat_control - p.prob_beat_control) < TOL * math.sqrt(2) * p.mc_se_prob


def normal_reference(d, se, mu0, tau):
    """Posterior of delta by numerical integration of N(d; delta, se) x N(delta; mu0, tau)."""
    lo, hi = d - 12 * se, d + 12 * se
    like = lambda x: stats.norm.pdf(d, x, se) * stats.norm.pdf(x, mu0, tau)  # noqa: E731
    z = integrate.quad(like, lo, hi, points=[d])[0]
    ev = lambda g: integrate.quad(lambda x: g(x) * like(x), lo, hi, points=[0, d])[0] / z  # noqa: E731
    mean = ev(lambda x: x)
    sd = math.sqrt(ev(lambda x: (x - mean) ** 2))
    return mean, sd, ev(lambda x: x > 0), ev(lambda x: max(-x, 0)), ev(lambda x: max(x, 0))


@pytest.fixture(scope="module")
def means_df():
    rng = np.random.default_rng(11)
    n = 400
    pre = rng.gamma(2.0, 5.0, n)
    arm = np.repeat(["control", "b"], n // 2)
    return pd.DataFrame(
        {
            "variant": arm,
            "revenue": pre + rng.normal(0, 4, n) + 0.8 * (arm == "b"),
            "pre": pre,
            "clicks": rng.poisson(3, n),
            "sessions": rng.poisson(4, n) + 1,
        }
    )


@pytest.mark.parametrize(
    ("metric", "cov"), [("mean:revenue", None), ("mean:revenue", "pre"), ("clicks/sessions", None)]
)
@pytest.mark.parametrize("prior_sd", [None, 0.3, 5.0])
def test_normal_posterior_matches_numerical_integration(means_df, metric, cov, prior_sd):
    covs = {metric.partition(":")[2] or metric: cov} if cov else None
    freq = ab.analyze(means_df, arm="variant", metrics=metric, covariates=covs).comparisons[0]
    res = ab.bayes(means_df, arm="variant", metrics=metric, covariates=covs, prior_sd=prior_sd)
    p = res.posteriors[0]
    n0, n1 = freq.n_control, freq.n_arm
    # the default: unit-information prior, SD = per-unit SD = se * sqrt(n0 n1 / (n0 + n1))
    tau = prior_sd if prior_sd is not None else freq.se * math.sqrt(n0 * n1 / (n0 + n1))
    mean, sd, prob, ship, keep = normal_reference(freq.abs_effect, freq.se, 0.0, tau)
    assert p.effect == pytest.approx(mean, rel=1e-6)
    assert p.effect_sd == pytest.approx(sd, rel=1e-6)
    assert p.prob_beat_control == pytest.approx(prob, abs=1e-7)
    assert p.expected_loss == pytest.approx(ship, rel=1e-5, abs=1e-10)
    assert p.expected_loss_control == pytest.approx(keep, rel=1e-5, abs=1e-10)
    z = stats.norm.ppf(0.975)
    assert p.ci == pytest.approx((mean - z * sd, mean + z * sd), rel=1e-6)
    assert (p.draws, p.mc_se_prob) == (0, 0.0)
    assert p.covariate == cov


def test_normal_prior_with_a_mean_and_per_metric_sds(means_df):
    res = ab.bayes(means_df, arm="variant", metrics=["mean:revenue", "mean:pre"],
                   prior="normal:1,0.5", prior_sd={"pre": 2.0})  # fmt: skip
    freq = ab.analyze(means_df, arm="variant", metrics=["mean:revenue", "mean:pre"])
    for p, c, (mu0, tau) in zip(
        res.posteriors, freq.comparisons, [(1, 0.5), (0, 2.0)], strict=True
    ):
        mean, sd, *_ = normal_reference(c.abs_effect, c.se, mu0, tau)
        assert (p.effect, p.effect_sd) == pytest.approx((mean, sd), rel=1e-6)


def test_default_prior_is_weak_and_a_tight_prior_shrinks(means_df):
    freq = ab.analyze(means_df, arm="variant", metrics="mean:revenue").comparisons[0]
    weak = ab.bayes(means_df, arm="variant", metrics="mean:revenue").posteriors[0]
    # unit information: shrinks by 1 / (1 + 1/n0 + 1/n1) = 1 / 1.01 with 200 + 200 units
    assert weak.effect == pytest.approx(freq.abs_effect / 1.01, rel=1e-9)
    tight = ab.bayes(means_df, arm="variant", metrics="mean:revenue", prior_sd=1e-4)
    assert abs(tight.posteriors[0].effect) < 1e-3 * abs(freq.abs_effect)


def simulate(rng, kind, n, effect):
    arm = np.repeat(["control", "b"], n)
    t = (arm == "b").astype(float)
    if kind == "proportion":
        return pd.DataFrame({"variant": arm, "y": (rng.random(2 * n) < 0.2 + effect * t)})
    pre = rng.normal(10, 3, 2 * n)
    y = pre + rng.normal(0, 2, 2 * n) + effect * t
    den = rng.poisson(3, 2 * n) + 1.0
    return pd.DataFrame({"variant": arm, "y": y, "pre": pre, "num": den * (1 + effect * t)
                         + rng.normal(0, 1, 2 * n), "den": den})  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "metric", "cov"),
    [("proportion", "y", None), ("mean", "mean:y", None), ("mean", "mean:y", "pre"),
     ("ratio", "num/den", None)],
)  # fmt: skip
def test_credible_intervals_cover_the_true_effect(global_seed, kind, metric, cov):
    """With a weak prior and a fixed true effect, 90% intervals cover it ~90% of the time."""
    rng = np.random.default_rng([global_seed, len(metric), bool(cov)])
    sims, n, effect, alpha = 800, 400, 0.05 if kind == "proportion" else 0.4, 0.1
    truth = effect  # ratio: sum(num) / sum(den) -> 1 + effect in b, 1 in control
    covered = 0
    for _ in range(sims):
        df = simulate(rng, kind, n, effect)
        covs = {("y" if kind != "ratio" else metric): cov} if cov else None
        res = ab.bayes(df, arm="variant", metrics=metric, covariates=covs, alpha=alpha,
                       draws=2000, rng=rng)  # fmt: skip
        lo, hi = res.posteriors[0].ci
        covered += lo <= truth <= hi
    assert stats.binom.ppf(0.001, sims, 1 - alpha) <= covered
    assert covered <= stats.binom.ppf(0.999, sims, 1 - alpha)


def test_posterior_concentrates_on_the_true_effect(global_seed):
    rng = np.random.default_rng(global_seed)
    sds = []
    for n in (1_000, 16_000, 256_000):
        df = simulate(rng, "proportion", n, 0.02)
        p = ab.bayes(df, arm="variant", metrics="y", draws=2000, rng=rng).posteriors[0]
        assert abs(p.effect - 0.02) < 4.5 * p.effect_sd
        sds.append(p.effect_sd)
    # sd ~ 1 / sqrt(n): 16 times the units, a quarter of the sd
    assert sds[1] / sds[0] == pytest.approx(0.25, rel=0.1)
    assert sds[2] / sds[1] == pytest.approx(0.25, rel=0.1)


def test_several_arms_share_the_control_posterior():
    df = pd.concat([binary(200, 20, 200, 30), binary(0, 0, 200, 10, arm="c")])
    res = ab.bayes(df, arm="variant", metrics="converted")
    b, c = res.posteriors
    assert (b.arm, c.arm) == ("b", "c")
    assert b.control_value == c.control_value == 21 / 202
    assert b.prob_beat_control > 0.9 > 0.1 > c.prob_beat_control


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"prior_sd": 0.0}, ["prior_sd", "0.0", "> 0", "variance"]),
        ({"prior_sd": -2}, ["prior_sd", "-2", "> 0"]),
        ({"prior_sd": {"revenue": math.nan}}, ["prior_sd['revenue']", "nan", "> 0"]),
        ({"prior": "normal:0,0"}, ["normal:0,0", "SD", "> 0", "variance"]),
        ({"prior": "normal:0,-1"}, ["normal:0,-1", "SD", "> 0"]),
        ({"prior": "beta:0,1"}, ["beta:0,1", "A", "> 0"]),
        ({"prior": "gamma:1,1"}, ["gamma:1,1", "beta:A,B", "normal:MEAN,SD"]),
        ({"prior": "beta:1"}, ["beta:1", "beta:A,B"]),
    ],
)
def test_bad_priors_are_refused_naming_the_value(kw, words):
    df = pd.DataFrame({"variant": ["control", "b"] * 5, "revenue": np.arange(10.0)})
    with pytest.raises(ValueError) as exc:
        ab.bayes(df, arm="variant", metrics="mean:revenue", **kw)
    for w in words:
        assert w in str(exc.value)


def test_priors_that_fit_no_metric_are_refused():
    df = binary(20, 5, 20, 8).assign(revenue=np.arange(40.0))
    with pytest.raises(DataError, match=r"Beta prior applies to proportions"):
        ab.bayes(df, arm="variant", metrics="mean:revenue", prior="beta:1,1")
    with pytest.raises(DataError, match=r"--prior beta:A,B"):
        ab.bayes(df, arm="variant", metrics="converted", prior_sd=1.0)
    with pytest.raises(DataError, match=r"'rev'.*not among the metrics"):
        ab.bayes(df, arm="variant", metrics="mean:revenue", prior_sd={"rev": 1.0})


def test_an_arm_without_variance_gets_no_posterior():
    df = pd.DataFrame({"variant": ["control", "control", "b"], "revenue": [1.0, 2.0, 3.0]})
    res = ab.bayes(df, arm="variant", metrics="mean:revenue")
    assert math.isnan(res.posteriors[0].effect)
    assert any("no posterior" in w for w in res.warnings)


def test_sample_ratio_is_checked_and_expected_split_honoured():
    df = binary(100, 10, 300, 30)
    res = ab.bayes(df, arm="variant", metrics="converted")
    assert res.srm.mismatch and res.srm.observed == {"control": 100, "b": 300}
    assert any(w.startswith("sample ratio mismatch") for w in res.warnings)
    assert "SRM check" in res.summary() and "MISMATCH" in res.summary()
    ok = ab.bayes(df, arm="variant", metrics="converted", expected_split=[1, 3])
    assert not ok.srm.mismatch and not ok.warnings


def test_to_pandas_columns_in_order():
    res = ab.bayes(binary(50, 5, 50, 9), arm="variant", metrics="converted")
    cols = list(res.to_pandas().columns)
    assert cols[cols.index("effect_sd") + 1 : cols.index("effect_sd") + 3] == ["ci_low", "ci_high"]
    assert len(cols) == len(KEYS) + 2


KEYS = {
    "metric", "kind", "covariate", "arm", "control", "control_value", "arm_value", "effect",
    "effect_sd", "ci", "rel_effect", "rel_ci", "prob_beat_control", "expected_loss",
    "expected_loss_control", "prior", "posterior", "n_control", "n_arm", "draws",
    "mc_se_prob", "mc_se_loss", "mc_se_ci", "method",
}  # fmt: skip


def test_cli_bayes_json_text_and_html(tmp_path, means_df):
    path = tmp_path / "d.csv"
    means_df.assign(converted=(means_df.revenue > 10).astype(int)).to_csv(path, index=False)
    args = ["ab", "analyze", str(path), "--arm", "variant", "--control", "control",
            "--proportion", "converted", "--mean", "revenue", "--covariate", "revenue=pre",
            "--ratio", "clicks/sessions", "--bayes"]  # fmt: skip
    out = runner.invoke(app, [*args, "--format", "json", "--prior-sd", "revenue=2"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    assert set(d) == {"n", "control", "alpha", "credible_level", "draws", "posteriors",
                      "srm", "warnings", "conventions"}  # fmt: skip
    assert [set(p) for p in d["posteriors"]] == [KEYS] * 3
    assert [p["kind"] for p in d["posteriors"]] == ["proportion", "mean", "ratio"]
    assert d["posteriors"][1]["prior"].startswith("Normal(0, 2^2)")
    text = runner.invoke(app, args)
    assert text.exit_code == 0
    assert "P(arm > control)" in text.stdout and "Beta(1, 1)" in text.stdout
    assert "unit-information" in text.stdout
    html = runner.invoke(app, [*args, "--format", "html"])
    assert html.stdout.startswith("<!DOCTYPE html>") and "<table" in html.stdout
    # the report page: a title and the summary's opening lines with the SRM check
    assert "<h1>Bayesian A/B read-out</h1>" in html.stdout and "SRM check: p=" in html.stdout
    assert (
        ab.bayes(means_df, arm="variant", metrics="mean:revenue")
        ._repr_html_()
        .startswith('<div class="lifesim-ab-bayes">')
    )


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--prior-sd", "0"], ["prior_sd (--prior-sd) == 0.0", "> 0"]),
        (["--prior-sd", "abc"], ["--prior-sd", "abc", "METRIC=SD"]),
        (["--prior", "normal:0,-1"], ["--prior", "normal:0,-1", "> 0"]),
        (["--prior", "beta:1,1"], ["--prior", "Beta prior applies to proportions"]),
        (["--draws", "10"], ["draws == 10", ">= 1000"]),
        (["--draws", "0"], ["draws == 0", ">= 1000"]),
    ],
)
def test_cli_bad_priors_exit_2_without_traceback(tmp_path, means_df, extra, words):
    path = tmp_path / "d.csv"
    means_df.to_csv(path, index=False)
    out = runner.invoke(app, ["ab", "analyze", str(path), "--arm", "variant", "--mean",
                              "revenue", "--bayes", *extra])  # fmt: skip
    assert out.exit_code == 2
    assert "Traceback" not in out.output
    msg = " ".join(out.output.split())
    for w in words:
        assert w in msg


def test_cli_prior_without_bayes_and_two_read_outs_are_refused(tmp_path, means_df):
    path = tmp_path / "d.csv"
    means_df.to_csv(path, index=False)
    base = ["ab", "analyze", str(path), "--arm", "variant", "--mean", "revenue"]
    for extra in (["--prior-sd", "1"], ["--draws", "5000"], ["--seed", "3"]):
        out = runner.invoke(app, [*base, *extra])
        assert out.exit_code == 2 and "go with --bayes" in out.output
    out = runner.invoke(app, [*base, "--min-segment-units", "50"])
    assert out.exit_code == 2 and "goes with --segment" in out.output
    out = runner.invoke(app, [*base, "--bayes", "--segment", "variant"])
    assert out.exit_code == 2 and "give one" in out.output
