"""Compiled inner loops of the daily step (numba), with the pure-NumPy code as the fallback.

Each function here does exactly the floating-point operations of the NumPy code it replaces,
in the same order, so results are bit-identical with or without numba (the test suite runs
both and compares). numba compiles on first use and caches the machine code on disk
(``cache=True``), so the compile time (a few seconds) is paid once per machine.

Set the environment variable ``LIFESIM_JIT=0`` to use the NumPy code even when numba is
installed.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

__all__ = [
    "ENABLED",
    "below_table",
    "churn_extra",
    "buy",
    "transition",
    "combine_effects",
    "count",
    "in_stages",
    "set_enabled",
]

_HAVE_NUMBA = importlib.util.find_spec("numba") is not None
ENABLED = _HAVE_NUMBA and os.environ.get("LIFESIM_JIT", "1") != "0"
_compiled: dict[str, object] = {}


def set_enabled(on: bool) -> bool:
    """Switch the compiled loops on or off (for tests and benchmarks); returns the old state."""
    global ENABLED
    old = ENABLED
    ENABLED = bool(on) and _HAVE_NUMBA
    return old


def inner(fn):
    """Mark ``fn`` as called from compiled functions (compiled with the first of them).

    Keep it in the module of its callers: numba's disk cache of a caller notices a change
    of the caller's file only, not of a function it calls from another file.
    """
    fn._lifesim_inner = True
    return fn


def _jit(fn):
    """Return ``fn`` compiled (numba is imported and compiles on first use only).

    Functions it calls that are marked :func:`inner` are compiled first and take their
    place in the module (numba calls compiled functions only).
    """
    key = f"{fn.__module__}.{fn.__qualname__}"  # one entry per function, whatever its name
    f = _compiled.get(key)
    if f is None:
        import numba

        for name in fn.__code__.co_names:
            dep = fn.__globals__.get(name)
            if getattr(dep, "_lifesim_inner", False):
                fn.__globals__[name] = _jit(dep)
        # error_model="numpy": a float division by zero gives inf/nan as in NumPy
        f = _compiled[key] = numba.njit(cache=True, nogil=True, error_model="numpy")(fn)
    return f


def _union_rows(idx, start):
    """Merge the sorted runs ``idx[start[g]:start[g + 1]]``: their union and each entry's row.

    A heap over the runs' heads: O(entries x log runs), no pass over the whole market.
    """
    n_g = len(start) - 1
    pos = start[:-1].copy()
    heap_v = np.empty(n_g, dtype=np.intp)
    heap_g = np.empty(n_g, dtype=np.intp)
    h = 0
    for g in range(n_g):
        if pos[g] < start[g + 1]:
            c = h  # push (idx[pos[g]], g) and sift up
            h += 1
            v = idx[pos[g]]
            while c > 0 and heap_v[(c - 1) >> 1] > v:
                heap_v[c] = heap_v[(c - 1) >> 1]
                heap_g[c] = heap_g[(c - 1) >> 1]
                c = (c - 1) >> 1
            heap_v[c] = v
            heap_g[c] = g
    rows = np.empty(len(idx), dtype=np.intp)
    uniq = np.empty(len(idx), dtype=np.intp)
    u = 0
    last = -1
    while h > 0:
        v = heap_v[0]
        g = heap_g[0]
        if v != last:
            uniq[u] = v
            u += 1
            last = v
        rows[pos[g]] = u - 1
        pos[g] += 1
        if pos[g] < start[g + 1]:  # the run's next head replaces the top
            nv = idx[pos[g]]
            ng = g
        else:  # the run is done: the heap's last item replaces the top
            h -= 1
            nv = heap_v[h]
            ng = heap_g[h]
        c = 0  # sift (nv, ng) down from the top
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
    return uniq[:u].copy(), rows


def _combine_effects(
    stage, slot_edge, idx, erow, u, st, start, tables, has_edge, buy_f, val_f, codes
):  # fmt: skip
    d = slot_edge.shape[1]
    n_e = tables.shape[1] - 1  # the last column is the factor 1 of padding slots
    fac = np.ones((u, d))
    best = np.ones((u, d))
    cause = np.full((u, d), -1, dtype=np.int16)
    buy = np.ones(u)
    val = np.ones(u)
    buy_best = np.ones(u)
    buy_cause = np.full(u, -1, dtype=np.int16)
    for gi in range(len(codes)):
        code = codes[gi]
        bf = buy_f[gi]
        vf = val_f[gi]
        for k in range(start[gi], start[gi + 1]):
            i = idx[k]
            r = erow[k]
            sv = np.float64(st[k])
            if has_edge[gi]:
                s = stage[i]
                for j in range(d):
                    e = slot_edge[s, j]
                    f = 1.0 + (tables[gi, e if e >= 0 else n_e] - 1.0) * sv
                    fac[r, j] *= f
                    b = best[r, j]
                    if f > b:
                        cause[r, j] = code
                        best[r, j] = f
            if bf != 1.0:
                fb = 1.0 + (bf - 1.0) * sv
                buy[r] *= fb
                if fb > buy_best[r]:
                    buy_cause[r] = code
                    buy_best[r] = fb
            if vf != 1.0:
                val[r] *= 1.0 + (vf - 1.0) * sv
    return fac, cause, buy, val, buy_cause


def _transition(
    stage, m, u, a_all, b_all, a_churn, b_churn, sat_g, mul, add,
    slot_edge, a_edge, b_edge, to_churn, edge_cause, mod_idx, mod_fac, mod_cause,
    start, r, k_out, who, edge_out, cause_out, v_out,
):  # fmt: skip
    n = len(stage)
    d = slot_edge.shape[1]
    use_g = len(sat_g) > 0
    n_mod = len(mod_idx)
    cap = len(who)
    pe = np.zeros(d, dtype=np.float64)
    cum = np.zeros(d, dtype=np.float64)
    ee = np.zeros(d, dtype=np.intp)
    for i in range(start, n):
        s = stage[i]
        while r < n_mod and mod_idx[r] < i:
            r += 1
        modded = r < n_mod and mod_idx[r] == i
        mm = np.float64(m[i])
        if modded:  # exact probability under the person's effects, rounded to float32
            tot = 0.0
            for j in range(d):
                e = slot_edge[s, j]
                if e < 0:
                    continue
                p = a_edge[e] * mm + b_edge[e]
                if use_g and to_churn[e]:
                    p *= 1.0 + np.float64(sat_g[i])
                p *= mod_fac[r, j]
                tot += p
            pl = np.float32(tot)
        else:
            pl = a_all[s] * m[i] + b_all[s]
            if use_g:
                pl += (a_churn[s] * m[i] + b_churn[s]) * sat_g[i]
        if not u[i] < pl * mul + add:
            continue
        # a candidate: pick the move with the exact probabilities (float64)
        tot = 0.0
        for j in range(d):
            e = slot_edge[s, j]
            if e < 0:
                ee[j] = 0
                pe[j] = 0.0
                continue
            ee[j] = e
            p = a_edge[e] * mm + b_edge[e]
            if use_g and to_churn[e]:
                p *= 1.0 + np.float64(sat_g[i])
            if modded:
                p *= mod_fac[r, j]
            pe[j] = p
            tot += p
        if tot > 1.0:
            for j in range(d):
                pe[j] /= tot
            tot = 1.0
        acc = 0.0
        for j in range(d):
            acc += pe[j]
            cum[j] = acc
        uc = np.float64(u[i])
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
        if modded and mod_cause[r, k] >= 0:
            c = mod_cause[r, k]
        v = (uc - lower) / pe[k]
        v = max(v, 1e-12)
        v = min(v, 1 - 1e-12)
        if k_out == cap:  # full: the caller grows the buffers and resumes at i
            return k_out, i, r
        who[k_out] = i
        edge_out[k_out] = e
        cause_out[k_out] = c
        v_out[k_out] = v
        k_out += 1
    return k_out, n, r


def _buy(
    stage, m, u, buy_a, buy_b, mod_idx, mod_buy, mod_val, mod_cause,
    start, r, k, who, v_out, vf_out, cause_out,
):  # fmt: skip
    n = len(stage)
    n_mod = len(mod_idx)
    one = np.float32(1)
    cap = len(who)
    for i in range(start, n):
        s = stage[i]
        p = buy_a[s] * m[i] + buy_b[s]
        if not p < one:
            p = one
        while r < n_mod and mod_idx[r] < i:
            r += 1
        modded = r < n_mod and mod_idx[r] == i
        if modded:
            p = np.float32(min(np.float64(p) * mod_buy[r], 1.0))
        if not u[i] < p:
            continue
        v = u[i] / np.float64(p)
        v = max(v, 1e-12)
        v = min(v, 1 - 1e-12)
        if k == cap:  # full: the caller grows the buffers and resumes at i
            return k, i, r
        who[k] = i
        v_out[k] = v
        vf_out[k] = mod_val[r] if modded else 1.0
        cause_out[k] = mod_cause[r] if modded else -1
        k += 1
    return k, n, r


def _grown(fn, n: int, args: tuple, dtypes: tuple) -> tuple[np.ndarray, ...]:
    """Run a resumable pass ``fn`` into buffers for a few percent of ``n``, grown as needed.

    The pass returns ``(filled, resume_at, mods_pointer)`` and stops when its buffers are
    full; the buffers then double and it resumes where it stopped. (Growing inside the
    compiled loop would cost reference counting on every step.)
    """
    cap = min(n, 1024 + n // 32)  # a few percent move or buy on a day
    outs = [np.empty(cap, dtype=dt) for dt in dtypes]
    k, i, r = 0, 0, 0
    while True:
        k, i, r = fn(*args, i, r, k, *outs)
        if i >= n:
            return tuple(o[:k].copy() for o in outs)
        cap = min(n, 2 * cap)
        bigger = [np.empty(cap, dtype=dt) for dt in dtypes]
        for b, o in zip(bigger, outs, strict=True):
            b[:k] = o[:k]
        outs = bigger


def transition(g, t, stage, m, u, sat_g, mods, mul, add):
    """Today's moves in one compiled pass (see :func:`kernel.transition_step`), or ``None``.

    ``None`` means: use the NumPy code (numba off or missing, inputs of other dtypes, or
    stages with 8 or more moves, which NumPy sums in another order).
    """
    if not (ENABLED and g.slot_edge.shape[1] < 8 and u.dtype == np.float32):
        return None
    if not _f32(m, t.a_all, t.b_all, t.a_churn, t.b_churn, sat_g):
        return None
    gg = np.zeros(0, np.float32) if sat_g is None else sat_g
    if mods is not None and len(mods.idx):
        mi, mf, mc = mods.idx, mods.slot_factor, mods.slot_cause
    else:
        mi = np.zeros(0, np.intp)
        mf = np.ones((0, g.slot_edge.shape[1]))
        mc = np.zeros((0, g.slot_edge.shape[1]), np.int16)
    args = (
        stage, m, u, t.a_all, t.b_all, t.a_churn, t.b_churn, gg, mul, add,
        g.slot_edge, t.a_edge, t.b_edge, g.to_churn, t.edge_cause.astype(np.int16), mi, mf, mc,
    )  # fmt: skip
    return _grown(_jit(_transition), len(stage), args, (np.intp, np.intp, np.int16, np.float64))


def buy(t, stage, m, u, mods):
    """Today's repeat purchases in one compiled pass (see :func:`kernel.buy_step`), or ``None``."""
    if not (ENABLED and u.dtype == np.float64 and _f32(m, t.buy_a, t.buy_b)):
        return None
    if mods is not None and len(mods.idx):
        mi, mb, mv, mc = mods.idx, mods.buy_factor, mods.value_factor, mods.buy_cause
    else:
        mi, mb, mv = np.zeros(0, np.intp), np.ones(0), np.ones(0)
        mc = np.zeros(0, np.int16)
    args = (stage, m, u, t.buy_a, t.buy_b, mi, mb, mv, mc)
    return _grown(_jit(_buy), len(stage), args, (np.intp, np.float64, np.float64, np.int16))


def _count(codes, out):
    k = len(out)
    for i in range(len(codes)):
        c = codes[i]
        if c < 0 or c >= k:
            return False
        out[c] += 1
    return True


def count(codes: np.ndarray, k: int) -> np.ndarray:
    """Return ``np.bincount(codes, minlength=k)`` of small non-negative codes (one pass)."""
    if ENABLED and codes.dtype == np.int8:
        out = np.zeros(k, dtype=np.intp)
        if _jit(_count)(codes, out):
            return out

    return np.bincount(codes, minlength=k)


def _churn_extra(cm, sat_extra, fatigue, thr, per, mx, use_fat, out):
    one = np.float32(1)
    zero = np.float32(0)
    use_sat = len(sat_extra) > 0
    for i in range(len(cm)):
        f = cm[i]
        if use_sat:
            f = f * (one + sat_extra[i])
        if use_fat:
            o = fatigue[i] - thr
            if o < zero:
                o = zero
            o = o * per
            o = o + one
            if o > mx:
                o = mx
            f = f * o
        out[i] = f - one


def churn_extra(churn_mult, sat_extra, fatigue, thr, per, mx, use_fat) -> np.ndarray | None:
    """Per-person ``factor - 1`` on moves into churned stages, or ``None`` (use NumPy).

    ``churn_mult x (1 + sat_extra) x min(1 + per x max(fatigue - thr, 0), mx) - 1`` in
    float32, rounded after every operation as the NumPy code does.
    """
    if not (ENABLED and _f32(churn_mult, sat_extra, fatigue)):
        return None
    out = np.empty(len(churn_mult), dtype=np.float32)
    se = np.zeros(0, np.float32) if sat_extra is None else sat_extra
    f32 = np.float32
    _jit(_churn_extra)(churn_mult, se, fatigue, f32(thr), f32(per), f32(mx), use_fat, out)
    return out


def _below_table(u, table, codes):
    out = np.empty(len(u), dtype=np.intp)
    k = 0
    for i in range(len(u)):
        c = codes[i]
        if c < 0 or c >= len(table):
            return False, out[:0]
        if u[i] < table[c]:
            out[k] = i
            k += 1
    return True, out[:k].copy()


def below_table(u: np.ndarray, table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Return the indices where ``u < table[codes]`` (a per-stage probability)."""
    if ENABLED and codes.dtype == np.int8:
        ok, out = _jit(_below_table)(u, table, codes)
        if ok:  # else a code outside the table: NumPy's answer (or error)
            return out
    return np.flatnonzero(u < table[codes])


def _in_stages(mask, codes):
    out = np.empty(len(codes), dtype=np.intp)
    k = 0
    for i in range(len(codes)):
        c = codes[i]
        if c < 0 or c >= len(mask):
            return False, out[:0]
        if mask[c]:
            out[k] = i
            k += 1
    return True, out[:k].copy()


def in_stages(mask: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Return ``np.flatnonzero(mask[codes])``: the people whose stage the boolean ``mask`` marks."""
    if ENABLED and codes.dtype == np.int8:
        ok, out = _jit(_in_stages)(mask, codes)
        if ok:  # else a code outside the mask: NumPy's answer (or error)
            return out
    return np.flatnonzero(mask[codes])


def combine_effects(stage, slot_edge, groups) -> tuple[np.ndarray, ...]:
    """Fold each cause's effect into per-slot factors (see :func:`kernel.build_modifiers`).

    ``groups`` is a list of ``(code, edge_factor, buy_factor, value_factor, idx, strength)``
    in the order the factors must be applied (each ``idx`` sorted and unique). Returns the
    people touched (sorted) and their ``fac, cause, buy, val, buy_cause``.
    """
    n = len(stage)
    if ENABLED:
        n_e = max(len(gr[1]) for gr in groups)
        tables = np.ones((len(groups), n_e + 1))
        for k, gr in enumerate(groups):
            tables[k, : len(gr[1])] = gr[1]
        start = np.zeros(len(groups) + 1, dtype=np.int64)
        start[1:] = np.cumsum([len(gr[4]) for gr in groups])
        idx = np.concatenate([gr[4] for gr in groups]).astype(np.intp)
        uniq, erow = _jit(_union_rows)(idx, start)
        return uniq, *_jit(_combine_effects)(
            stage,
            slot_edge,
            idx,
            erow,
            len(uniq),
            np.concatenate([gr[5] for gr in groups]).astype(np.float32),
            start,
            tables,
            np.array([bool((gr[1] != 1.0).any()) for gr in groups]),
            np.array([gr[2] for gr in groups], dtype=np.float64),
            np.array([gr[3] for gr in groups], dtype=np.float64),
            np.array([gr[0] for gr in groups], dtype=np.int16),
        )
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


def _f32(*arrays) -> bool:
    """All given arrays are float32 (the compiled loops then round exactly as NumPy does)."""
    return all(a is None or a.dtype == np.float32 for a in arrays)
