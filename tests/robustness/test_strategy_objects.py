"""A strategy passed as an object must have a name, tactics() and decide(view)."""

from __future__ import annotations

import numpy as np
import pytest

import lifesim
from lifesim.errors import ConfigError


class _NoDecide:
    name = "half"

    def tactics(self):
        return set()


@pytest.mark.parametrize(
    "bad, missing",
    [(object(), "name, tactics, decide"), (5, "name, tactics, decide"), (_NoDecide(), "decide")],
)
def test_an_object_that_is_no_strategy_is_refused_naming_what_it_lacks(bad, missing):
    with pytest.raises(ConfigError) as e:
        lifesim.simulate(customers=10, days=2, strategy=bad)
    text = str(e.value)
    assert text.startswith("strategy: got ") and f"has no {missing};" in text
    assert "tactics() and decide(view)" in text


def test_an_object_with_the_three_members_runs():
    class Quiet:
        name = "quiet"

        def tactics(self):
            return set()

        def decide(self, view):
            pass

    res = lifesim.simulate(customers=10, days=2, strategy=Quiet(), seed=1)
    assert res.stage_counts.iloc[-1].sum() == 10


@pytest.mark.parametrize("ids", [[0, 10**9], [-1, 3]])
def test_contacting_someone_outside_the_market_is_refused_naming_the_range(ids):
    class Stray:
        name = "stray"

        def tactics(self):
            return {"newsletter"}

        def decide(self, view):
            view.contact("newsletter", np.array(ids), 1e9)

    with pytest.raises(
        ValueError,
        match=r"people are numbers 0 to 49 .* got " + str(ids[0] if ids[0] < 0 else ids[1]),
    ):
        lifesim.simulate(customers=50, days=2, strategy=Stray())


def test_uplift_targeting_in_a_market_without_moves_ranks_by_the_purchase_lift():
    seg = {"propensity": {"dist": "constant", "value": 1.0}}
    seg["order_value"] = {"dist": "constant", "value": 10.0}
    scn = {
        "name": "still",
        "days": 10,
        "market": {"size": 30, "initial": "a"},
        "stages": {"a": {"kind": "customer", "buy": {"p": 0.1}}},  # no move anywhere
        "segments": {"all": seg},
        "tactics": {"mail": {"stages": ["a"], "buy": 2.0, "cost": {"per_contact": 0.1}}},
        "budget": {"per_period": 100.0, "period_days": 10},
        "strategies": {"up": {"type": "stage_focused", "execution": {"targeting": "uplift"}}},
    }
    res = lifesim.simulate(scn, strategy="up", seed=1)  # was IndexError in the uplift model
    assert int(res.tactics.set_index("tactic").loc["mail", "contacts"]) > 0
