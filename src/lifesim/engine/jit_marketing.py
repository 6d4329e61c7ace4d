"""Compiled loops of the marketing bookkeeping (numba), with the NumPy code as the fallback.

They follow the switch of :mod:`lifesim.engine.jit` (``LIFESIM_JIT``, ``set_enabled``): the
people of each stage in a fixed order, the frequency-cap filter and the head of a (merged,
rolled) stage list, the people a contact reaches and what it records on them (fatigue, last
contact, satisfaction), the merge of today's contacts into a tactic's store and the drop of
lapsed ones, redemptions, the end-of-day fatigue, the count and pick of a referral pool, and
the uniforms of a named stream at a few positions. Integer work, or float32 sums in the NumPy
code's order, or the stream's own arithmetic: the results equal the NumPy code's bit for bit
(``tests/engine/test_jit.py``).
"""

from __future__ import annotations

import numpy as np

from lifesim.engine import jit
from lifesim.engine.jit import _jit

__all__ = [
    "after_contact",
    "buckets",
    "count_in",
    "draws_at",
    "drop_lapsed",
    "fatigue_day",
    "first_not_since",
    "first_not_since_merged",
    "first_not_since_runs",
    "first_outside",
    "first_served",
    "has_repeats",
    "merge_store",
    "not_since",
    "nth_in",
    "redeem_hits",
]


def _buckets(perm, stage, out, counts):
    n_codes = len(counts)
    staged = np.empty(len(perm), dtype=np.int8)  # one gather of the stages, read twice
    tally = np.zeros((4, n_codes), dtype=np.int64)  # 4 tallies: no wait on the last count
    for k in range(len(perm)):
        s = stage[perm[k]]
        if s < 0 or s >= n_codes:
            return False
        staged[k] = s
        tally[k & 3, s] += 1
    for s in range(n_codes):
        counts[s] += tally[0, s] + tally[1, s] + tally[2, s] + tally[3, s]
    pos = np.zeros(len(counts), dtype=np.int64)
    acc = 0
    for s in range(len(counts)):
        pos[s] = acc
        acc += counts[s]
    for k in range(len(perm)):
        s = staged[k]
        out[pos[s]] = perm[k]
        pos[s] += 1
    return True


def buckets(perm: np.ndarray, stage: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``perm`` grouped by stage (stable) and the number of people in each stage."""
    if jit.ENABLED and stage.dtype == np.int8:
        out = np.empty(len(perm), dtype=perm.dtype)
        counts = np.zeros(k, dtype=np.int64)
        if _jit(_buckets)(perm, stage, out, counts):
            return out, counts  # else a code outside [0, k): NumPy's answer
    staged = stage[perm]
    by_stage = np.argsort(staged, kind="stable")  # radix sort of small ints
    return perm[by_stage], np.bincount(staged, minlength=k)


def _not_since(people, last, upto):
    out = np.empty(len(people), dtype=people.dtype)
    k = 0
    for i in range(len(people)):
        p = people[i]
        if last[p] <= upto:
            out[k] = p
            k += 1
    return out[:k].copy()


def not_since(people: np.ndarray, last: np.ndarray, upto: int) -> np.ndarray:
    """Return ``people`` whose ``last`` day (int16) is at most ``upto``, in order."""
    if jit.ENABLED and last.dtype == np.int16 and people.dtype in (np.intp, np.int64, np.int32):
        return _jit(_not_since)(people, last, upto)
    return people[last[people].astype(np.int32) <= upto]


def _first_not_since(people, last, upto, start, limit):
    n = len(people)
    out = np.empty(min(n, limit), dtype=people.dtype)
    k = 0
    for j in range(n):
        if k == limit:
            break
        i = start + j
        if i >= n:
            i -= n
        p = people[i]
        if last[p] <= upto:
            out[k] = p
            k += 1
    return out[:k].copy()


def first_not_since(
    people: np.ndarray, last: np.ndarray, upto: int, start: int, limit: int
) -> np.ndarray:
    """Return the first ``limit`` of ``np.roll(people, -start)`` whose ``last`` is <= ``upto``.

    Reads ``people`` from position ``start`` on (wrapping round) and stops at ``limit``:
    the head of :func:`not_since` of the rolled list, without the roll or a whole pass.
    """
    if (
        jit.ENABLED
        and last.dtype == np.int16
        and people.dtype in (np.intp, np.int64, np.int32)
        and 0 <= start <= len(people)
    ):
        return _jit(_first_not_since)(people, last, upto, start, max(limit, 0))
    if start:
        people = np.roll(people, -start)
    return people[last[people].astype(np.int32) <= upto][: max(limit, 0)]


def _merge_store(o_idx, o_st, o_until, o_period, o_used, n_idx, n_st, until, period, cur):
    no, nn = len(o_idx), len(n_idx)
    has_used = len(o_used) > 0
    m = no + nn
    idx = np.empty(m, dtype=o_idx.dtype)
    st = np.empty(m, dtype=o_st.dtype)
    up = np.empty(m, dtype=o_until.dtype)
    pe = np.empty(m, dtype=o_period.dtype)
    used = np.zeros(m if has_used else 0, dtype=np.bool_)
    released = 0  # reservations given back by old entries replaced today
    i = 0
    j = 0
    k = 0
    while i < no or j < nn:  # merge two sorted lists; an old entry re-contacted is replaced
        if j < nn and i < no and o_idx[i] == n_idx[j]:
            if has_used and not o_used[i] and o_period[i] == cur:
                released += 1
            i += 1
            continue
        if j >= nn or (i < no and o_idx[i] < n_idx[j]):
            idx[k] = o_idx[i]
            st[k] = o_st[i]
            up[k] = o_until[i]
            pe[k] = o_period[i]
            if has_used:
                used[k] = o_used[i]
            i += 1
        else:
            idx[k] = n_idx[j]
            st[k] = n_st[j]
            up[k] = until
            pe[k] = period
            j += 1
        k += 1
    return idx[:k], st[:k], up[:k], pe[:k], used[:k] if has_used else used, released


def merge_store(e, idx, strength, until: int, period: int, cur: int, single_use: bool):
    """Merge today's contacts (sorted ``idx``) into a tactic's store ``e``, or ``None``.

    Entries of people contacted again are replaced. Returns the merged ``idx, strength,
    until_each, period_each, used`` and the number of replaced entries whose unused offer
    was reserved in period ``cur`` (``None`` without numba: the caller's NumPy code runs).
    """
    if not jit.ENABLED or e.idx.dtype != idx.dtype or e.strength.dtype != strength.dtype:
        return None
    o_used = e.used if single_use and e.used is not None else np.zeros(0, np.bool_)
    out = _jit(_merge_store)(
        e.idx, e.strength, e.until_each, e.period_each, o_used, idx, strength,
        e.until_each.dtype.type(until), e.period_each.dtype.type(period), cur,
    )  # fmt: skip
    idx2, st, up, pe, used, released = out
    return idx2, st, up, pe, (used if single_use else None), int(released)


def _count_in(mask, codes):
    m = len(mask)
    k = 0
    for i in range(len(codes)):
        c = codes[i]
        if c < 0 or c >= m:
            return -1
        k += mask[c]
    return k


def count_in(mask: np.ndarray, codes: np.ndarray) -> int:
    """Return ``np.count_nonzero(mask[codes])``: how many people the stage ``mask`` marks."""
    if jit.ENABLED and codes.dtype == np.int8:
        k = _jit(_count_in)(mask, codes)
        if k >= 0:  # else a code outside the mask: NumPy's answer (or error)
            return int(k)
    return int(np.count_nonzero(mask[codes]))


def _nth_in(mask, codes, ranks, out):
    m = len(mask)
    n = len(codes)
    block = 512
    j = 0
    k = 0  # people the mask marks before ``lo``
    for lo in range(0, n, block):
        if j == len(ranks):
            break
        hi = min(lo + block, n)
        c_blk = 0
        for i in range(lo, hi):  # count the block (a tight loop)
            c = codes[i]
            if c < 0 or c >= m:
                return False
            c_blk += mask[c]
        if k + c_blk <= ranks[j]:
            k += c_blk
            continue
        for i in range(lo, hi):  # a rank falls in this block: find it
            if mask[codes[i]]:
                while j < len(ranks) and ranks[j] == k:
                    out[j] = i
                    j += 1
                k += 1
    return j == len(ranks)


def nth_in(mask: np.ndarray, codes: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Return ``np.flatnonzero(mask[codes])[ranks]`` for sorted, distinct ``ranks`` (intp).

    Stops at the last rank asked for, and never lists the others.
    """
    if jit.ENABLED and codes.dtype == np.int8:
        out = np.empty(len(ranks), dtype=np.intp)
        if _jit(_nth_in)(mask, codes, ranks, out):
            return out  # else a code outside the mask or a rank past the end: NumPy's answer
    return np.flatnonzero(mask[codes])[ranks]


def _drop_lapsed(idx, st, until, period, used, day, cur):
    n = len(idx)
    has_used = len(used) > 0
    keep = 0
    released = 0
    for i in range(n):
        if until[i] > day:
            keep += 1
        elif has_used and not used[i] and period[i] == cur:
            released += 1
    if keep == n:
        return False, idx, st, until, period, used, 0
    idx2 = np.empty(keep, dtype=idx.dtype)
    st2 = np.empty(keep, dtype=st.dtype)
    up2 = np.empty(keep, dtype=until.dtype)
    pe2 = np.empty(keep, dtype=period.dtype)
    us2 = np.empty(keep if has_used else 0, dtype=np.bool_)
    k = 0
    for i in range(n):
        if until[i] > day:
            idx2[k] = idx[i]
            st2[k] = st[i]
            up2[k] = until[i]
            pe2[k] = period[i]
            if has_used:
                us2[k] = used[i]
            k += 1
    return True, idx2, st2, up2, pe2, us2, released


def drop_lapsed(e, day: int, cur: int):
    """Drop the entries of store ``e`` that lapse by ``day`` in one pass, or ``None``.

    Returns ``(kept, released)``: ``kept`` is the kept ``idx, strength, until_each,
    period_each, used`` (``None`` when nothing lapses) and ``released`` how many dropped
    offers were unused and reserved in period ``cur`` (their money comes back). ``None``
    without numba: the caller's NumPy code runs.
    """
    if not jit.ENABLED or e.strength is None or e.period_each is None:
        return None
    used = e.used if e.used is not None else np.zeros(0, np.bool_)
    out = _jit(_drop_lapsed)(e.idx, e.strength, e.until_each, e.period_each, used, day, cur)
    changed, idx, st, up, pe, us, released = out
    if not changed:
        return None, 0
    return (idx, st, up, pe, (us if e.used is not None else None)), int(released)


def _fatigue_day(fatigue, sat, thr, per_unit, decay, with_sat):
    zero = np.float32(0)
    for i in range(len(fatigue)):
        f = fatigue[i]
        if with_sat:
            over = f - thr
            if over < zero:
                over = zero
            over = over * per_unit
            s = sat[i] - over
            if s < zero:
                s = zero
            sat[i] = s
        fatigue[i] = f * decay


def fatigue_day(fatigue, sat, thr, per_unit, decay, with_sat: bool) -> bool:
    """End of day in one pass: satisfaction falls past the threshold, fatigue decays.

    ``thr``, ``per_unit`` and ``decay`` are float32, as are both arrays (every step then
    rounds as the NumPy code's does). Returns ``False`` (nothing done) without numba.
    """
    if not (jit.ENABLED and fatigue.dtype == np.float32 and sat.dtype == np.float32):
        return False
    _jit(_fatigue_day)(fatigue, sat, thr, per_unit, decay, with_sat)
    return True


def _after_contact(idx, fatigue, add_f, last, last_with, day, sat, add_s, with_sat):
    zero = np.float32(0)
    one = np.float32(1)
    for j in range(len(idx)):
        p = idx[j]
        fatigue[p] += add_f
        last[p] = day
        last_with[p] = day
        if with_sat:
            s = sat[p] + add_s
            if s < zero:
                s = zero
            elif s > one:
                s = one
            sat[p] = s


def after_contact(
    idx, fatigue, add_f, last, last_with, day: int, sat, add_s, with_sat: bool
) -> bool:
    """Record contacts of the distinct people ``idx`` in one pass, or return ``False``.

    Fatigue grows by ``add_f``, the day becomes their last contact (with any tactic and with
    this one), and with ``with_sat`` satisfaction moves by ``add_s`` within [0, 1].
    ``add_f`` and ``add_s`` are float32 like the arrays, so every sum rounds as NumPy's.
    ``False`` without numba: the caller's NumPy code runs.
    """
    if not (
        jit.ENABLED
        and fatigue.dtype == np.float32
        and sat.dtype == np.float32
        and last.dtype == np.int16
        and last_with.dtype == np.int16
    ):
        return False
    _jit(_after_contact)(idx, fatigue, add_f, last, last_with, day, sat, add_s, with_sat)
    return True


def _redeem_hits(idx, used, who, used_code, code, pos):
    n = len(idx)
    k = 0
    for j in range(len(who)):
        if used_code[j] >= 0:
            continue
        w = who[j]
        lo = 0
        hi = n
        while lo < hi:  # the leftmost position of w in the sorted idx
            mid = (lo + hi) >> 1
            if idx[mid] < w:
                lo = mid + 1
            else:
                hi = mid
        if lo < n and idx[lo] == w and not used[lo]:
            pos[k] = lo
            k += 1
            used_code[j] = code
    for t in range(k):  # marked after the search, as the NumPy code does
        used[pos[t]] = True
    return k


def redeem_hits(idx, used, who, used_code, code: int):
    """Use up the offers of store ``idx``/``used`` held by buyers ``who`` not served yet.

    A buyer whose ``used_code`` is still -1 and who holds an unused offer here gets
    ``code``; the offer is marked used. Returns the store positions of the offers used,
    in buyer order, or ``None`` without numba (the caller's NumPy code runs).
    """
    if not jit.ENABLED or who.dtype not in (np.intp, np.int64, np.int32):
        return None
    pos = np.empty(len(who), dtype=np.intp)
    k = _jit(_redeem_hits)(idx, used, who, used_code, np.int16(code), pos)
    return pos[:k]


def _sfc64_draws_at(state, n, pos, out):
    # SFC64 as NumPy implements it; a double is (next >> 11) * 2**-53, one step per draw
    a = state[0]
    b = state[1]
    c = state[2]
    w = state[3]
    one = np.uint64(1)
    s3 = np.uint64(3)
    s11 = np.uint64(11)
    s24 = np.uint64(24)
    s40 = np.uint64(40)
    scale = 1.0 / 9007199254740992.0
    m = len(pos)
    j = 0
    for i in range(n):
        tmp = a + b + w
        w += one
        a = b ^ (b >> s11)
        b = c + (c << s3)
        c = ((c << s24) | (c >> s40)) + tmp
        while j < m and pos[j] == i:
            out[j] = np.float64(tmp >> s11) * scale
            j += 1
    state[0] = a
    state[1] = b
    state[2] = c
    state[3] = w


def draws_at(rs: np.random.Generator, n: int, pos: np.ndarray) -> np.ndarray:
    """Return ``rs.random(n)[pos]`` for sorted ``pos``, leaving ``rs`` where that leaves it.

    With numba and an SFC64 stream (every named stream is one) the draws nobody looks at
    are stepped over without being stored; otherwise the NumPy code runs.
    """
    bg = rs.bit_generator
    ok = (
        jit.ENABLED
        and type(bg) is np.random.SFC64
        and pos.dtype in (np.intp, np.int64, np.int32)
        and (len(pos) == 0 or (0 <= pos[0] and pos[-1] < n))
    )
    if not ok:
        return rs.random(n)[pos]
    st = bg.state
    s = np.array(st["state"]["state"], dtype=np.uint64)
    out = np.empty(len(pos))
    _jit(_sfc64_draws_at)(s, n, pos, out)
    st["state"]["state"] = s
    bg.state = st
    return out


def _first_not_since_runs(people, lo, hi, rank, last, upto, start, limit):
    k = len(lo)
    total = 0
    for r in range(k):
        total += hi[r] - lo[r]
    out = np.empty(min(total, limit), dtype=people.dtype)
    got = 0
    heads = lo.copy()
    if 0 < start < total:  # the runs' heads at merged position `start`, by bisection on rank
        xa, xb = 0, len(rank)
        while xa < xb:  # the smallest x with more than `start` people ranked below x
            x = (xa + xb) >> 1
            c = 0
            for r in range(k):  # people of run r ranked below x: a binary search
                a, b = lo[r], hi[r]
                while a < b:
                    mid = (a + b) >> 1
                    if rank[people[mid]] < x:
                        a = mid + 1
                    else:
                        b = mid
                c += a - lo[r]
            if c > start:
                xb = x
            else:
                xa = x + 1
        for r in range(k):  # the person ranked xa - 1 is at position `start`: heads before it
            a, b = lo[r], hi[r]
            while a < b:
                mid = (a + b) >> 1
                if rank[people[mid]] < xa - 1:
                    a = mid + 1
                else:
                    b = mid
            heads[r] = a
    for phase in range(2):  # positions start.. of the merged list, then ..start (wrapping)
        todo = total - start if phase == 0 else start
        if phase == 1:
            heads = lo.copy()
        for _ in range(todo):
            if got == limit:
                break
            best = -1
            best_rank = 0
            for r in range(k):  # the run whose head comes first in the order
                if heads[r] < hi[r]:
                    rr = rank[people[heads[r]]]
                    if best < 0 or rr < best_rank:
                        best = r
                        best_rank = rr
            p = people[heads[best]]
            heads[best] += 1
            if last[p] <= upto:
                out[got] = p
                got += 1
    return out[:got].copy()


def first_not_since_runs(people, lo, hi, rank, last, upto: int, start: int, limit: int):
    """:func:`first_not_since_merged` of the runs ``people[lo[r]:hi[r]]`` (no copy of them).

    The runs must not share a person (the bisection counts a person once): a stage asked
    for twice is the caller's to handle (``MarketView.people_in`` takes the whole list).

    The heads at merged position ``start`` are found by bisection on rank, so only the
    part of the merge that is returned is walked.
    """
    total = int((hi - lo).sum())
    if not (
        jit.ENABLED
        and last.dtype == np.int16
        and people.dtype in (np.intp, np.int64, np.int32)
        and 0 <= start <= total
    ):
        parts = [people[a:b] for a, b in zip(lo, hi, strict=True)]
        merged = np.concatenate(parts)
        merged = merged[np.argsort(rank[merged], kind="stable")]
        return first_not_since(merged, last, upto, start, limit)
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    return _jit(_first_not_since_runs)(people, lo, hi, rank, last, upto, start, max(limit, 0))


def first_not_since_merged(parts, rank, last, upto: int, start: int, limit: int) -> np.ndarray:
    """:func:`first_not_since` of the merge of ``parts`` (each sorted by ``rank``), by rank.

    Merges only as far as the head needs, instead of sorting all of the parts' people.
    """
    cat = np.concatenate(parts)
    bounds = np.zeros(len(parts) + 1, dtype=np.int64)
    bounds[1:] = np.cumsum([len(p) for p in parts])
    return first_not_since_runs(cat, bounds[:-1], bounds[1:], rank, last, upto, start, limit)


def _first_served(people, mask, stage, k, out):
    m = len(mask)
    n = len(stage)
    j = 0
    for i in range(len(people)):
        if j == k:
            break
        p = people[i]
        if p < 0 or p >= n:
            return -1
        c = stage[p]
        if c < 0 or c >= m:
            return -1
        if mask[c]:
            out[j] = p
            j += 1
    return j


def first_served(people: np.ndarray, mask: np.ndarray, stage: np.ndarray, k: int):
    """Return the first ``k`` of ``people`` whose stage ``mask`` serves, as int32, or ``None``.

    Stops at the ``k``-th. ``None`` without numba, or for a person or a stage code outside
    the arrays (the caller's NumPy code runs, and answers as NumPy does).
    """
    if not (jit.ENABLED and stage.dtype == np.int8 and people.dtype in (np.int64, np.int32)):
        return None
    out = np.empty(max(min(k, len(people)), 0), dtype=np.int32)
    j = _jit(_first_served)(people, mask, stage, k, out)
    return None if j < 0 else out[:j]


def _first_outside(people, n):
    for i in range(len(people)):
        if people[i] < 0 or people[i] >= n:
            return i
    return -1


def first_outside(people: np.ndarray, n: int) -> int:
    """Return the position of the first of ``people`` outside ``0..n-1``, or -1 (one pass)."""
    if jit.ENABLED and people.dtype in (np.int64, np.int32):
        return int(_jit(_first_outside)(people, n))
    bad = np.flatnonzero((people < 0) | (people >= n))
    return int(bad[0]) if len(bad) else -1


def _has_repeats(idx):
    for i in range(1, len(idx)):
        if idx[i] == idx[i - 1]:
            return True
    return False


def has_repeats(idx: np.ndarray) -> bool:
    """Tell whether the sorted ``idx`` holds a value twice."""
    if jit.ENABLED and idx.dtype in (np.int64, np.int32):
        return bool(_jit(_has_repeats)(idx))
    return bool(len(idx) > 1 and (idx[1:] == idx[:-1]).any())
