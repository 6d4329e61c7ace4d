"""The A/B analysis as a report: decision summary, the analysis, the glossary."""

from __future__ import annotations

import re
from html import escape

from lifesim.ab import ABResult, BayesResult, SegmentResult, SequentialResult, render_html
from lifesim.report._format import CSS
from lifesim.report.decisions import ab_decision
from lifesim.report.summary import glossary_html

__all__ = ["ab_report_html"]

#: Page title of each read-out other than the fixed-horizon analysis.
_TITLES = {
    SequentialResult: "Sequential A/B analysis",
    BayesResult: "Bayesian A/B read-out",
    SegmentResult: "A/B effects per segment",
}


def _page(title: str, body: str) -> str:
    body = re.sub(r"(<table\b.*?</table>)", r'<div class="scroll">\1</div>', body, flags=re.S)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>lifesim {escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
        f"{body}{glossary_html()}</body></html>\n"
    )


def ab_report_html(
    res: ABResult | SequentialResult | BayesResult | SegmentResult, *, plot: bool = True
) -> str:
    """Return ``lifesim ab analyze --format html`` as a page that opens with a decision summary.

    The analysis below is :func:`lifesim.ab.render_html`'s, its tables in a container that
    scrolls sideways. A sequential, Bayesian or per-segment read-out gets the same page: a
    title, the lines that open its text summary (what is compared, the units per arm, the SRM
    check), its own HTML (long lines wrap instead of running off the page) and the glossary.
    """
    if isinstance(res, ABResult):
        body = render_html(res, plot=plot, full_page=False)
        return _page("A/B analysis", ab_decision(res).html() + body)
    title = next(t for kind, t in _TITLES.items() if isinstance(res, kind))
    body = res.to_html(plot=plot, full_page=False)
    if not isinstance(res, SequentialResult):  # its HTML is the whole summary already
        head = res.summary().split("\n\n", 1)[0]
        body = "".join(f"<p>{escape(line)}</p>" for line in head.splitlines()) + body
    return _page(title, body)
