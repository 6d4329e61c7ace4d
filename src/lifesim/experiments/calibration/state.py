"""Start from today: the real customers of a log at a date, drawn from their own histories.

For a scenario whose customers follow the Pareto/NBD (what ``lifesim calibrate`` writes: one
segment with gamma propensity and gamma dropout, a customer stage with repeat purchases and a
move into a churned stage), each customer of the log at ``as_of`` is drawn from their
conditional distribution given their history ``(x, t_x, T)``: alive with ``P(alive)``, and if
alive a purchase rate ``Gamma(r + x, alpha + T)`` and a dropout rate ``Gamma(s, beta + T)``,
and with the Gamma-Gamma spend model a spend from its posterior given the customer's repeat
order values (see :mod:`lifesim.experiments.calibration.forecast`). The market is those
customers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lifesim._random import SeedLike, stream
from lifesim.config import Scenario
from lifesim.errors import ConfigError, DataError
from lifesim.experiments.calibration.forecast import (
    SpendState,
    customer_segment,
    cutoff_state,
    spend_params,
)
from lifesim.experiments.calibration.models import Summary
from lifesim.experiments.calibration.summary import customer_table

__all__ = ["LogState", "state_from_log", "pareto_params"]


def pareto_params(scn: Scenario) -> tuple[np.ndarray, str, str, float, float]:
    """Read ``(r, alpha, s, beta)``, the alive and churned stages and the base rates.

    Raises
    ------
    ConfigError
        When the scenario's customers do not follow the Pareto/NBD (naming what is missing).
    """
    segs = [n for n, sg in scn.segments.items() if sg.share > 0]
    why = "--from-log needs a scenario whose customers follow the Pareto/NBD, as lifesim "
    why += "calibrate writes it"
    if len(segs) != 1:
        raise ConfigError([("segments", f"{why}: one segment, got {len(segs)}")])
    seg = scn.segments[segs[0]]
    for field in ("propensity", "dropout"):
        if getattr(seg, field).dist != "gamma":
            raise ConfigError(
                [
                    (
                        f"segments.{segs[0]}.{field}",
                        f"{why}: a gamma distribution, got {getattr(seg, field).dist}",
                    )
                ]
            )
    alive = next((n for n, st in scn.stages.items() if st.kind == "customer" and st.buy), None)
    dead = next((n for n, st in scn.stages.items() if st.kind == "churned"), None)
    if alive is None or dead is None or scn.stages[alive].buy.propensity is False:
        raise ConfigError(
            [
                (
                    "stages",
                    f"{why}: a customer stage with repeat purchases scaled by propensity "
                    "and a churned stage",
                )
            ]
        )
    churn_p = next(
        (tr.p for d, tr in scn.stages[alive].to.items() if scn.stages[d].kind == "churned"), 0.0
    )
    buy_p = scn.stages[alive].buy.p
    if churn_p <= 0 or buy_p <= 0:
        raise ConfigError([(f"stages.{alive}", f"{why}: positive purchase and dropout rates")])
    prop, drop = seg.propensity, seg.dropout
    params = np.array(
        [prop.shape, 1 / (buy_p * prop.scale), drop.shape, 1 / (churn_p * drop.scale)]
    )
    return params, alive, dead, float(buy_p), float(churn_p)


@dataclass(frozen=True)
class LogState:
    """The customers of a log at a date; call it with a seed to draw a starting market."""

    params: np.ndarray
    summary: Summary
    alive_stage: str
    dead_stage: str
    buy_p: float
    churn_p: float
    as_of: str
    customers: int
    spend: SpendState | None = None
    repeat_value: np.ndarray | None = None
    start: str | None = None
    rho: float = 0.0

    def dated(self, scn: Scenario) -> Scenario:
        """Return ``scn`` with its calendar starting the day after ``as_of`` (day 0 then).

        Unchanged when the scenario has no seasonality or the log's times are day numbers.
        """
        if self.start is None or not scn.calendar.seasonal:
            return scn
        from lifesim.config import override

        return override(scn, {"calendar.start": self.start}, where="(--as-of)")

    def for_scenario(self, scn: Scenario) -> LogState:
        """Return the same customers under another parameter set (e.g. a draw of the fit)."""
        params, alive, dead, buy_p, churn_p = pareto_params(scn)
        return replace(
            self,
            params=params,
            alive_stage=alive,
            dead_stage=dead,
            buy_p=buy_p,
            churn_p=churn_p,
            spend=_spend_state(scn, self.repeat_value),
            rho=_rho(scn),
        )

    def __call__(self, seed: SeedLike) -> dict[str, np.ndarray]:
        """Draw each customer's state (from its own stream of ``seed``)."""
        rng = stream(seed, "from_log_state")
        return cutoff_state(
            self.params,
            self.summary,
            self.buy_p,
            self.churn_p,
            rng,
            self.alive_stage,
            self.dead_stage,
            self.spend,
            self.rho,
        )


def _rho(scn: Scenario) -> float:
    return float(customer_segment(scn).dropout_correlation)


def _spend_state(scn: Scenario, m: np.ndarray | None) -> SpendState | None:
    gg = spend_params(scn)
    if gg is None or m is None:
        return None
    return SpendState(gg[0], gg[1], m)


def state_from_log(
    scenario: Scenario,
    transactions: Any,
    as_of: Any,
    *,
    schema: Any = None,
    sep: str | None = None,
) -> LogState:
    """Prepare the customers of ``transactions`` at ``as_of`` for ``scenario``.

    Raises
    ------
    ConfigError
        A scenario whose customers do not follow the Pareto/NBD.
    DataError
        An unreadable log, an ``as_of`` outside it, no customer by then.
    """
    from lifesim.churn import prepare

    params, alive, dead, buy_p, churn_p = pareto_params(scenario)
    date_hint = isinstance(as_of, str) and not as_of.strip().lstrip("-").isdigit()
    log = prepare(transactions, schema=schema, sep=sep, date_hint=date_hint)
    day = log.parse_time(as_of, "as_of")
    if not log.first_day <= day <= log.last_day:
        raise DataError(
            f"as_of == {as_of!r} is outside the data: the log runs from "
            f"{log.format_day(log.first_day)} to {log.format_day(log.last_day)}"
        )
    table = customer_table(log, day, None)
    if not len(table.customers):
        raise DataError(f"as_of == {as_of!r}: no customer has bought by then")
    name = os.path.basename(str(transactions)) if not hasattr(transactions, "columns") else "log"
    return LogState(
        params,
        table.summary,
        alive,
        dead,
        buy_p,
        churn_p,
        f"{name} at {as_of}",
        len(table.customers),
        _spend_state(scenario, table.customers["repeat_value"].to_numpy()),
        table.customers["repeat_value"].to_numpy(),
        log.format_day(day + 1) if log.time_kind == "date" else None,
        _rho(scenario),
    )
