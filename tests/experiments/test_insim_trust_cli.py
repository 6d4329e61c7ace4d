"""`lifesim experiment run/audit --trust-code` runs arms whose strategy is custom code."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import lifesim

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", ["run", "audit"])
def test_trust_code_lets_an_experiment_run_custom_arms(command, tmp_path):
    d = lifesim.default_scenario().model_dump(mode="json")
    d["days"] = 20
    d["strategies"]["mine"] = {
        "type": "custom",
        "target": "tests.engine.test_marketing:Blanket",
        "params": {"tactic": "cross_sell", "gap": 3},
    }
    d["experiment"] = {
        "arms": {"control": "none", "treatment": "mine"},
        "start": 2,
        "metrics": {"revenue": {"kind": "revenue", "within": 10}},
        "truth_replications": 2,
    }
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(d))
    args = ["experiment", command, str(path), "--customers", "400", "--no-progress"]
    args += ["--out", str(tmp_path / "out"), "--format", "json"]
    if command == "audit":
        args += ["--repeats", "2", "--jobs", "1", "--no-aa"]

    def cli(*extra):
        return subprocess.run(
            [sys.executable, "-c", "from lifesim.cli import main; main()", *args, *extra],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,  # the custom strategy lives in the tests package
        )

    refused = cli()
    assert refused.returncode == 2 and "pass --trust-code" in refused.stderr
    r = cli("--trust-code")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)
