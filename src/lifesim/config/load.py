"""Load, check and dump scenarios (YAML or dict), with errors that name the key path."""

from __future__ import annotations

import copy
import difflib
import functools
import math
import os
import re
import stat
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lifesim import _limits
from lifesim.config._booleans import bool_problems
from lifesim.config.experiment import check_experiment
from lifesim.config.scenario import (
    MAX_MONEY,
    MONEY_BOUND,
    NOT_ARRIVED,
    Distribution,
    Scenario,
    StrategySpec,
)
from lifesim.errors import ConfigError

__all__ = [
    "with_catalogue",
    "load_scenario",
    "default_scenario",
    "check_scenario",
    "scenario_to_dict",
    "dump_scenario",
    "dist_max",
    "ScenarioLike",
]

ScenarioLike = Scenario | Mapping[str, Any] | str | os.PathLike | None


def _fmt_value(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float):
        return f"{v:g}"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


_DIST_TAGS = ("constant", "gamma", "lognormal", "invgamma", "uniform", "beta")


_BRANCH = re.compile(
    r"^(literal|dict|list|tagged-union|function-\w+)\[|^(str|int|float|bool)$|^[A-Z]\w*$"
)


def _branch_kind(tag: str) -> str:
    if tag.startswith("list["):
        return "list"
    if tag.startswith(("literal[", "str", "int", "float", "bool")):
        return "scalar"
    return "mapping"  # dict[...], a model class, a tagged union of models


def _one_branch(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the errors of the union branch that fits the value given, without the branch name.

    pydantic reports every branch of a union (``execution: naive | careful | {...}``) under
    its type name (``execution.literal['naive','careful']``, ``execution.Execution.caps``);
    a mapping given for ``execution`` is only wrong as a mapping.
    """
    locs = [tuple(str(x) for x in e["loc"]) for e in errors]
    tags: dict[tuple[str, ...], set[str]] = {}
    for loc in locs:
        for i, part in enumerate(loc):
            if _BRANCH.match(part):
                tags.setdefault(loc[:i], set()).add(part)
    # a union's branches: two or more, one of them a type name no key of a scenario looks like
    typed = re.compile(r"^(literal|dict|list|tagged-union)\[|^(str|int|float|bool)$")
    unions = {p for p, seen in tags.items() if len(seen) >= 2 and any(map(typed.match, seen))}
    if not unions:
        return errors
    given: dict[tuple[str, ...], str] = {}
    for e, loc in zip(errors, locs, strict=True):
        if loc[:-1] in unions and "input" in e:  # an error at a branch's top: the value given
            v = e["input"]
            given[loc[:-1]] = (
                "mapping" if isinstance(v, Mapping) else "list" if isinstance(v, list) else "scalar"
            )
    out = []
    for e, loc in zip(errors, locs, strict=True):
        i = next((i for i in range(len(loc)) if loc[:i] in unions), None)
        if i is None or i >= len(loc):
            out.append(e)
            continue
        kind = given.get(loc[:i])
        fits = any(_branch_kind(t) == kind for t in tags[loc[:i]])
        if kind is not None and fits and _branch_kind(loc[i]) != kind:
            continue
        out.append({**e, "loc": loc[:i] + loc[i + 1 :]})
    return out


def _keys_at(model: Any, loc: list[str]) -> list[str] | None:
    """Return the keys a mapping at ``loc`` of ``model`` may have (its fields), or None.

    Follows fields, the values of ``dict[str, Model]`` (a name such as a segment's), list
    items and optional or union types (the one branch that is a model) down the path.
    """
    import typing

    from pydantic import BaseModel

    def models_in(tp: Any) -> list[Any]:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return [tp]
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return models_in(typing.get_args(tp)[0])
        if origin in (dict, Mapping) and typing.get_args(tp):
            return [("values", m) for m in models_in(typing.get_args(tp)[-1])]
        if origin in (list, tuple) and typing.get_args(tp):
            return [("items", m) for m in models_in(typing.get_args(tp)[0])]
        out: list[Any] = []
        for a in typing.get_args(tp):  # unions, Optional
            out += models_in(a)
        return out

    cur: Any = model
    i = 0
    while i < len(loc):
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            return None
        fields = {f.alias or n: f for n, f in cur.model_fields.items()}
        f = fields.get(loc[i])
        if f is None:
            return None
        found = models_in(f.annotation)
        if len(found) != 1:
            return None
        nxt = found[0]
        i += 1
        while isinstance(nxt, tuple):  # a dict's value or a list's item: skip its key
            if i >= len(loc):
                return None
            nxt = nxt[1]
            i += 1
        cur = nxt
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return sorted(f.alias or n for n, f in cur.model_fields.items())
    return None


def _unknown_key(model: Any, loc: list[str]) -> str:
    """Message for a key no field has: the close match and the keys allowed there."""
    key = loc[-1]
    allowed = _keys_at(model, loc[:-1]) if model is not None else None
    if not allowed:
        return f"unknown key {key!r} (check the spelling)"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; allowed here: {', '.join(allowed)}"


def _format_pydantic(err: ValidationError, model: Any = None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for e in _one_branch(err.errors(include_url=False)):
        loc = [str(x) for x in e["loc"]]
        # drop discriminated-union tags from the path (e.g. 'gamma')
        if e["type"] not in ("union_tag_invalid", "union_tag_not_found"):
            loc = [x for x in loc if x not in _DIST_TAGS]
        path = ".".join(loc)
        typ = e["type"]
        if typ == "extra_forbidden":
            msg = _unknown_key(model, loc)
            path = ".".join(loc)
        elif typ == "missing":
            msg = "required key is missing"
        elif typ == "value_error":
            msg = str(e["msg"]).removeprefix("Value error, ")
            if path and not msg.startswith("must"):
                pass
        elif typ == "union_tag_invalid":
            ctx = e.get("ctx", {})
            msg = f"unknown distribution {ctx.get('tag')!r}; allowed: {ctx.get('expected_tags')}"
            path = f"{path}.dist" if path else "dist"
        elif typ == "union_tag_not_found":
            msg = f"a distribution needs a 'dist' key ({', '.join(_DIST_TAGS)})"
        elif typ == "literal_error":
            msg = f"must be one of {e['ctx']['expected']}, got {_fmt_value(e['input'])}"
        elif typ in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
            kind = "a number" if typ.startswith("float") else "a whole number"
            msg = f"must be {kind}, got {_fmt_value(e['input'])}"
        elif typ in ("dict_type", "model_type"):
            msg = f"must be a mapping of keys to values, got {_fmt_value(e['input'])}"
        elif typ == "bool_parsing" or typ == "bool_type":
            msg = f"must be true or false, got {_fmt_value(e['input'])}"
        else:
            msg = f"{e['msg']}, got {_fmt_value(e.get('input'))}"
        if (path, msg) not in seen:
            seen.add((path, msg))
            problems.append((path, msg))
    return problems


def dist_max(d: Distribution) -> float:
    """Largest value a distribution can take (``inf`` when unbounded)."""
    kind = d.dist
    if kind == "constant":
        return float(d.value)
    if kind == "uniform":
        return float(d.high)
    if kind == "beta":
        return float(d.scale)
    return float(d.max) if d.max is not None else math.inf


def _log_size(d: Distribution) -> tuple[float, str]:
    """Natural log of a money distribution's size, and how it was read (for messages).

    The size is its bound when it has one (a constant, a uniform's high, a beta's scale, a
    max), else its mean (computed in logs: a huge mean does not overflow here).
    """

    def log(v: float) -> float:
        return math.log(v) if v > 0 else -math.inf

    kind = d.dist
    if kind == "constant":
        return log(d.value), f"value {d.value:g}"
    if kind == "uniform":
        return log(d.high), f"high {d.high:g}"
    if kind == "beta":
        return log(d.scale), f"scale {d.scale:g}"
    if d.max is not None:
        return log(d.max), f"max {d.max:g}"
    if kind == "gamma":
        size = log(d.shape) + log(d.scale)
        return size, f"mean shape x scale = {_fmt_log(size)}"
    if kind == "lognormal":
        size = d.mu + d.sigma**2 / 2
        return size, f"mean exp(mu + sigma^2/2) = {_fmt_log(size)}"
    size = log(d.scale) - log(d.shape - 1) if d.shape > 1 else math.inf  # invgamma
    return size, f"mean scale / (shape - 1) = {_fmt_log(size)}"


def _fmt_log(size: float) -> str:
    """Format ``exp(size)`` without overflowing (``1e+400`` stays readable)."""
    if size < 700:
        return f"{math.exp(size):.3g}"
    return f"about 1e+{size / math.log(10):.0f}" if size < math.inf else "inf"


def _check_money(scn: Scenario) -> list[tuple[str, str]]:
    """Check that one order (order value x spend x tactic multipliers) is <= MAX_MONEY.

    The tactics' multipliers above 1 are all counted (a person may be under every tactic at
    once). The problem is reported at the largest factor's key path.
    """
    boosts = [
        (f"tactics.{t}.order_value", math.log(tac.order_value), f"{tac.order_value:g}")
        for t, tac in scn.tactics.items()
        if tac.order_value > 1
    ]
    problems: list[tuple[str, str]] = []
    for name, seg in scn.segments.items():
        if any(
            d.dist == "invgamma" and d.shape <= 1 and d.max is None
            for d in (seg.order_value, seg.spend)
        ):
            continue  # an infinite mean: reported as such
        parts = [
            (f"segments.{name}.{key}", *_log_size(getattr(seg, key)))
            for key in ("order_value", "spend")
        ]
        factors = parts + boosts
        total = sum(f[1] for f in factors)
        if not total > math.log(MAX_MONEY):
            continue
        path, _, what = max(factors, key=lambda f: f[1])
        shown = [f"{p} {w}" for p, size, w in factors if size != 0 or p == parts[0][0]]
        how = f" ({' x '.join(shown)})" if len(shown) > 1 else ""
        problems.append(
            (
                path,
                f"{what}: one order could reach {_fmt_log(total)}{how}; allowed: at most "
                f"{MAX_MONEY:g} for one order ({MONEY_BOUND})",
            )
        )
    return problems


def _stage_ref(stages: Mapping[str, Any], name: str, path: str) -> list[tuple[str, str]]:
    if name in stages:
        return []
    return [(path, f"unknown stage {name!r}; known stages: {', '.join(stages)}")]


def check_scenario(scn: Scenario, *, extra_boost: Mapping[str, float] | None = None) -> None:
    """Check the cross-field rules of a scenario; raise :class:`ConfigError` listing all problems.

    Rules: transitions, initial stages, campaign targets and support stages name known stages;
    segment shares and initial shares sum to 1; at least one stage; and for every stage the
    outgoing daily probabilities cannot sum above 1 after scaling by the largest propensity,
    the largest boost and the largest satisfaction factor.

    Parameters
    ----------
    scn : Scenario
        A scenario that passed pydantic validation.
    extra_boost : mapping of str to float, optional
        Largest extra multiplier (e.g. from tactics) on the boosted moves out of each stage.
    """
    problems, boost = _check_structure(scn)
    problems += _check_marketing(scn)
    problems += check_experiment(scn)
    problems += _check_uncertain(scn)
    for s, b in (extra_boost or {}).items():
        if s in boost:
            boost[s] *= max(1.0, b)
    if problems:
        raise ConfigError(problems)
    if problems := _check_bounded_propensity(scn):
        raise ConfigError(problems)
    if problems := _check_scaled_probabilities(scn, boost):
        raise ConfigError(problems)


def _check_uncertain(scn: Scenario) -> list[tuple[str, str]]:
    """Each ``uncertain`` key path names a number in the scenario; intervals are ordered."""
    if not scn.uncertain:
        return []
    d = scn.model_dump(mode="json")
    problems: list[tuple[str, str]] = []
    for path, spec in scn.uncertain.items():
        where = f"uncertain.{path}"
        cur: Any = d
        for k in path.split("."):
            if not isinstance(cur, dict) or k not in cur:
                cur = None
                break
            cur = cur[k]
        if isinstance(cur, bool) or not isinstance(cur, int | float):
            problems.append(
                (
                    where,
                    "must name a number in the scenario (a key path such as "
                    "stages.retention.buy.p)",
                )
            )
        elif isinstance(spec, list) and not spec[0] < spec[1]:
            problems.append((where, f"an interval [low, high] needs low < high, got {spec}"))
        else:
            problems += _uncertain_money(d, path, spec)
    return problems


def _uncertain_money(d: dict, path: str, spec: Any) -> list[tuple[str, str]]:
    """Refuse an uncertain range whose largest value breaks the bound on money.

    Amounts only grow with the value drawn, so the largest one (an interval's high, a bounded
    distribution's bound) decides; each draw is checked again when it is run.
    """
    high = spec[1] if isinstance(spec, list) else dist_max(spec)
    if not math.isfinite(high):
        return []
    top = copy.deepcopy(d)
    top.pop("uncertain", None)
    cur = top
    *keys, last = path.split(".")
    for k in keys:
        cur = cur[k]
    if isinstance(cur[last], float) or not float(high).is_integer():
        cur[last] = float(high)
    else:
        cur[last] = int(high)
    try:
        found = _check_money(Scenario.model_validate(top))
    except ValidationError as exc:
        found = [(p, m) for p, m in _format_pydantic(exc) if MONEY_BOUND in m]
    return [
        (f"uncertain.{path}", f"its largest value {high:g} would make {p}: {m}") for p, m in found
    ]


def arrivals_problem(size: int, per_day: float, days: int) -> str | None:
    """Say why a market with arrivals cannot fit in memory, or ``None`` when it can."""
    need = size + per_day * days
    n = int(min(need, 1e18))
    if (problem := _limits.people_problem(n)) is None:
        return None
    shown = f"{need:,.0f}" if need < 1e18 else f"{need:.3g}"
    return problem.replace(
        f"{n:,} people",
        f"{shown} people (market.size {size:,} + arrivals.per_day {per_day:g} x {days:,} days)",
        1,
    )


#: Text a name of that kind may not hold, and why (the name could not be addressed later).
_NAME_SEPARATORS = {
    "stages": ("->", "it separates the stages of a move ('src->dst' in effects)"),
    "strategies": (",", "it separates the names in --strategies"),
}


def _check_names(scn: Scenario) -> list[tuple[str, str]]:
    """Names that are blank, or hold a separator lifesim reads them with, are refused."""
    problems: list[tuple[str, str]] = []
    for kind in ("stages", "segments", "campaigns", "tactics", "strategies"):
        sep, why = _NAME_SEPARATORS.get(kind, ("", ""))
        for name in getattr(scn, kind):
            if not name.strip():
                problems.append((f"{kind}.{name}", f"a name is required, got {name!r}"))
            elif sep and sep in name:
                problems.append((f"{kind}.{name}", f"a name without {sep!r} ({why}), got {name!r}"))
    return problems


def _check_structure(scn: Scenario) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """Check references to stages (graph, market, campaigns, support) and that shares sum to 1.

    Returns the problems and, per stage, the largest campaign boost on its boosted moves.
    """
    problems: list[tuple[str, str]] = []
    stages = scn.stages
    if not stages:
        problems.append(("stages", "at least one stage is required"))
    if len(stages) > 120:
        problems.append(("stages", f"at most 120 stages are supported, got {len(stages)}"))
    problems += _check_names(scn)
    for s, st in stages.items():
        for t in st.to:
            problems += _stage_ref(stages, t, f"stages.{s}.to.{t}")
            if t == s:
                problems.append((f"stages.{s}.to.{t}", "a stage cannot move to itself"))
    arr = scn.market.arrivals
    if arr is not None:
        problems += _stage_ref(stages, arr.stage, "market.arrivals.stage")
        if NOT_ARRIVED in stages:
            problems.append(
                (
                    f"stages.{NOT_ARRIVED}",
                    "a reserved name with market.arrivals (the stage of people who have not "
                    "arrived yet); allowed: any other name",
                )
            )
        if problem := arrivals_problem(scn.market.size, arr.per_day, scn.days):
            problems.append(("market.arrivals.per_day", problem))
    for name, seg in scn.segments.items():  # money needs a mean (and float32 room)
        for key in ("order_value", "spend"):
            d = getattr(seg, key)
            if d.dist == "invgamma" and d.shape <= 1 and d.max is None:
                problems.append(
                    (
                        f"segments.{name}.{key}.shape",
                        f"an inverse gamma of shape {d.shape:g} <= 1 has an infinite mean "
                        "(revenue would have no expectation; single draws overflow); allowed: "
                        f"shape > 1, or a max (segments.{name}.{key}.max)",
                    )
                )
    problems += _check_money(scn)
    init = scn.market.initial
    if isinstance(init, str):
        problems += _stage_ref(stages, init, "market.initial")
    else:
        for s in init:
            problems += _stage_ref(stages, s, f"market.initial.{s}")
        tot = sum(init.values())
        if not math.isclose(tot, 1.0, abs_tol=1e-9):
            problems.append(("market.initial", f"shares must sum to 1, got {tot:g}"))
    if not scn.segments:
        problems.append(("segments", "at least one segment is required"))
    tot = sum(seg.share for seg in scn.segments.values())
    if scn.segments and not math.isclose(tot, 1.0, abs_tol=1e-9):
        problems.append(("segments", f"shares must sum to 1, got {tot:g}"))
    boost = {s: 1.0 for s in stages}
    for cname, c in scn.campaigns.items():
        if not c.targets:
            problems.append((f"campaigns.{cname}.targets", "at least one target stage is required"))
        for i, t in enumerate(c.targets):
            problems += _stage_ref(stages, t, f"campaigns.{cname}.targets.{i}")
        for t in set(c.targets):
            if t in boost:
                boost[t] *= max(1.0, c.boost)
        if c.stop is not None and c.stop <= c.start:
            problems.append(
                (f"campaigns.{cname}.stop", f"must be > start ({c.start}), got {c.stop}")
            )
    if scn.support is not None:
        for s in scn.support.ticket_p:
            problems += _stage_ref(stages, s, f"support.ticket_p.{s}")
        for edge in scn.support.resolve_effect:
            if not problems:
                problems += _check_edge(scn, edge, f"support.resolve_effect.{edge}")
    return problems, boost


def _check_bounded_propensity(scn: Scenario) -> list[tuple[str, str]]:
    """Check that moves and purchases scaled by propensity have a bounded propensity."""
    stages = scn.stages
    uses_m = any(tr.propensity and tr.p > 0 for st in stages.values() for tr in st.to.values())
    uses_m |= any(
        st.buy is not None and st.buy.propensity and st.buy.p > 0 for st in stages.values()
    )
    if not uses_m:
        return []
    return [
        (
            f"segments.{name}.propensity.max",
            "required: moves scaled by propensity need a bounded propensity "
            f"distribution ({seg.propensity.dist} is unbounded without max)",
        )
        for name, seg in scn.segments.items()
        if seg.non_target < 1 and math.isinf(dist_max(seg.propensity))
    ] + [
        (
            f"segments.{name}.dropout.max",
            f"required: a dropout multiplier needs a bounded distribution ({seg.dropout.dist} "
            "is unbounded without max)",
        )
        for name, seg in scn.segments.items()
        if math.isinf(dist_max(seg.dropout))
    ]


def _check_scaled_probabilities(scn: Scenario, boost: dict[str, float]) -> list[tuple[str, str]]:
    """Check daily probabilities stay <= 1 at the largest propensity, boost and satisfaction."""
    problems: list[tuple[str, str]] = []
    stages = scn.stages
    m_max = max(
        (dist_max(seg.propensity) for seg in scn.segments.values() if seg.non_target < 1),
        default=0.0,
    )
    sat = 1.0 + scn.satisfaction.churn_weight
    sat *= max((dist_max(seg.dropout) for seg in scn.segments.values()), default=1.0)
    for s, st in stages.items():
        total = 0.0
        for t, tr in st.to.items():
            f = tr.p
            if tr.propensity and tr.p > 0:
                f *= m_max
            if tr.boost:
                f *= boost[s]
            if stages[t].kind == "churned":
                f *= sat
            total += f
        if total > 1.0 + 1e-12:
            problems.append(
                (
                    f"stages.{s}.to",
                    f"outgoing probabilities can sum to {total:.4g} after scaling "
                    f"(largest propensity {m_max:g}, boost {boost[s]:g}, satisfaction x "
                    f"dropout factor {sat:g}); must be <= 1",
                )
            )
        season = scn.calendar.largest()
        if st.buy is not None and st.buy.p > 0:
            top = st.buy.p * (m_max if st.buy.propensity else 1.0) * season
            if top > 1.0 + 1e-12:
                what = "p x largest propensity" if st.buy.propensity else "p"
                what += " x largest calendar factor" if season != 1 else ""
                problems.append((f"stages.{s}.buy.p", f"{what} = {top:.4g}; must be <= 1"))
    return problems


def _check_edge(scn: Scenario, edge: str, path: str) -> list[tuple[str, str]]:
    a, sep, b = edge.partition("->")
    if not sep:
        return [(path, f"a move is written 'src->dst', got {edge!r}")]
    if a not in scn.stages or b not in scn.stages[a].to:
        moves = [f"{x}->{y}" for x, st in scn.stages.items() for y in st.to]
        return [(path, f"no move {edge!r} in the stage graph; moves: {', '.join(moves)}")]
    return []


GROUPS = ("acquisition", "retention", "advocacy")

_EXECUTION = {"execution", "min_gap_days", "targeting"}
#: The fields each strategy type uses (besides ``type``); any other field set is an error.
STRATEGY_FIELDS = {
    "none": set(),
    "kpi_focused": {"objective", "kpi", "split"} | _EXECUTION,
    "stage_focused": {"objective", "plan", "split"} | _EXECUTION,
    "fixed_split": {"plan", "split"} | _EXECUTION,
    "churn_targeted": {"plan", "split", "params"} | _EXECUTION,
    "custom": {"target", "params"},
}


def _strategy_fields(scn: Scenario, sp: Any, base: str) -> list[tuple[str, str]]:
    """Fields a strategy sets but does not use, and execution fields that contradict."""
    problems: list[tuple[str, str]] = []
    uses = STRATEGY_FIELDS[sp.type]
    for f in sorted(sp.model_fields_set - {"type"}):
        default = type(sp).model_fields[f].get_default(call_default_factory=True)
        if f not in uses and getattr(sp, f) != default:
            allowed = ", ".join(sorted(uses)) or "no other field"
            problems.append(
                (f"{base}.{f}", f"not used by a {sp.type} strategy (it uses: {allowed})")
            )
    ex = sp.execution
    if ex is None or isinstance(ex, str) or "execution" not in uses:
        return problems
    for short in ("min_gap_days", "targeting"):
        if getattr(sp, short) is not None and short in ex.model_fields_set:
            problems.append(
                (f"{base}.{short}", f"given twice (also as execution.{short}); keep one")
            )
    targeting = sp.resolved_execution().targeting
    if ex.uplift_noise is not None and targeting != "uplift":
        problems.append(
            (
                f"{base}.execution.uplift_noise",
                f"used only with targeting: uplift (this strategy's targeting is {targeting!r})",
            )
        )
    for t in ex.caps:
        if t not in scn.tactics:
            problems.append(
                (
                    f"{base}.execution.caps.{t}",
                    f"unknown tactic {t!r}; known: {', '.join(scn.tactics)}",
                )
            )
    for i, t in enumerate(ex.tactics or []):
        if t not in scn.tactics:
            problems.append(
                (
                    f"{base}.execution.tactics.{i}",
                    f"unknown tactic {t!r}; known: {', '.join(scn.tactics)}",
                )
            )
    return problems


def _check_strategy(scn: Scenario, sp: Any, base: str) -> list[tuple[str, str]]:
    """Cross-field rules of one strategy spec: plan, split, target, fields it does not use."""
    problems: list[tuple[str, str]] = []
    stages = scn.stages
    for st, tactics in (sp.plan or {}).items():
        problems += _stage_ref(stages, st, f"{base}.plan.{st}")
        for i, t in enumerate(tactics):
            if t not in scn.tactics:
                problems.append(
                    (
                        f"{base}.plan.{st}.{i}",
                        f"unknown tactic {t!r}; known tactics: {', '.join(scn.tactics)}",
                    )
                )
            elif st in stages and st not in scn.tactics[t].stages:
                problems.append(
                    (
                        f"{base}.plan.{st}.{i}",
                        f"tactic {t!r} does not serve stage {st!r} "
                        f"(it serves {', '.join(scn.tactics[t].stages)})",
                    )
                )
    if sp.split is not None:
        allowed = {
            "stage_focused": GROUPS,
            "churn_targeted": GROUPS,  # read as budget groups (see ChurnTargeted.decide)
            "kpi_focused": tuple(scn.tactics),
        }.get(sp.type, tuple(stages))
        for k in sp.split:
            if k not in allowed:
                problems.append(
                    (f"{base}.split.{k}", f"unknown key {k!r}; allowed: {', '.join(allowed)}")
                )
        tot = sum(sp.split.values())
        if not math.isclose(tot, 1.0, abs_tol=1e-9):
            problems.append((f"{base}.split", f"shares must sum to 1, got {tot:g}"))
    if sp.type == "custom" and not sp.target:
        problems.append((f"{base}.target", "a custom strategy needs 'module:attribute'"))
    problems += _strategy_fields(scn, sp, base)
    return problems


def _check_marketing(scn: Scenario) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    stages = scn.stages
    for name, t in scn.tactics.items():
        base = f"tactics.{name}"
        if not t.stages:
            problems.append((f"{base}.stages", "at least one stage is required"))
        for i, st in enumerate(t.stages):
            problems += _stage_ref(stages, st, f"{base}.stages.{i}")
        for edge in t.effect:
            problems += _check_edge(scn, edge, f"{base}.effect.{edge}")
        if t.single_use is False and t.cost.per_redemption > 0:
            problems.append(
                (f"{base}.cost.per_redemption", "only single_use tactics have redemptions")
            )
        if t.mode == "broadcast" and (t.cost.per_contact > 0 or t.cost.per_redemption > 0):
            problems.append(
                (f"{base}.cost", "a broadcast tactic costs per_month only (no contacts)")
            )
        if t.referral is not None:
            for i, st in enumerate(t.referral.from_stages):
                problems += _stage_ref(stages, st, f"{base}.referral.from_stages.{i}")
            for edge in t.referral.effect:
                problems += _check_edge(scn, edge, f"{base}.referral.effect.{edge}")
    for name, sp in scn.strategies.items():
        problems += _check_strategy(scn, sp, f"strategies.{name}")
    if scn.experiment is not None:  # inline arm strategies: the same rules
        for label, arm in scn.experiment.arms.items():
            if isinstance(arm.strategy, Mapping):
                try:
                    sp = StrategySpec.model_validate(dict(arm.strategy))
                except ValueError:
                    continue  # check_experiment reports it
                problems += _check_strategy(scn, sp, f"experiment.arms.{label}.strategy")
    cmp = scn.compare
    for i, name in enumerate(cmp.strategies):
        if name not in scn.strategies:
            problems.append(
                (
                    f"compare.strategies.{i}",
                    f"unknown strategy {name!r}; known: {', '.join(scn.strategies)}",
                )
            )
    if not cmp.strategies:
        problems.append(("compare.strategies", "at least one strategy is required"))
    elif len(set(cmp.strategies)) != len(cmp.strategies):
        problems.append(("compare.strategies", f"each strategy once, got {cmp.strategies}"))
    if cmp.baseline not in scn.strategies:  # a typo here was silently replaced by the first
        problems.append(
            (
                "compare.baseline",
                f"unknown strategy {cmp.baseline!r}; known: {', '.join(scn.strategies)}",
            )
        )
    return problems


#: Deepest nesting of mappings and lists a scenario may have.
MAX_DEPTH = 50
#: Most YAML nodes a scenario may expand to (aliases counted every time they are used).
MAX_NODES = 200_000


def _key_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "<complex key>"


def _check_tree(root: yaml.Node, where: str) -> None:
    """Refuse duplicate keys, deep nesting and alias bombs before anything is constructed.

    The check walks the composed node graph once per distinct node (aliases share nodes),
    so counting the expanded size costs time proportional to the file, not to the bomb.
    """
    size: dict[int, int] = {}

    def walk(node: yaml.Node, path: str, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ConfigError(
                [(path, f"nested more than {MAX_DEPTH} levels deep; allowed: at most {MAX_DEPTH}")],
                source=where,
            )
        if id(node) in size:
            return size[id(node)]
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                key = _key_text(k)
                sub = f"{path}.{key}" if path else key
                if key in seen and key != "<<":
                    raise ConfigError(
                        [(sub, "duplicate key: it appears twice in one mapping; keep one")],
                        source=where,
                    )
                seen.add(key)
                total += walk(v, sub, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                total += walk(v, f"{path}.{i}" if path else str(i), depth + 1)
        if total > MAX_NODES:
            raise ConfigError(
                [
                    (
                        path,
                        f"expands to more than {MAX_NODES:,} values (YAML aliases repeat "
                        f"data); allowed: at most {MAX_NODES:,}",
                    )
                ],
                source=where,
            )
        size[id(node)] = total
        return total

    walk(root, "", 0)


def _read_text(path: Path) -> str:
    """Read a scenario file as UTF-8, refusing non-files and files over the size limit."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"scenario file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read scenario file {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"scenario file {path} is a folder; give a YAML file")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(
            f"scenario file {path} is not a regular file (a device, pipe or socket); "
            "give a YAML file"
        )
    limit = _limits.MAX_SCENARIO_BYTES
    if st.st_size > limit:
        raise ConfigError(
            f"scenario file {path} is {_limits.fmt_bytes(st.st_size)}; allowed: at most "
            f"{_limits.fmt_bytes(limit)}"
        )
    try:
        with path.open("rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read scenario file {path}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise ConfigError(
            f"scenario file {path} is larger than {_limits.fmt_bytes(limit)}; allowed: at most "
            f"{_limits.fmt_bytes(limit)}"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"scenario file {path} is not UTF-8 text: byte {raw[exc.start]:#04x} at line "
            f"{line} (offset {exc.start}); save it as UTF-8"
        ) from None


class _Loader(yaml.SafeLoader):
    """A safe loader whose impossible dates (``2024-02-30``) are YAML errors with a position."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:  # day is out of range for month, ...
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{node.value!r} is not a date ({exc}); write YYYY-MM-DD, e.g. 2024-02-29",
                node.start_mark,
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _parse_yaml(text: str, where: str) -> Any:
    """Parse one YAML document safely: no tags, no duplicate keys, no bombs, no deep nests."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_tree(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise ConfigError(
            f"{where}: nested too deeply to read; allowed: at most {MAX_DEPTH} levels"
        ) from None
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> Any:
    return _parse_yaml(_read_text(path), str(path))


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for k, v in over.items():
            out[k] = _deep_merge(base[k], v) if k in base else v
        return out
    return over


@functools.cache
def _shipped_yaml(name: str) -> Any:
    """Parse a YAML file shipped in ``lifesim.config`` once per process (callers copy it)."""
    text = resources.files("lifesim.config").joinpath(name).read_text("utf-8")
    return yaml.safe_load(text)


def _catalogue() -> dict[str, Any]:
    # a fresh copy each call: callers merge its entries into scenario data they may edit
    return copy.deepcopy(_shipped_yaml("catalogue.yaml"))


def _fits_graph(tactic: Mapping[str, Any], stages: Mapping[str, Any]) -> bool:
    def edge_ok(edge: str) -> bool:
        a, _, b = edge.partition("->")
        to = (stages.get(a) or {}).get("to") or {}
        return isinstance(to, Mapping) and b in to

    ok = all(st in stages for st in tactic.get("stages", []))
    ok &= all(edge_ok(e) for e in tactic.get("effect", {}))
    ref = tactic.get("referral") or {}
    ok &= all(st in stages for st in ref.get("from_stages", []))
    ok &= all(edge_ok(e) for e in ref.get("effect", {}))
    return ok


def with_catalogue(data: Mapping[str, Any]) -> dict[str, Any]:
    """Merge the shipped tactic catalogue and built-in strategies into raw scenario data.

    A catalogue tactic is kept when every stage and move it names exists in the scenario's
    graph, or when the scenario mentions it (then it is validated strictly). A scenario entry
    with ``stages`` (a tactic) or ``type`` (a strategy) replaces the catalogue entry of that
    name; one without is a partial override merged into it. ``name: null`` removes an entry.
    """
    data = dict(data)
    cat = _catalogue()
    stages = data.get("stages")
    stages = stages if isinstance(stages, Mapping) else {}
    for key in ("tactics", "strategies"):
        user = data.get(key) or {}
        if not isinstance(user, Mapping):
            continue  # pydantic reports the type error
        merged: dict[str, Any] = {}
        for name, spec in cat[key].items():
            if name in user:
                mine = user[name]
                full = isinstance(mine, Mapping) and ("stages" in mine or "type" in mine)
                if mine is not None:
                    merged[name] = mine if full else _deep_merge(spec, mine)
            elif key == "strategies" or _fits_graph(spec, stages):
                merged[name] = spec
        for name, spec in user.items():
            if name not in merged and spec is not None and name not in cat[key]:
                merged[name] = spec
        data[key] = merged
    return data


def default_scenario() -> Scenario:
    """Return the embedded default scenario (the one ``lifesim compare`` runs with no file)."""
    return load_scenario(copy.deepcopy(_shipped_yaml("default.yaml")))


def load_scenario(source: ScenarioLike = None, **overrides: Any) -> Scenario:
    """Load and fully validate a scenario.

    Parameters
    ----------
    source : Scenario, mapping, path or None
        A YAML file path, a dict with the same structure, a Scenario, or ``None`` for the
        embedded default scenario.
    **overrides
        Top-level keys to replace (e.g. ``days=30``).

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        With every problem found, each naming the key path, the bad value and what is allowed.
    """
    where: str | None = None
    if source is None:
        data: Any = scenario_to_dict(default_scenario())
    elif isinstance(source, Scenario):
        data = scenario_to_dict(source)
    elif isinstance(source, Mapping):
        data = dict(source)
    elif isinstance(source, str | os.PathLike):
        where = str(source)
        data = _read_yaml(Path(source))
    else:  # was "TypeError: expected str, bytes or os.PathLike object, not int"
        raise ConfigError(
            [
                (
                    "scenario",
                    "must be a Scenario, a mapping, a YAML file path or None, got "
                    f"{_fmt_value(source)}",
                )
            ]
        )
    if not isinstance(data, Mapping):
        raise ConfigError(
            [("", f"the top level must be a mapping of keys to values, got {_fmt_value(data)}")],
            source=where,
        )
    data = with_catalogue({**data, **overrides})
    flags = bool_problems(Scenario, data)
    if flags:
        raise ConfigError(flags, source=where)
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_pydantic(exc, Scenario), source=where) from None
    try:
        check_scenario(scn)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=where) from None
    return scn


def scenario_to_dict(scn: Scenario) -> dict[str, Any]:
    """Return the resolved scenario as plain data (every default filled in).

    Catalogue tactics and built-in strategies the scenario does not have are written as
    ``name: null``, so the data loads back to an equal scenario (loading merges the catalogue
    into what a file leaves out).
    """
    d = scn.model_dump(mode="json")
    cat = _catalogue()
    for key in ("tactics", "strategies"):
        for name in cat[key]:
            if name not in d[key]:
                d[key][name] = None
    return d


def dump_scenario(scn: Scenario) -> str:
    """Return the resolved scenario as YAML text (it loads back to an equal scenario)."""
    return yaml.safe_dump(scenario_to_dict(scn), sort_keys=False, allow_unicode=True)
