"""Hostile data files for ``lifesim ab`` and ``lifesim churn``: refused cleanly, or read right.

Each case writes a file into an empty folder, runs the CLI through its real entry point, and
checks the exit code, that no traceback is shown, that the message names the problem, and that
nothing in the folder changed (the commands below only print).
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.robustness._inputs import fenced, refused, run, tree

_SETTINGS = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused(capsys, here, *args) -> str:
    before = tree(here)
    code, err = run(capsys, *args)
    refused(code, err)
    assert tree(here) == before
    return " ".join(err.split())


def _log(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("1997-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    return pd.DataFrame(
        {
            "customer_id": [f"{i % 20 + 1:05d}" for i in range(n)],
            "date": day.strftime("%Y-%m-%d"),
            "amount": rng.gamma(2, 10, n).round(2),
        }
    )


@_SETTINGS
@given(start=st.integers(5, 40), style=st.sampled_from(["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y"]))
def test_dates_switching_format_part_way_are_an_error_naming_rows(capsys, here, start, style):
    df = _log()
    dates = pd.to_datetime(df["date"])
    df.loc[start:, "date"] = dates[start:].dt.strftime(style)
    df.to_csv(here / "tx.csv", index=False)
    err = _refused(capsys, here, "churn", "evaluate", "tx.csv", "--cutoff", "1997-09-30")
    assert f"row {start}:" in err and "one format" in err and "--time-format" in err


def test_a_bad_time_format_is_a_clean_error(capsys, here):
    _log().to_csv(here / "tx.csv", index=False)
    err = _refused(capsys, here, "churn", "evaluate", "tx.csv", "--time-format", "%Q-%m")
    assert "--time-format '%Q-%m'" in err and "strftime" in err


def test_out_of_range_dates_are_a_clean_error(capsys, here):
    df = _log()
    df.loc[3, "date"] = "9999-12-31"
    df.loc[7, "date"] = "0001-01-01"
    df.to_csv(here / "tx.csv", index=False)
    err = _refused(capsys, here, "churn", "evaluate", "tx.csv", "--cutoff", "1997-09-30")
    assert "row 3: '9999-12-31'" in err and "out of range" in err and "2261-12-31" in err


def test_out_of_range_day_numbers_are_a_clean_error(capsys, here):
    df = _log().assign(date=np.arange(60))
    df.loc[5, "date"] = 10**15
    df.to_csv(here / "tx.csv", index=False)
    err = _refused(capsys, here, "churn", "evaluate", "tx.csv", "--cutoff", "30")
    assert "out of range" in err and "row 5" in err


def _analyze(capsys, *args) -> dict:
    from lifesim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["ab", "analyze", *args, "--format", "json"])
    out = capsys.readouterr()
    assert not exc.value.code, out.err
    return json.loads(out.out)


def test_churn_ids_are_text_never_numbers(capsys, here):
    df = _log(80)
    df.loc[df["customer_id"] == "00002", "customer_id"] = "2"  # '2' and '00001' are not 2 and 1
    df.loc[df["customer_id"] == "00003", "customer_id"] = "01"
    df.loc[df["customer_id"] == "00004", "customer_id"] = "1"
    df.to_csv(here / "tx.csv", index=False)
    from lifesim.churn import prepare

    ids = set(prepare(here / "tx.csv").customers)
    assert {"00001", "2", "01", "1"} <= ids and len(ids) == 20


def test_cdnow_ids_keep_their_zeros(here):
    lines = ["00001 19970101 1 11.77", "00002 19970112 1 12.00", "00001 19970115 2 20.00"]
    lines += [f"{i:05d} 199702{i % 27 + 1:02d} 1 {i}.5" for i in range(3, 40)]
    (here / "cdnow.txt").write_text("\n".join(["customer date n amount", *lines]) + "\n")
    from lifesim.churn import prepare

    log = prepare(here / "cdnow.txt", date_hint=True)
    assert list(log.customers[:2]) == ["00001", "00002"] and log.time_kind == "date"


def test_ab_arms_made_of_digits_stay_distinct_and_labels_are_stripped(capsys, here):
    n = 200
    df = pd.DataFrame({"arm": np.where(np.arange(n) % 2, "0", "00"), "y": np.arange(n) % 3})
    df.loc[:9, "arm"] = df.loc[:9, "arm"].map(lambda a: f" {a} ")  # white space: same arm
    df.to_csv(here / "ab.csv", index=False)
    res = _analyze(capsys, "ab.csv", "--arm", "arm", "--control", "0", "--mean", "y")
    assert res["n"] == {"0": 100, "00": 100}


@pytest.mark.parametrize("outcome", [("Yes", "No"), ("y", "n"), ("YES", "no")])
def test_yes_no_outcomes_are_proportions_in_ab(capsys, here, outcome):
    n = 100
    df = pd.DataFrame({"arm": np.where(np.arange(n) % 2, "A", "B")})
    df["bought"] = np.where(np.arange(n) % 3 == 0, *outcome)
    df.to_csv(here / "ab.csv", index=False)
    res = _analyze(capsys, "ab.csv", "--arm", "arm", "--control", "A", "--proportion", "bought")
    assert res["n"] == {"A": 50, "B": 50}
    assert res["results"][0]["kind"] == "proportion"


def test_duplicate_column_names_are_an_error(capsys, here):
    (here / "ab.csv").write_text("arm,x,x\nA,1,2\nB,3,4\n")
    err = _refused(capsys, here, "ab", "analyze", "ab.csv", "--arm", "arm", "--mean", "x")
    assert "duplicate column names ('x')" in err
    (here / "tx.csv").write_text("customer_id,date,amount,amount\n1,1997-01-01,1,2\n")
    err = _refused(capsys, here, "churn", "evaluate", "tx.csv")
    assert "duplicate column names ('amount')" in err


def test_a_gzip_bomb_is_refused_with_bounded_memory(here):
    with gzip.open(here / "bomb.csv.gz", "wb", compresslevel=1) as f:
        f.write(b"arm,x\n")
        row = b"a,1\n" * (1 << 18)
        for _ in range(2400):  # 2.5 GB inflated, about 12 MB on disk
            f.write(row)
    before = tree(here)
    code, err = fenced("ab", "analyze", "bomb.csv.gz", "--arm", "arm", "--mean", "x", cwd=here)
    refused(code, err, "bomb.csv.gz", "inflates to more than", "allowed: at most")
    assert tree(here) == before
