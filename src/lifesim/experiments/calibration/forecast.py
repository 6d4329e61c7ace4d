"""Forecast the holdout with the simulator, from the real customers at the cutoff.

For each parameter draw ``(r, alpha, s, beta)`` every customer's state at the cutoff is drawn
from its conditional distribution given their own history ``(x, t_x, T)`` under the
Pareto/NBD: alive with probability ``P(alive)``, and if alive a purchase rate
``Gamma(r + x, alpha + T)`` and a dropout rate ``Gamma(s, beta + T)`` (given survival to ``T``
the two posteriors are independent). With the Gamma-Gamma spend model (a calibrated scenario
whose customers have an inverse-gamma ``spend``), each customer's spend is drawn from its own
posterior too: ``nu ~ Gamma(q + p x, gamma + m x)`` given ``x`` repeat orders of mean value
``m`` (prior ``Gamma(q, gamma)`` without any), spend ``p' / (p nu)`` (the draw's ``p'`` over
the scenario's ``p``: the customer's mean order ``p' / nu``). The calibrated scenario then
runs the holdout from that market with the draw's own random numbers. Intervals are the 2.5%
and 97.5% quantiles over draws, so they hold parameter uncertainty and simulation noise
together.

The classic baseline, BG/NBD fitted to the same data, forecasts in closed form (Fader, Hardie
& Lee 2005, eq. 10); its intervals cover parameter uncertainty only (draws from the
asymptotic normal of its log-parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifesim.config import Scenario
from lifesim.engine import simulate
from lifesim.experiments.calibration.models import (
    Fit,
    Summary,
    bg_nbd_active,
    bg_nbd_expected,
    pareto_nbd_p_alive,
)

__all__ = [
    "HoldoutCheck",
    "holdout_check",
    "cutoff_state",
    "SpendState",
    "spend_params",
    "customer_segment",
]


@dataclass(frozen=True)
class HoldoutCheck:
    """Predicted vs actual over the holdout, for one forecaster.

    Attributes
    ----------
    method : str
    weekly : DataFrame
        Per week of the holdout: ``actual``, ``predicted``, ``lower``, ``upper`` (transactions
        in the week) and the same four cumulated (``cum_*``).
    per_customer : ndarray
        Mean predicted purchase days per customer (table order).
    total : dict
        ``predicted``, ``actual``, ``lower``, ``upper``, ``error_pct``.
    histogram : DataFrame
        Customers by holdout purchase count (0 .. 7+): ``actual``, ``predicted``.
    revenue : dict or None
        ``predicted``, ``actual``, ``lower``, ``upper``, ``error_pct``.
    draws : int
    active : dict or None
        Customers (of the cutoff) with at least one purchase in the holdout: ``predicted``,
        ``actual``, ``lower``, ``upper``, ``error_pct``.
    """

    method: str
    weekly: pd.DataFrame
    per_customer: np.ndarray
    total: dict[str, float]
    histogram: pd.DataFrame
    revenue: dict[str, float] | None
    draws: int
    active: dict[str, float] | None = None

    def scores(self, actual: np.ndarray) -> dict[str, float]:
        """MAPE of cumulative weekly transactions, interval hit rate, per-customer fit."""
        w = self.weekly
        ok = w["cum_actual"] > 0
        mape = float(
            (abs(w["cum_predicted"] - w["cum_actual"])[ok] / w["cum_actual"][ok]).mean() * 100
        )
        inside = ((w["actual"] >= w["lower"]) & (w["actual"] <= w["upper"])).mean()
        corr = (
            float(np.corrcoef(self.per_customer, actual)[0, 1])
            if np.std(actual) > 0 and np.std(self.per_customer) > 0
            else float("nan")
        )
        return {
            "weekly_mape_pct": mape,
            "weeks_in_interval": float(inside),
            "corr": corr,
            "mae": float(np.mean(np.abs(self.per_customer - actual))),
        }


def _weeks(h: int) -> int:
    return -(-h // 7)


def _hist(counts: np.ndarray) -> np.ndarray:
    return np.bincount(np.minimum(counts, 7), minlength=8)[:8]


@dataclass(frozen=True)
class SpendState:
    """What a customer's spend is drawn from.

    Gamma-Gamma ``(p, q, gamma)``, the mean of the scenario's ``order_value`` and each
    customer's mean repeat order value ``m`` (0: none).
    """

    params: np.ndarray
    order_mean: float
    m: np.ndarray

    def draw(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each customer's spend multiplier (see the module docstring)."""
        p, q, g = self.params
        xs = np.where(self.m > 0, x, 0.0)  # all-zero repeat orders say nothing (not in the fit)
        nu = rng.gamma(q + p * xs, 1.0 / (g + self.m * xs))
        return p / (self.order_mean * nu)


def customer_segment(scn: Scenario):  # noqa: ANN201 - a config Segment
    """Return the segment of a calibrated scenario's customers (the first with a share)."""
    return next(sg for sg in scn.segments.values() if sg.share > 0)


def spend_params(scn: Scenario) -> tuple[np.ndarray, float] | None:
    """Gamma-Gamma ``(p, q, gamma)`` of a scenario and its order-value mean (None: no model).

    ``order_value ~ Gamma(p, scale c)`` times ``spend ~ InvGamma(q, g)`` is Gamma-Gamma with
    ``gamma = g c``; ``lifesim calibrate`` writes ``c = 1``.
    """
    seg = customer_segment(scn)
    ov, sp = seg.order_value, seg.spend
    if sp.dist != "invgamma" or ov.dist != "gamma":
        return None
    params = np.array([float(ov.shape), float(sp.shape), float(sp.scale * ov.scale)])
    return params, float(ov.shape * ov.scale)


def cutoff_state(
    params: np.ndarray,
    s: Summary,
    buy_p: float,
    churn_p: float,
    rng: np.random.Generator,
    alive_stage: str,
    dead_stage: str,
    spend: SpendState | None = None,
    rho: float = 0.0,
) -> dict[str, np.ndarray]:
    """Draw each customer's state at the cutoff given their history (see module docstring).

    ``rho``: the copula correlation of purchase and dropout rates (see
    :func:`lifesim.experiments.calibration.correlation.correlated_state`).
    """
    r, alpha, sh, beta = params
    if rho != 0:
        from lifesim.experiments.calibration.correlation import correlated_state

        alive, lam, mu = correlated_state(params, rho, s, rng)
    else:
        p = pareto_nbd_p_alive(params, s.x, s.t_x, s.T)
        alive = rng.random(len(p)) < p
        lam = rng.gamma(r + s.x, 1.0 / (alpha + s.T))
        mu = rng.gamma(sh, 1.0 / (beta + s.T))
    out = {
        "stage": np.where(alive, alive_stage, dead_stage),
        "propensity": np.where(alive, lam / buy_p, 0.0),
        "dropout": mu / churn_p,
    }
    if spend is not None:
        out["spend"] = spend.draw(s.x, rng)
    return out


def _stage_of_kind(scn: Scenario, kind: str, buying: bool = False) -> str:
    for name, st in scn.stages.items():
        if st.kind == kind and (not buying or st.buy is not None):
            return name
    raise ValueError(f"the scenario has no {kind} stage{' that buys' if buying else ''}")


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.quantile(values, 0.025, axis=0), np.quantile(values, 0.975, axis=0)


def _total(pred: np.ndarray, actual: float) -> dict[str, float]:
    lo, hi = _band(pred)
    mean = float(pred.mean())
    return {
        "predicted": mean,
        "actual": float(actual),
        "lower": float(lo),
        "upper": float(hi),
        "error_pct": float((mean - actual) / actual * 100) if actual else float("nan"),
    }


def _weekly(pred: np.ndarray, actual: np.ndarray) -> pd.DataFrame:
    cum = np.cumsum(pred, axis=1)
    lo, hi = _band(pred)
    clo, chi = _band(cum)
    return pd.DataFrame(
        {
            "week": np.arange(1, len(actual) + 1),
            "actual": actual,
            "predicted": pred.mean(axis=0),
            "lower": lo,
            "upper": hi,
            "cum_actual": np.cumsum(actual),
            "cum_predicted": cum.mean(axis=0),
            "cum_lower": clo,
            "cum_upper": chi,
        }
    )


def holdout_check(
    scn: Scenario,
    fit: Fit,
    draws: np.ndarray,
    s: Summary,
    holdout_days: np.ndarray,
    holdout_cust: np.ndarray,
    holdout_amount: np.ndarray,
    horizon: int,
    seed: np.random.SeedSequence,
    progress: Callable[[int, int], None] | None = None,
    spend: tuple[np.ndarray, np.ndarray] | None = None,
) -> HoldoutCheck:
    """Simulate the holdout under each parameter draw; compare with what happened.

    ``holdout_days`` are days since the cutoff (1 = the day after), ``holdout_cust`` table
    positions of the customers who ordered. ``spend``: Gamma-Gamma draws ``(p, q, gamma)``
    (one row per parameter draw) and each customer's mean repeat order value, for a scenario
    with the spend model (see :func:`spend_params`).
    """
    n, k = len(s.x), len(draws)
    weeks = _weeks(horizon)
    alive_stage = _stage_of_kind(scn, "customer", buying=True)
    dead_stage = _stage_of_kind(scn, "churned")
    buy_p = scn.stages[alive_stage].buy.p
    churn_p = next(
        tr.p for dst, tr in scn.stages[alive_stage].to.items() if scn.stages[dst].kind == "churned"
    )
    wk = np.zeros((k, weeks))
    per = np.zeros(n)
    hists = np.zeros((k, 8))
    totals = np.zeros(k)
    revenue = np.zeros(k)
    children = seed.spawn(k)
    gg = spend_params(scn)
    rho = float(customer_segment(scn).dropout_correlation)
    if spend is not None and gg is None:
        raise ValueError("spend draws given for a scenario without the Gamma-Gamma spend model")
    for i, (theta, child) in enumerate(zip(draws, children, strict=True)):
        state_ss, sim_ss = child.spawn(2)
        sp = None
        if gg is not None:
            m = spend[1] if spend is not None else np.zeros(n)
            sp = SpendState(spend[0][i] if spend is not None else gg[0], gg[1], m)
        state = cutoff_state(
            theta,
            s,
            buy_p,
            churn_p,
            np.random.default_rng(state_ss),
            alive_stage,
            dead_stage,
            sp,
            rho,
        )
        res = simulate(scn, seed=sim_ss, days=horizon, record_events=False, initial=state)
        pur = res.purchases
        pur = pur[pur["person"].to_numpy() < n]  # the customers at the cutoff, not arrivals
        day = pur["day"].to_numpy()
        who = pur["person"].to_numpy()
        wk[i] = np.bincount(day // 7, minlength=weeks)[:weeks]
        counts = np.bincount(who, minlength=n)
        per += counts
        hists[i] = _hist(counts)
        totals[i] = len(day)
        revenue[i] = float(pur["amount"].sum())
        if progress is not None:
            progress(i + 1, k)
    actual_w = np.bincount((holdout_days - 1) // 7, minlength=weeks)[:weeks].astype(float)
    actual_c = np.bincount(holdout_cust, minlength=n)
    hist = pd.DataFrame(
        {
            "count": [*map(str, range(7)), "7+"],
            "actual": _hist(actual_c),
            "predicted": hists.mean(axis=0),
        }
    )
    return HoldoutCheck(
        method="lifesim (Pareto/NBD-calibrated simulation from the cutoff state)",
        weekly=_weekly(wk, actual_w),
        per_customer=per / k,
        total=_total(totals, float(len(holdout_days))),
        histogram=hist,
        revenue=_total(revenue, float(holdout_amount.sum())),
        draws=k,
        active=_total(n - hists[:, 0], float((actual_c > 0).sum())),
    )


def bgnbd_check(
    fit: Fit,
    draws: np.ndarray,
    s: Summary,
    holdout_days: np.ndarray,
    holdout_cust: np.ndarray,
    horizon: int,
    spend: tuple[Fit, np.ndarray, np.ndarray, float] | None = None,
) -> HoldoutCheck:
    """Forecast the same holdout with the BG/NBD baseline (closed form).

    ``spend``: ``(gamma_gamma_fit, its parameter draws, each customer's mean repeat order
    value, the actual holdout revenue)``: the revenue forecast ``sum_i E[X_i] E[M_i]`` (see
    :mod:`lifesim.experiments.calibration.spend`), its interval from the draws of both models.
    """
    n = len(s.x)
    weeks = _weeks(horizon)
    t_end = np.minimum(np.arange(1, weeks + 1) * 7, horizon).astype(float)

    def cum_weekly(theta):
        return np.array([bg_nbd_expected(theta, t, s.x, s.t_x, s.T).sum() for t in t_end])

    point = cum_weekly(fit.estimate)
    per = bg_nbd_expected(fit.estimate, float(horizon), s.x, s.t_x, s.T)
    cum_draws = np.array([cum_weekly(th) for th in draws])
    inc_draws = np.diff(cum_draws, axis=1, prepend=0.0)
    actual_w = np.bincount((holdout_days - 1) // 7, minlength=weeks)[:weeks].astype(float)
    weekly = _weekly(inc_draws, actual_w)
    weekly["predicted"] = np.diff(point, prepend=0.0)  # the point forecast, not the draws' mean
    weekly["cum_predicted"] = point
    actual_c = np.bincount(holdout_cust, minlength=n)
    total = _total(cum_draws[:, -1], float(len(holdout_days)))
    total["predicted"] = float(point[-1])
    total["error_pct"] = float((point[-1] - total["actual"]) / total["actual"] * 100)
    revenue = None
    if spend is not None:
        from lifesim.experiments.calibration.spend import gamma_gamma_mean

        gg, gg_draws, m, actual = spend
        t = float(horizon)
        rev = np.array(
            [
                bg_nbd_expected(th, t, s.x, s.t_x, s.T) @ gamma_gamma_mean(ph, s.x, m)
                if ph[1] > 1
                else np.nan  # q <= 1: infinite mean order value
                for th, ph in zip(draws, gg_draws, strict=True)
            ]
        )
        finite = rev[np.isfinite(rev)]
        revenue = _total(finite if finite.size else np.array([np.nan]), actual)
        point_rev = float(per @ gamma_gamma_mean(gg.estimate, s.x, m))
        revenue["predicted"] = point_rev
        revenue["error_pct"] = float((point_rev - actual) / actual * 100) if actual else np.nan
    hist = pd.DataFrame(
        {
            "count": [*map(str, range(7)), "7+"],
            "actual": _hist(actual_c),
            "predicted": np.full(8, np.nan),
        }
    )
    act = np.array([bg_nbd_active(th, float(horizon), s.x, s.t_x, s.T).sum() for th in draws])
    active = _total(act, float((actual_c > 0).sum()))
    active["predicted"] = float(bg_nbd_active(fit.estimate, float(horizon), s.x, s.t_x, s.T).sum())
    active["error_pct"] = float((active["predicted"] - active["actual"]) / active["actual"] * 100)
    return HoldoutCheck(
        method="BG/NBD (closed form; intervals: parameter uncertainty only)"
        + ("; revenue: Gamma-Gamma spend" if spend is not None else ""),
        weekly=weekly,
        per_customer=per,
        total=total,
        histogram=hist,
        revenue=revenue,
        draws=len(draws),
        active=active,
    )
