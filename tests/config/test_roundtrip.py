"""A dumped scenario loads back to an equal scenario (run folders' scenario.yaml reproduce the run),
including scenarios that remove catalogue tactics."""

from __future__ import annotations

import pytest
import yaml

import lifesim
from lifesim.config import dump_scenario, load_scenario, scenario_to_dict

SHIPPED = [
    "default.yaml",
    "ecommerce.yaml",
    "subscription.yaml",
    "b2b.yaml",
    "launch_one_off.yaml",
    "reference.yaml",
    "study_interference.yaml",
    "study_short_kpi_trap.yaml",
]


@pytest.mark.parametrize("name", SHIPPED)
def test_dump_loads_back_to_the_same_scenario(configs_dir, name):
    scn = load_scenario(configs_dir / name)
    assert load_scenario(yaml.safe_load(dump_scenario(scn))) == scn
    assert load_scenario(scenario_to_dict(scn)) == scn


def test_removed_catalogue_tactics_stay_removed(configs_dir):
    scn = load_scenario(configs_dir / "launch_one_off.yaml")
    full = lifesim.default_scenario()
    removed = set(full.tactics) - set(scn.tactics)
    assert removed  # the launch scenario drops some catalogue tactics (e.g. broadcasts)
    back = load_scenario(scenario_to_dict(scn))
    assert not removed & set(back.tactics)


def test_decompose_cells_run_on_the_scenario_as_given(configs_dir):
    from lifesim.experiments import decompose

    scn = load_scenario(configs_dir / "launch_one_off.yaml")
    res = decompose(scn, customers=500, days=20, replications=2)
    assert set(res.comparison.scenario.tactics) == set(scn.tactics)


def test_the_cached_catalogue_is_never_shared_with_a_caller():
    # the shipped catalogue is parsed once per process; every caller gets its own copy, so
    # editing merged scenario data (as overrides and calibrate do) cannot leak into the next load
    from lifesim.config.load import with_catalogue

    first = with_catalogue({"stages": lifesim.default_scenario().model_dump(mode="json")["stages"]})
    name = next(iter(first["tactics"]))
    first["tactics"][name]["cost"]["per_contact"] = 123456.0
    first["strategies"].clear()
    again = with_catalogue({"stages": {}})
    assert again["strategies"] and "kpi_focused" in again["strategies"]
    fresh = lifesim.default_scenario()
    assert fresh.tactics[name].cost.per_contact != 123456.0
    d = lifesim.config.scenario_to_dict(fresh)
    d["tactics"][name]["cost"]["per_contact"] = 654321.0
    assert lifesim.default_scenario().tactics[name].cost.per_contact != 654321.0
