"""Who is in which stage, in a fixed order of the market, kept up to date move by move.

A strategy asks each day for the people of some stages in score (or fixed random) order,
often only the first few it can pay for. Sorting the whole market by stage every day costs a
pass over everyone; this index keeps one bit per person and stage instead, at the person's
position in the order, and flips the bits of the people whose stage changed since it last
looked (a few percent a day). A question then costs a scan of 64-person words for the stages
asked, and a walk over the people it returns.

Compiled (numba) only: without numba the engine sorts the market by stage each day, as
before, and both give the same people in the same order (``tests/engine/test_jit.py``).
"""

from __future__ import annotations

import numpy as np

from lifesim.engine import jit
from lifesim.engine.jit import _jit

__all__ = ["StageIndex"]

_DEBRUIJN = 0x03F79D71B4CB0A89  # 64-bit de Bruijn sequence: a set bit's index in one lookup
_BIT_AT = np.zeros(64, dtype=np.int64)
for _i in range(64):
    _BIT_AT[(((1 << _i) * _DEBRUIJN) % 2**64) >> 58] = _i


@jit.inner
def _popcount64(x):
    """Count the set bits of a uint64 (SWAR)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


def _index_build(bits, counts, snap, stage, rank):
    n_codes = bits.shape[0]
    for p in range(len(stage)):
        c = stage[p]
        if c < 0 or c >= n_codes:
            return False
        pos = rank[p]
        bits[c, pos >> 6] |= np.uint64(1) << np.uint64(pos & 63)
        counts[c] += 1
        snap[p] = c
    return True


def _index_sync(bits, counts, snap, stage, rank):
    """Flip the bits of everyone whose stage differs from ``snap`` (one pass, no lists)."""
    n_codes = bits.shape[0]
    for p in range(len(stage)):
        c = stage[p]
        old = snap[p]
        if c == old:
            continue
        if c < 0 or c >= n_codes:
            return False
        pos = rank[p]
        b = np.uint64(1) << np.uint64(pos & 63)
        bits[old, pos >> 6] &= ~b
        bits[c, pos >> 6] |= b
        counts[old] -= 1
        counts[c] += 1
        snap[p] = c
    return True


def _index_contacts(days, day_of, last_snap, last, rank):
    """Set the bits of people contacted since the last sync in their new day's map.

    One pass over everyone, comparing ``last`` with ``last_snap``. A bit left in an older
    day's map masks nobody wrongly: contact days only grow.
    """
    n_slots = days.shape[0]
    for p in range(len(last)):
        new = last[p]
        if new == last_snap[p]:
            continue
        last_snap[p] = new
        if new < 0:
            continue
        slot = new % n_slots
        if day_of[slot] != new:  # the slot held another day
            if day_of[slot] > new:
                continue  # a newer one: this contact is too old to keep
            days[slot, :] = 0
            day_of[slot] = new
        pos = rank[p]
        days[slot, pos >> 6] |= np.uint64(1) << np.uint64(pos & 63)


def _recent_mask(days, day_of, upto, out):
    """OR of the day maps of days after ``upto`` into ``out``; False if there are none."""
    any_recent = False
    for w in range(len(out)):  # (plain loops: a slice copy here took seconds to compile)
        out[w] = 0
    for s in range(len(day_of)):
        if day_of[s] > upto:
            any_recent = True
            for w in range(len(out)):
                out[w] |= days[s, w]
    return any_recent


def _index_walk(bits, codes, perm, last, upto, start, limit, out, recent, use_recent):
    """People of stages ``codes`` from their ``start``-th on in order (wrapping), recent-free.

    With ``use_recent``, the bits of ``recent`` mark people whose last contact is after
    ``upto``: skipped 64 at a time.
    """
    n = len(perm)
    n_words = bits.shape[1]
    k = len(codes)
    at = 0  # the position (in the order) of the start-th member
    if start > 0:
        acc = 0
        at = n
        for w in range(n_words):
            x = np.uint64(0)
            for j in range(k):
                x |= bits[codes[j], w]
            cnt = _popcount64(x)
            if acc + cnt > start:
                for b in range(64):  # the (start - acc)-th set bit of this word
                    if (x >> np.uint64(b)) & np.uint64(1):
                        if acc == start:
                            at = (w << 6) + b
                            break
                        acc += 1
                break
            acc += cnt
    got = 0
    for phase in range(2):  # positions at.. of the order, then ..at
        lo = at if phase == 0 else 0
        hi = n if phase == 0 else at
        if lo >= hi or got == limit:
            continue
        w_end = (hi - 1) >> 6
        for w in range(lo >> 6, w_end + 1):
            if got == limit:
                break
            x = np.uint64(0)
            for j in range(k):
                x |= bits[codes[j], w]
            if use_recent:
                x &= ~recent[w]
            if w == lo >> 6:  # positions below lo
                x &= ~((np.uint64(1) << np.uint64(lo & 63)) - np.uint64(1))
            if w == w_end and (hi & 63) != 0:  # positions from hi on
                x &= (np.uint64(1) << np.uint64(hi & 63)) - np.uint64(1)
            while x != np.uint64(0) and got < limit:
                low = x & (~x + np.uint64(1))  # the lowest set bit
                b = _BIT_AT[(low * np.uint64(_DEBRUIJN)) >> np.uint64(58)]
                p = perm[(w << 6) + b]
                x ^= low
                if last[p] <= upto:
                    out[got] = p
                    got += 1
    return got


class StageIndex:
    """The people of each stage as bits at their positions in a fixed order of the market.

    It also keeps who was last contacted on each of the latest :attr:`DAYS` days, so a
    frequency cap skips the recently contacted 64 people at a time (contact days only grow:
    a contact sets the person's day to today).

    Parameters
    ----------
    perm : ndarray of intp
        The order: ``perm[k]`` is the person at position ``k``.
    rank : ndarray of int32
        Each person's position (``rank[perm[k]] == k``).
    stage : ndarray of int8
        Stage codes now.
    n_codes : int
        Number of stage codes.
    """

    DAYS = 16

    def __init__(self, perm: np.ndarray, rank: np.ndarray, stage: np.ndarray, n_codes: int):
        n = len(perm)
        self.perm = perm
        self.rank = rank
        self.bits = np.zeros((n_codes, (n + 63) // 64), dtype=np.uint64)
        self.counts = np.zeros(n_codes, dtype=np.int64)
        self.snap = np.empty(n, dtype=stage.dtype)
        self.ok = bool(_jit(_index_build)(self.bits, self.counts, self.snap, stage, rank))
        self._counts = self.counts.tolist()
        # people last contacted on each of the latest DAYS days (slot = day % DAYS)
        self.days = np.zeros((self.DAYS, len(self.bits[0])), dtype=np.uint64)
        self.day_of = np.full(self.DAYS, -1, dtype=np.int64)
        self.last_snap: np.ndarray | None = None
        self._codes: dict[tuple[int, ...], np.ndarray] = {}
        self._recent: dict[int, np.ndarray] = {}  # upto -> people contacted after it (bits)
        self._no_recent = np.zeros(0, dtype=np.uint64)

    @staticmethod
    def usable(perm: np.ndarray, rank: np.ndarray, stage: np.ndarray) -> bool:
        """Tell whether the compiled index can serve these arrays (else sort each day)."""
        return (
            jit.ENABLED
            and stage.dtype == np.int8
            and perm.dtype in (np.intp, np.int64)
            and rank.dtype == np.int32
        )

    def sync(self, stage: np.ndarray, last: np.ndarray | None = None) -> bool:
        """Flip the bits of the people whose stage (or last contact day) changed since."""
        self.ok = self.ok and bool(
            _jit(_index_sync)(self.bits, self.counts, self.snap, stage, self.rank)
        )  # a few percent a day changed
        self._counts = self.counts.tolist()
        if last is not None and last.dtype == np.int16:
            if self.last_snap is None:
                self.last_snap = np.full(len(last), -32768, dtype=np.int16)
            _jit(_index_contacts)(self.days, self.day_of, self.last_snap, last, self.rank)
            self._recent = {}
        return self.ok

    def total(self, codes: list[int]) -> int:
        """Return the number of people in stages ``codes``."""
        return sum(self._counts[c] for c in codes)

    def first_not_since(
        self, codes: list[int], last: np.ndarray, upto: int, start: int, limit: int | None
    ) -> np.ndarray:
        """Return people of stages ``codes`` in order, from their ``start``-th on (wrapping).

        Only those whose ``last`` day is at most ``upto``; the first ``limit`` of them
        (all: ``None``).
        """
        total = self.total(codes)
        k = total if limit is None else max(min(limit, total), 0)
        out = np.empty(k, dtype=self.perm.dtype)
        if k == 0:
            return out
        recent = self._no_recent
        if self.last_snap is not None and last.dtype == np.int16:
            recent = self._recent.get(upto)
            if recent is None:  # the day maps change at sync only: one mask per gap a day
                recent = np.empty(self.days.shape[1], dtype=np.uint64)
                if not _jit(_recent_mask)(self.days, self.day_of, upto, recent):
                    recent = self._no_recent
                self._recent[upto] = recent
        key = tuple(codes)
        arr = self._codes.get(key)
        if arr is None:
            arr = self._codes[key] = np.asarray(codes, dtype=np.intp)
        got = _jit(_index_walk)(
            self.bits, arr, self.perm, last, upto, start, k, out, recent, len(recent) > 0
        )
        return out[:got]
