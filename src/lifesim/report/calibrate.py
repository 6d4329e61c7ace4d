"""The calibration report: fitted vs observed, and the holdout forecast beside BG/NBD."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from lifesim._figure import subplots
from lifesim._io import atomic_dir
from lifesim.experiments.calibration import CalibrationResult
from lifesim.experiments.calibration.result import CONVENTIONS
from lifesim.report._format import df_html, scroll
from lifesim.report.decisions import calibration_decision
from lifesim.report.experiment import _CSS, _literal
from lifesim.report.summary import glossary_html, link_terms

__all__ = [
    "calibration_figure",
    "unused_figure",
    "holdout_figure",
    "calibrate_report_html",
    "save_calibrate_run",
]


def calibration_figure(res: CalibrationResult) -> Figure:
    """Fitted vs observed in the calibration period: weekly repeat purchases, histogram, values."""
    fig, ax = subplots(1, 3, figsize=(15, 4))
    w = res.calibration_weekly
    ax[0].plot(w["week"], w["observed"], label="observed", color="black")
    ax[0].plot(w["week"], w["fitted"], label="fitted (Pareto/NBD)", color="tab:blue", ls="--")
    ax[0].set(
        xlabel="week of the calibration period",
        ylabel="repeat purchase days",
        title="Weekly repeat purchases",
    )
    ax[0].legend()
    h = res.repeat_histogram
    x = np.arange(len(h))
    ax[1].bar(x - 0.2, h["observed"], 0.4, label="observed", color="0.3")
    ax[1].bar(x + 0.2, h["fitted"], 0.4, label="fitted", color="tab:blue")
    ax[1].set_xticks(x, h["repeat_days"])
    ax[1].set(
        xlabel="repeat purchase days by the cutoff",
        ylabel="customers",
        title="Repeat-purchase histogram",
    )
    ax[1].legend()
    v = res.order_values[res.order_values > 0]
    ax[2].hist(np.log(v), bins=60, density=True, color="0.6", label="observed")
    grid = np.linspace(np.log(v).min(), np.log(v).max(), 200)
    mu, sigma = res.order_value["mu"], res.order_value["sigma"]
    ax[2].plot(grid, stats.norm.pdf(grid, mu, sigma), color="tab:blue", label="fitted log-normal")
    seg = res.scenario.segments["customers"]
    if seg.spend.dist == "invgamma":  # what the engine draws: Gamma(p, 1) x InvGamma(q, gamma)
        rng = np.random.default_rng(0)
        k = 200_000
        sim = rng.gamma(seg.order_value.shape, seg.order_value.scale, k)
        sim *= seg.spend.scale / rng.gamma(seg.spend.shape, 1.0, k)
        ax[2].hist(
            np.log(sim[sim > 0]),
            bins=grid,
            density=True,
            histtype="step",
            color="tab:red",
            label="Gamma-Gamma (the engine's)",
        )
    ax[2].set(xlabel="log order value", ylabel="density", title="Order values")
    ax[2].legend()
    fig.tight_layout()
    return fig


def _unused_panels(res: CalibrationResult) -> list:
    """Plotters of the inflow and seasonality written into the scenario (one axis each)."""
    panels = []
    inflow = res.inflow
    if inflow is not None and inflow.identified:

        def plot_inflow(ax) -> None:  # noqa: ANN001
            w = inflow.weekly
            per_day = w["observed"] / w["days"]
            ax.plot(w["week"], per_day, color="black", label="observed")
            ax.axhline(inflow.rate, color="tab:blue", ls="--", label="fitted rate")
            ax.axhspan(inflow.lower, inflow.upper, color="tab:blue", alpha=0.15, label="95% CI")
            ax.set(
                xlabel="week of the calibration period",
                ylabel="first purchases per day",
                title="Inflow of new customers (market.arrivals)",
            )
            ax.legend()

        panels.append(plot_inflow)
    calendar = getattr(res.scenario, "calendar", None)
    for season in res.seasonality:
        if season.identified:
            key = "day_of_week" if season.kind == "day_of_week" else "month"
            written = bool(getattr(calendar, key, None))
            panels.append(lambda ax, f=season, w=written: _plot_season(ax, f, w))
    return panels


def _plot_season(ax, f, written: bool) -> None:  # noqa: ANN001
    t = f.table
    x = np.arange(len(t))
    ax.bar(x, t["multiplier"], color="tab:blue", alpha=0.7)
    ax.errorbar(x, t["multiplier"], yerr=1.96 * t["se"], fmt="none", color="black", capsize=3)
    ax.axhline(1.0, color="0.4", lw=1)
    ax.set_xticks(x, t["season"])
    name = "Day-of-week" if f.kind == "day_of_week" else "Yearly"
    ax.set(
        ylabel="x mean purchase rate (95% CI)",
        title=f"{name} seasonality (test of none p = {f.p_value:.2g}; "
        + ("in the scenario's calendar)" if written else "not written to the scenario)"),
    )


def unused_figure(res: CalibrationResult) -> Figure:
    """Plot the fitted inflow (market.arrivals) and seasonality (the calendar)."""
    panels = _unused_panels(res)
    fig, ax = subplots(1, len(panels), figsize=(7 * len(panels), 4), squeeze=False)
    for plot, a in zip(panels, ax[0], strict=True):
        plot(a)
    fig.tight_layout()
    return fig


def holdout_figure(res: CalibrationResult) -> Figure:
    """Weekly and cumulative holdout transactions: actual, lifesim and BG/NBD with intervals."""
    fig, ax = subplots(1, 2, figsize=(14, 4.2))
    for chk, color, name in (
        (res.holdout, "tab:blue", "lifesim"),
        (res.baseline, "tab:orange", "BG/NBD"),
    ):
        w = chk.weekly
        ax[0].plot(w["week"], w["predicted"], color=color, label=name)
        ax[0].fill_between(w["week"], w["lower"], w["upper"], color=color, alpha=0.15)
        ax[1].plot(w["week"], w["cum_predicted"], color=color, label=name)
        ax[1].fill_between(w["week"], w["cum_lower"], w["cum_upper"], color=color, alpha=0.15)
    w = res.holdout.weekly
    ax[0].plot(w["week"], w["actual"], color="black", label="actual")
    ax[1].plot(w["week"], w["cum_actual"], color="black", label="actual")
    ax[0].set(xlabel="holdout week", ylabel="purchase days", title="Weekly transactions")
    ax[1].set(xlabel="holdout week", ylabel="purchase days", title="Cumulative transactions")
    for a in ax:
        a.legend()
    fig.tight_layout()
    return fig


def _table(res: CalibrationResult) -> str:
    """Return the fitted parameters as a table.

    A fit that did not converge says so instead of showing its last values (a Gamma-Gamma fit
    that wandered off showed q as a 31-digit number).
    """
    t = res.to_pandas()
    failed = {
        model
        for model, fit in (("Gamma-Gamma (spend)", res.spend),)
        if fit is not None and not fit.converged
    }
    bad = t["model"].isin(failed)
    t["estimate"] = t["estimate"].astype(object)
    t.loc[bad, "estimate"] = "did not converge"
    t.loc[bad, ["se", "lower", "upper"]] = np.nan
    return df_html(t)


def _revenue(chk) -> str:  # noqa: ANN001
    v = chk.revenue
    if v is None:
        return "no forecast"
    return (
        f"{v['predicted']:,.0f} [{v['lower']:,.0f}, {v['upper']:,.0f}] / {v['actual']:,.0f} "
        f"({v['error_pct']:+.1f}%)"
    )


def _holdout_table(res: CalibrationResult) -> str:
    rows = []
    for name, chk in (("lifesim", res.holdout), ("BG/NBD (+ Gamma-Gamma)", res.baseline)):
        sc = chk.scores(res.holdout_actual)
        t = chk.total
        rows.append(
            f"<tr><td>{name}</td><td>{t['predicted']:,.0f} [{t['lower']:,.0f}, "
            f"{t['upper']:,.0f}]</td><td>{t['actual']:,.0f}</td><td>{t['error_pct']:+.1f}%</td>"
            f"<td>{sc['weekly_mape_pct']:.2f}%</td><td>{sc['weeks_in_interval']:.0%}</td>"
            f"<td>{sc['corr']:.3f}</td><td>{sc['mae']:.3f}</td><td>{_revenue(chk)}</td></tr>"
        )
    head = (
        "<tr><th>forecaster</th><th>total predicted [95%]</th><th>actual</th><th>error</th>"
        "<th>cumulative weekly MAPE</th><th>weeks in interval</th><th>per-customer corr</th>"
        "<th>per-customer MAE</th><th>revenue predicted [95%] / actual</th></tr>"
    )
    return scroll(f"<table>{head}{''.join(rows)}</table>")


def calibrate_report_html(res: CalibrationResult, figures: dict[str, str] | None = None) -> str:
    """Return the self-contained HTML report of a calibration."""
    figures = figures if figures is not None else _figures(res)
    p = res.fit.params
    missing = "".join(f"<li>{html.escape(m)}</li>" for m in res.not_identified)
    moves = ""
    if res.stage_transitions is not None:
        moves = (
            "<h2>Observed stage transitions (daily probability; 95% interval)</h2>"
            + res.stage_transitions.to_html(
                index=False, float_format=lambda v: f"{v:,.4g}", border=0
            )
        )
    unused = ""
    if res.also_fitted:
        items = "".join(f"<li>{html.escape(m)}</li>" for m in res.also_fitted)
        unused = f"<h2>Inflow and seasonality (in the scenario)</h2><ul>{items}</ul>"
    if res.not_used:
        items = "".join(f"<li>{html.escape(m)}</li>" for m in res.not_used)
        unused += f"<h2>Fitted but not used by the engine</h2><ul>{items}</ul>"
    if unused and "inflow_seasonality" in figures:
        img = figures["inflow_seasonality"]
        unused += f'<img src="data:image/png;base64,{img}" alt="inflow, seasonality">'

    conv = "".join(f"<li>{link_terms(html.escape(c))}</li>" for c in CONVENTIONS)
    verdict = ""
    holdout = ""
    if res.holdout is not None:
        a, b = res.holdout.total, res.baseline.total
        better = abs(a["error_pct"]) <= abs(b["error_pct"])
        verdict = (
            f"<p><b>Forecast check.</b> Over the holdout to {html.escape(res.holdout_end)}, "
            f"lifesim predicted {a['predicted']:,.0f} purchase days [{a['lower']:,.0f}, "
            f"{a['upper']:,.0f}] against {a['actual']:,.0f} that happened "
            f"({a['error_pct']:+.1f}%); BG/NBD {b['predicted']:,.0f} ({b['error_pct']:+.1f}%). "
            f"lifesim's total is {'as close as or closer than' if better else 'further than'} "
            "the classic model's.</p>"
        )
        holdout = (
            "<h2>Holdout forecast</h2>"
            + _holdout_table(res)
            + f'<img src="data:image/png;base64,{figures["holdout"]}" alt="holdout forecast">'
        )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>lifesim calibrate</title><style>{_CSS}</style></head><body>
<h1>Calibration: {html.escape(res.source)}</h1>
{calibration_decision(res).html()}
<p>{res.customers:,} customers with a first purchase by {html.escape(res.cutoff)},
{res.purchase_days:,} purchase days, {res.repeat_buyers:,} repeat buyers. While alive a
customer buys {p["r"] / p["alpha"] * 7:.3g} times a week on average; across customers the
purchase rate varies with a coefficient of variation of {p["r"] ** -0.5:.3g} (1 / sqrt(r),
r = {p["r"]:.3g}) and the dropout rate with one of {p["s"] ** -0.5:.3g} (1 / sqrt(s),
s = {p["s"]:.3g}).</p>
{verdict}
<div class="warn"><b>Not identified by this data</b> (taken from the base scenario):
<ul>{missing}</ul></div>
<h2>Fitted parameters (days; 95% intervals)</h2>{_table(res)}
<h2>Fitted vs observed (calibration period)</h2>
<img src="data:image/png;base64,{figures["calibration"]}" alt="fitted vs observed">
{moves}
{unused}
{holdout}
<h2>Conventions</h2><ul>{conv}</ul>{glossary_html()}</body></html>"""


def _figures(res: CalibrationResult) -> dict[str, str]:
    out = {"calibration": _literal(calibration_figure, res)}
    if _unused_panels(res):  # written as inflow_seasonality.png (in the scenario or not)
        out["inflow_seasonality"] = _literal(unused_figure, res)
    if res.holdout is not None:
        out["holdout"] = _literal(holdout_figure, res)
    return out


def save_calibrate_run(
    res: CalibrationResult, out: str | Path, *, overwrite: bool = False, inputs: Iterable = ()
) -> Path:
    """Write the run folder atomically: scenario, fit, draws, tables, plots, ``report.html``."""
    out = Path(out)
    with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
        res.save_tables(tmp)
        figs = _figures(res)
        for name, fig in figs.items():
            (tmp / f"{name}.png").write_bytes(base64.b64decode(fig))
        (tmp / "report.html").write_text(calibrate_report_html(res, figs), encoding="utf-8")
    return out
