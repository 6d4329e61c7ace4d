"""Marketing in the engine: a strategy's contacts become costs, effects, fatigue, side effects.

The strategy chooses (see :mod:`lifesim.model.strategies`); this module enforces. Budgets are
per period (the ledger); a contact commits its full possible cost (contact + redemption +
referral reward) before it is made, so spend never exceeds the budget; unused commitments
return to the period's budget when they lapse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lifesim.engine.kernel import Effect
from lifesim.errors import ConfigError
from lifesim.model import Strategy, compile_tactics

if TYPE_CHECKING:  # pragma: no cover
    from lifesim.engine.core import Simulation

__all__ = ["Marketing", "MarketView"]


class Marketing:
    """Runs one strategy inside a :class:`~lifesim.engine.core.Simulation`."""

    def __init__(self, sim: Simulation, strategy: Strategy):
        self.sim = sim
        self.strategy = strategy
        scn = sim.scenario
        self.tactics = compile_tactics(scn, sim.graph)
        used = set(strategy.tactics())
        unknown = used - set(self.tactics)
        if unknown:
            raise ConfigError(
                [
                    (
                        f"strategies.{strategy.name}",
                        f"unknown tactic(s) {sorted(unknown)}; known: {', '.join(self.tactics)}",
                    )
                ]
            )
        self.used = [t for t in self.tactics if t in used]
        self.code = {t: sim.cause_code(t) for t in self.tactics}
        self.referred_code = {
            t: sim.cause_code(f"{t} (referred)")
            for t, ct in self.tactics.items()
            if ct.spec.referral is not None
        }
        n_codes = max(self.code.values(), default=0) + 1
        self.promo_prop = np.ones(n_codes, dtype=np.float32)
        self.promo_churn = np.ones(n_codes, dtype=np.float32)
        for t, ct in self.tactics.items():
            if ct.spec.promo is not None:
                self.promo_prop[self.code[t]] = ct.spec.promo.propensity
                self.promo_churn[self.code[t]] = ct.spec.promo.churn
        self.has_promo = bool((self.promo_prop != 1).any() or (self.promo_churn != 1).any())
        self._orders: dict[str, np.ndarray] = {}
        self._stage_cache: dict[tuple[int, str], np.ndarray] = {}
        self.stores: dict[int, Effect] = {}
        self.broadcasts: set[str] = set()
        self.stats = {
            t: {"contacts": 0, "issued": 0, "redeemed": 0, "referrals": 0} for t in self.tactics
        }
        self.fat = scn.fatigue
        self.decay = np.float32(0.5 ** (1.0 / self.fat.half_life_days))
        self.active = bool(self.used)
        self.day = 0

    # -- person orderings (built on first use: a run without marketing never pays for them) --
    def _order(self, name: str) -> np.ndarray:
        hit = self._orders.get(name)
        if hit is not None:
            return hit
        sim = self.sim
        if name == "score":
            noise = sim.stream("crm_score").lognormal(0.0, 0.5, sim.n).astype(np.float32)
            self._orders["score_values"] = sim.pop.propensity * noise  # a CRM's noisy read
            order = np.argsort(-self._orders["score_values"], kind="stable")
        else:
            order = np.argsort(sim.stream("random_order").random(sim.n), kind="stable")
        rank = np.empty(sim.n, dtype=np.int32)
        rank[order] = np.arange(sim.n, dtype=np.int32)
        self._orders[name] = order
        self._orders[f"{name}_rank"] = rank
        return order

    @property
    def score(self) -> np.ndarray:
        """A CRM score per person: propensity times lognormal noise (sigma 0.5)."""
        self._order("score")
        return self._orders["score_values"]

    @property
    def score_order(self) -> np.ndarray:
        """People by score, best first."""
        return self._order("score")

    @property
    def score_rank(self) -> np.ndarray:
        """Each person's position in :attr:`score_order`."""
        self._order("score")
        return self._orders["score_rank"]

    @property
    def rand_order(self) -> np.ndarray:
        """A fixed random permutation of the market (keyed by the seed)."""
        return self._order("random")

    @property
    def rand_rank(self) -> np.ndarray:
        """Each person's position in :attr:`rand_order`."""
        self._order("random")
        return self._orders["random_rank"]

    # -- budget periods ------------------------------------------------------------------
    def start_period(self, day: int) -> None:
        """Pay monthly fees of the strategy's tactics; broadcasts run while paid for."""
        self.broadcasts = set()
        led = self.sim.ledger
        for t in self.used:
            spec = self.tactics[t].spec
            fee = spec.cost.per_month
            if fee > 0:
                if led.affordable(fee, 1) < 1:
                    continue
                led.charge(day, t, "monthly fee", 1, fee)
            if spec.mode == "broadcast":
                self.broadcasts.add(t)

    def period_end(self, day: int) -> int:
        """First day of the next budget period (or the horizon)."""
        p = self.sim.scenario.budget.period_days
        return min((day // p + 1) * p, self.sim.days)

    # -- daily ---------------------------------------------------------------------------
    def people_in_stage(self, code: int, order: str = "score") -> np.ndarray:
        """People now in stage ``code`` in score or fixed random order (cached for the day)."""
        hit = self._stage_cache.get((code, order))
        if hit is None:
            perm = self.score_order if order == "score" else self.rand_order
            staged = self._stage_cache.get((-1, order))
            if staged is None:  # everyone's stage in this order, once a day
                staged = self.sim.pop.stage[perm]
                self._stage_cache[(-1, order)] = staged
            hit = perm[staged == code]
            self._stage_cache[(code, order)] = hit
        return hit

    def decide(self, day: int) -> None:
        """Let the strategy make today's contacts."""
        self.day = day
        self._stage_cache = {}
        if self.active:
            self.strategy.decide(MarketView(self, day))

    def stage_factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Broadcast tactics' per-edge factors and causes, per-stage buy factors and ticket load."""
        g = self.sim.graph
        factor = np.ones(g.n_edges)
        cause = np.full(g.n_edges, -1, dtype=np.int16)
        buy = np.ones(g.n_stages)
        tickets = np.zeros(g.n_stages, dtype=np.float32)
        for t in sorted(self.broadcasts):
            ct = self.tactics[t]
            on = ct.stage_mask[g.src]
            f = np.where(on, ct.edge_factor, 1.0)
            factor *= f
            cause = np.where(f > 1, np.int16(self.code[t]), cause)
            buy = np.where(ct.stage_mask, buy * ct.spec.buy, buy)
            tickets = np.where(ct.stage_mask, tickets + ct.spec.support_load, tickets)
        return factor, cause, buy, tickets

    def churn_extra(self, sat_extra: np.ndarray | None) -> np.ndarray | None:
        """Per-person ``factor - 1`` on moves into churned stages (promo, fatigue, satisfaction)."""
        pop = self.sim.pop
        if not self.active and sat_extra is None:
            return None
        f = pop.churn_mult.copy()
        if sat_extra is not None:
            f *= np.float32(1) + sat_extra
        if self.active and self.fat.churn_per_unit > 0:
            over = pop.fatigue - np.float32(self.fat.churn_threshold)
            np.maximum(over, 0, out=over)
            over *= np.float32(self.fat.churn_per_unit)
            over += np.float32(1)
            np.minimum(over, np.float32(self.fat.max_churn_factor), out=over)
            f *= over
        f -= np.float32(1)
        return f

    def on_moves(self, who: np.ndarray, cause: np.ndarray) -> None:
        """Promotion side effects on people a promotion moved."""
        if not self.has_promo or not len(who):
            return
        c = np.where((cause >= 0) & (cause < len(self.promo_prop)), cause, 0)
        pop = self.sim.pop
        pop.propensity[who] *= self.promo_prop[c]
        pop.churn_mult[who] *= self.promo_churn[c]

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
            pos = np.minimum(np.searchsorted(e.idx, who), len(e.idx) - 1)
            hit = (e.idx[pos] == who) & (used_code < 0)
            hit[hit] = ~e.used[pos[hit]]
            if not hit.any():
                continue
            p = pos[hit]
            e.used[p] = True
            used_code[hit] = code
            name = self.sim.causes[code]
            unit = self.tactics[name].spec.cost.per_redemption
            self.stats[name]["redeemed"] += len(p)
            periods, counts = np.unique(e.period_each[p], return_counts=True)
            for per, k in zip(periods, counts, strict=True):
                self.sim.ledger.spend_reserved(day, int(per), name, "redemption", int(k), k * unit)
        return used_code

    def expire(self, day: int) -> None:
        """Drop lapsed contacts; unredeemed offers give their reservation back."""
        for code, e in self.stores.items():
            if e.until_each is None or not len(e.idx):
                continue
            drop = e.until_each <= day
            if drop.any():
                self._release_entries(code, e, drop)
                self._keep(e, ~drop)

    def _release_entries(self, code: int, e: Effect, mask: np.ndarray) -> None:
        if e.used is None:
            return
        name = self.sim.causes[code]
        unit = self.tactics[name].spec.cost.per_redemption
        if unit <= 0:
            return
        k = int((mask & ~e.used & (e.period_each == self.sim.ledger.period)).sum())
        if k:
            self.sim.ledger.release(self.sim.ledger.period, k * unit)

    @staticmethod
    def _keep(e: Effect, keep: np.ndarray) -> None:
        e.idx = e.idx[keep]
        e.strength = e.strength[keep]
        e.until_each = e.until_each[keep]
        e.period_each = e.period_each[keep]
        if e.used is not None:
            e.used = e.used[keep]

    def _store_add(self, ct, idx, strength, until: int) -> None:
        """Record contacts: a new contact replaces the person's earlier one of this tactic."""
        code = self.code[ct.name]
        spec = ct.spec
        n = len(idx)
        period = np.full(n, self.sim.ledger.period, dtype=np.int16)
        upto = np.full(n, until, dtype=np.int32)
        used = np.zeros(n, dtype=bool) if spec.single_use else None
        e = self.stores.get(code)
        if e is None or not len(e.idx):
            self.stores[code] = Effect(
                idx,
                ct.edge_factor,
                self.day,
                self.sim.days,
                cause=code,
                buy_factor=spec.buy,
                value_factor=spec.order_value,
                strength=strength,
                used=used,
                until_each=upto,
                period_each=period,
            )
            return
        pos = np.minimum(np.searchsorted(idx, e.idx), n - 1)
        replaced = idx[pos] == e.idx
        if replaced.any():
            self._release_entries(code, e, replaced)
            self._keep(e, ~replaced)
        e.idx = np.concatenate([e.idx, idx])
        order = np.argsort(e.idx, kind="stable")
        e.idx = e.idx[order]
        e.strength = np.concatenate([e.strength, strength])[order]
        e.until_each = np.concatenate([e.until_each, upto])[order]
        e.period_each = np.concatenate([e.period_each, period])[order]
        if used is not None:
            e.used = np.concatenate([e.used, used])[order]

    def end_of_day(self) -> None:
        """Fatigue decays; fatigue past the threshold costs satisfaction."""
        if not self.active:
            return
        pop = self.sim.pop
        if self.fat.satisfaction_per_unit > 0:
            over = pop.fatigue - np.float32(self.fat.churn_threshold)
            np.maximum(over, 0, out=over)
            over *= np.float32(self.fat.satisfaction_per_unit)
            pop.satisfaction -= over
            np.maximum(pop.satisfaction, 0, out=pop.satisfaction)
        pop.fatigue *= self.decay

    # -- contacts ------------------------------------------------------------------------
    def contact(self, tactic: str, people: np.ndarray, money: float | None = None) -> int:
        """Contact ``people`` (in order) with ``tactic`` while money and budget last.

        People not in a stage the tactic serves are skipped. Returns the number contacted.
        """
        if tactic not in self.used:
            raise ConfigError(
                [("tactic", f"strategy {self.strategy.name!r} did not declare tactic {tactic!r}")]
            )
        ct = self.tactics[tactic]
        spec = ct.spec
        if spec.mode != "contact":
            return 0
        sim, pop, day = self.sim, self.sim.pop, self.day
        people = np.asarray(people, dtype=np.int64)
        people = people[ct.stage_mask[pop.stage[people]]]
        unit = ct.unit_cost
        n = len(people)
        if money is not None and unit > 0 and np.isfinite(money):
            n = min(n, int(np.floor(max(money, 0.0) / unit + 1e-9)))
        n = sim.ledger.affordable(unit, n)
        if n <= 0:
            return 0
        idx = np.sort(people[:n]).astype(np.int32)
        if n > 1 and (idx[1:] == idx[:-1]).any():
            raise ValueError(f"contact({tactic!r}): people must be distinct")
        led = sim.ledger
        if spec.cost.per_contact > 0:
            led.charge(day, tactic, "contact", n, n * spec.cost.per_contact)
        strength = np.exp(-self.fat.erosion * pop.fatigue[idx]).astype(np.float32)
        if spec.single_use and spec.cost.per_redemption > 0:
            led.reserve(n * spec.cost.per_redemption)
        self._store_add(ct, idx, strength, min(day + spec.duration, sim.days))
        pop.fatigue[idx] += np.float32(spec.fatigue)
        pop.last_contact[idx] = day
        if spec.satisfaction:
            s = pop.satisfaction[idx] + np.float32(spec.satisfaction)
            pop.satisfaction[idx] = np.clip(s, 0, 1)
        st = self.stats[tactic]
        st["contacts"] += n
        if spec.single_use:
            st["issued"] += n
        if spec.support_load > 0 and sim.desk is not None:
            u = sim.stream(f"support:{tactic}:{day}").random(sim.n)
            new = idx[u[idx] < spec.support_load]
            sim.desk.open_tickets(day, new, pop.satisfaction, pop.open_tickets)
        if spec.referral is not None:
            self._refer(ct, idx, strength)
        return n

    def _refer(self, ct: Any, idx: np.ndarray, strength: np.ndarray) -> None:
        ref = ct.spec.referral
        sim, day = self.sim, self.day
        rs = sim.stream(f"referral:{ct.name}:{day}")
        u = rs.random(sim.n)
        k = int((u[idx] < ref.p * strength).sum())
        pool = np.flatnonzero(ct.referral_from[sim.pop.stage])
        k = min(k, len(pool))
        n = len(idx)
        if ref.reward > 0:
            sim.ledger.reserve(n * ref.reward)  # committed with the contacts ...
            sim.ledger.release(sim.ledger.period, (n - k) * ref.reward)  # ... k were used
            if k:
                sim.ledger.spend_reserved(
                    day, sim.ledger.period, ct.name, "referral", k, k * ref.reward
                )
        if k == 0:
            return
        referred = np.sort(rs.choice(pool, size=k, replace=False)).astype(np.int32)
        self.stats[ct.name]["referrals"] += k
        until = min(day + ref.duration, sim.days)
        code = self.referred_code[ct.name]
        sim.add_effect(Effect(referred, ct.referral_factor, day, until, cause=code))


class MarketView:
    """What a strategy sees and does on one day (read-only arrays plus ``contact``).

    Attributes
    ----------
    day : int
    stage, segment : ndarray
        Current stage and segment codes per person (read-only).
    stage_names, segment_names : tuple of str
    score : ndarray of float32
        A CRM score per person: a noisy read of propensity (the true propensity is hidden).
    last_contact : ndarray of int16
        Day of each person's last contact (-32768: never).
    fatigue, satisfaction : ndarray of float32
    purchases : ndarray of int32
        Orders so far per person.
    revenue : ndarray of float64
        Order value so far per person.
    tactics : dict
        Compiled tactics (``.spec`` holds the config, ``.unit_cost`` the committed cost).
    """

    def __init__(self, mk: Marketing, day: int):
        self._mk = mk
        pop = mk.sim.pop
        self.day = day
        self.n = mk.sim.n
        self.stage_names = mk.sim.graph.names
        self.segment_names = tuple(mk.sim.segments)
        self.tactics = mk.tactics
        self.stage = _ro(pop.stage)
        self.segment = _ro(pop.segment)
        self.score = _ro(mk.score)
        self.last_contact = _ro(pop.last_contact)
        self.fatigue = _ro(pop.fatigue)
        self.satisfaction = _ro(pop.satisfaction)
        self.purchases = _ro(pop.purchases)
        self.revenue = _ro(pop.revenue)

    def remaining(self) -> float:
        """Budget left in this period (``inf`` when unlimited)."""
        return self._mk.sim.ledger.remaining

    def allowance(self) -> float:
        """Today's even share of the period's remaining budget (pacing)."""
        left = self._mk.period_end(self.day) - self.day
        return self.remaining() / max(left, 1)

    def people_in(
        self, stages: list[str], min_gap_days: int = 0, order: str = "score", key: str = ""
    ) -> np.ndarray:
        """People now in any of ``stages``, in the order a strategy would reach them.

        Parameters
        ----------
        stages : list of str
        min_gap_days : int
            Leave out people contacted in the last ``min_gap_days`` days (a frequency cap).
        order : {'score', 'random'}
            ``score``: best CRM score first. ``random``: untargeted; a fixed random permutation
            of the market, started at a random point chosen anew each day (keyed by ``key``
            and the day), so each day reaches a different slice.
        key : str
            Names the random start (e.g. the tactic), for ``order='random'``.
        """
        if order not in ("score", "random"):
            raise ValueError(f"order must be 'score' or 'random', got {order!r}")
        mk = self._mk
        parts = [mk.people_in_stage(self.stage_names.index(s), order) for s in stages]
        if len(parts) == 1:
            people = parts[0]
        else:
            people = np.concatenate(parts)
            rank = mk.score_rank if order == "score" else mk.rand_rank
            people = people[np.argsort(rank[people], kind="stable")]  # merge of sorted runs
        if order == "random" and len(people) > 1:
            start = int(mk.sim.stream(f"policy:{key}:{self.day}").integers(len(people)))
            people = np.roll(people, -start)
        if min_gap_days > 0:
            ok = self.last_contact[people].astype(np.int32) <= self.day - min_gap_days
            people = people[ok]
        return people

    def by_score(self, people: np.ndarray) -> np.ndarray:
        """``people`` ordered best CRM score first."""
        sc = self.score[people]
        if len(sc) < 2 or (sc[:-1] >= sc[1:]).all():
            return people
        return people[np.argsort(-sc, kind="stable")]

    def shuffled(self, people: np.ndarray, key: str = "") -> np.ndarray:
        """``people`` in a random order, keyed by person, day and ``key`` (reproducible)."""
        pri = self._mk.sim.stream(f"policy:{key}:{self.day}").random(self.n)
        return people[np.argsort(pri[people], kind="stable")]

    def contact(self, tactic: str, people: np.ndarray, money: float | None = None) -> int:
        """Contact ``people`` in order with ``tactic`` while ``money`` and the budget last."""
        return self._mk.contact(tactic, people, money)

    def history(self) -> dict[str, Any]:
        """Purchases and moves so far, as DataFrames (for model-based strategies)."""
        return self._mk.sim.recorder.peek(self._mk.sim.graph.names, self._mk.sim.causes)


def _ro(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v
