"""Overrides of a scenario: another market size, another horizon, values by key path."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lifesim._checks import check_int
from lifesim._limits import MAX_DAYS, people_problem
from lifesim.config.scenario import Scenario
from lifesim.errors import ConfigError

__all__ = ["resolve", "override", "parse_assignment", "parse_range", "Range"]


def resolve(
    scenario: Scenario,
    customers: int | None = None,
    days: int | None = None,
    *,
    scale_arrivals: bool = True,
) -> Scenario:
    """Apply a market-size and a horizon override to a scenario, with checks.

    A new market size scales the budget per period, the tactics' monthly fees, the support
    staff and the arrivals per day in proportion, so that a what-if at another size keeps the
    same marketing intensity. The scenario itself is not changed.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (see :func:`load_scenario`).
    customers : int, optional
        The market size (``market.size``); ``None`` keeps the scenario's.
    days : int, optional
        The horizon (``days``); ``None`` keeps the scenario's.
    scale_arrivals : bool
        Scale ``market.arrivals.per_day`` with the market size (``False`` when the market is
        given, e.g. a log's customers at a date: the inflow of new people stays the
        scenario's).

    Returns
    -------
    Scenario
        A copy with the overrides applied (``scenario`` itself when there are none).

    Raises
    ------
    ConfigError
        ``customers`` or ``days`` not a whole number >= 1, more people than this machine can
        hold, or more than ``MAX_DAYS`` days; the problem names the option
        (``customers: must be a whole number >= 1, got 0``).

    Examples
    --------
    >>> from lifesim.config import default_scenario, resolve
    >>> scn = default_scenario()
    >>> small = resolve(scn, customers=scn.market.size // 2, days=90)
    >>> small.days, small.market.size == scn.market.size // 2
    (90, True)
    >>> small.budget.per_period == scn.budget.per_period / 2
    True
    """
    scn = scenario
    upd: dict = {}
    if customers is not None:
        customers = check_int("customers", customers, min=1)
        if problem := people_problem(customers):
            raise ConfigError([("customers", problem)])
        ratio = customers / scn.market.size
        market: dict = {"size": customers}
        if scn.market.arrivals is not None and scale_arrivals:  # the same inflow per person
            arr = scn.market.arrivals
            market["arrivals"] = arr.model_copy(update={"per_day": arr.per_day * ratio})
        upd["market"] = scn.market.model_copy(update=market)
        if scn.budget.per_period is not None:
            upd["budget"] = scn.budget.model_copy(
                update={"per_period": scn.budget.per_period * ratio}
            )
        if scn.support is not None:
            agents = max(1, round(scn.support.agents * ratio))
            upd["support"] = scn.support.model_copy(update={"agents": agents})
        upd["tactics"] = {
            name: t.model_copy(
                update={"cost": t.cost.model_copy(update={"per_month": t.cost.per_month * ratio})}
            )
            for name, t in scn.tactics.items()
        }
    if days is not None:
        upd["days"] = check_int("days", days, min=1, max=MAX_DAYS)
    out = scn.model_copy(update=upd) if upd else scn
    if upd and out.market.arrivals is not None:  # the people to come must fit too
        from lifesim.config.load import arrivals_problem

        problem = arrivals_problem(out.market.size, out.market.arrivals.per_day, out.days)
        if problem:
            raise ConfigError([("customers" if days is None else "days", problem)])
    return out


def override(scenario: Scenario, values: Mapping[str, Any], where: str = "") -> Scenario:
    """Return a copy of ``scenario`` with values set by key path, validated like a file.

    Parameters
    ----------
    scenario : Scenario
    values : mapping of str to value
        ``{"stages.retention.buy.p": 0.012, "budget.per_period": 16000}``: each key path
        must exist in the scenario (as :func:`lifesim.config.dump_scenario` writes it).
    where : str
        Where the values come from, for error messages (e.g. ``"draw 7"``).

    Raises
    ------
    ConfigError
        A key path that does not exist (naming the first missing key), or a value the
        scenario's rules refuse (naming the path, the value and what is allowed).
    """
    from lifesim.config.load import load_scenario, scenario_to_dict

    for name, v, want in (("scenario", scenario, Scenario), ("values", values, Mapping)):
        if not isinstance(v, want):
            what = "a Scenario (load_scenario(...))" if want is Scenario else "a mapping"
            raise ConfigError([(name, f"must be {what}, got {type(v).__name__}")])
    d = scenario_to_dict(scenario)
    problems: list[tuple[str, str]] = []
    for path, value in values.items():
        if not isinstance(path, str):
            raise ConfigError([("values", f"key paths are strings, got {path!r}")])
        keys = path.split(".")
        cur: Any = d
        for i, k in enumerate(keys):
            if not isinstance(cur, dict) or k not in cur:
                parent = ".".join(keys[:i])
                if isinstance(cur, dict) and cur:
                    known = ", ".join(map(str, cur))
                elif cur is None or isinstance(cur, dict):  # an unset block, an empty mapping
                    state = "not set (null)" if cur is None else "empty"
                    known = f"none ({parent} is {state}: set it whole, e.g. {parent}={{{k}: ...}})"
                else:
                    known = "none (a value)"
                problems.append(
                    (path, f"no key {'.'.join(keys[: i + 1])!r} in the scenario; known: {known}")
                )
                break
            if i == len(keys) - 1:
                cur[k] = value.item() if hasattr(value, "item") else value
            else:
                cur = cur[k]
    if problems:
        raise ConfigError(problems, source=where or None)
    try:
        out = load_scenario(d)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=where or None) from None
    out._trust_code = scenario._trust_code
    return out


def parse_assignment(text: str, flag: str = "--set") -> tuple[str, Any]:
    """Parse ``path=value`` (the value read as YAML: ``16000``, ``0.5``, ``true``, ``[a, b]``).

    Raises
    ------
    ConfigError
        Without ``=`` or a path, naming the flag and the text.
    """
    import yaml

    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ConfigError([(flag, f"{text!r}: write PATH=VALUE, e.g. budget.per_period=16000")])
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except (yaml.YAMLError, ValueError):  # ValueError: an impossible date, e.g. 2024-02-30
        value = raw
    return path, value


@dataclass(frozen=True)
class Range:
    """Values a parameter may take: a list, or ``low:high`` (``n`` grid points; log-spaced).

    ``values`` is a list; otherwise ``low``/``high`` bound the range, ``n`` is its grid size
    and ``log`` spaces the grid (and samples) on the log scale.
    """

    path: str
    values: tuple[float, ...] | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    log: bool = False
    dist: Any = None  # a scenario Distribution, for sampled designs (drawn through its quantiles)

    def grid(self) -> list[Any]:
        """Grid values: the list, or ``n`` points from ``low`` to ``high`` (ends included)."""
        if self.values is not None:
            return list(self.values)
        if self.dist is not None:
            raise ConfigError(
                [(self.path, "a distribution is sampled, not gridded: use --design lhs|sobol")]
            )
        if self.n is None:
            raise ConfigError(
                [(self.path, "a range low:high needs a count for a grid: low:high:n")]
            )
        if self.log:
            return [float(v) for v in np.geomspace(self.low, self.high, self.n)]
        return [float(v) for v in np.linspace(self.low, self.high, self.n)]

    def scale(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms in [0, 1] onto the range (log-uniform when ``log``; lists by index)."""
        u = np.asarray(u, dtype=np.float64)
        if self.values is not None:
            idx = np.minimum((u * len(self.values)).astype(int), len(self.values) - 1)
            return np.asarray(self.values, dtype=object)[idx]
        if self.log:
            return np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        return self.low + u * (self.high - self.low)


def parse_range(text: str, flag: str = "--vary") -> Range:
    """Parse ``path=a,b,c``, ``path=low:high``, ``path=low:high:n`` or ``path=low:high:n:log``.

    Raises
    ------
    ConfigError
        Naming the flag, the text and the forms allowed.
    """
    path, sep, raw = text.partition("=")
    path = path.strip()
    forms = (
        "PATH=a,b,c | PATH=low:high | PATH=low:high:n | PATH=low:high:n:log | "
        "PATH=dist:NAME:k=v,k=v (e.g. dist:lognormal:mu=-5,sigma=0.3)"
    )
    if not sep or not path or not raw.strip():
        raise ConfigError([(flag, f"{text!r}: write {forms}")])
    raw = raw.strip()
    if raw.startswith("dist:"):
        return _parse_dist(path, raw, text, flag)
    try:
        if ":" in raw:
            parts = raw.split(":")
            log = parts[-1] == "log"
            if log:
                parts = parts[:-1]
            if len(parts) not in (2, 3):
                raise ValueError
            low, high = float(parts[0]), float(parts[1])
            n = int(parts[2]) if len(parts) == 3 else None
            finite = math.isfinite(low) and math.isfinite(high)  # 0:inf made NaN points
            if not (finite and low < high) or (n is not None and n < 2) or (log and low <= 0):
                raise ValueError
            return Range(path, low=low, high=high, n=n, log=log)
        import yaml

        values = tuple(yaml.safe_load(v.strip()) for v in raw.split(","))
        return Range(path, values=values)
    except (ValueError, TypeError):
        raise ConfigError(
            [(flag, f"{text!r}: write {forms} (finite low < high, n >= 2, low > 0 for log)")]
        ) from None


def _parse_dist(path: str, raw: str, text: str, flag: str) -> Range:
    """``dist:NAME:k=v,k=v``: a scenario distribution, validated like one in a file."""
    from pydantic import TypeAdapter, ValidationError

    from lifesim.config.scenario import Distribution

    _, _, rest = raw.partition(":")
    name, _, args = rest.partition(":")
    spec: dict[str, Any] = {"dist": name.strip()}
    try:
        for kv in filter(None, (a.strip() for a in args.split(","))):
            k, eq, v = kv.partition("=")
            if not eq:
                raise ValueError(kv)
            spec[k.strip()] = float(v)
        dist = TypeAdapter(Distribution).validate_python(spec)
    except (ValueError, ValidationError) as exc:
        msg = str(exc).splitlines()[0] if isinstance(exc, ValidationError) else f"bad {exc}"
        raise ConfigError(
            [
                (
                    flag,
                    f"{text!r}: a distribution as in scenario files, e.g. "
                    f"dist:uniform:low=0.5,high=0.9 or dist:lognormal:mu=-5,sigma=0.3 ({msg})",
                )
            ]
        ) from None
    return Range(path, dist=dist)
