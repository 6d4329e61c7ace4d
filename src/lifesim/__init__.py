"""lifesim: test whether marketing should follow the customer lifecycle or headline KPIs.

Public API
----------
load_scenario, default_scenario
    Read and validate a scenario (YAML, dict or the embedded default).
simulate, Simulation, SimulationResult
    Run the agent-based lifecycle simulator.
"""

# importing lifesim.experiments registers the strategy types built in upper layers
# (churn_targeted) with lifesim.model's registry
import lifesim.experiments  # noqa: F401
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
