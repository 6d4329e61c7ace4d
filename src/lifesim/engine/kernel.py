"""The vectorised daily step: purchases and stage moves for everyone at once.

A day costs a handful of passes over the population arrays. The fast path compares one
uniform per person with the probability of leaving the current stage (``A[stage] * m +
B[stage]``); only the few people who may move (a few percent a day) go through the detailed
step that picks the move. People under person-level effects (tactics, partial campaigns) get
exact probabilities from :class:`Modifiers`. No Python loop over people.

This NumPy code is the reference: compiled, :func:`buys_and_moves` runs the day in one pass
(:mod:`lifesim.engine.jit_day`) that gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lifesim.engine import jit_day
from lifesim.model import StageGraph

__all__ = [
    "Effect",
    "Modifiers",
    "DayTables",
    "build_modifiers",
    "buys_and_moves",
    "effect_groups",
    "transition_step",
    "buy_step",
    "value_factor",
]

_SLACK_REL = 1e-5  # fast path lets through anyone within this of the exact threshold
_SLACK_ABS = 1e-9


@dataclass(eq=False)
class Effect:
    """A person-level effect active for a range of days (a contact, a tactic, an offer).

    Attributes
    ----------
    idx : ndarray of int32
        People affected (sorted, unique).
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
    used : ndarray of bool, optional
        For single-use offers: which people have used theirs (the effect ends for them).
    until_each, period_each : ndarray, optional
        Per-person expiry day and budget period (an effect that collects every contact of
        one tactic; the engine drops entries as they expire).
    """

    idx: np.ndarray
    edge_factor: np.ndarray
    start: int
    until: int
    cause: int = 0
    buy_factor: float = 1.0
    value_factor: float = 1.0
    strength: np.ndarray | None = None
    used: np.ndarray | None = None
    until_each: np.ndarray | None = None
    period_each: np.ndarray | None = None

    def live(self) -> tuple[np.ndarray, np.ndarray | None]:
        """People still under the effect and their strengths."""
        if self.used is None or not self.used.any():
            return self.idx, self.strength
        keep = ~self.used
        return self.idx[keep], None if self.strength is None else self.strength[keep]


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
    def make(
        cls,
        g: StageGraph,
        edge_factor: np.ndarray,
        edge_cause: np.ndarray,
        buy_factor: np.ndarray | None = None,
    ) -> DayTables:
        """Build the tables for a day from stage-level per-edge and per-stage buy factors."""
        pe = g.p * edge_factor
        buy_p = g.buy_p if buy_factor is None else g.buy_p * buy_factor
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
            buy_a=np.where(g.buy_scaled, buy_p, 0.0).astype(np.float32),
            buy_b=np.where(g.buy_scaled, 0.0, buy_p).astype(np.float32),
            edge_cause=edge_cause,
        )


def effect_groups(effects: list[Effect]) -> list[tuple]:
    """Group the active effects of a day by cause, in the order their factors multiply.

    Effects of different causes multiply; repeated effects of the same cause (a tactic sent
    again while its last contact still works) do not stack: the strongest one counts.
    Returns ``(code, edge_factor, buy_factor, value_factor, idx, strength)`` per group
    (``idx`` sorted and unique).
    """
    groups: dict[tuple, list[tuple[Effect, np.ndarray, np.ndarray]]] = {}
    for e in effects:
        idx, strength = e.live()
        if not len(idx):
            continue
        st = np.ones(len(idx), np.float32) if strength is None else strength
        key = (e.cause, e.edge_factor.tobytes(), e.buy_factor, e.value_factor)
        groups.setdefault(key, []).append((e, idx, st))
    by_cause: dict[tuple, tuple[Effect, np.ndarray, np.ndarray]] = {}
    for key, items in groups.items():
        if len(items) == 1:
            e, idx, st = items[0]
        else:  # same cause, same factors: the strongest entry per person counts
            e = items[0][0]
            idx = np.concatenate([it[1] for it in items])
            st = np.concatenate([it[2] for it in items])
            order = np.lexsort((-st, idx))
            idx, st = idx[order], st[order]
            first = np.ones(len(idx), dtype=bool)
            first[1:] = idx[1:] != idx[:-1]
            idx, st = idx[first], st[first]
        by_cause[key] = (e, idx, st)
    return [
        (key[0], e.edge_factor, e.buy_factor, e.value_factor, idx, st)
        for key in sorted(by_cause, key=lambda k: (k[0], k[1:]))
        for e, idx, st in [by_cause[key]]
    ]


def build_modifiers(effects: list[Effect], stage: np.ndarray, g: StageGraph) -> Modifiers | None:
    """Combine the active effects of a day (see :func:`effect_groups`).

    The effect with the largest factor on a move names its cause. Each effect's people are
    sorted and unique, so work is close to linear in the number of (person, effect) entries.
    """
    return _modifiers(effect_groups(effects), stage, g)


def _modifiers(groups: list[tuple], stage: np.ndarray, g: StageGraph) -> Modifiers | None:
    return Modifiers(*_combine(stage, g.slot_edge, groups)) if groups else None


def buys_and_moves(
    g: StageGraph,
    t: DayTables,
    stage: np.ndarray,
    m: np.ndarray,
    u: np.ndarray | np.random.Generator,
    ub: np.ndarray | np.random.Generator,
    sat_g: np.ndarray | None,
    effects: list[Effect],
) -> tuple[tuple, tuple, np.ndarray]:
    """Today's repeat purchases and moves under the day's person-level effects.

    ``u`` and ``ub`` are the day's transition (float32) and purchase (float64) uniforms, or
    the streams to draw one of each per person from (the compiled pass draws them as it goes).

    Returns :func:`buy_step`'s and :func:`transition_step`'s results and the order-value
    factor of each mover. Compiled: one pass over the market (:mod:`lifesim.engine.jit_day`);
    otherwise the effects are combined and the two steps run in turn. Same numbers.
    """
    groups = effect_groups(effects)
    mul, add = np.float32(1 + _SLACK_REL), np.float32(_SLACK_ABS)
    n = len(stage)
    if n < jit_day.DRAW_IN_PASS_FROM:  # small: reading a stream's state costs more
        u, ub = _drawn(u, ub, n)
    fused = jit_day.buys_and_moves(g, t, stage, m, u, ub, sat_g, groups, mul, add)
    if fused is not None:
        return fused
    u, ub = _drawn(u, ub, n)
    mods = _modifiers(groups, stage, g)
    buys = buy_step(t, stage, m, ub, mods)
    moves = transition_step(g, t, stage, m, u, sat_g, mods)
    return buys, moves, value_factor(mods, moves[0])


def _drawn(u, ub, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the day's transition (float32) and purchase uniforms, drawing from streams."""
    if isinstance(u, np.random.Generator):
        u = u.random(n, dtype=np.float32)
    if isinstance(ub, np.random.Generator):
        ub = ub.random(n)
    return u, ub


def _combine(stage, slot_edge, groups) -> tuple[np.ndarray, ...]:
    """Fold each cause's effect into per-slot factors (see :func:`build_modifiers`).

    ``groups`` is a list of ``(code, edge_factor, buy_factor, value_factor, idx, strength)``
    in the order the factors must be applied (each ``idx`` sorted and unique). Returns the
    people touched (sorted) and their ``fac, cause, buy, val, buy_cause``.
    """
    n = len(stage)
    touched = np.zeros(n, dtype=bool)
    for gr in groups:
        touched[gr[4]] = True
    uniq = np.flatnonzero(touched)
    edges = slot_edge[stage[uniq]].astype(np.intp)  # -1 padding -> last column (factor 1)
    u, d = edges.shape
    fac = np.ones((u, d))
    best = np.ones((u, d))
    cause = np.full((u, d), -1, dtype=np.int16)
    buy = np.ones(u)
    val = np.ones(u)
    buy_best = np.ones(u)
    buy_cause = np.full(u, -1, dtype=np.int16)
    for code, edge_factor, buy_factor, value_factor, idx, st in groups:
        rows = np.searchsorted(uniq, idx)  # idx is sorted and unique
        sv = st.astype(np.float64)
        if (edge_factor != 1.0).any():
            table = np.append(edge_factor, 1.0)
            f = 1.0 + (table[edges[rows]] - 1.0) * sv[:, None]
            fac[rows] *= f
            b = best[rows]
            better = f > b
            cs = cause[rows]
            cs[better] = np.int16(code)
            cause[rows] = cs
            best[rows] = np.maximum(b, f)
        if buy_factor != 1.0:
            fb = 1.0 + (buy_factor - 1.0) * sv
            buy[rows] *= fb
            bb = fb > buy_best[rows]
            buy_cause[rows[bb]] = np.int16(code)
            buy_best[rows] = np.maximum(buy_best[rows], fb)
        if value_factor != 1.0:
            val[rows] *= 1.0 + (value_factor - 1.0) * sv
    return uniq, fac, cause, buy, val, buy_cause


def value_factor(mods: Modifiers | None, who: np.ndarray) -> np.ndarray:
    """Order-value multipliers of ``who`` under the day's effects (1 without one)."""
    if mods is None or not len(mods.idx) or not len(who):
        return np.ones(len(who))
    pos = np.minimum(np.searchsorted(mods.idx, who), len(mods.idx) - 1)
    return np.where(mods.idx[pos] == who, mods.value_factor[pos], 1.0)


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
        Per-person extra factor ``f - 1`` on moves into churned stages (satisfaction,
        fatigue, promotion side effects).
    mods : Modifiers, optional

    Returns
    -------
    who, edge, cause, v : ndarrays
        People who move, the edge each takes, the cause code, and a fresh uniform per mover
        (``(u - lower) / p_edge``, for order values of purchase moves).
    """
    if g.n_edges == 0:  # nobody can move: a graph of stages without moves
        z = np.zeros(0, np.intp)
        return z, z, z.astype(np.int16), np.zeros(0)
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
    np.minimum(pb, np.float32(1), out=pb)
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
