import json

import pytest
from typer.testing import CliRunner

from lifesim.cli import app
from tests._cli import run

runner = CliRunner()


def test_simulate_json_has_the_contract_keys(configs_dir):
    r = run(
        "simulate",
        str(configs_dir / "reference.yaml"),
        "--customers",
        "2000",
        "--days",
        "30",
        "--seed",
        "5",
        "--format",
        "json",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"stage_counts", "revenue_total", "customers", "days", "seed"} <= set(d)
    assert d["customers"] == 2000 and d["days"] == 30 and d["seed"] == 5
    # the same run through the Python API: the CLI passed seed, size and horizon through
    import lifesim

    api = lifesim.simulate(configs_dir / "reference.yaml", seed=5, customers=2000, days=30)
    assert d["stage_counts"] == api.to_dict()["stage_counts"]
    assert d["revenue_total"] == pytest.approx(api.revenue_total, rel=1e-12)
    other = lifesim.simulate(configs_dir / "reference.yaml", seed=6, customers=2000, days=30)
    assert other.revenue_total != api.revenue_total  # the comparison can tell seeds apart


def test_simulate_table_and_run_folder(tmp_path, configs_dir):
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "simulate",
            str(configs_dir / "reference.yaml"),
            "--customers",
            "500",
            "--days",
            "20",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "churn rate" in res.output and "awareness" in res.output
    assert (out / "manifest.json").exists() and (out / "events.parquet").exists()


def test_simulate_without_config_runs_the_embedded_default():
    r = run("simulate", "--customers", "300", "--days", "5", "--format", "json", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["customers"] == 300


def test_validate_ok_and_bad(tmp_path, configs_dir):
    r = run("validate", str(configs_dir / "reference.yaml"))
    assert r.returncode == 0 and r.stdout.startswith("OK")
    bad = tmp_path / "bad.yaml"
    text = (
        (configs_dir / "reference.yaml")
        .read_text()
        .replace("purchase: {p: 0.03", "purchase: {p: 1.7")
    )
    bad.write_text(text)
    r = run("validate", str(bad))
    assert r.returncode == 2
    assert "stages.consideration.to.purchase.p: must be in [0, 1], got 1.7" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["simulate", "nope.yaml"], "scenario file not found: nope.yaml"),
        (["simulate", "--customers", "-5"], "customers: must be a whole number >= 1, got -5"),
        (["simulate", "--format", "xml"], "'--format': 'xml' is not one of 'table', 'json'"),
        (["simulate", "--seed", "abc"], "'--seed': must be a whole number, got 'abc'"),
        (["simulate", "--customers=1e5"], "'--customers': must be a whole number, got '1e5'"),
        (["ab", "power", "--baseline", "x"], "'--baseline': must be a number, got 'x'"),
        (["validate"], "Missing argument"),
    ],
)
def test_bad_input_exits_2_without_traceback(args, words):
    r = run(*args, "--no-progress") if args[0] == "simulate" else run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "Value error" not in r.stderr
    assert "Input should be" not in r.stderr
