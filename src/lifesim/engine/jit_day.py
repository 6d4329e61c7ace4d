"""The day's repeat purchases and moves in one compiled pass, effects merged on the way.

The NumPy code does this in steps: combine every person-level effect of the day into factors
per person (:func:`lifesim.engine.kernel.build_modifiers`), then one pass for purchases
(:func:`~lifesim.engine.kernel.buy_step`) and one for moves
(:func:`~lifesim.engine.kernel.transition_step`). This pass walks the market once, in order,
and merges the effects' sorted lists of people as it goes (a heap over their heads), so a
person's effects are at hand when the walk reaches them. Their exact factors are computed
only when the person's draws come under an upper bound of what the effects could do (a
factor ``1 + (f - 1) s`` is at most ``max(1, f)`` for a strength ``s`` in [0, 1]): whoever's
draws clear the bound neither buys nor moves, with or without their factors. The day's
uniforms are drawn in the pass from the streams themselves (NumPy's SFC64 numbers, the
streams left where NumPy's draws leave them), as are the support-ticket draws. Every
probability is computed with the NumPy code's operations in its order: the results are the
same bit for bit (``tests/engine/test_jit.py``).
"""

from __future__ import annotations

import numpy as np

from lifesim.engine import jit
from lifesim.engine.jit import _jit

__all__ = ["below_table_drawn", "buys_and_moves", "sfc64_state", "set_sfc64_state"]

#: Markets at least this large draw their daily uniforms in the pass (below it, reading and
#: writing a stream's state costs more than NumPy filling an array).
DRAW_IN_PASS_FROM = 16_384


# -- NumPy's SFC64 uniforms drawn inside compiled loops, the same numbers bit for bit --------
# Every named stream is a Generator on an SFC64 bit generator: the same integer steps and the
# same exact conversions as NumPy (a double is (next64 >> 11) * 2**-53; a float32 is
# (next32 >> 8) * 2**-24, where next32 hands out the low and then the high half of one
# 64-bit step), and the generator's state (with its waiting half) is written back after.
# (Kept in this module with their callers: numba's cache sees a change of this file only.)


@jit.inner
def _sfc64(a, b, c, w):
    """One SFC64 step on the state ``a, b, c, counter``, held in locals (registers).

    Returns the output and the new state. The day's pass keeps its streams' states in locals
    this way: a step then never waits for the memory of the step before.
    """
    tmp = a + b + w
    c2 = ((c << np.uint64(24)) | (c >> np.uint64(40))) + tmp
    return tmp, b ^ (b >> np.uint64(11)), c + (c << np.uint64(3)), c2, w + np.uint64(1)


@jit.inner
def _put(s, a, b, c, w):
    """Write a state held in locals back into its array ``s = [a, b, c, counter]``."""
    s[0] = a
    s[1] = b
    s[2] = c
    s[3] = w


@jit.inner
def _as_f64(nxt):
    """Turn a 64-bit output into a double in [0, 1) as ``Generator.random()`` does."""
    return np.float64(nxt >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@jit.inner
def _as_f32(bits):
    """Turn 32 bits into a float32 as ``Generator.random(dtype=float32)`` does."""
    return np.float32(bits >> np.uint64(8)) * np.float32(1.0 / 16777216.0)


@jit.inner
def _draw_f64(s):
    """``Generator.random()`` from the state array ``s`` (the pass inlines it)."""
    nxt, a, b, c, w = _sfc64(s[0], s[1], s[2], s[3])
    _put(s, a, b, c, w)
    return _as_f64(nxt)


@jit.inner
def _draw_f32(s, buf):
    """``Generator.random(dtype=float32)``; ``buf = [has half, half]`` (the pass inlines it)."""
    if buf[0] != 0:
        buf[0] = 0
        return _as_f32(np.uint64(buf[1]))
    nxt, a, b, c, w = _sfc64(s[0], s[1], s[2], s[3])
    _put(s, a, b, c, w)
    buf[0] = 1
    buf[1] = np.int64(nxt >> np.uint64(32))
    return _as_f32(nxt & np.uint64(0xFFFFFFFF))


def sfc64_state(rs: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """Return a copy of an SFC64 generator's state (words, buffered half), or ``None``."""
    bg = rs.bit_generator
    if type(bg) is not np.random.SFC64:
        return None
    st = bg.state
    words = np.array(st["state"]["state"], dtype=np.uint64)
    return words, np.array([st["has_uint32"], st["uinteger"]], dtype=np.int64)


def set_sfc64_state(rs: np.random.Generator, words: np.ndarray, buf: np.ndarray) -> None:
    """Put a state from :func:`sfc64_state` (advanced by compiled draws) back in ``rs``."""
    bg = rs.bit_generator
    st = bg.state
    st["state"]["state"] = words
    st["has_uint32"] = int(buf[0])
    st["uinteger"] = int(buf[1])
    bg.state = st


def _below_drawn(s, table, codes, out):
    k = 0
    a, b, c, w = s[0], s[1], s[2], s[3]  # the state in locals, written back at the end
    for i in range(len(codes)):
        nxt, a, b, c, w = _sfc64(a, b, c, w)
        u = _as_f64(nxt)
        code = codes[i]
        if code < 0 or code >= len(table):
            return -1  # (the caller leaves the stream untouched)
        if u < table[code]:
            out[k] = i
            k += 1
    _put(s, a, b, c, w)
    return k


def _doubled(a: np.ndarray, cap: int) -> np.ndarray:
    """Return ``a`` copied into an array of ``cap`` (>= its length)."""
    b = np.empty(cap, dtype=a.dtype)
    b[: len(a)] = a
    return b


def below_table_drawn(rs: np.random.Generator, table: np.ndarray, codes: np.ndarray):
    """Return ``jit.below_table(rs.random(len(codes)), table, codes)``, drawing as it goes.

    ``rs`` ends where ``rs.random(len(codes))`` leaves it. ``None`` without numba, for a
    market under :data:`DRAW_IN_PASS_FROM`, a generator other than SFC64 or a code outside
    the table (``rs`` untouched: the caller's NumPy code runs).
    """
    ok = jit.ENABLED and codes.dtype == np.int8 and len(codes) >= DRAW_IN_PASS_FROM
    state = sfc64_state(rs) if ok else None
    if state is None:
        return None
    out = np.empty(len(codes), dtype=np.intp)
    k = _jit(_below_drawn)(state[0], table, codes, out)
    if k < 0:
        return None
    set_sfc64_state(rs, *state)
    return out[:k].copy()


def _heap_start(idx, start, pos, heap_v, heap_g):
    """Build the heap over the effects' heads; returns its size."""
    h = 0
    for g in range(len(start) - 1):
        pos[g] = start[g]
        if pos[g] < start[g + 1]:
            c = h
            h += 1
            v = idx[pos[g]]
            while c > 0 and heap_v[(c - 1) >> 1] > v:
                heap_v[c] = heap_v[(c - 1) >> 1]
                heap_g[c] = heap_g[(c - 1) >> 1]
                c = (c - 1) >> 1
            heap_v[c] = v
            heap_g[c] = g
    return h


def _day_pass(
    stage, m, u, ub, gen, s_buy, s_move, half_move, sat_g, mul, add,
    a_all, b_all, a_churn, b_churn, buy_a, buy_b, a_edge, b_edge, edge_cause,
    slot_edge, to_churn,
    idx, st, start, tables, has_edge, buy_f, val_f, codes, fmax,
    heap, pos, heap_v, heap_g, i0, kb, kt,
    b_who, b_v, b_vf, b_cause, t_who, t_edge, t_cause, t_v, t_vf,
):  # fmt: skip
    """Walk people ``i0..``; stops before a person when the output may not have room.

    Returns where it stopped (``n``: done) and the buys and moves written so far; the heap
    (``heap[0]`` items in ``heap_v``/``heap_g``, effects' positions ``pos``) and the
    streams' states carry over to the call that resumes.
    """
    n = len(stage)
    d = slot_edge.shape[1]
    n_e = tables.shape[1] - 1  # the last column is the factor 1 of padding slots
    n_g = len(start) - 1
    use_g = len(sat_g) > 0
    one = np.float32(1)
    h = heap[0]
    ent_g = np.empty(max(n_g, 1), dtype=np.intp)  # this person's entries, by group
    ent_k = np.empty(max(n_g, 1), dtype=np.intp)
    fac = np.ones(d)
    best = np.ones(d)
    cause = np.full(d, -1, dtype=np.int16)
    pe = np.zeros(d, dtype=np.float64)
    cum = np.zeros(d, dtype=np.float64)
    ee = np.zeros(d, dtype=np.intp)
    buy = 1.0
    val = 1.0
    buy_cause = np.int16(-1)
    room_b = len(b_who)
    room_t = len(t_who)
    # the streams' states in locals (written back on return): a step's result then never
    # waits for the memory of the step before
    by_a, by_b, by_c, by_w = s_buy[0], s_buy[1], s_buy[2], s_buy[3]
    mv_a, mv_b, mv_c, mv_w = s_move[0], s_move[1], s_move[2], s_move[3]
    m_has, m_half = half_move[0], half_move[1]
    for i in range(i0, n):
        if kb == room_b or kt == room_t:  # full: the caller grows the buffers, resumes at i
            heap[0] = h
            _put(s_buy, by_a, by_b, by_c, by_w)
            _put(s_move, mv_a, mv_b, mv_c, mv_w)
            half_move[0], half_move[1] = m_has, m_half
            return i, kb, kt
        if gen:  # the streams' uniforms, drawn here (NumPy's numbers, in order)
            nxt, by_a, by_b, by_c, by_w = _sfc64(by_a, by_b, by_c, by_w)
            ubi = _as_f64(nxt)
            if m_has != 0:  # a float32 is the low, then the high half of one step
                m_has = 0
                ui = _as_f32(np.uint64(m_half))
            else:
                nxt, mv_a, mv_b, mv_c, mv_w = _sfc64(mv_a, mv_b, mv_c, mv_w)
                m_has = 1
                m_half = np.int64(nxt >> np.uint64(32))
                ui = _as_f32(nxt & np.uint64(0xFFFFFFFF))
        else:
            ubi = ub[i]
            ui = u[i]
        s = stage[i]
        ne = 0
        while h > 0 and heap_v[0] == i:  # pop this person's entries
            g = heap_g[0]
            ent_g[ne] = g
            ent_k[ne] = pos[g]
            ne += 1
            pos[g] += 1
            if pos[g] < start[g + 1]:
                nv = idx[pos[g]]
                ng = g
            else:
                h -= 1
                nv = heap_v[h]
                ng = heap_g[h]
            c = 0
            while True:
                child = 2 * c + 1
                if child >= h:
                    break
                if child + 1 < h and heap_v[child + 1] < heap_v[child]:
                    child += 1
                if heap_v[child] >= nv:
                    break
                heap_v[c] = heap_v[child]
                heap_g[c] = heap_g[child]
                c = child
            if h > 0:
                heap_v[c] = nv
                heap_g[c] = ng
        pb = buy_a[s] * m[i] + buy_b[s]  # the purchase probability without effects
        if not pb < one:
            pb = one
        modded = False
        if ne > 0:
            for a in range(1, ne):  # group order (the order factors multiply in)
                x, y = ent_g[a], ent_k[a]
                b = a - 1
                while b >= 0 and ent_g[b] > x:
                    ent_g[b + 1] = ent_g[b]
                    ent_k[b + 1] = ent_k[b]
                    b -= 1
                ent_g[b + 1] = x
                ent_k[b + 1] = y
            mt = 1.0
            mb = 1.0
            for a in range(ne):
                g = ent_g[a]
                sv = np.float64(st[ent_k[a]])
                if not (0.0 <= sv <= 1.0):  # no bound
                    mt = np.inf
                    mb = np.inf
                    break
                mt *= max(1.0 + (fmax[g, s] - 1.0) * sv, 1.0)  # (branch-free)
                mb *= max(1.0 + (buy_f[g] - 1.0) * sv, 1.0)
            mi = np.float64(m[i])
            gi = np.float64(sat_g[i]) if use_g else 0.0
            a_ = a_all[s] * mi + b_all[s]
            c_ = a_churn[s] * mi + b_churn[s]
            slack = 1e-4 * (abs(a_) + abs(gi) * abs(c_)) + 1e-8
            act_t = ui < mt * (a_ + gi * c_ + slack) * (1.0 + 1e-4) + 1e-8
            act_b = ubi < np.float64(pb) * mb * (1.0 + 1e-6) + 1e-12
            act = (not (gi >= -1.0)) | act_t | act_b  # (a negative or NaN factor: no bound)
            if act:  # the exact factors, as the NumPy code combines them
                modded = True
                for j in range(d):
                    fac[j] = 1.0
                    best[j] = 1.0
                    cause[j] = -1
                buy = 1.0
                val = 1.0
                buy_best = 1.0
                buy_cause = np.int16(-1)
                for a in range(ne):
                    g = ent_g[a]
                    code = codes[g]
                    sv = np.float64(st[ent_k[a]])
                    if has_edge[g]:
                        for j in range(d):
                            e = slot_edge[s, j]
                            f = 1.0 + (tables[g, e if e >= 0 else n_e] - 1.0) * sv
                            fac[j] *= f
                            if f > best[j]:
                                cause[j] = code
                                best[j] = f
                    bf = buy_f[g]
                    if bf != 1.0:
                        fb = 1.0 + (bf - 1.0) * sv
                        buy *= fb
                        if fb > buy_best:
                            buy_cause = code
                            buy_best = fb
                    vf = val_f[g]
                    if vf != 1.0:
                        val *= 1.0 + (vf - 1.0) * sv
        # (a) a repeat purchase
        p = np.float32(min(np.float64(pb) * buy, 1.0)) if modded else pb
        if ubi < p:
            v = ubi / np.float64(p)
            v = max(v, 1e-12)
            v = min(v, 1 - 1e-12)
            b_who[kb] = i
            b_v[kb] = v
            b_vf[kb] = val if modded else 1.0
            b_cause[kb] = buy_cause if modded else -1
            kb += 1
        # (b) a move
        mm = np.float64(m[i])
        if modded:  # exact probability under the person's effects, rounded to float32
            tot = 0.0
            for j in range(d):
                e = slot_edge[s, j]
                if e < 0:
                    continue
                q = a_edge[e] * mm + b_edge[e]
                if use_g and to_churn[e]:
                    q *= 1.0 + np.float64(sat_g[i])
                q *= fac[j]
                tot += q
            pl = np.float32(tot)
        else:
            pl = a_all[s] * m[i] + b_all[s]
            if use_g:
                pl += (a_churn[s] * m[i] + b_churn[s]) * sat_g[i]
        if not ui < pl * mul + add:
            continue
        tot = 0.0  # a candidate: pick the move with the exact probabilities (float64)
        for j in range(d):
            e = slot_edge[s, j]
            if e < 0:
                ee[j] = 0
                pe[j] = 0.0
                continue
            ee[j] = e
            q = a_edge[e] * mm + b_edge[e]
            if use_g and to_churn[e]:
                q *= 1.0 + np.float64(sat_g[i])
            if modded:
                q *= fac[j]
            pe[j] = q
            tot += q
        if tot > 1.0:
            for j in range(d):
                pe[j] /= tot
            tot = 1.0
        acc = 0.0
        for j in range(d):
            acc += pe[j]
            cum[j] = acc
        uc = np.float64(ui)
        if not uc < tot:
            continue
        k = 0
        for j in range(d):
            if uc >= cum[j]:
                k += 1
        if k > d - 1:
            k = d - 1
        lower = cum[k - 1] if k > 0 else 0.0
        e = ee[k]
        c = edge_cause[e]
        if modded and cause[k] >= 0:
            c = cause[k]
        v = (uc - lower) / pe[k]
        v = max(v, 1e-12)
        v = min(v, 1 - 1e-12)
        t_who[kt] = i
        t_edge[kt] = e
        t_cause[kt] = c
        t_v[kt] = v
        t_vf[kt] = val if modded else 1.0
        kt += 1
    heap[0] = h
    _put(s_buy, by_a, by_b, by_c, by_w)
    _put(s_move, mv_a, mv_b, mv_c, mv_w)
    half_move[0], half_move[1] = m_has, m_half
    return n, kb, kt


_FACTORS: dict[tuple, tuple | None] = {}  # the groups' factor tables, by what they are made of


def _group_factors(g, groups) -> tuple | None:
    """Return the day's groups' factor tables for the pass (``None``: a factor is < 0).

    ``tables`` (edge factors, padded with a factor 1), whether each group has edge factors,
    buy and value factors, cause codes, and each group's largest edge factor per stage. They
    depend only on the groups' causes and factors (the same from day to day while the same
    tactics are in force), so they are kept, not rebuilt each day.
    """
    key = (
        g.slot_edge.tobytes(),
        g.slot_edge.shape,
        *((gr[0], gr[1].tobytes(), gr[2], gr[3]) for gr in groups),
    )
    if key in _FACTORS:
        return _FACTORS[key]
    n_e = max([len(gr[1]) for gr in groups], default=0)
    tables = np.ones((len(groups), n_e + 1))
    for k, gr in enumerate(groups):
        tables[k, : len(gr[1])] = gr[1]
    buy_f = np.array([gr[2] for gr in groups], dtype=np.float64)
    out = None
    if not ((tables < 0).any() or (buy_f < 0).any()):
        edges = np.where(g.slot_edge >= 0, g.slot_edge, n_e)
        out = (
            tables,
            np.array([bool((gr[1] != 1.0).any()) for gr in groups], dtype=np.bool_),
            buy_f,
            np.array([gr[3] for gr in groups], dtype=np.float64),
            np.array([gr[0] for gr in groups], dtype=np.int16),
            tables[:, edges].max(axis=2) if groups else np.ones((0, g.n_stages)),
        )
    if len(_FACTORS) >= 256:  # a long session of many scenarios: start again
        _FACTORS.clear()
    _FACTORS[key] = out
    return out


def buys_and_moves(g, t, stage, m, u, ub, sat_g, groups, mul, add):
    """Today's purchases and moves in one compiled pass, or ``None`` (use the NumPy steps).

    Parameters
    ----------
    g, t : StageGraph, DayTables
    stage, m : ndarray
        Stage codes (int8) and propensities (float32).
    u, ub : ndarray or numpy.random.Generator
        The day's transition (float32) and purchase (float64) uniforms, or the streams to
        draw them from (SFC64: drawn in the pass, and the streams advanced as NumPy would).
    sat_g : ndarray of float32 or None
        Per-person extra factor on moves into churned stages.
    groups : list
        The day's effects, one per cause (see :func:`kernel.effect_groups`).
    mul, add : float32
        The fast path's slack on the probability of leaving a stage.

    Returns
    -------
    ((who, v, value_factor, cause), (who, edge, cause, v), mover_value_factor) or None
        As :func:`kernel.buy_step` and :func:`kernel.transition_step` return them, and the
        order-value factor of each mover (for orders made by a purchase move).
    """
    d = g.slot_edge.shape[1]
    if not (jit.ENABLED and g.n_edges > 0 and d < 8 and stage.dtype == np.int8):
        return None
    gen = isinstance(u, np.random.Generator)
    if gen:  # draw the uniforms in the pass
        move_state, buy_state = sfc64_state(u), sfc64_state(ub)
        if move_state is None or buy_state is None:
            return None
        arrays = (np.zeros(0, np.float32), np.zeros(0))
        states = (buy_state[0], *move_state)
    elif u.dtype == np.float32 and ub.dtype == np.float64:
        arrays = (u, ub)
        states = (np.zeros(4, np.uint64), np.zeros(4, np.uint64), np.zeros(2, np.int64))
    else:
        return None
    if not jit._f32(m, t.a_all, t.b_all, t.a_churn, t.b_churn, t.buy_a, t.buy_b, sat_g):
        return None
    factors = _group_factors(g, groups)
    if factors is None:  # a negative factor: the bounds assume factors >= 0
        return None
    start = np.zeros(len(groups) + 1, dtype=np.int64)
    start[1:] = np.cumsum([len(gr[4]) for gr in groups])
    idx = np.concatenate([np.zeros(0, np.intp)] + [gr[4] for gr in groups]).astype(np.intp)
    st = np.concatenate([np.zeros(0, np.float32)] + [gr[5] for gr in groups]).astype(np.float32)
    tables, has_edge, buy_f, val_f, codes, fmax = factors
    args = (
        stage, m, *arrays, gen, *states, np.zeros(0, np.float32) if sat_g is None else sat_g,
        mul, add,
        t.a_all, t.b_all, t.a_churn, t.b_churn, t.buy_a, t.buy_b, t.a_edge, t.b_edge,
        t.edge_cause.astype(np.int16), g.slot_edge, g.to_churn,
        idx, st, start, tables, has_edge, buy_f, val_f, codes, fmax,
    )  # fmt: skip
    n = len(stage)
    pos = np.zeros(max(len(groups), 1), dtype=np.int64)
    heap_v = np.empty(max(len(groups), 1), dtype=np.intp)
    heap_g = np.empty(max(len(groups), 1), dtype=np.intp)
    heap = np.array([_jit(_heap_start)(idx, start, pos, heap_v, heap_g)], dtype=np.int64)
    cap = min(n, 1024 + n // 32)  # a few percent buy or move on a day; doubled when full
    dtypes = (np.intp, np.float64, np.float64, np.int16, np.intp, np.intp, np.int16)
    outs = [np.empty(cap, dtype=dt) for dt in (*dtypes, np.float64, np.float64)]
    i, kb, kt = 0, 0, 0
    while True:
        i, kb, kt = _jit(_day_pass)(*args, heap, pos, heap_v, heap_g, i, kb, kt, *outs)
        if i >= n:
            break
        cap = min(n, 2 * cap) if cap < n else cap + 1
        outs = [_doubled(o, cap) for o in outs]
    buys = tuple(o[:kb].copy() for o in outs[:4])
    moves = tuple(o[:kt].copy() for o in outs[4:8])
    mover_vf = outs[8][:kt].copy()
    if gen:  # the streams move on as if NumPy had drawn the day's uniforms
        set_sfc64_state(ub, states[0], buy_state[1])
        set_sfc64_state(u, states[1], states[2])
    return buys, moves, mover_vf
