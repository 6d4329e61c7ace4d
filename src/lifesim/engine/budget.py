"""Budget periods for marketing: monthly fees, which broadcasts run, pacing of the allowance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lifesim.engine.services import Services
from lifesim.model import CompiledTactic

__all__ = ["MarketingBudget"]


class MarketingBudget:
    """Fees and broadcasts of one strategy's tactics, period by period.

    Parameters
    ----------
    svc : Services
    tactics : dict of str to CompiledTactic
        The compiled catalogue.
    used : list of str
        The strategy's tactics (fees are paid for these only).
    codes : dict of str to int
        Cause code per tactic.
    """

    def __init__(
        self,
        svc: Services,
        tactics: dict[str, CompiledTactic],
        used: list[str],
        codes: dict[str, int],
    ):
        self.svc = svc
        self.tactics = tactics
        self.used = used
        self.codes = codes
        self.broadcasts: set[str] = set()
        #: ``pending(period, before)``: reserved money that comes back before ``before``
        self.pending: Callable[[int, int], float] | None = None
        self.max_catch_up = svc.scenario.budget.max_catch_up
        self.even_rate = np.inf  # this period's budget after fees per day

    def start_period(self, day: int) -> None:
        """Pay monthly fees of the strategy's tactics; broadcasts run while paid for."""
        self.broadcasts = set()
        led = self.svc.ledger
        for t in self.used:
            spec = self.tactics[t].spec
            fee = spec.cost.per_month
            if fee > 0:
                if led.affordable(fee, 1) < 1:
                    continue
                led.charge(day, t, "monthly fee", 1, fee)
            if spec.mode == "broadcast":
                self.broadcasts.add(t)
        length = max(self.period_end(day) - day, 1)
        self.even_rate = led.remaining / length

    def period_end(self, day: int) -> int:
        """First day of the next budget period (or the horizon)."""
        p = self.svc.scenario.budget.period_days
        return min((day // p + 1) * p, self.svc.days)

    @property
    def remaining(self) -> float:
        """Budget left in this period (``inf`` when unlimited)."""
        return self.svc.ledger.remaining

    def allowance(self, day: int) -> float:
        """Today's money for contacts (the pacing rule; see ``budget.max_catch_up``).

        ``(remaining + pending) / days left in the period``, at most ``max_catch_up`` times
        the period's even rate (its budget after monthly fees over its length). ``pending``
        is money reserved for this period's single-use offers that lapse unused before the
        period ends (it comes back then, so it is spread over the period now). The ceiling
        keeps money a strategy could not use, or that came back, from being spent in a
        burst on the last days. The ledger still refuses any contact the money actually
        left cannot pay for.
        """
        end = self.period_end(day)
        pending = self.pending(self.svc.ledger.period, end) if self.pending is not None else 0.0
        money = (self.remaining + pending) / max(end - day, 1)
        if self.max_catch_up is None or not np.isfinite(self.even_rate):
            return money
        return min(money, self.max_catch_up * self.even_rate)

    def stage_factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Broadcast tactics' per-edge factors and causes, per-stage buy factors and ticket load."""
        g = self.svc.graph
        factor = np.ones(g.n_edges)
        cause = np.full(g.n_edges, -1, dtype=np.int16)
        buy = np.ones(g.n_stages)
        tickets = np.zeros(g.n_stages, dtype=np.float32)
        for t in sorted(self.broadcasts):
            ct = self.tactics[t]
            on = ct.stage_mask[g.src]
            f = np.where(on, ct.edge_factor, 1.0)
            factor *= f
            cause = np.where(f > 1, np.int16(self.codes[t]), cause)
            buy = np.where(ct.stage_mask, buy * ct.spec.buy, buy)
            tickets = np.where(ct.stage_mask, tickets + ct.spec.support_load, tickets)
        return factor, cause, buy, tickets
