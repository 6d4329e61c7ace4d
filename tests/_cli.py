"""Run the real console entry point in a subprocess, as a user does (exit codes, stderr)."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``lifesim ARGS`` with this interpreter; capture text output."""
    return subprocess.run(
        [sys.executable, "-c", "from lifesim.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_in_process(*args: str) -> subprocess.CompletedProcess:
    """Run ``lifesim ARGS`` through ``lifesim.cli.main`` in this process (same result shape).

    For tests of what a command does rather than of the process itself: a fresh interpreter
    costs ~3 s of imports here. ``tests/test_cli.py``, the robustness suite and the signal
    tests run the real process.
    """
    import contextlib
    import io

    from lifesim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = 0 if exc.code is None else int(exc.code)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
