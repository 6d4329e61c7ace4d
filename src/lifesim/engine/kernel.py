"""The vectorised daily step: purchases and stage moves for everyone at once.

A day costs a handful of passes over the population arrays. The fast path compares one
uniform per person with the probability of leaving the current stage (``A[stage] * m +
B[stage]``); only the few people who may move (a few percent a day) go through the detailed
step that picks the move. People under person-level effects (tactics, partial campaigns) get
exact probabilities from :class:`Modifiers`. No Python loop over people.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lifesim.model import StageGraph

__all__ = ["Effect", "Modifiers", "DayTables", "build_modifiers", "transition_step", "buy_step"]

_SLACK_REL = 1e-5  # fast path lets through anyone within this of the exact threshold
_SLACK_ABS = 1e-9


@dataclass(eq=False)
class Effect:
    """A person-level effect active for a range of days (a contact, a tactic, an offer).

    Attributes
    ----------
    idx : ndarray of int32
        People affected (unique).
    edge_factor : ndarray of float64, shape (E,)
        Multiplier on each edge for these people (1 = no effect). Applies to the moves out of
        whatever stage the person is in that day.
    start, until : int
        Active on days ``start <= day < until``.
    cause : int
        Cause code recorded for moves this effect boosted.
    buy_factor : float
        Multiplier on the daily repeat-purchase probability.
    value_factor : float
        Multiplier on order value (a discount makes it < 1).
    strength : ndarray of float32, optional
        Per-person strength in [0, 1] scaling every factor as ``1 + (f - 1) * strength``
        (fatigue erodes effects this way).
    """

    idx: np.ndarray
    edge_factor: np.ndarray
    start: int
    until: int
    cause: int = 0
    buy_factor: float = 1.0
    value_factor: float = 1.0
    strength: np.ndarray | None = None


@dataclass(eq=False)
class Modifiers:
    """Combined person-level effects of one day, for the people they touch (sorted ``idx``)."""

    idx: np.ndarray
    slot_factor: np.ndarray
    slot_cause: np.ndarray
    buy_factor: np.ndarray
    value_factor: np.ndarray
    buy_cause: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))


@dataclass(eq=False)
class DayTables:
    """Stage-level probability tables of one day (campaign boosts applied)."""

    a_edge: np.ndarray
    b_edge: np.ndarray
    a_all: np.ndarray
    b_all: np.ndarray
    a_churn: np.ndarray
    b_churn: np.ndarray
    buy_a: np.ndarray
    buy_b: np.ndarray
    edge_cause: np.ndarray

    @classmethod
    def make(cls, g: StageGraph, edge_boost: np.ndarray, edge_cause: np.ndarray) -> DayTables:
        """Build the tables for a day from per-edge stage-level boosts."""
        pe = g.p * np.where(g.boosted, edge_boost, 1.0)
        a = np.where(g.scaled, pe, 0.0)
        b = np.where(g.scaled, 0.0, pe)
        s = g.n_stages
        src = g.src.astype(np.intp)
        ch = g.to_churn
        return cls(
            a_edge=a,
            b_edge=b,
            a_all=np.bincount(src, a, minlength=s).astype(np.float32),
            b_all=np.bincount(src, b, minlength=s).astype(np.float32),
            a_churn=np.bincount(src, np.where(ch, a, 0.0), minlength=s).astype(np.float32),
            b_churn=np.bincount(src, np.where(ch, b, 0.0), minlength=s).astype(np.float32),
            buy_a=np.where(g.buy_scaled, g.buy_p, 0.0).astype(np.float32),
            buy_b=np.where(g.buy_scaled, 0.0, g.buy_p).astype(np.float32),
            edge_cause=edge_cause,
        )


def build_modifiers(effects: list[Effect], stage: np.ndarray, g: StageGraph) -> Modifiers | None:
    """Combine the active effects of a day (factors multiply; the strongest names the cause)."""
    if not effects:
        return None
    allidx = np.concatenate([e.idx for e in effects])
    uniq, inv = np.unique(allidx, return_inverse=True)
    d = g.slot_edge.shape[1]
    fac = np.ones((len(uniq), d))
    best = np.ones((len(uniq), d))
    cause = np.full((len(uniq), d), -1, dtype=np.int16)
    buy = np.ones(len(uniq))
    buy_best = np.ones(len(uniq))
    buy_cause = np.full(len(uniq), -1, dtype=np.int16)
    val = np.ones(len(uniq))
    off = 0
    for e in effects:
        pos = inv[off : off + len(e.idx)]
        off += len(e.idx)
        edges = g.slot_edge[stage[e.idx]].astype(np.intp)
        ef = np.append(e.edge_factor, 1.0)  # index -1 -> padding -> factor 1
        f = ef[edges]
        sb, sv = np.float64(e.buy_factor), np.float64(e.value_factor)
        if e.strength is not None:
            s = e.strength.astype(np.float64)
            f = 1.0 + (f - 1.0) * s[:, None]
            sb = 1.0 + (sb - 1.0) * s
            sv = 1.0 + (sv - 1.0) * s
        fac[pos] *= f
        better = f > best[pos]
        cause[pos] = np.where(better, np.int16(e.cause), cause[pos])
        best[pos] = np.maximum(best[pos], f)
        buy[pos] *= sb
        bb = np.broadcast_to(sb, pos.shape)
        buy_cause[pos] = np.where(bb > buy_best[pos], np.int16(e.cause), buy_cause[pos])
        buy_best[pos] = np.maximum(buy_best[pos], bb)
        val[pos] *= sv
    return Modifiers(uniq, fac, cause, buy, val, buy_cause)


def _slot_probs(g, t, st, mm, gg, fac):
    edges = g.slot_edge[st].astype(np.intp)
    valid = edges >= 0
    e = np.where(valid, edges, 0)
    pe = t.a_edge[e] * mm[:, None] + t.b_edge[e]
    pe[~valid] = 0.0
    if gg is not None:
        pe *= np.where(g.to_churn[e] & valid, 1.0 + gg[:, None], 1.0)
    if fac is not None:
        pe *= fac
    return pe, e


def transition_step(
    g: StageGraph,
    t: DayTables,
    stage: np.ndarray,
    m: np.ndarray,
    u: np.ndarray,
    sat_g: np.ndarray | None = None,
    mods: Modifiers | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pick today's moves: one uniform per person over the current stage's outgoing moves.

    Move ``j`` of stage ``s`` has probability ``p_j * (m if scaled) * boost * (1 + g if into a
    churned stage) * person factors``; the person stays with the rest. If a person's
    probabilities sum above 1 (only possible through person-level effects) they are rescaled to
    sum to 1.

    Parameters
    ----------
    g, t : StageGraph, DayTables
    stage : int8 array (N,)
    m : float32 array (N,)
        Propensity.
    u : float array (N,)
        Today's transition uniforms (one per person, keyed by person).
    sat_g : float32 array (N,), optional
        ``churn_weight * (1 - satisfaction)``.
    mods : Modifiers, optional

    Returns
    -------
    who, edge, cause, v : ndarrays
        People who move, the edge each takes, the cause code, and a fresh uniform per mover
        (``(u - lower) / p_edge``, for order values of purchase moves).
    """
    pl = t.a_all[stage]
    pl *= m
    pl += t.b_all[stage]
    if sat_g is not None:
        extra = t.a_churn[stage]
        extra *= m
        extra += t.b_churn[stage]
        extra *= sat_g
        pl += extra
    pos = None
    if mods is not None and len(mods.idx):
        st = stage[mods.idx]
        gg = None if sat_g is None else sat_g[mods.idx].astype(np.float64)
        pe, _ = _slot_probs(g, t, st, m[mods.idx].astype(np.float64), gg, mods.slot_factor)
        pl[mods.idx] = pe.sum(axis=1)
    cand = np.flatnonzero(u < pl * np.float32(1 + _SLACK_REL) + np.float32(_SLACK_ABS))
    if len(cand) == 0:
        z = np.zeros(0, np.intp)
        return z, z, z.astype(np.int16), np.zeros(0)
    st = stage[cand]
    gg = None if sat_g is None else sat_g[cand].astype(np.float64)
    fac = None
    if mods is not None and len(mods.idx):
        pos = np.searchsorted(mods.idx, cand)
        pos_c = np.minimum(pos, len(mods.idx) - 1)
        hit = mods.idx[pos_c] == cand
        fac = np.where(hit[:, None], mods.slot_factor[pos_c], 1.0)
    pe, e = _slot_probs(g, t, st, m[cand].astype(np.float64), gg, fac)
    tot = pe.sum(axis=1)
    over = tot > 1.0
    if over.any():
        pe[over] /= tot[over, None]
        tot[over] = 1.0
    cum = np.cumsum(pe, axis=1)
    uc = u[cand].astype(np.float64)
    moving = uc < tot
    k = (uc[:, None] >= cum).sum(axis=1)
    k = np.minimum(k, pe.shape[1] - 1)
    rows = np.arange(len(cand))
    edge = e[rows, k]
    lower = np.where(k > 0, cum[rows, np.maximum(k - 1, 0)], 0.0)
    p_edge = pe[rows, k]
    cause = t.edge_cause[edge].astype(np.int16)
    if fac is not None:
        pc = mods.slot_cause[pos_c, k]
        cause = np.where(hit & (pc >= 0), pc, cause)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.clip((uc - lower) / p_edge, 1e-12, 1 - 1e-12)
    sel = np.flatnonzero(moving)
    return cand[sel], edge[sel], cause[sel], v[sel]


def buy_step(
    t: DayTables,
    stage: np.ndarray,
    m: np.ndarray,
    u: np.ndarray,
    mods: Modifiers | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pick today's repeat purchases (one uniform per person).

    Returns
    -------
    who : ndarray of intp
        Buyers.
    v : ndarray of float64
        A fresh uniform per buyer (``u / p``) for the order value quantile.
    value_factor : ndarray of float64
        Order-value multiplier per buyer (discounts).
    cause : ndarray of int16
        Cause code per buyer (-1: none / organic).
    """
    pb = t.buy_a[stage]
    pb *= m
    pb += t.buy_b[stage]
    vf = None
    if mods is not None and len(mods.idx):
        pb[mods.idx] = np.minimum(pb[mods.idx] * mods.buy_factor, 1.0)
    who = np.flatnonzero(u < pb)
    p = pb[who].astype(np.float64)
    v = np.clip(u[who] / p, 1e-12, 1 - 1e-12)
    vf = np.ones(len(who))
    cause = np.full(len(who), -1, dtype=np.int16)
    if mods is not None and len(mods.idx) and len(who):
        pos = np.minimum(np.searchsorted(mods.idx, who), len(mods.idx) - 1)
        hit = mods.idx[pos] == who
        vf = np.where(hit, mods.value_factor[pos], 1.0)
        cause = np.where(hit, mods.buy_cause[pos], -1).astype(np.int16)
    return who, v, vf, cause
