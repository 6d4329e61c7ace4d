"""Behaviour of lifesim.experiments.stats pinned for mutation testing (benchmarks/mutation.py).

No simulation: small hand-computed cases and independent references (scipy.stats' one-sample
and paired t-tests, statsmodels' Holm adjustment, the defining property of Fieller's interval).
"""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from lifesim.experiments.stats import holm, mean_ci, paired_diff, ratio_ci

# --- mean_ci ---------------------------------------------------------------------------------


def test_mean_ci_of_four_values_by_hand():
    # mean 2.5, sd sqrt(5/3), t(0.975, 3) = 3.182446305284263
    m, sd, lo, hi = mean_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    h = 3.182446305284263 * math.sqrt(5 / 3) / 2
    assert (m, sd) == pytest.approx((2.5, math.sqrt(5 / 3)), rel=1e-14)
    assert (lo, hi) == pytest.approx((2.5 - h, 2.5 + h), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_mean_ci_is_scipys_one_sample_t_interval(alpha):
    x = np.array([3.1, -0.4, 2.2, 7.5, 1.0, 0.3])
    ci = stats.ttest_1samp(x, 0).confidence_interval(confidence_level=1 - alpha)
    m, sd, lo, hi = mean_ci(x, alpha)
    assert m == pytest.approx(x.mean(), rel=1e-14)
    assert sd == pytest.approx(np.std(x, ddof=1), rel=1e-14)
    assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_mean_ci_default_level_is_95_percent():
    x = np.array([1.0, 4.0, 2.0])
    ci = stats.ttest_1samp(x, 0).confidence_interval(confidence_level=0.95)
    assert mean_ci(x)[2:] == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_mean_ci_leaves_out_nan_and_inf_replications():
    got = mean_ci(np.array([1.0, np.nan, 3.0, np.inf, 5.0, -np.inf]))
    assert got == pytest.approx(mean_ci(np.array([1.0, 3.0, 5.0])), rel=1e-14)
    assert got[0] == pytest.approx(3.0) and got[1] == pytest.approx(2.0)


def test_mean_ci_accepts_integers_and_lists():
    assert mean_ci([1, 2, 3, 4]) == pytest.approx(mean_ci(np.array([1.0, 2.0, 3.0, 4.0])))


def test_mean_ci_with_one_value_has_a_mean_and_nothing_else():
    got = mean_ci(np.array([np.nan, 7.0]))
    assert len(got) == 4 and got[0] == 7.0
    assert all(math.isnan(v) for v in got[1:])


def test_mean_ci_with_two_values_has_an_interval():
    # n = 2: t(0.975, 1) = 12.706204736174698, sd = sqrt(2), h = t sd / sqrt(2) = t
    m, sd, lo, hi = mean_ci(np.array([1.0, 3.0]))
    assert (m, sd) == pytest.approx((2.0, math.sqrt(2)))
    assert (lo, hi) == pytest.approx((2 - 12.706204736174698, 2 + 12.706204736174698), rel=1e-12)


@pytest.mark.parametrize("x", [np.array([]), np.array([np.nan, np.nan])])
def test_mean_ci_without_values_is_four_nans(x):
    got = mean_ci(x)
    assert isinstance(got, tuple) and len(got) == 4
    assert all(isinstance(v, float) and math.isnan(v) for v in got)


# --- paired_diff -----------------------------------------------------------------------------

A = np.array([3.0, 5.0, 4.0, 8.0])
B = np.array([1.0, 2.0, 2.0, 3.0])


def test_paired_diff_by_hand():
    # d = [2, 3, 2, 5]: mean 3, var 2, se sqrt(2)/2; var(A) = 14/3, var(B) = 2/3
    r = paired_diff(A, B)
    se = math.sqrt(2) / 2
    tq = 3.182446305284263
    assert r["n"] == 4
    assert r["diff"] == pytest.approx(3.0, rel=1e-14)
    assert r["se_paired"] == pytest.approx(se, rel=1e-14)
    assert r["se_unpaired"] == pytest.approx(math.sqrt((14 / 3 + 2 / 3) / 4), rel=1e-14)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((3 - tq * se, 3 + tq * se), rel=1e-12)
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(3 / se, 3), rel=1e-12)
    assert set(r) == {"diff", "ci_low", "ci_high", "p_value", "se_paired", "se_unpaired", "n"}


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_paired_diff_is_scipys_paired_t_test(alpha, sign):
    a = np.array([10.2, 11.9, 9.4, 12.8, 10.0])
    b = np.array([9.9, 10.1, 9.8, 11.0, 9.1])
    if sign < 0:
        a, b = b, a
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(confidence_level=1 - alpha)
    r = paired_diff(a, b, alpha)
    assert r["diff"] == pytest.approx(np.mean(a - b), rel=1e-13)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    # Welch's standard error: the statistic of the unpaired test is diff / se_unpaired
    welch = stats.ttest_ind(a, b, equal_var=False)
    assert r["diff"] / r["se_unpaired"] == pytest.approx(welch.statistic, rel=1e-12)


def test_paired_diff_drops_the_pair_of_a_missing_value():
    a = np.array([3.0, np.nan, 5.0, 4.0, 8.0, 100.0])
    b = np.array([1.0, 50.0, 2.0, 2.0, 3.0, np.inf])
    got, want = paired_diff(a, b), paired_diff(A, B)
    assert got["n"] == 4
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-14), k


def test_paired_diff_accepts_lists():
    got = paired_diff([3, 5, 4, 8], [1, 2, 2, 3])
    assert got["diff"] == 3.0 and got["se_paired"] == pytest.approx(math.sqrt(2) / 2)


def _nan_except(r, keep):
    return all(math.isnan(v) for k, v in r.items() if k not in keep)


def test_paired_diff_without_pairs_is_all_nan():
    r = paired_diff(np.array([np.nan, 1.0]), np.array([2.0, np.nan]))
    assert r["n"] == 0 and _nan_except(r, {"n"})
    assert set(r) == {"diff", "ci_low", "ci_high", "p_value", "se_paired", "se_unpaired", "n"}


def test_paired_diff_with_one_pair_has_only_the_difference():
    r = paired_diff(np.array([5.0, np.nan]), np.array([2.0, 1.0]))
    assert r["n"] == 1 and r["diff"] == 3.0 and _nan_except(r, {"n", "diff"})


def test_paired_diff_with_two_pairs_is_complete():
    r = paired_diff(np.array([5.0, 4.0]), np.array([2.0, 2.0]))  # d = [3, 2]
    assert r["n"] == 2 and r["diff"] == 2.5 and r["se_paired"] == pytest.approx(0.5)
    assert r["p_value"] == pytest.approx(stats.ttest_rel([5.0, 4.0], [2.0, 2.0]).pvalue)
    assert not any(math.isnan(v) for v in r.values())


def test_paired_diff_with_a_constant_nonzero_difference_is_certain():
    r = paired_diff(np.array([5.0, 7.0, 6.0]), np.array([3.0, 5.0, 4.0]))
    assert r["diff"] == 2.0 and r["se_paired"] == 0.0
    assert (r["ci_low"], r["ci_high"]) == (2.0, 2.0)
    assert r["p_value"] == 0.0


def test_paired_diff_of_identical_runs_is_no_evidence():
    a = np.array([5.0, 7.0, 6.0])
    r = paired_diff(a, a.copy())
    assert r["diff"] == 0.0 and r["se_paired"] == 0.0 and r["p_value"] == 1.0
    assert (r["ci_low"], r["ci_high"]) == (0.0, 0.0)


def test_paired_diff_p_value_is_two_sided_for_a_negative_difference():
    up, down = paired_diff(A, B), paired_diff(B, A)
    assert down["diff"] == -3.0
    assert down["p_value"] == pytest.approx(up["p_value"], rel=1e-14)
    assert 0 < up["p_value"] < 0.05
    assert (down["ci_low"], down["ci_high"]) == pytest.approx((-up["ci_high"], -up["ci_low"]))


# --- holm ------------------------------------------------------------------------------------


def test_holm_by_hand():
    # sorted 0.01 (x3), 0.03 (x2), 0.04 (x1): 0.03, 0.06, max(0.06, 0.04)
    got = holm(np.array([0.01, 0.04, 0.03]))
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06], rtol=1e-14)


def test_holm_caps_at_one():
    np.testing.assert_allclose(holm(np.array([0.5, 0.6, 0.2])), [1.0, 1.0, 0.6], rtol=1e-14)
    assert holm(np.array([0.7]))[0] == 0.7


def test_holm_with_ties_and_nan_matches_statsmodels():
    p = np.array([0.02, np.nan, 0.02, 0.001, 0.2, np.nan, 0.049])
    got = holm(p)
    ok = np.isfinite(p)
    assert np.isnan(got[~ok]).all()
    np.testing.assert_allclose(got[ok], multipletests(p[ok], method="holm")[1], rtol=1e-14)
    assert got.dtype == np.float64 and got.shape == p.shape


def test_holm_accepts_a_list():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06], rtol=1e-14)


# --- ratio_ci (Fieller) ----------------------------------------------------------------------


def _t_p(x, y, theta):
    """p-value of the paired t-test of mean(x) - theta mean(y) = 0 (scipy)."""
    return stats.ttest_1samp(np.asarray(x) - theta * np.asarray(y), 0).pvalue


@pytest.mark.parametrize("alpha", [0.05, 0.2])
@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_fieller_bounds_are_where_the_t_test_is_just_rejected(alpha, scale):
    # the defining property: at each bound the paired t-test of x - theta y has p == alpha,
    # inside it has p > alpha (small scale: the discriminant is far below 1)
    x = scale * np.array([2.1, 3.4, 2.8, 4.0, 3.1, 2.5])
    y = scale * np.array([1.0, 1.6, 1.1, 2.1, 1.4, 1.3])
    r = ratio_ci(x, y, alpha)
    assert r["bounded"] is True and r["n"] == 6
    assert r["ratio"] == pytest.approx(x.mean() / y.mean(), rel=1e-14)
    assert r["ci_low"] < r["ratio"] < r["ci_high"]
    assert _t_p(x, y, r["ci_low"]) == pytest.approx(alpha, rel=1e-8)
    assert _t_p(x, y, r["ci_high"]) == pytest.approx(alpha, rel=1e-8)
    assert _t_p(x, y, r["ratio"]) == pytest.approx(1.0)


def test_fieller_with_a_negative_ratio():
    x = np.array([-2.0, -3.5, -2.5, -4.1])
    y = np.array([1.0, 1.5, 1.2, 1.9])
    r = ratio_ci(x, y)
    assert r["bounded"] is True and r["ratio"] == pytest.approx(x.mean() / y.mean())
    for b in (r["ci_low"], r["ci_high"]):
        assert _t_p(x, y, b) == pytest.approx(0.05, rel=1e-8)


def test_fieller_is_unbounded_exactly_when_the_denominator_is_not_significant():
    x = np.array([1.0, 2.0, 1.5, 2.5])
    y = np.array([0.5, -0.4, 0.9, 0.1])  # t-test of mean(y) = 0: p ~ 0.3
    assert stats.ttest_1samp(y, 0).pvalue > 0.05
    r = ratio_ci(x, y)
    assert r["bounded"] is False and (r["ci_low"], r["ci_high"]) == (-np.inf, np.inf)
    assert r["ratio"] == pytest.approx(x.mean() / y.mean())
    # at a looser level the same denominator is significant and the set bounded
    assert stats.ttest_1samp(y, 0).pvalue < 0.5
    assert ratio_ci(x, y, alpha=0.5)["bounded"] is True


def test_fieller_drops_incomplete_pairs():
    x = np.array([2.1, np.nan, 3.4, 2.8, 4.0, 1.0])
    y = np.array([1.0, 1.0, 1.6, 1.1, 2.1, np.inf])
    got, want = ratio_ci(x, y), ratio_ci(x[[0, 2, 3, 4]], y[[0, 2, 3, 4]])
    assert got["n"] == 4
    assert (got["ratio"], got["ci_low"], got["ci_high"]) == pytest.approx(
        (want["ratio"], want["ci_low"], want["ci_high"]), rel=1e-14
    )
    assert ratio_ci([2, 4, 3], [1, 2, 2])["ratio"] == pytest.approx(9 / 5)


def test_fieller_without_pairs_or_with_one_pair():
    r = ratio_ci(np.array([np.nan]), np.array([1.0]))
    assert r["n"] == 0 and r["bounded"] is False
    assert all(math.isnan(r[k]) for k in ("ratio", "ci_low", "ci_high"))
    assert set(r) == {"ratio", "ci_low", "ci_high", "bounded", "n"}
    r = ratio_ci(np.array([3.0]), np.array([2.0]))
    assert r["n"] == 1 and r["ratio"] == 1.5 and r["bounded"] is False
    assert math.isnan(r["ci_low"]) and math.isnan(r["ci_high"])


def test_fieller_with_a_zero_mean_denominator_has_no_estimate():
    r = ratio_ci(np.array([1.0, 2.0, 3.0]), np.array([1.0, -1.0, 0.0]))
    assert math.isnan(r["ratio"]) and r["bounded"] is False
    assert (r["ci_low"], r["ci_high"]) == (-np.inf, np.inf)


def test_fieller_with_two_pairs():
    # n = 2 is enough for an interval when the denominator is far from 0 (t(0.975, 1) = 12.7)
    x, y = np.array([2.0, 2.1]), np.array([1.0, 1.01])
    r = ratio_ci(x, y)
    assert r["n"] == 2 and r["bounded"] is True
    for b in (r["ci_low"], r["ci_high"]):
        assert _t_p(x, y, b) == pytest.approx(0.05, rel=1e-8)


def test_fieller_with_a_denominator_of_exact_zeros_is_unbounded():
    # mean and variance of the denominator are both 0: no ratio, and every theta is compatible
    r = ratio_ci(np.array([1.0, 2.0, 4.0]), np.zeros(3))
    assert math.isnan(r["ratio"]) and r["bounded"] is False
    assert (r["ci_low"], r["ci_high"]) == (-np.inf, np.inf)


# --- missing values given as None (JSON null, object columns) count as NaN ----------------------


def test_none_is_a_missing_value_everywhere():
    assert mean_ci([1.0, None, 3.0]) == pytest.approx(mean_ci([1.0, 3.0]))
    got, want = paired_diff([3, 5, None, 4, 8], [1, 2, 7, 2, 3]), paired_diff(A, B)
    assert got["n"] == 4 and got["p_value"] == pytest.approx(want["p_value"])
    got = paired_diff([3, 5, 4, 8, 1], [1, 2, 2, 3, None])
    assert got["n"] == 4 and got["diff"] == 3.0
    got = holm([0.01, None, 0.04])
    assert math.isnan(got[1]) and got[[0, 2]] == pytest.approx([0.02, 0.04])
    x, y = [2.1, None, 3.4, 2.8, 4.0], [1.0, 1.0, 1.6, 1.1, 2.1]
    assert ratio_ci(x, y)["n"] == 4 and ratio_ci(y, x)["n"] == 4
    assert ratio_ci(x, y)["ratio"] == pytest.approx((2.1 + 3.4 + 2.8 + 4.0) / 5.8)
