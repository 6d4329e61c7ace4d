"""Lifecycle metrics of a simulation run, each with its convention stated."""

from lifesim.metrics.run import (
    METRICS,
    MetricInfo,
    cac_by_channel,
    funnel,
    run_metrics,
    stage_conversion,
    time_in_stage,
)

__all__ = [
    "METRICS",
    "MetricInfo",
    "run_metrics",
    "funnel",
    "stage_conversion",
    "time_in_stage",
    "cac_by_channel",
]
