"""Experiments: strategy comparisons over replications with common random numbers."""

from lifesim.experiments.compare import RunSummary, compare
from lifesim.experiments.result import ComparisonResult
from lifesim.experiments.stats import mean_ci, paired_diff

__all__ = ["compare", "ComparisonResult", "RunSummary", "mean_ci", "paired_diff"]
