"""HTML reports of in-simulator experiments: estimate vs truth, and audit rates with error bars."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from lifesim._figure import subplots
from lifesim._io import atomic_dir
from lifesim.experiments.insim.result import (
    AUDIT_CONVENTIONS,
    RUN_CONVENTIONS,
    AuditResult,
    ExperimentResult,
)
from lifesim.report._format import CSS, df_html
from lifesim.report.decisions import audit_decision, experiment_decision
from lifesim.report.summary import glossary_html, link_terms

__all__ = [
    "estimate_vs_truth_figure",
    "audit_figure",
    "experiment_report_html",
    "audit_report_html",
    "save_experiment_run",
    "save_audit_run",
]

_CSS = CSS


#: Audit columns that are rates (shown as percentages).
_RATES = (
    "rejection_rate",
    "rejection_se",
    "coverage",
    "coverage_se",
    "expected_coverage",
)


def _literal(make, res) -> str:  # noqa: ANN001 - a figure function and its result
    """Draw ``make(res)`` to PNG with literal text (a '$' in a label is not mathtext)."""
    with matplotlib.rc_context({"text.parse_math": False}):
        return _png(make(res))


def _png(fig) -> str:  # noqa: ANN001 - a matplotlib Figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def estimate_vs_truth_figure(res: ExperimentResult):  # noqa: ANN201 - matplotlib Figure
    """One panel per metric: each estimate with its CI (dot, bar) and the truth (diamond).

    The truth's own simulation error is drawn as a thin bar of +/- 1.96 truth_se.
    """
    est = res.estimates
    metrics = list(dict.fromkeys(est["metric"]))
    fig, axes = subplots(len(metrics), 1, figsize=(7.5, 1.2 + 1.1 * len(metrics)), squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        sub = est[est["metric"] == metric].reset_index(drop=True)
        ys = range(len(sub))
        for y, r in zip(ys, sub.itertuples(index=False), strict=True):
            color = "tab:blue" if r.covers_truth else "tab:red"
            ax.errorbar(
                r.estimate,
                y,
                xerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]],
                fmt="o",
                color=color,
                capsize=3,
            )
            ax.errorbar(
                r.true_effect,
                y + 0.25,
                xerr=1.96 * r.truth_se,
                fmt="D",
                color="black",
                ms=5,
                capsize=2,
                lw=0.8,
            )
        ax.axvline(0, color="grey", lw=0.6, ls=":")
        ax.set_yticks(list(ys))
        ax.set_yticklabels([f"{r.arm} ({r.method})" for r in sub.itertuples(index=False)])
        ax.set_ylim(-0.6, len(sub) - 0.2)
        ax.set_title(f"{metric}: estimate and CI (dot) vs truth (diamond)", fontsize=9)
        controls = ", ".join(dict.fromkeys(sub["control"].astype(str)))
        ax.set_xlabel(f"effect on {metric}: arm - {controls}", fontsize=8)
    level = round(100 * (1 - res.experiment.alpha))
    fig.suptitle(
        f"{level}% CIs of the estimates (red: misses the true effect); "
        "true effect +/- 1.96 truth_se",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def _rate_bars(rate, se) -> np.ndarray:  # noqa: ANN001 - Series
    """+/- 1.96 se around a rate, cut at 0 and 1: no bar claims a rate below 0% or above 100%."""
    r, h = np.asarray(rate, dtype=float), 1.96 * np.asarray(se, dtype=float)
    return np.vstack([np.minimum(h, r), np.minimum(h, 1 - r)])


def audit_figure(res: AuditResult):  # noqa: ANN201 - matplotlib Figure
    """Rejection rate and coverage per row, with +/- 1.96 Monte Carlo error bars."""
    tbl = res.table
    labels = [f"{r.version} {r.metric} {r.method} {r.arm}" for r in tbl.itertuples(index=False)]
    fig, (a1, a2) = subplots(1, 2, figsize=(10, 1.0 + 0.35 * len(tbl)), sharey=True)
    ys = range(len(tbl))
    a1.errorbar(
        tbl["rejection_rate"], ys, xerr=_rate_bars(tbl["rejection_rate"], tbl["rejection_se"]),
        fmt="o", capsize=3,
    )  # fmt: skip
    a1.axvline(res.alpha, color="tab:red", ls="--", lw=0.8, label=f"alpha = {res.alpha:g}")
    a1.set_xlim(-0.02, 1.02)
    a1.set_title("rejection rate (A/B: power; A/A: false positives)", fontsize=9)
    a1.legend(fontsize=8, loc="lower right")
    a2.errorbar(
        tbl["coverage"], ys, xerr=_rate_bars(tbl["coverage"], tbl["coverage_se"]),
        fmt="o", capsize=3,
    )  # fmt: skip
    a2.axvline(1 - res.alpha, color="tab:red", ls="--", lw=0.8, label="nominal")
    a2.set_title("CI coverage of the truth", fontsize=9)
    a2.legend(fontsize=8, loc="lower left")
    a1.set_yticks(list(ys))
    a1.set_yticklabels(labels, fontsize=8)
    a1.invert_yaxis()
    fig.tight_layout()
    return fig


def experiment_report_html(res: ExperimentResult, figure: str | None = None) -> str:
    """Return the report of one experiment run as a self-contained HTML page."""
    fig = figure if figure is not None else _literal(estimate_vs_truth_figure, res)
    cav = "".join(f"<li>{link_terms(html.escape(c))}</li>" for c in res.caveats)
    conv = "".join(f"<li>{link_terms(html.escape(c))}</li>" for c in RUN_CONVENTIONS)
    est = res.estimates.drop(columns=["test"])
    n = ", ".join(f"{html.escape(a)}: {k:,}" for a, k in res.n.items())
    tests = "".join(
        f"<li><b>{html.escape(m)}</b>: {html.escape(t)}</li>"
        for m, t in dict(zip(res.estimates["metric"], res.estimates["test"], strict=True)).items()
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>lifesim experiment: {html.escape(res.scenario.name)}</title><style>{_CSS}</style></head>
<body><h1>Experiment in {html.escape(res.scenario.name)}: estimate vs truth</h1>
{experiment_decision(res).html()}
<p>{res.experiment.design.unit}-level design; units per arm: {n}; seed {res.seed}.</p>
{f'<div class="warn"><ul>{cav}</ul></div>' if cav else ""}
<h2>Estimates beside the true effect</h2>
<img src="data:image/png;base64,{fig}" alt="estimate vs truth">
{df_html(est)}
<h2>Tests</h2><ul>{tests}</ul>
<h2>Same analysis on the exported data</h2><pre>{html.escape(res.analyze_command())}</pre>
<h2>Conventions</h2><ul>{conv}</ul>{glossary_html()}</body></html>"""


def audit_report_html(res: AuditResult, figure: str | None = None) -> str:
    """Return the report of an audit as a self-contained HTML page."""
    fig = figure if figure is not None else _literal(audit_figure, res)
    conv = "".join(f"<li>{link_terms(html.escape(c))}</li>" for c in AUDIT_CONVENTIONS)
    tbl: pd.DataFrame = res.table
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>lifesim experiment audit: {html.escape(res.scenario.name)}</title><style>{_CSS}</style>
</head><body><h1>Audit of the experiment in {html.escape(res.scenario.name)}</h1>
{audit_decision(res).html()}
<p>{res.repeats} repeats; {res.experiment.design.unit}-level design; alpha {res.alpha:g};
seed {res.seed}. Error bars: +/- 1.96 Monte Carlo standard errors.</p>
<img src="data:image/png;base64,{fig}" alt="audit rates">
{df_html(tbl, percent=_RATES)}
{_peeking_html(res)}
<h2>Conventions</h2><ul>{conv}</ul>{glossary_html()}</body></html>"""


def _peeking_html(res: AuditResult) -> str:
    """Return the peeking section of an audit report (empty without ``peek``)."""
    if res.peeking is None:
        return ""
    looks = "every day" if res.peek == "daily" else f"{res.peek} looks"
    note = res._peeking_lines()[-1]
    tbl = df_html(res.peeking, percent=_RATES)
    return f"""<h2>Peeking: {html.escape(looks)} of each metric's window</h2>
<p>{html.escape(note)}</p>
{tbl}"""


def save_experiment_run(
    res: ExperimentResult, out: str | Path, *, overwrite: bool = False, inputs: Iterable = ()
) -> Path:
    """Write the run folder atomically: dataset, tables, JSON, the plot and ``report.html``."""
    out = Path(out)
    with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
        res.save_tables(tmp)
        fig = _literal(estimate_vs_truth_figure, res)
        (tmp / "estimate_vs_truth.png").write_bytes(base64.b64decode(fig))
        (tmp / "report.html").write_text(experiment_report_html(res, fig), encoding="utf-8")
    return out


def save_audit_run(
    res: AuditResult, out: str | Path, *, overwrite: bool = False, inputs: Iterable = ()
) -> Path:
    """Write an audit folder atomically: the audit table, every estimate, JSON, HTML."""
    import json

    out = Path(out)
    with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
        res.table.to_csv(tmp / "audit.csv", index=False)
        res.estimates.to_parquet(tmp / "estimates.parquet", index=False)
        res.truth.to_csv(tmp / "truth.csv", index=False)
        if res.peeking is not None:
            res.peeking.to_csv(tmp / "peeking.csv", index=False)
        (tmp / "result.json").write_text(json.dumps(res.to_dict(), indent=2), "utf-8")
        (tmp / "summary.txt").write_text(res.summary() + "\n", encoding="utf-8")
        fig = _literal(audit_figure, res)
        (tmp / "audit.png").write_bytes(base64.b64decode(fig))
        (tmp / "report.html").write_text(audit_report_html(res, fig), encoding="utf-8")
    return out
