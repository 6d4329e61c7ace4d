"""Heterogeneous spend: a per-person multiplier on every order value, drawn once per person
(the Gamma-Gamma model when order values are gamma of scale 1 and spend is inverse gamma)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import lifesim
from lifesim.config import load_scenario
from lifesim.engine.exact import expected_path
from lifesim.errors import ConfigError

INVGAMMA = {"dist": "invgamma", "shape": 3.0, "scale": 4.0}  # mean 4 / (3 - 1) = 2


def _reference(spend=None, order_value=None):
    d = load_scenario("configs/reference.yaml").model_dump(mode="json")
    for seg in d["segments"].values():
        if spend is not None:
            seg["spend"] = spend
        if order_value is not None:
            seg["order_value"] = order_value
    return d


def test_the_default_is_everyone_alike_and_changes_no_draw(global_seed):
    base = lifesim.simulate(None, seed=global_seed, customers=2000, days=60)
    d = lifesim.default_scenario().model_dump(mode="json")
    for seg in d["segments"].values():
        seg["spend"] = {"dist": "constant", "value": 1.0}
    same = lifesim.simulate(load_scenario(d), seed=global_seed, customers=2000, days=60)
    assert (base.people["spend"] == 1).all()
    assert len(base.purchases) > 0
    np.testing.assert_array_equal(base.purchases["amount"], same.purchases["amount"])
    np.testing.assert_array_equal(base.stage_counts, same.stage_counts)


def test_spend_changes_amounts_only_not_who_buys_when(global_seed):
    base = lifesim.simulate(_reference(), seed=global_seed, customers=3000, days=120)
    rich = lifesim.simulate(_reference(INVGAMMA), seed=global_seed, customers=3000, days=120)
    for col in ("day", "person"):
        np.testing.assert_array_equal(base.purchases[col], rich.purchases[col])
    np.testing.assert_array_equal(base.stage_counts, rich.stage_counts)
    who = rich.purchases["person"].to_numpy()
    spend = rich.people["spend"].to_numpy(np.float64)[who]
    np.testing.assert_allclose(
        rich.purchases["amount"].to_numpy(),
        base.purchases["amount"].to_numpy() * spend,
        rtol=1e-6,
    )


def test_spend_draws_follow_their_distribution_independently_of_propensity(global_seed):
    n = 40_000
    res = lifesim.simulate(_reference(INVGAMMA), seed=global_seed, customers=n, days=1)
    w = res.people["spend"].to_numpy(np.float64)
    ks = stats.kstest(w, stats.invgamma(a=3.0, scale=4.0).cdf)
    assert ks.pvalue > 1e-4
    m = res.people["propensity"].to_numpy(np.float64)
    # independent: Spearman's rho 0, sampling sd about 1 / sqrt(n)
    assert abs(stats.spearmanr(m[m > 0], w[m > 0]).statistic) < 5 / np.sqrt(n)


def test_every_order_is_order_value_times_the_persons_spend(global_seed):
    res = lifesim.simulate(
        _reference(INVGAMMA, {"dist": "constant", "value": 10.0}),
        seed=global_seed,
        customers=2000,
        days=200,
    )
    pur = res.purchases
    assert len(pur) > 100
    w = res.people["spend"].to_numpy(np.float64)[pur["person"].to_numpy()]
    np.testing.assert_allclose(pur["amount"].to_numpy(), 10.0 * w, rtol=1e-6)


def test_revenue_matches_the_exact_expectation(global_seed):
    scn = _reference(INVGAMMA)
    n = 100_000
    res = lifesim.simulate(scn, seed=global_seed, customers=n, record_events=False)
    per = res.people["revenue"].to_numpy(np.float64)
    exact = expected_path(scn).revenue_per_person
    z = (per.mean() - exact) / (per.std(ddof=1) / np.sqrt(n))
    assert abs(z) < 5, (per.mean(), exact)
    # and the check has power: everyone alike (mean spend 1 instead of 2) is far off
    alike = expected_path(_reference()).revenue_per_person
    assert abs((per.mean() - alike) / (per.std(ddof=1) / np.sqrt(n))) > 5


def test_a_start_from_given_spend_is_kept(global_seed):
    n = 500
    spend = np.linspace(0.5, 3.0, n)
    res = lifesim.simulate(
        _reference(INVGAMMA, {"dist": "constant", "value": 1.0}),
        seed=global_seed,
        days=100,
        initial={"stage": np.full(n, "retention"), "spend": spend},
    )
    np.testing.assert_allclose(res.people["spend"], spend.astype(np.float32))
    pur = res.purchases
    assert len(pur) > 20
    np.testing.assert_allclose(pur["amount"], spend.astype(np.float32)[pur["person"]], rtol=1e-6)


def test_a_bad_spend_is_refused_naming_the_field():
    with pytest.raises(lifesim.ConfigError, match=r"segments\.\w+\.spend\.shape"):
        load_scenario(_reference({"dist": "invgamma", "shape": -1.0, "scale": 1.0}))
    with pytest.raises(lifesim.ConfigError, match=r"invgamma"):
        load_scenario(_reference({"dist": "pareto", "shape": 1.0}))
    with pytest.raises(ValueError, match=r"spend must be finite and >= 0"):
        lifesim.simulate(
            _reference(), days=1, initial={"stage": ["retention"] * 3, "spend": [1, -1, 1]}
        )


def test_the_exact_revenue_uses_the_inverse_gammas_own_mean():
    alike = expected_path(_reference()).revenue_per_person
    assert alike > 0
    # spend InvGamma(3, 4): mean 4 / (3 - 1) = 2, so twice the revenue of everyone alike
    assert np.isclose(expected_path(_reference(INVGAMMA)).revenue_per_person, 2 * alike)
    # shape <= 1: the mean spend is infinite; such a scenario is refused (see test_config)
    heavy = {"dist": "invgamma", "shape": 0.8, "scale": 1.0}
    with pytest.raises(ConfigError, match=r"segments.all.spend.shape: .* infinite mean"):
        expected_path(_reference(heavy))
    # clipped at 50: E[min(S, 50)] = int_0^50 P(S > s) ds = int_0^50 P(G < 1 / s) ds = 6.7651
    clipped = expected_path(_reference({**heavy, "max": 50.0})).revenue_per_person
    assert np.isclose(clipped, 6.7651271 * alike, rtol=1e-5)
    # an inverse-gamma order value of mean 10 / (1.5 - 1) = 20 is the constant 20 on average
    ov = expected_path(_reference(order_value={"dist": "invgamma", "shape": 1.5, "scale": 10.0}))
    flat = expected_path(_reference(order_value={"dist": "constant", "value": 20.0}))
    assert np.isclose(ov.revenue_per_person, flat.revenue_per_person, rtol=1e-9)


def test_a_spend_given_at_the_start_counts_even_when_the_segments_have_none(global_seed):
    n = 400
    start = {"stage": np.full(n, "retention")}
    plain = lifesim.simulate(_reference(), seed=global_seed, days=60, initial=start)
    double = lifesim.simulate(
        _reference(), seed=global_seed, days=60, initial={**start, "spend": np.full(n, 2.0)}
    )
    assert len(plain.purchases) > 50
    base = plain.purchases
    np.testing.assert_array_equal(base[["person", "day"]], double.purchases[["person", "day"]])
    np.testing.assert_allclose(double.purchases["amount"], 2 * base["amount"], rtol=1e-12)
