"""Marketing in the engine: a strategy's contacts become costs, effects, fatigue, side effects.

The strategy chooses (see :mod:`lifesim.model.strategies`); the engine enforces, by concern:
:mod:`~lifesim.engine.budget` (periods, fees, broadcasts, pacing),
:mod:`~lifesim.engine.offers` (contacts in force, single-use offers, redemptions, expiry) and
:mod:`~lifesim.engine.contacts` (costs, fatigue, referrals, promotion side effects).
:class:`Marketing` ties them together behind the few calls the engine's day makes, and
gives the strategy a :class:`MarketView`. Everything reaches the market through
:class:`~lifesim.engine.services.Services`, never through the simulation itself.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from lifesim.engine import jit_marketing
from lifesim.engine.budget import MarketingBudget
from lifesim.engine.contacts import Contacts
from lifesim.engine.kernel import Effect
from lifesim.engine.offers import OfferBook
from lifesim.engine.services import Services
from lifesim.engine.stage_index import StageIndex
from lifesim.engine.uplift import expected_lift
from lifesim.errors import ConfigError
from lifesim.model import Strategy, compile_tactics

__all__ = ["Marketing", "MarketView"]


class Marketing:
    """Runs one strategy against the engine's :class:`~lifesim.engine.services.Services`.

    Parameters
    ----------
    svc : Services
    strategy : Strategy
    """

    def __init__(self, svc: Services, strategy: Strategy):
        self.svc = svc
        self.strategy = strategy
        self.tactics = compile_tactics(svc.scenario, svc.graph)
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
        self.code = {t: svc.cause_code(t) for t in self.tactics}
        referred = {
            t: svc.cause_code(f"{t} (referred)")
            for t, ct in self.tactics.items()
            if ct.spec.referral is not None
        }
        self.stats = {
            t: {"contacts": 0, "issued": 0, "redeemed": 0, "referrals": 0} for t in self.tactics
        }
        self.active = bool(self.used)
        self.budget = MarketingBudget(svc, self.tactics, self.used, self.code)
        self.offers = OfferBook(svc, self.tactics, self.code, self.stats)
        self.budget.pending = self.offers.pending_release
        self.contacts = Contacts(
            svc, self.tactics, self.code, referred, self.stats, self.offers, self.active
        )
        self._orders: dict[str, np.ndarray] = {}
        self._stage_cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._indexes: dict[str, StageIndex] = {}  # compiled code: stages kept move by move
        self._synced: set[str] = set()
        if self.active and self.contacts.has_promo:  # promotions change propensities: the
            self._order("score")  # score reads them as the run starts (else: on first use)
        self.day = 0
        # the engine's daily calls, by concern
        self.start_period = self.budget.start_period
        self.stage_factors = self.budget.stage_factors
        self.expire = self.offers.expire
        self.redeem = self.offers.redeem
        self.churn_extra = self.contacts.churn_extra
        self.on_moves = self.contacts.on_moves
        self.end_of_day = self.contacts.end_of_day

    @property
    def stores(self) -> dict[int, Effect]:
        """Each tactic's contacts in force, by cause code."""
        return self.offers.stores

    @property
    def broadcasts(self) -> set[str]:
        """Broadcast tactics paid for in this period."""
        return self.budget.broadcasts

    # -- person orderings (built on first use: a run without marketing never pays for them) --
    def _order(self, name: str) -> np.ndarray:
        hit = self._orders.get(name)
        if hit is not None:
            return hit
        svc = self.svc
        if name == "score":
            noise = svc.stream("crm_score").lognormal(0.0, 0.5, svc.n).astype(np.float32)
            self._orders["score_values"] = svc.pop.propensity * noise  # a CRM's noisy read
            order = np.argsort(-self._orders["score_values"], kind="stable")
        else:
            order = np.argsort(svc.stream("random_order").random(svc.n), kind="stable")
        rank = np.empty(svc.n, dtype=np.int32)
        rank[order] = np.arange(svc.n, dtype=np.int32)
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

    # -- daily ---------------------------------------------------------------------------
    def people_in_stage(self, code: int, order: str = "score") -> np.ndarray:
        """People now in stage ``code`` in score or fixed random order (cached for the day).

        The first call of a day buckets everyone by stage in one stable sort of the stage
        codes in this order; each stage is then a slice of it.
        """
        people, lo, hi = self._buckets(order)
        return people[lo[code] : hi[code]]

    def _buckets(self, order: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everyone grouped by stage in ``order``, and where each stage starts and ends."""
        buckets = self._stage_cache.get(order)
        if buckets is None:
            perm = self.score_order if order == "score" else self.rand_order
            people, counts = jit_marketing.buckets(
                perm, self.svc.pop.stage, self.svc.graph.n_stages
            )
            ends = np.cumsum(counts)
            buckets = (people, ends - counts, ends)
            self._stage_cache[order] = buckets
        return buckets

    def stage_index(self, order: str) -> StageIndex | None:
        """Return the stages' people in ``order``, up to date today (compiled code), or None."""
        ix = self._indexes.get(order)
        stage = self.svc.pop.stage
        if ix is None:
            perm = self.score_order if order == "score" else self.rand_order
            rank = self.score_rank if order == "score" else self.rand_rank
            if not StageIndex.usable(perm, rank, stage):
                return None
            ix = self._indexes[order] = StageIndex(perm, rank, stage, self.svc.graph.n_stages)
        elif order not in self._synced:
            ix.sync(stage, self.svc.pop.last_contact)
        self._synced.add(order)
        return ix if ix.ok else None

    def decide(self, day: int) -> None:
        """Let the strategy make today's contacts."""
        self.day = day
        self._stage_cache = {}
        self._synced = set()
        if self.active:
            self.strategy.decide(MarketView(self, day))

    def expected_lift(self, tactic: str, people: np.ndarray, noise: float = 0.0) -> np.ndarray:
        """Return the scenario's uplift model for ``people`` (see :mod:`lifesim.engine.uplift`).

        With ``noise`` > 0 each person's lift is multiplied by ``exp(noise x z_i)``, with one
        standard normal ``z_i`` per person for the whole run (a model's error, like the CRM
        score's).
        """
        if tactic not in self.tactics:
            raise ConfigError([("tactic", f"unknown tactic {tactic!r}")])
        svc, pop = self.svc, self.svc.pop
        people = np.asarray(people, dtype=np.intp)
        fat = svc.scenario.fatigue
        c = pop.churn_mult[people].astype(np.float64)
        w = svc.scenario.satisfaction.churn_weight
        if w > 0:
            c = c * (1.0 + w * (1.0 - pop.satisfaction[people].astype(np.float64)))
        if fat.churn_per_unit > 0:
            over = np.maximum(pop.fatigue[people].astype(np.float64) - fat.churn_threshold, 0)
            c = c * np.minimum(1.0 + fat.churn_per_unit * over, fat.max_churn_factor)
        last = self.contacts.last_contact_with(tactic)
        lift = expected_lift(
            svc.graph, pop, self.tactics[tactic], people, self.day, last, fat.erosion, c
        )
        if noise > 0:
            z = self._orders.get("uplift_z")
            if z is None:
                z = self._orders["uplift_z"] = svc.stream("uplift_model").standard_normal(svc.n)
            lift = lift * np.exp(noise * z[people])
        return lift

    def contact(self, tactic: str, people: np.ndarray, money: float | None = None) -> int:
        """Contact ``people`` (in order) with ``tactic`` while money and budget last.

        People not in a stage the tactic serves are skipped. Returns the number contacted.
        """
        if tactic not in self.used:
            raise ConfigError(
                [("tactic", f"strategy {self.strategy.name!r} did not declare tactic {tactic!r}")]
            )
        return self.contacts.contact(self.tactics[tactic], self.day, people, money)


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
        svc = mk.svc
        self.day = day
        self.n = svc.n
        self.stage_names = svc.graph.names
        self.segment_names = tuple(svc.scenario.segments)
        self.tactics = mk.tactics

    # read-only views of the market's arrays, made when a strategy asks for them
    stage = property(lambda self: _ro(self._mk.svc.pop.stage))
    segment = property(lambda self: _ro(self._mk.svc.pop.segment))
    score = property(lambda self: _ro(self._mk.score))
    last_contact = property(lambda self: _ro(self._mk.svc.pop.last_contact))
    fatigue = property(lambda self: _ro(self._mk.svc.pop.fatigue))
    satisfaction = property(lambda self: _ro(self._mk.svc.pop.satisfaction))
    purchases = property(lambda self: _ro(self._mk.svc.pop.purchases))
    revenue = property(lambda self: _ro(self._mk.svc.pop.revenue))

    def remaining(self) -> float:
        """Budget left in this period (``inf`` when unlimited)."""
        return self._mk.budget.remaining

    def allowance(self) -> float:
        """Today's even share of the period's remaining budget (pacing)."""
        return self._mk.budget.allowance(self.day)

    def people_in(
        self,
        stages: list[str],
        min_gap_days: int = 0,
        order: str = "score",
        key: str = "",
        limit: int | None = None,
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
        limit : int, optional
            Return only the first ``limit`` of these people (found without a pass over the
            rest: a strategy that can pay for a few contacts asks for a few people).
        """
        if order not in ("score", "random"):
            raise ValueError(f"order must be 'score' or 'random', got {order!r}")
        if limit is not None and not isinstance(limit, int | np.integer):
            raise TypeError(f"limit must be an int or None, got {limit!r}")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {limit!r}")
        limit = None if limit is None else int(limit)  # (True: 1, as NumPy reads it)
        mk = self._mk
        codes = [self.stage_names.index(s) for s in stages]
        last = mk.svc.pop.last_contact
        if not codes:  # nobody is in none of the stages
            return np.zeros(0, dtype=np.intp)
        lo, hi = _int_range(last.dtype)  # a gap past every stored day leaves out everyone
        upto = max(self.day - min_gap_days, lo - 1) if min_gap_days > 0 else hi
        unique = len(set(codes)) == len(codes)  # (a stage named twice: the whole list below)

        def random_start(total: int) -> int:
            if order != "random" or total <= 1:
                return 0
            return int(mk.svc.stream(f"policy:{key}:{self.day}").integers(total))

        ix = mk.stage_index(order) if unique else None
        if ix is not None:  # compiled: the stages' bits, no sort of the market
            start = random_start(ix.total(codes))
            return ix.first_not_since(codes, last, upto, start, limit)
        everyone, lo, hi = mk._buckets(order)
        parts = [everyone[lo[c] : hi[c]] for c in codes]
        start = random_start(sum(len(p) for p in parts))
        rank = mk.score_rank if order == "score" else mk.rand_rank
        if limit is not None and unique:  # the head of the list below, without building all
            if len(parts) != 1:  # the stages' runs of `everyone`, merged by rank
                return jit_marketing.first_not_since_runs(
                    everyone, lo[codes], hi[codes], rank, last, upto, start, limit
                )
            return jit_marketing.first_not_since(parts[0], last, upto, start, limit)
        if len(parts) == 1:
            people = parts[0]
        else:
            people = np.concatenate(parts)
            people = people[np.argsort(rank[people], kind="stable")]  # merge of sorted runs
        if start:
            people = np.roll(people, -start)
        if min_gap_days > 0:
            people = jit_marketing.not_since(people, last, upto)
        return people if limit is None else people[:limit]

    def last_contact_with(self, tactic: str) -> np.ndarray:
        """Day of each person's last contact with ``tactic`` (-32768: never; read-only)."""
        return _ro(self._mk.contacts.last_contact_with(tactic))

    def expected_lift(self, tactic: str, people: np.ndarray, noise: float = 0.0) -> np.ndarray:
        """Return the extra moves and orders per day one contact of ``tactic`` gives ``people``.

        The scenario's own (oracle) uplift model, blurred by ``exp(noise x z)`` with one
        standard normal ``z`` per person for the run; see :mod:`lifesim.engine.uplift`.
        """
        return self._mk.expected_lift(tactic, people, noise)

    def by_uplift(self, tactic: str, people: np.ndarray, noise: float = 0.0) -> np.ndarray:
        """``people`` ordered by :meth:`expected_lift` of ``tactic``, largest first."""
        lift = self.expected_lift(tactic, people, noise)
        return np.asarray(people)[np.argsort(-lift, kind="stable")]

    def by_score(self, people: np.ndarray) -> np.ndarray:
        """``people`` ordered best CRM score first."""
        sc = self.score[people]
        if len(sc) < 2 or (sc[:-1] >= sc[1:]).all():
            return people
        return people[np.argsort(-sc, kind="stable")]

    def shuffled(self, people: np.ndarray, key: str = "") -> np.ndarray:
        """``people`` in a random order, keyed by person, day and ``key`` (reproducible)."""
        pri = self._mk.svc.stream(f"policy:{key}:{self.day}").random(self.n)
        return people[np.argsort(pri[people], kind="stable")]

    def contact(self, tactic: str, people: np.ndarray, money: float | None = None) -> int:
        """Contact ``people`` in order with ``tactic`` while ``money`` and the budget last."""
        return self._mk.contact(tactic, people, money)

    def affordable(self, tactic: str, money: float | None = None) -> int:
        """Return how many contacts of ``tactic`` ``money`` and the budget pay for today.

        An upper bound on what :meth:`contact` would make (it also skips people the tactic
        does not serve): 0 means a contact now would reach nobody, so a strategy can skip
        finding the people.
        """
        mk = self._mk
        if tactic not in mk.tactics:
            raise ConfigError([("tactic", f"unknown tactic {tactic!r}")])
        if mk.tactics[tactic].spec.mode != "contact":
            return 0
        return mk.contacts.affordable(mk.tactics[tactic], money, mk.svc.n)

    def history(self) -> dict[str, Any]:
        """Purchases and moves so far, as DataFrames (for model-based strategies)."""
        return self._mk.svc.history()


@cache
def _int_range(dtype: np.dtype) -> tuple[int, int]:
    """Smallest and largest value of an integer dtype (``np.iinfo``, looked up once)."""
    lim = np.iinfo(dtype)
    return int(lim.min), int(lim.max)


def _ro(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v
