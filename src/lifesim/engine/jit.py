"""Compiled loops (numba) with the pure-NumPy code as the fallback, and how they are compiled.

The day's purchases and moves are in :mod:`lifesim.engine.jit_day`, the marketing
bookkeeping in :mod:`lifesim.engine.jit_marketing` and the stage index in
:mod:`lifesim.engine.stage_index`; here: stage counts, churn multipliers, ticket draws.

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
    "count",
    "in_stages",
    "set_enabled",
]

_HAVE_NUMBA = importlib.util.find_spec("numba") is not None
ENABLED = _HAVE_NUMBA and os.environ.get("LIFESIM_JIT", "1") != "0"
_compiled: dict[str, object] = {}
_by_function: dict[object, object] = {}  # the same, looked up by the function itself (fast)


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
    f = _by_function.get(fn)
    if f is not None:
        return f
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
    _by_function[fn] = f
    return f


def _count(codes, out):
    # four sets of counters: people in a row share a code, and one counter bumped again
    # at once waits for its last store (several times slower)
    k = len(out)
    n = len(codes)
    acc = np.zeros((4, k), dtype=np.intp)
    n4 = n - n % 4
    for i in range(0, n4, 4):
        a, b, c, d = codes[i], codes[i + 1], codes[i + 2], codes[i + 3]
        if a < 0 or a >= k or b < 0 or b >= k or c < 0 or c >= k or d < 0 or d >= k:
            return False
        acc[0, a] += 1
        acc[1, b] += 1
        acc[2, c] += 1
        acc[3, d] += 1
    for i in range(n4, n):
        a = codes[i]
        if a < 0 or a >= k:
            return False
        acc[0, a] += 1
    for j in range(k):
        out[j] += acc[0, j] + acc[1, j] + acc[2, j] + acc[3, j]
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


def _f32(*arrays) -> bool:
    """All given arrays are float32 (the compiled loops then round exactly as NumPy does)."""
    return all(a is None or a.dtype == np.float32 for a in arrays)
