"""Incremental economics against a no-marketing run, and the full pairwise table.

Both work on the runs table of a comparison (one row per replication and strategy, one column
per metric): replication ``r`` of every strategy and of the no-marketing counterfactual used
the same seed (common random numbers), so every figure here is a paired difference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lifesim.config import Scenario
from lifesim.experiments.stats import holm, paired_diff, ratio_ci
from lifesim.metrics import METRICS

__all__ = ["COUNTERFACTUAL", "counterfactual_of", "incremental_table", "pairwise_table"]

#: Label of the no-marketing run added when no compared strategy is one.
COUNTERFACTUAL = "(no marketing)"

_COLUMNS = [
    "strategy",
    "counterfactual",
    "measure",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
]


def counterfactual_of(scn: Scenario, names: Sequence[str]) -> str | None:
    """Return the compared strategy that does no marketing (``none`` first), or None."""
    cands = [s for s in names if scn.strategies[s].type == "none"]
    if "none" in cands:
        return "none"
    return cands[0] if cands else None


def _column(wide: pd.DataFrame, strategy: str, metric: str) -> np.ndarray:
    sub = wide[wide["strategy"] == strategy].sort_values("replication")
    return sub[metric].to_numpy(dtype=float)


def incremental_table(
    wide: pd.DataFrame, strategies: Sequence[str], counterfactual: str, alpha: float = 0.05
) -> pd.DataFrame:
    """Incremental profit, revenue, cost, customers, ROI and CAC of every strategy.

    Parameters
    ----------
    wide : DataFrame
        The runs table: ``replication``, ``strategy`` and the metric columns.
    strategies : sequence of str
        Strategies to report (the counterfactual itself is skipped).
    counterfactual : str
        The no-marketing run's label in ``wide``.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per strategy and measure (see :data:`lifesim.metrics.INCREMENTAL`):
        ``estimate``, ``ci_low``, ``ci_high`` (-inf/inf: unbounded Fieller set), ``p_value``
        (H0: no incremental effect, paired t; NaN for CAC) and ``n`` replications.
    """
    base = {m: _column(wide, counterfactual, m) for m in METRICS}
    rows = []
    for s in strategies:
        if s == counterfactual:
            continue
        d = {m: _column(wide, s, m) - base[m] for m in METRICS}
        pd_ = {
            k: paired_diff(_column(wide, s, m), base[m], alpha)
            for k, m in (
                ("incremental_profit", "profit"),
                ("incremental_revenue", "revenue"),
                ("incremental_cost", "marketing_cost"),
                ("incremental_customers", "customers_acquired"),
            )
        }
        for k, r in pd_.items():
            rows.append(
                (s, counterfactual, k, r["diff"], r["ci_low"], r["ci_high"], r["p_value"], r["n"])
            )
        roi = ratio_ci(d["profit"], d["marketing_cost"], alpha)
        if not np.nanmean(d["marketing_cost"]) > 0:
            roi = {**roi, "ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        rows.append(
            (
                s,
                counterfactual,
                "incremental_roi",
                roi["ratio"],
                roi["ci_low"],
                roi["ci_high"],
                pd_["incremental_profit"]["p_value"],
                roi["n"],
            )
        )
        cac = ratio_ci(d["marketing_cost"], d["customers_acquired"], alpha)
        if not np.nanmean(d["customers_acquired"]) > 0:
            cac = {**cac, "ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        rows.append(
            (
                s,
                counterfactual,
                "incremental_cac",
                cac["ratio"],
                cac["ci_low"],
                cac["ci_high"],
                np.nan,
                cac["n"],
            )
        )
    return pd.DataFrame(rows, columns=_COLUMNS)


def pairwise_table(
    wide: pd.DataFrame,
    order: Sequence[str],
    alpha: float = 0.05,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every pair of strategies, every metric: paired difference, CI, raw and Holm p-values.

    Pairs are ``(order[i], order[j])`` for ``i < j`` and the difference is ``a - b``; pass the
    strategies ranked best first on the objective so that its differences read "better minus
    worse". Holm's adjustment is over the ``K = k (k - 1) / 2`` pairs, separately per metric
    (one family per metric). CIs are per pair at ``1 - alpha`` (not simultaneous).

    Returns
    -------
    DataFrame
        Columns ``metric``, ``a``, ``b``, ``diff``, ``ci_low``, ``ci_high``, ``p_value``
        (paired t, H0: mean difference 0, two-sided), ``p_adjusted`` (Holm), ``significant``
        (``p_adjusted < alpha``), ``se_paired``, ``n``, ``pairs`` (K).
    """
    metrics = list(METRICS) if metrics is None else list(metrics)
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    cols = {s: {m: _column(wide, s, m) for m in metrics} for s in order}
    rows = []
    for m in metrics:
        block = []
        for a, b in pairs:
            r = paired_diff(cols[a][m], cols[b][m], alpha)
            block.append(
                {
                    "metric": m,
                    "a": a,
                    "b": b,
                    "diff": r["diff"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "p_value": r["p_value"],
                    "se_paired": r["se_paired"],
                    "n": r["n"],
                }
            )
        adj = holm(np.array([r["p_value"] for r in block], dtype=float))
        for r, p in zip(block, adj, strict=True):
            r["p_adjusted"] = float(p)
            r["significant"] = bool(np.isfinite(p) and p < alpha)
            r["pairs"] = len(pairs)
        rows += block
    cols_out = [
        "metric",
        "a",
        "b",
        "diff",
        "ci_low",
        "ci_high",
        "p_value",
        "p_adjusted",
        "significant",
        "se_paired",
        "n",
        "pairs",
    ]
    return pd.DataFrame(rows, columns=cols_out)
