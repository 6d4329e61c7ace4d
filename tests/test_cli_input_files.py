"""A missing or empty file given to --from-log or --events is an error naming that flag."""

from __future__ import annotations

import pytest

from tests.robustness._util import assert_clean_failure, cli, tree_hash

CALIBRATED = ["configs/reference.yaml", "--as-of", "1997-06-01"]


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (["simulate", *CALIBRATED], "--from-log"),
        (["compare", *CALIBRATED, "--no-progress"], "--from-log"),
        (
            [
                "experiment",
                "run",
                "configs/study_interference.yaml",
                *CALIBRATED[1:],
                "--no-progress",
            ],
            "--from-log",
        ),
        (["calibrate", "tx.csv", "--no-progress"], "--events"),
    ],
    ids=["simulate", "compare", "experiment run", "calibrate"],
)
@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_missing_or_empty_input_file_names_its_flag(
    capsys, tmp_path, monkeypatch, command, flag, kind
):
    import shutil
    from pathlib import Path

    configs = Path(__file__).resolve().parents[1] / "configs"
    monkeypatch.chdir(tmp_path)
    shutil.copytree(configs, tmp_path / "configs")
    (tmp_path / "tx.csv").write_text("customer,day,amount\n1,0,5\n1,3,6\n")
    if kind == "empty":
        (tmp_path / "log.csv").write_text("")
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *command, flag, "log.csv")
    want = "no such file: 'log.csv'" if kind == "missing" else "file 'log.csv' is empty"
    assert_clean_failure(code, err, 2, f"{flag}: {want}", "allowed: ")
    assert tree_hash(tmp_path) == before  # nothing written
