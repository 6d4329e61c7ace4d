"""Self-contained HTML report of a comparison (plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib

from lifesim._io import atomic_dir
from lifesim.experiments import ComparisonResult
from lifesim.experiments.result import HEADLINE, PAIRWISE_HEADLINE
from lifesim.experiments.uncertainty import UncertaintyResult
from lifesim.metrics import CLV_CONVENTION, INCREMENTAL, METRICS
from lifesim.report._format import (
    CSS,
    Raw,
    fmt_ci,
    fmt_p,
    fmt_p_best,
    fmt_value,
    html_table,
    is_missing,
)
from lifesim.report.flows import flows_section_html
from lifesim.report.plots import (
    forest_figure,
    funnel_figure,
    incremental_figure,
    stage_shares_figure,
)
from lifesim.report.summary import compare_decision, glossary_html, link_terms

__all__ = ["write_compare_report", "compare_report_html", "save_compare_run"]

_CSS = CSS

#: Why a value is missing, by metric (the reports write this instead of NaN).
_UNDEFINED = {
    "roi": "not defined: no marketing spend",
    "coupon_redemption_rate": "not defined: no coupons issued",
    "incremental_roi": "not defined: no incremental spend",
    "incremental_cac": "not defined: marketing adds no customers",
}

#: Metrics whose value is a spend (0 is written "0 (no spend)").
_SPEND = ("marketing_cost", "incremental_cost", "cac")


def _plain_p(text: str) -> str:
    """Write p-values below 0.001 as "p < 0.001" (no scientific notation for people)."""
    return re.sub(r"p = \d(?:\.\d+)?e-\d+", "p < 0.001", text)


def _why(metric: str) -> str:
    return _UNDEFINED.get(metric, "not defined: no finite value in any replication")


def _na(text: str) -> Raw:
    return Raw(f'<span class="na">{html.escape(text)}</span>')


def _cell(
    est: float, lo: float, hi: float, metric: str, *, diff: bool = False, p: float | None = None
) -> Raw | str:
    """One 'value [CI]' cell for people: units, no NaN, zero spend said the same way."""
    if is_missing(est):
        return _na(_why(metric))
    if metric in _SPEND and est == 0 and lo == 0 and hi == 0:
        return "0 (no spend)"
    text = fmt_value(est, metric, diff=diff)
    ci = fmt_ci(lo, hi, metric, diff=diff)
    if ci:
        text += f" {ci}"
    elif not (lo == est == hi):
        text += " (no CI: fewer than 2 finite values)"
    if p is not None and not is_missing(p):
        pv = fmt_p(p)
        pv = pv if pv.startswith("<") else f"= {pv}"
        return Raw(f"{html.escape(text)}<br><small>p {html.escape(pv)}</small>")
    return text


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
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
        cells: list = [info.label]
        for s in who:
            r = inc.loc[(s, k)]
            cells.append(
                _cell(r["estimate"], r["ci_low"], r["ci_high"], k, diff=True, p=r["p_value"])
            )
        rows.append(cells)
    return html_table(["", *who], rows)


def _summary_html(res: ComparisonResult) -> str:
    t = res.summary_table.set_index(["strategy", "metric"])
    rows = []
    for m in METRICS:
        cells: list = [METRICS[m].label]
        for s in res.strategies:
            r = t.loc[(s, m)]
            cells.append(_cell(r["mean"], r["ci_low"], r["ci_high"], m))
        rows.append(cells)
    return html_table(["metric", *res.strategies], rows)


def _pairwise_html(res: ComparisonResult) -> str:
    if not len(res.pairwise):
        return "<p>One strategy: no pairs.</p>"
    metrics = [res.objective] + [m for m in PAIRWISE_HEADLINE if m != res.objective]
    rows = []
    for m in metrics:
        for r in res.pairwise[res.pairwise.metric == m].itertuples():
            if is_missing(r.diff):
                continue
            rows.append(
                [
                    METRICS[m].label,
                    f"{r.a} - {r.b}",
                    _cell(r.diff, r.ci_low, r.ci_high, m, diff=True),
                    fmt_p(r.p_value) or _na("not defined: no variation"),
                    fmt_p(r.p_adjusted) or _na("not defined: no variation"),
                    "yes" if r.significant else "no",
                ]
            )
    cols = ["metric", "pair (a - b)", "difference [CI]", "p", "p (Holm)", "significant"]
    return html_table(cols, rows)


def _differences_html(res: ComparisonResult) -> str:
    others = [s for s in res.strategies if s != res.baseline]
    if not others:
        return "<p>One strategy: no differences.</p>"
    d = res.differences.set_index(["strategy", "metric"])
    rows, dropped = [], []
    for m in METRICS:
        if all(is_missing(d.loc[(s, m), "diff"]) for s in others):
            dropped.append(METRICS[m].label)
            continue
        cells: list = [METRICS[m].label]
        for s in others:
            r = d.loc[(s, m)]
            cells.append(_cell(r["diff"], r["ci_low"], r["ci_high"], m, diff=True, p=r["p_value"]))
        rows.append(cells)
    note = ""
    if dropped:
        note = (
            f"<p><small>Left out: {html.escape(', '.join(dropped))} (not defined for "
            f"{html.escape(res.baseline)} or for every other strategy, e.g. a ratio to a spend "
            "of 0).</small></p>"
        )
    return html_table(["metric", *(f"{s} - {res.baseline}" for s in others)], rows) + note


def _uncertainty_html(unc: UncertaintyResult | None) -> str:
    if unc is None:
        return ""
    label = METRICS[unc.objective].label if unc.objective in METRICS else unc.objective
    rows = [
        [
            r.strategy,
            _cell(r.mean, r.low, r.high, unc.objective),
            fmt_p_best(r.p_best, r.p_best_se, unc.draws),
            fmt_value(r.expected_regret, unc.objective),
        ]
        for r in unc.table.itertuples()
    ]
    cols = ["strategy", f"{label}: mean [2.5%, 97.5%] over draws", "P(best)", "expected regret"]
    conv = "".join(f"<li>{link_terms(html.escape(c))}</li>" for c in unc.conventions)
    return (
        f"<h2>Under {link_terms('parameter uncertainty')} ({unc.draws} draws)</h2>"
        + html_table(cols, rows)
        + f"<ul>{conv}</ul>"
    )


def compare_report_html(
    res: ComparisonResult,
    figures: dict[str, str] | None = None,
    uncertainty: UncertaintyResult | None = None,
) -> str:
    """Return the report as one HTML string (``uncertainty``: the run's parameter draws)."""
    figs = figures if figures is not None else _figures(res)
    level = round(100 * (1 - res.alpha))
    conv = "".join(f"<li>{link_terms(html.escape(c))}</li>" for c in res.conventions)
    mconv = "".join(
        f"<li><b>{html.escape(METRICS[m].label)}</b>: "
        f"{link_terms(html.escape(METRICS[m].convention))}</li>"
        for m in METRICS
    )
    assume = "".join(f"<li>{html.escape(a)}</li>" for a in res.assumption_lines())
    sig = res.verdict.get("significant", False)
    decision = compare_decision(res, uncertainty)
    L = link_terms  # noqa: N806 - short name for the glossary links
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lifesim compare: {html.escape(res.scenario.name)}</title><style>{_CSS}</style></head><body>
<h1>Which strategy? Scenario {html.escape(res.scenario.name)}</h1>
{decision.html()}
<h2>The statistical verdict</h2>
<p class="verdict{"" if sig else " warn"}">{L(html.escape(_plain_p(res.verdict_text())))}</p>
<p><small>{L(html.escape(CLV_CONVENTION))}.</small></p>
<h2>{L("Incremental")} economics against no marketing: mean [{level}% {L("CI")}]</h2>
<p>{L(html.escape(res.counterfactual_note))}. ROI and CAC here are incremental; the ROI (blended)
and CAC (blended) rows below count organic revenue and customers as a return of marketing.</p>
{_incremental_html(res)}
<img src="data:image/png;base64,{figs["incremental"]}" alt="incremental profit and revenue">
{_uncertainty_html(uncertainty)}
<h2>Metrics: mean [{level}% {L("CI")}] over {res.replications} {L("replications")}</h2>
{_summary_html(res)}
<h2>Differences against {html.escape(res.baseline)} (paired by {L("replication")})</h2>
<p>Each cell: strategy minus {html.escape(res.baseline)}, its {level}% {L("CI")} and the
{L("p-value")} of the paired t-test (unadjusted). Rates differ in {L("percentage points")}.</p>
{_differences_html(res)}
<h2>Forest plot: the same differences, each in its own unit</h2>
<img src="data:image/png;base64,{figs["forest"]}" alt="forest plot">
<h2>Every pair of strategies ({L("Holm")} over {res.pairs} pairs)</h2>
<p>a - b, a ranked higher on {html.escape(res.objective)}; {L("CIs")} per pair at {level}%
(not simultaneous); {L("p-values")} from the paired t-test, adjusted by {L("Holm")}'s method
over the {res.pairs} pairs for each metric. The objective and the money metrics are shown; every
metric is in <code>pairwise.csv</code>.</p>
{_pairwise_html(res)}
<h2>Stage shares: difference from {html.escape(res.baseline)} over time</h2>
<img src="data:image/png;base64,{figs["stage_shares"]}" alt="stage shares">
<h2>Funnel</h2><img src="data:image/png;base64,{figs["funnel"]}" alt="funnel">
{flows_section_html(res)}
<h2>Conventions</h2><ul>{conv}</ul><h3>Metrics</h3><ul>{mconv}</ul>
<h2>Assumptions the verdict rests on</h2><p>The tactics the compared strategies use [by whom]
and where their numbers come from (each tactic's <code>source</code>).</p><ul>{assume}</ul>
<p><small>Headline metrics in the text summary: {", ".join(HEADLINE)}.</small></p>
{glossary_html()}
</body></html>"""


def write_compare_report(
    res: ComparisonResult, folder: str | Path, uncertainty: UncertaintyResult | None = None
) -> Path:
    """Write ``report.html``, ``decision.txt`` and the plots (PNG) into an existing folder."""
    folder = Path(folder)
    figs = _figures(res)
    for name, b64 in figs.items():
        (folder / f"{name}.png").write_bytes(base64.b64decode(b64))
    doc = compare_report_html(res, figs, uncertainty)
    (folder / "report.html").write_text(doc, encoding="utf-8")
    text = compare_decision(res, uncertainty).text()
    (folder / "decision.txt").write_text(text + "\n", encoding="utf-8")
    return folder / "report.html"


def save_compare_run(
    res: ComparisonResult,
    out: str | Path,
    *,
    overwrite: bool = False,
    inputs: Iterable = (),
    extra: Callable[[Path], None] | None = None,
    uncertainty: UncertaintyResult | None = None,
) -> Path:
    """Write the complete run folder atomically: tables, JSON, plots and the HTML report.

    ``out`` must be new, empty, or (with ``overwrite=True``) an earlier lifesim run folder.
    ``extra(folder)`` may write more files into it before it is sealed; ``uncertainty``
    (the run's parameter draws) adds P(best) and regret to the report.
    """
    out = Path(out)
    with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
        res.save_tables(tmp)
        write_compare_report(res, tmp, uncertainty)
        if extra is not None:
            extra(tmp)
    return out
