"""Plots and the HTML report of a sweep.

The difference along a parameter, the decision map and the tornado chart.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lifesim._figure import subplots
from lifesim.experiments.sweep import SweepResult
from lifesim.report._format import df_html
from lifesim.report.decisions import sweep_decision
from lifesim.report.experiment import _CSS, _literal
from lifesim.report.summary import glossary_html, link_terms

__all__ = ["difference_figure", "decision_map_figure", "tornado_figure", "write_sweep_report"]


def _tick(v: float) -> str:
    """Return an axis label with thousands separators and no scientific notation."""
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:,.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.6f}".rstrip("0")


def difference_figure(res: SweepResult) -> Figure:
    """1-D: the pair's difference along the parameter with its CI, zero line and flips."""
    p = res.params[0]
    t = res.table.sort_values(p)
    x = t[p].to_numpy(dtype=float)
    fig, ax = subplots(figsize=(8, 4))
    ax.plot(x, t["diff"], marker="o", label=f"{res.pair[0]} - {res.pair[1]}")
    ax.fill_between(x, t["ci_low"], t["ci_high"], alpha=0.2, label="95% CI")
    ax.axhline(0, color="black", lw=0.8)
    for f in res.flips.itertuples():
        ax.axvline(f.value, color="tab:red", ls="--", lw=1)
        ax.axvspan(f.low, f.high, color="tab:red", alpha=0.08)
    ax.set(xlabel=p, ylabel=f"difference in {res.objective}", title="Where the verdict flips")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v)))
    ax.legend()
    fig.tight_layout()
    return fig


def decision_map_figure(res: SweepResult) -> Figure:
    """2-D grids: the winner at each point (colour) with the difference written in."""
    p, q = res.params[:2]
    t = res.table
    xs, ys = sorted(t[p].unique()), sorted(t[q].unique())
    names = list(res.strategies)
    grid = np.full((len(ys), len(xs)), np.nan)
    fig, ax = subplots(figsize=(1.2 * len(xs) + 3, 0.6 * len(ys) + 2.5))
    for k in range(len(t)):
        i, j = ys.index(t[q].iloc[k]), xs.index(t[p].iloc[k])
        grid[i, j] = names.index(t["winner"].iloc[k])
        ax.text(j, i, f"{t['diff'].iloc[k]:,.0f}", ha="center", va="center", fontsize=8)
    ax.imshow(
        grid, cmap="Pastel1", vmin=0, vmax=max(len(names) - 1, 1), origin="lower", aspect="auto"
    )
    ax.set_xticks(range(len(xs)), [f"{v:.4g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:.4g}" for v in ys])
    ax.set(
        xlabel=p,
        ylabel=q,
        title=f"Winner on {res.objective} (numbers: {res.pair[0]} - {res.pair[1]})",
    )
    fig.tight_layout()
    return fig


def tornado_figure(res: SweepResult) -> Figure:
    """Draw the pair's difference at each parameter's low and high end, widest swing on top."""
    t = res.tornado.iloc[::-1]
    fig, ax = subplots(figsize=(9, 0.6 * len(t) + 1.7))
    y = np.arange(len(t))
    # side by side, not on top of each other: a low end of the same sign as the high end
    # but smaller was hidden under (blended into) the high end's bar
    # a grid's ends are its lowest and highest values; a sampled design's, its fifths
    lo, hi, ends = (
        ("at the low end", "at the high end", "low and high end")
        if getattr(res, "design", "grid") == "grid"
        else ("in the lowest fifth", "in the highest fifth", "lowest and highest fifth")
    )
    ax.barh(y + 0.2, t["at_low"], height=0.38, color="tab:blue", label=lo)
    ax.barh(y - 0.2, t["at_high"], height=0.38, color="tab:orange", label=hi)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, t["param"])
    a, b = res.pair
    ax.set(
        xlabel=f"{a} - {b} ({res.objective}, mean over the points)",
        title=f"Tornado: {a} - {b} on {res.objective} at each parameter's {ends}",
    )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v)))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # off the bars
    fig.tight_layout()
    return fig


def write_sweep_report(res: SweepResult, folder: str | Path) -> Path:
    """Write the plots (PNG) and ``report.html`` into ``folder``."""
    folder = Path(folder)
    figs = {"tornado": _literal(tornado_figure, res)}
    if len(res.params) == 1:
        figs["difference"] = _literal(difference_figure, res)
    elif len(res.params) == 2 and res.design == "grid":
        figs["decision_map"] = _literal(decision_map_figure, res)
    for name, b64 in figs.items():
        (folder / f"{name}.png").write_bytes(base64.b64decode(b64))
    imgs = "".join(f'<img src="data:image/png;base64,{b}" alt="{n}">' for n, b in figs.items())
    a, b = res.pair
    names = {"diff": f"{a} - {b}", "ci_low": "CI low", "ci_high": "CI high"}
    internal = [c for c in res.table.columns if re.fullmatch(r"p_[0-9a-f]{8}", str(c))]
    table = res.table.drop(columns=internal).rename(columns=names)
    flips = df_html(res.flips) if len(res.flips) else "<p>No flip: the sign never changes.</p>"
    conv = "".join(f"<li>{link_terms(html.escape(c))}</li>" for c in res.conventions)
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>lifesim sweep</title>
<style>{_CSS}</style></head><body><h1>Sweep: {html.escape(", ".join(res.params))}</h1>
{sweep_decision(res).html()}
{imgs}
<h2>Per point: {html.escape(res.objective)}, {html.escape(a)} - {html.escape(b)} with its CI</h2>
{df_html(table)}
<h2>Flips</h2>{flips}
<h2>Tornado</h2>{df_html(res.tornado)}
<h2>Conventions</h2><ul>{conv}</ul>
{glossary_html()}</body></html>"""
    (folder / "report.html").write_text(doc, encoding="utf-8")
    return folder / "report.html"
