"""The result of :func:`lifesim.calibrate`: fit, scenario, draws, holdout check."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lifesim._io import atomic_dir
from lifesim._progress import ProgressLike, as_progress
from lifesim.config import Scenario
from lifesim.errors import ConfigError
from lifesim.experiments.calibration.correlation import CorrelationFit
from lifesim.experiments.calibration.forecast import HoldoutCheck
from lifesim.experiments.calibration.inflow import Inflow
from lifesim.experiments.calibration.models import Fit, Summary
from lifesim.experiments.calibration.seasonality import SeasonalFit

__all__ = ["CalibrationResult", "MEANING", "CONVENTIONS"]

MEANING = {
    "r": "shape of the purchase-rate distribution (heterogeneity: small = very unequal)",
    "alpha": "rate (days) of the purchase-rate distribution; mean purchase rate = r / alpha",
    "s": "shape of the dropout-rate distribution (heterogeneity)",
    "beta": "rate (days) of the dropout-rate distribution; mean dropout rate = s / beta",
    "a": "BG/NBD: dropout-probability Beta(a, b) after each purchase",
    "p": "Gamma-Gamma: shape of each customer's order values (their mean is p / nu)",
    "q": "Gamma-Gamma: shape of nu across customers (mean order value p gamma / (q - 1))",
    "gamma": "Gamma-Gamma: scale of nu across customers",
    "b": "BG/NBD: dropout-probability Beta(a, b) after each purchase",
    "order_value_mu": "mean of log order value (an order = one customer's purchases in a day)",
    "order_value_sigma": "sd of log order value",
    "spend_p": "Gamma-Gamma p (scenario: segments.customers.order_value.shape)",
    "spend_q": "Gamma-Gamma q (scenario: segments.customers.spend.shape)",
    "spend_gamma": "Gamma-Gamma gamma (scenario: segments.customers.spend.scale)",
}

CONVENTIONS = [
    "time unit: days; an order is one customer's purchases on one day (the engine makes at "
    "most one order per person and day); x = repeat purchase days up to the cutoff",
    "fit: maximum likelihood; standard errors from the inverse Hessian of the log-likelihood "
    "on the log-parameter scale; 95% intervals exp(log estimate +- 1.96 se) (order value "
    "mu and sigma, already on the log scale: estimate +- 1.96 se); se column: delta method",
    "draws: parametric, from the asymptotic normal of the log-parameters (an approximation of "
    "the posterior with flat priors on the log scale), restricted to parameter sets that make a "
    "valid scenario (a draw outside is drawn again; fit.json counts them)",
    "holdout intervals (lifesim): 2.5%-97.5% quantiles over parameter draws, each with its own "
    "cutoff state and simulation; BG/NBD intervals: parameter uncertainty only",
    "weekly MAPE: mean over holdout weeks of |predicted - actual| / actual of cumulative "
    "transactions, in %",
]


def _num(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        v = float(v)
        return v if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _fit_dict(fit: Fit) -> dict[str, Any]:
    lo, hi = fit.interval()
    return {
        "method": f"{fit.model}, maximum likelihood",
        "loglik": fit.loglik,
        "converged": fit.converged,
        "parameters": {
            name: {
                "estimate": _num(fit.estimate[i]),
                "se": _num(fit.se[i]),
                "lower": _num(lo[i]),
                "upper": _num(hi[i]),
                "meaning": MEANING.get(name, ""),
            }
            for i, name in enumerate(fit.names)
        },
    }


def _check_dict(check: HoldoutCheck, actual: np.ndarray) -> dict[str, Any]:
    sc = check.scores(actual)
    out = {
        "method": check.method,
        "draws": check.draws,
        "total": {k: _num(v) for k, v in check.total.items()},
        "weekly_mape_pct": _num(sc["weekly_mape_pct"]),
        "weeks_in_interval": _num(sc["weeks_in_interval"]),
        "per_customer": {"corr": _num(sc["corr"]), "mae": _num(sc["mae"])},
    }
    if check.revenue is not None:
        out["revenue"] = {k: _num(v) for k, v in check.revenue.items()}
    if check.active is not None:
        out["active_customers"] = {k: _num(v) for k, v in check.active.items()}
    return out


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """A scenario fitted to a business's transaction log, with its uncertainty and checks.

    Attributes
    ----------
    source : str
        The log (path or description).
    cutoff, holdout_end : str or None
        As the user gave them (the log's own format).
    customers, purchase_days, repeat_buyers, rows : int
        Customers with a first purchase by the cutoff, their purchase days and how many
        bought again, and the rows of the log.
    fit : Fit
        Pareto/NBD (days): the model the scenario's customer stages implement.
    bgnbd : Fit
        BG/NBD on the same data (the classic baseline).
    order_value : dict
        ``mu``, ``sigma`` (log-normal MLE), their standard errors and ``n`` orders (the
        scenario's order values when the Gamma-Gamma spend model is not identified).
    scenario : Scenario
        The calibrated scenario (``scenario.yaml`` in the run folder).
    scenario_yaml : str
        Its YAML text, a comment on each fitted value.
    not_identified : list of str
        What the data cannot identify (taken from the base scenario).
    draws : DataFrame
        Parameter sets representing the fit's uncertainty (``draws.parquet``): the model
        parameters, and the scenario key paths they set (``stages.retention.buy.p``, ...),
        which ``lifesim compare --parameter-draws`` applies draw by draw.
    holdout, baseline : HoldoutCheck or None
        The forecast check of lifesim and of BG/NBD (with ``holdout_end``).
    holdout_actual : ndarray or None
        Actual holdout purchase days per customer.
    calibration_weekly : DataFrame
        Observed and fitted repeat purchase days per week of the calibration period.
    repeat_histogram : DataFrame
        Customers by repeat purchase days: observed and fitted (mean of simulated histories).
    elapsed_s : float
    inflow : Inflow or None
        First purchases per day over the calibration period (when the log covers
        acquisition; see :mod:`lifesim.experiments.calibration.inflow`).
    not_used : list of str
        What was fitted but has no place in a scenario (empty now that the engine has
        arrivals and a calendar; kept for the fit.json key ``fitted_not_used_by_engine``).
    seasonality : tuple of SeasonalFit
        Day-of-week and yearly multipliers of the repeat purchase rate, or why they are not
        identified (see :mod:`lifesim.experiments.calibration.seasonality`).
    spend : Fit or None
        Gamma-Gamma spend model (``p, q, gamma``), fitted to the mean repeat order value of
        the repeat buyers: the scenario's per-customer spend (when ``q > 1``) and the BG/NBD
        baseline's revenue forecast (see :mod:`lifesim.experiments.calibration.spend`).
    correlation : CorrelationFit or None
        Gaussian-copula correlation of purchase and dropout rates (profile likelihood; see
        :mod:`lifesim.experiments.calibration.correlation`), written into the scenario when
        its test of none rejects at 5%.
    repeat_value : ndarray or None
        Each customer's mean repeat order value by the cutoff (0 without one), from which
        their spend is drawn.
    stage_transitions : DataFrame or None
        Observed moves between stages (with an event log): ``from_stage``, ``to_stage``,
        ``moves``, ``days_at_risk``, ``p_per_day``, ``lower``, ``upper`` and ``scenario``
        (the key path written, or why not; see :mod:`lifesim.experiments.calibration.stages`).
    """

    source: str
    cutoff: str
    holdout_end: str | None
    customers: int
    purchase_days: int
    repeat_buyers: int
    rows: int
    fit: Fit
    bgnbd: Fit
    order_value: dict[str, float]
    scenario: Scenario
    scenario_yaml: str
    not_identified: list[str]
    draws: pd.DataFrame
    holdout: HoldoutCheck | None
    baseline: HoldoutCheck | None
    holdout_actual: np.ndarray | None
    calibration_weekly: pd.DataFrame
    repeat_histogram: pd.DataFrame
    order_values: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    elapsed_s: float = 0.0
    customer_summary: Summary | None = field(repr=False, default=None)
    draws_rejected: int = 0
    inflow: Inflow | None = None
    not_used: list[str] = field(default_factory=list)
    seasonality: tuple[SeasonalFit, ...] = ()
    stage_transitions: pd.DataFrame | None = None
    spend: Fit | None = None
    repeat_value: np.ndarray | None = field(repr=False, default=None)
    correlation: CorrelationFit | None = None

    def forecast(
        self,
        days: int,
        *,
        draws: int = 50,
        seed: int = 0,
        progress: ProgressLike = None,
    ) -> pd.DataFrame:
        """Forecast the customers' purchase days for ``days`` days after the cutoff.

        Each of the first ``draws`` parameter draws gets its own cutoff state and simulation
        (as the holdout check does). Returns one row per week: ``predicted``, ``lower``,
        ``upper`` (2.5%-97.5% over draws) and the same cumulated (``cum_*``). ``progress``:
        ``callable(done, total)``, called after each draw's simulation, or ``True`` for a
        progress bar.
        """
        from lifesim.experiments.calibration.forecast import holdout_check

        if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
            raise ConfigError([("days", f"must be a whole number >= 1, got {days!r}")])
        bad = isinstance(draws, bool) or not isinstance(draws, int | np.integer)
        if bad or not 2 <= draws <= len(self.draws):
            raise ConfigError(
                [("draws", f"must be a whole number in 2..{len(self.draws)}, got {draws!r}")]
            )
        theta = self.draws[["r", "alpha", "s", "beta"]].to_numpy()[:draws]
        spend = None
        if "spend_p" in self.draws.columns and self.repeat_value is not None:
            gg = self.draws[["spend_p", "spend_q", "spend_gamma"]].to_numpy()[:draws]
            spend = (gg, self.repeat_value)
        progress = as_progress(progress, int(draws), "forecast", "draws")
        empty = np.zeros(0, np.int64)
        chk = holdout_check(
            self.scenario,
            self.fit,
            theta,
            self.customer_summary,
            empty + 1,
            empty,
            np.zeros(0),
            int(days),
            np.random.SeedSequence(seed),
            progress,
            spend=spend,
        )
        return chk.weekly.drop(columns=["actual", "cum_actual"])

    def to_pandas(self) -> pd.DataFrame:
        """Every fitted parameter: estimate, standard error, 95% interval, meaning."""
        rows = []
        fits = [("Pareto/NBD", self.fit), ("BG/NBD (baseline)", self.bgnbd)]
        if self.spend is not None:
            fits.append(("Gamma-Gamma (spend)", self.spend))
        for model, fit in fits:
            lo, hi = fit.interval()
            for i, name in enumerate(fit.names):
                rows.append((model, name, fit.estimate[i], fit.se[i], lo[i], hi[i]))
        ov = self.order_value
        for name in ("mu", "sigma"):
            est, se = ov[name], ov[f"se_{name}"]
            rows.append(("order value", name, est, se, est - 1.96 * se, est + 1.96 * se))
        return pd.DataFrame(
            rows, columns=["model", "parameter", "estimate", "se", "lower", "upper"]
        )

    @property
    def _uses_spend(self) -> bool:
        """Whether the scenario's customers have the Gamma-Gamma spend model."""
        return self.spend is not None and "spend_p" in self.draws.columns

    @property
    def also_fitted(self) -> list[str]:
        """Lines for what was fitted beside the Pareto/NBD and written into the scenario."""
        fits = [self.inflow, *self.seasonality] if self.inflow is not None else []
        out = [f.summary_line() for f in fits if f.identified]
        c = self.correlation
        if c is not None and self.scenario.segments["customers"].dropout_correlation != 0:
            out.append(f"{c.summary_line()}; written as segments.customers.dropout_correlation")
        return out

    def _observed(self, column: str) -> bool:
        t = self.stage_transitions
        return t is not None and column in set(t["scenario"])

    def to_dict(self) -> dict[str, Any]:
        """Return the content of ``fit.json``."""
        ov = self.order_value
        out: dict[str, Any] = {
            "source": self.source,
            "cutoff": self.cutoff,
            "holdout_end": self.holdout_end,
            "time_unit": "day",
            "customers": self.customers,
            "transactions": self.rows,
            "purchase_days": self.purchase_days,
            "repeat_buyers": self.repeat_buyers,
            **_fit_dict(self.fit),
            "order_value": {
                "method": "log-normal, maximum likelihood on order values (per purchase day)"
                + ("; not used by the engine (see spend)" if self._uses_spend else ""),
                "n": int(ov["n"]),
                "parameters": {
                    name: {
                        "estimate": ov[name],
                        "se": ov[f"se_{name}"],
                        "lower": ov[name] - 1.96 * ov[f"se_{name}"],
                        "upper": ov[name] + 1.96 * ov[f"se_{name}"],
                        "meaning": MEANING[f"order_value_{name}"],
                    }
                    for name in ("mu", "sigma")
                },
            },
            "not_identified": list(self.not_identified),
            "fitted_not_used_by_engine": list(self.not_used),
            "draws": {
                "n": len(self.draws),
                "method": CONVENTIONS[2].split(": ", 1)[1],
                "rejected": self.draws_rejected,
                "observed_transitions": [c for c in self.draws.columns if self._observed(c)],
            },
            "conventions": CONVENTIONS,
            "baseline_bgnbd": {"fit": _fit_dict(self.bgnbd)},
        }
        if self._uses_spend:
            out["spend"] = {
                **_fit_dict(self.spend),
                "repeat_buyers_used": self.spend.n,
                "used_by_engine": "segments.customers.order_value ~ Gamma(p, 1) times each "
                "customer's spend ~ InvGamma(q, gamma); --from-log and the holdout check draw "
                "each customer's spend from its posterior given their repeat orders",
            }
        if self.spend is not None:
            out["baseline_bgnbd"]["spend"] = {
                **_fit_dict(self.spend),
                "repeat_buyers_used": self.spend.n,
                "note": "mean value of each repeat buyer's repeat orders (the first order left "
                "out; customers whose repeat orders are all 0 left out); revenue forecast "
                "sum_i E[X_i] E[M_i]",
            }
        if self.correlation is not None:
            written = self.scenario.segments["customers"].dropout_correlation != 0
            out["correlation"] = {**self.correlation.to_dict(), "used_by_engine": bool(written)}
        if self.inflow is not None:
            out["inflow"] = self.inflow.to_dict()
        if self.seasonality:
            out["seasonality"] = {f.kind: f.to_dict() for f in self.seasonality}
        if self.stage_transitions is not None:
            out["stage_transitions"] = {
                "method": "discrete-time maximum likelihood: moves / days at risk in the "
                "stage (entry to next event or cutoff); exact Poisson 95% interval; "
                "draws.parquet draws the written ones from Gamma(moves + 1/2, days at risk) "
                "(Jeffreys), unless the largest draws would make an invalid scenario (then "
                "they stay fixed: see draws.observed_transitions)",
                "moves": [
                    {k: _num(v) for k, v in row.items()}
                    for row in self.stage_transitions.to_dict("records")
                ],
            }
        if self.holdout is not None and self.holdout_actual is not None:
            out["holdout"] = _check_dict(self.holdout, self.holdout_actual)
            out["baseline_bgnbd"].update(_check_dict(self.baseline, self.holdout_actual))
        return out

    def summary(self) -> str:
        """Plain-text summary: the fit, what is not identified, the holdout check."""
        p = self.fit.params
        lines = [
            f"lifesim calibrate: {self.source}, cutoff {self.cutoff}"
            + (f", holdout to {self.holdout_end}" if self.holdout_end else ""),
            f"{self.customers:,} customers, {self.purchase_days:,} purchase days "
            f"({self.rows:,} rows), {self.repeat_buyers:,} repeat buyers",
            "",
            "fitted (days; 95% interval):",
        ]
        tab = self.to_pandas()
        failed = (
            {"Gamma-Gamma (spend)"}
            if self.spend is not None and not self.spend.converged
            else set()
        )
        for row in tab.itertuples():
            if row.model in failed:  # its last values mean nothing (q ran off to 1e30)
                lines.append(f"  {row.model:<18} {row.parameter:<6} {'did not converge':>10}")
                continue
            lines.append(
                f"  {row.model:<18} {row.parameter:<6} {row.estimate:>10.4g}  "
                f"[{row.lower:.4g}, {row.upper:.4g}]  se {row.se:.3g}"
            )
        lines += [
            f"  mean purchase rate {p['r'] / p['alpha'] * 7:.3g}/week while alive; median "
            f"lifetime {p['beta'] * (2 ** (1 / p['s']) - 1) / 7:.3g} weeks, mean "
            + (
                f"{p['beta'] / (p['s'] - 1) / 7:.3g} weeks"
                if p["s"] > 1
                else "infinite (s <= 1: heavy-tailed lifetimes)"
            ),
            f"  log-likelihood {self.fit.loglik:,.2f} (BG/NBD {self.bgnbd.loglik:,.2f})",
            "",
            "not identified by this data (from the base scenario):",
            *[f"  - {t}" for t in self.not_identified],
        ]
        if self.stage_transitions is not None:
            lines += ["", "observed stage transitions (daily probability; 95% interval):"]
            for row in self.stage_transitions.itertuples():
                lines.append(
                    f"  {row.from_stage} -> {row.to_stage}: {row.p_per_day:.4g} "
                    f"[{row.lower:.4g}, {row.upper:.4g}] ({row.moves:,} moves / "
                    f"{row.days_at_risk:,.0f} days); {row.scenario}"
                )
        if self.also_fitted:
            lines += ["", "also fitted (in the scenario):"]
            lines += [f"  - {t}" for t in self.also_fitted]
        if self.not_used:
            lines += ["", "fitted but not used by the engine:"]
            lines += [f"  - {t}" for t in self.not_used]
        if self.holdout is not None:
            lines += ["", f"holdout check (to {self.holdout_end}):"]
            for name, chk in (("lifesim", self.holdout), ("BG/NBD", self.baseline)):
                sc = chk.scores(self.holdout_actual)
                t = chk.total
                lines.append(
                    f"  {name:<8} total {t['predicted']:,.0f} [{t['lower']:,.0f}, "
                    f"{t['upper']:,.0f}] vs actual {t['actual']:,.0f} "
                    f"({t['error_pct']:+.1f}%); cumulative weekly MAPE "
                    f"{sc['weekly_mape_pct']:.2f}%; weeks in interval "
                    f"{sc['weeks_in_interval']:.0%}; per customer corr {sc['corr']:.3f}, "
                    f"MAE {sc['mae']:.3f}"
                )
            for name, chk in (("lifesim", self.holdout), ("BG/NBD", self.baseline)):
                if chk.active is not None:
                    v = chk.active
                    lines.append(
                        f"  {name:<8} active customers (>= 1 purchase) {v['predicted']:,.0f} "
                        f"[{v['lower']:,.0f}, {v['upper']:,.0f}] vs actual {v['actual']:,.0f} "
                        f"({v['error_pct']:+.1f}%)"
                    )
            for name, chk in (("lifesim", self.holdout), ("BG/NBD+GG", self.baseline)):
                if chk.revenue is None:
                    lines.append(
                        f"  {name:<8} revenue: no forecast (the Gamma-Gamma fit did not "
                        "converge: do order values differ between customers?)"
                    )
                    continue
                v = chk.revenue
                lines.append(
                    f"  {name:<8} revenue {v['predicted']:,.0f} [{v['lower']:,.0f}, "
                    f"{v['upper']:,.0f}] vs actual {v['actual']:,.0f} ({v['error_pct']:+.1f}%)"
                )
        lines += ["", "conventions:", *[f"  - {c}" for c in CONVENTIONS]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (
            "<h3>lifesim calibrate</h3><pre>"
            + html.escape(self.summary())
            + "</pre>"
            + self.to_pandas().to_html(index=False, float_format=lambda v: f"{v:.4g}")
        )

    def save_tables(self, folder: Path) -> None:
        """Write ``scenario.yaml``, ``fit.json``, ``draws.parquet`` and the check tables."""
        (folder / "scenario.yaml").write_text(self.scenario_yaml, encoding="utf-8")
        (folder / "fit.json").write_text(json.dumps(self.to_dict(), indent=2), "utf-8")
        self.draws.to_parquet(folder / "draws.parquet", index=False)
        self.to_pandas().to_csv(folder / "parameters.csv", index=False)
        self.calibration_weekly.to_csv(folder / "calibration_weekly.csv", index=False)
        self.repeat_histogram.to_csv(folder / "repeat_histogram.csv", index=False)
        if self.inflow is not None:
            self.inflow.weekly.to_csv(folder / "inflow_weekly.csv", index=False)
        if self.stage_transitions is not None:
            self.stage_transitions.to_csv(folder / "stage_transitions.csv", index=False)
        for f in self.seasonality:
            if f.table is not None:
                f.table.to_csv(folder / f"seasonality_{f.kind}.csv", index=False)
        if self.holdout is not None:
            self.holdout.weekly.to_csv(folder / "holdout_weekly.csv", index=False)
            self.baseline.weekly.to_csv(folder / "holdout_weekly_bgnbd.csv", index=False)
            self.holdout.histogram.to_csv(folder / "holdout_histogram.csv", index=False)
        (folder / "summary.txt").write_text(self.summary() + "\n", encoding="utf-8")

    def save(self, out: str | Path, *, overwrite: bool = False, inputs: Iterable = ()) -> Path:
        """Write the run folder (tables only; :mod:`lifesim.report` adds plots and HTML)."""
        out = Path(out)
        with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            self.save_tables(tmp)
        return out
