"""The market as a struct of arrays: one entry per person (agent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from lifesim.config import Scenario
from lifesim.config.scenario import MAX_MONEY, NOT_ARRIVED, Distribution
from lifesim.model.graph import StageGraph

__all__ = ["Population", "sample_dist", "dist_ppf"]


def dist_ppf(d: Distribution, q: np.ndarray) -> np.ndarray:
    """Quantile function of a scenario distribution (vectorised; clipped at ``max``).

    Parameters
    ----------
    d : Distribution
        A scenario distribution.
    q : ndarray
        Probabilities in (0, 1).

    Returns
    -------
    ndarray of float64
    """
    q = np.asarray(q, dtype=np.float64)
    kind = d.dist
    if kind == "constant":
        out = np.full(q.shape, float(d.value))
    elif kind == "gamma":
        out = special.gammaincinv(d.shape, q) * d.scale
    elif kind == "lognormal":
        out = np.exp(d.mu + d.sigma * special.ndtri(q))
    elif kind == "invgamma":
        with np.errstate(divide="ignore"):  # q = 1: +inf (then clipped at max, if any)
            out = d.scale / special.gammainccinv(d.shape, q)
    elif kind == "uniform":
        out = d.low + (d.high - d.low) * q
    elif kind == "beta":
        from scipy import stats  # imported here: scipy.stats takes most of a second

        out = stats.beta.ppf(q, d.a, d.b) * d.scale
    else:  # pragma: no cover - pydantic rules this out
        raise ValueError(f"unknown distribution {kind!r}")
    mx = getattr(d, "max", None)
    if mx is not None:
        np.minimum(out, mx, out=out)
    return out


def sample_dist(d: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` values of a scenario distribution (clipped at ``max``)."""
    kind = d.dist
    if kind == "constant":
        out = np.full(n, float(d.value))
    elif kind == "gamma":
        out = rng.gamma(d.shape, d.scale, n)
    elif kind == "lognormal":
        out = rng.lognormal(d.mu, d.sigma, n)
    elif kind == "invgamma":
        out = d.scale / rng.gamma(d.shape, 1.0, n)
    elif kind == "uniform":
        out = rng.uniform(d.low, d.high, n)
    elif kind == "beta":
        out = rng.beta(d.a, d.b, n) * d.scale
    else:  # pragma: no cover
        raise ValueError(f"unknown distribution {kind!r}")
    mx = getattr(d, "max", None)
    if mx is not None:
        np.minimum(out, mx, out=out)
    return out


@dataclass(eq=False)
class Population:
    """Mutable per-person state, one array per attribute (struct of arrays).

    About 40 bytes per person. Days are stored as int16 (horizons up to 32,000 days).

    Attributes
    ----------
    stage : int8
        Current stage code.
    segment : int8
        Segment code.
    propensity : float32
        Individual multiplier ``m`` (0 for non-target people).
    non_target : bool
        Never converts (propensity 0).
    satisfaction : float32
        In [0, 1]; lowered by waiting for support, raises churn when weighted.
    fatigue : float32
        Accumulated marketing pressure (decays daily; erodes tactic effects).
    entered_day : int16
        Day the person entered the current stage (-1: from the start).
    first_customer_day : int16
        First day in a customer stage (0 for customers at the start, -1: never).
    purchases : int32
        Number of orders.
    revenue : float64
        Total order value.
    open_tickets : int16
        Support tickets waiting or in service.
    acquired_by : int16
        Cause code of the move that first made the person a customer (-1: not yet).
    churn_mult : float32
        Factor on moves into churned stages: the segment's dropout multiplier, times any
        promotion side effects.
    last_contact : int16
        Day of the last marketing contact (-32768: never).
    initial_stage : int8
        Stage code at the start of day 0.
    spend : float32
        Factor on every order value of the person (the segment's spend multiplier).
    """

    stage: np.ndarray
    segment: np.ndarray
    propensity: np.ndarray
    non_target: np.ndarray
    satisfaction: np.ndarray
    fatigue: np.ndarray
    entered_day: np.ndarray
    first_customer_day: np.ndarray
    purchases: np.ndarray
    revenue: np.ndarray
    open_tickets: np.ndarray
    acquired_by: np.ndarray
    churn_mult: np.ndarray
    last_contact: np.ndarray
    initial_stage: np.ndarray
    spend: np.ndarray

    def __len__(self) -> int:
        return len(self.stage)

    @property
    def nbytes(self) -> int:
        """Bytes held by the per-person arrays."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    @classmethod
    def build(
        cls,
        scn: Scenario,
        graph: StageGraph,
        n: int,
        rng: np.random.Generator,
        arrivals: int = 0,
    ) -> Population:
        """Draw a market of ``n`` people from the scenario's segments and initial stages.

        Draws happen in a fixed order from ``rng`` (the population stream), so the same seed
        gives the same people whatever strategy runs on them. ``arrivals`` more people are
        drawn alike after them, in the stage ``not_arrived`` until they arrive.
        """
        n0, n = n, n + arrivals
        seg_names = list(scn.segments)
        shares = np.array([scn.segments[s].share for s in seg_names], dtype=np.float64)
        seg = rng.choice(len(seg_names), size=n, p=shares / shares.sum()).astype(np.int8)
        u_nt = rng.random(n)
        prop = np.zeros(n, dtype=np.float32)
        nt = np.zeros(n, dtype=bool)
        sat = np.zeros(n, dtype=np.float32)
        for k, name in enumerate(seg_names):
            spec = scn.segments[name]
            idx = np.flatnonzero(seg == k)
            prop[idx] = sample_dist(spec.propensity, len(idx), rng)
            nt[idx] = u_nt[idx] < spec.non_target
            sat[idx] = spec.satisfaction
        churn = np.ones(n, dtype=np.float32)
        prop[nt] = 0.0
        init = scn.market.initial
        if isinstance(init, str):
            stage = np.full(n, graph.index(init), dtype=np.int8)
        else:
            codes = np.array([graph.index(s) for s in init], dtype=np.int8)
            pr = np.array(list(init.values()), dtype=np.float64)
            stage = codes[rng.choice(len(codes), size=n, p=pr / pr.sum())]
        for k, name in enumerate(seg_names):  # drawn last: other draws stay as they were
            spec = scn.segments[name]
            heterogeneous = spec.dropout.dist != "constant" or spec.dropout_correlation != 0
            if not heterogeneous:
                churn[seg == k] = spec.dropout.value
                continue
            idx = np.flatnonzero(seg == k)
            rho = spec.dropout_correlation
            z1 = rng.standard_normal(len(idx))
            z2 = rho * z1 + np.sqrt(1.0 - rho * rho) * rng.standard_normal(len(idx))
            churn[idx] = dist_ppf(spec.dropout, special.ndtr(z2))
            if rho != 0:  # propensity from the same copula (its own draw is replaced)
                keep = ~nt[idx]
                prop[idx[keep]] = dist_ppf(spec.propensity, special.ndtr(z1[keep]))
        spend = np.ones(n, dtype=np.float32)
        for k, name in enumerate(seg_names):  # after dropout: other draws stay as they were
            d = scn.segments[name].spend
            if d.dist == "constant":
                spend[seg == k] = d.value
            else:
                idx = np.flatnonzero(seg == k)
                spend[idx] = sample_dist(d, len(idx), rng)
        if arrivals:
            stage[n0:] = graph.index(NOT_ARRIVED)
        is_cust = graph.kind[stage] == 1
        return cls(
            stage=stage,
            segment=seg,
            propensity=prop,
            non_target=nt,
            satisfaction=sat,
            fatigue=np.zeros(n, dtype=np.float32),
            entered_day=np.full(n, -1, dtype=np.int16),
            first_customer_day=np.where(is_cust, 0, -1).astype(np.int16),
            purchases=np.zeros(n, dtype=np.int32),
            revenue=np.zeros(n, dtype=np.float64),
            open_tickets=np.zeros(n, dtype=np.int16),
            acquired_by=np.full(n, -1, dtype=np.int16),
            churn_mult=churn,
            last_contact=np.full(n, -32768, dtype=np.int16),
            initial_stage=stage.copy(),
            spend=spend,
        )

    def set_state(
        self, graph: StageGraph, state: Mapping[str, Any], count: int | None = None
    ) -> None:
        """Start from a given market (e.g. real customers at a cutoff) instead of the drawn one.

        Parameters
        ----------
        graph : StageGraph
        state : mapping
            ``stage`` (stage names or codes, one per person; required), and optionally
            ``propensity``, ``dropout`` and ``spend`` (non-negative multipliers, as the
            segments would draw them). Arrays not given keep the drawn values.
        count : int, optional
            The people the state describes: the first ``count`` (default: everyone; the
            people after them are those still to arrive).

        Raises
        ------
        ValueError
            Naming the key, the bad value and what is allowed.
        """
        n = len(self) if count is None else count
        unknown = set(state) - {"stage", "propensity", "dropout", "spend"}
        if unknown:
            raise ValueError(
                f"initial state: unknown key(s) {sorted(unknown)}; allowed: stage, propensity, "
                "dropout, spend"
            )
        if "stage" not in state:
            raise ValueError("initial state: 'stage' is required (one stage name per person)")
        stage = np.asarray(state["stage"])
        if stage.shape != (n,):
            raise ValueError(f"initial state: stage has shape {stage.shape}; expected ({n},)")
        names = [s for s in graph.names if s != NOT_ARRIVED]  # the scenario's stages
        if stage.dtype.kind in "iu":
            bad = (stage < 0) | (stage >= len(names))
            if bad.any():
                top = len(names) - 1
                raise ValueError(f"initial state: stage code {stage[bad][0]} not in 0..{top}")
            codes = stage.astype(np.int8)
        else:
            uniq, inv = np.unique(stage.astype(str), return_inverse=True)
            for u in uniq:
                if u not in names:
                    raise ValueError(
                        f"initial state: unknown stage {str(u)!r}; known stages: {', '.join(names)}"
                    )
            codes = np.array([names.index(u) for u in uniq], dtype=np.int8)[inv]
        keys = (("propensity", "propensity"), ("dropout", "churn_mult"), ("spend", "spend"))
        for key, attr in keys:
            if key not in state:
                continue
            v = np.asarray(state[key], dtype=np.float64)
            if v.shape != (n,):
                raise ValueError(f"initial state: {key} has shape {v.shape}; expected ({n},)")
            bad = ~(np.isfinite(v) & (v >= 0) & (v <= MAX_MONEY))  # (NaN is bad too)
            if bad.any():
                at = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"initial state: {key} must be finite and >= 0, at most {MAX_MONEY:g} (a "
                    f"multiplier; larger ones overflow the float32 arrays and money totals), "
                    f"got {v[at]:g} for person {at}"
                )
            getattr(self, attr)[:n] = v
        self.stage[:n] = codes
        self.initial_stage[:n] = codes
        self.non_target[:n] = self.propensity[:n] == 0
        self.first_customer_day[:n] = np.where(graph.kind[codes] == 1, 0, -1)

    def to_pandas(self, graph: StageGraph, segments: list[str]) -> pd.DataFrame:
        """One row per person, with stage and segment names as categoricals."""
        return pd.DataFrame(
            copy=False,
            data={
                "person": np.arange(len(self), dtype=np.int32),
                "segment": pd.Categorical.from_codes(self.segment, categories=segments),
                "non_target": self.non_target,
                "propensity": self.propensity,
                "stage": pd.Categorical.from_codes(self.stage, categories=list(graph.names)),
                "entered_day": self.entered_day,
                "first_customer_day": self.first_customer_day,
                "satisfaction": self.satisfaction,
                "fatigue": self.fatigue,
                "purchases": self.purchases,
                "revenue": self.revenue,
                "initial_stage": pd.Categorical.from_codes(
                    self.initial_stage, categories=list(graph.names)
                ),
                "initial_customer": graph.kind[self.initial_stage] == 1,
                "churn_mult": self.churn_mult,
                "spend": self.spend,
            },
        )
