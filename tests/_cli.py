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
