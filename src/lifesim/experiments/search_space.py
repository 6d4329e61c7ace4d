"""The search space of ``lifesim optimize``: ``--space`` paths, split shares, best settings.

A ``--space`` path is tried as a setting of the strategy first (``strategies.<strategy>.PATH``)
and else as a scenario path. A strategy's implicit settings (its default split, its execution
preset) are written out first, so ``split.retention`` or ``execution.min_gap_days`` can be
searched on a strategy that does not set them. A searched budget share moves the strategy's
other shares of that split in proportion to their defaults so the split still sums to 1; when
searched shares of one split add up to more than 1 they are rescaled to sum to 1 and the
others get 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lifesim.config import Range, Scenario, load_scenario, override, parse_range
from lifesim.config.load import scenario_to_dict
from lifesim.errors import ConfigError

__all__ = [
    "SPLIT_RULE",
    "SearchParam",
    "resolve_space",
    "apply_point",
    "apply_optimized",
]


SPLIT_RULE = (
    "a searched budget share moves the strategy's other shares of that split in proportion "
    "to their defaults, so the split sums to 1 (searched shares adding up to more than 1 are "
    "rescaled to 1, the others get 0)"
)


@dataclass(frozen=True)
class SearchParam:
    """One searched setting: the path the user gave and the scenario key path it sets."""

    path: str
    target: str
    kind: str  # 'float', 'int' or 'categorical'
    default: Any
    low: float | None = None
    high: float | None = None
    log: bool = False
    values: tuple[Any, ...] | None = None


def _default_split(scn: Scenario, strategy: str) -> dict[str, float]:
    """Return the split a strategy uses when it gives none (the model's defaults)."""
    from lifesim.model.strategies import DEFAULT_GROUP_SPLIT, KPI_MIX, make_strategy

    sp = scn.strategies[strategy]
    if sp.split:
        return dict(sp.split)
    if sp.type in ("stage_focused", "churn_targeted"):
        return dict(DEFAULT_GROUP_SPLIT)
    if sp.type == "kpi_focused":
        mix = {t: s for t, s in KPI_MIX[sp.kpi].items() if t in scn.tactics}
        tot = sum(mix.values())
        return {t: s / tot for t, s in mix.items()}
    if sp.type == "fixed_split":
        return dict(make_strategy(scn, strategy).stage_split)
    raise ConfigError(
        [(f"strategies.{strategy}.split", f"a {sp.type!r} strategy has no budget split")]
    )


def _materialise(scn: Scenario, strategy: str, paths: Sequence[str]) -> dict[str, Any]:
    """Return the scenario as a dict, the strategy's implicit split/execution written out."""
    d = scenario_to_dict(scn)
    sp = scn.strategies[strategy]
    spd = d["strategies"][strategy]
    if any(p.startswith("split.") for p in paths) and sp.type != "none":
        spd["split"] = _default_split(scn, strategy)
    if any(p.startswith("execution.") for p in paths) and sp.type not in ("none", "custom"):
        spd["execution"] = sp.resolved_execution().model_dump()
        spd["min_gap_days"] = spd["targeting"] = None
        for p in paths:  # a per-tactic cap not set yet is 0 (no cap)
            head, _, tactic = p.rpartition(".")
            if head == "execution.caps" and tactic in scn.tactics:
                spd["execution"]["caps"].setdefault(tactic, 0)
    return d


def _lookup(d: dict[str, Any], path: str) -> tuple[bool, Any]:
    cur: Any = d
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return False, None
        cur = cur[k]
    return True, cur


def resolve_space(
    scn: Scenario, strategy: str, space: Sequence[Range | str]
) -> tuple[list[SearchParam], dict[str, Any]]:
    """Resolve ``--space`` ranges to scenario key paths (strategy-relative first).

    Returns the parameters and the materialised scenario dict the points are applied to.

    Raises
    ------
    ConfigError
        A path that is neither ``strategies.<strategy>.<path>`` nor a scenario path, a
        repeated path, or a range whose ends the scenario's rules refuse.
    """
    ranges = [parse_range(r, "--space") if isinstance(r, str) else r for r in space]
    if not ranges:
        raise ConfigError([("--space", "give at least one PATH=low:high to search")])
    d = _materialise(scn, strategy, [r.path for r in ranges])
    params: list[SearchParam] = []
    written_out = any(r.path.startswith("execution.") for r in ranges)
    for r in ranges:
        rel = f"strategies.{strategy}.{r.path}"
        if written_out and r.path in ("min_gap_days", "targeting"):  # the shorthands
            rel = f"strategies.{strategy}.execution.{r.path}"
        found, default = _lookup(d, rel)
        target = rel
        if not found:
            found, default = _lookup(d, r.path)
            target = r.path
        if not found or isinstance(default, dict | list):
            known = ", ".join(k for k, v in d["strategies"][strategy].items() if v is not None)
            if r.path.startswith("strategies."):  # already a full path: not prefixed again
                rel = r.path
            raise ConfigError(
                [
                    (
                        "--space",
                        f"{r.path!r} is neither a setting of strategy {strategy!r} "
                        f"({rel}) nor a scenario value; the strategy sets: {known}; scenario "
                        "paths are as 'lifesim validate' names them, e.g. budget.per_period",
                    )
                ]
            )
        if any(p.target == target for p in params):
            raise ConfigError([("--space", f"{r.path!r} is given twice")])
        if r.values is not None:
            kind = "categorical"
        elif (
            isinstance(default, int)
            and not isinstance(default, bool)
            and float(r.low).is_integer()
            and float(r.high).is_integer()
        ):
            kind = "int"
        else:
            kind = "float"
        params.append(SearchParam(r.path, target, kind, default, r.low, r.high, r.log, r.values))
    for i, p in enumerate(params):  # the ends must be valid settings: refuse before any run
        for v in p.values if p.values is not None else (p.low, p.high):
            apply_point(scn, strategy, params, {p.path: v}, d)
        whole = p.kind == "float" and float(p.low).is_integer() and float(p.high).is_integer()
        if whole and p.low + 0.5 < p.high:  # a whole-number setting without a default
            try:
                apply_point(scn, strategy, params, {p.path: p.low + 0.5}, d)
            except ConfigError:
                params[i] = dataclasses.replace(p, kind="int")
    return params, d


def _split_shares(defaults: dict[str, float], searched: dict[str, float]) -> dict[str, float]:
    """Return the whole split from searched shares: the others rescaled from their defaults."""
    tot = sum(searched.values())
    rest = {k: v for k, v in defaults.items() if k not in searched}
    if tot >= 1 or not rest:
        scale = 1 / tot if tot > 0 else 0.0
        out = {k: v * scale for k, v in searched.items()} | dict.fromkeys(rest, 0.0)
        if tot <= 0:  # nothing anywhere: equal shares
            out = dict.fromkeys(out, 1 / len(out))
        return out
    rest_tot = sum(rest.values())
    fill = (
        {k: (1 - tot) * v / rest_tot for k, v in rest.items()}
        if rest_tot > 0
        else dict.fromkeys(rest, (1 - tot) / len(rest))
    )
    return dict(searched) | fill


def apply_point(
    scn: Scenario,
    strategy: str,
    params: Sequence[SearchParam],
    values: dict[str, Any],
    base: dict[str, Any] | None = None,
) -> tuple[Scenario, dict[str, Any]]:
    """Return the scenario at one point of the space, and every value it set.

    ``values`` maps a parameter's ``path`` to its value (missing: its default). A split
    share renormalises the rest of its split (see the module notes); the returned dict
    names every share it set, by its full key path.
    """
    if base is None:
        base = _materialise(scn, strategy, [p.path for p in params])
    sets: dict[str, Any] = {}
    splits: dict[str, dict[str, float]] = {}
    for p in params:
        v = values.get(p.path, p.default)
        v = v.item() if hasattr(v, "item") else v
        head, _, leaf = p.target.rpartition(".")
        if head.endswith(".split") and head.startswith("strategies."):
            splits.setdefault(head, {})[leaf] = float(v)
        else:
            sets[p.target] = v
    for head, searched in splits.items():
        whole = _split_shares(_lookup(base, head)[1], searched)
        sets[head] = whole
    tmp = load_scenario(base) if base is not None else scn
    tmp._trust_code = scn._trust_code
    out = override(tmp, sets, where="--space")
    flat = {}
    for k, v in sets.items():
        if isinstance(v, dict):
            flat |= {f"{k}.{kk}": vv for kk, vv in v.items()}
        else:
            flat[k] = v
    return out, flat


def _num(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.4g}"


def apply_optimized(scn: Scenario, runs: Sequence[Any]) -> tuple[Scenario, list[str]]:
    """Set each optimised strategy to its best settings from ``lifesim optimize`` run folders.

    Only a strategy's own settings carry over: a comparison runs every strategy on one
    scenario, so a run whose best point also sets a scenario value (a budget, a margin) is
    refused. Returns the scenario and one line per run saying what was set.

    Raises
    ------
    ConfigError
        A folder without ``result.json``, a strategy the scenario lacks or given twice, or a
        run with scenario values.
    """
    import json
    from pathlib import Path

    lines: list[str] = []
    done: set[str] = set()
    for run in runs:
        path = Path(run) / "result.json"
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            name, spec, shared = d["strategy"], d["best_strategy"], d["scenario_values"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(
                [("--optimized", f"{str(run)!r} is not a lifesim optimize run folder")]
            ) from None
        if shared:
            raise ConfigError(
                [
                    (
                        "--optimized",
                        f"{str(run)!r}: the best point of {name} also sets "
                        f"{', '.join(shared)}, a scenario value every compared strategy "
                        "shares; only a strategy's own settings carry over to a comparison. "
                        "Compare at one value with --set PATH=VALUE, or optimize only the "
                        "strategy's settings (split.*, execution.*)",
                    )
                ]
            )
        if name not in scn.strategies or name in done:
            why = "given twice" if name in done else "not a strategy of this scenario"
            raise ConfigError([("--optimized", f"{str(run)!r}: strategy {name!r} is {why}")])
        done.add(name)
        scn = override(scn, {f"strategies.{name}": spec}, where=f"--optimized {run}")
        diff = d.get("best_minus_defaults", {})
        lines.append(
            f"{name}: its best settings from {run} (optimised on {d.get('scenario')!r}; "
            f"best - defaults {_num(diff.get('diff'))} [{_num(diff.get('ci_low'))}, "
            f"{_num(diff.get('ci_high'))}] on fresh seeds)"
        )
    return scn, lines
