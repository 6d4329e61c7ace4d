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
]

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
