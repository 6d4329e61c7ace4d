"""Shared helpers of the robustness suite: run the real CLI entry point, hash folder trees."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lifesim.cli import main


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Run ``lifesim ARGS`` in-process through ``main`` (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    code = exc.value.code
    return (0 if code is None else int(code)), out, err


def tree_hash(root: str | os.PathLike) -> dict[str, str]:
    """Map every path under ``root`` (files, folders, symlinks) to a hash of its content."""
    root = Path(root)
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_clean_failure(code: int, err: str, expected: int, *needles: str) -> None:
    """Exit ``expected``, no traceback, and the message names every needle."""
    assert code == expected, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)
