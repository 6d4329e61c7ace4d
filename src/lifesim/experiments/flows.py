"""Stage flows of a comparison: per-run counts, means over replications, paired differences.

Each run of a comparison contributes its moves by ``(from_stage, to_stage, cause)`` (counted
from its event log by :func:`lifesim.engine.flows.flow_table`, a few dozen rows), so the
comparison keeps flow counts without keeping any event log. Replications are paired by seed
(common random numbers), so a difference between two strategies is a paired difference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from lifesim._checks import check_choice
from lifesim.engine.flows import matrix as flow_matrix
from lifesim.errors import ConfigError, LifesimError

__all__ = ["flow_counts_table", "flow_means", "flow_difference", "KEYS", "ALL_CAUSES"]

#: The columns that name a flow.
KEYS = ["from_stage", "to_stage", "cause"]


def flow_counts_table(runs: Sequence, stages: Sequence[str]) -> pd.DataFrame:
    """Stack the per-run flow tables of sorted runs into one long table.

    Parameters
    ----------
    runs : sequence of RunSummary
        Runs in their final order (replication, then strategy); runs without flows
        (``flows is None``) are skipped.
    stages : sequence of str
        The stages, in graph order.

    Returns
    -------
    DataFrame
        ``replication, strategy, from_stage, to_stage, cause, moves``: one row per flow that
        happened in a run. Stages are categoricals in graph order; causes a categorical with
        ``organic`` first, then in order of first appearance.
    """
    parts = []
    for r in runs:
        if r.flows is None:
            continue
        f = pd.DataFrame(
            {
                "replication": np.full(len(r.flows), r.replication, dtype=np.int64),
                "strategy": r.strategy,
                "from_stage": r.flows["from_stage"].astype(str).to_numpy(),
                "to_stage": r.flows["to_stage"].astype(str).to_numpy(),
                "cause": r.flows["cause"].astype(str).to_numpy(),
                "moves": r.flows["moves"].to_numpy().astype(np.int64),
            }
        )
        parts.append(f)
    cols = ["replication", "strategy", *KEYS, "moves"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    seen = list(dict.fromkeys(["organic", *out["cause"]]))
    out["from_stage"] = pd.Categorical(out["from_stage"], categories=list(stages))
    out["to_stage"] = pd.Categorical(out["to_stage"], categories=list(stages))
    out["cause"] = pd.Categorical(out["cause"], categories=seen)
    return out[cols]


#: The ``cause`` of flows summed over causes (``by_cause=False``).
ALL_CAUSES = "(all causes)"


def _cube(
    counts: pd.DataFrame, strategies: Sequence[str], replications: int, by_cause: bool = True
) -> tuple[pd.DataFrame, np.ndarray]:
    """Flow keys (sorted) and moves as an array [strategy, replication, key]."""
    if not len(counts):
        raise LifesimError(
            "this comparison has no flow counts (it was made from runs without an event log, "
            "or by an older lifesim); run compare again to get them"
        )
    if not by_cause:
        counts = counts.assign(cause=pd.Categorical.from_codes([0] * len(counts), [ALL_CAUSES]))
    keys = counts[KEYS].drop_duplicates()
    keys = keys.assign(
        _f=keys["from_stage"].cat.codes, _t=keys["to_stage"].cat.codes, _c=keys["cause"].cat.codes
    ).sort_values(["_f", "_t", "_c"])[KEYS]
    keys = keys.reset_index(drop=True)
    k = pd.MultiIndex.from_frame(keys.astype(str)).get_indexer(
        pd.MultiIndex.from_frame(counts[KEYS].astype(str))
    )
    s = pd.Index(list(strategies)).get_indexer(counts["strategy"])
    ok = s >= 0
    cube = np.zeros((len(strategies), replications, len(keys)))
    np.add.at(cube, (s[ok], counts["replication"].to_numpy()[ok], k[ok]), counts["moves"][ok])
    return keys, cube


def _stats(x: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    """Mean, sd, standard error and t CI over axis 0."""
    n = x.shape[0]
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1) if n > 1 else np.full(x.shape[1:], np.nan)
    se = sd / np.sqrt(n)
    h = float(stats.t.ppf(1 - alpha / 2, n - 1)) * se if n > 1 else np.nan
    return {"mean": mean, "sd": sd, "se": se, "ci_low": mean - h, "ci_high": mean + h}


def flow_means(
    counts: pd.DataFrame,
    strategies: Sequence[str],
    replications: int,
    alpha: float = 0.05,
    by_cause: bool = True,
) -> pd.DataFrame:
    """Mean moves per replication of each flow, per strategy, with a t interval.

    Parameters
    ----------
    counts : DataFrame
        As returned by :func:`flow_counts_table`.
    strategies : sequence of str
        Strategies to summarise, in this order.
    replications : int
        Number of replications (a run in which a flow did not happen counts 0 for it).
    alpha : float
        The intervals are ``1 - alpha`` two-sided t intervals over replications.
    by_cause : bool
        ``False``: sum each ``(from_stage, to_stage)`` over its causes (``cause`` is then
        ``"(all causes)"``).

    Returns
    -------
    DataFrame
        ``strategy, from_stage, to_stage, cause, mean, sd, se, ci_low, ci_high, n``: one row
        per strategy and flow that happened in at least one of its replications. ``se`` is
        the Monte Carlo standard error of the mean (``sd / sqrt(n)``).
    """
    keys, cube = _cube(counts, strategies, replications, by_cause)
    rows = []
    for i, s in enumerate(strategies):
        x = cube[i]
        seen = (x != 0).any(axis=0)
        st = _stats(x[:, seen], alpha)
        part = keys[seen].reset_index(drop=True)
        part.insert(0, "strategy", s)
        for name, v in st.items():
            part[name] = v
        part["n"] = replications
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


def flow_difference(
    counts: pd.DataFrame,
    a: str,
    b: str,
    replications: int,
    alpha: float = 0.05,
    by_cause: bool = True,
) -> pd.DataFrame:
    """Paired difference ``a - b`` of each flow's moves per replication.

    Replication ``r`` of both strategies ran on the same seed (common random numbers), so the
    difference is taken within each replication and its interval is a paired t interval.

    Parameters
    ----------
    counts : DataFrame
        As returned by :func:`flow_counts_table`.
    a, b : str
        The strategies: ``a - b``.
    replications : int
        Number of replications.
    alpha : float
        The intervals are ``1 - alpha`` two-sided.
    by_cause : bool
        ``False``: sum each ``(from_stage, to_stage)`` over its causes first (``cause`` is
        then ``"(all causes)"``): what changed between stages, whoever is credited with it.

    Returns
    -------
    DataFrame
        ``a, b, from_stage, to_stage, cause, mean_a, mean_b, diff, se, ci_low, ci_high,
        p_value, n``: one row per flow that happened in a replication of ``a`` or ``b``.
        ``p_value``: paired t-test of H0 mean difference 0 (two-sided); 1 when every
        replication has the same count under both, 0 when the difference is the same
        non-zero number in every replication.
    """
    keys, cube = _cube(counts, [a, b], replications, by_cause)
    seen = (cube != 0).any(axis=(0, 1))
    xa, xb = cube[0][:, seen], cube[1][:, seen]
    d = xa - xb
    st = _stats(d, alpha)
    n = replications
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.abs(st["mean"]) / st["se"]
    p = 2 * stats.t.sf(tstat, n - 1) if n > 1 else np.full(len(tstat), np.nan)
    p = np.where(st["se"] > 0, p, np.where(st["mean"] == 0, 1.0, 0.0))
    out = keys[seen].reset_index(drop=True)
    out.insert(0, "b", b)
    out.insert(0, "a", a)
    out["mean_a"] = xa.mean(axis=0)
    out["mean_b"] = xb.mean(axis=0)
    out["diff"] = st["mean"]
    out["se"] = st["se"]
    out["ci_low"] = st["ci_low"]
    out["ci_high"] = st["ci_high"]
    out["p_value"] = p
    out["n"] = n
    return out


class FlowViews:
    """Stage-flow views of a comparison (mixed into :class:`ComparisonResult`).

    Reads the result's ``flow_counts``, ``strategies``, ``counterfactual``, ``baseline``,
    ``replications``, ``alpha`` and ``scenario``.
    """

    @property
    def _flow_strategies(self) -> list[str]:
        extra = [self.counterfactual] if self.counterfactual not in self.strategies else []
        have = set(self.flow_counts["strategy"]) if len(self.flow_counts) else set()
        return [s for s in (*self.strategies, *extra) if s in have]

    def flows(self, *, by_cause: bool = True) -> pd.DataFrame:
        """Return the mean moves per replication between stages, by cause, per strategy.

        Causes are ``organic`` or the tactic, campaign or support desk whose effect was on a
        move (attribution, not causation: see :meth:`flow_difference` for what a strategy
        changes). The extra no-marketing run, when compare made one, is included under its
        label ``"(no marketing)"``.

        Parameters
        ----------
        by_cause : bool
            ``False``: one row per ``(from_stage, to_stage)``, summed over causes (``cause``
            is then ``"(all causes)"``).

        Returns
        -------
        DataFrame
            ``strategy, from_stage, to_stage, cause, mean, sd, se, ci_low, ci_high, n``: one
            row per strategy and flow that happened in one of its replications; ``se`` is the
            Monte Carlo standard error of the mean, the CI a ``1 - alpha`` t interval over
            the ``n`` replications.

        Examples
        --------
        >>> from lifesim.experiments import compare
        >>> res = compare(
        ...     strategies="none,stage_focused", replications=2, customers=300, days=20, seed=1
        ... )
        >>> f = res.flows()
        >>> sorted(f["strategy"].unique())
        ['none', 'stage_focused']
        """
        return flow_means(
            self.flow_counts, self._flow_strategies, self.replications, self.alpha, by_cause
        )

    def flow_difference(
        self, a: str, b: str | None = None, *, by_cause: bool = True
    ) -> pd.DataFrame:
        """Return the paired difference ``a - b`` of the moves of each flow per replication.

        Replication ``r`` of every strategy ran on the same seed, so this is what choosing
        ``a`` over ``b`` changes in the flows, with the noise of the two runs mostly
        cancelled (a paired t interval over replications).

        Parameters
        ----------
        a : str
            A compared strategy (or ``"(no marketing)"`` when compare ran one).
        b : str, optional
            The strategy subtracted (default: the baseline).
        by_cause : bool
            ``False``: sum each ``(from_stage, to_stage)`` over its causes first: what
            changed between stages, whoever is credited with the moves.

        Returns
        -------
        DataFrame
            ``a, b, from_stage, to_stage, cause, mean_a, mean_b, diff, se, ci_low, ci_high,
            p_value, n``: one row per flow that happened under ``a`` or ``b``; ``p_value`` is
            the paired t-test's (H0: no difference, two-sided), unadjusted.

        Raises
        ------
        ConfigError
            When ``a`` or ``b`` is not a strategy of this comparison.
        """
        b = self.baseline if b is None else b
        known = self._flow_strategies
        for name, v in (("a", a), ("b", b)):
            check_choice(name, v, known)
        if a == b:
            others = ", ".join(repr(s) for s in known if s != a)
            if not others:  # a comparison of one strategy has no pair (was "allowed: " alone)
                others = "none: this comparison has one strategy; compare two or more"
            raise ConfigError([("b", f"must differ from a ({a!r}); allowed: {others}")])
        return flow_difference(self.flow_counts, a, b, self.replications, self.alpha, by_cause)

    def transition_matrix(self, strategy: str, normalize: str | None = None) -> pd.DataFrame:
        """Return the mean moves per replication between stages (rows: left; columns: entered).

        Parameters
        ----------
        strategy : str
            A compared strategy (or ``"(no marketing)"`` when compare ran one).
        normalize : {None, "moves"}
            ``None``: mean moves per replication. ``"moves"``: each row divided by the moves
            out of its stage: where people went when they left (NaN for a stage nobody left).

        Returns
        -------
        DataFrame
            Index ``from_stage``, columns ``to_stage``: every stage of the scenario.
        """
        check_choice("strategy", strategy, self._flow_strategies)
        check_choice("normalize", normalize, (None, "moves"))
        f = self.flows(by_cause=False)
        f = f[f["strategy"] == strategy].rename(columns={"mean": "moves"})
        return flow_matrix(f, self.scenario.stage_names, normalize)
