"""The simulation: SimPy owns time, NumPy arrays hold the people, one vectorised step a day.

Phases of a day ``d`` (SimPy time): ``d + 0.0`` budget period starts; ``d + 0.05`` new
people arrive (scenarios with ``market.arrivals``); ``d + 0.1`` the calendar (campaign sends,
strategy decisions); ``d + 0.5`` the customers' day: (a) repeat purchases, (b) stage moves,
(c) new support tickets; ``d + 0.9`` end of day (support waiting penalty, fatigue decay, daily
counts). Support batches finish at ``d + 1.5`` and later.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import simpy

from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence, stream
from lifesim.config import Scenario, ScenarioLike, load_scenario, resolve
from lifesim.config.scenario import Campaign, StrategySpec
from lifesim.engine import jit, jit_day
from lifesim.engine.kernel import DayTables, Effect, buys_and_moves
from lifesim.engine.marketing import Marketing
from lifesim.engine.recorder import Ledger, Recorder
from lifesim.engine.result import SimulationResult
from lifesim.engine.services import Services
from lifesim.engine.support import SupportDesk
from lifesim.errors import ConfigError
from lifesim.model import (
    Population,
    StageGraph,
    Strategy,
    dist_ppf,
    edge_factors,
    make_strategy,
    trusted,
)

__all__ = [
    "Simulation",
    "simulate",
    "PHASE_BUDGET",
    "PHASE_ARRIVALS",
    "PHASE_CALENDAR",
    "PHASE_DAY",
    "PHASE_END",
]

PHASE_BUDGET, PHASE_ARRIVALS, PHASE_CALENDAR, PHASE_DAY, PHASE_END = 0.0, 0.05, 0.1, 0.5, 0.9

Progress = Callable[[int, int], None]


class Simulation:
    """One run of a scenario.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
        The scenario (``None``: the embedded default).
    seed : int, SeedSequence, Generator or None
        Root seed; ``None`` uses the scenario's ``seed`` (fresh entropy if that is unset too).
    customers, days : int, optional
        Override the market size and the horizon.
    record_events : bool
        Keep the event log (moves). Purchases, counts and the ledger are always kept.
    progress : callable(done, total), True or None
        Called after every simulated day; ``True`` shows a progress bar (see
        :mod:`lifesim._progress`).
    strategy : str, StrategySpec or Strategy, optional
        The marketing strategy: a name from the scenario's ``strategies``, a spec, or an
        object following :class:`lifesim.model.Strategy`. ``None``: no marketing (the
        scenario's campaigns still run).
    trust_code : bool
        Allow a ``custom`` strategy spec to import and run the code it names (never
        without this: scenario files are shared like documents).
    initial : mapping, optional
        Start from this market instead of a drawn one: ``stage`` per person (names or codes;
        its length sets the market size; ``market.arrivals`` still adds the scenario's
        inflow, not scaled with it), optionally ``propensity``, ``dropout`` and ``spend``
        multipliers (see :meth:`lifesim.model.Population.set_state`).

    Notes
    -----
    Randomness comes from named streams of the root seed (``population``, ``transition``,
    ``purchase``, ``support``, ``campaign`` ...). The ``transition`` and ``purchase`` streams
    draw exactly one uniform per person per day, whoever is in which stage, so two runs with
    the same seed give person ``i`` the same draw on day ``d`` (common random numbers) even
    when marketing has put them in different stages.
    """

    def __init__(
        self,
        scenario: ScenarioLike = None,
        *,
        seed: SeedLike = None,
        customers: int | None = None,
        days: int | None = None,
        record_events: bool = True,
        progress: ProgressLike = None,
        strategy: str | StrategySpec | Strategy | None = None,
        trust_code: bool = False,
        initial: Mapping[str, Any] | None = None,
    ):
        scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if initial is not None and not isinstance(initial, Mapping):
            hint = (
                " (a LogState is called with a seed: initial=state(seed))"
                if callable(initial)
                else ""
            )
            raise ConfigError(
                [
                    (
                        "initial",
                        "must be a mapping with 'stage' (one stage per person) and optionally "
                        f"'propensity' and 'dropout', got {type(initial).__name__}{hint}",
                    )
                ]
            )
        if initial is not None and "stage" in initial:
            customers = len(initial["stage"])
        self.scenario = resolve(  # a given market keeps the scenario's inflow of new people
            trusted(scn) if trust_code else scn, customers, days, scale_arrivals=initial is None
        )
        if seed is None:
            seed = self.scenario.seed
        self.seed_seq = as_seed_sequence(seed)
        self.graph = StageGraph.from_scenario(self.scenario)
        self.days = self.scenario.days
        arr = self.scenario.market.arrivals
        # _arrived[d]: people arrived before day d (a Poisson count a day, its own stream)
        self._arrived = None
        if arr is not None:
            counts = self.stream("arrivals").poisson(arr.per_day, self.days)
            self._arrived = np.concatenate([[0], np.cumsum(counts)])
        cal = self.scenario.calendar
        self._season = cal.factors(self.days) if cal.seasonal else None  # on repeat purchases
        self.n0 = self.scenario.market.size  # the market at the start
        self.n = self.n0 + (int(self._arrived[-1]) if self._arrived is not None else 0)
        self.segments = list(self.scenario.segments)
        self.pop = Population.build(
            self.scenario, self.graph, self.n0, self.stream("population"), self.n - self.n0
        )
        if initial is not None:
            try:
                self.pop.set_state(self.graph, initial, count=self.n0)
            except ValueError as exc:
                raise ConfigError([("initial", str(exc).removeprefix("initial state: "))]) from None
        # orders are order_value x the person's spend multiplier (drawn, or given in initial)
        self._spend_varies = bool((self.pop.spend != 1).any())
        self.env = simpy.Environment()
        self.ledger = Ledger(self.scenario.budget.per_period)
        self.recorder = Recorder(self.graph.n_stages, self.days, events=record_events)
        self.causes: list[str] = ["organic"]
        self.effects: list[Effect] = []
        self._stage_boosts: list[tuple[int, float, int, int, int]] = []
        self._tables_seen: dict[tuple, tuple[DayTables, np.ndarray]] = {}
        self._day_hooks: list[Callable[[int], None]] = []
        self._rs_transition = self.stream("transition")
        self._rs_purchase = self.stream("purchase")
        self.desk = None
        if self.scenario.support is not None:
            codes = {s: i for i, s in enumerate(self.graph.names)}
            sup = self.scenario.support
            hook = self._resolved if sup.resolve_effect else None
            self.desk = SupportDesk(self.env, sup, codes, self.graph.n_stages, hook)
            self._resolve_factor = edge_factors(self.graph, sup.resolve_effect)
            self._resolve_code = self.cause_code(sup.name)
            self._rs_support = self.stream("support")
        self.services = Services(
            scenario=self.scenario,
            graph=self.graph,
            pop=self.pop,
            ledger=self.ledger,
            n=self.n,
            days=self.days,
            stream=self.stream,
            cause_code=self.cause_code,
            causes=self.causes,
            add_effect=self.add_effect,
            open_tickets=self._open_tickets if self.desk is not None else None,
            history=lambda: self.recorder.peek(self.graph.names, self.causes),
        )
        self.marketing = Marketing(self.services, make_strategy(self.scenario, strategy))
        # validated: now the progress display may start (progress=True: a bar or lines)
        self.progress = as_progress(progress, self.days, f"simulate {self.scenario.name}", "days")
        self.started_at = datetime.now(UTC)
        self.elapsed = 0.0

    # -- services for calendar processes (campaigns, strategies) ---------------------------
    def stream(self, name: str) -> np.random.Generator:
        """Return the named random stream of this run (same name, same numbers)."""
        return stream(self.seed_seq, name)

    def cause_code(self, name: str) -> int:
        """Return the cause code of ``name`` (registering it on first use)."""
        if name not in self.causes:
            self.causes.append(name)
        return self.causes.index(name)

    def add_effect(self, effect: Effect) -> None:
        """Activate a person-level effect (it expires by itself after ``effect.until``)."""
        if len(effect.idx):
            self.effects.append(effect)

    def _open_tickets(self, day: int, who: np.ndarray) -> None:
        self.desk.open_tickets(day, who, self.pop.satisfaction, self.pop.open_tickets)

    def boost_stage(self, stage: int, boost: float, start: int, until: int, cause: int) -> None:
        """Boost the boosted moves out of ``stage`` for everyone in it, on days [start, until)."""
        self._stage_boosts.append((stage, float(boost), start, until, cause))

    def on_day(self, hook: Callable[[int], None]) -> None:
        """Call ``hook(day)`` at the calendar phase of every day (strategies use this)."""
        self._day_hooks.append(hook)

    def _resolved(self, who: np.ndarray) -> None:
        """Give people whose ticket was resolved the staff's resolve effect for a while."""
        day = int(self.env.now)
        until = min(day + self.scenario.support.resolve_effect_days, self.days)
        idx = np.unique(who).astype(np.int32)
        self.add_effect(Effect(idx, self._resolve_factor, day, until, self._resolve_code))

    # -- SimPy processes -------------------------------------------------------------------
    def _at(self, t: float):
        return self.env.timeout(max(0.0, t - self.env.now))

    def _budget_periods(self):
        period = self.scenario.budget.period_days
        for k in range(math.ceil(self.days / period)):
            yield self._at(k * period + PHASE_BUDGET)
            length = min(period, self.days - k * period)
            self.ledger.new_period(k, length / period)  # a stub period gets a prorated budget
            self.marketing.start_period(k * period)

    def _arrivals(self):
        arr = self.scenario.market.arrivals
        entry = self.graph.index(arr.stage)
        code = self.cause_code("arrival")
        rs = self.stream("arrival_orders")
        for day in range(self.days):
            yield self._at(day + PHASE_ARRIVALS)
            lo, hi = self.n0 + self._arrived[day], self.n0 + self._arrived[day + 1]
            if hi > lo:
                self._arrive(day, np.arange(lo, hi), entry, code, rs, arr.purchase)

    def _arrive(self, day, who, entry, code, rs, purchase) -> None:  # noqa: ANN001
        """Move today's arrivals from ``not_arrived`` into their stage (an order if asked)."""
        pop, g, k = self.pop, self.graph, len(who)
        frm = pop.stage[who].copy()
        pop.stage[who] = entry
        pop.entered_day[who] = day
        cause = np.full(k, code, dtype=np.int16)
        if g.kind[entry] == 1:
            pop.first_customer_day[who] = day
            pop.acquired_by[who] = code
        self.recorder.on_moves(day, who, frm, np.full(k, entry, dtype=pop.stage.dtype), cause)
        if purchase:
            amount = self.order_values(who, rs.random(k))
            pop.purchases[who] += 1
            pop.revenue[who] += amount
            self.recorder.on_purchases(day, who, amount, cause)

    def _campaign(self, name: str, c: Campaign):
        code = self.cause_code(name)
        rs = self.stream(f"campaign:{name}")
        stop = self.days if c.stop is None else min(c.stop, self.days)
        k = 0
        for day in range(c.start, stop, c.every):
            yield self._at(day + PHASE_CALENDAR)
            s = self.graph.index(c.targets[k % len(c.targets)])
            k += 1
            priority = rs.random(self.n)  # one keyed draw per person per send
            in_stage = np.flatnonzero(self.pop.stage == s)
            n_ok = self.ledger.affordable(c.cost_per_contact, len(in_stage))
            until = min(day + c.duration, self.days)
            if n_ok == len(in_stage):
                self.boost_stage(s, c.boost, day, until, code)
            elif n_ok > 0:
                chosen = np.sort(in_stage[np.argsort(priority[in_stage], kind="stable")[:n_ok]])
                mask = (self.graph.src == s) & self.graph.boosted
                factor = np.where(mask, c.boost, 1.0)
                self.add_effect(Effect(chosen.astype(np.int32), factor, day, until, code))
            self.ledger.charge(day, name, "contact", n_ok, n_ok * c.cost_per_contact)

    def _calendar(self):
        for day in range(self.days):
            yield self._at(day + PHASE_CALENDAR)
            for hook in self._day_hooks:
                hook(day)
            self.marketing.decide(day)

    def _customers(self):
        for day in range(self.days):
            yield self._at(day + PHASE_DAY)
            self.step(day)
            yield self._at(day + PHASE_END)
            self.end_of_day(day)
            if self.progress is not None:
                self.progress(day + 1, self.days)

    # -- the vectorised day ------------------------------------------------------------------
    def _tables(self, day: int) -> DayTables:
        g = self.graph
        self._stage_boosts = [b for b in self._stage_boosts if b[3] > day]
        on = tuple(b for b in self._stage_boosts if b[2] <= day)
        season = None if self._season is None else float(self._season[day])
        key = (tuple(sorted(self.marketing.broadcasts)), season, on)
        hit = self._tables_seen.get(key)  # most days repeat the day before's tables
        if hit is not None:
            self._ticket_extra = hit[1]
            return hit[0]
        boost, bcause, buy, self._ticket_extra = self.marketing.stage_factors()
        if self._season is not None:
            buy = buy * self._season[day]
        cause = np.where(bcause >= 0, bcause, 0).astype(np.int16)
        for s, b, _start, _until, code in on:
            mask = (g.src == s) & g.boosted
            boost[mask] *= b
            cause[mask] = code
        tables = DayTables.make(g, boost, cause, buy)
        if len(self._tables_seen) > 64:
            self._tables_seen.clear()
        self._tables_seen[key] = (tables, self._ticket_extra)
        return tables

    def order_values(self, who: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Return order amounts of ``who`` from uniforms ``v`` (segment quantiles x spend)."""
        out = np.empty(len(who))
        seg = self.pop.segment[who]
        for k, name in enumerate(self.segments):
            sel = seg == k if len(self.segments) > 1 else slice(None)
            out[sel] = dist_ppf(self.scenario.segments[name].order_value, v[sel])
        if self._spend_varies:
            out *= self.pop.spend[who]
        return out

    def step(self, day: int) -> None:
        """Advance every person by one day (purchases, then moves, then support tickets)."""
        pop, g = self.pop, self.graph
        tables = self._tables(day)
        self.effects = [e for e in self.effects if e.until > day]
        self.marketing.expire(day)  # lapsed contacts return their unused commitments
        active = [e for e in self.effects if e.start <= day] + self.marketing.offers.effects()
        w = self.scenario.satisfaction.churn_weight
        sat_g = None
        if w > 0:
            sat_g = np.float32(w) * (np.float32(1) - pop.satisfaction)
        sat_g = self.marketing.churn_extra(sat_g)  # purchases change none of its inputs
        buys, moves, mover_vf = buys_and_moves(  # one uniform per person from each stream
            g, tables, pop.stage, pop.propensity, self._rs_transition, self._rs_purchase, sat_g,
            active,
        )  # fmt: skip
        # (a) repeat purchases by people in buying stages
        who, v, vf, cause = buys
        if len(who):
            amount = self.order_values(who, v) * vf
            pop.purchases[who] += 1
            pop.revenue[who] += amount
            used = self.marketing.redeem(day, who)  # an order that used an offer is its order
            self.recorder.on_purchases(day, who, amount, np.where(used >= 0, used, cause))
        # (b) one draw over the current stage's outgoing moves
        who, edge, cause, v = moves
        if len(who):
            frm = pop.stage[who]
            to = g.dst[edge]
            pop.stage[who] = to
            pop.entered_day[who] = day
            new_cust = (g.kind[to] == 1) & (pop.first_customer_day[who] < 0)
            pop.first_customer_day[who[new_cust]] = day
            pop.acquired_by[who[new_cust]] = np.where(cause[new_cust] < 0, 0, cause[new_cust])
            buys = g.purchase[edge]
            if buys.any():
                bw = who[buys]
                amount = self.order_values(bw, v[buys]) * mover_vf[buys]
                pop.purchases[bw] += 1
                pop.revenue[bw] += amount
                used = self.marketing.redeem(day, bw)
                self.recorder.on_purchases(day, bw, amount, np.where(used >= 0, used, cause[buys]))
            self.marketing.on_moves(who, cause)
            self.recorder.on_moves(day, who, frm, to, cause)
        # (c) support tickets
        if self.desk is not None:
            p = self.desk.ticket_p + self._ticket_extra
            new = jit_day.below_table_drawn(self._rs_support, p, pop.stage)
            if new is None:
                new = jit.below_table(self._rs_support.random(self.n), p, pop.stage)
            self.desk.open_tickets(day, new, pop.satisfaction, pop.open_tickets)

    def end_of_day(self, day: int) -> None:
        """End-of-day bookkeeping: support waiting penalty, daily stage counts."""
        if self.desk is not None:
            self.desk.end_of_day(day, self.pop.satisfaction, self.pop.open_tickets)
        self.marketing.end_of_day()
        self.recorder.on_day_end(day, self.pop.stage)
        period = self.scenario.budget.period_days
        if (day + 1) % period == 0 or day + 1 == self.days:
            self.recorder.snapshot(day, self.graph.kind[self.pop.stage] == 1)

    def run(self) -> SimulationResult:
        """Run the whole horizon and return the result."""
        t0 = time.perf_counter()
        self.env.process(self._budget_periods())
        if self._arrived is not None:
            self.env.process(self._arrivals())
        for name, c in self.scenario.campaigns.items():
            self.env.process(self._campaign(name, c))
        self.env.process(self._calendar())
        self.env.process(self._customers())
        self.env.run(until=self.days)
        self.elapsed = time.perf_counter() - t0
        return SimulationResult.from_simulation(self)


def simulate(
    scenario: ScenarioLike = None,
    *,
    seed: SeedLike = None,
    customers: int | None = None,
    days: int | None = None,
    record_events: bool = True,
    progress: ProgressLike = None,
    strategy: str | StrategySpec | Strategy | None = None,
    trust_code: bool = False,
    initial: Mapping[str, Any] | None = None,
) -> SimulationResult:
    """Run a scenario and return its result.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
        The scenario (``None``: the embedded default scenario).
    seed : int, SeedSequence, Generator or None
        Root seed (default: the scenario's). The same seed gives bit-identical results.
    customers, days : int, optional
        Override the market size and the horizon.
    record_events : bool
        Keep the event log of moves.
    progress : callable(done, total), True or None
        Progress hook, called after every day; ``True`` shows a progress bar.
    strategy : str, StrategySpec or Strategy, optional
        Marketing strategy (a name from the scenario, a spec or an object); ``None``: none.
    trust_code : bool
        Allow a ``custom`` strategy spec to import and run the code it names.
    initial : mapping, optional
        Start from a given market (``stage``, optionally ``propensity`` and ``dropout`` per
        person) instead of a drawn one; see :class:`Simulation`.

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> import lifesim
    >>> res = lifesim.simulate("configs/reference.yaml", seed=1, customers=1000, days=30)
    >>> res.stage_counts.iloc[-1].sum()
    1000
    """
    sim = Simulation(
        scenario,
        seed=seed,
        customers=customers,
        days=days,
        record_events=record_events,
        progress=progress,
        strategy=strategy,
        trust_code=trust_code,
        initial=initial,
    )
    return sim.run()
