"""The engine: SimPy calendar, vectorised daily step, event recorder."""

from lifesim.engine.core import Simulation, simulate
from lifesim.engine.kernel import Effect
from lifesim.engine.result import CHURN_CONVENTION, SimulationResult

__all__ = ["Simulation", "simulate", "Effect", "SimulationResult", "CHURN_CONVENTION"]
