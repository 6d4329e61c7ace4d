"""Amounts of money are bounded (1e12 each), so revenue, cost and profit never overflow.

Before, an order value of 1e308 (or a lognormal with a huge mean, a tactic multiplier of
1e300, a cost of 1e308) passed validation: revenue summed to inf, the JSON said
``"revenue_total": null`` and NumPy printed overflow warnings, with exit status 0.
"""

from __future__ import annotations

import json

import pytest
import yaml

import lifesim
from tests.robustness._inputs import refused, run

MAX_MONEY = 1e12  # the documented bound (lifesim.config.scenario.MAX_MONEY)

BASE = {
    "days": 5,
    "market": {"size": 40, "initial": "shop"},
    "stages": {"shop": {"kind": "customer", "buy": {"p": 1.0}}},
    "segments": {"all": {"order_value": {"dist": "constant", "value": 50}}},
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _scenario(here, **parts) -> str:
    scn = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in parts.items():
        keys = path.split("__")
        cur = scn
        for k in keys[:-1]:
            cur = cur.setdefault(k, {})
        cur[keys[-1]] = value
    (here / "s.yaml").write_text(yaml.safe_dump(scn), encoding="utf-8")
    return "s.yaml"


def test_the_bound_is_1e12():
    from lifesim.config import scenario

    assert scenario.MAX_MONEY == MAX_MONEY


def test_an_order_value_of_1e308_is_refused_before_the_run(capsys, here):
    f = _scenario(here, segments__all__order_value={"dist": "constant", "value": 1e308})
    code, err = run(capsys, "simulate", f, "--no-progress", "--format", "json", "--out", "r")
    refused(code, err, "segments.all.order_value", "value 1e+308", "at most 1e+12 for one order")
    assert "overflow" in err and not (here / "r").exists()
    refused(*run(capsys, "validate", f), "segments.all.order_value", "1e+308", "1e+12")


@pytest.mark.parametrize(
    ("dist", "shown"),
    [
        ({"dist": "lognormal", "mu": 0, "sigma": 80}, "mean exp(mu + sigma^2/2) = about 1e+1390"),
        ({"dist": "gamma", "shape": 1e300, "scale": 1}, "mean shape x scale = 1e+300"),
        ({"dist": "gamma", "shape": 2, "scale": 1, "max": 1e300}, "max 1e+300"),
        ({"dist": "uniform", "low": 0, "high": 1e13}, "high 1e+13"),
        ({"dist": "beta", "a": 1, "b": 1, "scale": 2e12}, "scale 2e+12"),
        ({"dist": "invgamma", "shape": 1.5, "scale": 1e12}, "mean scale / (shape - 1) = 2e+12"),
    ],
)
def test_order_values_too_large_in_any_distribution_are_refused(capsys, here, dist, shown):
    f = _scenario(here, segments__all__order_value=dist)
    refused(*run(capsys, "validate", f), "segments.all.order_value", shown, "at most 1e+12")


def test_the_order_is_value_times_spend_times_the_tactics_multipliers(capsys, here):
    # 1e6 x 1e7 = 1e13: each alone is fine, the order is not; the largest factor is named
    f = _scenario(
        here,
        segments__all__order_value={"dist": "constant", "value": 1e6},
        segments__all__spend={"dist": "constant", "value": 1e7},
    )
    code, err = run(capsys, "validate", f)
    refused(code, err, "segments.all.spend: value 1e+07", "one order could reach 1e+13")
    refused(code, err, "segments.all.order_value value 1e+06 x segments.all.spend value 1e+07")
    # two tactics may be active on one person at once: 50 x 1e6 x 1e6 = 5e13
    tactic = {"stages": ["shop"], "order_value": 1e6}
    f = _scenario(here, tactics={"a": tactic, "b": tactic})
    code, err = run(capsys, "validate", f)
    refused(code, err, "tactics.a.order_value: 1e+06", "one order could reach 5e+13")
    refused(code, err, "x tactics.b.order_value 1e+06")
    f = _scenario(here, tactics={"a": {"stages": ["shop"], "order_value": 1e300}})
    refused(*run(capsys, "validate", f), "tactics.a.order_value: 1e+300", "at most 1e+12")


@pytest.mark.parametrize(
    ("part", "value", "path"),
    [
        ("budget", {"per_period": 1e300}, "budget.per_period"),
        ("campaigns", {"c": {"targets": ["shop"], "cost_per_contact": 2e12}}, "cost_per_contact"),
        ("tactics", {"t": {"stages": ["shop"], "cost": {"per_contact": 1e308}}}, "per_contact"),
        ("tactics", {"t": {"stages": ["shop"], "cost": {"per_month": 1e13}}}, "per_month"),
        (
            "tactics",
            {"t": {"stages": ["shop"], "single_use": True, "cost": {"per_redemption": 1e13}}},
            "redemption",
        ),
        (
            "tactics",
            {"t": {"stages": ["shop"], "referral": {"reward": 1e13, "from_stages": ["shop"]}}},
            "tactics.t.referral.reward",
        ),
    ],
)
def test_costs_and_budgets_above_the_bound_are_refused(capsys, here, part, value, path):
    f = _scenario(here, **{part: value})
    code, err = run(capsys, "validate", f)
    bad = max(_numbers(value))
    refused(code, err, path, "must be in [0, 1e+12]", "cannot overflow", f"got {bad:g}")


def _numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, float):
        yield obj


def test_a_set_override_is_held_to_the_same_bound(capsys, here, configs_dir):
    ref = configs_dir / "reference.yaml"
    code, err = run(
        capsys, "simulate", ref, "--set", "budget.per_period=1e300", "--no-progress", "--out", "r"
    )
    refused(code, err, "budget.per_period", "1e+12", "got 1e+300")
    assert not (here / "r").exists()


def test_orders_at_the_bound_add_up_exactly(capsys, here):
    # 40 people buy every day for 5 days (p = 1): 200 orders of exactly 1e12
    f = _scenario(here, segments__all__order_value={"dist": "constant", "value": MAX_MONEY})
    code, err = run(capsys, "validate", f)
    assert code == 0, err
    res = lifesim.simulate(here / f, seed=1)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["purchases"] == 200
    assert d["revenue_total"] == 200 * MAX_MONEY


def test_an_uncertain_range_reaching_past_the_bound_is_refused_by_validate(capsys, here):
    # before: `validate` said OK and `compare --parameter-draws` failed at the first large draw
    f = _scenario(
        here,
        budget={"per_period": 1000},
        tactics={"t": {"stages": ["shop"], "order_value": 1.2}},
        uncertain={
            "budget.per_period": [100, 1e13],
            "tactics.t.order_value": {"dist": "uniform", "low": 1, "high": 1e12},
            "segments.all.order_value.value": [10, 100],  # 100 x 1.2: fine
            "economics.margin": [0.2, 0.5],  # not money: untouched
        },
    )
    code, err = run(capsys, "validate", f)
    refused(code, err, "uncertain.budget.per_period: its largest value 1e+13", "[0, 1e+12]")
    refused(code, err, "uncertain.tactics.t.order_value: its largest value 1e+12")
    refused(code, err, "one order could reach 5e+13")
    assert "segments.all.order_value.value" not in err and "margin" not in err
    ok = _scenario(here, uncertain={"segments.all.order_value.value": [10, 1e12]})
    code, err = run(capsys, "validate", ok)
    assert code == 0, err
