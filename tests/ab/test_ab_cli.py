"""`lifesim ab analyze` and `lifesim ab power` as a user runs them."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lifesim import ab
from lifesim.cli import app

runner = CliRunner()

RESULT_KEYS = {
    "metric", "kind", "arm", "control", "control_value", "arm_value", "abs_effect", "abs_ci",
    "rel_effect", "rel_ci", "p_value", "p_adjusted", "covariate", "method",
}  # fmt: skip


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    rng = np.random.default_rng(11)
    n = 3000
    arm = rng.choice(["control", "treatment", "v2"], n)
    pre = rng.gamma(2, 10, n)
    df = pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": arm,
            "converted": (rng.random(n) < 0.1).astype(int),
            "signed_up": rng.random(n) < 0.3,
            "revenue": 0.8 * pre + rng.normal(0, 4, n),
            "pre_revenue": pre,
            "clicks": rng.poisson(2, n),
            "sessions": rng.poisson(3, n) + 1,
        }
    )
    d = tmp_path_factory.mktemp("ab")
    df.to_parquet(d / "results.parquet")
    df.to_csv(d / "results.csv", index=False)
    return d, df


def cli(*args):
    return runner.invoke(app, ["ab", *map(str, args)])


def main(*args):
    """The real console entry point, in a subprocess (exit code, stderr as users see them)."""
    return subprocess.run(
        [sys.executable, "-c", "from lifesim.cli import main; main()", "ab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


ISSUE_ARGS = [
    "--arm", "variant", "--control", "control", "--proportion", "converted", "--mean", "revenue",
    "--covariate", "revenue=pre_revenue", "--ratio", "clicks/sessions",
]  # fmt: skip


def test_issue_example_table(export):
    d, _ = export
    r = cli("analyze", d / "results.parquet", *ISSUE_ARGS, "--format", "table")
    assert r.exit_code == 0, r.output
    for word in ("converted", "revenue (CUPED: pre_revenue)", "clicks/sessions", "SRM check",
                 "Welch", "pooled SE", "delta method", "Conventions", "p adj (holm)"):  # fmt: skip
        assert word in r.output


def test_json_contract_and_same_numbers_as_the_api(export):
    d, df = export
    r = cli("analyze", d / "results.csv", *ISSUE_ARGS, "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["n"] == df.variant.value_counts()[["control", "treatment", "v2"]].to_dict()
    assert set(out["srm"]) >= {"p_value", "observed", "expected_shares", "mismatch"}
    assert len(out["results"]) == 3 * 2
    for res in out["results"]:
        assert RESULT_KEYS <= set(res)
        assert len(res["abs_ci"]) == 2 and len(res["rel_ci"]) == 2
    assert [r["kind"] for r in out["results"]] == ["proportion"] * 2 + ["mean"] * 2 + ["ratio"] * 2
    assert out["results"][2]["covariate"] == "pre_revenue"
    assert out["results"][0]["covariate"] is None
    api = ab.analyze(
        df, arm="variant", control="control",
        metrics=[ab.Proportion("converted"), ab.Mean("revenue", "pre_revenue"),
                 ab.Ratio("clicks", "sessions")],
    ).to_dict()  # fmt: skip
    for got, want in zip(out["results"], api["results"], strict=True):
        assert got["p_value"] == pytest.approx(want["p_value"], rel=1e-12)
        assert got["abs_ci"] == pytest.approx(want["abs_ci"], rel=1e-12)


def test_repeated_flags_and_options(export):
    d, _ = export
    r = cli(
        "analyze", d / "results.csv", "--arm", "variant", "--proportion", "converted",
        "--proportion", "signed_up", "--mean", "revenue", "--mean", "pre_revenue",
        "--correction", "bonferroni", "--expected-split", "1,1,1", "--unit", "user_id",
        "--alpha", "0.1", "--alternative", "greater", "--proportion-test", "fisher",
        "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [x["metric"] for x in out["results"][::2]] == [
        "converted", "signed_up", "revenue", "pre_revenue",
    ]  # fmt: skip
    assert out["correction"] == "bonferroni" and out["alpha"] == 0.1
    assert out["alternative"] == "greater"
    assert all(x["abs_ci"][1] == "inf" for x in out["results"])  # +inf: "inf" in JSON
    assert "Fisher" in out["results"][0]["method"]


def test_html_report_is_self_contained(export, tmp_path):
    d, _ = export
    out = tmp_path / "report" / "ab.html"
    r = cli("analyze", d / "results.parquet", *ISSUE_ARGS, "--format", "html", "--out", out)
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert "forest plot" in html and "SRM check" in html and "<script" not in html
    assert not list(out.parent.glob(".*tmp"))  # atomic: no temporary left behind
    assert re.search(r"<h2>A/B analysis: \d arms, control arm '[^']+'</h2>", html)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arm", "variant", "--control", "ctl", "--mean", "revenue"], "'ctl' is not a value"),
        (["--arm", "arm", "--mean", "revenue"], "column 'arm' is not in"),
        (["--arm", "variant", "--proportion", "revenue"], "'revenue'"),
        (["--arm", "variant", "--mean", "revenue", "--covariate", "revenue"], "METRIC=COLUMN"),
        (["--arm", "variant"], "at least one metric"),
        (["--arm", "variant", "--mean", "revenue", "--expected-split", "a,b"], "--expected-split"),
    ],
)
def test_bad_input_exits_2_with_a_message(export, args, message):
    d, _ = export
    r = cli("analyze", d / "results.csv", *args)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "error:" in r.stderr and message in " ".join(r.stderr.split())


def test_bad_data_through_the_console_script(export):
    d, _ = export
    r = main("analyze", d / "results.csv", "--arm", "variant", "--proportion", "revenue")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "error:" in r.stderr
    assert "column 'revenue'" in r.stderr and "0/1" in r.stderr


def test_missing_and_empty_files(tmp_path):
    r = cli("analyze", tmp_path / "nope.csv", "--arm", "a", "--mean", "x")
    assert r.exit_code == 2 and "nope.csv" in r.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = cli("analyze", empty, "--arm", "a", "--mean", "x")
    assert r.exit_code == 2 and "empty" in r.stderr


def test_power_sample_size_table_and_json():
    r = cli("power", "--baseline", "0.1", "--mde", "0.01")
    assert r.exit_code == 0, r.output
    assert "14,751" in r.output and "pooled SE" in r.output
    r = cli("power", "--kind", "mean", "--baseline", "20", "--sd", "10", "--mde", "0.05",
            "--relative", "--arms", "3", "--split", "50,25,25", "--variance-reduction", "0.3",
            "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["solved_for"] == "n" and len(out["n_per_arm"]) == 3 and out["power"] >= 0.8
    assert out["alpha_per_comparison"] == pytest.approx(0.025)
    r = cli("power", "--baseline", "0.1", "--n-total", "20000", "--format", "json")
    assert json.loads(r.output)["solved_for"] == "mde"
    r = cli("power", "--baseline", "0.1", "--n-total", "20000", "--mde", "0.01", "--format", "json")
    assert json.loads(r.output)["solved_for"] == "power"


def test_power_bad_input_exits_2():
    r = cli("power", "--kind", "mean", "--baseline", "3", "--mde", "1")
    assert r.exit_code == 2 and "sd ==" in r.stderr
    r = main("power", "--baseline", "1.5", "--mde", "0.1")
    assert r.returncode == 2 and "baseline == 1.5" in r.stderr and "Traceback" not in r.stderr
