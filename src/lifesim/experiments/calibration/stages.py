"""Observed stage transitions: daily probabilities of moves between stages, from an event log.

Where a log records the stage each customer entered and when (CRM stage changes, from
``--events`` with ``--stage-col``), or cancellations (``--event-col`` values that mean churn),
the moves between stages are counted directly. Each customer's events up to the cutoff, in
time order, are a path through the stages: a customer is *at risk* of leaving a stage on each
day from entering it to the next event (or to the cutoff: censored). For each move ``a -> b``
the discrete-time maximum-likelihood estimate of its daily probability is

    p(a -> b) = moves(a -> b) / days at risk in a,

with the exact Poisson 95% interval of the count over the days at risk (the days of one
customer are not independent when people differ: the interval is then too narrow). A
cancellation with no stage of its own leaves the customer's last stage (or, without any stage
column, the generic ``customer`` state entered at the first purchase) for the scenario's
churned stage.

Moves between stages of the scenario are written into its ``stages.<a>.to.<b>.p`` (unscaled
by propensity: the fit is the average daily probability), except moves out of customer stages
into churned stages, which the Pareto/NBD sets together with its dropout heterogeneity: those
are reported beside the Pareto/NBD's mean dropout ``s / beta``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from lifesim.churn import TransactionLog
    from lifesim.config import Scenario

__all__ = ["fit_stage_transitions", "apply_transitions", "CUSTOMER"]

#: The state of a customer between the first purchase and a cancellation, without stages.
CUSTOMER = "customer"


def fit_stage_transitions(
    log: TransactionLog, cutoff: int, first_purchase: pd.Series, churned: str
) -> pd.DataFrame | None:
    """Count the observed moves between stages and their days at risk, up to ``cutoff``.

    Parameters
    ----------
    log : TransactionLog
        With events (``ev_*``): stage entries and/or churn events.
    cutoff : int
        Last day of the calibration period.
    first_purchase : Series
        First purchase day by customer position (the generic ``customer`` state starts there
        when the log has churn events but no stages).
    churned : str
        Name of the stage a churn event moves to.

    Returns
    -------
    DataFrame or None
        One row per observed move ``from_stage, to_stage``: ``moves``, ``days_at_risk``,
        ``p_per_day``, ``lower``, ``upper`` (95%); ``None`` when the log has no events.
    """
    has_stage = log.ev_stage is not None and bool((log.ev_stage >= 0).any())
    if not has_stage and not log.ev_churn.any():
        return None
    names = list(log.categories.get("stage", ()))
    keep = log.ev_day <= cutoff
    cust, day = log.ev_cust[keep], log.ev_day[keep]
    code = log.ev_stage[keep] if log.ev_stage is not None else np.full(len(cust), -1)
    churn = log.ev_churn[keep]
    label = np.array([*names, churned, ""], dtype=object)
    stage = np.where(churn, len(names), np.where(code >= 0, code, len(names) + 1))
    frame = pd.DataFrame({"cust": cust, "day": day, "stage": label[stage], "rank": 1 + churn})
    frame = frame[frame["stage"] != ""]
    if not has_stage:  # cancellations only: the customer state starts at the first purchase
        start = pd.DataFrame(
            {
                "cust": first_purchase.index.to_numpy(np.int64),
                "day": first_purchase.to_numpy(np.int64),
                "stage": CUSTOMER,
                "rank": 0,
            }
        )
        frame = pd.concat([start, frame], ignore_index=True)
    # by customer and day; on one day a churn event comes last
    frame = frame.sort_values(["cust", "day", "rank"], kind="stable", ignore_index=True)
    # drop repeated entries of the stage one is already in (e.g. a stage on every row)
    same = (frame["cust"] == frame["cust"].shift()) & (frame["stage"] == frame["stage"].shift())
    frame = frame[~same].reset_index(drop=True)
    last = (frame["cust"] != frame["cust"].shift(-1)).to_numpy()
    end = np.where(last, cutoff, frame["day"].shift(-1).fillna(cutoff).to_numpy())
    risk = np.clip(end - frame["day"].to_numpy(), 0, None)
    at_risk = pd.Series(risk).groupby(frame["stage"].to_numpy()).sum()
    moves = pd.DataFrame(
        {
            "from_stage": frame["stage"].to_numpy()[~last],
            "to_stage": frame["stage"].shift(-1).to_numpy()[~last],
        }
    )
    counts = moves.groupby(["from_stage", "to_stage"]).size().rename("moves").reset_index()
    if counts.empty:
        return None
    counts["days_at_risk"] = counts["from_stage"].map(at_risk).astype(float)
    n, t = counts["moves"].to_numpy(), counts["days_at_risk"].to_numpy()
    counts["p_per_day"] = n / t
    counts["lower"] = stats.chi2.ppf(0.025, 2 * n) / 2 / t
    counts["upper"] = stats.chi2.ppf(0.975, 2 * n + 2) / 2 / t
    return counts.sort_values(["from_stage", "to_stage"], ignore_index=True)


def apply_transitions(
    scn: Scenario, moves: pd.DataFrame, source: str, pareto_churn: float
) -> tuple[Scenario, pd.DataFrame, dict[tuple[str, ...], str], list[str]]:
    """Write the observed moves that belong to ``scn``'s stage graph into it.

    Returns the scenario, ``moves`` with a ``scenario`` column (the key path written, or why
    not), a comment per key path written, and the key paths written.

    A move the scenario cannot hold (e.g. the moves out of a stage could add up to more
    than 1 a day at the largest propensity, boost or dropout multiplier) is not written, and
    its ``scenario`` entry says why.
    """
    from lifesim.config import override
    from lifesim.errors import ConfigError

    values: dict[str, Any] = {}
    comments: dict[tuple[str, ...], str] = {}
    where = []
    for row in moves.itertuples():
        a, b = row.from_stage, row.to_stage
        pareto = a == CUSTOMER and b in scn.stages and scn.stages[b].kind == "churned"
        if pareto or (
            a in scn.stages
            and b in scn.stages
            and scn.stages[a].kind == "customer"
            and scn.stages[b].kind == "churned"
        ):
            where.append(
                "not written: the Pareto/NBD sets this move with its dropout heterogeneity "
                f"(mean s / beta = {pareto_churn:.4g} a day)"
            )
            continue
        if a not in scn.stages or b not in scn.stages:
            missing = [s for s in (a, b) if s not in scn.stages]
            where.append(f"not written: no stage {', '.join(map(repr, missing))} in the scenario")
            continue
        if b not in scn.stages[a].to:
            where.append(f"not written: the scenario has no move {a} -> {b}")
            continue
        path = f"stages.{a}.to.{b}"
        values[f"{path}.p"] = float(row.p_per_day)
        values[f"{path}.propensity"] = False
        comments[("stages", a, "to", b, "p")] = (
            f"observed in {source}: {row.moves:,} moves / {row.days_at_risk:,.0f} days at risk "
            f"in {a}; 95% [{row.lower:.4g}, {row.upper:.4g}] (unscaled by propensity)"
        )
        where.append(f"{path}.p")
    try:
        out = override(scn, values, where="(observed stage transitions)") if values else scn
    except ConfigError:  # write them one at a time; those the engine cannot hold are said so
        out = scn
        for i, w in enumerate(where):
            if w.startswith("not written"):
                continue
            one = {w: values[w], w.removesuffix(".p") + ".propensity": False}
            try:
                out = override(out, one, where="(observed stage transitions)")
            except ConfigError as exc:
                why = " ".join(str(exc).split())
                where[i] = f"not written: the scenario cannot hold it ({why})"
                key = tuple(w.split("."))
                comments.pop(key, None)
    written = [w for w in where if not w.startswith("not written")]
    return out, moves.assign(scenario=where), comments, written
