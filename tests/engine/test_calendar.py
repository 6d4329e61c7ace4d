"""Seasonality: the scenario's calendar multiplies repeat-purchase probabilities by day of the
week and month of the year."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import lifesim
from lifesim.config import load_scenario
from lifesim.config.scenario import Calendar
from lifesim.engine.exact import expected_path


def test_the_factor_of_each_day_follows_the_dates():
    cal = Calendar(start="2026-01-01", day_of_week={"Thu": 2.0, "Sun": 0.5}, month={"Feb": 3.0})
    f = cal.factors(70)
    for d in range(70):
        date = dt.date(2026, 1, 1) + dt.timedelta(days=d)
        want = {3: 2.0, 6: 0.5}.get(date.weekday(), 1.0) * (3.0 if date.month == 2 else 1.0)
        assert f[d] == want, (d, date)
    assert cal.largest() == 6.0 and cal.seasonal
    assert not Calendar().seasonal and not Calendar(start="2026-01-01", month={"Mar": 1}).seasonal


def _buyers(calendar=None):
    d = load_scenario("configs/reference.yaml").model_dump(mode="json")
    d["market"]["initial"] = "retention"  # everyone buys from day 0
    d["days"] = 56
    if calendar is not None:
        d["calendar"] = calendar
    return d


def test_purchases_follow_the_calendar_as_the_exact_expectation_says(global_seed):
    # 2026-06-01 is a Monday; Sunday closed, Saturday busy, July quieter
    cal = {"start": "2026-06-01", "day_of_week": {"Sat": 2.5, "Sun": 0.0}, "month": {"Jul": 0.6}}
    scn = _buyers(cal)
    n = 50_000
    res = lifesim.simulate(scn, seed=global_seed, customers=n, record_events=False)
    day = res.purchases["day"].to_numpy()
    repeat = np.bincount(day, minlength=56)  # moves into retention make no order here
    exact = expected_path(scn).orders * n
    sundays = np.arange(6, 56, 7)
    assert (repeat[sundays] == 0).all()
    # each day's order count is a sum of independent Bernoullis: variance <= mean
    z = (repeat - exact) / np.sqrt(np.maximum(exact, 1.0))
    assert np.abs(z).max() < 5, z.round(1)
    # and the check has power: without the calendar the Saturdays are far off
    plain = expected_path(_buyers()).orders * n
    saturdays = np.arange(5, 28, 7)  # June
    assert (np.abs(repeat[saturdays] - plain[saturdays]) / np.sqrt(plain[saturdays]) > 5).all()


def test_a_calendar_of_ones_changes_nothing(global_seed):
    base = lifesim.simulate(_buyers(), seed=global_seed, customers=3000, days=40)
    ones = _buyers({"start": "2026-01-01", "day_of_week": {"Mon": 1.0}})
    same = lifesim.simulate(ones, seed=global_seed, customers=3000, days=40)
    np.testing.assert_array_equal(base.purchases["amount"], same.purchases["amount"])


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ({"day_of_week": {"Mon": 2.0}}, r"calendar.*start: required"),
        ({"start": "2026-01-01", "day_of_week": {"Monday": 2.0}}, r"calendar\.day_of_week.*Mon"),
        ({"start": "2026-01-01", "month": {"Jan": -1.0}}, r"calendar\.month\.Jan"),
        ({"start": "2026-13-01", "month": {"Jan": 1.0}}, r"calendar\.start"),
        # retention buys with p = 0.03 x propensity up to 4: a factor of 9 makes 1.08
        ({"start": "2026-01-01", "month": {"Dec": 9.0}}, r"stages\.retention\.buy\.p.*calendar"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_field(calendar, message):
    with pytest.raises(lifesim.ConfigError, match=message):
        load_scenario(_buyers(calendar))
