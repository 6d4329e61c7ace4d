"""Helpers of the hostile-input tests: run lifesim in a fenced subprocess, hash folder trees.

A subprocess has a wall-clock timeout and an address-space cap, so code that reads for ever
or allocates terabytes fails the test instead of taking the machine down.
"""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
from pathlib import Path

MEMORY_CAP = 3 * 2**30  # bytes of address space a fenced run may take


def _cap() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def fenced(*args: object, cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run ``lifesim ARGS`` in ``cwd`` with a timeout and a memory cap; (exit code, stderr)."""
    env = {**os.environ, "MPLBACKEND": "Agg", "LIFESIM_DEBUG": ""}
    code = "import sys; from lifesim.cli import main; main(sys.argv[1:])"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, *map(str, args)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=_cap,
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout} s"
    return proc.returncode, proc.stderr


def tree(root: str | os.PathLike) -> dict[str, str]:
    """Map every path below ``root`` to a digest of its content (folders: ``dir``)."""
    out: dict[str, str] = {}
    for p in sorted(Path(root).rglob("*")):
        key = str(p.relative_to(root))
        out[key] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def refused(code: int, err: str, *needles: str) -> None:
    """Assert exit 2, no traceback, and a message that names every needle."""
    assert code == 2, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    flat = " ".join(err.split())
    for n in needles:
        assert n in flat, (n, flat[-2000:])


def run(capsys, *args: object) -> tuple[int, str]:
    """Run ``lifesim ARGS`` in-process through the real entry point; (exit code, stderr)."""
    import pytest

    from lifesim.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    code = exc.value.code
    return (0 if code is None else int(code)), capsys.readouterr().err
