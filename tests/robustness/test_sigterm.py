"""SIGTERM (``kill``, ``timeout``) stops a command like Ctrl-C: exit 143, one line, no leftovers.

Before, the default action killed the process at once: the half-written ``.NAME.*.tmp`` folder
stayed beside the output, and an earlier run folder being replaced could be left hidden.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.robustness._util import cli, tree_hash

RUN = "import sys; from lifesim.cli import main; main(sys.argv[1:])"
SIM = ("simulate", "--no-progress", "--days", "20")


def _lifesim(*args, cwd: Path, before: str = "", **kw) -> subprocess.Popen:
    """Start ``lifesim ARGS`` in a subprocess, after the Python code ``before``."""
    env = {**os.environ, "MPLBACKEND": "Agg", "LIFESIM_DEBUG": ""}
    return subprocess.Popen(
        [sys.executable, "-c", before + "\n" + RUN, *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _ok(cwd: Path, *args) -> bool:
    """Run ``lifesim ARGS`` to the end (it must succeed)."""
    proc = _lifesim(*args, cwd=cwd)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return True


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _stopped(proc: subprocess.Popen, sig: signal.Signals = signal.SIGTERM) -> str:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + sig, err  # 143 (SIGTERM), 129 (SIGHUP)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("terminated: ") and f"({sig.name})" in err
    assert "nothing half-written" in err
    return err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])  # kill/timeout; terminal closed
def test_a_termination_signal_while_writing_leaves_no_temporary_folder(tmp_path, sig):
    out = tmp_path / "run"
    proc = _lifesim(
        "simulate", "--no-progress", "--customers", "300000", "--out", out, cwd=tmp_path
    )
    seen = False
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if any(n.startswith(".run.") and n.endswith(".tmp") for n in _hidden(tmp_path)):
            seen = True
            proc.send_signal(sig)
            break
        time.sleep(0.001)
    assert seen, "the run ended before its temporary folder was seen"
    _stopped(proc, sig)
    assert _hidden(tmp_path) == [] and not out.exists()


# a subprocess that sends itself SIGTERM at a chosen point: the same moment every time
_TERM_AT_FIRST_TABLE = """
import os, signal, pandas as pd
_write = pd.DataFrame.to_parquet
def _to_parquet(self, *a, **k):
    os.kill(os.getpid(), signal.SIGTERM)
    return _write(self, *a, **k)
pd.DataFrame.to_parquet = _to_parquet
"""

_TERM_BETWEEN_RENAMES = """
import os, signal
_replace = os.replace
def _between(src, dst):
    _replace(src, dst)
    if str(dst).endswith(".old"):  # the earlier run moved aside, the new one not yet in place
        os.kill(os.getpid(), signal.SIGTERM)
os.replace = _between
"""

_HUP_AS_THE_FOLDER_IS_MADE = """
import os, signal, tempfile
_mkdtemp = tempfile.mkdtemp
def _made(*a, **k):
    made = _mkdtemp(*a, **k)
    if str(made).endswith(".tmp"):  # the run folder's: a signal before lifesim knows it
        os.kill(os.getpid(), signal.SIGHUP)
    return made
tempfile.mkdtemp = _made
"""


def test_a_signal_as_the_temporary_folder_is_made_leaves_nothing(tmp_path):
    """The window between making the temporary folder and starting to watch it is closed."""
    out = tmp_path / "run"
    proc = _lifesim(
        *SIM, "--customers", "300", "--out", out, cwd=tmp_path, before=_HUP_AS_THE_FOLDER_IS_MADE
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 129, err
    assert list(tmp_path.iterdir()) == []


def test_sigterm_while_replacing_an_earlier_run_keeps_it(tmp_path):
    out = tmp_path / "run"
    assert _ok(tmp_path, *SIM, "--out", out, "--seed", "1")
    before = tree_hash(tmp_path)
    proc = _lifesim(
        *SIM, "--out", out, "--seed", "2", "--overwrite", cwd=tmp_path, before=_TERM_AT_FIRST_TABLE
    )
    _stopped(proc)
    assert tree_hash(tmp_path) == before  # the earlier run as it was, nothing beside it


def test_sigterm_between_the_two_renames_never_hides_the_run(tmp_path):
    out = tmp_path / "run"
    assert _ok(tmp_path, *SIM, "--out", out, "--seed", "1")
    proc = _lifesim(
        *SIM, "--out", out, "--seed", "2", "--overwrite", cwd=tmp_path, before=_TERM_BETWEEN_RENAMES
    )
    proc.communicate(timeout=300)
    assert proc.returncode == 143
    # the swap was finished first: the new, complete run is in place and nothing is hidden
    assert _hidden(tmp_path) == []
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2


def test_sigterm_at_the_first_table_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    proc = _lifesim(
        *SIM, "--customers", "300", "--out", out, cwd=tmp_path, before=_TERM_AT_FIRST_TABLE
    )
    _stopped(proc)
    assert list(tmp_path.iterdir()) == []


def test_the_callers_sigterm_handler_is_restored(capsys):
    def mine(signum, frame):
        raise AssertionError("not called")

    old = signal.signal(signal.SIGTERM, mine)
    try:
        code, out, _ = cli(capsys, "--version")
        assert code == 0 and out.startswith("lifesim ")
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, old)
