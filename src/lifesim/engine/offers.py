"""Contacts in force and single-use offers: who holds what, redemptions, expiry, reservations.

Each tactic's contacts are one :class:`~lifesim.engine.kernel.Effect` with per-person expiry
and budget period (sorted by person). A new contact replaces the person's earlier one of the
same tactic. A single-use offer's possible redemption is reserved from the budget when it is
issued; it is paid when used (one offer per order) and the reservation returns to the budget
when the offer lapses unused in the same period.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lifesim.engine import jit_marketing
from lifesim.engine.kernel import Effect
from lifesim.engine.services import Services
from lifesim.model import CompiledTactic

__all__ = ["OfferBook"]


class OfferBook:
    """Every tactic's contacts in force, with their offers and reservations.

    Parameters
    ----------
    svc : Services
    tactics : dict of str to CompiledTactic
    codes : dict of str to int
        Cause code per tactic.
    stats : dict
        Per-tactic counters (``redeemed`` is updated here).
    """

    def __init__(
        self,
        svc: Services,
        tactics: dict[str, CompiledTactic],
        codes: dict[str, int],
        stats: dict[str, dict[str, int]],
    ):
        self.svc = svc
        self.tactics = tactics
        self.codes = codes
        self.stats = stats
        self.stores: dict[int, Effect] = {}

    def effects(self) -> list[Effect]:
        """Return the effects in force (one per tactic with contacts)."""
        return list(self.stores.values())

    def pending_release(self, period: int, before: int) -> float:
        """Reservations of ``period`` that come back if their offers lapse unused before ``before``.

        Pacing counts this money as available today, so a strategy spreads it over the period
        instead of spending it in a burst when it comes back.
        """
        total = 0.0
        for code, e in self.stores.items():
            if e.used is None or not len(e.idx):
                continue
            unit = self.tactics[self.svc.causes[code]].spec.cost.per_redemption
            if unit <= 0:
                continue
            back = ~e.used & (e.period_each == period) & (e.until_each <= before)
            total += unit * int(np.count_nonzero(back))
        return total

    def redeem(self, day: int, who: np.ndarray) -> np.ndarray:
        """Use up single-use offers held by today's buyers (one offer per order) and charge them.

        Returns
        -------
        ndarray of int16
            Per buyer, the cause code of the offer the order redeemed (-1: none).
        """
        used_code = np.full(len(who), -1, dtype=np.int16)
        if not len(who):
            return used_code
        for code in sorted(self.stores):
            e = self.stores[code]
            if e.used is None or not len(e.idx):
                continue
            p = jit_marketing.redeem_hits(e.idx, e.used, who, used_code, code)
            if p is None:
                pos = np.minimum(np.searchsorted(e.idx, who), len(e.idx) - 1)
                hit = (e.idx[pos] == who) & (used_code < 0)
                hit[hit] = ~e.used[pos[hit]]
                p = pos[hit]
                e.used[p] = True
                used_code[hit] = code
            if not len(p):
                continue
            name = self.svc.causes[code]
            unit = self.tactics[name].spec.cost.per_redemption
            self.stats[name]["redeemed"] += len(p)
            per_each = e.period_each[p]
            if (per_each == per_each[0]).all():  # the usual case: one period
                periods, counts = per_each[:1], np.array([len(p)], dtype=np.intp)
            else:
                periods, counts = np.unique(per_each, return_counts=True)
            for per, k in zip(periods, counts, strict=True):
                self.svc.ledger.spend_reserved(day, int(per), name, "redemption", int(k), k * unit)
        return used_code

    def expire(self, day: int) -> None:
        """Drop lapsed contacts; unredeemed offers give their reservation back."""
        led = self.svc.ledger
        for code, e in self.stores.items():
            if e.until_each is None or not len(e.idx):
                continue
            done = jit_marketing.drop_lapsed(e, day, led.period)
            if done is not None:  # compiled: one pass over the store
                kept, released = done
                if kept is not None:
                    e.idx, e.strength, e.until_each, e.period_each, e.used = kept
                unit = self.tactics[self.svc.causes[code]].spec.cost.per_redemption
                if released and unit > 0:
                    led.release(led.period, released * unit)
                continue
            drop = e.until_each <= day
            if drop.any():
                self._release(code, e, drop)
                _keep(e, ~drop)

    def _release(self, code: int, e: Effect, mask: np.ndarray) -> None:
        if e.used is None:
            return
        name = self.svc.causes[code]
        unit = self.tactics[name].spec.cost.per_redemption
        if unit <= 0:
            return
        led = self.svc.ledger
        k = int((mask & ~e.used & (e.period_each == led.period)).sum())
        if k:
            led.release(led.period, k * unit)

    def add(self, ct: CompiledTactic, day: int, idx: np.ndarray, strength: Any, until: int):
        """Record contacts made on ``day``: each replaces the person's earlier one of the tactic."""
        code = self.codes[ct.name]
        spec = ct.spec
        n = len(idx)
        e = self.stores.get(code)
        if e is None or not len(e.idx):
            period, upto, used = _new_entries(n, self.svc.ledger.period, until, spec.single_use)
            self.stores[code] = Effect(
                idx,
                ct.edge_factor,
                day,
                self.svc.days,
                cause=code,
                buy_factor=spec.buy,
                value_factor=spec.order_value,
                strength=strength,
                used=used,
                until_each=upto,
                period_each=period,
            )
            return
        led = self.svc.ledger
        merged = jit_marketing.merge_store(
            e, idx, strength, until, led.period, led.period, spec.single_use
        )
        if merged is not None:
            e.idx, e.strength, e.until_each, e.period_each, e.used, released = merged
            unit = spec.cost.per_redemption
            if released and unit > 0:
                led.release(led.period, released * unit)
            return
        period, upto, used = _new_entries(n, led.period, until, spec.single_use)
        pos = np.minimum(np.searchsorted(idx, e.idx), n - 1)
        replaced = idx[pos] == e.idx
        if replaced.any():
            self._release(code, e, replaced)
            _keep(e, ~replaced)
        e.idx = np.concatenate([e.idx, idx])
        order = np.argsort(e.idx, kind="stable")
        e.idx = e.idx[order]
        e.strength = np.concatenate([e.strength, strength])[order]
        e.until_each = np.concatenate([e.until_each, upto])[order]
        e.period_each = np.concatenate([e.period_each, period])[order]
        if used is not None:
            e.used = np.concatenate([e.used, used])[order]


def _new_entries(n: int, period: int, until: int, single_use: bool) -> tuple:
    """Budget period, expiry day and (single-use offers) used flags of ``n`` new contacts."""
    used = np.zeros(n, dtype=bool) if single_use else None
    return np.full(n, period, dtype=np.int16), np.full(n, until, dtype=np.int32), used


def _keep(e: Effect, keep: np.ndarray) -> None:
    e.idx = e.idx[keep]
    e.strength = e.strength[keep]
    e.until_each = e.until_each[keep]
    e.period_each = e.period_each[keep]
    if e.used is not None:
        e.used = e.used[keep]
