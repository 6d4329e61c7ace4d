"""The result of one simulation run: DataFrames, a summary and a run folder."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lifesim._io import atomic_dir
from lifesim._version import __version__
from lifesim.config import Scenario, dump_scenario
from lifesim.engine.flows import NoEventLogError, flow_table, matrix, start_counts
from lifesim.model import KIND_CODES

if TYPE_CHECKING:  # pragma: no cover
    from lifesim.engine.core import Simulation

__all__ = ["SimulationResult", "CHURN_CONVENTION"]

CHURN_CONVENTION = (
    "cohort churn: of the people who were customers at any time in the horizon "
    "(reached a 'customer' stage), the share in a 'churned' stage at the end"
)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Everything one run produced.

    Attributes
    ----------
    scenario : Scenario
        The resolved scenario (overrides applied).
    seed : int
        Root entropy of the run (pass it back as ``seed`` to reproduce the run).
    customers, days : int
        Market size and horizon.
    stage_names : tuple of str
    stage_kinds : tuple of str
    events : DataFrame
        Event log: ``person, day, from_stage, to_stage, cause``.
    purchases : DataFrame
        ``person, day, amount, cause``.
    stage_counts : DataFrame
        People per stage at the end of each day (index ``day``); rows sum to ``customers``.
    people : DataFrame
        One row per person (segment, propensity, final stage, purchases, revenue, ...).
    ledger : DataFrame
        Cost ledger: ``day, period, item, kind, units, cost``.
    support : DataFrame or None
        Daily support figures (``day, opened, resolved, backlog``) when support is modelled.
    started_at : str
        ISO time the run started (UTC).
    elapsed_s : float
        Wall time of the run.
    strategy : str
        Name of the marketing strategy (``"none"`` without marketing).
    tactics : DataFrame
        Per tactic: channel, group, mode, contacts, offers issued and redeemed, referrals, cost.
    customer_snapshots : DataFrame
        Who was a customer at the end of each budget period: index ``person``, one boolean
        column per period end day (for the period churn formula).
    events_recorded : bool
        Whether the run kept its event log (``record_events=True``, the default). Without it
        ``events`` is empty and the flow views (:meth:`flows`, :meth:`transition_matrix`)
        refuse to answer.
    """

    scenario: Scenario
    seed: int
    customers: int
    days: int
    stage_names: tuple[str, ...]
    stage_kinds: tuple[str, ...]
    events: pd.DataFrame
    purchases: pd.DataFrame
    stage_counts: pd.DataFrame
    people: pd.DataFrame
    ledger: pd.DataFrame
    support: pd.DataFrame | None
    started_at: str
    elapsed_s: float
    strategy: str = "none"
    tactics: pd.DataFrame | None = None
    customer_snapshots: pd.DataFrame | None = None
    events_recorded: bool = True

    @classmethod
    def from_simulation(cls, sim: Simulation) -> SimulationResult:
        """Collect the tables of a finished :class:`~lifesim.engine.Simulation`."""
        frames = sim.recorder.frames(sim.graph.names, sim.causes)
        people = sim.pop.to_pandas(sim.graph, sim.segments)
        acq = sim.pop.acquired_by
        people["acquired_by"] = pd.Categorical.from_codes(
            np.where(acq < 0, -1, acq), categories=sim.causes
        )
        kinds = {v: k for k, v in KIND_CODES.items()}
        n = sim.n
        snaps = pd.DataFrame(
            {d: np.unpackbits(b, count=n).astype(bool) for d, b in sim.recorder.snapshots}
        )
        snaps.index.name = "person"
        survey = sim.stream("survey").normal(0.0, 1.5, n)
        score = np.clip(np.rint(10 * people["satisfaction"].to_numpy() + survey), 0, 10)
        people["nps_score"] = score.astype(np.int8)
        if sim._arrived is not None:  # -1: in the market from the start
            per_day = np.diff(sim._arrived)
            days = np.repeat(np.arange(sim.days, dtype=np.int16), per_day)
            people["arrival_day"] = np.concatenate([np.full(sim.n0, -1, np.int16), days])
        mk = sim.marketing
        ledger = sim.ledger.to_pandas()
        cost = ledger.groupby("item")["cost"].sum() if len(ledger) else pd.Series(dtype=float)
        tactics = pd.DataFrame(
            [
                {
                    "tactic": t,
                    "channel": ct.spec.channel or t,
                    "group": ct.group,
                    "mode": ct.spec.mode,
                    "used": t in mk.used,
                    **mk.stats[t],
                    "cost": float(cost.get(t, 0.0)),
                }
                for t, ct in mk.tactics.items()
            ],
            columns=[
                "tactic",
                "channel",
                "group",
                "mode",
                "used",
                "contacts",
                "issued",
                "redeemed",
                "referrals",
                "cost",
            ],
        )
        support = None
        if sim.desk is not None:
            support = pd.DataFrame(sim.desk.daily, columns=["day", "opened", "resolved", "backlog"])
        return cls(
            scenario=sim.scenario,
            seed=int(sim.seed_seq.entropy),
            customers=sim.n,
            days=sim.days,
            stage_names=tuple(sim.graph.names),
            stage_kinds=tuple(kinds[int(k)] for k in sim.graph.kind),
            events=frames["events"],
            purchases=frames["purchases"],
            stage_counts=frames["stage_counts"],
            people=people,
            ledger=ledger,
            support=support,
            started_at=sim.started_at.isoformat(timespec="seconds"),
            elapsed_s=sim.elapsed,
            strategy=mk.strategy.name,
            tactics=tactics,
            customer_snapshots=snaps,
            events_recorded=bool(sim.recorder.record_events),
        )

    # -- headline figures ----------------------------------------------------------------
    @property
    def final_counts(self) -> dict[str, int]:
        """People in each stage at the end of the horizon."""
        row = self.stage_counts.iloc[-1]
        return {s: int(row[s]) for s in self.stage_names}

    @property
    def revenue_total(self) -> float:
        """Total order value over the horizon."""
        return float(self.purchases["amount"].sum())

    @property
    def marketing_cost(self) -> float:
        """Total spend recorded in the ledger."""
        return float(self.ledger["cost"].sum()) if len(self.ledger) else 0.0

    @property
    def churn_rate(self) -> float:
        """Cohort churn rate (see :data:`CHURN_CONVENTION`); NaN when nobody was a customer."""
        ever = self.people["first_customer_day"].to_numpy() >= 0
        if not ever.any():
            return float("nan")
        churned = {
            s for s, k in zip(self.stage_names, self.stage_kinds, strict=True) if k == "churned"
        }
        end = self.people["stage"].isin(churned).to_numpy()
        return float((end & ever).sum() / ever.sum())

    # -- stage flows -----------------------------------------------------------------------
    def _need_events(self, what: str) -> None:
        if not self.events_recorded:
            raise NoEventLogError(
                f"{what} needs the event log, and this run was made without one "
                "(record_events=False, or `lifesim simulate --no-events`); run it again with "
                "record_events=True (the default): the same seed gives the same run"
            )

    def flows(self) -> pd.DataFrame:
        """Return the moves between stages over the horizon, by cause.

        The cause of a move is ``organic`` (the stage graph's own hazards) or the name of the
        tactic, campaign or support desk whose effect was on the move when it happened (the
        strongest, when several were). This is attribution, not causation: a move made under
        a tactic's effect counts for the tactic even if it would have happened without it.
        What a strategy changes is the difference of flows between two runs on the same seed
        (:meth:`lifesim.experiments.ComparisonResult.flow_difference`).

        Returns
        -------
        DataFrame
            One row per ``(from_stage, to_stage, cause)`` that happened at least once, in stage
            order then cause order: ``from_stage``, ``to_stage``, ``cause`` (categoricals) and
            ``moves`` (int64). Summed over causes and stages it is ``len(self.events)``.

        Raises
        ------
        NoEventLogError
            When the run was made with ``record_events=False``.

        See Also
        --------
        transition_matrix : the same moves as a from x to matrix.

        Examples
        --------
        >>> import lifesim
        >>> res = lifesim.simulate(seed=1, customers=500, days=30, strategy="stage_focused")
        >>> f = res.flows()
        >>> list(f.columns)
        ['from_stage', 'to_stage', 'cause', 'moves']
        >>> int(f["moves"].sum()) == len(res.events)
        True
        """
        self._need_events("flows()")
        return flow_table(self.events, self.stage_names)

    def start_counts(self) -> pd.Series:
        """People per stage before the first day (the end counts less the net flows).

        Raises
        ------
        NoEventLogError
            When the run was made with ``record_events=False``.
        """
        self._need_events("start_counts()")
        return start_counts(self.flows(), self.stage_counts.iloc[-1])

    def transition_matrix(self, normalize: str | None = None) -> pd.DataFrame:
        """Return the moves between stages as a matrix (rows: stage left; columns: entered).

        Parameters
        ----------
        normalize : {None, "moves", "daily"}
            ``None``: move counts over the horizon (diagonal 0). ``"moves"``: each row
            divided by the moves out of its stage: where people went when they left (NaN for
            a stage nobody left). ``"daily"``: one-day transition probabilities: moves divided
            by the person-days spent in the stage at the start of a day, the probability of
            staying on the diagonal; rows sum to 1 (NaN for a stage nobody was in).

        Returns
        -------
        DataFrame
            Index ``from_stage``, columns ``to_stage``: every stage, in graph order.

        Raises
        ------
        NoEventLogError
            When the run was made with ``record_events=False``.
        """
        self._need_events("transition_matrix()")
        flows = self.flows()
        days = None
        if normalize == "daily":
            counts = self.stage_counts
            start = start_counts(flows, counts.iloc[-1])
            days = start + counts.iloc[:-1].sum(axis=0).astype(np.int64)
        return matrix(flows, self.stage_names, normalize, days)

    def to_dict(self) -> dict[str, Any]:
        """Headline figures as plain JSON-able data (what ``--format json`` prints)."""
        counts = self.final_counts
        return {
            "scenario": self.scenario.name,
            "strategy": self.strategy,
            "seed": self.seed,
            "customers": self.customers,
            "days": self.days,
            "stage_counts": counts,
            "stage_shares": {s: c / self.customers for s, c in counts.items()},
            "revenue_total": self.revenue_total,
            "purchases": int(len(self.purchases)),
            "moves": int(len(self.events)),
            "marketing_cost": self.marketing_cost,
            "churn_rate": None if np.isnan(self.churn_rate) else self.churn_rate,
            "churn_rate_convention": CHURN_CONVENTION,
            "ever_customers": int((self.people["first_customer_day"] >= 0).sum()),
            "elapsed_s": round(self.elapsed_s, 3),
            "lifesim_version": __version__,
        }

    def to_pandas(self) -> pd.DataFrame:
        """Daily stage counts (one row per day, one column per stage)."""
        return self.stage_counts.copy()

    def stage_table(self) -> pd.DataFrame:
        """Return the final people and share per stage."""
        counts = self.final_counts
        return pd.DataFrame(
            {
                "kind": list(self.stage_kinds),
                "people": list(counts.values()),
                "share": [c / self.customers for c in counts.values()],
            },
            index=pd.Index(self.stage_names, name="stage"),
        )

    def summary(self) -> str:
        """Text summary: final stage shares, revenue, churn rate and their conventions."""
        d = self.to_dict()
        lines = [
            f"lifesim run of {self.scenario.name!r}: {self.customers:,} people x {self.days} days,"
            f" seed {self.seed}, strategy {self.strategy!r}",
            "",
            f"{'stage':<16}{'kind':<10}{'people':>12}{'share':>9}",
        ]
        for stage, row in self.stage_table().iterrows():
            lines.append(f"{stage:<16}{row['kind']:<10}{row['people']:>12,}{row['share']:>9.2%}")
        churn = (
            "n/a (nobody became a customer)"
            if d["churn_rate"] is None
            else f"{d['churn_rate']:.2%}"
        )
        lines += [
            "",
            f"revenue          {d['revenue_total']:,.2f} from {d['purchases']:,} orders",
            f"marketing cost   {d['marketing_cost']:,.2f}",
            f"churn rate       {churn} ({CHURN_CONVENTION})",
            f"customers ever   {d['ever_customers']:,}",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"SimulationResult(scenario={self.scenario.name!r}, customers={self.customers}, "
            f"days={self.days}, seed={self.seed})"
        )

    def _repr_html_(self) -> str:
        head = html.escape(
            f"lifesim run of {self.scenario.name!r}: {self.customers:,} people x {self.days} "
            f"days, seed {self.seed}"
        )
        d = self.to_dict()
        churn = "n/a" if d["churn_rate"] is None else f"{d['churn_rate']:.2%}"
        return (
            f"<div><p><b>{head}</b></p>{self.stage_table().to_html(float_format='{:.4f}'.format)}"
            f"<p>revenue {d['revenue_total']:,.2f}; marketing cost {d['marketing_cost']:,.2f}; "
            f"churn rate {churn} <small>({html.escape(CHURN_CONVENTION)})</small></p></div>"
        )

    def save(self, out: str | Path, *, overwrite: bool = False, inputs: Iterable = ()) -> Path:
        """Write the run folder atomically.

        ``out`` must be new, empty, or (with ``overwrite=True``) an earlier lifesim run folder
        holding only lifesim's files; anything else is refused (see
        :func:`lifesim._io.check_out_dir`).

        Contents: ``scenario.yaml`` (resolved), ``manifest.json`` (version, seed, start time),
        ``summary.json``, and Parquet tables ``events``, ``purchases``, ``stage_counts``,
        ``people``, ``ledger``, ``tactics``, ``flows`` (:meth:`flows`, when the run kept its
        event log) and ``support`` (when support is modelled).

        Returns
        -------
        Path
            The folder.
        """
        out = Path(out)
        with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            (tmp / "scenario.yaml").write_text(dump_scenario(self.scenario), encoding="utf-8")
            manifest = {
                "lifesim_version": __version__,
                "seed": self.seed,
                "started_at": self.started_at,
                "elapsed_s": self.elapsed_s,
                "customers": self.customers,
                "days": self.days,
                "strategy": self.strategy,
                "tables": ["events", "purchases", "stage_counts", "people", "ledger", "tactics"]
                + (["flows"] if self.events_recorded else [])
                + (["support"] if self.support is not None else []),
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            (tmp / "summary.json").write_text(
                json.dumps(self.to_dict(), indent=2), encoding="utf-8"
            )
            self.events.to_parquet(tmp / "events.parquet", index=False)
            self.purchases.to_parquet(tmp / "purchases.parquet", index=False)
            self.stage_counts.reset_index().to_parquet(tmp / "stage_counts.parquet", index=False)
            self.people.to_parquet(tmp / "people.parquet", index=False)
            self.ledger.to_parquet(tmp / "ledger.parquet", index=False)
            if self.tactics is not None:
                self.tactics.to_parquet(tmp / "tactics.parquet", index=False)
            if self.events_recorded:
                self.flows().to_parquet(tmp / "flows.parquet", index=False)
            if self.support is not None:
                self.support.to_parquet(tmp / "support.parquet", index=False)
        return out
