"""Flows between stages by cause, counted from a run's event log.

A *flow* is a number of moves from one stage to another with one cause: ``organic`` (the stage
graph's own hazards) or the name of the tactic, campaign or support desk whose effect was on
the move when it happened (the event log's ``cause``). Counting is one :func:`numpy.bincount`
over ``(from, to, cause)`` codes, so it costs little even for millions of moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lifesim._checks import check_choice
from lifesim.errors import LifesimError

__all__ = ["NoEventLogError", "flow_table", "start_counts", "matrix"]

#: How each ``normalize`` option of :func:`matrix` divides the move counts.
NORMALIZE = ("moves", "daily")


class NoEventLogError(LifesimError, ValueError):
    """A flow view was asked of a run made without its event log."""


def flow_table(events: pd.DataFrame, stage_names: Sequence[str]) -> pd.DataFrame:
    """Count the moves of an event log by ``(from_stage, to_stage, cause)``.

    Parameters
    ----------
    events : DataFrame
        Event log with categorical ``from_stage``, ``to_stage`` (categories: the stages) and
        ``cause`` (categories: the run's causes) columns, as
        :attr:`lifesim.engine.SimulationResult.events`.
    stage_names : sequence of str
        The stages, in graph order.

    Returns
    -------
    DataFrame
        One row per ``(from_stage, to_stage, cause)`` that happened at least once, sorted by
        stage order then cause order: ``from_stage``, ``to_stage`` (categorical, the stages in
        graph order), ``cause`` (categorical, the run's causes) and ``moves`` (int64).
    """
    stages = list(stage_names)
    causes = list(events["cause"].cat.categories)
    n_s, n_c = len(stages), max(len(causes), 1)
    frm = events["from_stage"].cat.codes.to_numpy().astype(np.int64)
    to = events["to_stage"].cat.codes.to_numpy().astype(np.int64)
    cause = events["cause"].cat.codes.to_numpy().astype(np.int64)
    counts = np.bincount((frm * n_s + to) * n_c + cause, minlength=n_s * n_s * n_c)
    nz = np.flatnonzero(counts)
    f, rest = np.divmod(nz, n_s * n_c)
    t, c = np.divmod(rest, n_c)
    return pd.DataFrame(
        {
            "from_stage": pd.Categorical.from_codes(f, categories=stages),
            "to_stage": pd.Categorical.from_codes(t, categories=stages),
            "cause": pd.Categorical.from_codes(c, categories=causes),
            "moves": counts[nz].astype(np.int64),
        }
    )


def _net(flows: pd.DataFrame, stages: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the moves into and out of each stage (arrays in stage order)."""
    idx = pd.Index(stages)
    w = flows["moves"].to_numpy()
    into = np.bincount(idx.get_indexer(flows["to_stage"]), weights=w, minlength=len(stages))
    out = np.bincount(idx.get_indexer(flows["from_stage"]), weights=w, minlength=len(stages))
    return into, out


def start_counts(flows: pd.DataFrame, end_counts: pd.Series) -> pd.Series:
    """People per stage at the start of the horizon, from the end counts and the flows.

    Every person is in one stage at a time and each move takes one person out of one stage
    and into another, so ``start = end - inflows + outflows`` per stage.

    Parameters
    ----------
    flows : DataFrame
        As returned by :func:`flow_table`.
    end_counts : Series
        People per stage at the end (index: the stages).

    Returns
    -------
    Series
        People per stage before the first day (int64, index: the stages).
    """
    stages = [str(s) for s in end_counts.index]
    into, out = _net(flows, stages)
    start = end_counts.to_numpy().astype(np.float64) - into + out
    return pd.Series(np.rint(start).astype(np.int64), index=end_counts.index, name="people")


def matrix(
    flows: pd.DataFrame,
    stages: Sequence[str],
    normalize: str | None = None,
    stage_days: pd.Series | None = None,
) -> pd.DataFrame:
    """Transition matrix: rows are the stage moved from, columns the stage moved to.

    Parameters
    ----------
    flows : DataFrame
        ``from_stage``, ``to_stage`` and ``moves`` columns (causes are summed over).
    stages : sequence of str
        Row and column order.
    normalize : {None, "moves", "daily"}
        ``None``: move counts (diagonal 0: staying is not a move). ``"moves"``: each row
        divided by the moves out of its stage (where people went when they left; NaN for a
        stage nobody left). ``"daily"``: one-day transition probabilities, the moves divided
        by the person-days spent in the stage (``stage_days``), with the probability of
        staying on the diagonal, so rows sum to 1 (NaN for a stage nobody was in).
    stage_days : Series, optional
        Person-days per stage (index: the stages); required by ``"daily"``.

    Returns
    -------
    DataFrame
        Index ``from_stage``, columns ``to_stage``, both every stage in ``stages``.
    """
    names = list(stages)
    check_choice("normalize", normalize, (None, *NORMALIZE))
    idx = pd.Index(names)
    n = len(names)
    f = idx.get_indexer(flows["from_stage"])
    t = idx.get_indexer(flows["to_stage"])
    w = flows["moves"].to_numpy().astype(np.float64)
    m = np.bincount(f * n + t, weights=w, minlength=n * n).reshape(n, n)
    if normalize is None:
        data = m if (np.rint(m) != m).any() else m.astype(np.int64)
    elif normalize == "moves":
        rows = m.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            data = np.where(rows > 0, m / rows, np.nan)
    else:
        if stage_days is None:
            raise ValueError("normalize='daily' needs stage_days (person-days per stage)")
        days = stage_days.reindex(names).to_numpy().astype(np.float64)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            data = np.where(days > 0, m / days, np.nan)
        np.fill_diagonal(data, 1.0 - np.nansum(data, axis=1))
        data[(days <= 0).ravel()] = np.nan
    return pd.DataFrame(
        data,
        index=pd.Index(names, name="from_stage"),
        columns=pd.Index(names, name="to_stage"),
    )
