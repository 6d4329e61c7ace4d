"""Matplotlib figures of a comparison.

No backend is forced: Jupyter keeps its inline backend, and without a display matplotlib
picks a non-interactive one by itself.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lifesim.experiments import ComparisonResult
from lifesim.metrics import METRICS

__all__ = ["stage_shares_figure", "funnel_figure", "forest_figure", "incremental_figure"]

FOREST_METRICS = (
    "profit",
    "revenue",
    "marketing_cost",
    "clv",
    "customers_acquired",
    "conversion_rate",
    "customers_end",
    "churn_rate",
    "churn_rate_period",
    "repeat_purchase_rate",
    "nps",
)


def stage_shares_figure(res: ComparisonResult) -> Figure:
    """Mean share of people per stage over time, one panel per strategy."""
    n = len(res.strategies)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), sharey=True, squeeze=False)
    stages = [c for c in res.stage_shares.columns if c not in ("strategy", "day")]
    for ax, s in zip(axes[0], res.strategies, strict=True):
        sub = res.stage_shares[res.stage_shares["strategy"] == s]
        ax.stackplot(sub["day"], *[sub[c] for c in stages], labels=stages, alpha=0.85)
        ax.set_title(s)
        ax.set_xlabel("day")
        ax.set_xlim(0, sub["day"].max())
    axes[0][0].set_ylabel("share of the market")
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle(f"Stage shares over time (mean of {res.replications} replications)")
    fig.tight_layout()
    return fig


def funnel_figure(res: ComparisonResult) -> Figure:
    """Share of people who were ever in each stage, per strategy (grouped bars)."""
    f = res.funnel
    stages = list(f.columns)
    x = np.arange(len(stages))
    w = 0.8 / len(f.index)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for k, s in enumerate(f.index):
        ax.bar(x + k * w - 0.4 + w / 2, f.loc[s].to_numpy(), width=w, label=s)
    ax.set_xticks(x, stages)
    ax.set_ylabel("share ever in stage")
    ax.set_title("Funnel: who reached each stage during the horizon")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def forest_figure(res: ComparisonResult) -> Figure:
    """Paired differences against the baseline with CIs, in % of the baseline's mean.

    Metrics whose baseline mean is 0 (e.g. marketing cost against no marketing) are left out.
    """
    d = res.differences
    base = res.summary_table[res.summary_table["strategy"] == res.baseline].set_index("metric")
    others = [s for s in res.strategies if s != res.baseline]
    metrics = [
        m
        for m in FOREST_METRICS
        if m in set(d["metric"]) and np.isfinite(base.loc[m, "mean"]) and base.loc[m, "mean"] != 0
    ]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(metrics) * max(1, len(others)) + 1.6))
    y = 0.0
    ticks, labels = [], []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for m in metrics:
        scale = abs(base.loc[m, "mean"]) / 100.0
        for k, s in enumerate(others):
            r = d[(d["strategy"] == s) & (d["metric"] == m)].iloc[0]
            lo = max(r["diff"] - r["ci_low"], 0) / scale if np.isfinite(r["ci_low"]) else 0
            hi = max(r["ci_high"] - r["diff"], 0) / scale if np.isfinite(r["ci_high"]) else 0
            ax.errorbar(
                r["diff"] / scale,
                y,
                xerr=[[lo], [hi]],
                fmt="o",
                color=colors[k % len(colors)],
                label=s if m == metrics[0] else None,
                capsize=3,
                ms=4,
            )
            ticks.append(y)
            labels.append(METRICS[m].label if k == 0 else "")
            y += 1
        y += 0.6
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.invert_yaxis()
    level = round(100 * (1 - res.alpha))
    ax.set_xlabel(f"difference, % of the {res.baseline!r} mean (paired, {level}% CI)")
    ax.set_title(f"Differences against {res.baseline!r}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def incremental_figure(res: ComparisonResult) -> Figure:
    """Incremental profit and revenue against no marketing per strategy, with paired CIs."""
    inc = res.incremental.set_index(["strategy", "measure"])
    who = [s for s in res.strategies if s != res.counterfactual]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.5 * max(1, len(who)) + 1.8), sharey=True)
    for ax, measure in zip(axes, ("incremental_profit", "incremental_revenue"), strict=True):
        for k, s in enumerate(who):
            r = inc.loc[(s, measure)] if (s, measure) in inc.index else None
            if r is None or not np.isfinite(r["estimate"]):
                continue
            lo = r["estimate"] - r["ci_low"] if np.isfinite(r["ci_low"]) else 0
            hi = r["ci_high"] - r["estimate"] if np.isfinite(r["ci_high"]) else 0
            color = "tab:green" if r["ci_low"] > 0 else "tab:red" if r["ci_high"] < 0 else "0.4"
            ax.errorbar(r["estimate"], k, xerr=[[lo], [hi]], fmt="o", color=color, capsize=4)
        ax.axvline(0, color="k", lw=0.8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.set_title(measure.replace("_", " "))
    axes[0].set_yticks(range(len(who)), who)
    axes[0].invert_yaxis()
    level = round(100 * (1 - res.alpha))
    fig.suptitle(f"Against no marketing ({res.counterfactual}), same seeds; {level}% paired CIs")
    fig.tight_layout()
    return fig
