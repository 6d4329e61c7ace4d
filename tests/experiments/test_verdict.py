"""The verdict of a comparison, on strategies whose ranking is certain.

The strategies contact people with a tactic that has no effect and costs 1 per contact, so
under common random numbers every strategy earns the same revenue to the cent and profit
falls by exactly the money spent: ``none`` > ``spend_1`` > ``spend_3`` on profit, and the
reverse on marketing cost. The worst strategy is listed first so that neither "first listed
wins" nor a reversed sort can pass.
"""

import numpy as np
import pytest

from lifesim.experiments import compare

DAYS = 10
MARGIN = 0.35


class Spender:
    """Contact the first ``k`` people every day with a useless tactic."""

    def __init__(self, k: int, name: str | None = None):
        self.k = int(k)
        self.name = name or f"spend_{k}"

    def tactics(self):
        return {"ad"}

    def decide(self, view):
        view.contact("ad", np.arange(self.k))


def _scenario():
    spend = "tests.experiments.test_verdict:Spender"
    return {
        "name": "verdict",
        "days": DAYS,
        "market": {"size": 5, "initial": "a"},
        "stages": {"a": {"kind": "customer", "buy": {"p": 0.2}, "to": {"b": 0.01}}, "b": {}},
        "segments": {
            "all": {
                "propensity": {"dist": "constant", "value": 1.0},
                "order_value": {"dist": "uniform", "low": 5.0, "high": 15.0},
            }
        },
        "economics": {"margin": MARGIN},
        "tactics": {"ad": {"stages": ["a", "b"], "cost": {"per_contact": 1.0}}},
        "strategies": {
            "spend_3": {"type": "custom", "target": spend, "params": {"k": 3}},
            "spend_1": {"type": "custom", "target": spend, "params": {"k": 1}},
        },
    }


@pytest.fixture(scope="module")
def runs():
    from tests.conftest import _SEED

    def run(objective):
        return compare(
            _scenario(),
            strategies=["spend_3", "spend_1", "none"],
            baseline="spend_3",
            objective=objective,
            replications=3,
            seed=_SEED,
            trust_code=True,
        )

    return {o: run(o) for o in ("profit", "marketing_cost")}


def test_costs_and_revenue_are_as_designed(runs):
    w = runs["profit"].runs.set_index(["replication", "strategy"])
    for r in range(3):
        rev = {s: w.loc[(r, s), "revenue"] for s in ("spend_3", "spend_1", "none")}
        assert rev["spend_3"] == rev["spend_1"] == rev["none"] > 0  # common random numbers
        assert [w.loc[(r, s), "marketing_cost"] for s in ("none", "spend_1", "spend_3")] == [
            0.0,
            1.0 * DAYS,
            3.0 * DAYS,
        ]
        assert w.loc[(r, "spend_1"), "profit"] == pytest.approx(MARGIN * rev["none"] - DAYS)


def test_the_best_strategy_wins_on_a_higher_is_better_objective(runs):
    v = runs["profit"].verdict
    assert (v["winner"], v["runner_up"]) == ("none", "spend_1")
    assert v["higher_is_better"] is True
    # winner - runner-up: exactly the 10 spent, in every replication (zero variance)
    assert v["diff"] == pytest.approx(DAYS) and v["ci"] == pytest.approx([DAYS, DAYS])
    assert v["p_value"] == 0.0 and v["significant"] is True
    text = runs["profit"].verdict_text()
    assert text.startswith("Winner on profit: none, ahead of spend_1 by 10.00")


def test_the_best_strategy_wins_on_a_lower_is_better_objective(runs):
    v = runs["marketing_cost"].verdict
    assert (v["winner"], v["runner_up"]) == ("none", "spend_1")
    assert v["higher_is_better"] is False
    assert v["diff"] == pytest.approx(-DAYS)  # winner - runner-up: 10 less spent


def test_differences_are_against_the_baseline_in_the_stated_direction(runs):
    d = runs["profit"].differences
    prof = d[d.metric == "profit"].set_index("strategy")
    assert set(prof.index) == {"spend_1", "none"} and (prof.baseline == "spend_3").all()
    # strategy - baseline: spend_1 saves 20, none saves 30
    assert prof.loc["spend_1", "diff"] == pytest.approx(2 * DAYS)
    assert prof.loc["none", "diff"] == pytest.approx(3 * DAYS)
