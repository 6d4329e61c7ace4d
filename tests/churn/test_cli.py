"""`lifesim churn evaluate|train|score`: the contract of issue 4."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifesim.cli import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out = capsys.readouterr()
    return exc.value.code or 0, out.out, out.err


@pytest.fixture(scope="module")
def csv(tmp_path_factory, synth):
    """The synthetic log as a dated CSV export with analyst column names."""
    path = tmp_path_factory.mktemp("churn") / "transactions.csv"
    df = synth.rename(columns={"customer_id": "cid", "amount": "value"})
    df["date"] = (pd.Timestamp("2023-01-01") + pd.to_timedelta(df.pop("day"), unit="D")).dt.date
    df.to_csv(path, index=False)
    return path


COLS = ["--customer-col", "cid", "--time-col", "date", "--amount-col", "value"]


def test_evaluate_json_has_the_contract_keys(capsys, csv):
    code, out, _ = run(
        capsys,
        "churn",
        "evaluate",
        str(csv),
        *COLS,
        "--cutoff",
        "2023-09-01",
        "--horizon-days",
        "120",
        "--format",
        "json",
        "--n-splits",
        "3",
    )
    assert code == 0
    d = json.loads(out)
    for k in [
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "top_decile_lift",
        "churn_rate",
        "n_customers",
    ]:
        assert isinstance(d[k], float | int) and k in d["baseline"]
    assert d["definition"]["text"].startswith("churned = no purchase in (2023-09-01, 2023-12-30]")


def test_evaluate_table_prints_the_definition(capsys, csv):
    code, out, _ = run(
        capsys,
        "churn",
        "evaluate",
        str(csv),
        *COLS,
        "--cutoff",
        "2023-09-01",
        "--horizon-days",
        "120",
        "--validation",
        "time",
        "--model-kind",
        "logistic",
    )
    assert code == 0
    assert out.startswith("churn definition: churned = no purchase in (2023-09-01")
    assert "train at 2023-05-04, test at 2023-09-01" in out and "roc_auc" in out


def test_train_then_score(capsys, csv, tmp_path):
    model = tmp_path / "model.skops"
    code, out, _ = run(
        capsys,
        "churn",
        "train",
        str(csv),
        *COLS,
        "--cutoff",
        "2023-09-01",
        "--horizon-days",
        "120",
        "--out",
        str(model),
        "--model-kind",
        "logistic",
    )
    assert code == 0 and model.exists() and "training definition: churned" in out
    scores = tmp_path / "scores.csv"
    code, out, _ = run(
        capsys,
        "churn",
        "score",
        str(csv),
        *COLS,
        "--model",
        str(model),
        "--out",
        str(scores),
        "--format",
        "json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["n_customers"] > 1000 and "P(churn in (2024-02-04, +120 days])" in d["definition"]
    s = pd.read_csv(scores)
    assert list(s.columns[:3]) == ["cid", "churn_probability", "rank"]
    assert s["churn_probability"].between(0, 1).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--amount-col", "price"], "column 'price' (amount, --amount-col) not found"),
        (["--cutoff", "2030-01-01"], "cutoff == '2030-01-01' is outside the data"),
        (["--cutoff", "2023-12-01", "--horizon-days", "200"], "runs past the end of the data"),
        (["--cutoff", "someday"], "cutoff == 'someday': not a date"),
    ],
)
def test_bad_input_exits_2_without_traceback(capsys, csv, args, message):
    base = ["--customer-col", "cid", "--time-col", "date"]
    if "--amount-col" not in args:
        base += ["--amount-col", "value"]
    code, out, err = run(capsys, "churn", "evaluate", str(csv), *base, *args)
    assert code == 2
    assert message in " ".join(err.split()) and "Traceback" not in err


def test_bad_data_files_exit_2(capsys, tmp_path):
    bad = tmp_path / "neg.csv"
    pd.DataFrame({"customer_id": [1, 2], "date": ["2024-01-01", "x"], "amount": [1, -2]}).to_csv(
        bad, index=False
    )
    code, _, err = run(capsys, "churn", "evaluate", str(bad))
    assert code == 2 and "not dates" in err and "'x'" in err
    code, _, err = run(capsys, "churn", "evaluate", str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "churn", "score", str(bad), "--model", str(bad))
    assert code == 2 and "not a skops model file" in err


def test_snapshot_mode(capsys, tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    tenure = rng.integers(0, 72, n)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
    p = 1 / (1 + np.exp(-(1.0 - tenure / 20 + 1.5 * (contract == "Month-to-month"))))
    df = pd.DataFrame(
        {
            "customerID": [f"C{i:04d}" for i in range(n)],
            "tenure": tenure,
            "Contract": contract,
            "TotalCharges": np.where(tenure == 0, " ", (tenure * 50.0).astype(str)),
            "Churn": np.where(rng.random(n) < p, "Yes", "No"),
        }
    )
    path = tmp_path / "telco.csv"
    df.to_csv(path, index=False)
    code, out, _ = run(
        capsys,
        "churn",
        "evaluate",
        str(path),
        "--label",
        "Churn",
        "--id",
        "customerID",
        "--format",
        "json",
        "--n-splits",
        "3",
    )
    assert code == 0
    d = json.loads(out)
    assert d["roc_auc"] > 0.7 and d["baseline"]["name"] == "tenure"
    assert d["definition"]["text"].startswith("snapshot")
    model = tmp_path / "m.skops"
    code, _, _ = run(
        capsys,
        "churn",
        "train",
        str(path),
        "--label",
        "Churn",
        "--id",
        "customerID",
        "--out",
        str(model),
    )
    assert code == 0
    code, out, _ = run(
        capsys, "churn", "score", str(path), "--model", str(model), "--format", "json"
    )
    assert code == 0 and json.loads(out)["n_customers"] == n
    code, _, err = run(capsys, "churn", "evaluate", str(path), "--label", "Contract")
    assert code == 2 and "cannot tell churned from stayed" in err and "--positive" in err


def test_simulator_run_folder_contractual(capsys, tmp_path):
    import lifesim

    res = lifesim.simulate(
        Path(__file__).resolve().parents[2] / "configs" / "reference.yaml",
        seed=2,
        customers=2000,
        days=365,
    )
    res.save(tmp_path / "run")
    code, out, _ = run(
        capsys,
        "churn",
        "evaluate",
        str(tmp_path / "run"),
        "--mode",
        "contractual",
        "--cutoff",
        "250",
        "--horizon-days",
        "100",
        "--format",
        "json",
        "--n-splits",
        "3",
        "--model-kind",
        "logistic",
        "--no-progress",
    )
    assert code == 0
    d = json.loads(out)
    assert d["definition"]["mode"] == "contractual" and d["definition"]["end"] == "day 350"
    assert d["n_customers"] > 100
