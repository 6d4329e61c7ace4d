"""The Python API as a notebook user meets it: wrong argument types get a ConfigError that
names the argument, the value and what is allowed (not a TypeError from deep inside)."""

from __future__ import annotations

import re

import pytest

import lifesim
from lifesim.errors import ConfigError


@pytest.mark.parametrize("bad", [5, [1], 2.5])
def test_a_scenario_of_the_wrong_type_is_named(bad):
    # before: TypeError: expected str, bytes or os.PathLike object, not int
    with pytest.raises(ConfigError, match=r"scenario: must be a Scenario, a mapping, a YAML"):
        lifesim.load_scenario(bad)
    with pytest.raises(ConfigError, match=re.escape(f"got {bad!r}")):
        lifesim.simulate(bad, customers=10, days=2)
