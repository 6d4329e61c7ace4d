"""Safe, atomic output: nothing half-written looks complete, nothing of the user's is lost.

Rules every command follows (checked before any work starts, and again when writing):

- A run folder (``--out`` of ``simulate``, ``compare``, ``experiment run/audit``) must be new,
  an empty folder, or an earlier lifesim run folder (recognised by its ``manifest.json``,
  which lists the files lifesim wrote). Replacing an earlier run folder needs
  ``overwrite=True`` (``--overwrite``), and only when it holds nothing but the files lifesim
  wrote there, unchanged: the manifest records a SHA-256 checksum of every file and folder
  lifesim wrote (``checksums``: a file's is ``sha256sum``'s; a folder's covers the sorted
  relative paths and contents of everything in it) and one of the manifest itself
  (``manifest_checksum``: of its JSON without that key, keys sorted). A folder whose files
  or manifest were edited, or whose manifest has no checksums (an older lifesim, or made by
  hand), is not replaced. Any other existing folder, a file where a folder is expected,
  ``''``, the current folder, a path under a file, or a folder holding an input file is
  refused.
- An output file (``ab analyze --out``, ``churn train/score --out``) must not be an input
  file or a folder; an existing file is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import stat
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
_CHUNK = 1 << 20  # bytes read at a time when hashing (run-folder tables can be large)


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


def _read_manifest(path: Path) -> dict | None:
    """Read the manifest of a lifesim run folder (None: not a lifesim run folder)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or "lifesim_version" not in manifest:
        return None
    return manifest


def _run_files(path: Path, manifest: dict | None = None) -> list[str] | None:
    """Files lifesim wrote in a run folder, from its manifest (None: not a lifesim run folder)."""
    manifest = _read_manifest(path) if manifest is None else manifest
    if manifest is None:
        return None
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return []
    return files


def _hash_file(path: Path, h: hashlib._Hash) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)


def _entry_digest(path: Path, rel: bytes, h: hashlib._Hash) -> None:
    """Feed one entry into ``h``: its kind and name, and a regular file's size and content.

    Links are never followed and special files (pipes, devices) never opened.
    """
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        h.update(b"L\0" + rel + b"\0" + os.fsencode(os.readlink(path)) + b"\0")
    elif stat.S_ISDIR(st.st_mode):
        h.update(b"D\0" + rel + b"\0")
    elif stat.S_ISREG(st.st_mode):
        h.update(b"F\0" + rel + b"\0" + str(st.st_size).encode() + b"\0")
        _hash_file(path, h)
    else:
        h.update(b"S\0" + rel + b"\0" + str(st.st_mode).encode() + b"\0")


def _checksum(path: Path) -> str:
    """``sha256:<hex>`` of a file's content, or of a folder's sorted relative paths and contents.

    A regular file's checksum is ``sha256sum``'s. Anything else (a folder, a link, a pipe) is
    hashed with its kind, so a file replaced by a link, or a folder by a file, counts as
    changed.
    """
    h = hashlib.sha256()
    st = path.lstat()
    if stat.S_ISREG(st.st_mode):
        _hash_file(path, h)
    elif stat.S_ISDIR(st.st_mode):
        h.update(b"folder\0")
        for p in sorted(path.rglob("*"), key=lambda q: q.relative_to(path).as_posix()):
            _entry_digest(p, os.fsencode(p.relative_to(path).as_posix()), h)
    else:
        _entry_digest(path, b"", h)
    return "sha256:" + h.hexdigest()


def _manifest_checksum(manifest: dict) -> str:
    """``sha256:<hex>`` of a manifest's content without ``manifest_checksum`` (keys sorted)."""
    rest = {k: v for k, v in manifest.items() if k != "manifest_checksum"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _changed_entries(path: Path, manifest: dict, entries: list[str]) -> list[str] | None:
    """Return the listed entries whose content differs from the manifest's checksums.

    Returns ``None`` when the manifest cannot vouch for them: no checksums (an older lifesim,
    or made by hand). ``manifest.json`` itself is listed when it was edited.
    """
    sums = manifest.get("checksums")
    if not isinstance(sums, dict) or not isinstance(manifest.get("manifest_checksum"), str):
        return None
    if manifest["manifest_checksum"] != _manifest_checksum(manifest):
        return [MANIFEST]
    # only what is in the folder (a listed file deleted since holds nothing of the user's;
    # a listed name such as '../x' or '/dev/zero' is never read)
    return [name for name in entries if name != MANIFEST and not _unchanged(path / name, sums)]


def _unchanged(entry: Path, sums: dict) -> bool:
    try:
        return sums.get(entry.name) == _checksum(entry)
    except OSError:  # unreadable, or changing while read: not known to be lifesim's
        return False


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
    manifest = _read_manifest(path)
    files = _run_files(path, manifest)
    if manifest is None or files is None:
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
    changed = _changed_entries(path, manifest, entries)
    if changed is None:
        raise OutputPathError(
            f"{_label(path, flag)} holds a run folder whose manifest.json has no checksums "
            "(made by an older lifesim or by hand), so lifesim cannot tell whether its files "
            "were changed since; it will not replace it even with --overwrite. Choose a new "
            "folder, or delete that folder yourself if you no longer need it"
        )
    if changed == [MANIFEST]:
        raise OutputPathError(
            f"{_label(path, flag)}: manifest.json was edited after lifesim wrote it (its "
            "manifest_checksum no longer matches), so lifesim cannot trust its list of files; "
            "it will not replace the folder even with --overwrite. Move what you want to keep "
            "out of it, or choose a new folder"
        )
    if changed:
        what = ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")
        verb = "was" if len(changed) == 1 else "were"
        raise OutputPathError(
            f"{_label(path, flag)}: {what} {verb} changed after lifesim wrote "
            f"{'it' if len(changed) == 1 else 'them'} (the checksum in manifest.json differs); "
            "lifesim will not replace the folder even with --overwrite. Move what you want "
            "to keep out of it, or choose a new folder"
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
    tmp_path: Path | None = None
    try:
        with _signals_held():  # a signal now would leave the file made but not yet known
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            tmp_path = Path(tmp)
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600: the usual file mode
        with _writing(path):
            yield tmp_path
            os.replace(tmp_path, path)
    finally:
        if tmp_path is not None and tmp_path.exists():
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
    """List every file written into the run folder in its manifest (adding one if missing).

    With a checksum of each (``checksums``) and of the manifest (``manifest_checksum``), so a
    later ``overwrite`` replaces the folder only if nothing in it was edited.
    """
    mpath = tmp / MANIFEST
    manifest: dict = {}
    if mpath.exists():
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    manifest.setdefault("lifesim_version", __version__)
    manifest.setdefault("command", _command_line())
    manifest.setdefault("python", sys.version.split()[0])
    manifest.setdefault("packages", _versions())
    manifest["files"] = sorted(p.name for p in tmp.iterdir() if p.name != MANIFEST)
    manifest["checksums"] = {name: _checksum(tmp / name) for name in manifest["files"]}
    manifest.pop("manifest_checksum", None)
    manifest["manifest_checksum"] = _manifest_checksum(manifest)
    mpath.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP for steps that must not be cut in two; deliver them after.

    Replacing an earlier run folder takes two renames; a signal between them would leave the
    old folder hidden beside a missing one. (Only the main thread can do this; elsewhere the
    steps run as they are.)
    """
    held: list[int] = []
    old = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                old[sig] = signal.signal(sig, lambda signum, frame: held.append(signum))
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(held):
            signal.raise_signal(sig)


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
    tmp: Path | None = None
    try:
        with _signals_held():  # a signal now would leave the folder made but not yet known
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700: the usual folder mode
        with _writing(path):
            yield tmp
            _seal(tmp)
        check_out_dir(path, overwrite=overwrite, inputs=inputs)  # nothing changed meanwhile
        if path.exists():
            # an empty folder, or an earlier run folder holding only lifesim's files
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rmdir(old)
            with _signals_held():
                os.replace(path, old)
                try:
                    os.replace(tmp, path)
                except OSError:
                    os.replace(old, path)  # put the earlier run back
                    raise
                shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp is not None and tmp.exists():
            with _signals_held():  # a second signal does not cut the clean-up short
                shutil.rmtree(tmp)
