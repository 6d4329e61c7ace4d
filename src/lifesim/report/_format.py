"""Numbers and tables for people: units, thousands separators, no NaN, scrollable tables.

Pure string formatting (no matplotlib): the decision summary and every HTML report use it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "UNITS",
    "UNIT_LABELS",
    "unit_of",
    "fmt_value",
    "fmt_ci",
    "fmt_p",
    "is_missing",
    "scroll",
    "html_table",
    "fmt_number",
    "fmt_p_best",
    "df_html",
    "CSS",
]

#: The stylesheet of every report: a readable column, tables that scroll sideways.
CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
padding:0 1em;line-height:1.4}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:right;vertical-align:top}th{background:#f4f4f4}tbody th{text-align:left}
.scroll{overflow-x:auto;max-width:100%;margin:.5em 0}
.verdict{font-size:1.15em;padding:.6em;background:#eef6ee;border-left:4px solid #3a3}
.warn{background:#fff4e5;border-left:4px solid #e90;padding:.6em}small{color:#555}
.decision{border:1px solid #ccc;border-radius:6px;padding:0 1.2em .6em;margin:1em 0 2em}
.decision h3{margin:.8em 0 .2em;font-size:1em}.decision ul{margin:.2em 0}
a.g{color:inherit;text-decoration:underline dotted #888}
dl.glossary dt{font-weight:bold;margin-top:.5em}dl.glossary dd{margin-left:1.5em}
.na{color:#777;font-style:italic}img{max-width:100%}
pre{overflow-x:auto;white-space:pre-wrap;word-break:break-word}
"""

#: The unit of each comparison metric (and of each incremental measure).
UNITS: dict[str, str] = {
    "profit": "money",
    "revenue": "money",
    "marketing_cost": "money",
    "clv": "money per customer",
    "cac": "money per customer",
    "roi": "ratio",
    "customers_acquired": "count",
    "customers_end": "count",
    "conversion_rate": "rate",
    "churn_rate": "rate",
    "churn_rate_period": "rate",
    "revenue_churn": "rate",
    "repeat_purchase_rate": "rate",
    "coupon_redemption_rate": "rate",
    "nps": "nps",
    "incremental_profit": "money",
    "incremental_revenue": "money",
    "incremental_cost": "money",
    "incremental_customers": "count",
    "incremental_roi": "ratio",
    "incremental_cac": "money per customer",
}

#: How each unit is named on an axis or in a table heading.
UNIT_LABELS: dict[str, str] = {
    "money": "money (currency units)",
    "money per customer": "money per customer (currency units)",
    "rate": "rates (percentage points)",
    "count": "people",
    "nps": "NPS points",
    "ratio": "ratio (x)",
}


def unit_of(metric: str) -> str:
    """Return the unit of ``metric`` (``"number"`` for one this module does not know)."""
    return UNITS.get(metric, "number")


def is_missing(x: Any) -> bool:
    """Return True for None and non-finite floats (NaN, inf)."""
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_value(x: Any, metric: str, *, diff: bool = False) -> str:
    """Format one value of ``metric`` for people.

    Money with thousands separators (no decimals from 100 up), rates as percentages (a
    difference of rates in percentage points), counts as whole numbers when they are whole,
    NPS with one decimal, ratios with two. ``diff`` adds a sign. Missing values give ``""``:
    the caller says why (see :func:`html_table`).
    """
    if is_missing(x):
        return ""
    x = float(x)
    sign = "+" if diff else ""
    unit = unit_of(metric)
    if unit == "rate":
        v = 100 * x
        digits = 1 if abs(v) >= 10 else 2
        return f"{v:{sign},.{digits}f}" + (" pp" if diff else "%")
    if unit == "nps":
        return f"{x:{sign},.1f}"
    if unit == "ratio":
        return f"{x:{sign},.2f}"
    if unit == "count":
        return f"{x:{sign},.0f}" if abs(x) >= 100 else f"{x:{sign},.1f}"
    if abs(x) >= 100:  # money, whole or per customer
        return f"{x:{sign},.0f}"
    return f"{x:{sign},.2f}"


def fmt_ci(lo: Any, hi: Any, metric: str, *, diff: bool = False) -> str:
    """Format a confidence interval ``[lo, hi]`` ("unbounded" for an infinite one)."""
    if is_missing(lo) or is_missing(hi):
        if lo is not None and hi is not None and (math.isinf(float(lo)) or math.isinf(float(hi))):
            return "[unbounded]"
        return ""
    return f"[{fmt_value(lo, metric, diff=diff)}, {fmt_value(hi, metric, diff=diff)}]"


def fmt_p(p: Any) -> str:
    """Format a p-value (``< 0.001`` below a thousandth; ``""`` when missing)."""
    if is_missing(p):
        return ""
    p = float(p)
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def scroll(table_html: str) -> str:
    """Wrap a table in a container that scrolls sideways instead of overflowing the page."""
    return f'<div class="scroll">{table_html}</div>'


def html_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    header_rows: bool = True,
    cell: Callable[[Any], str] | None = None,
) -> str:
    """Return a scrollable HTML table; cells are escaped text (or ``Raw`` HTML).

    ``header_rows``: the first cell of each row is a row heading. Empty cells are written
    as such; callers put a reason ("not defined: ...") in place of missing values.
    """
    fmt = cell or (lambda v: v if isinstance(v, Raw) else html.escape(str(v)))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for k, v in enumerate(r):
            tag = "th" if header_rows and k == 0 else "td"
            cells.append(f"<{tag}>{fmt(v)}</{tag}>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return scroll(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


class Raw(str):
    """A table cell that is already HTML (not escaped again)."""

    __slots__ = ()


def fmt_number(x: Any) -> str:
    """Format a number of unknown unit for people: separators, no scientific notation."""
    if is_missing(x):
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    x = float(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1 or x == 0:
        return f"{x:,.2f}".rstrip("0").rstrip(".") if x == int(x) else f"{x:,.2f}"
    text = f"{x:.3g}"
    if "e" not in text:
        return text
    text = f"{x:.7f}".rstrip("0")
    return text if not text.endswith(".") else ("< 0.0000001" if x > 0 else "> -0.0000001")


def df_html(
    df: Any,
    *,
    percent: Sequence[str] = (),
    missing: str = "not defined",
    labels: dict[str, str] | None = None,
) -> str:
    """Return a DataFrame as a scrollable table for people.

    Numbers through :func:`fmt_number`, the ``percent`` columns as percentages (one decimal),
    p-values through :func:`fmt_p`, booleans as yes/no, missing values as ``missing`` (grey).
    """
    labels = labels or {}
    cols = [labels.get(c, str(c).replace("_", " ")) for c in df.columns]
    rows = []
    for rec in df.itertuples(index=False):
        cells: list[Any] = []
        for c, v in zip(df.columns, rec, strict=True):
            if isinstance(v, str):
                cells.append(v)
            elif is_missing(v):
                cells.append(Raw(f'<span class="na">{html.escape(missing)}</span>'))
            elif c in percent and not isinstance(v, bool):
                cells.append(f"{100 * float(v):.1f}%")
            elif str(c).startswith("p_value") or str(c) in ("p", "p_adjusted"):
                cells.append(fmt_p(v))
            else:
                cells.append(fmt_number(v))
        rows.append(cells)
    return html_table(cols, rows, header_rows=False)


def fmt_p_best(p: float, se: float, draws: int) -> str:
    """Format a P(best) over parameter draws with the count it comes from.

    At 0% or 100% the binomial standard error is 0, which would read as certainty: the count
    (``10 of 10 draws``) says how much evidence there is instead. Ties split, so a count may be
    fractional.
    """
    k = p * draws
    count = f"{k:,.4g} of {draws:,} draws"
    if 0 < p < 1 and se > 0:
        return f"{p:.0%} (+/- {se:.0%}; {count})"
    return f"{p:.0%} ({count})"
