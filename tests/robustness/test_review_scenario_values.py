"""Infinite and overflowing numbers in a scenario are refused by ``lifesim validate``.

Before, ``.inf`` passed every ">= 0" check: an infinite campaign cost crashed the run with an
internal error, an infinite order value or ``mu: .inf`` gave a revenue of inf or NaN (``null``
in JSON), and an infinite fatigue erosion gave NaN contact strengths, all with exit status 0.
"""

from __future__ import annotations

import pytest
import yaml

from tests.robustness._inputs import refused, run

BASE = {
    "stages": {
        "awareness": {"to": {"customer": {"p": 0.01, "propensity": True}}},
        "customer": {"kind": "customer", "buy": 0.05},
    },
    "segments": {
        "all": {
            "propensity": {"dist": "gamma", "shape": 2, "scale": 0.5, "max": 4},
            "order_value": {"dist": "lognormal", "mu": 3, "sigma": 0.5},
        }
    },
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _with(path: str, value: object) -> dict:
    out = yaml.safe_load(yaml.safe_dump(BASE))
    keys = path.split(".")
    cur = out
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
    cur[keys[-1]] = value
    return out


def _validate(capsys, here, scn: dict) -> tuple[int, str]:
    (here / "s.yaml").write_text(yaml.safe_dump(scn), encoding="utf-8")
    return run(capsys, "validate", here / "s.yaml")


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("campaigns", {"c": {"targets": ["awareness"], "cost_per_contact": ".inf"}}, "cost_per"),
        ("segments.all.order_value", {"dist": "constant", "value": ".inf"}, "value"),
        ("segments.all.order_value", {"dist": "lognormal", "mu": ".inf", "sigma": 1}, "mu"),
        ("segments.all.order_value", {"dist": "lognormal", "mu": ".nan", "sigma": 1}, "mu"),
        ("fatigue", {"erosion": ".inf"}, "fatigue.erosion"),
        ("fatigue", {"satisfaction_per_unit": ".inf"}, "fatigue.satisfaction_per_unit"),
        ("fatigue", {"half_life_days": ".inf"}, "fatigue.half_life_days"),
        ("tactics", {"coupon": {"cost": {"per_month": ".inf"}}}, "tactics.coupon.cost.per_month"),
        ("tactics", {"coupon": {"order_value": ".inf"}}, "tactics.coupon.order_value"),
        ("budget", {"per_period": ".inf"}, "budget.per_period"),
    ],
)
def test_infinite_numbers_are_refused_naming_the_key(capsys, here, path, value, named):
    text = yaml.safe_dump(_with(path, value)).replace("'.inf'", ".inf").replace("'.nan'", ".nan")
    (here / "s.yaml").write_text(text, encoding="utf-8")
    code, err = run(capsys, "validate", here / "s.yaml")
    refused(code, err, named, "finite number")


def test_an_infinite_budget_says_null_is_the_way_to_no_limit(capsys, here):
    text = yaml.safe_dump(BASE) + "budget: {per_period: .inf}\n"
    (here / "s.yaml").write_text(text, encoding="utf-8")
    refused(*run(capsys, "validate", here / "s.yaml"), "budget.per_period", "null: no limit")


def test_a_lognormal_whose_draws_overflow_needs_a_max(capsys, here):
    big = {"dist": "lognormal", "mu": 700, "sigma": 2}  # exp(700 + 8.3 x 2) = inf
    code, err = _validate(capsys, here, _with("segments.all.order_value", big))
    refused(code, err, "segments.all.order_value", "overflow", "or a max")
    code, err = _validate(capsys, here, _with("segments.all.order_value", {**big, "max": 1e6}))
    assert code == 0, err
    # one whose draws are representable (exp(690 + 8.3) < 1.8e308) passes this rule; as an
    # order value it is refused by the bound on money (sums of such orders overflow)
    huge = {"dist": "lognormal", "mu": 690, "sigma": 1}
    code, err = _validate(capsys, here, _with("segments.all.order_value", huge))
    refused(code, err, "segments.all.order_value", "at most 1e+12 for one order")
    assert "or a max" not in err
    ok = {"dist": "lognormal", "mu": 20, "sigma": 1}  # mean exp(20.5) = 8e8
    assert _validate(capsys, here, _with("segments.all.order_value", ok))[0] == 0


def test_an_infinite_inflow_still_says_how_much_memory_it_would_take(capsys, here):
    text = yaml.safe_dump(BASE) + "market: {arrivals: {per_day: .inf, stage: awareness}}\n"
    (here / "s.yaml").write_text(text, encoding="utf-8")
    refused(*run(capsys, "validate", here / "s.yaml"), "market.arrivals.per_day", "memory")


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "stage_focused", "min_gap_days": 2**70},
        {"type": "stage_focused", "execution": {"min_gap_days": 2**70}},
        {"type": "stage_focused", "execution": {"caps": {"coupon": 2**70}}},
    ],
)
def test_a_frequency_cap_beyond_any_horizon_is_refused_not_an_internal_error(capsys, here, spec):
    # before: `simulate --strategy mine` ended in "internal error: OverflowError" (exit 1)
    scn = {**_with("strategies", {"mine": spec}), "days": 20, "market": {"size": 50}}
    (here / "s.yaml").write_text(yaml.safe_dump(scn), encoding="utf-8")
    code, err = run(capsys, "simulate", here / "s.yaml", "--strategy", "mine", "--no-progress")
    refused(code, err, "strategies.mine.", "must be <= 32000", str(2**70))
    ok = {"type": "stage_focused", "min_gap_days": 32000}
    scn["strategies"] = {"mine": ok}
    (here / "s.yaml").write_text(yaml.safe_dump(scn), encoding="utf-8")
    code, err = run(capsys, "simulate", here / "s.yaml", "--strategy", "mine", "--no-progress")
    assert code == 0, err
