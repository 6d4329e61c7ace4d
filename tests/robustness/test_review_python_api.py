"""The Python API as a notebook user meets it: wrong argument types get a ConfigError that
names the argument, the value and what is allowed (not a TypeError from deep inside)."""

from __future__ import annotations

import re

import pytest

import lifesim
from lifesim.errors import ConfigError


@pytest.mark.parametrize("bad", [5, [1], 2.5])
def test_a_scenario_of_the_wrong_type_is_named(bad):
    # before: TypeError: expected str, bytes or os.PathLike object, not int
    with pytest.raises(ConfigError, match=r"scenario: must be a Scenario, a mapping, a YAML"):
        lifesim.load_scenario(bad)
    with pytest.raises(ConfigError, match=re.escape(f"got {bad!r}")):
        lifesim.simulate(bad, customers=10, days=2)


TINY = {
    "days": 8,
    "market": {"size": 40},
    "budget": {"per_period": 50},
    "stages": {
        "awareness": {"to": {"customer": {"p": 0.05, "propensity": True}}},
        "customer": {"kind": "customer", "buy": 0.05},
    },
}


def test_the_added_no_marketing_run_is_not_named_twice_in_the_verdict():
    # before: "Against no marketing ((no marketing)) it adds ..." when 'none' was not compared
    from lifesim.experiments import compare
    from lifesim.report.summary import compare_decision

    res = compare(TINY, strategies="kpi_focused,stage_focused", replications=2, seed=3)
    verdict = compare_decision(res).verdict
    assert res.counterfactual == "(no marketing)"
    assert "Against no marketing it adds" in verdict and "((" not in verdict


def test_flow_difference_of_a_one_strategy_comparison_says_why():
    # before: "b: must differ from a ('none'); allowed:" and nothing after it
    from lifesim.experiments import compare

    res = compare(TINY, strategies="none", replications=2, seed=3)
    with pytest.raises(ConfigError, match=r"allowed: none: this comparison has one strategy"):
        res.flow_difference("none")
