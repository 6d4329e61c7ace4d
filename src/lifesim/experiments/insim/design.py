"""Randomisation into arms and the strategy wrapper that gives each arm only its own marketing.

:func:`assign` draws the assignment from its own named random stream of the run's seed, so
it never shifts the market's random numbers (the arms and the truth runs meet the same people
with the same draws: common random numbers).

:class:`ArmRouter` is an ordinary strategy (``name``, ``tactics()``, ``decide(view)``) holding
one inner strategy per arm. Every day of the exposure window it calls each arm's strategy with
an :class:`ArmView`: a view of the market whose ``people_in`` lists only the arm's people, whose
``allowance()`` and ``remaining()`` come from the arm's own budget (its share of the period's
budget), and whose ``contact`` refuses anyone outside the arm. Outside the exposure window
everyone gets the control arm's strategy (business as usual). Broadcast tactics (always-on for
everyone in their stages, such as SEO content or live chat) cannot be given to one arm's people
only, so arms do not use them; the router records which were left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from lifesim._random import SeedLike, stream

__all__ = ["assign", "ArmRouter", "ArmView", "ContactLog", "ASSIGNMENT_STREAM"]

#: Name of the random stream the assignment is drawn from.
ASSIGNMENT_STREAM = "experiment:assignment"


def assign(n: int, shares: Sequence[float], seed: SeedLike) -> np.ndarray:
    """Complete randomisation of ``n`` units into arms with the given shares.

    Exactly ``round(share x n)`` units go to each arm (the last arm takes the rounding
    remainder); which units is a uniformly random permutation drawn from the
    ``"experiment:assignment"`` stream of ``seed``.

    Parameters
    ----------
    n : int
        Number of units.
    shares : sequence of float
        Share of each arm (sum 1).
    seed : int, SeedSequence, Generator or None
        The run's seed; the assignment has its own stream of it.

    Returns
    -------
    ndarray of int8
        Arm index of each unit.
    """
    w = np.asarray(shares, dtype=float)
    counts = np.floor(w * n + 0.5).astype(np.int64)
    counts[-1] = n - counts[:-1].sum()
    if counts[-1] < 0:
        counts = np.floor(w * n).astype(np.int64)
        counts[-1] = n - counts[:-1].sum()
    labels = np.repeat(np.arange(len(w), dtype=np.int8), counts)
    perm = stream(seed, ASSIGNMENT_STREAM).permutation(n)
    out = np.empty(n, dtype=np.int8)
    out[perm] = labels
    return out


class ContactLog:
    """Per-person marketing cost attributed from contacts and redemptions, by day.

    Contacts cost their tactic's ``cost.per_contact`` on the contact day. Monthly fees and
    referral rewards are costs of an arm, not of a person, and are not attributed.
    """

    def __init__(self) -> None:
        self.days: list[int] = []
        self.people: list[np.ndarray] = []
        self.cost: list[float] = []

    def add(self, day: int, people: np.ndarray, unit_cost: float) -> None:
        """Record that ``people`` were contacted on ``day`` at ``unit_cost`` each."""
        if len(people) and unit_cost > 0:
            self.days.append(day)
            self.people.append(np.asarray(people, dtype=np.int64))
            self.cost.append(float(unit_cost))

    def per_person(self, n: int, lo: int, hi: int) -> np.ndarray:
        """Attributed contact cost per person over days ``[lo, hi)``."""
        out = np.zeros(n)
        for d, p, c in zip(self.days, self.people, self.cost, strict=True):
            if lo <= d < hi:
                np.add.at(out, p, c)
        return out


class ArmView:
    """One arm's view of the market: its own people and its own budget.

    Everything not listed here is the engine's :class:`~lifesim.engine.marketing.MarketView`
    (read-only arrays, ``by_score``, ``shuffled``, ``history``).

    Parameters
    ----------
    base : MarketView
        The engine's view of the day.
    member : ndarray of bool
        Who belongs to the arm.
    log : ContactLog, optional
        Where contacts are recorded (for per-person cost).
    budget : (float, float), optional
        The arm's allowance today and its budget left in the period (default: the market's).
    """

    def __init__(
        self,
        base: Any,
        member: np.ndarray,
        log: ContactLog | None = None,
        budget: tuple[float, float] | None = None,
    ) -> None:
        self._base = base
        self._member = member
        self._log = log
        self._budget = budget

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)

    def allowance(self) -> float:
        """Return the arm's allowance for today (its budget left over the days left)."""
        return self._base.allowance() if self._budget is None else self._budget[0]

    def remaining(self) -> float:
        """Return the arm's budget left in this period."""
        return self._base.remaining() if self._budget is None else self._budget[1]

    def people_in(
        self, stages: list[str], min_gap_days: int = 0, order: str = "score", key: str = ""
    ) -> np.ndarray:
        """List the arm's people now in any of ``stages`` (see ``MarketView.people_in``)."""
        people = self._base.people_in(stages, min_gap_days=min_gap_days, order=order, key=key)
        return people[self._member[people]]

    def contact(self, tactic: str, people: np.ndarray, money: float | None = None) -> int:
        """Contact the arm's people among ``people`` (others are dropped) in order."""
        people = np.asarray(people, dtype=np.int64)
        people = people[self._member[people]]
        ct = self._base.tactics[tactic]
        reachable = people[ct.stage_mask[self._base.stage[people]]]
        n = self._base.contact(tactic, people, money)
        if self._log is not None and n > 0:
            self._log.add(self._base.day, reachable[:n], ct.spec.cost.per_contact)
        return n


class ArmRouter:
    """A strategy that runs one inner strategy per arm on that arm's people only.

    Parameters
    ----------
    arms : mapping of str to Strategy
        Arm label -> inner strategy, in arm-index order.
    assignment : ndarray of int or callable
        Arm index per person, ``-1`` for people in no arm; or ``assigner(k)`` returning the
        arm indices of the ``k`` eligible people, called when the exposure window opens (for
        experiments that randomise only the people in some stages on that day).
    shares : sequence of float
        Allocation share of each arm. Arm ``a`` gets ``share_a x f`` of the budget, where
        ``f`` is the share of people in an arm; people in no arm get the control arm's strategy
        with the remaining ``1 - f`` of the budget.
    control : str
        Arm whose strategy everyone gets outside the exposure window.
    exposure : (int, int)
        Days ``[lo, hi)`` during which the arms get their own marketing.
    broadcasts : set of str
        Names of broadcast tactics (left out of every arm).
    period_days, days : int
        Budget period length and horizon (for each arm's pacing).
    eligible : ndarray of int, optional
        Stage codes whose people are randomised when the window opens (with a callable
        ``assignment``; default: everyone).
    name : str

    Notes
    -----
    Budgets: when a budget period starts (or the exposure window opens) the market's budget
    left is split by the shares; an arm's allowance on a day is its own budget left divided by
    the days left in the period, and what it commits (contact costs, reserved redemptions and
    referral rewards) comes off its own budget only. Money one arm leaves unspent never flows
    to another arm, so every arm spends per person what it would over the whole market.

    Each arm's budget follows the engine's rules for a plain rollout exactly, on the arm's own
    money: reservations for single-use offers that lapse unused in the period come back to the
    arm whose people held them (the engine returns them to the market's budget between
    decisions); the allowance counts the arm's own reservations due back before the period
    ends, and is capped at ``budget.max_catch_up`` times the arm's share of the period's even
    rate. An arm with share 1 therefore meets exactly the budget of a plain rollout of its
    strategy (the same contacts, bit for bit). Arms with share 0 are not run, and their
    tactics' monthly fees are not paid.
    """

    def __init__(
        self,
        arms: Mapping[str, Any],
        assignment: np.ndarray | Callable[[int], np.ndarray],
        shares: Sequence[float],
        control: str,
        exposure: tuple[int, int],
        broadcasts: set[str] | frozenset[str] = frozenset(),
        period_days: int = 30,
        days: int | None = None,
        eligible: np.ndarray | None = None,
        name: str = "experiment",
    ) -> None:
        self.name = name
        self.arms = dict(arms)
        self.labels = list(self.arms)
        self.shares = [float(s) for s in shares]
        self.control = control
        self.exposure = exposure
        self.eligible = None if eligible is None else np.asarray(eligible)
        self._assigner = assignment if callable(assignment) else None
        self.assignment: np.ndarray | None = None
        if self._assigner is None:
            self._set_assignment(np.asarray(assignment))
        self.log = ContactLog()
        self.dropped = {a: sorted(set(s.tactics()) & set(broadcasts)) for a, s in self.arms.items()}
        # arms that can run: those with a share, and control (outside the window, the rest)
        live = [a for a, sh in zip(self.labels, self.shares, strict=True) if sh > 0]
        live.append(control)
        self._tactics = set().union(*(set(self.arms[a].tactics()) for a in live))
        self._tactics -= set(broadcasts)
        self.period_days = int(period_days)
        self.days = days
        self._period: int | None = None
        self._left = [0.0] * len(self.labels)
        self._dev = [0.0] * (len(self.labels) + 1)  # arm's budget left - its share of market's
        self._held: list[tuple[float, np.ndarray, np.ndarray]] = []  # unused reservations

    def _set_assignment(self, assignment: np.ndarray) -> None:
        self.assignment = assignment
        self.members = [assignment == i for i in range(len(self.labels))]
        self.rest = assignment < 0
        frac = 1.0 - float(self.rest.mean()) if len(assignment) else 1.0
        self.budget_shares = [s * frac for s in self.shares] + [1.0 - frac]

    def assign_from(self, stage: np.ndarray) -> None:
        """Randomise now, from each person's stage on the assignment day (once; no-op after).

        The engine only calls a strategy that uses some tactic; when no arm does (an A/A test
        of ``none``), the caller assigns after the run from the stages on the assignment day.
        """
        if self._assigner is None:
            return
        n = len(stage)
        who = (
            np.arange(n) if self.eligible is None else np.flatnonzero(np.isin(stage, self.eligible))
        )
        out = np.full(n, -1, dtype=np.int8)
        out[who] = np.asarray(self._assigner(len(who)), dtype=np.int8)
        self._assigner = None
        self._set_assignment(out)

    def tactics(self) -> set[str]:
        """Every contact tactic any arm may use (broadcasts are left out)."""
        return set(self._tactics)

    def _groups(self) -> list[tuple[str, np.ndarray]]:
        return [*zip(self.labels, self.members, strict=True), (self.control, self.rest)]

    def _held_now(self, view: Any, period: int) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """List this period's unused reservations: ``(unit, holders, until)`` per single-use tactic.

        Read from the engine's offer book, in its order (the order a plain rollout sums them).
        """
        book = _offer_book(view)
        if book is None:
            return []
        out = []
        for code, e in book.stores.items():
            if e.used is None or not len(e.idx):
                continue
            unit = book.tactics[book.svc.causes[code]].spec.cost.per_redemption
            if unit <= 0:
                continue
            keep = ~e.used & (e.period_each == period)
            out.append((unit, e.idx[keep].astype(np.int64), e.until_each[keep]))
        return out

    def _arm_of(self) -> np.ndarray:
        arm = np.asarray(self.assignment, dtype=np.int64).copy()
        arm[arm < 0] = len(self.labels)  # the rest
        return arm

    def _released(self, day: int) -> list[float]:
        """Per group: reservations that lapsed unused since the last decision (given back).

        The engine drops offers with ``until <= day - 1`` before the buyers of ``day - 1``
        redeem, so the reservations held after yesterday's decisions that lapsed are exactly
        those returned to the market's budget in between.
        """
        back = [0.0] * (len(self.labels) + 1)
        arm = self._arm_of()
        for unit, who, until in self._held:
            gone = who[until <= day - 1]
            if len(gone):
                counts = np.bincount(arm[gone], minlength=len(back))
                for g in np.flatnonzero(counts):
                    back[g] += unit * int(counts[g])
        return back

    def _pending(self, held: list[tuple[float, np.ndarray, np.ndarray]], end: int) -> list[float]:
        """Per group: its reservations that come back if their offers lapse before ``end``."""
        out = [0.0] * (len(self.labels) + 1)
        arm = self._arm_of()
        for unit, who, until in held:
            counts = np.bincount(arm[who[until <= end]], minlength=len(out))
            for g in range(len(out)):
                out[g] += unit * int(counts[g])
        return out

    def decide(self, view: Any) -> None:
        """Run each arm's strategy on its people inside the window, control's outside it."""
        lo, hi = self.exposure
        if not lo <= view.day < hi:
            everyone = np.ones(view.n, dtype=bool)
            self.arms[self.control].decide(ArmView(view, everyone, self.log))
            return
        self.assign_from(view.stage)
        day, p = view.day, self.period_days
        period = day // p
        market = view.remaining()
        shares = self.budget_shares
        if self._period != period:  # a new period (or the window opens): split what is left
            self._period = period
            self._dev = [0.0] * len(shares)
        elif self._held and np.isfinite(market):  # lapsed reservations go back to their arm
            back = self._released(day)
            total = sum(back)
            self._dev = [d + b - s * total for d, b, s in zip(self._dev, back, shares, strict=True)]
        self._left = [s * market + d for s, d in zip(shares, self._dev, strict=True)]
        end = (period + 1) * p if self.days is None else min((period + 1) * p, self.days)
        days_left = max(end - day, 1)
        held = self._held_now(view, period) if np.isfinite(market) else []
        pending = self._pending(held, end)
        even, cap = _pacing(view)
        for i, (label, member) in enumerate(self._groups()):
            if shares[i] <= 0:
                continue
            before = view.remaining()
            left = max(shares[i] * before + self._dev[i], 0.0)
            money = (left + pending[i]) / days_left
            if cap is not None and np.isfinite(even):
                money = min(money, cap * (shares[i] * even))
            arm_view = ArmView(view, member, self.log, (money, left))
            self.arms[label].decide(arm_view)
            if np.isfinite(before):
                spent = before - view.remaining()  # what the arm committed comes off its own
                self._dev = [
                    d - (spent if g == i else 0.0) + s * spent
                    for g, (d, s) in enumerate(zip(self._dev, shares, strict=True))
                ]
        self._left = [
            max(s * view.remaining() + d, 0.0) for s, d in zip(shares, self._dev, strict=True)
        ]
        self._held = self._held_now(view, period) if np.isfinite(market) else []


def _offer_book(view: Any) -> Any:
    """Return the engine's offer book behind a market view (``None`` for a view without one)."""
    mk = getattr(view, "_mk", None)
    return getattr(mk, "offers", None)


def _pacing(view: Any) -> tuple[float, float | None]:
    """Return the period's even rate and ``budget.max_catch_up`` behind a market view."""
    mk = getattr(view, "_mk", None)
    budget = getattr(mk, "budget", None)
    if budget is None:
        return np.inf, None
    return float(budget.even_rate), budget.max_catch_up
