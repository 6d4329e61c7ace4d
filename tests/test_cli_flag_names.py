"""CLI errors name the flag the user typed (--customers), not the library's parameter
(customers), and come before any progress display."""

from __future__ import annotations

import re

import pytest
import yaml
from typer.testing import CliRunner

from lifesim.cli import app
from lifesim.cli._common import in_flag_words
from lifesim.errors import ConfigError, DataError
from tests.robustness._util import assert_clean_failure, cli

PROGRESS_LINE = re.compile(r"^[\w ()-]+: \d+/\d+ \w+, ", re.M)
SMALL = ["--customers", "200", "--days", "10", "-j", "1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "-r", "1", *SMALL], "--replications: must be a whole number >= 2, got 1"),
        (["compare", "--customers", "0"], "--customers: must be a whole number >= 1, got 0"),
        (["compare", "-j", "0", "--customers", "200"], "--jobs: must be >= 1 or -1"),
        (["compare", "--baseline", "nope", *SMALL], "--baseline: 'nope' is not among"),
        (["compare", "--strategies", "nope,none", *SMALL], "--strategies: unknown strategy"),
        (["optimize", "--trials", "0", "--space", "split.retention=0.1:0.5", *SMALL],
         "--trials: must be a whole number >= 1, got 0"),
        (["sweep", "--vary", "budget.per_period=1:2:2", "-r", "1", "--out", "never", *SMALL],
         "--replications: must be a whole number >= 2, got 1"),
    ],
    ids=["short -r", "customers", "short -j", "baseline", "strategies", "trials", "sweep"],
)  # fmt: skip
def test_errors_name_the_flag_and_come_before_any_progress(capsys, tmp_path, monkeypatch, args,
                                                           message):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, *args)
    assert_clean_failure(code, err, 2, message)
    assert not PROGRESS_LINE.search(err), err
    assert out == "" and list(tmp_path.iterdir()) == []


def test_experiment_errors_name_the_flag(configs_dir):
    trap = str(configs_dir / "study_short_kpi_trap.yaml")
    r = CliRunner().invoke(app, ["experiment", "audit", trap, "--repeats", "1"])
    assert r.exit_code == 2 and "--repeats: must be a whole number >= 2, got 1" in r.output
    r = CliRunner().invoke(app, ["experiment", "run", trap, "--truth-replications", "0"])
    assert r.exit_code == 2
    assert "--truth-replications: must be a whole number >= 1, got 0" in r.output


def test_a_value_from_the_scenario_file_keeps_its_own_name(capsys, tmp_path, configs_dir):
    data = yaml.safe_load((configs_dir / "reference.yaml").read_text())
    data.setdefault("compare", {})["replications"] = 1
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = cli(capsys, "compare", path, *SMALL, "--out", tmp_path / "r")
    assert code == 2 and "replications" in err
    assert "--replications" not in err  # the user never typed it


def test_in_flag_words_rewrites_only_the_names_given():
    flags = {"customers": "--customers", "cutoff": "--cutoff"}
    e = in_flag_words(ConfigError([("customers", "must be >= 1, got 0")]), flags)
    assert str(e) == "--customers: must be >= 1, got 0"
    e = in_flag_words(ConfigError([("days", "must be >= 1, got 0")]), flags)
    assert str(e) == "days: must be >= 1, got 0"
    e = in_flag_words(DataError("cutoff == 900 is outside the data"), flags)
    assert isinstance(e, DataError) and str(e) == "--cutoff == 900 is outside the data"
    e = in_flag_words(DataError("customers of the log: none"), flags)
    assert str(e) == "customers of the log: none"
    src = ConfigError([("customers", "must be >= 1, got 0")], source="x.yaml")
    assert in_flag_words(src, flags) is src  # a file's key path, not a flag


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "0.1", "--mde", "0.01", "--alpha", "2"],
         "--alpha == 2.0, must be in (0, 1)"),
        (["--baseline", "0.1", "--mde", "0.01", "--power", "1.5"],
         "--power == 1.5, must be in (0, 1)"),  # the flag of the parameter target_power
        (["--baseline", "1.5", "--mde", "0.01"], "--baseline == 1.5, a proportion must be"),
    ],
)  # fmt: skip
def test_ab_power_errors_name_the_flag(capsys, args, message):
    code, _, err = cli(capsys, "ab", "power", *args)
    assert_clean_failure(code, err, 2, message)


def test_the_flags_typed_are_found_by_parameter_and_by_flag_name():
    from lifesim.cli import _given_flags

    flags = _given_flags(["ab", "power", "--baseline", "0.1", "--power=0.9", "--n-total", "9"])
    assert flags == {
        "baseline": "--baseline",
        "target_power": "--power",
        "power": "--power",
        "n_total": "--n-total",
    }
    assert _given_flags(["compare", "-r", "3", "configs/x.yaml"]) == {
        "replications": "--replications"
    }
