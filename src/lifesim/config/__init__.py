"""Scenario configuration: pydantic models and YAML loading with key-path errors."""

from lifesim.config.load import (
    ScenarioLike,
    check_scenario,
    default_scenario,
    dist_max,
    dump_scenario,
    load_scenario,
    scenario_to_dict,
)
from lifesim.config.overrides import Range, override, parse_assignment, parse_range, resolve
from lifesim.config.scenario import Scenario

__all__ = [
    "Scenario",
    "ScenarioLike",
    "check_scenario",
    "default_scenario",
    "dist_max",
    "dump_scenario",
    "load_scenario",
    "resolve",
    "override",
    "parse_assignment",
    "parse_range",
    "Range",
    "scenario_to_dict",
]
