"""Conventions of the incremental economics (strategy minus a no-marketing run, same seeds).

The figures themselves are computed over replications in :mod:`lifesim.experiments`; here is
what each one means, printed with every comparison.
"""

from __future__ import annotations

from lifesim.metrics.run import MetricInfo

__all__ = ["INCREMENTAL", "CLV_CONVENTION", "BASE_METRIC"]

#: Incremental measures: label, convention, direction.
INCREMENTAL: dict[str, MetricInfo] = {
    "incremental_profit": MetricInfo(
        "incremental profit",
        "profit - profit of the no-marketing run with the same seed (margin x incremental "
        "revenue - incremental marketing cost), mean over replications, paired t CI",
        True,
    ),
    "incremental_revenue": MetricInfo(
        "incremental revenue",
        "revenue - revenue of the no-marketing run with the same seed, paired t CI",
        True,
    ),
    "incremental_cost": MetricInfo(
        "incremental cost",
        "marketing cost - that of the no-marketing run (0 unless the scenario has fixed "
        "campaigns), paired t CI",
        False,
    ),
    "incremental_customers": MetricInfo(
        "incremental customers",
        "customers acquired - those acquired without marketing (same seed), paired t CI",
        True,
    ),
    "incremental_roi": MetricInfo(
        "ROI (incremental)",
        "sum of incremental profit / sum of incremental marketing cost over replications "
        "(ratio of means; Fieller CI); 0 means the spend just pays for itself, -1 that it "
        "returns nothing; p-value is that of incremental profit",
        True,
    ),
    "incremental_cac": MetricInfo(
        "CAC (incremental)",
        "sum of incremental marketing cost (all groups) / sum of incremental customers "
        "acquired (ratio of means; Fieller CI, unbounded when the extra customers are not "
        "distinguishable from 0); undefined when marketing adds no customers",
        False,
    ),
}

#: The run metric each incremental measure is a difference of (for number formatting).
BASE_METRIC = {
    "incremental_profit": "profit",
    "incremental_revenue": "revenue",
    "incremental_cost": "marketing_cost",
    "incremental_customers": "customers_acquired",
    "incremental_roi": "roi",
    "incremental_cac": "cac",
}

#: What "CLV" means in lifesim's tables (printed with every verdict).
CLV_CONVENTION = (
    "CLV is horizon-truncated (only what is realised within the simulated days; no "
    "forward-looking tail), undiscounted, and gross of acquisition cost (margin x revenue per "
    "customer acquired during the horizon; subtract CAC for a net figure)"
)
