"""Overrides of a scenario: another market size, another horizon, values by key path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lifesim._checks import check_int
from lifesim._limits import MAX_DAYS, people_problem
from lifesim.config.scenario import Scenario
from lifesim.errors import ConfigError

__all__ = ["resolve", "override"]


def resolve(scenario: Scenario, customers: int | None = None, days: int | None = None) -> Scenario:
    """Apply a market-size and a horizon override to a scenario, with checks.

    A new market size scales the budget per period, the tactics' monthly fees and the support
    staff in proportion, so that a what-if at another size keeps the same marketing
    intensity. The scenario itself is not changed.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (see :func:`load_scenario`).
    customers : int, optional
        The market size (``market.size``); ``None`` keeps the scenario's.
    days : int, optional
        The horizon (``days``); ``None`` keeps the scenario's.

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
        upd["market"] = scn.market.model_copy(update={"size": customers})
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
    return scn.model_copy(update=upd) if upd else scn


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

    d = scenario_to_dict(scenario)
    problems: list[tuple[str, str]] = []
    for path, value in values.items():
        keys = path.split(".")
        cur: Any = d
        for i, k in enumerate(keys):
            if not isinstance(cur, dict) or k not in cur:
                known = ", ".join(map(str, cur)) if isinstance(cur, dict) else "none (a value)"
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
