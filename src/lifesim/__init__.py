"""lifesim: test whether marketing should follow the customer lifecycle or headline KPIs.

Public API
----------
load_scenario, default_scenario
    Read and validate a scenario (YAML, dict or the embedded default).
simulate, Simulation, SimulationResult
    Run the agent-based lifecycle simulator.
calibrate, CalibrationResult
    Fit the simulator to a business's transaction log and check its forecast.
sweep, SweepResult
    Strategies over a design of assumptions: where the verdict flips.
optimize, OptimizationResult
    A strategy's best settings (Optuna search, common random numbers, fresh-seed check).
"""

from typing import TYPE_CHECKING, Any

from lifesim._version import __version__
from lifesim.errors import ConfigError, DataError, LifesimError

if TYPE_CHECKING:  # pragma: no cover
    from lifesim.config import Scenario, default_scenario, dump_scenario, load_scenario
    from lifesim.engine import Effect, Simulation, SimulationResult, simulate
    from lifesim.experiments.calibration import CalibrationResult, calibrate
    from lifesim.experiments.optimize import OptimizationResult, optimize
    from lifesim.experiments.sweep import SweepResult, sweep

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
    "calibrate",
    "CalibrationResult",
    "sweep",
    "SweepResult",
    "optimize",
    "OptimizationResult",
    "LifesimError",
    "ConfigError",
    "DataError",
]

_LAZY = {
    "Scenario": "lifesim.config",
    "load_scenario": "lifesim.config",
    "default_scenario": "lifesim.config",
    "dump_scenario": "lifesim.config",
    "simulate": "lifesim.engine",
    "Simulation": "lifesim.engine",
    "SimulationResult": "lifesim.engine",
    "Effect": "lifesim.engine",
    "calibrate": "lifesim.experiments.calibration",
    "CalibrationResult": "lifesim.experiments.calibration",
    "sweep": "lifesim.experiments.sweep",
    "SweepResult": "lifesim.experiments.sweep",
    "optimize": "lifesim.experiments.optimize",
    "OptimizationResult": "lifesim.experiments.optimize",
}


def __getattr__(name: str) -> Any:
    """Load the library on first use, so ``import lifesim`` (and the CLI) starts at once.

    The first use also imports :mod:`lifesim.experiments`, which registers the strategy
    types built in the upper layers (``churn_targeted``) with :mod:`lifesim.model`.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lifesim' has no attribute {name!r}")
    import importlib

    importlib.import_module("lifesim.experiments")  # fills the strategy registry
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
