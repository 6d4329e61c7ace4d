"""``lifesim.config.resolve``: market-size and horizon overrides of a scenario, with checks."""

import pytest

import lifesim
from lifesim.config import default_scenario, resolve
from lifesim.errors import ConfigError


def test_no_override_returns_the_scenario_itself():
    scn = default_scenario()
    assert resolve(scn) is scn
    assert resolve(scn, None, None) is scn


def test_a_new_size_scales_budget_fees_and_staff_in_proportion():
    scn = default_scenario()
    n = scn.market.size
    out = resolve(scn, customers=n * 3)
    assert out.market.size == n * 3 and out.days == scn.days
    assert out.budget.per_period == pytest.approx(scn.budget.per_period * 3, rel=1e-12)
    for name, t in scn.tactics.items():
        assert out.tactics[name].cost.per_month == pytest.approx(t.cost.per_month * 3, rel=1e-12)
        assert out.tactics[name].cost.per_contact == t.cost.per_contact  # per unit: unchanged
    if scn.support is not None:
        assert out.support.agents == max(1, round(scn.support.agents * 3))
    assert scn.market.size == n  # the input is not changed


def test_a_new_horizon_changes_only_the_days():
    scn = default_scenario()
    out = resolve(scn, days=45)
    assert out.days == 45
    assert out.market == scn.market and out.budget == scn.budget


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"customers": 0}, "customers: must be a whole number >= 1, got 0"),
        ({"customers": 10.5}, "customers: must be a whole number >= 1, got 10.5"),
        ({"customers": True}, "customers: must be a whole number >= 1, got True"),
        ({"days": 0}, "days: must be a whole number >= 1, got 0"),
        ({"days": "30"}, "days: must be a whole number >= 1, got '30'"),
        ({"days": 40_000}, "days: must be <= 32,000, got 40000"),
    ],
)
def test_bad_overrides_name_the_option_the_value_and_what_is_allowed(kwargs, message):
    with pytest.raises(ConfigError) as e:
        resolve(default_scenario(), **kwargs)
    assert str(e.value) == message


def test_too_many_people_for_this_machine_is_refused():
    with pytest.raises(ConfigError, match="customers: .*people need about"):
        resolve(default_scenario(), customers=10**15)


def test_simulation_applies_the_same_overrides():
    res = lifesim.simulate(None, seed=1, customers=200, days=20)
    scn = resolve(default_scenario(), customers=200, days=20)
    assert res.scenario.market == scn.market and res.scenario.budget == scn.budget


def test_override_refuses_what_is_not_a_scenario_and_a_mapping():
    # were AttributeErrors ('list' object has no attribute 'items', 'str' ... 'model_dump')
    from lifesim.config import override

    scn = lifesim.default_scenario()
    with pytest.raises(ConfigError, match=r"values: must be a mapping, got list"):
        override(scn, [("economics.margin", 0.3)])
    with pytest.raises(ConfigError, match=r"scenario: must be a Scenario .*got str"):
        override("configs/reference.yaml", {})
    with pytest.raises(ConfigError, match=r"values: key paths are strings, got 3"):
        override(scn, {3: 0.3})
