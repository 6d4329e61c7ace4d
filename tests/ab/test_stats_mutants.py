"""Behaviour of lifesim.ab.stats that mutation testing found unpinned (benchmarks/mutation.py).

References are independent of the code under test: scipy's incomplete beta and gamma
functions, hand-computed delta-method formulas, scipy.stats.chisquare.
"""

import math
import warnings

import numpy as np
import pytest
from scipy import special, stats

from lifesim.ab import stats as S

Z975 = stats.norm.ppf(0.975)


# --- the continued fractions behind the far tails -------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "x"),
    [(5.0, 3.0, 0.5), (0.7, 2.5, 0.1), (2.0, 0.5, 0.3), (15.0, 0.5, 0.8), (1.5, 0.5, 1e-6)],
)
def test_log_betainc_continued_fraction_matches_scipy(a, b, x):
    # where the fraction is far from 1 (x near (a+1)/(a+b+2)), every term of it matters
    assert x < (a + 1) / (a + b + 2)
    want = math.log(special.betainc(a, b, x))
    assert S._log_betainc_cf(a, b, x) == pytest.approx(want, rel=1e-12, abs=1e-13)


@pytest.mark.parametrize(("s", "y"), [(2.0, 4.0), (2.5, 40.0), (0.5, 3.0), (10.0, 12.0)])
def test_log_gammaincc_continued_fraction_matches_scipy(s, y):
    assert y > s + 1
    want = math.log(special.gammaincc(s, y))
    assert S._log_gammaincc_cf(s, y) == pytest.approx(want, rel=1e-12, abs=1e-13)


@pytest.mark.parametrize(("x", "df"), [(40.0, 10.0), (300.0, 1e4), (60.0, 250.0), (45.0, 400.0)])
def test_far_t_tail_is_accurate_in_p_not_only_in_log_p(x, df):
    # an absolute error of 1e-10 on log(p) is a relative error of 1e-10 on p itself (the
    # reference test allows 1e-9 of log p, i.e. 1e-5 of p at log p = -11,500)
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    z = df / (df + x * x)
    want = float(mpmath.log(mpmath.betainc(df / 2, 0.5, 0, z, regularized=True) / 2))
    assert S.log_sf(x, df) == pytest.approx(want, rel=0, abs=1e-10)


@pytest.mark.parametrize(("x", "k"), [(5000.0, 1), (2e4, 4), (1400.0, 3)])
def test_far_chi2_tail_is_accurate_in_p(x, k):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    want = float(mpmath.log(mpmath.gammainc(k / 2, x / 2, mpmath.inf, regularized=True)))
    assert S.log_chi2_sf(x, k) == pytest.approx(want, rel=0, abs=1e-10)


@pytest.mark.parametrize("df", [0.0, -3.0])
def test_log_sf_with_undefined_df_is_the_normal(df):
    assert S.log_sf(2.0, df) == pytest.approx(stats.norm.logsf(2.0), rel=1e-14)


@pytest.mark.parametrize("df", [1.0, 0.5])
def test_log_sf_with_df_at_most_one_is_still_student_t(df):
    assert S.log_sf(2.0, df) == pytest.approx(stats.t.logsf(2.0, df), rel=1e-12)
    assert S.log_sf(2.0, df) > stats.norm.logsf(2.0) + 1.0  # heavy tail, far from the normal


def test_log_sf_of_nan_is_nan():
    assert math.isnan(S.log_sf(math.nan, 5.0))


# --- flooring and p-value bounds --------------------------------------------------------------


def test_a_p_value_of_exactly_the_floor_is_not_a_bound():
    assert not S.is_floored(math.log10(S.P_FLOOR))
    assert S.is_floored(math.log10(S.P_FLOOR) - 1e-9)


def test_floor_p_caps_at_one():
    assert S.floor_p(1e-12) == (1.0, 0.0)
    assert S.floor_p(0.7) == (1.0, 0.0)


# --- Welch degrees of freedom and the relative-effect helper ----------------------------------


def test_welch_df_without_variance_is_nan():
    assert math.isnan(S.welch_df(0.0, 5, 0.0, 7))


def test_welch_df_matches_the_formula():
    va, vc = 4.0 / 10, 9.0 / 20
    want = (va + vc) ** 2 / (va**2 / 9 + vc**2 / 19)
    assert S.welch_df(4.0, 10, 9.0, 20) == pytest.approx(want, rel=1e-14)


def test_expm1_overflows_to_infinity_instead_of_raising():
    assert S._expm1(800.0) == math.inf
    assert S._expm1(1.0) == pytest.approx(math.e - 1.0, rel=1e-15)


# --- compare: zero, negative and undefined variances ------------------------------------------


def test_zero_variance_and_no_difference_gives_p_one():
    e = S.compare(5.0, 0.0, 5.0, 0.0, alpha=0.05, alternative="two-sided", label="m/b")
    assert e.statistic == 0.0 and e.p_value == 1.0 and e.log10_p_value == 0.0
    assert e.se == 0.0 and e.abs_ci == (0.0, 0.0)
    assert e.warnings == ("m/b: zero variance in both arms and no difference; p-value set to 1",)


def test_zero_variance_with_a_difference_is_undefined():
    e = S.compare(5.0, 0.0, 6.0, 0.0, alpha=0.05, alternative="two-sided", label="m/b")
    assert math.isnan(e.statistic) and math.isnan(e.p_value) and math.isnan(e.log10_p_value)
    assert e.warnings == ("m/b: zero or undefined variance; the test is undefined (NaN)",)


def test_nan_variance_without_difference_is_undefined_too():
    e = S.compare(5.0, math.nan, 5.0, 0.0, alpha=0.05, alternative="two-sided", label="x")
    assert math.isnan(e.p_value)
    assert e.warnings[0] == "x: zero or undefined variance; the test is undefined (NaN)"


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_negative_variance_gives_undefined_se_and_intervals(alternative):
    # (a negative control value keeps the relative branch out of it; see MUTANTS.md)
    e = S.compare(-5.0, -2.0, -4.0, 1.0, alpha=0.05, alternative=alternative, label="x")
    assert math.isnan(e.se) and math.isnan(e.p_value)
    assert all(math.isnan(v) for v in e.abs_ci)


# --- compare with a p-value computed elsewhere (Fisher) ---------------------------------------


def test_external_p_value_keeps_the_statistic():
    e = S.compare(10.0, 0.04, 11.0, 0.05, alpha=0.05, alternative="two-sided", log_p=math.log(0.2))
    assert e.p_value == pytest.approx(0.2, rel=1e-14)
    assert e.statistic == pytest.approx(1.0 / math.sqrt(0.09), rel=1e-14)
    e0 = S.compare(1.0, 0.0, 1.0, 0.0, alpha=0.05, alternative="two-sided", log_p=0.0)
    assert math.isnan(e0.statistic) and e0.p_value == 1.0


# --- compare: the relative effect ------------------------------------------------------------


@pytest.mark.parametrize(
    ("control", "why"), [(0.0, "0"), (-2.0, "-2 <= 0"), (math.nan, "undefined")]
)
def test_relative_effect_undefined_unless_control_is_positive(control, why):
    e = S.compare(control, 0.04, 1.0, 0.05, alpha=0.05, alternative="two-sided", label="m/b")
    assert math.isnan(e.rel_effect) and all(math.isnan(v) for v in e.rel_ci)
    assert (
        f"m/b: control value is {why}; the relative effect is undefined (arm / control - 1 "
        "needs a positive control value; its sign would not follow the effect's)"
    ) in e.warnings


def test_relative_effect_stays_undefined_with_intervals_from_elsewhere():
    e = S.compare(
        0.0, 0.01, 0.1, 0.01, alpha=0.05, alternative="two-sided",
        intervals=((-0.1, 0.3), (-0.5, 2.0)),
    )  # fmt: skip
    assert e.abs_ci == (-0.1, 0.3)
    assert math.isnan(e.rel_effect) and all(math.isnan(v) for v in e.rel_ci)
    ok = S.compare(
        0.1, 0.01, 0.2, 0.01, alpha=0.05, alternative="two-sided",
        intervals=((-0.1, 0.3), (-0.5, 2.0)),
    )  # fmt: skip
    assert ok.rel_ci == (-0.5, 2.0)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_relative_ci_with_a_negative_arm_is_the_delta_method_on_the_ratio(alternative):
    control, vc, arm, va = 4.0, 0.3, -1.0, 0.2
    e = S.compare(control, vc, arm, va, alpha=0.1, alternative=alternative, label="m/b")
    rel = arm / control - 1.0  # -1.25
    # d(arm/control) = d arm / control - arm d control / control^2
    rse = math.sqrt(va / control**2 + arm**2 * vc / control**4)
    assert e.rel_effect == pytest.approx(-1.25, rel=1e-15)
    if alternative == "two-sided":
        q = stats.norm.ppf(0.95)
        want = (rel - q * rse, rel + q * rse)
    elif alternative == "greater":
        want = (rel - stats.norm.ppf(0.9) * rse, math.inf)
    else:
        want = (-math.inf, rel + stats.norm.ppf(0.9) * rse)
    assert e.rel_ci == pytest.approx(want, rel=1e-12)
    assert e.warnings == (
        "m/b: arm value <= 0, so the relative CI is the delta method on the ratio",
    )
    given = S.compare(
        control, vc, arm, va, alpha=0.1, alternative=alternative, intervals=((0, 1), (2, 3))
    )
    assert given.warnings == ()


def test_relative_ci_on_the_log_scale_when_both_are_positive():
    e = S.compare(10.0, 0.04, 11.0, 0.05, alpha=0.05, alternative="two-sided")
    lse = math.sqrt(0.05 / 121 + 0.04 / 100)
    lr = math.log(1.1)
    assert e.rel_ci == pytest.approx(
        (math.exp(lr - Z975 * lse) - 1, math.exp(lr + Z975 * lse) - 1), rel=1e-12
    )


# --- multiplicity adjustments ------------------------------------------------------------------


def test_unknown_correction_is_refused_with_the_choices():
    msg = "correction == 'sidak', must be one of holm, bonferroni, bh, none"
    with pytest.raises(ValueError, match=msg):
        S.adjust_log10([-2.0], "sidak")


def test_no_correction_returns_the_input():
    np.testing.assert_array_equal(S.adjust_log10([-2.0, -3.0, np.nan], "none"), [-2, -3, np.nan])


@pytest.mark.parametrize("method", ["holm", "bonferroni", "bh", "none"])
def test_all_nan_or_empty_input_stays_nan(method):
    assert np.isnan(S.adjust_log10([np.nan, np.nan], method)).all()
    assert S.adjust_log10([], method).shape == (0,)


def test_integer_log10_input_is_adjusted_as_float():
    np.testing.assert_allclose(
        S.adjust_log10([-3, -2], "holm"), [-3 + math.log10(2), -2.0], rtol=1e-14
    )


def test_a_zero_p_value_adjusts_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = S.adjust([0.0, 0.5], "holm")
    assert out.tolist() == [0.0, 0.5]


def test_an_interval_touching_zero_does_not_exclude_it():
    assert not S.excludes_null((0.0, 1.0))
    assert not S.excludes_null((-1.0, 0.0))
    assert S.excludes_null((1e-12, 1.0)) and S.excludes_null((-1.0, -1e-12))


# --- sample-ratio mismatch --------------------------------------------------------------------


def test_srm_with_unnormalised_shares_matches_chisquare():
    observed = np.array([420, 290, 290])
    shares = np.array([40, 30, 30])
    got = S.srm_test(observed, shares)
    want = stats.chisquare(observed, shares / shares.sum() * observed.sum())
    assert got.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert got.p_value == pytest.approx(want.pvalue, rel=1e-12)
    assert got.df == 2


def test_srm_with_one_arm_is_undefined():
    got = S.srm_test(np.array([10]), np.array([1.0]))
    assert got.df == 0 and math.isnan(got.p_value) and math.isnan(got.log10_p_value)


def test_warnings_without_a_label_start_with_the_message():
    e = S.compare(5.0, 0.0, 5.0, 0.0, alpha=0.05, alternative="two-sided")
    assert e.warnings == (": zero variance in both arms and no difference; p-value set to 1",)
