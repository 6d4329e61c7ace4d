"""Every failure: exit 2 (bad input) or 1 (environment, bug), one message, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.robustness._util import assert_clean_failure, cli


def _raise(exc):
    def f(*a, **k):
        raise exc

    return f


def test_ctrl_c_says_interrupted(capsys, monkeypatch):
    import lifesim.cli.compare as cmp

    monkeypatch.setattr(cmp, "run_compare", _raise(KeyboardInterrupt()))
    code, _, err = cli(capsys, "compare", "--no-progress", "--out", "runs-x")
    assert_clean_failure(code, err, 130, "interrupted", "nothing half-written")


def test_a_bug_is_exit_1_without_traceback(capsys, monkeypatch):
    import lifesim.cli.compare as cmp

    monkeypatch.delenv("LIFESIM_DEBUG", raising=False)
    monkeypatch.setattr(cmp, "run_compare", _raise(RuntimeError("kaboom")))
    code, _, err = cli(capsys, "compare", "--no-progress")
    assert_clean_failure(code, err, 1, "internal error", "kaboom", "LIFESIM_DEBUG=1")


def test_debug_shows_the_traceback(capsys, monkeypatch):
    import lifesim.cli.compare as cmp

    monkeypatch.setenv("LIFESIM_DEBUG", "1")
    monkeypatch.setattr(cmp, "run_compare", _raise(RuntimeError("kaboom")))
    with pytest.raises(RuntimeError, match="kaboom"):
        cli(capsys, "compare", "--no-progress")


def test_memory_error_is_exit_1(capsys, monkeypatch):
    import lifesim.cli.compare as cmp

    monkeypatch.setattr(cmp, "run_compare", _raise(MemoryError()))
    code, _, err = cli(capsys, "compare", "--no-progress")
    assert_clean_failure(code, err, 1, "out of memory")


def test_markup_in_messages_is_printed_literally(capsys, tmp_path):
    code, _, err = cli(capsys, "validate", tmp_path / "[bold]nope.yaml")
    assert code == 2 and "[bold]nope.yaml" in err


def test_stdout_on_a_full_device_is_exit_1(configs_dir):
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                "from lifesim.cli import main; main()",
                "validate",
                str(configs_dir / "reference.yaml"),
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "No space left" in r.stderr
