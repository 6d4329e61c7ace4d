"""The churn-targeted strategy: retention money goes where a churn model says it pays.

Every budget period (after a warm-up), the strategy trains :class:`lifesim.churn.ChurnModel`
on the simulated history so far (the simulator's own purchase and event logs, unchanged),
scores the active customers, and ranks them by the expected value of a retention offer::

    EV = P(churn) x value x (1 - churn factor of the offer) - cost of a contact

where ``value`` is the customer's margin over the model's horizon at their past spending rate
plus their remaining lifetime margin (``margin x revenue so far``). The retention share of the
budget is spent down that list (best EV first, positive EV only, with the frequency cap);
acquisition and advocacy follow the stage-focused plan.

Lives in the experiments layer because it uses :mod:`lifesim.churn`; scenarios name it with
``type: churn_targeted`` (built in) and tune it with ``params``: ``offer`` (a retention tactic,
default ``proactive_support``), ``horizon_days`` (60), ``warmup_days`` (90), ``max_iter`` (60).
Its ``split`` is per budget group (``acquisition``, ``retention``, ``advocacy``), as for
``stage_focused``: the ``retention`` share is what the ranking spends.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lifesim import _limits
from lifesim._checks import check_int, fail
from lifesim.config import Scenario
from lifesim.config.scenario import StrategySpec
from lifesim.errors import ConfigError, DataError
from lifesim.model.strategies import StageFocused, register_strategy_type

__all__ = ["ChurnTargeted"]


def _whole(key: str, value: Any, most: int | None = None) -> int:
    """Return a whole number (``"20"`` too, as elsewhere in a scenario), else raise."""
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value)
    return check_int(key, value, max=most)


class ChurnTargeted(StageFocused):
    """Stage-focused acquisition and advocacy; model-targeted retention offers.

    Parameters
    ----------
    scn : Scenario
    spec : StrategySpec
        ``params`` may set ``offer``, ``horizon_days``, ``warmup_days``, ``max_iter``;
        ``split`` gives budget shares per group (acquisition, retention, advocacy).
    name : str
    """

    def __init__(self, scn: Scenario, spec: StrategySpec, name: str = "churn_targeted"):
        super().__init__(scn, spec, name)
        p = dict(spec.params)
        key = f"strategies.{name}.params"
        self.offer = p.pop("offer", "proactive_support")
        if not isinstance(self.offer, str):  # a list or mapping here was an internal error
            fail(f"{key}.offer", "a tactic name", self.offer)
        # whole numbers: 'abc' was an internal error, 1.7 was silently cut to 1
        days = _limits.MAX_DAYS
        self.horizon = _whole(f"{key}.horizon_days", p.pop("horizon_days", 60), days)
        self.warmup = _whole(f"{key}.warmup_days", p.pop("warmup_days", 90), days)
        self.max_iter = _whole(f"{key}.max_iter", p.pop("max_iter", 60))
        if p:
            raise ConfigError(
                [
                    (
                        f"strategies.{name}.params",
                        f"unknown parameter(s) {sorted(p)}; allowed: "
                        "offer, horizon_days, warmup_days, max_iter",
                    )
                ]
            )
        if self.offer not in scn.tactics:
            customer = {st for st, spec_ in scn.stages.items() if spec_.kind == "customer"}
            fits = [
                t
                for t, tac in scn.tactics.items()
                if tac.mode == "contact" and set(tac.stages) & customer
            ]
            default = " (the default offer)" if "offer" not in spec.params else ""
            raise ConfigError(
                [
                    (
                        f"strategies.{name}.params.offer",
                        f"unknown tactic {self.offer!r}{default}; known: {', '.join(fits)} "
                        f"(contact tactics for customers; choose one in the scenario: "
                        f"strategies: {{{name}: {{type: churn_targeted, params: "
                        f"{{offer: NAME}}}}}})",
                    )
                ]
            )
        for key, value, low in (("horizon_days", self.horizon, 1), ("max_iter", self.max_iter, 1)):
            if value < low:  # a horizon of 0 days labels nobody: no rescoring, no offer ever
                raise ConfigError(
                    [(f"strategies.{name}.params.{key}", f"must be >= {low}, got {value}")]
                )
        if self.warmup < self.horizon + 30:
            raise ConfigError(
                [
                    (
                        f"strategies.{name}.params.warmup_days",
                        f"must be >= horizon_days + 30 = {self.horizon + 30}, got {self.warmup}",
                    )
                ]
            )
        self.every = scn.budget.period_days
        self.margin = scn.economics.margin
        t = scn.tactics[self.offer]
        churn_edges = [
            f for e, f in t.effect.items() if scn.stages[e.split("->")[1]].kind == "churned"
        ]
        self.reduction = 1.0 - (min(churn_edges) if churn_edges else 1.0)
        self.offer_stages = list(t.stages)
        self.ranked = np.zeros(0, dtype=np.int64)
        self.model_info: list[dict[str, Any]] = []

    def tactics(self) -> set[str]:
        """Return the stage-focused plan plus the retention offer."""
        return super().tactics() | {self.offer}

    def _rescore(self, view: Any) -> None:
        from lifesim import churn  # scikit-learn loads only when the strategy runs

        hist = view.history()
        now = view.day - 1
        try:
            log = churn.prepare(hist["purchases"], events=hist["events"], observed_until=now)
            data = churn.build_dataset(log, now - self.horizon, self.horizon)
            if data.y is None or data.y.nunique() < 2 or len(data.y) < 50:
                return
            model = churn.ChurnModel(max_iter=self.max_iter, random_state=view.day)
            model.fit(data.X, data.y)
            feats = churn.build_features(log, now, spec=data.spec)
        except DataError:
            return  # too little history yet: keep the previous ranking
        p = model.predict_churn(feats.X)
        person = p.index.to_numpy().astype(np.int64)
        active = np.isin(view.stage[person], [view.stage_names.index(s) for s in self.offer_stages])
        person, prob = person[active], p.to_numpy()[active]
        revenue = view.revenue[person]
        rate = revenue / max(view.day, 1)
        value = self.margin * (rate * self.horizon + revenue)
        unit = view.tactics[self.offer].unit_cost
        ev = prob * value * self.reduction - unit
        keep = ev > 0
        self.ranked = person[keep][np.argsort(-ev[keep], kind="stable")]
        self.model_info.append(
            {
                "day": view.day,
                "customers": len(person),
                "targeted": int(keep.sum()),
                "churn_rate": float(data.y.mean()),
            }
        )

    def decide(self, view: Any) -> None:
        """Stage-focused spending, with the retention share on the model's ranking."""
        if view.day < self.warmup:
            super().decide(view)
            return
        if (view.day - self.warmup) % self.every == 0:
            self._rescore(view)
        budget = self.money(view)
        tot = sum(self.split.get(g, 0) for g in set(self.pairs) | {"retention"})
        for g, pairs in self.pairs.items():
            share = self.split.get(g, 0) / tot if tot else 0
            if g == "retention" or share <= 0:
                continue
            money = budget * share / len(pairs)
            for stage, t in pairs:
                view.contact(t, self.reach(view, [stage], t, money), money)
        share = self.split.get("retention", 0) / tot if tot else 0
        if share > 0 and len(self.ranked):
            ok = view.last_contact[self.ranked].astype(np.int32) <= view.day - self.gap
            cap = self.caps.get(self.offer, 0)
            if cap > 0:
                last = view.last_contact_with(self.offer)[self.ranked].astype(np.int32)
                ok &= last <= view.day - cap
            view.contact(self.offer, self.ranked[ok], budget * share)


register_strategy_type("churn_targeted", ChurnTargeted)
