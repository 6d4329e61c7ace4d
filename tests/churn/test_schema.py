"""Bad input gets a DataError naming the column/option, the bad values and what is allowed."""

import pandas as pd
import pytest

from lifesim.churn import TransactionSchema, build_dataset, prepare, read_table
from lifesim.errors import DataError


def _df(**over):
    d = {
        "customer_id": [1, 1, 2, 3],
        "date": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-06-30"],
        "amount": [10.0, 20.0, 5.0, 1.0],
    }
    d.update(over)
    return pd.DataFrame(d)


def test_missing_column_is_named_with_the_option_and_the_columns():
    with pytest.raises(DataError, match=r"'amt'.*--amount-col.*'customer_id', 'date', 'amount'"):
        prepare(_df(), schema=TransactionSchema(amount="amt"))


def test_undetectable_column_says_what_was_tried():
    df = _df().rename(columns={"customer_id": "who"})
    msg = r"no customer column found \(tried customer_id.*--customer-col"
    with pytest.raises(DataError, match=msg):
        prepare(df)


def test_unparseable_dates_show_examples():
    df = _df(date=["2024-01-01", "yesterday", "2024-13-45", "2024-06-30"])
    msg = r"time column 'date': 2 value\(s\) are not dates.*'yesterday'"
    with pytest.raises(DataError, match=msg):
        prepare(df)


def test_negative_amounts_show_examples_and_the_rule():
    with pytest.raises(DataError, match=r"amount column 'amount': 1 negative.*\(e\.g\. -5\).*>= 0"):
        prepare(_df(amount=[10.0, 20.0, -5.0, 1.0]))


def test_non_numeric_amounts():
    with pytest.raises(DataError, match=r"'amount'.*not numbers.*'ten'"):
        prepare(_df(amount=["10", "ten", "5", "1"]))


def test_missing_customer_and_time():
    with pytest.raises(DataError, match=r"customer column 'customer_id': 1 missing"):
        prepare(_df(customer_id=[1, None, 2, 3]))
    with pytest.raises(DataError, match=r"time column 'date': 1 missing"):
        prepare(_df(date=["2024-01-01", None, "2024-03-01", "2024-06-30"]))


@pytest.mark.parametrize("cutoff", ["2023-12-01", "2024-06-30", "2025-01-01"])
def test_cutoff_outside_the_data(cutoff):
    log = prepare(_df())
    msg = rf"cutoff == '{cutoff}' is outside the data.*2024-01-01 to 2024-06-30"
    with pytest.raises(DataError, match=msg):
        build_dataset(log, cutoff, 30)


def test_horizon_past_the_end_says_what_fits():
    log = prepare(_df())
    with pytest.raises(
        DataError, match=r"horizon_days == 200.*runs past the end.*2024-06-30.*horizon_days <= 151"
    ):
        build_dataset(log, "2024-01-31", 200)


@pytest.mark.parametrize("h", [0, -3, 2.5, 30.0, True, "30"])
def test_horizon_must_be_a_positive_integer(h):
    with pytest.raises(DataError, match=rf"horizon_days: must be a whole number >= 1, got {h!r}"):
        build_dataset(prepare(_df()), "2024-01-31", h)


def test_cutoff_of_the_wrong_kind():
    log = prepare(_df(date=[0, 5, 9, 30]))
    assert log.time_kind == "day"
    with pytest.raises(DataError, match=r"cutoff == '2024-01-01'.*integer day numbers"):
        build_dataset(log, "2024-01-01", 5)
    with pytest.raises(DataError, match=r"cutoff == 'soon': not a date"):
        build_dataset(prepare(_df()), "soon", 5)


def test_yyyymmdd_integers_are_dates_whatever_the_cutoff():
    # all valid YYYYMMDD dates: dates, with or without a date cutoff (they were day numbers
    # without one: 20240131 -> 20240201 was 70 "days")
    df = _df(date=[20240101, 20240201, 20240301, 20240630])
    for log in (prepare(df), prepare(df, date_hint=True)):
        assert log.time_kind == "date" and log.format_day(log.last_day) == "2024-06-30"
        assert log.last_day - log.first_day == 181  # 2024 is a leap year: 31+29+31+30+31+29
    log = prepare(df, schema=TransactionSchema(time_format="%Y%m%d"))
    assert log.time_kind == "date"
    # a cutoff as the column writes it, an int or its digits, or ISO: the same day
    assert log.parse_time(20240201) == log.parse_time("20240201") == log.parse_time("2024-02-01")
    assert log.parse_time(20240201) - log.first_day == 31
    with pytest.raises(DataError, match=r"cutoff == 20240230: not a date.*YYYY-MM-DD or YYYYMMDD"):
        log.parse_time(20240230)
    # "19970132" is no date: consecutive day numbers in that range stay day numbers
    days = _df(date=[19970130, 19970131, 19970132, 19970133])
    assert prepare(days).time_kind == "day"
    assert prepare(days).last_day - prepare(days).first_day == 3
    # a Feb 29 of a year that has none is no date either
    assert prepare(_df(date=[20230101, 20230201, 20230229, 20230301])).time_kind == "day"
    # a date cutoff insists on dates and names the row that is none
    msg = (
        r"'date': 2 value\(s\) are not dates in the format '%Y%m%d' \(YYYYMMDD integers"
        r".*row 2: '19970132', row 3: '19970133'"
    )
    with pytest.raises(DataError, match=msg):
        prepare(days, date_hint=True)


def test_empty_log_and_observed_until():
    with pytest.raises(DataError, match="empty"):
        prepare(_df().iloc[:0])
    with pytest.raises(DataError, match=r"observed_until == '2024-01-15' is before the last row"):
        prepare(_df(), observed_until="2024-01-15")
    log = prepare(_df(), observed_until="2024-12-31")
    assert log.format_day(log.last_day) == "2024-12-31"


def test_read_table_formats(tmp_path):
    df = _df()
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    df.to_csv(tmp_path / "t.txt", sep=" ", index=False)
    for name in ("t.csv", "t.parquet", "t.txt"):
        back = read_table(tmp_path / name)
        assert list(back.columns) == list(df.columns) and len(back) == 4
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="cannot read"):
        read_table(tmp_path / "bad.parquet")


def test_timezones_keep_the_local_calendar_day():
    times = ["2024-01-01 23:30", "2024-02-01 00:00", "2024-03-01 00:00", "2024-06-30 00:00"]
    df = _df(date=pd.to_datetime(times).tz_localize("Europe/Warsaw"))
    log = prepare(df)
    assert log.format_day(log.first_day) == "2024-01-01"
