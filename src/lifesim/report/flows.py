"""Stage-flow figures: a Sankey diagram of moves by cause, transition-matrix heatmaps.

Matplotlib only. The Sankey is drawn by hand: stages left (where a move starts) and right
(where it ends), one band per ``(from_stage, to_stage, cause)``, its width the number of moves,
its colour the cause. The lower-level functions take tidy tables, so they draw a single run
(:meth:`lifesim.engine.SimulationResult.flows`) as well as a comparison's means.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from lifesim._figure import subplots
from lifesim.engine.flows import matrix
from lifesim.experiments import ComparisonResult

__all__ = [
    "sankey_figure",
    "transition_heatmap",
    "compare_sankey_figure",
    "compare_heatmap_figure",
    "flow_difference_figure",
    "flows_section_html",
]

_ORGANIC = "#9e9e9e"


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "-"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def cause_colors(causes: Sequence[str]) -> dict[str, str]:
    """Return one colour per cause: grey for ``organic``, distinct colours for the others."""
    t10 = [matplotlib.colors.to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    t20 = [matplotlib.colors.to_hex(c) for c in matplotlib.colormaps["tab20"].colors]
    palette = [c for i, c in enumerate(t10) if i != 7] + [
        c for i, c in enumerate(t20) if i % 2 and i not in (14, 15)
    ]
    out, k = {}, 0
    for c in causes:
        if c in out:
            continue
        if c == "organic":
            out[c] = _ORGANIC
        else:
            out[c] = palette[k % len(palette)]
            k += 1
    return out


def _band(ax: Axes, y0: tuple[float, float], y1: tuple[float, float], x0, x1, color) -> None:
    """Fill a smooth band from [y0] at x0 to [y1] at x1 (cosine easing)."""
    x = np.linspace(x0, x1, 40)
    s = (1 - np.cos(np.pi * (x - x0) / (x1 - x0))) / 2
    lo = y0[0] + (y1[0] - y0[0]) * s
    hi = y0[1] + (y1[1] - y0[1]) * s
    ax.fill_between(x, lo, hi, color=color, alpha=0.65, linewidth=0)


def sankey_figure(
    flows: pd.DataFrame,
    stages: Sequence[str],
    *,
    value: str = "moves",
    colors: dict[str, str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    legend: bool = True,
) -> Figure:
    """Draw a Sankey diagram of moves between stages, one band per flow, coloured by cause.

    Parameters
    ----------
    flows : DataFrame
        ``from_stage``, ``to_stage``, ``cause`` and the ``value`` column, e.g.
        :meth:`lifesim.engine.SimulationResult.flows` or one strategy's rows of
        :meth:`lifesim.experiments.ComparisonResult.flows` with ``value="mean"``.
    stages : sequence of str
        The stages, top to bottom.
    value : str
        The column holding the band widths (non-negative).
    colors : dict, optional
        Cause -> colour (default: :func:`cause_colors` of the causes present).
    ax : Axes, optional
        Draw into this axes (default: a new figure).
    title : str, optional
    legend : bool
        Add a legend of the causes.

    Returns
    -------
    Figure
    """
    stages = list(stages)
    f = flows[flows[value] > 0].copy()
    for c in ("from_stage", "to_stage", "cause"):
        f[c] = f[c].astype(str)
    if ax is None:
        fig, ax = subplots(figsize=(7.5, 4.8))
    else:
        fig = ax.figure
    colors = colors or cause_colors(f["cause"].tolist())
    total = float(max(f.groupby("from_stage")[value].sum().sum(), 0.0))
    gap = 0.03 * total if total else 1.0
    slot = 0.07 * total  # room for a label, however small the stage
    out_tot = f.groupby("from_stage")[value].sum().reindex(stages, fill_value=0.0)
    in_tot = f.groupby("to_stage")[value].sum().reindex(stages, fill_value=0.0)

    def tops(tot: pd.Series) -> dict[str, float]:
        y, pos = 0.0, {}
        for s in stages:
            pos[s] = y
            y -= max(tot[s], slot) + gap
        return pos

    left, right = tops(out_tot), tops(in_tot)
    order = {s: i for i, s in enumerate(stages)}
    causes = list(colors)
    f["_f"], f["_t"] = f["from_stage"].map(order), f["to_stage"].map(order)
    f["_c"] = f["cause"].map(lambda c: causes.index(c) if c in causes else len(causes))
    lcur, rcur = dict(left), dict(right)
    # left ends ordered by destination; right ends by origin, so bands cross as little as can be
    lpos, rpos = {}, {}
    for r in f.sort_values(["_f", "_t", "_c"]).itertuples():
        v = getattr(r, value)
        lpos[r.Index] = (lcur[r.from_stage] - v, lcur[r.from_stage])
        lcur[r.from_stage] -= v
    for r in f.sort_values(["_t", "_f", "_c"]).itertuples():
        v = getattr(r, value)
        rpos[r.Index] = (rcur[r.to_stage] - v, rcur[r.to_stage])
        rcur[r.to_stage] -= v
    w = 0.04
    for r in f.itertuples():
        _band(ax, lpos[r.Index], rpos[r.Index], w, 1 - w, colors.get(r.cause, "#333333"))
    for s in stages:
        for x, top, tot, ha, lx in (
            (0, left[s], out_tot[s], "right", -0.01),
            (1 - w, right[s], in_tot[s], "left", 1.01),
        ):
            if tot <= 0:
                continue
            ax.add_patch(Rectangle((x, top - tot), w, tot, color="#37474f"))
            ax.text(lx, top - tot / 2, f"{s} {_fmt(tot)}", ha=ha, va="center", fontsize=8)
    ax.set_xlim(-0.42, 1.42)
    bottom = min(
        [left[s] - max(out_tot[s], slot) for s in stages]
        + [right[s] - max(in_tot[s], slot) for s in stages]
    )
    ax.set_ylim(bottom - gap / 2 if total else -1, gap / 2 if total else 1)
    ax.axis("off")
    top = gap / 2 if total else 1
    ax.text(0.02, top, "moved out of", fontsize=8, ha="center", va="bottom", style="italic")
    ax.text(1 - 0.02, top, "moved into", fontsize=8, ha="center", va="bottom", style="italic")
    if not total:
        ax.text(0.5, 0.5, "no moves", ha="center", va="center", transform=ax.transAxes)
    if title:
        ax.set_title(title, pad=14)
    if legend and total:
        present = [c for c in colors if c in set(f["cause"])]
        ax.legend(
            handles=[Patch(color=colors[c], label=c) for c in present],
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            fontsize=8,
            title="cause",
            title_fontsize=8,
            frameon=False,
        )
    return fig


def transition_heatmap(
    counts: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    diverging: bool = False,
    marks: pd.DataFrame | None = None,
) -> Figure:
    """Draw a transition matrix as a heatmap, every cell annotated with its value.

    Parameters
    ----------
    counts : DataFrame
        From-stage rows, to-stage columns (e.g. :meth:`~lifesim.engine.SimulationResult.
        transition_matrix`). Cells are coloured by their share of the row's moves, or, with
        ``diverging``, by their signed value (a difference between strategies).
    ax : Axes, optional
    title : str, optional
    diverging : bool
        Colour signed values on a red-blue scale centred on 0.
    marks : DataFrame of bool, optional
        Same shape: cells to mark with ``*`` (e.g. whose CI excludes 0).

    Returns
    -------
    Figure
    """
    if ax is None:
        fig, ax = subplots(figsize=(5.2, 4.4))
    else:
        fig = ax.figure
    v = counts.to_numpy(dtype=float)
    if diverging:
        lim = float(np.nanmax(np.abs(v))) if np.isfinite(v).any() and np.nanmax(np.abs(v)) else 1.0
        im = ax.imshow(v, cmap="RdBu", vmin=-lim, vmax=lim)
        shade = np.abs(v) / lim
    else:
        rows = v.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shade = np.where(rows > 0, v / rows, 0.0)
        im = ax.imshow(shade, cmap="Blues", vmin=0, vmax=1)
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            if v[i, j] == 0:
                continue
            text = _fmt(v[i, j]) if not diverging else f"{v[i, j]:+,.0f}"
            if diverging and abs(v[i, j]) < 100:
                text = f"{v[i, j]:+,.1f}"
            if marks is not None and bool(marks.iloc[i, j]):
                text += "*"
            color = "white" if shade[i, j] > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(counts.columns)), [str(c) for c in counts.columns], rotation=35)
    ax.set_yticks(range(len(counts.index)), [str(c) for c in counts.index])
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    ax.set_xlabel("moved into")
    ax.set_ylabel("moved out of")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label("difference in moves" if diverging else "share of the row's moves", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def _grid(n: int, w: float, h: float, cols: int = 2):
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def compare_sankey_figure(res: ComparisonResult) -> Figure:
    """Draw a Sankey of the mean moves per replication for each strategy of a comparison."""
    f = res.flows()
    who = list(dict.fromkeys(f["strategy"]))
    colors = cause_colors(["organic", *f["cause"].astype(str)])
    fig, axes = _grid(len(who), 7.0, 4.6)
    for ax, s in zip(axes, who, strict=True):
        sankey_figure(
            f[f["strategy"] == s],
            res.scenario.stage_names,
            value="mean",
            colors=colors,
            ax=ax,
            title=s,
            legend=False,
        )
    present = [c for c in colors if c in set(f["cause"].astype(str))]
    fig.legend(
        handles=[Patch(color=colors[c], label=c) for c in present],
        loc="lower center",
        ncol=min(5, len(present)),
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, -0.02),
    )
    fig.suptitle(
        f"Moves between stages by cause (mean per replication, {res.replications} replications)"
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def compare_heatmap_figure(res: ComparisonResult) -> Figure:
    """Draw each strategy's transition matrix: mean moves, shaded by share of the row."""
    who = list(dict.fromkeys(res.flows(by_cause=False)["strategy"]))
    fig, axes = _grid(len(who), 5.6, 4.6, cols=3)
    for ax, s in zip(axes, who, strict=True):
        transition_heatmap(res.transition_matrix(s), ax=ax, title=s)
    fig.suptitle("Transition matrix: mean moves per replication (shade: share of the row)")
    fig.tight_layout()
    return fig


def _difference_matrix(res: ComparisonResult, s: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = res.flow_difference(s, by_cause=False)
    stages = res.scenario.stage_names
    m = matrix(d.rename(columns={"diff": "moves"}), stages)
    sig = (d["ci_low"] > 0) | (d["ci_high"] < 0)
    marks = matrix(d.assign(moves=sig.astype(float)), stages) > 0
    return m, marks


def flow_difference_figure(res: ComparisonResult) -> Figure | None:
    """Draw, per strategy, its mean moves minus the baseline's (paired); None with one strategy.

    Cells marked ``*`` have a paired CI that excludes 0.
    """
    who = [s for s in res.strategies if s != res.baseline]
    if not who:
        return None
    fig, axes = _grid(len(who), 5.6, 4.6, cols=3)
    for ax, s in zip(axes, who, strict=True):
        m, marks = _difference_matrix(res, s)
        transition_heatmap(m, ax=ax, title=f"{s} - {res.baseline}", diverging=True, marks=marks)
    level = round(100 * (1 - res.alpha))
    fig.suptitle(
        f"Moves between stages: strategy minus {res.baseline} (paired; * {level}% CI excludes 0)"
    )
    fig.tight_layout()
    return fig


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _top_differences(res: ComparisonResult, n: int = 8) -> str:
    level = round(100 * (1 - res.alpha))
    rows = []
    for s in res.strategies:
        if s == res.baseline:
            continue
        d = res.flow_difference(s, by_cause=False)
        d = d.reindex(d["diff"].abs().sort_values(ascending=False).index).head(n)
        for r in d.itertuples():
            rows.append(
                f"<tr><td>{html.escape(s)}</td><td>{html.escape(str(r.from_stage))} &rarr; "
                f"{html.escape(str(r.to_stage))}</td>"
                f"<td>{_fmt(r.mean_a)}</td><td>{_fmt(r.mean_b)}</td><td>{r.diff:+,.1f}</td>"
                f"<td>[{r.ci_low:+,.1f}, {r.ci_high:+,.1f}]</td></tr>"
            )
    if not rows:
        return ""
    head = (
        "<tr><th>strategy</th><th>move</th><th>moves under the strategy</th>"
        f"<th>moves under {html.escape(res.baseline)}</th><th>difference</th>"
        f"<th>{level}% CI</th></tr>"
    )
    return (
        f"<h3>Largest changes against {html.escape(res.baseline)}: mean moves per replication, "
        "all causes together, paired by replication</h3>"
        f"<div style='overflow-x:auto'><table>{head}{''.join(rows)}</table></div>"
        "<p><small>By cause: <code>ComparisonResult.flow_difference(strategy)</code>; a tactic "
        "taking the credit for moves that were organic before shows there as a swap between "
        "causes.</small></p>"
    )


def flows_section_html(res: ComparisonResult) -> str:
    """Return the report's stage-flow section: Sankey, transition matrices, differences.

    Empty when the comparison has no flow counts (made by an older lifesim).
    """
    if not len(res.flow_counts):
        return ""
    with matplotlib.rc_context({"text.parse_math": False}):
        sankey = _png(compare_sankey_figure(res))
        heat = _png(compare_heatmap_figure(res))
        diff_fig = flow_difference_figure(res)
        diff = _png(diff_fig) if diff_fig is not None else None
    diff_html = (
        f'<img src="data:image/png;base64,{diff}" alt="flow differences">'
        if diff is not None
        else ""
    )
    return f"""<h2 id="flows">Stage flows: who moved where, and under which tactic</h2>
<p>Moves between stages over the horizon, mean per replication. A move's cause is
<i>organic</i> (the stage graph's own chances) or the tactic, campaign or support desk whose
effect was on it when it happened. That is attribution, not causation: a move made under a
tactic counts for the tactic even if it would have happened anyway. What a strategy really
changes is the difference against {html.escape(res.baseline)} on the same seeds, below.</p>
<img src="data:image/png;base64,{sankey}" alt="Sankey diagram of moves by cause">
<img src="data:image/png;base64,{heat}" alt="transition matrices">
{diff_html}
{_top_differences(res)}
<p><small>Tables: <code>flows.csv</code> has every run's moves by (from, to, cause);
<code>ComparisonResult.flows()</code>, <code>.flow_difference(a, b)</code> and
<code>.transition_matrix(strategy)</code> give the means, paired differences and
matrices.</small></p>
"""
