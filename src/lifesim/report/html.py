"""Self-contained HTML report of a comparison (plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

from lifesim._io import atomic_dir
from lifesim.experiments import ComparisonResult
from lifesim.experiments.result import HEADLINE, PAIRWISE_HEADLINE, _ci, _num, _p
from lifesim.metrics import BASE_METRIC, CLV_CONVENTION, INCREMENTAL, METRICS
from lifesim.report.plots import (
    forest_figure,
    funnel_figure,
    incremental_figure,
    stage_shares_figure,
)

__all__ = ["write_compare_report", "compare_report_html", "save_compare_run"]

_CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:right}th{background:#f4f4f4}.verdict{font-size:1.15em;padding:.6em;background:#eef6ee;
border-left:4px solid #3a3}.warn{background:#fff4e5;border-left-color:#e90}small{color:#555}
img{max-width:100%}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figures(res: ComparisonResult) -> dict[str, str]:
    # labels are literal text: a '$' in a strategy or scenario name is not mathtext
    with matplotlib.rc_context({"text.parse_math": False}):
        return {
            "stage_shares": _png(stage_shares_figure(res)),
            "funnel": _png(funnel_figure(res)),
            "forest": _png(forest_figure(res)),
            "incremental": _png(incremental_figure(res)),
        }


def _incremental_html(res: ComparisonResult) -> str:
    who = [s for s in res.strategies if s != res.counterfactual]
    if not len(res.incremental) or not who:
        return "<p>No strategy to compare with no marketing.</p>"
    inc = res.incremental.set_index(["strategy", "measure"])
    rows = []
    for k, info in INCREMENTAL.items():
        m = BASE_METRIC[k]
        cells = []
        for s in who:
            r = inc.loc[(s, k)]
            cells.append(
                f"<td>{_num(r['estimate'], m)} {_ci(r['ci_low'], r['ci_high'], m)}"
                f"<br><small>p = {_p(r['p_value'])}</small></td>"
            )
        rows.append(f"<tr><th>{html.escape(info.label)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(s)}</th>" for s in who)
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _pairwise_html(res: ComparisonResult) -> str:
    if not len(res.pairwise):
        return "<p>One strategy: no pairs.</p>"
    metrics = [res.objective] + [m for m in PAIRWISE_HEADLINE if m != res.objective]
    metrics += [m for m in METRICS if m not in metrics]
    rows = []
    for m in metrics:
        for r in res.pairwise[res.pairwise.metric == m].itertuples():
            sig = "yes" if r.significant else "no"
            rows.append(
                f"<tr><td>{html.escape(METRICS[m].label)}</td><td>{html.escape(r.a)}</td>"
                f"<td>{html.escape(r.b)}</td><td>{_num(r.diff, m)}</td>"
                f"<td>{_ci(r.ci_low, r.ci_high, m)}</td><td>{_p(r.p_value)}</td>"
                f"<td>{_p(r.p_adjusted)}</td><td>{sig}</td></tr>"
            )
    head = (
        "<tr><th>metric</th><th>a</th><th>b</th><th>a - b</th><th>CI</th><th>p</th>"
        "<th>p (Holm)</th><th>significant</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _differences_html(res: ComparisonResult) -> str:
    rows = []
    for r in res.differences.itertuples():
        m = r.metric
        rows.append(
            f"<tr><td>{html.escape(r.strategy)}</td><td>{html.escape(METRICS[m].label)}</td>"
            f"<td>{_num(r.diff, m)}</td><td>{_ci(r.ci_low, r.ci_high, m)}</td>"
            f"<td>{_p(r.p_value)}</td><td>{_num(r.se_paired, m)}</td>"
            f"<td>{_num(r.se_unpaired, m)}</td></tr>"
        )
    head = (
        "<tr><th>strategy</th><th>metric</th><th>difference</th><th>CI</th><th>p</th>"
        "<th>SE paired</th><th>SE unpaired</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def compare_report_html(res: ComparisonResult, figures: dict[str, str] | None = None) -> str:
    """Return the report as one HTML string."""
    figs = figures if figures is not None else _figures(res)
    level = round(100 * (1 - res.alpha))
    table = pd.DataFrame(
        {s: [res._cell(s, m) for m in METRICS] for s in res.strategies},
        index=[METRICS[m].label for m in METRICS],
    )
    sig = res.verdict.get("significant", False)
    conv = "".join(f"<li>{html.escape(c)}</li>" for c in res.conventions)
    mconv = "".join(
        f"<li><b>{html.escape(METRICS[m].label)}</b>: {html.escape(METRICS[m].convention)}</li>"
        for m in METRICS
    )
    assume = "".join(f"<li>{html.escape(a)}</li>" for a in res.assumption_lines())
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>lifesim compare: {html.escape(res.scenario.name)}</title><style>{_CSS}</style></head><body>
<h1>Stage-focused or KPI-focused? Scenario {html.escape(res.scenario.name)!s}</h1>
<p>{res.scenario.market.size:,} people x {res.scenario.days} days; {res.replications}
replications per strategy with common random numbers; seed {res.seed}.</p>
<p class="verdict{"" if sig else " warn"}">{html.escape(res.verdict_text())}</p>
<p><small>{html.escape(CLV_CONVENTION)}.</small></p>
<h2>Incremental economics against no marketing: mean [{level}% CI]</h2>
<p>{html.escape(res.counterfactual_note)}. ROI and CAC here are incremental; the ROI (blended)
and CAC (blended) rows below count organic revenue and customers as a return of marketing.</p>
{_incremental_html(res)}
<img src="data:image/png;base64,{figs["incremental"]}" alt="incremental profit and revenue">
<h2>Metrics: mean [{level}% CI]</h2>{table.to_html(escape=True)}
<h2>Every pair of strategies (paired by replication; Holm over {res.pairs} pairs)</h2>
<p>a - b, a ranked higher on {html.escape(res.objective)}; CIs per pair at {level}% (not
simultaneous); p-values from the paired t-test, adjusted by Holm's method over the {res.pairs}
pairs for each metric.</p>
{_pairwise_html(res)}
<h2>Differences against {html.escape(res.baseline)} (paired by replication, unadjusted)</h2>
{_differences_html(res)}
<h2>Forest plot</h2><img src="data:image/png;base64,{figs["forest"]}" alt="forest plot">
<h2>Stage shares over time</h2><img src="data:image/png;base64,{figs["stage_shares"]}"
alt="stage shares">
<h2>Funnel</h2><img src="data:image/png;base64,{figs["funnel"]}" alt="funnel">
<h2>Conventions</h2><ul>{conv}</ul><h3>Metrics</h3><ul>{mconv}</ul>
<h2>Assumptions the verdict rests on</h2><p>The tactics the compared strategies use [by whom]
and where their numbers come from (each tactic's <code>source</code>).</p><ul>{assume}</ul>
<p><small>Headline metrics in the text summary: {", ".join(HEADLINE)}.</small></p>
</body></html>"""


def write_compare_report(res: ComparisonResult, folder: str | Path) -> Path:
    """Write ``report.html`` and the plots (PNG) into an existing folder."""
    folder = Path(folder)
    figs = _figures(res)
    for name, b64 in figs.items():
        (folder / f"{name}.png").write_bytes(base64.b64decode(b64))
    (folder / "report.html").write_text(compare_report_html(res, figs), encoding="utf-8")
    return folder / "report.html"


def save_compare_run(
    res: ComparisonResult,
    out: str | Path,
    *,
    overwrite: bool = False,
    inputs: Iterable = (),
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write the complete run folder atomically: tables, JSON, plots and the HTML report.

    ``out`` must be new, empty, or (with ``overwrite=True``) an earlier lifesim run folder.
    ``extra(folder)`` may write more files into it before it is sealed.
    """
    out = Path(out)
    with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
        res.save_tables(tmp)
        write_compare_report(res, tmp)
        if extra is not None:
            extra(tmp)
    return out
