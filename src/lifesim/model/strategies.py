"""Strategies: policies that decide, every day, who gets which tactic within the budget.

A strategy is any object with a ``name``, a ``tactics()`` method naming the tactics it may use
(monthly fees and broadcasts are paid for these) and a ``decide(view)`` method called once a
day. ``view`` is the engine's :class:`~lifesim.engine.marketing.MarketView`: read-only arrays
of the market (``stage``, ``segment``, ``score``, ``last_contact``, ``fatigue``, ...), today's
budget ``allowance()``, and ``contact(tactic, people, money)`` which contacts people in the
given order until the money (or the budget) runs out. The engine enforces budgets, costs,
fatigue and side effects; a strategy only chooses.

Example
-------
>>> class RetentionOnly:
...     name = "retention_only"
...     def tactics(self):
...         return {"cross_sell"}
...     def decide(self, view):
...         people = view.people_in(["retention"], min_gap_days=14)  # best score first
...         view.contact("cross_sell", people, view.allowance())
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lifesim.config import Scenario
from lifesim.config.scenario import StrategySpec
from lifesim.errors import ConfigError

__all__ = [
    "Strategy",
    "NoMarketing",
    "KpiFocused",
    "StageFocused",
    "FixedSplit",
    "Executed",
    "make_strategy",
    "register_strategy_type",
    "trusted",
    "check_trust",
    "custom_targets",
    "untrusted_error",
    "KPI_MIX",
    "DEFAULT_GROUP_SPLIT",
]

#: Budget mix of a KPI-focused strategy, per KPI (tactic -> share; missing tactics dropped).
KPI_MIX = {
    "conversion": {"paid_ads": 0.45, "first_purchase_discount": 0.4, "newsletter": 0.15},
    "acquisition": {"paid_ads": 0.7, "first_purchase_discount": 0.3},
}
#: Default budget split of a stage-focused strategy across groups.
DEFAULT_GROUP_SPLIT = {"acquisition": 0.35, "retention": 0.45, "advocacy": 0.2}


@runtime_checkable
class Strategy(Protocol):
    """What the engine needs from a strategy (write your own with these three members)."""

    name: str

    def tactics(self) -> set[str]:
        """Names of the tactics the strategy may use (fees are paid for broadcasts among them)."""
        ...

    def decide(self, view: Any) -> None:
        """Make today's contacts through ``view.contact``."""
        ...


class NoMarketing:
    """No marketing at all (the baseline)."""

    def __init__(self, name: str = "none"):
        self.name = name

    def tactics(self) -> set[str]:
        """Use no tactic."""
        return set()

    def decide(self, view: Any) -> None:
        """Do nothing."""


class Executed:
    """The execution part of a strategy: who is reached, how often, with what money.

    Shared by every objective, so that two strategies with the same execution differ only
    in what their budget chases. See :class:`lifesim.config.scenario.Execution`.
    """

    def _set_execution(self, scn: Scenario, spec: StrategySpec) -> None:
        ex = spec.resolved_execution()
        self.targeting = ex.targeting or "score"
        self.uplift_noise = 0.5 if ex.uplift_noise is None else float(ex.uplift_noise)
        self.gap = int(ex.min_gap_days or 0)
        self.caps = dict(ex.caps)
        self.pacing = ex.pacing
        self.allowed = set(ex.tactics) if ex.tactics is not None else None
        self.use_broadcasts = bool(ex.broadcasts)
        self._all_broadcasts = {n for n, t in scn.tactics.items() if t.mode == "broadcast"}

    def _allowed(self, tactic: str) -> bool:
        return self.allowed is None or tactic in self.allowed

    def _broadcasts_for(self, scn: Scenario, stages: set[str]) -> set[str]:
        """Broadcast tactics serving any of ``stages`` (when the execution pays for them)."""
        if not self.use_broadcasts:
            return set()
        return {
            t
            for t in self._all_broadcasts
            if self._allowed(t) and set(scn.tactics[t].stages) & stages
        }

    def money(self, view: Any) -> float:
        """Today's money: the paced allowance, or everything left (``pacing: asap``)."""
        return view.allowance() if self.pacing == "even" else view.remaining()

    def reach(
        self, view: Any, stages: list[str], tactic: str, money: float | None = None
    ) -> np.ndarray:
        """People in ``stages`` in the order the execution reaches them, caps applied.

        With ``money``, nobody when it (or the budget) cannot pay for one contact: the
        contact would reach nobody, so the people are not looked for. When nothing but the
        order decides who is contacted (the tactic serves all of ``stages``, no cap, no
        uplift ranking), only the first people the money pays for are looked for.
        """
        affordable = getattr(view, "affordable", None)
        cap = self.caps.get(tactic, 0)
        limit = None
        if money is not None and affordable is not None:
            n = affordable(tactic, money)
            if n <= 0:
                return np.zeros(0, dtype=np.int64)
            if cap <= 0 and self.targeting != "uplift" and _takes_limit(view):
                served = view.tactics[tactic].spec.stages
                if all(s in served for s in stages):
                    limit = n  # contact() would take the first n of the list
        kw = {} if limit is None else {"limit": limit}
        if self.targeting == "random":
            people = view.people_in(stages, min_gap_days=self.gap, order="random", key=tactic, **kw)
        else:
            people = view.people_in(stages, min_gap_days=self.gap, **kw)
        if cap > 0 and len(people):
            last = view.last_contact_with(tactic)
            people = people[last[people].astype(np.int32) <= view.day - cap]
        if self.targeting == "uplift" and len(people) > 1:
            people = view.by_uplift(tactic, people, self.uplift_noise)
        return people


_TAKES_LIMIT: dict[type, bool] = {}


def _takes_limit(view: Any) -> bool:
    """Tell whether the view's ``people_in`` takes ``limit`` (a filtering wrapper may not)."""
    kind = type(view)
    ok = _TAKES_LIMIT.get(kind)
    if ok is None:
        try:
            ok = "limit" in inspect.signature(kind.people_in).parameters
        except (AttributeError, TypeError, ValueError):
            ok = False
        _TAKES_LIMIT[kind] = ok
    return ok


class KpiFocused(Executed):
    """Objective ``kpi``: chase one headline KPI with the tactic mix that moves it.

    Budget goes to the tactics of the KPI's mix (:data:`KPI_MIX` or ``split``). The default
    execution is ``naive`` (random reach, no caps, no broadcasts); any execution can be set.
    """

    def __init__(self, scn: Scenario, spec: StrategySpec, name: str = "kpi_focused"):
        self.name = name
        self._set_execution(scn, spec)
        mix = spec.split if spec.split else KPI_MIX[spec.kpi]
        mix = {t: s for t, s in mix.items() if t in scn.tactics and s > 0 and self._allowed(t)}
        tot = sum(mix.values())
        self.mix = {t: s / tot for t, s in mix.items()} if tot > 0 else {}
        self.stages = {t: scn.tactics[t].stages for t in self.mix}
        served = {s for ss in self.stages.values() for s in ss}
        self.broadcasts = self._broadcasts_for(scn, served)

    def tactics(self) -> set[str]:
        """Return the tactics of the KPI mix (and the broadcasts the execution pays for)."""
        return set(self.mix) | self.broadcasts

    def decide(self, view: Any) -> None:
        """Spend today's money on the mix, reaching people as the execution says."""
        budget = self.money(view)
        for t, share in self.mix.items():
            people = self.reach(view, self.stages[t], t, budget * share)
            if len(people):  # contacting nobody changes nothing
                view.contact(t, people, budget * share)


def _default_plan(scn: Scenario) -> dict[str, list[str]]:
    plan: dict[str, list[str]] = {s: [] for s in scn.stages}
    for name, t in scn.tactics.items():
        if t.mode == "contact":
            for s in t.stages:
                plan[s].append(name)
    return {s: ts for s, ts in plan.items() if ts}


class StageFocused(Executed):
    """Objective ``lifecycle``: the tactic that fits each person's stage.

    Each stage has a plan (tactics in order of preference); the day's money is split across
    groups (acquisition, retention, advocacy), then equally over the (stage, tactic) pairs of
    each group. The default execution is ``careful`` (best score first, a 7-day frequency cap,
    broadcasts such as SEO and live chat paid for); any execution can be set.
    """

    def __init__(self, scn: Scenario, spec: StrategySpec, name: str = "stage_focused"):
        self.name = name
        self._set_execution(scn, spec)
        plan = spec.plan if spec.plan is not None else _default_plan(scn)
        self.plan = {s: [t for t in ts if self._allowed(t)] for s, ts in plan.items()}
        self.split = spec.split if spec.split is not None else DEFAULT_GROUP_SPLIT
        self.group = {t: self._group(scn, t) for ts in self.plan.values() for t in ts}
        if spec.plan is not None:  # an explicit plan names the broadcasts it wants
            named = {t for ts in self.plan.values() for t in ts}
            self.broadcasts = {t for t in self._all_broadcasts if t in named}
            if not self.use_broadcasts:
                self.broadcasts = set()
        else:
            self.broadcasts = self._broadcasts_for(scn, set(scn.stages))
        pairs: dict[str, list[tuple[str, str]]] = {}
        for stage, ts in self.plan.items():
            for t in ts:
                if scn.tactics[t].mode == "contact":
                    pairs.setdefault(self.group[t], []).append((stage, t))
        self.pairs = pairs

    @staticmethod
    def _group(scn: Scenario, tactic: str) -> str:
        t = scn.tactics[tactic]
        if t.group is not None:
            return t.group
        return "acquisition" if scn.stages[t.stages[0]].kind == "prospect" else "retention"

    def tactics(self) -> set[str]:
        """Every contact tactic in the plan plus the broadcasts paid for."""
        return {t for t in self.group if t not in self._all_broadcasts} | self.broadcasts

    def decide(self, view: Any) -> None:
        """Spend today's money group by group, stage by stage, as the execution says."""
        budget = self.money(view)
        active = {g: p for g, p in self.pairs.items() if self.split.get(g, 0) > 0}
        tot = sum(self.split[g] for g in active)
        for g, pairs in active.items():
            money = budget * self.split[g] / tot / len(pairs)
            for stage, t in pairs:
                people = self.reach(view, [stage], t, money)
                if len(people):  # contacting nobody changes nothing
                    view.contact(t, people, money)


class FixedSplit(StageFocused):
    """User-given budget shares per stage; each stage's share goes to its plan's tactics.

    Without a ``split`` the shares are equal over the stages of the plan.
    """

    def __init__(self, scn: Scenario, spec: StrategySpec, name: str = "fixed_split"):
        super().__init__(scn, spec, name)
        if spec.split:
            self.stage_split = dict(spec.split)
        else:
            stages = [
                s for s, ts in self.plan.items() if any(t not in self._all_broadcasts for t in ts)
            ]
            self.stage_split = {s: 1.0 / len(stages) for s in stages}

    def decide(self, view: Any) -> None:
        """Spend today's money by the fixed stage shares."""
        budget = self.money(view)
        for stage, share in self.stage_split.items():
            ts = [t for t in self.plan.get(stage, []) if t not in self._all_broadcasts]
            if share <= 0 or not ts:
                continue
            for t in ts:
                money = budget * share / len(ts)
                people = self.reach(view, [stage], t, money)
                if len(people):  # contacting nobody changes nothing
                    view.contact(t, people, money)


#: Strategy types implemented in upper layers register here (``churn_targeted`` registers
#: itself when :mod:`lifesim.experiments` is imported, which ``import lifesim`` does).
_FACTORIES: dict[str, Callable[[Scenario, StrategySpec, str], Strategy]] = {}

TRUST_HINT = (
    "lifesim runs code named in a scenario file only when you trust it explicitly: pass "
    "--trust-code on the command line, or trust_code=True in Python (or pass the strategy "
    "object itself)"
)


def register_strategy_type(
    kind: str, factory: Callable[[Scenario, StrategySpec, str], Strategy]
) -> None:
    """Register the factory of a strategy ``type`` (called by the layer that implements it).

    Parameters
    ----------
    kind : str
        The ``type`` value in a scenario's ``strategies`` entry.
    factory : callable(scenario, spec, name) -> Strategy
    """
    _FACTORIES[kind] = factory


def trusted(scn: Scenario) -> Scenario:
    """Return a copy of ``scn`` whose ``custom`` strategies may import and run their code.

    The mark lives outside the scenario's fields, so no file can set it; it survives
    copies and pickling (workers see it).
    """
    out = scn.model_copy()
    out._trust_code = True
    return out


def custom_targets(scn: Scenario, names: Iterable[str] | None = None) -> dict[str, str]:
    """Return ``{strategy name: 'module:attribute'}`` of the ``custom`` strategies in ``names``."""
    keys = scn.strategies if names is None else [n for n in names if n in scn.strategies]
    return {n: str(scn.strategies[n].target) for n in keys if scn.strategies[n].type == "custom"}


def untrusted_error(found: Mapping[str, str]) -> ConfigError:
    """Return the error for code a scenario names without trust (``{key path: target}``)."""
    return ConfigError(
        [
            (path, f"would import and run the Python code {t!r}; {TRUST_HINT}")
            for path, t in found.items()
        ]
    )


def check_trust(
    scn: Scenario, names: Iterable[str] | None = None, trust_code: bool = False
) -> None:
    """Refuse ``custom`` strategies among ``names`` unless the user trusted the code.

    Raises
    ------
    ConfigError
        Naming ``strategies.<name>.target`` and how to trust it.
    """
    if trust_code or scn._trust_code:
        return
    found = custom_targets(scn, names)
    if found:
        raise untrusted_error({f"strategies.{n}.target": t for n, t in found.items()})


def _custom(scn: Scenario, spec: StrategySpec, name: str) -> Strategy:
    if not scn._trust_code:
        raise untrusted_error({f"strategies.{name}.target": str(spec.target)})
    mod_name, _, attr = (spec.target or "").partition(":")
    try:
        obj = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            [(f"strategies.{name}.target", f"cannot import {spec.target!r}: {exc}")]
        ) from None
    strat = obj(**spec.params)
    if not isinstance(strat, Strategy):
        raise ConfigError(
            [(f"strategies.{name}.target", "must give an object with name, tactics(), decide()")]
        )
    return strat


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def make_strategy(scn: Scenario, strategy: str | StrategySpec | Strategy | None) -> Strategy:
    """Build a strategy from a name in the scenario, a spec, or pass an object through.

    A ``custom`` spec imports the code it names only if ``scn`` is :func:`trusted`.

    Raises
    ------
    ConfigError
        For an unknown strategy name (the message lists the known ones), an object that is
        no strategy, or a ``custom`` strategy in a scenario that is not trusted.
    """
    if strategy is None:
        return NoMarketing()
    if isinstance(strategy, Strategy) and not isinstance(strategy, StrategySpec):
        return strategy
    name = "custom"
    if isinstance(strategy, str):
        if strategy not in scn.strategies:
            known = ", ".join(scn.strategies)
            raise ConfigError([("strategy", f"unknown strategy {strategy!r}; known: {known}")])
        name, spec = strategy, scn.strategies[strategy]
    elif isinstance(strategy, StrategySpec):
        spec = strategy
    else:
        missing = [m for m in ("name", "tactics", "decide") if not hasattr(strategy, m)]
        raise ConfigError(
            [
                (
                    "strategy",
                    f"got {type(strategy).__name__} {_short(strategy)}, which has no "
                    f"{', '.join(missing)}; allowed: a strategy name of the scenario, a "
                    "StrategySpec, or an object with a name, tactics() and decide(view)",
                )
            ]
        )
    if spec.type == "none":
        return NoMarketing(name if name != "custom" else "none")
    if spec.type == "custom":
        return _custom(scn, spec, name)
    factory = _FACTORIES.get(spec.type)
    if factory is None:
        raise ConfigError(
            [
                (
                    f"strategies.{name}.type",
                    f"strategy type {spec.type!r} is provided by lifesim.experiments; "
                    "import lifesim (or lifesim.experiments) first",
                )
            ]
        )
    return factory(scn, spec, name)


register_strategy_type("kpi_focused", KpiFocused)
register_strategy_type("stage_focused", StageFocused)
register_strategy_type("fixed_split", FixedSplit)
