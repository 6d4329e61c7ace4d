"""Support staff as a capacity-limited SimPy resource; waiting lowers satisfaction."""

from __future__ import annotations

import numpy as np
import simpy

from lifesim.config.scenario import Support

__all__ = ["SupportDesk"]


class SupportDesk:
    """A support team of ``agents`` (a :class:`simpy.Resource`) working a FIFO ticket queue.

    Each day's new tickets are cut into batches of ``tickets_per_agent_per_day``; every batch is
    one SimPy process that waits for a free agent, then takes one day of that agent's time.
    People with an open ticket lose ``wait_penalty`` satisfaction per day; on resolution they
    gain ``resolve_bonus``. With too few agents the queue (backlog) grows and satisfaction falls,
    which raises churn when ``satisfaction.churn_weight`` > 0.
    """

    def __init__(
        self,
        env: simpy.Environment,
        spec: Support,
        stage_codes: dict[str, int],
        n_stages: int,
        on_resolved=None,
    ):
        self.env = env
        self.on_resolved = on_resolved
        self.spec = spec
        self.staff = simpy.Resource(env, capacity=spec.agents)
        self.ticket_p = np.zeros(n_stages, dtype=np.float32)
        for s, p in spec.ticket_p.items():
            self.ticket_p[stage_codes[s]] = p
        self.opened = 0
        self.resolved = 0
        self.wait_days_total = 0.0
        self.daily: list[tuple[int, int, int, int]] = []  # day, opened, resolved, backlog

    def open_tickets(self, day: int, who: np.ndarray, sat: np.ndarray, tickets: np.ndarray):
        """Queue today's new tickets (``who``) as batches requesting an agent."""
        tickets[who] += 1
        self.opened += len(who)
        size = self.spec.tickets_per_agent_per_day
        for k in range(0, len(who), size):
            self.env.process(self._batch(who[k : k + size], day, sat, tickets))

    def _batch(self, who, day, sat, tickets):
        with self.staff.request() as req:
            yield req
            yield self.env.timeout(1)
        sat[who] = np.minimum(sat[who] + np.float32(self.spec.resolve_bonus), np.float32(1.0))
        tickets[who] -= 1
        self.resolved += len(who)
        self.wait_days_total += len(who) * (self.env.now - (day + 0.5))
        if self.on_resolved is not None:
            self.on_resolved(who)

    def end_of_day(self, day: int, sat: np.ndarray, tickets: np.ndarray) -> None:
        """Apply the waiting penalty and record the day's figures."""
        waiting = tickets > 0
        if self.spec.wait_penalty > 0 and waiting.any():
            np.subtract(sat, np.float32(self.spec.wait_penalty), out=sat, where=waiting)
            np.maximum(sat, 0, out=sat)
        self.daily.append((day, self.opened, self.resolved, self.opened - self.resolved))
