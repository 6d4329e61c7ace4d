"""Lifecycle metrics of a simulation run, each with its convention stated."""

from lifesim.metrics.incremental import BASE_METRIC, CLV_CONVENTION, INCREMENTAL
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
    "INCREMENTAL",
    "BASE_METRIC",
    "CLV_CONVENTION",
    "MetricInfo",
    "run_metrics",
    "funnel",
    "stage_conversion",
    "time_in_stage",
    "cac_by_channel",
]
