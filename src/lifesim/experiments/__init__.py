"""Experiments: strategy comparisons and in-simulator A/B tests, with common random numbers.

compare, ComparisonResult
    Strategies side by side over replications (``lifesim compare``).
marginal_roi, MarginalROIResult
    One strategy at several budgets: incremental profit and the marginal ROI of each step.
calibrate, CalibrationResult (also in :mod:`lifesim.experiments.calibration`)
    Fit the simulator's customer stages to a transaction log; check its forecast
    (``lifesim calibrate``).
sweep, SweepResult
    Strategies over a design of assumptions: where the verdict flips (``lifesim sweep``).
parameter_uncertainty, UncertaintyResult
    Strategies under each of many parameter sets: P(best) and expected regret
    (``lifesim compare --parameter-draws``).
optimize, OptimizationResult
    A strategy's best settings by an Optuna search with common random numbers, re-checked on
    fresh seeds against its defaults (``lifesim optimize``).
run_experiment, audit (also in :mod:`lifesim.experiments.insim`)
    An A/B test inside the simulator with its true effect, and an audit of the design
    (``lifesim experiment run`` / ``audit``).
"""

from lifesim.experiments import churn_targeted as _churn_targeted  # noqa: F401  (registers the type)
from lifesim.experiments import insim
from lifesim.experiments.calibration import CalibrationResult, calibrate
from lifesim.experiments.compare import RunSummary, compare
from lifesim.experiments.decompose import DecompositionResult, decompose
from lifesim.experiments.insim import audit, run_experiment
from lifesim.experiments.marginal import MarginalROIResult, marginal_roi
from lifesim.experiments.optimize import OptimizationResult, optimize
from lifesim.experiments.result import ComparisonResult
from lifesim.experiments.stats import mean_ci, paired_diff
from lifesim.experiments.sweep import SweepResult, sweep
from lifesim.experiments.uncertainty import UncertaintyResult, parameter_uncertainty

__all__ = [
    "compare",
    "ComparisonResult",
    "calibrate",
    "CalibrationResult",
    "parameter_uncertainty",
    "UncertaintyResult",
    "sweep",
    "SweepResult",
    "RunSummary",
    "decompose",
    "DecompositionResult",
    "marginal_roi",
    "MarginalROIResult",
    "optimize",
    "OptimizationResult",
    "mean_ci",
    "paired_diff",
    "insim",
    "run_experiment",
    "audit",
]
