"""--set PATH=VALUE on every command that takes a scenario: same paths and messages as validate."""

import json

import pytest

from tests._cli import run_in_process as run


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ["budget.per_perod=1"],
            "budget.per_perod: no key 'budget.per_perod' in the scenario; known: per_period",
        ),
        (["stages.awareness.to.consideration.p=1.7"], "must be in [0, 1], got 1.7"),
        (["nope"], "--set: 'nope': write PATH=VALUE"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "simulate", "compare"])
def test_bad_sets_are_refused_with_the_validators_message(command, sets, message, tmp_path):
    args = [command, "configs/default.yaml"] + [a for s in sets for a in ("--set", s)]
    if command != "validate":
        args += ["--no-progress", "--out", str(tmp_path / "run")]
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


def test_a_set_changes_the_run_and_is_written_to_the_run_folder(tmp_path):
    base = [
        "simulate",
        "configs/reference.yaml",
        "--customers",
        "3000",
        "--days",
        "60",
        "--seed",
        "4",
        "--no-progress",
        "--format",
        "json",
    ]
    plain = json.loads(run(*base).stdout)
    faster = run(
        *base, "--set", "stages.consideration.to.purchase.p=0.1", "--out", str(tmp_path / "run")
    )
    assert faster.returncode == 0, faster.stderr
    fast = json.loads(faster.stdout)
    assert fast["stage_counts"] != plain["stage_counts"]
    text = (tmp_path / "run" / "scenario.yaml").read_text()
    assert "p: 0.1" in text
