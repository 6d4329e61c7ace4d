"""Power analysis against statsmodels and against simulation."""

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import power_proportions_2indep

from lifesim import ab


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
@pytest.mark.parametrize("split", [None, [30, 70]])
def test_proportion_power_matches_statsmodels(alternative, split):
    res = ab.power("proportion", baseline=0.1, mde=0.012, n_total=20_000, split=split,
                   alternative=alternative)  # fmt: skip
    n_c, n_a = res.n_per_arm
    sm_alt = {"two-sided": "two-sided", "greater": "larger"}[alternative]
    want = power_proportions_2indep(0.012, 0.1, n_a, ratio=n_c / n_a, alternative=sm_alt).power
    assert res.solved_for == "power"
    assert res.power == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("split", [None, [1, 3]])
def test_mean_power_and_size_match_normal_ind_power(split):
    res = ab.power("mean", baseline=50, sd=20, mde=1.0, n_total=12_000, split=split)
    n_c, n_a = res.n_per_arm
    want = NormalIndPower().power(effect_size=1 / 20, nobs1=n_c, alpha=0.05, ratio=n_a / n_c)
    assert res.power == pytest.approx(want, rel=1e-9)
    size = ab.sample_size("mean", baseline=50, sd=20, mde=1.0, power=0.9)
    n1 = NormalIndPower().solve_power(effect_size=1 / 20, alpha=0.05, power=0.9, ratio=1)
    assert size.n_per_arm[0] == math.ceil(n1 - 1e-6)
    assert size.power >= 0.9


def test_round_trips_between_size_mde_and_power():
    size = ab.sample_size("proportion", baseline=0.2, mde=0.05, relative=True, power=0.8)
    assert size.power >= 0.8 and size.mde_rel == pytest.approx(0.05)
    found = ab.mde("proportion", baseline=0.2, n_total=size.n_total, power=size.power)
    assert found.mde_abs == pytest.approx(size.mde_abs, rel=1e-6)


def test_cuped_arms_and_correction_change_the_size():
    base = ab.sample_size("mean", baseline=10, sd=5, mde=0.2)
    cuped = ab.sample_size("mean", baseline=10, sd=5, mde=0.2, variance_reduction=0.5)
    assert cuped.n_per_arm[0] == pytest.approx(base.n_per_arm[0] / 2, rel=1e-3)
    three = ab.sample_size("mean", baseline=10, sd=5, mde=0.2, arms=3)
    assert three.alpha_per_comparison == 0.025 and three.n_per_arm[0] > base.n_per_arm[0]
    none = ab.sample_size("mean", baseline=10, sd=5, mde=0.2, arms=3, correction="none")
    assert none.n_per_arm[0] == base.n_per_arm[0]
    uneq = ab.sample_size("mean", baseline=10, sd=5, mde=0.2, arms=3, split=[2, 1, 1])
    assert uneq.power >= 0.8 and uneq.n_per_arm[0] == pytest.approx(2 * uneq.n_per_arm[1], 1e-3)
    assert "CUPED" in cuped.summary() and "25%" not in base.summary().split("split")[0]


def test_proportion_power_by_simulation(global_seed):
    """The planned power is what the analysis achieves (binomial counts, vectorised)."""
    rng = np.random.default_rng(global_seed)
    plan = ab.sample_size("proportion", baseline=0.3, mde=0.03, power=0.7)
    n_c, n_a = plan.n_per_arm
    reps = 4000
    xc = rng.binomial(n_c, 0.3, reps)
    xa = rng.binomial(n_a, 0.33, reps)
    pp = (xc + xa) / (n_c + n_a)
    z = (xa / n_a - xc / n_c) / np.sqrt(pp * (1 - pp) * (1 / n_c + 1 / n_a))
    achieved = np.mean(np.abs(z) > 1.959963984540054)
    assert abs(achieved - plan.power) < 4.5 * math.sqrt(0.7 * 0.3 / reps) + 0.005


def test_bad_power_arguments():
    with pytest.raises(ValueError, match="all given"):
        ab.power("mean", baseline=1, sd=1, mde=0.1, n_total=100, power=0.8)
    with pytest.raises(ValueError, match="give mde"):
        ab.power("proportion", baseline=0.1)
    with pytest.raises(ValueError, match="outside"):
        ab.power("proportion", baseline=0.95, mde=0.1)
    with pytest.raises(ValueError, match="variance_reduction"):
        ab.power("mean", baseline=1, sd=1, mde=0.1, variance_reduction=1.0)
    with pytest.raises(ValueError, match="kind =="):
        ab.power("ratio", baseline=1, mde=0.1)


def test_power_result_views():
    res = ab.sample_size("proportion", baseline=0.1, mde=0.01, arms=3)
    df = res.to_pandas()
    assert list(df.arm) == ["control", "arm 1", "arm 2"] and df.n.sum() == res.n_total
    d = res.to_dict()
    assert d["n_per_arm"] == list(res.n_per_arm)
    assert "<pre>" in res._repr_html_()


def test_summary_says_holm_is_planned_at_its_strictest_step_and_rounds_the_mde():
    from lifesim.ab import power

    three = power("proportion", baseline=0.1, n_total=3000, arms=3).summary()
    assert "each comparison at 0.025 (Holm's strictest step" in three
    assert "minimum detectable effect: +0.04519 absolute, +45.2% relative" in three
    two = power("proportion", baseline=0.1, n_total=3000).summary()
    assert "strictest" not in two  # one comparison: nothing to adjust
