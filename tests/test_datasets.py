"""`lifesim datasets`: the shipped example data (listing, licence, files, no overwriting)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from lifesim import datasets
from lifesim._io import OutputPathError
from lifesim.errors import DataError

MB = 1024 * 1024


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def everything(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    written = datasets.get("all", out)
    assert sorted(p.name for p in written) == sorted(d.file for d in datasets.list_datasets())
    return out


def test_the_listing_names_every_file_and_its_licence():
    sets = datasets.list_datasets()
    names = {d.name for d in sets}
    assert {"transactions", "experiment", "experiment_daily", "telco"} <= names
    assert len({d.file for d in sets}) == len(sets)
    for d in sets:
        assert "CC0" in d.licence and d.columns and d.description and d.source
        assert d.to_dict()["licence"] == d.licence


def test_every_file_is_small(everything):
    for path in everything.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 5 * MB, path


def test_the_experiment_has_the_columns_of_the_readme_examples(everything):
    rows = _rows(everything / "experiment.csv")
    assert len(rows) == datasets.EXPERIMENT_UNITS
    need = {"variant", "converted", "revenue", "pre_revenue", "clicks", "sessions"}
    assert need | {"device", "country", "day"} <= set(rows[0])
    assert {r["variant"] for r in rows} == {"control", "treatment"}
    assert {r["converted"] for r in rows} == {"0", "1"}
    assert {int(r["day"]) for r in rows} == set(range(1, 29))
    assert all(int(r["clicks"]) <= int(r["sessions"]) for r in rows)


def test_the_daily_aggregates_add_up_to_the_experiment(everything):
    units, conv = Counter(), Counter()
    for r in _rows(everything / "experiment.csv"):
        units[r["day"], r["variant"]] += 1
        conv[r["day"], r["variant"]] += int(r["converted"])
    daily = _rows(everything / "experiment_daily.csv")
    assert len(daily) == 28 * 2
    for r in daily:
        key = (r["day"], r["variant"])
        assert int(r["units"]) == units[key] and int(r["converted"]) == conv[key], key


def test_the_transaction_log_spans_the_readme_dates(everything):
    rows = _rows(everything / "transactions.csv")
    assert len(rows) > 1000
    dates = sorted(r["date"] for r in rows)
    assert dates[0] >= "1997-01-01" and dates[-1] <= "1998-06-30"
    assert dates[0] <= "1997-09-30" < dates[-1]  # the README's cutoff lies inside
    assert all(r["customer_id"].startswith("C") and float(r["amount"]) > 0 for r in rows)


def test_the_telco_snapshot_has_one_labelled_row_per_customer(everything):
    rows = _rows(everything / "telco.csv")
    assert len(rows) == datasets.TELCO_CUSTOMERS
    assert len({r["customerID"] for r in rows}) == len(rows)
    labels = Counter(r["Churn"] for r in rows)
    assert set(labels) == {"Yes", "No"} and min(labels.values()) > len(rows) // 10


def test_the_run_folder_is_a_lifesim_run(everything):
    run = everything / "shop-run"
    assert (run / "manifest.json").is_file() and (run / "purchases.parquet").is_file()


def test_the_same_call_gives_the_same_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for name in ("experiment", "experiment_daily", "telco"):
        (fa,) = datasets.get(name, a)
        (fb,) = datasets.get(name, b)
        assert fa.read_bytes() == fb.read_bytes(), name


def test_nothing_is_replaced_or_written_when_a_target_exists(tmp_path):
    mine = tmp_path / "telco.csv"
    mine.write_text("my own data\n", encoding="utf-8")
    with pytest.raises(OutputPathError, match="telco.csv.*--overwrite"):
        datasets.get("all", tmp_path)
    assert mine.read_text(encoding="utf-8") == "my own data\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["telco.csv"]
    (written,) = datasets.get("telco", tmp_path, overwrite=True)
    assert written == mine and _rows(mine)[0]["Churn"] in ("Yes", "No")


def test_an_unknown_name_is_refused_with_the_choices():
    with pytest.raises(DataError, match="experiment_daily.*or all"):
        datasets.get("cdnow", ".")


def test_the_cli_lists_and_refuses_with_exit_2(tmp_path, monkeypatch, capsys):
    from lifesim.cli import _run

    monkeypatch.chdir(tmp_path)
    assert _run(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert out.count("licence: CC0") == len(datasets.list_datasets())
    assert _run(["datasets", "get", "experiment_daily", "--out", "data"]) == 0
    assert (tmp_path / "data" / "experiment_daily.csv").is_file()
    assert _run(["datasets", "get", "experiment_daily", "--out", "data"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert _run(["datasets", "get", "experiment_daily", "--out", "data", "--overwrite"]) == 0
    assert _run(["datasets", "get", "nope"]) == 2
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    assert _run(["datasets", "get", "telco", "--out", "afile"]) == 2
