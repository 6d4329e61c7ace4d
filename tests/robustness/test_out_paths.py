"""Output paths: a command never deletes or replaces anything it did not create.

Each case runs the real CLI entry point on a dangerous ``--out`` and checks the exit code, that
there is no traceback, that the message names the problem, and that the folder tree the user had
is byte-for-byte unchanged.
"""

from __future__ import annotations

import errno
import json
import pathlib
import shutil

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lifesim
from lifesim._io import OutputPathError, atomic_dir, default_run_dir, safe_name
from tests.robustness._util import assert_clean_failure, cli, tree_hash

SIM = ("simulate", "--customers", "300", "--days", "5", "--no-progress")


@pytest.fixture
def scenario(tmp_path, configs_dir):
    """A scenario file in the user's working folder, and the folder as cwd."""
    dst = tmp_path / "my.yaml"
    shutil.copy(configs_dir / "reference.yaml", dst)
    return dst


@pytest.fixture(autouse=True)
def _cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_existing_folder_of_user_files_is_refused_and_kept(capsys, tmp_path, scenario):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("precious")
    (mine / "sub" / "data.csv").write_text("a,b\n1,2\n")
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, scenario, "--out", mine)
    assert_clean_failure(code, err, 2, str(mine), "not a lifesim run folder")
    assert tree_hash(tmp_path) == before


@pytest.mark.parametrize("out", [".", "..", ""])
def test_current_folder_or_above_is_refused(capsys, tmp_path, scenario, out):
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, scenario, "--out", out)
    assert_clean_failure(code, err, 2, "--out")
    assert tree_hash(tmp_path) == before


def test_existing_file_is_not_turned_into_a_folder(capsys, tmp_path, scenario):
    f = tmp_path / "result"
    f.write_text("keep me")
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, scenario, "--out", f)
    assert_clean_failure(code, err, 2, "existing file")
    assert tree_hash(tmp_path) == before  # no folder, no hidden .result.old


def test_path_under_a_file_is_refused(capsys, tmp_path, scenario):
    (tmp_path / "f").write_text("x")
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, scenario, "--out", tmp_path / "f" / "run")
    assert_clean_failure(code, err, 2, "is a file")
    assert tree_hash(tmp_path) == before


def test_folder_holding_the_input_is_refused(capsys, tmp_path):
    run = tmp_path / "runs" / "r"
    code, _, err = cli(capsys, *SIM, "--out", run)
    assert code == 0, err
    scn = run / "scenario.yaml"  # rerun from the run's own scenario into the same folder
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, scn, "--out", run, "--overwrite")
    assert_clean_failure(code, err, 2, "would replace the input")
    assert tree_hash(tmp_path) == before


def test_earlier_run_needs_overwrite_and_only_its_own_files(capsys, tmp_path):
    run = tmp_path / "r1"
    assert cli(capsys, *SIM, "--out", run, "--seed", "1")[0] == 0
    files = json.loads((run / "manifest.json").read_text())["files"]
    assert set(files) == {p.name for p in run.iterdir()} - {"manifest.json"}
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, "--out", run, "--seed", "2")
    assert_clean_failure(code, err, 2, "--overwrite")
    assert tree_hash(tmp_path) == before
    code, _, err = cli(capsys, *SIM, "--out", run, "--seed", "2", "--overwrite")
    assert code == 0, err
    assert json.loads((run / "manifest.json").read_text())["seed"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers
    (run / "my_notes.md").write_text("mine")
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, "--out", run, "--overwrite")
    assert_clean_failure(code, err, 2, "my_notes.md", "did not write")
    assert tree_hash(tmp_path) == before


def test_foreign_manifest_is_not_a_run_folder(capsys, tmp_path):
    d = tmp_path / "proj"
    d.mkdir()
    (d / "manifest.json").write_text('{"name": "my web app"}')
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, "--out", d, "--overwrite")
    assert_clean_failure(code, err, 2, "not a lifesim run folder")
    assert tree_hash(tmp_path) == before


def test_empty_folder_is_used(capsys, tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    code, _, err = cli(capsys, *SIM, "--out", d)
    assert code == 0, err
    assert (d / "manifest.json").exists()


def test_compare_refuses_before_any_work(capsys, tmp_path, monkeypatch):
    import lifesim.cli.compare as cmp

    def boom(*a, **k):
        raise AssertionError("the comparison ran although --out was refused")

    monkeypatch.setattr(cmp, "run_compare", boom)
    (tmp_path / "x").write_text("x")
    code, _, err = cli(capsys, "compare", "--out", tmp_path / "x", "--no-progress")
    assert_clean_failure(code, err, 2, "existing file")


def test_experiment_commands_refuse_user_folders(capsys, tmp_path, configs_dir):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("a")
    before = tree_hash(tmp_path)
    cfg = configs_dir / "study_interference.yaml"
    for cmd in (["experiment", "run"], ["experiment", "audit", "-r", "2"]):
        code, _, err = cli(capsys, *cmd, cfg, "--out", mine, "--no-progress")
        assert_clean_failure(code, err, 2, "not a lifesim run folder")
    assert tree_hash(tmp_path) == before


def _ab_data(path: pathlib.Path) -> None:
    pd.DataFrame({"arm": ["a", "b"] * 50, "y": [0, 1, 1, 0] * 25}).to_csv(path, index=False)


def test_ab_analyze_never_overwrites_its_input(capsys, tmp_path):
    data = tmp_path / "d.csv"
    _ab_data(data)
    before = tree_hash(tmp_path)
    args = ("ab", "analyze", data, "--arm", "arm", "--control", "a", "--proportion", "y")
    for extra in ((), ("--overwrite",)):
        code, _, err = cli(capsys, *args, "--out", data, *extra)
        assert_clean_failure(code, err, 2, "would replace the input")
        assert tree_hash(tmp_path) == before
    report = tmp_path / "report.txt"
    report.write_text("old report")
    code, _, err = cli(capsys, *args, "--out", report)
    assert_clean_failure(code, err, 2, "--overwrite")
    assert report.read_text() == "old report"
    code, _, err = cli(capsys, *args, "--out", report, "--overwrite")
    assert code == 0, err
    assert "p" in report.read_text() and report.read_text() != "old report"


def test_churn_train_and_score_never_overwrite_inputs(capsys, tmp_path):
    rng = __import__("numpy").random.default_rng(0)
    n = 400
    snap = pd.DataFrame(
        {"id": [f"c{i}" for i in range(n)], "x": rng.normal(size=n), "churn": rng.integers(0, 2, n)}
    )
    data = tmp_path / "snap.csv"
    snap.to_csv(data, index=False)
    before = tree_hash(tmp_path)
    code, _, err = cli(
        capsys, "churn", "train", data, "--label", "churn", "--id", "id", "--out", data
    )
    assert_clean_failure(code, err, 2, "would replace the input")
    assert tree_hash(tmp_path) == before
    model = tmp_path / "m.skops"
    code, _, err = cli(
        capsys, "churn", "train", data, "--label", "churn", "--id", "id", "--out", model
    )
    assert code == 0, err
    before = tree_hash(tmp_path)
    for out in (model, data):
        code, _, err = cli(capsys, "churn", "score", data, "--model", model, "--out", out)
        assert_clean_failure(code, err, 2, "would replace the input")
    assert tree_hash(tmp_path) == before


def test_python_save_refuses_a_second_write_without_overwrite(tmp_path):
    res = lifesim.simulate(None, customers=200, days=3)
    res.save(tmp_path / "r")
    with pytest.raises(OutputPathError, match="overwrite"):
        res.save(tmp_path / "r")
    res.save(tmp_path / "r", overwrite=True)


def test_failed_write_leaves_nothing_and_names_the_users_path(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "run") as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_is_exit_1_naming_the_users_path(capsys, tmp_path, monkeypatch):
    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    code, _, err = cli(capsys, *SIM, "--out", tmp_path / "r")
    assert_clean_failure(code, err, 1, "No space left on device", "'" + str(tmp_path / "r") + "'")
    assert ".tmp" not in err  # the temp file behind the write is not what the user named
    assert list(tmp_path.iterdir()) == []


@given(st.text(max_size=80))
def test_scenario_names_never_escape_runs(name):
    clean = safe_name(name)
    assert clean and "/" not in clean and "\\" not in clean and not clean.startswith(".")
    out = default_run_dir("compare", name, root="runs")
    assert out.parent == pathlib.Path("runs")


def test_default_run_folder_is_new_even_in_the_same_second(tmp_path):
    a = default_run_dir("compare", "x", root=tmp_path)
    a.mkdir()
    b = default_run_dir("compare", "x", root=tmp_path)
    assert b != a and not b.exists()
