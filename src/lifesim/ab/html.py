"""HTML rendering of an :class:`~lifesim.ab.result.ABResult`, with a forest plot (matplotlib)."""

from __future__ import annotations

import base64
import io
import math
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifesim.ab.result import ABResult

__all__ = ["forest_plot", "render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222}
table.lifesim-ab{border-collapse:collapse;font-size:0.9em;margin:0.5em 0}
table.lifesim-ab th,table.lifesim-ab td{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:right}
table.lifesim-ab th:first-child,table.lifesim-ab td:first-child,
table.lifesim-ab td:nth-child(2){text-align:left}
.sig{font-weight:bold}.bad{color:#b00020;font-weight:bold}.ok{color:#2e7d32}
.small{font-size:0.85em;color:#555}
"""


def forest_plot(result: ABResult, ax=None):  # noqa: ANN001, ANN201 - matplotlib types optional
    """Draw relative effects with their confidence intervals, one row per metric and arm.

    Parameters
    ----------
    result : ABResult
        The analysis.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if ax is None:
        from lifesim._figure import LifesimFigure as Figure  # shown as a PNG in notebooks

        rows = max(1, len(result.comparisons))
        fig = Figure(figsize=(7.5, 0.9 + 0.45 * rows))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    comps = list(result.comparisons)
    ys = list(range(len(comps)))[::-1]
    for y, c in zip(ys, comps, strict=True):
        lo, hi = c.rel_ci
        est = c.rel_effect
        if not math.isfinite(est):
            continue
        lo = lo if math.isfinite(lo) else est
        hi = hi if math.isfinite(hi) else est
        color = "#1565c0" if c.significant else "#757575"
        ax.plot([100 * lo, 100 * hi], [y, y], color=color, lw=2)
        ax.plot([100 * est], [y], "o", color=color)
    ax.axvline(0, color="#b00020", lw=1, ls="--")
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{c.metric}{' (CUPED)' if c.covariate else ''}: {c.arm}" for c in comps])
    level = f"{100 * (1 - result.alpha):g}%"
    ax.set_xlabel(f"relative effect vs {result.control} (%), {level} CI")
    ax.set_title("Effects (blue: adjusted p < alpha)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _png(result: ABResult) -> str:
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):  # a '$' in a label stays text
        fig = forest_plot(result)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(result: ABResult, plot: bool = True, full_page: bool = True) -> str:
    """Render the analysis as HTML: SRM check, effects table, forest plot, methods, caveats.

    Parameters
    ----------
    result : ABResult
        The analysis.
    plot : bool, default True
        Embed the forest plot as a base64 PNG.
    full_page : bool, default True
        A complete self-contained page (with ``<html>`` and CSS) instead of a fragment.

    Returns
    -------
    str
        HTML text.
    """
    from lifesim.ab.result import CONVENTIONS

    srm = result.srm
    cls = "bad" if srm.mismatch else "ok"
    parts = [
        f"<h2>A/B analysis: {len(result.n)} arms, control arm '{escape(result.control)}'</h2>",
        f'<p class="small">alpha={result.alpha:g}, {escape(result.alternative)}, '
        f"correction={escape(result.correction)}</p>",
        f'<p class="{cls}">{escape(result.srm_line())}</p>',
        '<table class="lifesim-ab"><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in result.headers)
        + "</tr></thead><tbody>",
    ]
    for c, row in zip(result.comparisons, result._table_rows(), strict=True):
        tr = ' class="sig"' if c.significant else ""
        parts.append(f"<tr{tr}>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>")
    parts.append("</tbody></table>")
    if plot and result.comparisons:
        parts.append(f'<img alt="forest plot" src="data:image/png;base64,{_png(result)}"/>')
    parts.append("<h3>Methods</h3><ul>")
    for name, method in result.methods().items():
        parts.append(f"<li><b>{escape(name)}</b>: {escape(method)}</li>")
    parts.append(f'</ul><p class="small">{escape(CONVENTIONS)}</p>')
    if result.dropped:
        dropped = ", ".join(f"{k}: {v:,}" for k, v in result.dropped.items())
        parts.append(f"<p>Dropped rows with missing values: {escape(dropped)}</p>")
    if result.warnings:
        parts.append("<h3>Warnings</h3><ul>")
        parts += [f"<li>{escape(w)}</li>" for w in result.warnings]
        parts.append("</ul>")
    body = "\n".join(parts)
    if not full_page:
        return f'<div class="lifesim-ab-result"><style>{_CSS}</style>{body}</div>'
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>A/B analysis</title>'
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
