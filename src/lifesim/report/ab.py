"""The A/B analysis as a report: decision summary, the analysis, the glossary."""

from __future__ import annotations

import re

from lifesim.ab import ABResult, render_html
from lifesim.report._format import CSS
from lifesim.report.decisions import ab_decision
from lifesim.report.summary import glossary_html

__all__ = ["ab_report_html"]


def ab_report_html(res: ABResult, *, plot: bool = True) -> str:
    """Return ``lifesim ab analyze --format html`` as a page that opens with a decision summary.

    The analysis below is :func:`lifesim.ab.render_html`'s, its tables in a container that
    scrolls sideways.
    """
    body = render_html(res, plot=plot, full_page=False)
    body = re.sub(r"(<table\b.*?</table>)", r'<div class="scroll">\1</div>', body, flags=re.S)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>lifesim A/B analysis</title>'
        f"<style>{CSS}</style></head><body><h1>A/B analysis</h1>"
        f"{ab_decision(res).html()}{body}{glossary_html()}</body></html>\n"
    )
