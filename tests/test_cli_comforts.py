"""Small comforts of the CLI: --version, did-you-mean suggestions in errors."""

import pytest

import lifesim
from lifesim.errors import ConfigError, did_you_mean
from tests._cli import run


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"lifesim {lifesim.__version__}"


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (
            ["simulate", "--strategy", "stage_focussed", "--days", "2", "--no-progress"],
            "did you mean 'stage_focused'?",
        ),
        (
            ["validate", "configs/default.yaml", "--set", "budget.per_perod=1"],
            "did you mean 'per_period'?",
        ),
    ],
)
def test_misspelt_names_get_a_suggestion(args, hint):
    r = run(*args)
    assert r.returncode == 2 and hint in r.stderr


def test_suggestions_only_when_something_is_close():
    assert did_you_mean("unknown tactic 'xyzzy'; known: coupon, win_back") == (
        "unknown tactic 'xyzzy'; known: coupon, win_back"
    )
    assert "did you mean 'coupon'" in str(
        ConfigError([("t", "unknown tactic 'cupon'; known: coupon, win_back")])
    )


def test_the_manifest_records_the_command_and_the_versions(tmp_path):
    import json

    out = tmp_path / "run"
    r = run("simulate", "--customers", "300", "--days", "5", "--no-progress", "--out", str(out))
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["command"].startswith("lifesim simulate --customers 300")
    assert set(m["packages"]) >= {"numpy", "pandas", "scipy", "scikit-learn"}
    assert m["python"].count(".") == 2


def test_churn_score_names_the_model_flag_when_the_model_file_is_missing(tmp_path):
    data = tmp_path / "tx.csv"
    data.write_text("customer_id,date,amount\n1,2020-01-01,5\n", encoding="utf-8")
    missing = tmp_path / "nomodel.skops"
    r = run("churn", "score", str(data), "--model", str(missing))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"--model: no such file: '{missing}'" in r.stderr and "churn train" in r.stderr


def _leaf_commands(cmd, path=()):
    """(name, option flags) of every command of the CLI, sub-commands included."""
    if getattr(cmd, "commands", None):
        for name, sub in cmd.commands.items():
            yield from _leaf_commands(sub, (*path, name))
    else:
        yield " ".join(path), {o for p in cmd.params for o in getattr(p, "opts", ())}


def test_the_readme_names_the_commands_without_format_json():
    """The README once said every command has `--format json`; two have no results to give."""
    import re
    from pathlib import Path

    import typer

    from lifesim.cli import app

    without = sorted(
        n for n, opts in _leaf_commands(typer.main.get_command(app)) if "--format" not in opts
    )
    assert without == ["datasets get", "validate"]
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = " ".join(readme.read_text(encoding="utf-8").split())
    m = re.search(r"`--format json` for scripts \(all but ([^)]*)\)", text)
    assert m, "the README's small comforts no longer say which commands lack --format json"
    assert sorted(re.findall(r"`([^`]+)`", m.group(1))) == without


@pytest.mark.parametrize(
    ("config", "segments"),
    [("configs/reference.yaml", "1 segment,"), ("configs/b2b.yaml", "2 segments,")],
)
def test_validate_counts_segments_in_english(config, segments):
    r = run("validate", config)
    assert r.returncode == 0 and segments in r.stdout, r.stdout
