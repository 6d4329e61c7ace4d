"""A fitted Pareto/NBD and order-value model written into a lifesim scenario.

The engine's customer stages are the Pareto/NBD: a person in a customer stage with a repeat
purchase rule buys on a day with probability ``buy.p x propensity`` and leaves for a churned
stage with probability ``p x dropout``. With daily rates (the fit's unit is days):

* ``buy.p = r / alpha`` (the mean purchase rate) and propensity ``~ Gamma(r, 1/r)`` (mean 1),
  so ``buy.p x propensity ~ Gamma(r, alpha)``;
* each move into a churned stage from a customer stage gets ``p = s / beta`` and dropout
  ``~ Gamma(s, 1/s)``, so ``p x dropout ~ Gamma(s, beta)``; purchase and dropout rates are
  independent, as in the Pareto/NBD;
* every customer stage buys and drops out alike (the data cannot tell them apart); moves out
  of churned stages are set to 0 (dropout is permanent in the fitted model);
* order values: the Gamma-Gamma spend model (Fader, Hardie & Lee 2005) when it is identified
  (``q > 1``): ``order_value ~ Gamma(p, 1)`` times the person's ``spend ~ InvGamma(q,
  gamma)``, i.e. each customer's orders are ``Gamma(p, nu)`` around their own mean ``p / nu``
  with ``nu ~ Gamma(q, gamma)`` across customers, independent of purchase and dropout rates;
  otherwise ``order_value ~ LogNormal(mu, sigma)`` fitted to the order values (per purchase
  day), everyone alike;
* both gamma distributions are clipped at their 99.99% quantile (the engine needs bounded
  multipliers): the clipped mass is 1e-4.

Everything else (prospect stages and their rates, tactics, fatigue, budget) comes from the
base scenario and is listed as not identified by this data. A move of the base scenario
scaled by propensity whose probability could exceed 1 at the clipped maximum is made
unscaled, and said so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml
from scipy import special

from lifesim.config import Scenario, load_scenario
from lifesim.config.load import scenario_to_dict

__all__ = ["calibrated_scenario", "annotate_yaml", "draw_paths", "order_paths", "CLIP_Q"]

CLIP_Q = 0.9999


def _gamma_max(shape: float) -> float:
    return float(special.gammaincinv(shape, CLIP_Q) / shape)


def _dropout_limit(d: dict[str, Any], enough: float | None = None) -> float:
    """Largest ``segments.customers.dropout.max`` with which scenario ``d`` passes its checks.

    The engine's daily probabilities must stay <= 1 at the largest dropout multiplier; a
    strongly heterogeneous fitted dropout (small ``s``) can put its 99.99% quantile past that.
    Bisection on the log scale (to 1e-6 relative) over ``[1e-6, 1e6]``; ``enough`` is returned
    at once when it passes (one check instead of the bisection).
    """
    from lifesim.errors import ConfigError

    seg = d["segments"]["customers"]["dropout"]
    keep = seg["max"]

    def ok(v: float) -> bool:
        seg["max"] = v
        try:
            load_scenario(d)
        except ConfigError:
            return False
        return True

    try:
        if enough is not None and ok(enough):
            return enough
        lo, hi = 1e-6, 1e6
        if ok(hi):
            return hi
        if not ok(lo):
            return lo
        while hi / lo > 1 + 1e-6:
            mid = float(np.sqrt(lo * hi))
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return lo
    finally:
        seg["max"] = keep


def calibrated_scenario(
    base: Scenario,
    params: dict[str, float],
    order_value: tuple[float, float],
    source: str,
    spend: tuple[float, float, float] | None = None,
) -> tuple[Scenario, dict[tuple[str, ...], str], list[str]]:
    """Return the calibrated scenario, a comment per fitted key path, and what is not identified.

    Parameters
    ----------
    base : Scenario
        Where the values the data cannot identify come from.
    params : dict
        Pareto/NBD ``r, alpha, s, beta`` in days.
    order_value : (mu, sigma)
        Log-normal order-value parameters (used without ``spend``).
    source : str
        What the values were fitted from (for the comments).
    spend : (p, q, gamma), optional
        Gamma-Gamma spend parameters (``q > 1``): per-customer order values.
    """
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    d = scenario_to_dict(base)
    comments: dict[tuple[str, ...], str] = {}
    kinds = {name: st["kind"] for name, st in d["stages"].items()}
    m_max, d_max = _gamma_max(r), _gamma_max(s)
    buy_p, churn_p = r / alpha, s / beta
    fit = f"fitted (Pareto/NBD) from {source}"
    notes: list[str] = []
    for name, st in d["stages"].items():
        if kinds[name] == "customer" and st.get("buy") is not None:
            st["buy"] = {"p": buy_p, "propensity": True}
            comments[("stages", name, "buy", "p")] = f"{fit}: r / alpha per day"
        for dst, tr in st["to"].items():
            if kinds[name] == "customer" and kinds[dst] == "churned":
                tr["p"] = churn_p
                tr["propensity"] = False
                comments[("stages", name, "to", dst, "p")] = f"{fit}: s / beta per day"
            elif kinds[name] == "churned":
                tr["p"] = 0.0
                comments[("stages", name, "to", dst, "p")] = (
                    "0: dropout is permanent in the fitted model"
                )
            elif tr["propensity"] and tr["p"] * m_max > 1:
                tr["propensity"] = False
                notes.append(
                    f"stages.{name}.to.{dst}: no longer scaled by propensity (p x largest "
                    f"fitted propensity {tr['p'] * m_max:.3g} > 1)"
                )
    mu, sigma = order_value
    d["segments"] = {
        "customers": {
            "share": 1.0,
            "propensity": {"dist": "gamma", "shape": r, "scale": 1 / r, "max": m_max},
            "order_value": {"dist": "lognormal", "mu": mu, "sigma": sigma}
            if spend is None
            else {"dist": "gamma", "shape": spend[0], "scale": 1.0},
            "non_target": 0.0,
            "satisfaction": 1.0,
            "dropout": {"dist": "gamma", "shape": s, "scale": 1 / s, "max": d_max},
            "dropout_correlation": 0.0,
        }
    }
    if spend is not None:
        d["segments"]["customers"]["spend"] = {
            "dist": "invgamma",
            "shape": spend[1],
            "scale": spend[2],
        }
    lim = _dropout_limit(d, enough=d_max) if churn_p < 1 else 0.0
    if lim < 1:  # not even the mean dropout multiplier fits in a day
        from lifesim.errors import DataError

        raise DataError(
            f"the fitted dropout (s = {s:.4g}, beta = {beta:.4g}: a mean dropout rate s / beta "
            f"of {churn_p:.4g} a day) cannot be a daily probability in the engine: the fit "
            "says part of the customers leave right after their first purchase; allowed: a "
            "fit with s / beta well below 1 a day (use a later cutoff or a longer log)"
        )
    if lim < d_max:  # the daily probabilities cap the dropout multiplier below its 99.99%
        d_max = lim
        d["segments"]["customers"]["dropout"]["max"] = d_max
        notes.append(
            f"segments.customers.dropout.max: clipped at {d_max:.4g}, the fitted dropout "
            f"distribution's {special.gammainc(s, d_max * s):.4%} quantile instead of "
            f"{CLIP_Q:.2%} (a larger multiplier would make a daily probability exceed 1): the "
            "fastest-leaving customers leave more slowly than fitted"
        )
    seg = ("segments", "customers")
    comments[(*seg, "propensity", "shape")] = f"{fit}: r (purchase-rate heterogeneity)"
    comments[(*seg, "propensity", "max")] = "99.99% quantile (the engine needs a bound)"
    comments[(*seg, "dropout", "shape")] = f"{fit}: s (dropout heterogeneity)"
    comments[(*seg, "dropout", "max")] = (
        "99.99% quantile (the engine needs a bound)"
        if lim >= _gamma_max(s)
        else "largest value keeping daily probabilities <= 1 (below the 99.99% quantile)"
    )
    if spend is None:
        comments[(*seg, "order_value", "mu")] = f"fitted (log-normal MLE) from {source}"
        comments[(*seg, "order_value", "sigma")] = f"fitted (log-normal MLE) from {source}"
    else:
        gg = f"fitted (Gamma-Gamma) from {source}"
        comments[(*seg, "order_value", "shape")] = f"{gg}: p (spread of one customer's orders)"
        comments[(*seg, "order_value", "scale")] = "1: the customer's spend sets the scale"
        comments[(*seg, "spend", "shape")] = f"{gg}: q (spread of spend across customers)"
        comments[(*seg, "spend", "scale")] = f"{gg}: gamma (mean order p gamma / (q - 1))"
    d["name"] = f"{base.name} calibrated"
    scn = load_scenario(d)
    not_identified = [
        "prospect stages (awareness, consideration, ...) and their moves: from the base scenario",
        "moves between customer stages (e.g. retention <-> advocacy): from the base scenario",
        "tactic effects, costs, fatigue, budget, campaigns and support: from the base scenario",
        *notes,
    ]
    return scn, comments, not_identified


def annotate_yaml(data: dict[str, Any], comments: dict[tuple[str, ...], str], header: str) -> str:
    """Dump ``data`` as YAML with ``# comment`` after each key path in ``comments``."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    out, path = [], []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        indent = (len(line) - len(stripped)) // 2
        if stripped.startswith("- ") or ":" not in stripped:
            out.append(line)
            continue
        key = stripped.split(":", 1)[0].strip("'\"")
        path = path[:indent] + [key]
        note = comments.get(tuple(path))
        out.append(f"{line}  # {note}" if note else line)
    lines = [f"# {h}" if h else "#" for h in header.splitlines()]
    return "\n".join(lines + out) + "\n"


def loads_back(text: str) -> Scenario:
    """Load annotated YAML text back (a check that the file is valid)."""
    return load_scenario(yaml.safe_load(text))


def order_paths(scn: Scenario, draws: np.ndarray) -> dict[str, np.ndarray]:
    """Scenario key paths of the order-value model per draw.

    ``draws``: columns ``p, q, gamma`` (Gamma-Gamma, when the scenario's customers have a
    spend distribution) or ``mu, sigma`` (log-normal).
    """
    seg = "segments.customers"
    if scn.segments["customers"].spend.dist == "invgamma":
        p, q, g = (draws[:, i] for i in range(3))
        return {f"{seg}.order_value.shape": p, f"{seg}.spend.shape": q, f"{seg}.spend.scale": g}
    return {f"{seg}.order_value.mu": draws[:, 0], f"{seg}.order_value.sigma": draws[:, 1]}


def draw_paths(scn: Scenario, draws: np.ndarray) -> dict[str, np.ndarray]:
    """Scenario key paths of the fitted Pareto/NBD values, per parameter draw.

    ``draws`` has columns ``r, alpha, s, beta``; the clipping maxima stay those of
    the calibrated scenario ``scn``, except the dropout maximum of a draw whose dropout rate
    ``s / beta`` would then make a daily probability exceed 1: it is lowered so that
    ``s / beta x max`` stays at the largest valid value (so every draw passes its checks).
    """
    r, alpha, s, beta = (draws[:, i] for i in range(4))
    out: dict[str, np.ndarray] = {}
    d = scenario_to_dict(scn)
    d_max = d["segments"]["customers"]["dropout"]["max"]
    churn = [
        tr["p"]
        for name, st in d["stages"].items()
        if st["kind"] == "customer"
        for dst, tr in st["to"].items()
        if d["stages"][dst]["kind"] == "churned"
    ]
    need = d_max * float(np.max(s / beta)) / max(churn) if churn and max(churn) > 0 else 0.0
    if need > d_max and (lim := _dropout_limit(d, enough=need)) < need:
        top = max(churn) * lim * (1 - 1e-6)  # largest valid p x max
        out["segments.customers.dropout.max"] = np.minimum(d_max, top / (s / beta))
    for name, st in scn.stages.items():
        if st.kind == "customer" and st.buy is not None:
            out[f"stages.{name}.buy.p"] = r / alpha
        if st.kind == "customer":
            for dst in st.to:
                if scn.stages[dst].kind == "churned":
                    out[f"stages.{name}.to.{dst}.p"] = s / beta
    seg = "segments.customers"
    out[f"{seg}.propensity.shape"] = r
    out[f"{seg}.propensity.scale"] = 1 / r
    out[f"{seg}.dropout.shape"] = s
    out[f"{seg}.dropout.scale"] = 1 / s
    return out
