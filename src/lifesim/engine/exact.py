"""Exact expected stage shares and revenue, by propagating distributions (no sampling).

For scenarios whose people are independent (no support queue, no budget-limited campaigns,
no strategies), the stage of a person with propensity ``m`` is a Markov chain with a known
daily transition matrix. Integrating over ``m`` (midpoint rule in quantile space) gives the
exact expected share of every stage on every day: the yardstick the simulator is tested
against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from lifesim.config import ScenarioLike, load_scenario
from lifesim.config.scenario import Scenario
from lifesim.model import StageGraph, dist_ppf

__all__ = ["ExpectedPath", "expected_path"]


def _mean_spend(d) -> float:  # noqa: ANN001 - a scenario Distribution
    """Mean of a spend multiplier: the integral of its quantile function over (0, 1).

    An unclipped inverse gamma has the closed form ``scale / (shape - 1)``, infinite for
    ``shape <= 1`` (quadrature of its unbounded quantile function would return garbage).
    """
    if d.dist == "constant":
        return float(d.value)
    if d.dist == "invgamma" and d.max is None:
        return float(d.scale / (d.shape - 1)) if d.shape > 1 else float("inf")
    from scipy import integrate

    value, _ = integrate.quad(lambda u: float(dist_ppf(d, np.array([u]))[0]), 0, 1, limit=200)
    return float(value)


@dataclass(frozen=True)
class ExpectedPath:
    """Exact expectations of a scenario.

    Attributes
    ----------
    shares : DataFrame
        Expected share of people per stage at the end of each day (index ``day``).
    orders : ndarray
        Expected repeat orders per person on each day.
    revenue_per_person : float
        Expected total order value per person over the horizon.
    """

    shares: pd.DataFrame
    orders: np.ndarray
    revenue_per_person: float


def _stage_boosts(scn: Scenario, g: StageGraph) -> np.ndarray:
    """Per-day, per-edge campaign boost (campaigns as broadcasts)."""
    boost = np.ones((scn.days, g.n_edges))
    for c in scn.campaigns.values():
        stop = scn.days if c.stop is None else min(c.stop, scn.days)
        for k, day in enumerate(range(c.start, stop, c.every)):
            s = g.index(c.targets[k % len(c.targets)])
            mask = (g.src == s) & g.boosted
            boost[day : min(day + c.duration, scn.days), mask] *= c.boost
    return boost


def expected_path(scenario: ScenarioLike, nodes: int = 4096) -> ExpectedPath:
    """Propagate the stage distribution exactly, integrating over propensity.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
        A scenario without support staff, costs that bind, or satisfaction effects.
    nodes : int
        Quadrature nodes per segment (midpoint rule over the propensity quantiles).

    Returns
    -------
    ExpectedPath
    """
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if scn.market.arrivals is not None:
        raise ValueError("expected_path needs a fixed market: no market.arrivals")
    if scn.support is not None or scn.satisfaction.churn_weight > 0:
        raise ValueError("expected_path needs independent people: no support, no churn_weight")
    g = StageGraph.from_scenario(scn)
    s_n = g.n_stages
    ms, ds, ws, vals = [], [], [], []
    q = (np.arange(nodes) + 0.5) / nodes
    for seg in scn.segments.values():
        ov = seg.order_value
        mean_value = (
            _mean_spend(ov) if ov.dist == "invgamma" else float(dist_ppf(ov, q).mean())
        ) * _mean_spend(seg.spend)
        if seg.dropout.dist == "constant" and seg.dropout_correlation == 0:
            m = dist_ppf(seg.propensity, q)
            d = np.full(nodes, float(seg.dropout.value))
            d_nt = np.full(1, float(seg.dropout.value))
        else:  # a grid over the (propensity, dropout) copula: midpoints of both uniforms
            k = max(int(round(np.sqrt(nodes))), 2)
            u = (np.arange(k) + 0.5) / k
            z1, x2 = (a.ravel() for a in np.meshgrid(special.ndtri(u), special.ndtri(u)))
            rho = seg.dropout_correlation
            m = dist_ppf(seg.propensity, special.ndtr(z1))
            d = dist_ppf(seg.dropout, special.ndtr(rho * z1 + np.sqrt(1 - rho * rho) * x2))
            d_nt = dist_ppf(seg.dropout, q)  # non-targets: propensity 0, dropout as drawn
        ms += [m, np.zeros(len(d_nt))]
        ds += [d, d_nt]
        ws += [
            np.full(len(m), seg.share * (1 - seg.non_target) / len(m)),
            np.full(len(d_nt), seg.share * seg.non_target / len(d_nt)),
        ]
        vals += [np.full(len(m) + len(d_nt), mean_value)]
    m = np.concatenate(ms)
    dropout = np.concatenate(ds)
    w = np.concatenate(ws)
    val = np.concatenate(vals)
    init = scn.market.initial
    x0 = np.zeros(s_n)
    if isinstance(init, str):
        x0[g.index(init)] = 1.0
    else:
        for s, p in init.items():
            x0[g.index(s)] = p
    x = np.tile(x0, (len(m), 1))
    boosts = _stage_boosts(scn, g)
    buy = g.buy_p[None, :] * np.where(g.buy_scaled[None, :], m[:, None], 1.0)
    shares = np.zeros((scn.days, s_n))
    orders = np.zeros(scn.days)
    revenue = 0.0
    src = g.src.astype(np.intp)
    dst = g.dst.astype(np.intp)
    season = scn.calendar.factors(scn.days) if scn.calendar.seasonal else np.ones(scn.days)
    for day in range(scn.days):
        day_orders = (x * buy).sum(axis=1) * season[day]
        pe = g.p * np.where(g.boosted, boosts[day], 1.0)
        pe = pe[None, :] * np.where(g.scaled[None, :], m[:, None], 1.0)  # (K, E)
        pe = pe * np.where(g.to_churn[None, :], dropout[:, None], 1.0)
        flow = x[:, src] * pe  # mass moving along each edge
        day_orders = day_orders + flow[:, g.purchase].sum(axis=1)  # moves that are orders
        orders[day] = w @ day_orders
        revenue += (w * val) @ day_orders
        new = x.copy()
        np.subtract.at(new.T, src, flow.T)
        np.add.at(new.T, dst, flow.T)
        x = new
        shares[day] = w @ x
    df = pd.DataFrame(shares, columns=list(g.names))
    df.index.name = "day"
    return ExpectedPath(shares=df, orders=orders, revenue_per_person=float(revenue))
