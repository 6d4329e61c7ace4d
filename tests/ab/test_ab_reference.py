"""Numbers agree with statsmodels / scipy to 1e-9 on fixed data."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from tests.ab._reference import score_interval_reference

from lifesim import ab

RTOL = 1e-9


def close(a, b, rtol=RTOL):
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-14)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20240611)
    n = 3000
    arm = rng.choice(["control", "b", "c"], size=n, p=[0.4, 0.3, 0.3])
    pre = rng.gamma(2.0, 10.0, n)
    revenue = 0.7 * pre + rng.normal(0, 6, n) + np.where(arm == "b", 1.5, 0.0)
    sessions = rng.poisson(3.0, n)
    clicks = rng.binomial(sessions, np.where(arm == "c", 0.35, 0.3))
    converted = (rng.random(n) < np.where(arm == "b", 0.13, 0.1)).astype(int)
    return pd.DataFrame(
        dict(
            variant=arm,
            converted=converted,
            revenue=revenue,
            pre_revenue=pre,
            clicks=clicks,
            sessions=sessions,
            pre_clicks=rng.binomial(sessions, 0.3),
        )
    )


def row(res, metric, arm):
    (c,) = [c for c in res.comparisons if c.metric == metric and c.arm == arm]
    return c


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_proportion_matches_statsmodels(data, alternative):
    res = ab.analyze(
        data, arm="variant", control="control", metrics=["converted"], alternative=alternative
    )
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    for a in ["b", "c"]:
        xa = data.converted[data.variant == a]
        xc = data.converted[data.variant == "control"]
        count, nobs = [xa.sum(), xc.sum()], [len(xa), len(xc)]
        z, p = proportions_ztest(count, nobs, alternative=sm_alt)
        c = row(res, "converted", a)
        assert c.kind == "proportion"
        assert close(c.statistic, z) and close(c.p_value, p)
        assert close(c.arm_value, xa.mean()) and close(c.control_value, xc.mean())
        if alternative == "two-sided":
            # Koopman score interval of the risk ratio (np.roots of a cubic: ~1e-9 accurate)
            lo, hi = confint_proportions_2indep(
                count[0], nobs[0], count[1], nobs[1], method="score", compare="ratio",
                correction=False,
            )  # fmt: skip
            assert close(c.rel_ci[0], lo - 1, 1e-8) and close(c.rel_ci[1], hi - 1, 1e-8)
            assert close(c.rel_effect, xa.mean() / xc.mean() - 1)
            # Farrington-Manning score interval of the difference, by brute force (the
            # reference's bounded optimiser is good to ~1e-9 on the probability scale;
            # statsmodels' closed form leaves [0, 1] for unequal arms, so it is not used)
            lo, hi = score_interval_reference(count[0], nobs[0], count[1], nobs[1])
            assert c.abs_ci == pytest.approx((lo, hi), rel=0, abs=1e-8)


def test_unpooled_and_fisher(data):
    res = ab.analyze(
        data,
        arm="variant",
        control="control",
        metrics=[ab.Proportion("converted", test="z-unpooled", name="unpooled"),
                 ab.Proportion("converted", test="fisher", name="fisher")],
    )  # fmt: skip
    xa = data.converted[data.variant == "b"]
    xc = data.converted[data.variant == "control"]
    pa, pc = xa.mean(), xc.mean()
    se = math.sqrt(pa * (1 - pa) / len(xa) + pc * (1 - pc) / len(xc))
    z = (pa - pc) / se
    assert close(row(res, "unpooled", "b").p_value, 2 * stats.norm.sf(abs(z)))
    table = [[xa.sum(), len(xa) - xa.sum()], [xc.sum(), len(xc) - xc.sum()]]
    assert close(row(res, "fisher", "b").p_value, stats.fisher_exact(table).pvalue)
    assert "Fisher" in row(res, "fisher", "b").method


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_mean_matches_welch(data, alternative):
    res = ab.analyze(
        data, arm="variant", control="control", metrics=["revenue"], alternative=alternative
    )
    for a in ["b", "c"]:
        ya = data.revenue[data.variant == a].to_numpy()
        yc = data.revenue[data.variant == "control"].to_numpy()
        t = stats.ttest_ind(ya, yc, equal_var=False, alternative=alternative)
        ci = t.confidence_interval(0.95)
        c = row(res, "revenue", a)
        assert c.kind == "mean" and c.covariate is None
        assert close(c.statistic, t.statistic) and close(c.p_value, t.pvalue)
        assert close(c.df, t.df)
        assert close(c.abs_effect, ya.mean() - yc.mean())
        for got, want in zip(c.abs_ci, (ci.low, ci.high), strict=True):
            assert got == want or close(got, want)


def test_cuped_equals_welch_on_adjusted_values(data):
    res = ab.analyze(
        data, arm="variant", control="control", metrics=[ab.Mean("revenue", "pre_revenue")]
    )
    y, x = data.revenue.to_numpy(), data.pre_revenue.to_numpy()
    theta = np.cov(y, x)[0, 1] / np.var(x, ddof=1)
    adj = y - theta * (x - x.mean())
    for a in ["b", "c"]:
        ya, yc = adj[data.variant == a], adj[data.variant == "control"]
        t = stats.ttest_ind(ya, yc, equal_var=False)
        ci = t.confidence_interval(0.95)
        c = row(res, "revenue", a)
        assert c.covariate == "pre_revenue"
        assert close(c.arm_value, ya.mean()) and close(c.control_value, yc.mean())
        assert close(c.p_value, t.pvalue) and close(c.statistic, t.statistic)
        assert close(c.abs_ci[0], ci.low) and close(c.abs_ci[1], ci.high)
        raw = row(ab.analyze(data, arm="variant", metrics=["mean:revenue"]), "revenue", a)
        assert close(c.variance_reduction, 1 - (c.se / raw.se) ** 2)
        assert 0.5 < c.variance_reduction < 1
        assert f"theta={theta:.4g}" in c.method


def _ratio_reference(num, den, arm_mask, ctl_mask):
    """Delta method computed naively from the unit-level data."""

    def est(m):
        x, y = num[m], den[m]
        r = x.sum() / y.sum()
        lin = (x - r * y) / y.mean()
        return r, lin.var(ddof=1) / m.sum()

    ra, va = est(arm_mask)
    rc, vc = est(ctl_mask)
    z = (ra - rc) / math.sqrt(va + vc)
    return ra, rc, z, 2 * stats.norm.sf(abs(z)), math.sqrt(va + vc)


def test_ratio_delta_method(data):
    res = ab.analyze(data, arm="variant", control="control", metrics=["clicks/sessions"])
    num, den = data.clicks.to_numpy(float), data.sessions.to_numpy(float)
    for a in ["b", "c"]:
        ra, rc, z, p, se = _ratio_reference(
            num, den, (data.variant == a).to_numpy(), (data.variant == "control").to_numpy()
        )
        c = row(res, "clicks/sessions", a)
        assert c.kind == "ratio"
        assert close(c.arm_value, ra) and close(c.control_value, rc)
        assert close(c.statistic, z) and close(c.p_value, p) and close(c.se, se)
        q = stats.norm.ppf(0.975)
        assert close(c.abs_ci[0], ra - rc - q * se) and close(c.abs_ci[1], ra - rc + q * se)


def test_ratio_cuped_on_linearisation(data):
    metric = ab.Ratio("clicks", "sessions", covariate="pre_clicks")
    res = ab.analyze(data, arm="variant", control="control", metrics=[metric])
    num, den, x = (data[c].to_numpy(float) for c in ("clicks", "sessions", "pre_clicks"))
    r_all = num.sum() / den.sum()
    lin_all = (num - r_all * den) / den.mean()
    theta = np.cov(lin_all, x)[0, 1] / x.var(ddof=1)
    for a in ["b", "c"]:
        vals = {}
        for g, m in (("a", data.variant == a), ("c", data.variant == "control")):
            m = m.to_numpy()
            r = num[m].sum() / den[m].sum()
            lin = (num[m] - r * den[m]) / den[m].mean() - theta * x[m]
            vals[g] = (r - theta * (x[m].mean() - x.mean()), lin.var(ddof=1) / m.sum())
        c = row(res, "clicks/sessions", a)
        assert close(c.arm_value, vals["a"][0]) and close(c.control_value, vals["c"][0])
        assert close(c.se, math.sqrt(vals["a"][1] + vals["c"][1]))


@pytest.mark.parametrize("method", ["holm", "bonferroni", "bh"])
def test_corrections_match_multipletests(method, no_gc_collect):
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = rng.random(rng.integers(1, 8)) ** 3
        sm = {"bh": "fdr_bh"}.get(method, method)
        np.testing.assert_allclose(
            ab.stats.adjust(p, method), multipletests(p, method=sm)[1], rtol=1e-12
        )
    assert np.isnan(ab.stats.adjust([0.01, np.nan, 0.02], "holm")[1])
    np.testing.assert_allclose(ab.stats.adjust([0.01, np.nan, 0.02], "holm")[[0, 2]], [0.02, 0.02])


def test_adjusted_p_in_results(data):
    res = ab.analyze(data, arm="variant", control="control", metrics=["converted"],
                     correction="bonferroni")  # fmt: skip
    ps = [row(res, "converted", a).p_value for a in ("b", "c")]
    adj = multipletests(ps, method="bonferroni")[1]
    assert [row(res, "converted", a).p_adjusted for a in ("b", "c")] == pytest.approx(adj)


def test_srm_matches_chisquare(data):
    counts = data.variant.value_counts()
    res = ab.analyze(data, arm="variant", control="control", metrics=["converted"],
                     expected_split=[40, 30, 30])  # fmt: skip
    obs = [counts["control"], counts["b"], counts["c"]]
    want = stats.chisquare(obs, np.array([0.4, 0.3, 0.3]) * len(data))
    assert close(res.srm.p_value, want.pvalue) and close(res.srm.statistic, want.statistic)
    assert res.srm.observed == {"control": obs[0], "b": obs[1], "c": obs[2]}
    assert not res.srm.mismatch
    equal = ab.analyze(data, arm="variant", metrics=["converted"])
    assert equal.srm.mismatch and equal.srm.p_value < 1e-3
    assert any("sample ratio mismatch" in w for w in equal.warnings)
    by_name = ab.analyze(data, arm="variant", metrics=["converted"],
                         expected_split={"b": 3, "c": 3, "control": 4})  # fmt: skip
    assert by_name.srm.p_value == res.srm.p_value


def test_p_values_do_not_underflow():
    n = 200_000
    df = pd.DataFrame(
        {
            "arm": np.repeat(["control", "t"], n),
            "y": np.concatenate([np.zeros(n // 2), np.ones(n // 2), np.ones(n)]),
            "m": np.concatenate([np.arange(n) % 7, np.arange(n) % 7 + 50.0]),
        }
    )
    res = ab.analyze(df, arm="arm", metrics=["proportion:y", "mean:m"])
    for c in res.comparisons:
        assert c.p_value > 0 and c.p_value == ab.P_FLOOR
        assert c.log10_p_value < -300 and math.isfinite(c.log10_p_value)
        assert c.p_adjusted > 0


def test_log_sf_tails_match_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    for x, df in [(40.0, 10.0), (300.0, 1e4), (1e4, 3.0), (60.0, 250.0)]:
        # t survival via the regularised incomplete beta
        z = df / (df + x * x)
        want = mpmath.log(mpmath.betainc(df / 2, 0.5, 0, z, regularized=True) / 2)
        assert ab.stats.log_sf(x, df) == pytest.approx(float(want), rel=1e-9)
    for x, k in [(5000.0, 1), (2e4, 4)]:
        want = mpmath.log(mpmath.gammainc(k / 2, x / 2, mpmath.inf, regularized=True))
        assert ab.stats.log_chi2_sf(x, k) == pytest.approx(float(want), rel=1e-9)
    # in the range where scipy does not underflow, the same numbers
    assert ab.stats.log_sf(5.0, 30.0) == pytest.approx(stats.t.logsf(5.0, 30.0), rel=1e-12)
