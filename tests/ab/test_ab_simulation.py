"""A/A and A/B simulations: false-positive rates near alpha, 95% CIs cover the truth ~95%.

Pass for any seed (``global_seed``): every band is 4.5 standard errors of a binomial rate
plus a small allowance for the normal approximations at these sample sizes.
"""

import functools
import math

import numpy as np
import pandas as pd
import pytest

from lifesim import ab

REPS = 1500
N_ARM = 200
ALPHA = 0.05


def band(p, reps=REPS, slack=0.01):
    return 4.5 * math.sqrt(p * (1 - p) / reps) + slack


METRICS = [
    ab.Proportion("converted"),
    ab.Proportion("converted", test="z-unpooled", name="converted_unpooled"),
    ab.Proportion("converted", test="fisher", name="converted_fisher"),
    ab.Mean("revenue"),
    ab.Mean("revenue", covariate="pre_revenue", name="revenue_cuped"),
    ab.Ratio("clicks", "sessions"),
    ab.Ratio("clicks", "sessions", covariate="pre_clicks", name="ctr_cuped"),
]

# truth of the simulated population (per arm), for coverage
P_CONV = {"control": 0.20, "b": 0.20, "c": 0.24}
REV_SHIFT = {"control": 0.0, "b": 0.0, "c": 1.0}
CTR = {"control": 0.30, "b": 0.30, "c": 0.33}
PRE_MEAN = 10.0  # E[pre_revenue] (gamma 2 x 5)


def simulate(rng, effect):
    arms = np.repeat(["control", "b", "c"], N_ARM)
    eff = {a: (a if effect else "control") for a in ("control", "b", "c")}
    n = arms.size
    conv = np.empty(n)
    rev = np.empty(n)
    clicks = np.empty(n)
    pre = rng.gamma(2.0, 5.0, n)
    sessions = rng.poisson(4.0, n) + rng.integers(0, 2, n)
    pre_clicks = rng.binomial(sessions, 0.3)
    for a in ("control", "b", "c"):
        m = arms == a
        conv[m] = rng.random(m.sum()) < P_CONV[eff[a]]
        rev[m] = 0.8 * pre[m] + rng.exponential(4.0, m.sum()) + REV_SHIFT[eff[a]]
        # clicks correlated with pre_clicks through a unit-level propensity
        clicks[m] = rng.binomial(sessions[m], CTR[eff[a]])
    clicks = np.maximum(clicks + (pre_clicks - sessions * 0.3).round(), 0)
    return pd.DataFrame(
        dict(arm=arms, converted=conv, revenue=rev, pre_revenue=pre, clicks=clicks,
             sessions=sessions, pre_clicks=pre_clicks)
    )  # fmt: skip


def run(seed, effect):
    rng = np.random.default_rng(seed)
    rows = []
    srm_p = []
    for _ in range(REPS):
        res = ab.analyze(simulate(rng, effect), arm="arm", metrics=METRICS, alpha=ALPHA)
        srm_p.append(res.srm.p_value)
        df = res.to_pandas()
        rows.append(df)
    return pd.concat(rows, ignore_index=True), np.array(srm_p)


@functools.lru_cache(maxsize=4)
def cached_run(seed, effect):
    return run(seed, effect)


@pytest.fixture
def aa(global_seed):
    return cached_run(global_seed, False)


@pytest.fixture
def ab_effect(global_seed):
    return cached_run(global_seed + 1, True)


def test_false_positive_rate_of_every_test_is_alpha(aa):
    df, _ = aa
    for (metric, arm), g in df.groupby(["metric", "arm"]):
        rate = (g.p_value < ALPHA).mean()
        if metric == "converted_fisher":  # exact and conservative: at most alpha
            assert ALPHA / 3 < rate < ALPHA + band(ALPHA), (metric, arm, rate)
            continue
        assert abs(rate - ALPHA) < band(ALPHA), (metric, arm, rate)
        # the p-value is uniform: P(p < 0.2) ~ 0.2 too
        assert abs((g.p_value < 0.2).mean() - 0.2) < band(0.2), (metric, arm)


def test_holm_controls_the_family_wise_rate(aa):
    df, _ = aa
    df = df.assign(rep=np.repeat(np.arange(REPS), len(METRICS) * 2))
    for metric, g in df.groupby("metric"):
        fwer = g.groupby("rep").p_adjusted.min().lt(ALPHA).mean()
        assert fwer < ALPHA + band(ALPHA), (metric, fwer)
        raw = g.groupby("rep").p_value.min().lt(ALPHA).mean()
        assert raw > fwer  # without correction, two looks inflate the rate


def test_srm_p_value_is_uniform_under_random_assignment():
    # fixed group sizes give chi2 = 0; draw multinomial sizes instead (vectorised)
    rng = np.random.default_rng(7)
    counts = rng.multinomial(600, [0.5, 0.25, 0.25], size=4000)
    p = np.array([ab.stats.srm_test(c, [2, 1, 1]).p_value for c in counts])
    assert abs((p < ALPHA).mean() - ALPHA) < band(ALPHA, 4000, 0.01)


def _truth(metric, arm):
    if metric.startswith("converted"):
        return P_CONV["control"], P_CONV[arm]
    if metric.startswith("revenue"):
        base = 0.8 * PRE_MEAN + 4.0
        return base, base + REV_SHIFT[arm]
    # clicks = binom(s, ctr) + round(pre_clicks - 0.3 s), floored at 0: use a big simulation
    return None


def test_confidence_intervals_cover_the_true_effect(ab_effect):
    df, _ = ab_effect
    big = pd.concat([simulate(np.random.default_rng(i), effect=True) for i in range(300)])
    ctr = big.groupby("arm").clicks.sum() / big.groupby("arm").sessions.sum()
    for (metric, arm), g in df.groupby(["metric", "arm"]):
        truth = _truth(metric, arm)
        if truth is None:
            c, a = ctr["control"], ctr[arm]
            tol = 4 * math.sqrt(2) * 0.004  # MC error of the "truth" itself
        else:
            c, a = truth
            tol = 0.0
        diff = a - c
        cover = ((g.abs_ci_low <= diff + tol) & (g.abs_ci_high >= diff - tol)).mean()
        assert abs(cover - 0.95) < band(0.95) + (0.02 if tol else 0), (metric, arm, cover)
        if truth is not None:
            rel = a / c - 1
            rcover = ((g.rel_ci_low <= rel) & (g.rel_ci_high >= rel)).mean()
            assert abs(rcover - 0.95) < band(0.95), (metric, arm, rcover)
    # CUPED helps: tighter intervals on average
    width = (df.abs_ci_high - df.abs_ci_low).groupby(df.metric).mean()
    assert width["revenue_cuped"] < 0.8 * width["revenue"]


def test_power_of_the_tests_is_real(ab_effect):
    df, _ = ab_effect
    power = df[df.arm == "c"].groupby("metric").p_value.apply(lambda p: (p < ALPHA).mean())
    assert power["revenue_cuped"] > power["revenue"]
    assert (power > ALPHA + band(ALPHA)).all(), power
