"""One message format for scalar checks: ``name: must be <allowed>, got <value>``."""

import numpy as np
import pytest

from lifesim._checks import check_choice, check_int, check_jobs, check_number, check_prob
from lifesim.errors import ConfigError, DataError


@pytest.mark.parametrize(
    "value, message",
    [
        (1, "replications: must be a whole number >= 2, got 1"),
        (1.5, "replications: must be a whole number >= 2, got 1.5"),
        (2.0, "replications: must be a whole number >= 2, got 2.0"),
        (True, "replications: must be a whole number >= 2, got True"),
        ("3", "replications: must be a whole number >= 2, got '3'"),
        (None, "replications: must be a whole number >= 2, got None"),
        (100_001, "replications: must be <= 100,000, got 100001"),
    ],
)
def test_check_int_names_the_parameter_the_value_and_what_is_allowed(value, message):
    with pytest.raises(ConfigError) as e:
        check_int("replications", value, min=2, max=100_000)
    assert str(e.value) == message
    assert e.value.problems == [("replications", message.removeprefix("replications: "))]


def test_check_int_returns_a_python_int_and_accepts_the_bounds():
    for v in (2, 100_000, np.int64(7)):
        out = check_int("replications", v, min=2, max=100_000)
        assert out == v and type(out) is int
    assert check_int("n", -5) == -5  # no bounds: any whole number


def test_other_error_classes_get_the_same_text():
    with pytest.raises(DataError, match=r"^n_splits: must be a whole number >= 2, got 1$"):
        check_int("n_splits", 1, min=2, error=DataError)
    with pytest.raises(ValueError, match=r"^alpha: must be in \(0, 1\), got 1.5$"):
        check_prob("alpha", 1.5, error=ValueError)


@pytest.mark.parametrize("value", [0, -2, 1.0, True, "all"])
def test_check_jobs_refuses(value):
    with pytest.raises(ConfigError, match=r"^jobs: must be >= 1 or -1 \(all cores\), got "):
        check_jobs("jobs", value)


def test_check_jobs_accepts():
    assert [check_jobs("jobs", v) for v in (1, 4, -1)] == [1, 4, -1]


@pytest.mark.parametrize("value", [0, 1, -0.1, float("nan"), True, "0.5", None])
def test_check_prob_open_interval_refuses(value):
    with pytest.raises(ConfigError, match=r"^alpha: must be in \(0, 1\), got "):
        check_prob("alpha", value)


def test_check_prob_and_number_bounds():
    assert check_prob("alpha", 0.05) == 0.05
    assert check_prob("share", 0, closed="both") == 0.0
    assert check_prob("share", 1, closed="right") == 1.0
    with pytest.raises(ConfigError, match=r"share: must be in \(0, 1\], got 0"):
        check_prob("share", 0, closed="right")
    with pytest.raises(ConfigError, match=r"rate: must be >= 0, got -1"):
        check_number("rate", -1, low=0, closed="left")
    with pytest.raises(ConfigError, match=r"rate: must be < 3, got 3"):
        check_number("rate", 3, high=3)
    with pytest.raises(ConfigError, match=r"rate: must be a number, got 'x'"):
        check_number("rate", "x")
    with pytest.raises(ValueError, match="closed == 'open'"):
        check_number("rate", 1, closed="open")


def test_check_choice():
    assert check_choice("design", "market", ("person", "market")) == "market"
    with pytest.raises(ConfigError, match=r"^design: must be 'person' or 'market', got 'city'$"):
        check_choice("design", "city", ("person", "market"))
    with pytest.raises(ConfigError, match=r"^mode: must be 'a', got 'b'$"):
        check_choice("mode", "b", ["a"])
    with pytest.raises(ConfigError, match=r"^mode: must be one of 'a', 'b', 'c', got 'd'$"):
        check_choice("mode", "d", "abc")
