"""The ``experiment:`` block of a scenario: an A/B test run inside the simulator.

Example
-------
.. code-block:: yaml

    experiment:
      control: control
      arms:
        control: {strategy: none, share: 0.5}
        treatment: {strategy: stage_focused, share: 0.5}
      start: 30            # assignment day (days before it are the pre-period)
      duration: 90         # days the arms get their own marketing (default: to the horizon)
      metrics:
        converted_14d: {kind: converted, within: 14}   # within 14 days of assignment
        revenue_90: {kind: revenue, by: 90}              # from assignment to day 90
        retained_180: {kind: retained, by: 180}          # in a customer stage at day 180
        clv: {kind: profit}                              # margin x revenue - cost, to the horizon

Cross-field rules (known strategies, shares summing to 1, windows inside the horizon) are
checked by :func:`check_experiment`, which :func:`lifesim.config.check_scenario` calls.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from lifesim import _limits

__all__ = [
    "METRIC_KINDS",
    "RESERVED_COLUMNS",
    "ExperimentArm",
    "ExperimentMetric",
    "Design",
    "Experiment",
    "check_experiment",
]

#: Metric kinds, what they measure per person, and whether they are 0/1 (proportions).
METRIC_KINDS: dict[str, tuple[str, bool]] = {
    "converted": ("first became a customer inside the window", True),
    "purchased": ("made at least one purchase inside the window", True),
    "retained": ("in a customer stage (not churned, not a prospect) at the window's end", True),
    "orders": ("purchases inside the window", False),
    "revenue": ("order value inside the window", False),
    "cost": ("marketing cost attributed to the person inside the window", False),
    "profit": ("margin x revenue - attributed marketing cost inside the window", False),
}

#: Columns of the experiment dataset that metric names may not take.
RESERVED_COLUMNS = (
    "person",
    "arm",
    "cluster",
    "segment",
    "stage_at_start",
    "pre_customer",
    "pre_orders",
    "pre_revenue",
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _share(v: float) -> float:
    if not 0.0 < v <= 1.0:
        raise ValueError(f"must be in (0, 1], got {v:g}")
    return v


def _positive_int(v: int) -> int:
    if v < 1:
        raise ValueError(f"must be >= 1, got {v}")
    return v


def _nonneg_int(v: int) -> int:
    if v < 0:
        raise ValueError(f"must be >= 0, got {v}")
    return v


def _alpha(v: float) -> float:
    if not 0.0 < v < 1.0:
        raise ValueError(f"must be in (0, 1), got {v:g}")
    return v


Share = Annotated[float, AfterValidator(_share)]
PositiveInt = Annotated[int, AfterValidator(_positive_int)]
NonNegativeInt = Annotated[int, AfterValidator(_nonneg_int)]
Alpha = Annotated[float, AfterValidator(_alpha)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ExperimentArm(_Strict):
    """One arm: the strategy its people get, and its share of people (and of the budget).

    In YAML a bare strategy name is shorthand for ``{strategy: name}`` (shares then default
    to equal).

    Attributes
    ----------
    strategy : str or mapping
        A strategy name from the scenario's ``strategies`` or an inline strategy spec
        (``{type: stage_focused, plan: {...}}``). To test a tactic variant (a 30% instead of
        a 20% discount), define the variant as its own tactic in ``tactics:`` and use it in
        that arm's strategy.
    share : float, optional
        Share of the randomised units assigned to the arm, in (0, 1]; the arm's strategy also
        gets this share of each day's budget. All shares sum to 1 (default: equal).
    """

    strategy: str | dict[str, Any]
    share: Share | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return {"strategy": data} if isinstance(data, str) else data


class ExperimentMetric(_Strict):
    """A metric read per person over a window that opens at the assignment day.

    The window is ``[start, start + within)`` with ``within``, ``[start, by)`` with ``by``
    (a day of the horizon), and ``[start, days)`` with neither (e.g. CLV by the horizon).

    Attributes
    ----------
    kind : {'converted', 'purchased', 'retained', 'orders', 'revenue', 'cost', 'profit'}
        See :data:`METRIC_KINDS`.
    within : int, optional
        Window length in days after assignment (>= 1).
    by : int, optional
        Last day (exclusive) of the window, counted from day 0 of the simulation.
    """

    kind: Literal["converted", "purchased", "retained", "orders", "revenue", "cost", "profit"]
    within: PositiveInt | None = None
    by: PositiveInt | None = None


class Design(_Strict):
    """How units are randomised.

    Attributes
    ----------
    unit : {'person', 'market'}
        ``person``: every person is assigned to an arm at random (complete randomisation:
        exactly ``round(share x n)`` people per arm) within one market. ``market``: the market
        is split into ``clusters`` independent sub-markets (regions) of equal size, each
        simulated on its own and assigned whole to one arm; people in one region cannot
        influence another, so spillovers such as referrals stay inside an arm. Analysed on
        cluster means (one row per cluster).
    clusters : int
        Number of regions for ``unit: market`` (>= 2 per arm).
    """

    unit: Literal["person", "market"] = "person"
    clusters: PositiveInt = 20


class Experiment(_Strict):
    """An A/B(/n) experiment run inside the simulator, with the true effect known.

    Attributes
    ----------
    arms : dict of str to ExperimentArm
        Arm label -> arm (at least two).
    control : str, optional
        Label of the control arm (default: the first arm).
    start : int
        Assignment day (>= 0). Before it everyone gets the control arm's strategy (business
        as usual); activity before it is exported as pre-period covariates (for CUPED).
    duration : int, optional
        Days the arms get their own marketing; afterwards everyone is back on the control
        arm's strategy (default: to the horizon).
    metrics : dict of str to ExperimentMetric
        Column name -> metric (at least one).
    eligible : list of str, optional
        Stages whose people are randomised on the assignment day (e.g. only prospects for a
        conversion test); everyone else stays out of the experiment: the control arm's
        strategy, not in the dataset. Default: everyone.
    design : Design
        Person-level or market-level (cluster) randomisation.
    alpha : float
        Significance level of the analysis (CIs have level ``1 - alpha``).
    truth_replications : int
        Markets over which the true effect is averaged (each arm run over the whole market
        with common random numbers).
    """

    arms: dict[str, ExperimentArm]
    control: str | None = None
    start: NonNegativeInt = 0
    duration: PositiveInt | None = None
    metrics: dict[str, ExperimentMetric]
    eligible: list[str] | None = None
    design: Design = Field(default_factory=Design)
    alpha: Alpha = 0.05
    truth_replications: PositiveInt = 1

    @property
    def control_arm(self) -> str:
        """Label of the control arm."""
        return self.control if self.control is not None else next(iter(self.arms))

    def shares(self) -> dict[str, float]:
        """Arm label -> share of units (equal shares where none is given)."""
        given = {a: arm.share for a, arm in self.arms.items()}
        if all(s is None for s in given.values()):
            return {a: 1.0 / len(given) for a in given}
        return {a: float(s or 0.0) for a, s in given.items()}

    def window(self, metric: str, days: int) -> tuple[int, int]:
        """Return the window ``[lo, hi)`` of ``metric`` in days of a ``days``-long horizon."""
        m = self.metrics[metric]
        if m.within is not None:
            return self.start, self.start + m.within
        if m.by is not None:
            return self.start, m.by
        return self.start, days

    def exposure(self, days: int) -> tuple[int, int]:
        """Return the days ``[lo, hi)`` in which the arms get their own marketing."""
        end = days if self.duration is None else min(days, self.start + self.duration)
        return self.start, end


def check_experiment(scn: Any) -> list[tuple[str, str]]:
    """Check the cross-field rules of a scenario's ``experiment:`` block.

    Rules: at least two arms; ``control`` names an arm; every arm's strategy is a known
    strategy name or a valid inline spec; shares (when given) are given for every arm and
    sum to 1; at least one metric, named like a column and not a reserved column; every
    window ends after it starts and inside the horizon; the assignment day is inside the
    horizon; eligible stages exist; a market-level design has at least two regions per arm.

    Parameters
    ----------
    scn : Scenario
        A scenario that passed pydantic validation.

    Returns
    -------
    list of (path, message)
        Every problem found (empty when the block is absent or fine).
    """
    exp = getattr(scn, "experiment", None)
    if exp is None:
        return []
    base = "experiment"
    days = scn.days
    problems = _check_arms(scn, exp, base)
    if exp.eligible is not None:
        if not exp.eligible:
            problems.append((f"{base}.eligible", "list at least one stage (or leave it out)"))
        for i, st in enumerate(exp.eligible):
            if st not in scn.stages:
                known = ", ".join(scn.stages)
                problems.append((f"{base}.eligible.{i}", f"unknown stage {st!r}; known: {known}"))
    if exp.start >= days:
        problems.append((f"{base}.start", f"must be < the horizon days={days}, got {exp.start}"))
    problems += _check_metrics(exp, days, base)
    if exp.design.unit == "market":
        need = 2 * len(exp.arms)
        size = scn.market.size
        if exp.design.clusters < need:
            problems.append(
                (
                    f"{base}.design.clusters",
                    f"must be >= {need} (two regions per arm), got {exp.design.clusters}",
                )
            )
        elif exp.design.clusters > size:  # regions of 0 people ('--customers ... got 0') or OOM
            problems.append(
                (
                    f"{base}.design.clusters",
                    f"must be <= the market size {size:,} (one person per region at least), "
                    f"got {exp.design.clusters:,}",
                )
            )
    if exp.truth_replications > _limits.MAX_REPLICATIONS:  # 1e9 ran out of memory
        problems.append(
            (
                f"{base}.truth_replications",
                f"must be <= {_limits.MAX_REPLICATIONS:,}, got {exp.truth_replications:,}",
            )
        )
    return problems


def _check_arms(scn: Any, exp: Experiment, base: str) -> list[tuple[str, str]]:
    """Arms: at least two, a known control, valid strategies, shares for all or none, sum 1."""
    from lifesim.config.scenario import StrategySpec

    problems: list[tuple[str, str]] = []
    if len(exp.arms) < 2:
        problems.append((f"{base}.arms", f"at least two arms are required, got {len(exp.arms)}"))
    if len(exp.arms) > _limits.MAX_ARMS:  # arm codes are int8: 150 arms was an internal error
        problems.append(
            (
                f"{base}.arms",
                f"at most {_limits.MAX_ARMS} arms (control included), got {len(exp.arms)}",
            )
        )
    if exp.control is not None and exp.control not in exp.arms:
        problems.append(
            (f"{base}.control", f"unknown arm {exp.control!r}; arms: {', '.join(exp.arms)}")
        )
    for label, arm in exp.arms.items():
        path = f"{base}.arms.{label}.strategy"
        if isinstance(arm.strategy, str):
            if arm.strategy not in scn.strategies:
                known = ", ".join(scn.strategies)
                problems.append((path, f"unknown strategy {arm.strategy!r}; known: {known}"))
        else:
            try:
                StrategySpec.model_validate(arm.strategy)
            except ValidationError as exc:
                for e in exc.errors(include_url=False):
                    sub = ".".join(str(x) for x in e["loc"])
                    problems.append((f"{path}.{sub}" if sub else path, str(e["msg"])))
    given = [a for a, arm in exp.arms.items() if arm.share is not None]
    if given and len(given) != len(exp.arms):
        missing = [a for a in exp.arms if a not in given]
        problems.append(
            (f"{base}.arms", f"give a share for every arm or for none; missing for {missing}")
        )
    elif given:
        tot = sum(arm.share or 0.0 for arm in exp.arms.values())
        if not math.isclose(tot, 1.0, abs_tol=1e-9):
            shares = ", ".join(f"{a}={arm.share:g}" for a, arm in exp.arms.items())
            problems.append((f"{base}.arms", f"shares must sum to 1, got {tot:g} ({shares})"))
    return problems


def _check_metrics(exp: Experiment, days: int, base: str) -> list[tuple[str, str]]:
    """Metrics: at least one, named like a column, each window inside ``(start, days]``."""
    problems: list[tuple[str, str]] = []
    if not exp.metrics:
        problems.append((f"{base}.metrics", "at least one metric is required"))
    for name, m in exp.metrics.items():
        path = f"{base}.metrics.{name}"
        if not _NAME.match(name):
            problems.append((path, "a metric name must be a column name (letters, digits, _)"))
        elif name in RESERVED_COLUMNS:
            problems.append((path, f"{name!r} is a reserved column; pick another name"))
        if m.within is not None and m.by is not None:
            problems.append(
                (path, "give 'within' (days after assignment) or 'by' (a day), not both")
            )
        elif m.within is not None and exp.start + m.within > days:
            problems.append(
                (
                    f"{path}.within",
                    f"window ends on day start + within = {exp.start + m.within}, after the "
                    f"horizon days={days}; must be <= {days - exp.start}",
                )
            )
        elif m.by is not None and not exp.start < m.by <= days:
            problems.append(
                (
                    f"{path}.by",
                    f"must be in ({exp.start}, {days}] (after start, inside the "
                    f"horizon), got {m.by}",
                )
            )
    return problems
