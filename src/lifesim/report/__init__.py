"""Reports: plots and self-contained HTML for comparisons."""

from lifesim.report.html import compare_report_html, save_compare_run, write_compare_report
from lifesim.report.plots import (
    forest_figure,
    funnel_figure,
    incremental_figure,
    stage_shares_figure,
)

__all__ = [
    "compare_report_html",
    "save_compare_run",
    "write_compare_report",
    "forest_figure",
    "funnel_figure",
    "stage_shares_figure",
    "incremental_figure",
]
