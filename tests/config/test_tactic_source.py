"""Every catalogue number has a source or is labelled illustrative (issue 10, item 6)."""

from importlib import resources

import pytest
import yaml

import lifesim
from lifesim.config import dump_scenario, load_scenario
from lifesim.config.scenario import Tactic
from lifesim.errors import ConfigError


def _catalogue() -> dict:
    text = resources.files("lifesim.config").joinpath("catalogue.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def test_every_shipped_catalogue_tactic_names_its_source():
    tactics = _catalogue()["tactics"]
    assert tactics
    for name, spec in tactics.items():
        source = spec.get("source")
        assert isinstance(source, str) and source.strip(), name
        # nothing in the shipped catalogue is measured yet: the label must say so
        assert source.startswith("illustrative"), (name, source)


def test_source_defaults_to_illustrative():
    assert Tactic(stages=["awareness"]).source == "illustrative"


def test_a_citation_is_kept_and_round_trips_through_yaml():
    scn = lifesim.default_scenario()
    d = yaml.safe_load(dump_scenario(scn))
    cite = "Smith & Jones (2020), J. Marketing 84(2), table 3"
    d["tactics"]["coupon"]["source"] = cite
    scn2 = load_scenario(d)
    assert scn2.tactics["coupon"].source == cite
    assert scn2.tactics["paid_ads"].source == scn.tactics["paid_ads"].source
    again = load_scenario(yaml.safe_load(dump_scenario(scn2)))
    assert again == scn2 and again.tactics["coupon"].source == cite


def test_a_partial_override_keeps_the_catalogue_source():
    scn = load_scenario({**_minimal(), "tactics": {"coupon": {"buy": 2.5}}})
    assert scn.tactics["coupon"].buy == 2.5
    assert scn.tactics["coupon"].source == _catalogue()["tactics"]["coupon"]["source"]


def test_a_scenario_defined_tactic_without_source_is_illustrative(configs_dir):
    scn = load_scenario(configs_dir / "subscription.yaml")
    assert scn.tactics and all(t.source == "illustrative" for t in scn.tactics.values())


@pytest.mark.parametrize("bad", ["", "   "])
def test_a_blank_source_is_refused_naming_the_tactic(bad):
    with pytest.raises(ConfigError) as exc:
        load_scenario({**_minimal(), "tactics": {"coupon": {"source": bad}}})
    [(path, msg)] = exc.value.problems
    assert path.startswith("tactics.coupon") and "source" in msg and "illustrative" in msg


def test_a_non_string_source_is_refused():
    with pytest.raises(ConfigError) as exc:
        load_scenario({**_minimal(), "tactics": {"coupon": {"source": 3}}})
    assert any(p == "tactics.coupon.source" for p, _ in exc.value.problems)


def _minimal() -> dict:
    return yaml.safe_load(dump_scenario(lifesim.default_scenario()))
