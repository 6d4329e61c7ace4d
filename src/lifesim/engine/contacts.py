"""Contacts and what they do to people: costs, fatigue, satisfaction, referrals, side effects.

A contact commits its full possible cost before it is made (contact fee, the offer's
redemption, the referral reward), so spend never exceeds the budget. Fatigue builds with
every contact, erodes the strength of later ones, decays by half-life, and past a threshold
raises churn and lowers satisfaction. People a promotion moves get its side effects
(a lower propensity, a higher churn multiplier).
"""

from __future__ import annotations

import math

import numpy as np

from lifesim.config.scenario import Fatigue
from lifesim.engine import jit, jit_marketing
from lifesim.engine.kernel import Effect
from lifesim.engine.offers import OfferBook
from lifesim.engine.services import Services
from lifesim.model import CompiledTactic

__all__ = ["Contacts"]


class Contacts:
    """Makes contacts and keeps fatigue and promotion side effects.

    Parameters
    ----------
    svc : Services
    tactics : dict of str to CompiledTactic
    codes, referred_codes : dict of str to int
        Cause code per tactic, and of the people each referral programme brings.
    stats : dict
        Per-tactic counters (contacts, issued, referrals).
    offers : OfferBook
        Where contacts are recorded.
    active : bool
        The strategy uses tactics (fatigue only matters then).
    """

    def __init__(
        self,
        svc: Services,
        tactics: dict[str, CompiledTactic],
        codes: dict[str, int],
        referred_codes: dict[str, int],
        stats: dict[str, dict[str, int]],
        offers: OfferBook,
        active: bool,
    ):
        self.svc = svc
        self.tactics = tactics
        self.codes = codes
        self.referred_codes = referred_codes
        self.stats = stats
        self.offers = offers
        self.active = active
        self.fat: Fatigue = svc.scenario.fatigue
        self.decay = np.float32(0.5 ** (1.0 / self.fat.half_life_days))
        n_codes = max(codes.values(), default=0) + 1
        self.promo_prop = np.ones(n_codes, dtype=np.float32)
        self.promo_churn = np.ones(n_codes, dtype=np.float32)
        for t, ct in tactics.items():
            if ct.spec.promo is not None:
                self.promo_prop[codes[t]] = ct.spec.promo.propensity
                self.promo_churn[codes[t]] = ct.spec.promo.churn
        self.has_promo = bool((self.promo_prop != 1).any() or (self.promo_churn != 1).any())
        self.promo_codes = [
            codes[t]
            for t in tactics
            if self.promo_prop[codes[t]] != 1 or self.promo_churn[codes[t]] != 1
        ]
        self.promo_done: dict[int, np.ndarray] = {}  # code -> who already got its side effects
        self.dropout = bool((svc.pop.churn_mult != 1).any())  # heterogeneous dropout
        self.last_by_tactic: dict[str, np.ndarray] = {}  # day of each person's last contact

    # -- contacts ------------------------------------------------------------------------
    def contact(self, ct: CompiledTactic, day: int, people: np.ndarray, money: float | None) -> int:
        """Contact ``people`` (in order) with tactic ``ct`` while money and budget last.

        People not in a stage the tactic serves are skipped. Returns the number contacted.
        """
        spec = ct.spec
        if spec.mode != "contact":
            return 0
        svc, pop = self.svc, self.svc.pop
        people = np.asarray(people, dtype=np.int64)
        at = jit_marketing.first_outside(people, svc.n)
        if at >= 0:
            bad = people[at]
            raise ValueError(
                f"contact({ct.name!r}): people are numbers 0 to {svc.n - 1} (the market's "
                f"people), got {bad}"
            )
        n = self.affordable(ct, money, len(people))  # before skipping anyone
        if n <= 0:
            return 0
        led = svc.ledger
        idx = jit_marketing.first_served(people, ct.stage_mask, pop.stage, n)
        if idx is None:
            idx = _first_served(people, ct.stage_mask, pop.stage, n).astype(np.int32)
        n = len(idx)
        if n == 0:
            return 0
        idx.sort()
        if jit_marketing.has_repeats(idx):
            raise ValueError(f"contact({ct.name!r}): people must be distinct")
        if spec.cost.per_contact > 0:
            led.charge(day, ct.name, "contact", n, n * spec.cost.per_contact)
        strength = np.exp(-self.fat.erosion * pop.fatigue[idx]).astype(np.float32)
        if spec.single_use and spec.cost.per_redemption > 0:
            led.reserve(n * spec.cost.per_redemption)
        self.offers.add(ct, day, idx, strength, min(day + spec.duration, svc.days))
        last_with = self.last_contact_with(ct.name)
        if not jit_marketing.after_contact(
            idx, pop.fatigue, np.float32(spec.fatigue), pop.last_contact, last_with, day,
            pop.satisfaction, np.float32(spec.satisfaction), bool(spec.satisfaction),
        ):  # fmt: skip
            pop.fatigue[idx] += np.float32(spec.fatigue)
            pop.last_contact[idx] = day
            last_with[idx] = day
            if spec.satisfaction:
                s = pop.satisfaction[idx] + np.float32(spec.satisfaction)
                pop.satisfaction[idx] = np.clip(s, 0, 1)
        st = self.stats[ct.name]
        st["contacts"] += n
        if spec.single_use:
            st["issued"] += n
        if spec.support_load > 0 and svc.open_tickets is not None:
            u = jit_marketing.draws_at(svc.stream(f"support:{ct.name}:{day}"), svc.n, idx)
            svc.open_tickets(day, idx[u < spec.support_load])  # u: the contacted people's draws
        if spec.referral is not None:
            self._refer(ct, day, idx, strength)
        return n

    def affordable(self, ct: CompiledTactic, money: float | None, wanted: int) -> int:
        """How many of ``wanted`` contacts of ``ct`` ``money`` and the budget pay for."""
        unit = ct.unit_cost
        n = wanted
        if money is not None and unit > 0 and math.isfinite(money):
            n = min(n, math.floor(max(money, 0.0) / unit + 1e-9))
        return self.svc.ledger.affordable(unit, n)

    def last_contact_with(self, tactic: str) -> np.ndarray:
        """Day of each person's last contact with ``tactic`` (-32768: never)."""
        last = self.last_by_tactic.get(tactic)
        if last is None:
            last = self.last_by_tactic[tactic] = np.full(self.svc.n, -32768, dtype=np.int16)
        return last

    def _refer(self, ct: CompiledTactic, day: int, idx: np.ndarray, strength: np.ndarray) -> None:
        ref = ct.spec.referral
        svc = self.svc
        rs = svc.stream(f"referral:{ct.name}:{day}")
        u = jit_marketing.draws_at(rs, svc.n, idx)  # rs.random(svc.n)[idx]
        k = int((u < ref.p * strength).sum())
        pool = jit_marketing.count_in(ct.referral_from, svc.pop.stage)  # people who may be referred
        k = min(k, pool)
        n = len(idx)
        led = svc.ledger
        if ref.reward > 0:
            led.reserve(n * ref.reward)  # committed with the contacts ...
            led.release(led.period, (n - k) * ref.reward)  # ... k were used
            if k:
                led.spend_reserved(day, led.period, ct.name, "referral", k, k * ref.reward)
        if k == 0:
            return
        # the draws of rs.choice(pool people, k, replace=False), whose picks are ranks in the pool
        ranks = np.sort(rs.choice(pool, size=k, replace=False)).astype(np.intp)
        referred = jit_marketing.nth_in(ct.referral_from, svc.pop.stage, ranks).astype(np.int32)
        self.stats[ct.name]["referrals"] += k
        until = min(day + ref.duration, svc.days)
        code = self.referred_codes[ct.name]
        svc.add_effect(Effect(referred, ct.referral_factor, day, until, cause=code))

    # -- fatigue and side effects ----------------------------------------------------------
    def churn_extra(self, sat_extra: np.ndarray | None) -> np.ndarray | None:
        """Per-person ``factor - 1`` on moves into churned stages (dropout, promo, fatigue, ...)."""
        pop = self.svc.pop
        if not self.active and sat_extra is None and not self.dropout:
            return None
        fat = self.fat
        use_fat = self.active and fat.churn_per_unit > 0
        f = jit.churn_extra(
            pop.churn_mult, sat_extra, pop.fatigue, fat.churn_threshold, fat.churn_per_unit,
            fat.max_churn_factor, use_fat,
        )  # fmt: skip
        if f is not None:
            return f
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
        """Promotion side effects, once per person per promotion, on people it moved.

        A person the promotion moves for the first time gets ``propensity *= promo.propensity``
        and ``churn_mult *= promo.churn``; later moves by the same promotion change nothing.
        """
        if not self.has_promo or not len(who):
            return
        pop = self.svc.pop
        for code in self.promo_codes:
            w = who[cause == code]
            if not len(w):
                continue
            done = self.promo_done.get(code)
            if done is None:
                done = self.promo_done[code] = np.zeros(self.svc.n, dtype=bool)
            w = w[~done[w]]
            done[w] = True
            pop.propensity[w] *= self.promo_prop[code]
            pop.churn_mult[w] *= self.promo_churn[code]

    def end_of_day(self) -> None:
        """Fatigue decays; fatigue past the threshold costs satisfaction."""
        if not self.active:
            return
        pop = self.svc.pop
        fat = self.fat
        if jit_marketing.fatigue_day(
            pop.fatigue, pop.satisfaction, np.float32(fat.churn_threshold),
            np.float32(fat.satisfaction_per_unit), self.decay, fat.satisfaction_per_unit > 0,
        ):  # fmt: skip
            return
        if self.fat.satisfaction_per_unit > 0:
            over = pop.fatigue - np.float32(self.fat.churn_threshold)
            np.maximum(over, 0, out=over)
            over *= np.float32(self.fat.satisfaction_per_unit)
            pop.satisfaction -= over
            np.maximum(pop.satisfaction, 0, out=pop.satisfaction)
        pop.fatigue *= self.decay


def _first_served(people: np.ndarray, mask: np.ndarray, stage: np.ndarray, k: int) -> np.ndarray:
    """Return the first ``k`` of ``people`` (in order) whose stage ``mask`` serves.

    Looks at a prefix that grows geometrically, so reaching a few people at the head of a
    long list does not cost a pass over all of it.
    """
    if len(people) <= 2 * k + 256:
        return people[mask[stage[people]]][:k]
    parts, got, lo, step = [], 0, 0, 2 * k + 256
    while lo < len(people) and got < k:
        chunk = people[lo : lo + step]
        ok = chunk[mask[stage[chunk]]]
        parts.append(ok)
        got += len(ok)
        lo += step
        step *= 2
    return np.concatenate(parts)[:k]
