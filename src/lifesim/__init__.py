"""lifesim: test whether marketing should follow the customer lifecycle or headline KPIs.

Public API
----------
load_scenario, default_scenario
    Read and validate a scenario (YAML, dict or the embedded default).
simulate, Simulation, SimulationResult
    Run the agent-based lifecycle simulator.
"""

from lifesim._version import __version__
from lifesim.config import Scenario, default_scenario, dump_scenario, load_scenario
from lifesim.engine import Effect, Simulation, SimulationResult, simulate
from lifesim.errors import ConfigError, DataError, LifesimError

__all__ = [
    "__version__",
    "Scenario",
    "load_scenario",
    "default_scenario",
    "dump_scenario",
    "simulate",
    "Simulation",
    "SimulationResult",
    "Effect",
    "LifesimError",
    "ConfigError",
    "DataError",
]
