"""Group-sequential designs: boundaries against published tables, sizes, A/A error rates.

References
----------
JT: Jennison, C. and Turnbull, B. W. (2000). Group Sequential Methods with Applications to
    Clinical Trials. Chapman & Hall/CRC. Table 2.1 (Pocock constants C_P(K, alpha)), Table 2.2
    (Pocock R_P), Table 2.3 (O'Brien-Fleming constants C_B(K, alpha)), Table 2.4 (R_B); two-sided
    alpha = 0.05. The tables have 3 decimals, so the tolerance is 1e-3 (rounding 5e-4 plus
    the rounding of the constants the sizes are computed from).
LD: Lan, K. K. G. and DeMets, D. L. (1983), Biometrika 70:659; the O'Brien-Fleming-type
    boundaries for 5 equally spaced looks at two-sided 0.05, 4.877 3.357 2.680 2.290 2.031, as
    tabulated by the Lan-DeMets programs (Reboussin, DeMets, Kim and Lan 2000, Controlled
    Clinical Trials 21:190) and reproduced by R gsDesign's sfLDOF (3 decimals: 1e-3).
Genz: the boundary crossing probabilities are also checked to 1e-4 against an independent
    method, scipy's multivariate normal CDF (Genz's quasi-Monte Carlo integration), for unequal
    information fractions.
"""

import json
import math

import numpy as np
import pytest
from scipy import optimize, stats
from tests.ab.test_sequential import experiment, upper
from typer.testing import CliRunner

from lifesim import ab
from lifesim.ab.gsd import boundaries, crossing_probabilities, gsd_plan, spend
from lifesim.cli import app
from lifesim.errors import DataError

POCOCK_CP = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413}  # JT Table 2.1
OBF_CB = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040}  # JT Table 2.3
POCOCK_R = {2: (1.110, 1.100), 3: (1.166, 1.151), 4: (1.202, 1.183), 5: (1.229, 1.207)}
OBF_R = {2: (1.008, 1.007), 3: (1.017, 1.016), 4: (1.024, 1.022), 5: (1.028, 1.026)}


def _pocock(k):
    t = np.arange(1, k + 1) / k
    return optimize.brentq(lambda c: crossing_probabilities(t, [c] * k)[0].sum() * 2 - 0.05, 1.9, 3)


def _obf(k):
    t = np.arange(1, k + 1) / k

    def excess(c):
        return crossing_probabilities(t, c / np.sqrt(t))[0].sum() * 2 - 0.05

    return optimize.brentq(excess, 1.9, 3)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_recursive_integration_gives_the_classical_constants(k):
    assert _pocock(k) == pytest.approx(POCOCK_CP[k], abs=1e-3)
    assert _obf(k) == pytest.approx(OBF_CB[k], abs=1e-3)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_maximum_size_inflation_matches_the_tables(k):
    t = np.arange(1, k + 1) / k
    for i, power in enumerate((0.8, 0.9)):
        p = gsd_plan(k, 0.05, power, c=[_pocock(k)] * k)
        assert p.inflation == pytest.approx(POCOCK_R[k][i], abs=1e-3)
        b = gsd_plan(k, 0.05, power, c=_obf(k) / np.sqrt(t))
        assert b.inflation == pytest.approx(OBF_R[k][i], abs=1e-3)


def test_obrien_fleming_type_spending_boundaries_five_looks():
    c, spent = boundaries([0.2, 0.4, 0.6, 0.8, 1.0], 0.05, "obf")
    assert c == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=1e-3)
    assert spent[-1] == pytest.approx(0.05)
    # one-sided 0.025 with the same spending function: the same boundaries
    c1, _ = boundaries([0.2, 0.4, 0.6, 0.8, 1.0], 0.025, "obf", "greater")
    assert c1 == pytest.approx(c, abs=1e-4)


@pytest.mark.parametrize("spending", ["obf", "pocock"])
@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_crossing_probabilities_against_the_multivariate_normal_cdf(spending, alternative):
    t = np.array([0.13, 0.35, 0.5, 0.77, 1.0])
    c, spent = boundaries(t, 0.05, spending, alternative)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    two = alternative == "two-sided"
    for k in range(1, t.size + 1):
        stay = stats.multivariate_normal.cdf(
            c[:k], np.zeros(k), cov[:k, :k], maxpts=200_000, abseps=1e-6, releps=1e-6,
            lower_limit=-c[:k] if two else np.full(k, -np.inf), rng=np.random.default_rng(0),
        )  # fmt: skip
        assert 1 - stay == pytest.approx(spent[k - 1], abs=1e-4)
    assert spent == pytest.approx(
        np.cumsum(np.diff(np.r_[0, spend(t, 0.05, spending, 2 if two else 1)]))
    )


def test_spending_functions_end_at_alpha_and_grow():
    t = np.linspace(0.01, 1, 50)
    for s in ("obf", "pocock"):
        a = spend(t, 0.05, s)
        assert a[-1] == pytest.approx(0.05) and np.all(np.diff(a) > 0)
    assert spend(0.5, 0.05, "pocock") == pytest.approx(0.05 * math.log(1 + (math.e - 1) / 2))
    with pytest.raises(ValueError, match="spending == 'linear'"):
        spend(0.5, 0.05, "linear")


def test_expected_sizes_match_a_simulation_of_the_sequential_z(global_seed):
    rng = np.random.default_rng(global_seed)
    k, n = 5, 200_000
    plan = gsd_plan(k, 0.05, 0.8, "obf")
    t = np.arange(1, k + 1) / k
    c = np.array(plan.boundaries)
    z_fixed = stats.norm.isf(0.025) + stats.norm.isf(0.2)
    for drift, expected in [(z_fixed * math.sqrt(plan.inflation), plan.expected_h1),
                            (0.0, plan.expected_h0)]:  # fmt: skip
        w = np.cumsum(rng.normal(drift / k, math.sqrt(1 / k), (n, k)), axis=1)
        cross = np.abs(w / np.sqrt(t)) >= c
        stop = np.where(cross.any(axis=1), cross.argmax(axis=1), k - 1)
        size = plan.inflation * t[stop]
        assert size.mean() == pytest.approx(expected, abs=5 * size.std() / math.sqrt(n))
        if drift:
            power = (cross.any(axis=1) & (w[np.arange(n), stop] > 0)).mean()
            assert power == pytest.approx(0.8, abs=5 * math.sqrt(0.16 / n))


def gsd_rates(seed, n_sims, metric, covariates=None, looks=5, spending="obf"):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_sims):
        res = ab.sequential(experiment(rng), arm="arm", metrics=metric, covariates=covariates,
                            time_col="day", design="group-sequential", looks=looks,
                            spending=spending)  # fmt: skip
        hits += res.decisions[0].decision != "no difference detected"
    return hits


@pytest.mark.parametrize(
    "metric, spending, n_sims",
    [("converted", "obf", 200), ("mean:revenue", "pocock", 250), ("mean:revenue", "obf", 250)],
)
def test_group_sequential_false_positive_rate_is_alpha(global_seed, metric, spending, n_sims):
    hits = gsd_rates(global_seed, n_sims, metric, spending=spending)
    # asymptotically exact, not conservative: the rate is alpha, from both sides
    assert stats.binom.ppf(0.001, n_sims, 0.05) <= hits <= upper(n_sims), (hits, n_sims)


@pytest.mark.parametrize(
    "metric, covariates", [("clicks/sessions", None), ("mean:revenue", {"revenue": "pre"})]
)
def test_group_sequential_ratio_and_cuped(global_seed, metric, covariates):
    hits = gsd_rates(global_seed + 1, 150, metric, covariates, looks=[3, 6, 10])
    assert hits <= upper(150), hits


def test_group_sequential_result_fractions_boundaries_and_decision():
    rng = np.random.default_rng(4)
    res = ab.sequential(experiment(rng, n=20000, effect=0.5), arm="arm", metrics="mean:revenue",
                        time_col="day", design="group-sequential", looks=[2, 4, 7, 10])  # fmt: skip
    looks = res.looks
    assert [lk.day for lk in looks] == [2, 4, 7, 10]
    n = np.array([lk.n_control + lk.n_arm for lk in looks], dtype=float)
    assert [lk.information_fraction for lk in looks] == pytest.approx(n / n[-1])
    c, _ = boundaries(n / n[-1], 0.05, "obf")
    assert [lk.boundary for lk in looks] == pytest.approx(c)
    d = res.decisions[0]
    first = next(lk for lk in looks if abs(lk.z) >= lk.boundary)
    assert d.decision == "b > control" and d.first_day == first.day
    assert first.interval[0] == pytest.approx(first.abs_effect - first.boundary * first.se)
    assert "Lan-DeMets" in res.method and res.tuning["spending"] == "obf"
    assert math.isnan(looks[0].p_value)


def test_interim_analysis_with_planned_n_keeps_the_full_designs_boundaries():
    df = experiment(np.random.default_rng(5), n=5000)
    kw = dict(arm="arm", metrics="converted", time_col="day", design="group-sequential")
    full = ab.sequential(df, looks=[2, 4, 7, 10], **kw)
    interim = ab.sequential(df[df.day <= 4], looks=[2, 4], planned_n=len(df), **kw)
    for a, b in zip(interim.looks, full.looks[:2], strict=False):
        assert a.information_fraction == pytest.approx(b.information_fraction)
        assert a.boundary == pytest.approx(b.boundary, abs=1e-9)
    with pytest.raises(DataError, match="planned_n must be at least"):
        ab.sequential(df, looks=[2, 4], planned_n=100, **kw)


runner = CliRunner()


def test_power_cli_gives_maximum_and_expected_sizes():
    r = runner.invoke(app, ["ab", "power", "--baseline", "0.1", "--mde", "0.01", "--looks", "5",
                            "--format", "json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    g = out["group_sequential"]
    fixed = gsd_plan(5, 0.05, 0.8, "obf")
    assert g["inflation"] == pytest.approx(fixed.inflation)
    assert g["n_max_per_arm"] == [math.ceil(n * fixed.inflation) for n in out["n_per_arm"]]
    assert g["expected_n_h1"] < out["n_total"] < g["expected_n_h0"] < g["n_max_total"]
    r = runner.invoke(app, ["ab", "power", "--baseline", "0.1", "--mde", "0.01", "--looks", "4",
                            "--spending", "pocock"])  # fmt: skip
    assert r.exit_code == 0 and "Lan-DeMets pocock" in r.output and "maximum units" in r.output
    assert (
        json.loads(
            runner.invoke(
                app, ["ab", "power", "--baseline", "0.1", "--mde", "0.01", "--format", "json"]
            ).output
        )["group_sequential"]
        is None
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n-total", "1000", "--looks", "5"], "leave out n_total"),
        (["--mde", "0.01", "--looks", "1"], "looks == 1, must be an integer from 2 to 100"),
    ],
)
def test_power_cli_bad_looks_exit_2(args, message):
    r = runner.invoke(app, ["ab", "power", "--baseline", "0.1", *args])
    assert r.exit_code == 2 and message in " ".join(r.stderr.split())
