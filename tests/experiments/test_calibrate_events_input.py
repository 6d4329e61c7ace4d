"""calibrate --events: an event log that cannot give one observed move is refused, not ignored."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from lifesim.churn import TransactionSchema
from lifesim.errors import DataError
from lifesim.experiments.calibration import calibrate

# the check runs before any fit: a few purchases are enough
TX = pd.DataFrame(
    {
        "customer": [1, 1, 2, 2, 3],
        "day": [0, 5, 1, 8, 3],
        "amount": [10.0, 12.0, 8.0, 9.0, 20.0],
    }
)
EVENTS = pd.DataFrame(
    {"customer": [1, 1, 2], "day": [0, 4, 1], "stage": ["awareness", "purchase", "awareness"]}
)


def _calibrate(events, schema=None):
    return calibrate(TX, cutoff=8, draws=10, forecast_draws=10, events=events, schema=schema)


@pytest.mark.parametrize(
    "events, schema, message",
    [
        # no stage column: every row would have been dropped without a word
        (EVENTS.drop(columns="stage"), None, "no stage column"),
        (EVENTS.rename(columns={"stage": "status"}), None, "no stage column"),
        # a header and no rows
        (EVENTS.iloc[:0], None, "no rows with a stage in column 'stage'"),
        # a column that is not stages (the dates): hundreds of 'not written' moves before
        (EVENTS, TransactionSchema(stage="day"), "column 'day' (stage, --stage-col) holds none"),
    ],
)
def test_an_event_log_that_gives_no_move_is_refused(events, schema, message):
    with pytest.raises(DataError) as err:
        _calibrate(events, schema)
    assert message in str(err.value)


def test_stage_names_the_scenario_partly_knows_are_still_read():
    # 'lead' is not a stage of the scenario: reported as not written, not an error
    ev = pd.concat([EVENTS, pd.DataFrame({"customer": [3], "day": [3], "stage": ["lead"]})])
    with pytest.raises(DataError) as err:  # the five purchases are too few to fit: past the check
        _calibrate(ev)
    assert "repeat buyers" in str(err.value)


def test_cli_stage_col_that_is_not_stages_exits_2_naming_the_flag(tmp_path):
    tx, ev = tmp_path / "tx.csv", tmp_path / "ev.csv"
    TX.to_csv(tx, index=False)
    EVENTS.to_csv(ev, index=False)
    out = tmp_path / "run"
    cmd = [sys.executable, "-c", "from lifesim.cli import main; main()", "calibrate", str(tx)]
    cmd += ["--events", str(ev), "--stage-col", "day", "--out", str(out), "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "--stage-col" in r.stderr and "'day'" in r.stderr and "awareness" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_a_column_missing_from_both_tables_lists_the_events_columns_too():
    with pytest.raises(DataError) as err:
        _calibrate(EVENTS, TransactionSchema(stage="nope"))
    msg = str(err.value)
    assert "column 'nope' (stage, --stage-col) not found in the transactions or events" in msg
    assert "'amount'; events: 'customer', 'day', 'stage'" in msg


def test_event_col_naming_a_column_of_the_events_points_to_stage_col():
    # --event-col is read from the transactions; the message said 'not found' and listed
    # only the transactions' columns although the events have it
    with pytest.raises(DataError) as err:
        _calibrate(EVENTS, TransactionSchema(event="stage", churn_events=("churned",)))
    msg = str(err.value)
    assert "column 'stage' (event, --event-col) is in the events" in msg
    assert "--stage-col stage" in msg


def test_events_running_past_the_purchases_cannot_move_the_cutoff_beyond_them():
    # the events end on day 40, the purchases on day 8: the default cutoff (the log's last
    # day) would have treated days 9-40 as 32 days without purchases for every customer
    late = pd.concat([EVENTS, pd.DataFrame({"customer": [2], "day": [40], "stage": ["purchase"]})])
    with pytest.raises(DataError) as err:
        calibrate(TX, draws=10, forecast_draws=10, events=late)
    msg = str(err.value)
    assert "cutoff == 'day 40' (by default the last day of the log" in msg
    assert "transactions (day 8)" in msg and "up to day 8 (--cutoff)" in msg
    with pytest.raises(
        DataError, match=r"holdout_end == 'day 12' is after .* day 8 \(--holdout-end"
    ):
        calibrate(TX, cutoff=5, holdout_end=12, draws=10, forecast_draws=10, events=late)
    with pytest.raises(DataError, match="repeat buyers"):  # within the purchases: past the check
        calibrate(TX, cutoff=8, draws=10, forecast_draws=10, events=late)


def test_an_events_time_column_that_does_not_parse_says_it_is_the_events():
    # both tables' time columns are usually named alike: the message named 'day' only
    ev = EVENTS.assign(day=["1997-01-01", "1997-01-05", "1997-01-02"])
    tx = TX.assign(day=["19970101", "19970106", "19970102", "19970109", "19970104"])
    schema = TransactionSchema(time_format="%Y%m%d")
    with pytest.raises(DataError) as err:
        calibrate(tx, draws=10, forecast_draws=10, events=ev, schema=schema)
    assert str(err.value).startswith("events: time column 'day': 3 value(s) are not dates")
