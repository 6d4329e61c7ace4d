"""Matplotlib figures of a comparison.

No backend is forced: Jupyter keeps its inline backend, and without a display matplotlib
picks a non-interactive one by itself.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from lifesim._figure import subplots
from lifesim.experiments import ComparisonResult
from lifesim.metrics import METRICS
from lifesim.report._format import UNIT_LABELS, unit_of

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
    """Stage shares over time as differences from the baseline, one panel per other strategy.

    Each line is a stage's mean share of the market minus the baseline's on the same day, in
    percentage points: the large stages (awareness) no longer hide the small ones. With one
    strategy only, its raw shares are drawn as lines.
    """
    sh = res.stage_shares
    stages = [c for c in sh.columns if c not in ("strategy", "day")]
    others = [s for s in res.strategies if s != res.baseline]
    base = sh[sh["strategy"] == res.baseline].set_index("day")[stages]
    panels = others or [res.baseline]
    n = len(panels)
    fig, axes = subplots(1, n, figsize=(max(5.5, 4.6 * n), 3.6), sharey=True, squeeze=False)
    for ax, s in zip(axes[0], panels, strict=True):
        sub = sh[sh["strategy"] == s].set_index("day")[stages]
        diff = 100 * (sub - base) if others else 100 * sub
        for st in stages:
            ax.plot(diff.index, diff[st], label=st, lw=1.6)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(f"{s} - {res.baseline}" if others else s)
        ax.set_xlabel("day")
        ax.set_xlim(0, diff.index.max())
    ylabel = "difference in share of the market (pp)" if others else "share of the market (%)"
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle(f"Stage shares against {res.baseline!r} (mean of {res.replications} replications)")
    fig.tight_layout()
    return fig


def funnel_figure(res: ComparisonResult) -> Figure:
    """Share of people who were ever in each stage, per strategy (grouped bars)."""
    f = res.funnel
    stages = list(f.columns)
    x = np.arange(len(stages))
    w = 0.8 / len(f.index)
    fig, ax = subplots(figsize=(8, 3.6))
    for k, s in enumerate(f.index):
        ax.bar(x + k * w - 0.4 + w / 2, f.loc[s].to_numpy(), width=w, label=s)
    ax.set_xticks(x, stages)
    ax.set_ylabel("share of the market ever in the stage")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_title(
        "Funnel: who reached each stage during the horizon "
        f"(mean of {res.replications} replications)"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def forest_figure(res: ComparisonResult) -> Figure:
    """Paired differences against the baseline with CIs, one panel per unit.

    Money, rates (percentage points), counts of people and NPS points each get their own axis
    in their own unit, so no difference is expressed relative to a mean that may be 0 or
    negative. Metrics whose difference is not defined (e.g. a ratio to zero spend) are left
    out.
    """
    d = res.differences
    others = [s for s in res.strategies if s != res.baseline]
    has = set(d["metric"]) if len(d) else set()  # one strategy: no differences (no columns)
    shown = [
        m for m in FOREST_METRICS if m in has and np.isfinite(d.loc[d["metric"] == m, "diff"]).any()
    ]
    groups = [
        (u, [m for m in shown if unit_of(m) == u])
        for u in ("money", "money per customer", "rate", "count", "nps")
    ]
    groups = [(u, ms) for u, ms in groups if ms]
    k = max(1, len(others))
    heights = [len(ms) * k + 0.6 for _, ms in groups] or [1]
    fig, axes = subplots(
        len(groups) or 1,
        1,
        figsize=(8, 0.3 * sum(heights) + 1.2 * max(1, len(groups))),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    level = round(100 * (1 - res.alpha))
    for ax, (unit, ms) in zip(axes[:, 0], groups, strict=False):
        scale = 100.0 if unit == "rate" else 1.0
        y = 0.0
        ticks, labels = [], []
        for m in ms:
            for j, s in enumerate(others):
                r = d[(d["strategy"] == s) & (d["metric"] == m)].iloc[0]
                est = r["diff"] * scale
                lo = max(est - r["ci_low"] * scale, 0) if np.isfinite(r["ci_low"]) else 0
                hi = max(r["ci_high"] * scale - est, 0) if np.isfinite(r["ci_high"]) else 0
                ax.errorbar(
                    est,
                    y,
                    xerr=[[lo], [hi]],
                    fmt="o",
                    color=colors[j % len(colors)],
                    label=s if ax is axes[0, 0] and m == ms[0] else None,
                    capsize=3,
                    ms=4,
                )
                ticks.append(y)
                labels.append(METRICS[m].label if j == 0 else "")
                y += 1
            y += 0.4
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(ticks, labels, fontsize=8)
        ax.set_ylim(y - 0.2, -0.8)
        span = abs(np.diff(ax.get_xlim())[0])
        digits = 0 if span >= 20 else 1 if span >= 2 else 2
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _, k=digits: f"{x:,.{k}f}"))
        ax.set_xlabel(f"difference, {UNIT_LABELS[unit]}", fontsize=9)
    if others and groups:
        axes[0, 0].legend(fontsize=8, loc="best")
    elif not others:
        axes[0, 0].set_axis_off()
        axes[0, 0].text(0.5, 0.5, "one strategy: nothing to compare", ha="center", va="center")
    fig.suptitle(f"Differences against {res.baseline!r} (paired, {level}% CI)")
    fig.tight_layout()
    return fig


def incremental_figure(res: ComparisonResult) -> Figure:
    """Incremental profit and revenue against no marketing per strategy, with paired CIs."""
    inc = res.incremental.set_index(["strategy", "measure"])
    who = [s for s in res.strategies if s != res.counterfactual]
    fig, axes = subplots(1, 2, figsize=(10, 0.5 * max(1, len(who)) + 1.8), sharey=True)
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
        # at most 5 ticks: six-digit amounts in a 5-inch panel otherwise run into each other
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=3))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.set_title(measure.replace("_", " "))
        ax.set_xlabel(f"strategy - no marketing, {UNIT_LABELS['money']}", fontsize=9)
    axes[0].set_yticks(range(len(who)), who)
    axes[0].set_ylim(max(len(who), 1) - 0.5, -0.5)  # first strategy on top, off the frame
    level = round(100 * (1 - res.alpha))
    name = "" if res.counterfactual.startswith("(") else f" ({res.counterfactual})"
    fig.suptitle(
        f"Against no marketing{name}, same seeds; {level}% paired CIs"
        "\n(green: CI above 0, red: CI below 0, grey: CI includes 0)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
