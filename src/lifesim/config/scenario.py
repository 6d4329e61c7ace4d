"""Pydantic models of a scenario: the market, the stage graph, segments and the calendar.

Every model forbids unknown keys (typos are errors) and every number is range-checked with a
message that names the allowed range and the bad value. Cross-field rules (known stages,
outgoing probabilities that cannot sum above 1 after scaling, shares summing to 1) are checked
in :func:`lifesim.config.check_scenario`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from lifesim import _limits
from lifesim.config.experiment import Experiment

__all__ = [
    "Execution",
    "EXECUTION_PRESETS",
    "OBJECTIVES",
    "MAX_MONEY",
    "Probability",
    "Transition",
    "BuyRule",
    "Stage",
    "Constant",
    "Gamma",
    "LogNormal",
    "InverseGamma",
    "Uniform",
    "Calendar",
    "Arrivals",
    "NOT_ARRIVED",
    "Beta",
    "Distribution",
    "Segment",
    "Market",
    "Campaign",
    "Budget",
    "Support",
    "Satisfaction",
    "Cost",
    "PromoEffect",
    "Referral",
    "Tactic",
    "Fatigue",
    "Economics",
    "StrategySpec",
    "CompareSpec",
    "Scenario",
]


def _probability(v: float) -> float:
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"must be in [0, 1], got {v:g}")
    return v


def _nonneg(v: float) -> float:
    if not v >= 0:  # NaN too
        raise ValueError(f"must be >= 0, got {v:g}")
    if v == math.inf:  # an infinite cost, effect or order value makes NaN or crashes a run
        raise ValueError("must be a finite number >= 0, got inf")
    return v


def _nonneg_or_inf(v: float) -> float:
    if not v >= 0:  # NaN too
        raise ValueError(f"must be >= 0, got {v:g}")
    return v


def _positive(v: float) -> float:
    if not v > 0:
        raise ValueError(f"must be > 0, got {v:g}")
    if v == math.inf:
        raise ValueError("must be a finite number > 0, got inf")
    return v


#: Largest amount of money one item may be: an order (order value x spend x the tactics'
#: order-value multipliers), a cost per contact, month or redemption, a referral reward, a
#: period's budget. Totals over a billion people and 87 years then stay far below float64's
#: overflow (about 1.8e308), so revenue, cost and profit are never inf or NaN.
MAX_MONEY = 1e12

MONEY_BOUND = (
    f"lifesim's bound on one amount of money ({MAX_MONEY:g}), so that revenue and cost totals "
    "cannot overflow"
)


def _money(v: float) -> float:
    v = _nonneg(v)
    if v > MAX_MONEY:
        raise ValueError(f"must be in [0, {MAX_MONEY:g}] ({MONEY_BOUND}), got {v:g}")
    return v


def _budget(v: float) -> float:
    if v == math.inf:
        raise ValueError("must be a finite number >= 0 (null: no limit), got inf")
    return _money(v)


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError(f"must be a finite number, got {v:g}")
    return v


def _nonneg_int(v: int) -> int:
    if v < 0:
        raise ValueError(f"must be >= 0, got {v}")
    return v


def _positive_int(v: int) -> int:
    if v < 1:
        raise ValueError(f"must be >= 1, got {v}")
    return v


def _people(v: int) -> int:
    v = _positive_int(v)
    problem = _limits.people_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def _days(v: int) -> int:
    v = _positive_int(v)
    if v > _limits.MAX_DAYS:
        raise ValueError(f"must be <= {_limits.MAX_DAYS} (about 87 years), got {v}")
    return v


def _replications(v: int) -> int:
    v = _positive_int(v)
    if v > _limits.MAX_REPLICATIONS:
        raise ValueError(f"must be <= {_limits.MAX_REPLICATIONS:,}, got {v:,}")
    return v


def _gap_days(v: int) -> int:
    v = _nonneg_int(v)
    if v > _limits.MAX_DAYS:  # larger ones overflow the engine's day arithmetic
        raise ValueError(
            f"must be <= {_limits.MAX_DAYS} (the longest horizon: a longer gap already means "
            f"one contact per run), got {v}"
        )
    return v


GapDays = Annotated[int, AfterValidator(_gap_days)]


def _at_least_one(v: float) -> float:
    if not v >= 1:
        raise ValueError(f"must be >= 1, got {v}")
    return v


Probability = Annotated[float, AfterValidator(_probability)]
NonNegative = Annotated[float, AfterValidator(_nonneg)]
Money = Annotated[float, AfterValidator(_money)]
Positive = Annotated[float, AfterValidator(_positive)]
NonNegativeInt = Annotated[int, AfterValidator(_nonneg_int)]
PositiveInt = Annotated[int, AfterValidator(_positive_int)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class _DailyRate(_Strict):
    """A daily probability ``p``; in YAML a bare number is shorthand for ``{p: number}``."""

    p: Probability
    propensity: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"p": data}
        return data


class Transition(_DailyRate):
    """One allowed move out of a stage.

    In YAML a bare number is shorthand for ``{p: number}``.

    Attributes
    ----------
    p : float
        Daily base probability of the move, in [0, 1].
    propensity : bool
        Multiply ``p`` by the person's propensity ``m`` (non-target people have ``m = 0``).
    boost : bool
        Multiply ``p`` by the boost of scheduled campaigns (tactics name the moves they
        change explicitly, boosted or not).
    purchase : bool
        The move is itself a purchase: an order is recorded when it happens.
    """

    boost: bool = False
    purchase: bool = False


class BuyRule(_DailyRate):
    """Daily purchase while a person is in a stage (repeat purchases).

    Attributes
    ----------
    p : float
        Daily base purchase probability, in [0, 1].
    propensity : bool
        Multiply ``p`` by the person's propensity ``m``.
    """


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


_LOG_MAX = 709.0  # exp() of more overflows a float64


class LogNormal(_Strict):
    """LogNormal(``mu``, ``sigma``) of the underlying normal, optionally clipped at ``max``."""

    dist: Literal["lognormal"]
    mu: Annotated[float, AfterValidator(_finite)]
    sigma: NonNegative
    max: Positive | None = None

    @model_validator(mode="after")
    def _representable(self) -> LogNormal:
        # the largest draw is about exp(mu + 8.3 sigma) (a uniform draw is at most 1 - 2**-53)
        if self.max is None and self.mu + 8.3 * self.sigma > _LOG_MAX:
            raise ValueError(
                f"mu + 8.3 x sigma = {self.mu + 8.3 * self.sigma:g}: the largest draws would "
                f"overflow to inf; allowed: mu + 8.3 x sigma <= {_LOG_MAX:.0f}, or a max"
            )
        return self


class InverseGamma(_Strict):
    """InverseGamma(``shape``, ``scale``): ``scale / G`` with ``G ~ Gamma(shape, 1)``.

    Its mean is ``scale / (shape - 1)`` when ``shape > 1``; optionally clipped at ``max``. A
    per-person spend multiplier with this distribution and a gamma ``order_value`` of scale 1
    is the Gamma-Gamma spend model (Fader, Hardie & Lee 2005).
    """

    dist: Literal["invgamma"]
    shape: Positive
    scale: Positive
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


Distribution = Annotated[
    Constant | Gamma | LogNormal | InverseGamma | Uniform | Beta, Field(discriminator="dist")
]


class Segment(_Strict):
    """A market segment.

    Attributes
    ----------
    share : float
        Share of the market, in [0, 1]; the shares of all segments sum to 1.
    propensity : Distribution
        Distribution of the individual propensity multiplier ``m``.
    order_value : Distribution
        Distribution of the amount of one order (times the person's ``spend``). An order
        (its bound, or its mean when unbounded, times the largest spend and the tactics'
        ``order_value`` multipliers) may be at most :data:`MAX_MONEY`.
    non_target : float
        Share of people who never convert (propensity 0: DOMAIN.md's non-target refusal).
    satisfaction : float
        Initial satisfaction in [0, 1].
    dropout : Distribution
        Distribution of the individual dropout multiplier: a factor on the person's moves into
        churned stages (heterogeneous dropout; default the constant 1, everyone alike).
    dropout_correlation : float
        Correlation in [-1, 1] between the normal scores of propensity and dropout (a
        Gaussian copula; 0: independent).
    spend : Distribution
        Distribution of the individual spend multiplier: each of the person's orders is an
        ``order_value`` draw times their own multiplier, drawn once (heterogeneous spend:
        some customers always buy more; default the constant 1, everyone alike). Drawn
        independently of propensity and dropout.
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
    dropout: Distribution = Field(default_factory=lambda: Constant(dist="constant", value=1.0))
    dropout_correlation: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    spend: Distribution = Field(default_factory=lambda: Constant(dist="constant", value=1.0))


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Calendar(_Strict):
    """Seasonality: factors on repeat purchases by day of the week and month of the year.

    On simulated day ``d`` (the date ``start + d``) every stage's repeat-purchase probability
    (``buy.p``) is multiplied by ``day_of_week[weekday] x month[month]`` (a day or month not
    listed: 1). ``lifesim calibrate`` writes the multipliers it fits (mean 1 over the week and
    the year). Stage moves, first purchases included, are not seasonal.

    Attributes
    ----------
    start : date, optional
        The date of day 0 (required with any factor).
    day_of_week : dict of str to float
        ``Mon`` .. ``Sun`` to a factor >= 0.
    month : dict of str to float
        ``Jan`` .. ``Dec`` to a factor >= 0.
    """

    start: dt.date | None = None
    day_of_week: dict[Literal[WEEKDAYS], NonNegative] = Field(default_factory=dict)
    month: dict[Literal[MONTHS], NonNegative] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _dated(self) -> Calendar:
        if (self.day_of_week or self.month) and self.start is None:
            raise ValueError(
                "start: required with day_of_week or month factors (the date of day 0, e.g. "
                "2026-01-01)"
            )
        return self

    @property
    def seasonal(self) -> bool:
        """Whether any factor differs from 1."""
        return any(v != 1 for v in (*self.day_of_week.values(), *self.month.values()))

    def factors(self, days: int) -> np.ndarray:
        """Return the factor of each day ``0 .. days - 1`` (float64)."""
        dow = np.array([self.day_of_week.get(d, 1.0) for d in WEEKDAYS])
        mon = np.array([self.month.get(m, 1.0) for m in MONTHS])
        dates = np.datetime64(self.start, "D") + np.arange(days)
        weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        month = dates.astype("datetime64[M]").astype(np.int64) % 12
        return dow[weekday] * mon[month]

    def largest(self) -> float:
        """Return the largest factor any day can have (a day or month not listed has 1)."""
        dow = [*self.day_of_week.values(), *([1.0] if len(self.day_of_week) < 7 else [])]
        mon = [*self.month.values(), *([1.0] if len(self.month) < 12 else [])]
        return max(dow) * max(mon)


#: The stage of people who have not arrived yet (added to the stage graph with arrivals).
NOT_ARRIVED = "not_arrived"


class Arrivals(_Strict):
    """New people entering the market over the run (a Poisson number a day).

    Attributes
    ----------
    per_day : float
        Mean number of arrivals a day (scaled with ``market.size`` by ``--customers``).
    stage : str
        The stage they enter.
    purchase : bool
        Whether arriving is a first purchase (an order, as a move with ``purchase: true``):
        true for new customers of a transaction log, false for new prospects.
    """

    # inf passes here: the market-size check says how much memory it would take
    per_day: Annotated[float, AfterValidator(_nonneg_or_inf)]
    stage: str
    purchase: bool = False


class Market(_Strict):
    """Market size and where people start.

    Attributes
    ----------
    size : int
        Number of people (agents), >= 1 and small enough for this machine's memory
        (about ``lifesim._limits.BYTES_PER_PERSON`` bytes a person).
    initial : str or dict of str to float
        A stage name (everyone starts there) or stage -> share (shares sum to 1).
    arrivals : Arrivals, optional
        People who join the market during the run (drawn once per run from the
        ``arrivals`` stream, so every strategy sees the same people arrive on the same days);
        until they arrive they are in the stage ``not_arrived``.
    """

    size: Annotated[int, AfterValidator(_people)] = 10_000
    initial: str | dict[str, Probability] = "awareness"
    arrivals: Arrivals | None = None

    def describe(self) -> str:
        """Return ``"2,000 people"``, with arrivals ``"2,000 people + 20 arriving a day"``."""
        text = f"{self.size:,} people"
        if self.arrivals is not None:
            text += f" + {self.arrivals.per_day:g} arriving a day"
        return text


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
        At most :data:`MAX_MONEY`, as every amount of money.
    """

    every: PositiveInt = 7
    start: NonNegativeInt = 0
    stop: NonNegativeInt | None = None
    duration: PositiveInt = 2
    targets: list[str]
    boost: NonNegative = 1.5
    cost_per_contact: Money = 0.0


class Budget(_Strict):
    """Marketing budget per period (a SimPy budget-period process resets it).

    Attributes
    ----------
    per_period : float, optional
        Money available per period (at most :data:`MAX_MONEY`); ``null`` means unlimited.
    period_days : int
        Length of a budget period in days (default 30, "monthly"). A last period cut short
        by the horizon gets a prorated budget.
    max_catch_up : float or None
        Pacing ceiling: a strategy's daily allowance (the money left, plus reservations
        that come back within the period, spread over the days left) is at most this
        multiple of the period's even rate (budget after monthly fees / period length), so
        unused or returned money is not spent in a burst at the end of a period. ``>= 1``;
        default 1.5; ``null``: no ceiling (full catch-up).
    """

    per_period: Annotated[float, AfterValidator(_budget)] | None = None
    period_days: PositiveInt = 30
    max_catch_up: Annotated[float, AfterValidator(_at_least_one)] | None = 1.5


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
    resolve_effect : dict of str to float
        Multipliers (``"src->dst": factor``) on the moves of a person whose ticket was just
        resolved (a sales meeting that moves a deal on), for ``resolve_effect_days`` days.
    resolve_effect_days : int
    name : str
        What the staff are called in reports (support, sales, ...).
    """

    agents: PositiveInt = 1
    tickets_per_agent_per_day: PositiveInt = 50
    ticket_p: dict[str, Probability] = Field(default_factory=dict)
    wait_penalty: NonNegative = 0.02
    resolve_bonus: NonNegative = 0.05
    resolve_effect: dict[str, NonNegative] = Field(default_factory=dict)
    resolve_effect_days: PositiveInt = 7
    name: str = "support"


class Satisfaction(_Strict):
    """How satisfaction moves churn.

    Moves into a ``churned`` stage are multiplied by ``1 + churn_weight * (1 - s)``, where
    ``s`` in [0, 1] is the person's satisfaction; weight 0 disables the effect.
    """

    churn_weight: NonNegative = 0.0


class Cost(_Strict):
    """Cost of a tactic: per contact, per month (budget period) it is active, per redemption.

    Each is at most :data:`MAX_MONEY`.
    """

    per_contact: Money = 0.0
    per_month: Money = 0.0
    per_redemption: Money = 0.0


class PromoEffect(_Strict):
    """Side effect on people a promotion acquires (a promo conversion is not a conscious choice).

    Attributes
    ----------
    propensity : float
        Multiplier on the propensity of people who become customers under the tactic.
    churn : float
        Multiplier on their moves into churned stages, for good.
    """

    propensity: NonNegative = 1.0
    churn: NonNegative = 1.0


class Referral(_Strict):
    """A referral programme: contacted people bring others.

    Attributes
    ----------
    p : float
        Chance that a contacted person refers one prospect.
    from_stages : list of str
        Stages the referred person is drawn from (uniformly at random among people there).
    effect : dict of str to float
        Multipliers (``"src->dst": factor``) on the referred person's moves.
    duration : int
        Days the referred person's effect lasts.
    reward : float
        Cost per referral (paid from the budget, reserved at contact time; at most
        :data:`MAX_MONEY`).
    """

    p: Probability = 0.1
    from_stages: list[str] = Field(default_factory=lambda: ["awareness"])
    effect: dict[str, NonNegative] = Field(default_factory=dict)
    duration: PositiveInt = 14
    reward: Money = 0.0


class Tactic(_Strict):
    """A marketing tactic: which stages it serves, what it does, what it costs, its side effects.

    Attributes
    ----------
    description : str
    source : str
        Where the tactic's numbers come from: a citation (a study, a benchmark report, a
        public dataset) or ``"illustrative"`` (the default) when they are made up for the
        example. Comparison reports list the sources of the tactics a verdict rests on.
    channel : str, optional
        Channel name for CAC by channel (default: the tactic's name).
    group : {'acquisition', 'retention', 'advocacy'}, optional
        Budget group (default: from the first stage it targets).
    stages : list of str
        Stages whose people it can reach.
    mode : {'contact', 'broadcast'}
        ``contact``: chosen people are contacted one by one (costs per contact, builds fatigue,
        respects caps). ``broadcast``: always-on for everyone in its stages while its monthly
        fee is paid (SEO content, live chat).
    effect : dict of str to float
        Multipliers on moves, keyed ``"src->dst"`` (e.g. ``"consideration->purchase": 1.5``).
    buy : float
        Multiplier on the daily repeat-purchase probability.
    order_value : float
        Multiplier on order value while active (a discount is < 1 and cuts margin).
    duration : int
        Days one contact's effect lasts.
    single_use : bool
        The effect ends at the person's first purchase under it (a coupon); redemptions are
        counted and cost ``cost.per_redemption``.
    cost : Cost
    fatigue : float
        Fatigue added to a person per contact.
    promo : PromoEffect, optional
        Side effect on the people it acquires.
    support_load : float
        Chance that a contact (or, for broadcasts, a person-day in its stages) opens a support
        ticket for the capacity-limited staff.
    satisfaction : float
        Change in the person's satisfaction per contact, in [-1, 1].
    referral : Referral, optional
    """

    description: str = ""
    source: str = "illustrative"
    channel: str | None = None
    group: Literal["acquisition", "retention", "advocacy"] | None = None
    stages: list[str]
    mode: Literal["contact", "broadcast"] = "contact"
    effect: dict[str, NonNegative] = Field(default_factory=dict)
    buy: NonNegative = 1.0
    order_value: NonNegative = 1.0
    duration: PositiveInt = 7
    single_use: bool = False
    cost: Cost = Field(default_factory=Cost)
    fatigue: NonNegative = 0.0
    promo: PromoEffect | None = None
    support_load: Probability = 0.0
    satisfaction: Annotated[float, Field(ge=-1, le=1)] = 0.0
    referral: Referral | None = None

    @model_validator(mode="after")
    def _sourced(self) -> Tactic:
        if not self.source.strip():
            raise ValueError(f"source == {self.source!r}, must name a study or say 'illustrative'")
        return self


class Fatigue(_Strict):
    """How contacts tire people.

    A person's fatigue grows by each contact's ``fatigue`` and halves every ``half_life_days``.
    A contact's effect is scaled by ``exp(-erosion * fatigue)`` (effects erode with frequency).
    Past ``churn_threshold``, churn moves are multiplied by
    ``min(max_churn_factor, 1 + churn_per_unit * (fatigue - churn_threshold))`` (unsubscribes,
    annoyance) and satisfaction falls by ``satisfaction_per_unit`` per unit above it per day.
    """

    half_life_days: Positive = 14.0
    erosion: NonNegative = 0.4
    churn_threshold: NonNegative = 3.0
    churn_per_unit: NonNegative = 0.1
    max_churn_factor: Annotated[float, Field(ge=1)] = 1.5
    satisfaction_per_unit: NonNegative = 0.0005


class Economics(_Strict):
    """Money conventions: profit = ``margin`` x revenue - marketing cost."""

    margin: Probability = 0.35


class Execution(_Strict):
    """How a strategy carries out its objective; shared by every objective and honoured by all.

    Attributes
    ----------
    targeting : {'score', 'random', 'uplift'}, optional
        ``score``: the most promising people first (a CRM score, a noisy read of propensity);
        ``random``: untargeted (a random start in a fixed random order, new every day);
        ``uplift``: the people one more contact of the tactic changes most first, by the
        scenario's own uplift model blurred with ``uplift_noise`` (see
        :mod:`lifesim.engine.uplift`).
    uplift_noise : float, optional
        Error of the uplift model for ``targeting: uplift``: each person's expected lift is
        multiplied by ``exp(uplift_noise x z)``, ``z`` standard normal per person (default 0.5,
        the CRM score's error; 0 is a perfect model).
    min_gap_days : int, optional
        Frequency cap: days between two contacts of the same person (any tactic).
    caps : dict of str to int
        Per-tactic frequency caps: days between two contacts of a person with that tactic.
    tactics : list of str, optional
        Tactics the strategy may use (default: every tactic its objective names).
    broadcasts : bool, optional
        Pay for the always-on broadcast tactics (SEO content, live chat) the catalogue offers
        for the stages the objective works on.
    pacing : {'even', 'asap'}
        ``even``: each day's allowance (see ``budget.max_catch_up``); ``asap``: whatever is
        left in the period, first come first served.
    """

    targeting: Literal["score", "random", "uplift"] | None = None
    uplift_noise: NonNegative | None = None
    min_gap_days: GapDays | None = None
    caps: dict[str, GapDays] = Field(default_factory=dict)
    tactics: list[str] | None = None
    broadcasts: bool | None = None
    pacing: Literal["even", "asap"] = "even"


#: Named executions: ``naive`` (random reach, no caps, no broadcasts) and ``careful``
#: (best score first, a 7-day cap, broadcasts on).
EXECUTION_PRESETS = {
    "naive": {"targeting": "random", "min_gap_days": 0, "broadcasts": False},
    "careful": {"targeting": "score", "min_gap_days": 7, "broadcasts": True},
}

#: Strategy types by objective (``objective: kpi`` is ``type: kpi_focused``).
OBJECTIVES = {"kpi": "kpi_focused", "lifecycle": "stage_focused"}


class StrategySpec(_Strict):
    """A strategy (policy) that decides, every day, who gets which tactic within the budget.

    A strategy is an objective (what the budget chases) plus an execution (how people are
    reached). Fields a strategy does not use are errors, never silently ignored.

    Attributes
    ----------
    type : {'none', 'kpi_focused', 'stage_focused', 'fixed_split', 'churn_targeted', 'custom'}
        ``kpi_focused`` (objective ``kpi``): the tactic mix that chases one KPI, default
        execution ``naive``. ``stage_focused`` (objective ``lifecycle``): a plan of tactics per
        stage with a budget split across stage groups, default execution ``careful``.
        ``churn_targeted`` retrains a churn model on the simulated history every period and
        spends the retention budget on the best expected value of an offer (see
        :mod:`lifesim.experiments.churn_targeted`).
    objective : {'kpi', 'lifecycle'}, optional
        Another way to give ``type`` (``kpi`` -> ``kpi_focused``, ``lifecycle`` ->
        ``stage_focused``).
    kpi : {'conversion', 'acquisition'}
        The headline KPI a ``kpi_focused`` strategy chases.
    plan : dict of str to list of str, optional
        Stage -> tactics (``stage_focused`` / ``fixed_split``; default: the scenario's tactics
        that serve each stage).
    split : dict of str to float, optional
        Budget shares: per tactic for ``kpi_focused``; per group (acquisition, retention,
        advocacy) for ``stage_focused`` and ``churn_targeted``; per stage for
        ``fixed_split``. Shares sum to 1.
    execution : 'naive', 'careful' or Execution, optional
        How people are reached (targeting, caps, allowed tactics, broadcasts, pacing);
        default ``naive`` for ``kpi_focused``, ``careful`` otherwise.
    min_gap_days : int, optional
        Shorthand for ``execution.min_gap_days``.
    targeting : {'score', 'random', 'uplift'}, optional
        Shorthand for ``execution.targeting``.
    target : str, optional
        ``custom``: ``"module:attribute"`` of a class following the Strategy protocol.
    params : dict
        Extra keyword arguments for a ``custom`` strategy.
    """

    type: Literal[
        "none", "kpi_focused", "stage_focused", "fixed_split", "churn_targeted", "custom"
    ] = None  # type: ignore[assignment]  (required: given directly or by ``objective``)
    objective: Literal["kpi", "lifecycle"] | None = None
    kpi: Literal["conversion", "acquisition"] = "conversion"
    plan: dict[str, list[str]] | None = None
    split: dict[str, Probability] | None = None
    execution: Literal["naive", "careful"] | Execution | None = None
    min_gap_days: GapDays | None = None
    targeting: Literal["score", "random", "uplift"] | None = None
    target: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _type_from_objective(self) -> StrategySpec:
        if self.objective is not None:
            implied = OBJECTIVES[self.objective]
            if self.type is None:
                object.__setattr__(self, "type", implied)
            elif self.type != implied:
                raise ValueError(
                    f"objective {self.objective!r} means type {implied!r}, got type {self.type!r}"
                )
        if self.type is None:
            raise ValueError(
                "give 'type' (none, kpi_focused, stage_focused, fixed_split, churn_targeted, "
                "custom) or 'objective' (kpi, lifecycle)"
            )
        return self

    def resolved_execution(self) -> Execution:
        """Return the execution with the type's defaults and the shorthands filled in."""
        default = "naive" if self.type == "kpi_focused" else "careful"
        ex = self.execution if self.execution is not None else default
        base = dict(EXECUTION_PRESETS[ex]) if isinstance(ex, str) else {}
        if not isinstance(ex, str):
            base = dict(EXECUTION_PRESETS[default])
            base.update(ex.model_dump(exclude_unset=True))
        if self.min_gap_days is not None:
            base["min_gap_days"] = self.min_gap_days
        if self.targeting is not None:
            base["targeting"] = self.targeting
        return Execution(**base)


class CompareSpec(_Strict):
    """Defaults of ``lifesim compare`` for this scenario."""

    strategies: list[str] = Field(default_factory=lambda: ["none", "kpi_focused", "stage_focused"])
    baseline: str = "none"
    replications: Annotated[int, AfterValidator(_replications)] = 20
    objective: str = "profit"


#: ``[low, high]``: a value known only to lie in an interval (drawn uniformly).
Interval = Annotated[list[float], Field(min_length=2, max_length=2)]


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
        Horizon in days (1 to 32000).
    market : Market
    stages : dict of str to Stage
        The stage graph; the order of keys is the stage numbering.
    segments : dict of str to Segment
    campaigns : dict of str to Campaign
    budget : Budget
    support : Support, optional
    satisfaction : Satisfaction
    tactics : dict of str to Tactic
        The tactic catalogue (shipped defaults merged with the file's overrides).
    strategies : dict of str to StrategySpec
        Named strategies (built-ins merged with the file's).
    fatigue : Fatigue
    economics : Economics
    compare : CompareSpec
    experiment : Experiment, optional
    calendar : Calendar
        Seasonality of repeat purchases (default: none).
    uncertain : dict of str to Distribution or [low, high]
        Values that are guesses, stated as ranges: a key path (``stages.retention.buy.p``,
        ``tactics.coupon.effect.retention->churned``) to a distribution or an interval
        ``[low, high]`` (uniform). The scenario itself runs with its stated values;
        ``lifesim compare --parameter-draws N`` draws N sets from these ranges and reports the
        verdict over them.
    """

    name: str = "scenario"
    description: str = ""
    seed: NonNegativeInt | None = None
    days: Annotated[int, AfterValidator(_days)] = 365
    market: Market = Field(default_factory=Market)
    stages: dict[str, Stage]
    segments: dict[str, Segment] = Field(default_factory=lambda: {"all": Segment()})
    campaigns: dict[str, Campaign] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    support: Support | None = None
    satisfaction: Satisfaction = Field(default_factory=Satisfaction)
    tactics: dict[str, Tactic] = Field(default_factory=dict)
    strategies: dict[str, StrategySpec] = Field(default_factory=dict)
    fatigue: Fatigue = Field(default_factory=Fatigue)
    economics: Economics = Field(default_factory=Economics)
    compare: CompareSpec = Field(default_factory=CompareSpec)
    experiment: Experiment | None = None
    calendar: Calendar = Field(default_factory=Calendar)
    uncertain: dict[
        str, Distribution | Annotated[list[float], Field(min_length=2, max_length=2)]
    ] = Field(default_factory=dict)
    # set only by lifesim.model.trusted() (never from a file): custom strategies may run code
    _trust_code: bool = PrivateAttr(default=False)

    @property
    def stage_names(self) -> list[str]:
        """Every stage a person can be in: ``stages``, then ``not_arrived`` with arrivals."""
        return list(self.stages) + ([NOT_ARRIVED] if self.market.arrivals is not None else [])
