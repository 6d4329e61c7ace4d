"""Safe, atomic output: nothing half-written looks complete, nothing of the user's is lost.

Rules every command follows (checked before any work starts, and again when writing):

- A run folder (``--out`` of ``simulate``, ``compare``, ``experiment run/audit``) must be new,
  an empty folder, or an earlier lifesim run folder (recognised by its ``manifest.json``,
  which lists the files lifesim wrote). Replacing an earlier run folder needs
  ``overwrite=True`` (``--overwrite``), and only when it holds nothing but the files lifesim
  wrote there. Any other existing folder, a file where a folder is expected, ``''``, the
  current folder, a path under a file, or a folder holding an input file is refused.
- An output file (``ab analyze --out``, ``churn train/score --out``) must not be an input
  file or a folder; an existing file is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from lifesim._version import __version__
from lifesim.errors import LifesimError

__all__ = [
    "OutputPathError",
    "WriteError",
    "atomic_path",
    "atomic_dir",
    "check_out_dir",
    "check_out_file",
    "default_run_dir",
    "safe_name",
    "write_text_atomic",
]

MANIFEST = "manifest.json"


class OutputPathError(LifesimError, ValueError):
    """An output path would delete or replace something lifesim did not create."""


class WriteError(LifesimError, OSError):
    """Writing an output failed for a reason outside lifesim (a full disk, permissions).

    The message names the path the user gave, not the temporary file behind it.
    """


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if isinstance(exc, LifesimError):
            raise
        raise WriteError(
            f"could not write {str(path)!r}: {exc.strerror or exc}; nothing was written there"
        ) from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def safe_name(name: str, default: str = "scenario") -> str:
    """Return ``name`` reduced to a plain file-name part (no separators, no dots at the ends)."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_")[:60]
    return clean or default


def default_run_dir(kind: str, name: str, root: str | os.PathLike = "runs") -> Path:
    """Return a new folder path ``runs/<kind>-<name>-<time>`` that does not exist yet."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{safe_name(kind)}-{safe_name(name)}-{stamp}"
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def _label(path: Path, flag: str) -> str:
    return f"{flag} {str(path)!r}" if flag else repr(str(path))


def _check_common(path: str | os.PathLike, inputs: Iterable, flag: str) -> Path:
    if str(path) == "":
        raise OutputPathError(f"{flag or 'output path'} is empty; give a file or folder name")
    path = Path(path)
    if path.is_symlink() and not path.exists():  # renaming onto it would replace the link
        raise OutputPathError(
            f"{_label(path, flag)} is a link to {os.readlink(path)!r}, which does not exist; "
            "lifesim never replaces a link: give another path, or make the link's target first"
        )
    for parent in path.absolute().parents:
        if parent.exists() and not parent.is_dir():
            raise OutputPathError(
                f"{_label(path, flag)}: {str(parent)!r} is a file, so nothing can be written "
                "under it; choose another path"
            )
    res = path.resolve()
    for inp in inputs:
        if inp is None or str(inp) == "":
            continue
        ip = Path(inp).resolve()
        if ip == res or res in ip.parents:
            raise OutputPathError(
                f"{_label(path, flag)} would replace the input {str(inp)!r}; choose another path"
            )
    return path


def _run_files(path: Path) -> list[str] | None:
    """Files lifesim wrote in a run folder, from its manifest (None: not a lifesim run folder)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or "lifesim_version" not in manifest:
        return None
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return []
    return files


def check_out_dir(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike | None] = (),
    flag: str = "--out",
) -> Path:
    """Check that a run folder can be written at ``path`` without losing anything.

    Parameters
    ----------
    path : path
        The folder to write.
    overwrite : bool
        Allow replacing an earlier lifesim run folder (only its own files).
    inputs : paths
        Files the command reads; the folder may not be or hold any of them.
    flag : str
        How the user named the path (for messages), e.g. ``"--out"``.

    Returns
    -------
    Path

    Raises
    ------
    OutputPathError
        With the path, what is wrong and what to do.
    """
    path = _check_common(path, inputs, flag)
    res = path.resolve()
    cwd = Path.cwd().resolve()
    if res == cwd or res in cwd.parents:
        raise OutputPathError(
            f"{_label(path, flag)} is the current folder or one above it; lifesim writes a run "
            "into a folder of its own: name a new folder, e.g. runs/my-run"
        )
    if not path.exists():
        return path
    if not path.is_dir():
        raise OutputPathError(
            f"{_label(path, flag)} is an existing file; a run folder is expected there. "
            "Choose a new folder name"
        )
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return path
    files = _run_files(path)
    if files is None:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        noun = "entry" if len(entries) == 1 else "entries"
        raise OutputPathError(
            f"{_label(path, flag)} is an existing folder ({len(entries)} {noun}: {shown}) "
            "and not a lifesim run folder (no manifest.json from lifesim); lifesim never "
            "replaces folders it did not create. Choose a new folder"
        )
    if not overwrite:
        raise OutputPathError(
            f"{_label(path, flag)} holds an earlier lifesim run; pass --overwrite to replace "
            "it, or choose a new folder"
        )
    foreign = sorted(set(entries) - set(files) - {MANIFEST})
    if foreign:
        raise OutputPathError(
            f"{_label(path, flag)} holds files lifesim did not write there "
            f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); "
            "lifesim will not replace it even with --overwrite. Move them or choose a new folder"
        )
    return path


def check_out_file(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike | None] = (),
    flag: str = "--out",
) -> Path:
    """Check that an output file can be written at ``path`` without losing anything.

    Raises
    ------
    OutputPathError
        ``path`` is empty, a folder, under a file, an input, or an existing file without
        ``overwrite``.
    """
    path = _check_common(path, inputs, flag)
    if path.is_dir() or str(path).endswith(os.sep):
        raise OutputPathError(f"{_label(path, flag)} is a folder; a file name is expected")
    if path.exists() and not overwrite:
        raise OutputPathError(
            f"{_label(path, flag)} already exists; pass --overwrite to replace it, or choose "
            "another name"
        )
    return path


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, *, overwrite: bool = True, inputs: Iterable = ()
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    Parameters
    ----------
    path : path
        The file to write.
    overwrite : bool
        Replace an existing file at ``path`` (never a folder or an input).
    inputs : paths
        Files the caller reads; ``path`` may not be one of them.
    """
    path = check_out_file(path, overwrite=overwrite, inputs=inputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
    try:
        with _writing(path):
            yield tmp_path
            os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(
    path: str | os.PathLike, text: str, *, overwrite: bool = True, inputs: Iterable = ()
) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path, overwrite=overwrite, inputs=inputs) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


_MAIN_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "simpy", "pydantic")


def _versions() -> dict[str, str]:
    """Versions of the main dependencies (for the record in a run folder)."""
    from importlib import metadata

    out = {}
    for name in _MAIN_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _command_line() -> str | None:
    """Return the command that made the run (``lifesim ...``), or ``None`` from Python."""
    argv = sys.argv
    if not argv or not (argv[0].endswith("lifesim") or argv[0] == "-c"):
        return None
    return " ".join(shlex.quote(a) for a in ["lifesim", *argv[1:]])


def _seal(tmp: Path) -> None:
    """List every file written into the run folder in its manifest (adding one if missing)."""
    mpath = tmp / MANIFEST
    manifest: dict = {}
    if mpath.exists():
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    manifest.setdefault("lifesim_version", __version__)
    manifest.setdefault("command", _command_line())
    manifest.setdefault("python", sys.version.split()[0])
    manifest.setdefault("packages", _versions())
    manifest["files"] = sorted(p.name for p in tmp.iterdir() if p.name != MANIFEST)
    mpath.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike, *, overwrite: bool = False, inputs: Iterable = ()
) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it becomes the run folder only on success.

    The folder is checked by :func:`check_out_dir` before and after the work, and its
    ``manifest.json`` lists the files written (so a later ``overwrite`` knows what is
    lifesim's). An earlier run folder is replaced only once the new one is complete.
    """
    inputs = list(inputs)
    path = check_out_dir(path, overwrite=overwrite, inputs=inputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual folder mode
    try:
        with _writing(path):
            yield tmp
            _seal(tmp)
        check_out_dir(path, overwrite=overwrite, inputs=inputs)  # nothing changed meanwhile
        if path.exists():
            # an empty folder, or an earlier run folder holding only lifesim's files
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
