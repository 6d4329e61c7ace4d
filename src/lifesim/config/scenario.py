"""Pydantic models of a scenario: the market, the stage graph, segments and the calendar.

Every model forbids unknown keys (typos are errors) and every number is range-checked with a
message that names the allowed range and the bad value. Cross-field rules (known stages,
outgoing probabilities that cannot sum above 1 after scaling, shares summing to 1) are checked
in :func:`lifesim.config.check_scenario`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Probability",
    "Transition",
    "BuyRule",
    "Stage",
    "Constant",
    "Gamma",
    "LogNormal",
    "Uniform",
    "Beta",
    "Distribution",
    "Segment",
    "Market",
    "Campaign",
    "Budget",
    "Support",
    "Satisfaction",
    "Scenario",
]


def _probability(v: float) -> float:
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"must be in [0, 1], got {v:g}")
    return v


def _nonneg(v: float) -> float:
    if v < 0:
        raise ValueError(f"must be >= 0, got {v:g}")
    return v


def _positive(v: float) -> float:
    if not v > 0:
        raise ValueError(f"must be > 0, got {v:g}")
    return v


def _nonneg_int(v: int) -> int:
    if v < 0:
        raise ValueError(f"must be >= 0, got {v}")
    return v


def _positive_int(v: int) -> int:
    if v < 1:
        raise ValueError(f"must be >= 1, got {v}")
    return v


Probability = Annotated[float, AfterValidator(_probability)]
NonNegative = Annotated[float, AfterValidator(_nonneg)]
Positive = Annotated[float, AfterValidator(_positive)]
NonNegativeInt = Annotated[int, AfterValidator(_nonneg_int)]
PositiveInt = Annotated[int, AfterValidator(_positive_int)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Transition(_Strict):
    """One allowed move out of a stage.

    In YAML a bare number is shorthand for ``{p: number}``.

    Attributes
    ----------
    p : float
        Daily base probability of the move, in [0, 1].
    propensity : bool
        Multiply ``p`` by the person's propensity ``m`` (non-target people have ``m = 0``).
    boost : bool
        Multiply ``p`` by campaign / tactic boosts active for the person that day.
    purchase : bool
        The move is itself a purchase: an order is recorded when it happens.
    """

    p: Probability
    propensity: bool = False
    boost: bool = False
    purchase: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"p": data}
        return data


class BuyRule(_Strict):
    """Daily purchase while a person is in a stage (repeat purchases).

    Attributes
    ----------
    p : float
        Daily base purchase probability, in [0, 1].
    propensity : bool
        Multiply ``p`` by the person's propensity ``m``.
    """

    p: Probability
    propensity: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"p": data}
        return data


class Stage(_Strict):
    """A lifecycle stage and its outgoing moves.

    Attributes
    ----------
    kind : {'prospect', 'customer', 'churned'}
        What the stage means for metrics: customers count for churn and CLV; ``churned``
        stages are where churn moves go (and satisfaction raises their probability).
    to : dict of str to Transition
        Allowed moves, keyed by the target stage.
    buy : BuyRule, optional
        Repeat purchases while in the stage.
    """

    kind: Literal["prospect", "customer", "churned"] = "prospect"
    to: dict[str, Transition] = Field(default_factory=dict)
    buy: BuyRule | None = None


class Constant(_Strict):
    """A constant ``value``."""

    dist: Literal["constant"]
    value: NonNegative


class Gamma(_Strict):
    """Gamma(``shape``, ``scale``), optionally clipped above at ``max``."""

    dist: Literal["gamma"]
    shape: Positive
    scale: Positive
    max: Positive | None = None


class LogNormal(_Strict):
    """LogNormal(``mu``, ``sigma``) of the underlying normal, optionally clipped at ``max``."""

    dist: Literal["lognormal"]
    mu: float
    sigma: NonNegative
    max: Positive | None = None


class Uniform(_Strict):
    """Uniform on [``low``, ``high``]."""

    dist: Literal["uniform"]
    low: NonNegative
    high: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high must be >= low, got low={self.low:g}, high={self.high:g}")
        return self


class Beta(_Strict):
    """Beta(``a``, ``b``) times ``scale`` (values in [0, scale])."""

    dist: Literal["beta"]
    a: Positive
    b: Positive
    scale: Positive = 1.0


Distribution = Annotated[Constant | Gamma | LogNormal | Uniform | Beta, Field(discriminator="dist")]


class Segment(_Strict):
    """A market segment.

    Attributes
    ----------
    share : float
        Share of the market, in [0, 1]; the shares of all segments sum to 1.
    propensity : Distribution
        Distribution of the individual propensity multiplier ``m``.
    order_value : Distribution
        Distribution of the amount of one order.
    non_target : float
        Share of people who never convert (propensity 0: DOMAIN.md's non-target refusal).
    satisfaction : float
        Initial satisfaction in [0, 1].
    """

    share: Probability = 1.0
    propensity: Distribution = Field(
        default_factory=lambda: Gamma(dist="gamma", shape=2.0, scale=0.5, max=4.0)
    )
    order_value: Distribution = Field(
        default_factory=lambda: LogNormal(dist="lognormal", mu=3.5, sigma=0.8)
    )
    non_target: Probability = 0.0
    satisfaction: Probability = 1.0


class Market(_Strict):
    """Market size and where people start.

    Attributes
    ----------
    size : int
        Number of people (agents), >= 1.
    initial : str or dict of str to float
        A stage name (everyone starts there) or stage -> share (shares sum to 1).
    """

    size: PositiveInt = 10_000
    initial: str | dict[str, Probability] = "awareness"


class Campaign(_Strict):
    """A scheduled campaign (e.g. a weekly email) run by the SimPy calendar.

    The ``k``-th send (on day ``start + k * every``) targets ``targets[k % len(targets)]`` and
    multiplies the boosted moves out of that stage by ``boost`` on the send day and the
    ``duration - 1`` days after.

    Attributes
    ----------
    every : int
        Days between sends (>= 1).
    start : int
        Day of the first send (>= 0).
    stop : int, optional
        No send on or after this day.
    duration : int
        Days the boost lasts (>= 1).
    targets : list of str
        Target stages, in rotation.
    boost : float
        Multiplier on the boosted moves out of the target stage (>= 0).
    cost_per_contact : float
        Cost of one contact, charged to the budget; people are contacted while budget lasts.
    """

    every: PositiveInt = 7
    start: NonNegativeInt = 0
    stop: NonNegativeInt | None = None
    duration: PositiveInt = 2
    targets: list[str]
    boost: NonNegative = 1.5
    cost_per_contact: NonNegative = 0.0


class Budget(_Strict):
    """Marketing budget per period (a SimPy budget-period process resets it).

    Attributes
    ----------
    per_period : float, optional
        Money available per period; ``null`` means unlimited.
    period_days : int
        Length of a budget period in days (default 30, "monthly").
    """

    per_period: NonNegative | None = None
    period_days: PositiveInt = 30


class Support(_Strict):
    """Capacity-limited support staff (a ``simpy.Resource``).

    Attributes
    ----------
    agents : int
        Number of support agents (the Resource capacity, >= 1).
    tickets_per_agent_per_day : int
        Tickets one agent resolves in a day (>= 1).
    ticket_p : dict of str to float
        Daily probability that a person in the stage opens a ticket.
    wait_penalty : float
        Satisfaction lost per day a ticket waits in the queue (>= 0).
    resolve_bonus : float
        Satisfaction regained when a ticket is resolved (>= 0).
    """

    agents: PositiveInt = 1
    tickets_per_agent_per_day: PositiveInt = 50
    ticket_p: dict[str, Probability] = Field(default_factory=dict)
    wait_penalty: NonNegative = 0.02
    resolve_bonus: NonNegative = 0.05


class Satisfaction(_Strict):
    """How satisfaction moves churn.

    Moves into a ``churned`` stage are multiplied by ``1 + churn_weight * (1 - s)``, where
    ``s`` in [0, 1] is the person's satisfaction; weight 0 disables the effect.
    """

    churn_weight: NonNegative = 0.0


class Scenario(_Strict):
    """A complete scenario: everything a simulation needs.

    Attributes
    ----------
    name : str
        Short name (used in run folders and reports).
    description : str
        Free text.
    seed : int, optional
        Default seed (overridable by the caller).
    days : int
        Horizon in days (>= 1).
    market : Market
    stages : dict of str to Stage
        The stage graph; the order of keys is the stage numbering.
    segments : dict of str to Segment
    campaigns : dict of str to Campaign
    budget : Budget
    support : Support, optional
    satisfaction : Satisfaction
    """

    name: str = "scenario"
    description: str = ""
    seed: NonNegativeInt | None = None
    days: PositiveInt = 365
    market: Market = Field(default_factory=Market)
    stages: dict[str, Stage]
    segments: dict[str, Segment] = Field(default_factory=lambda: {"all": Segment()})
    campaigns: dict[str, Campaign] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    support: Support | None = None
    satisfaction: Satisfaction = Field(default_factory=Satisfaction)
