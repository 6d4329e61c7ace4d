"""Save and load trained churn models with skops: safe to load a file from someone else.

A plain pickle runs arbitrary code when loaded. skops stores the model as data and, when
loading, refuses any type that is not explicitly trusted. lifesim trusts exactly the types a
:class:`ChurnModel` is made of (:data:`TRUSTED_TYPES`); a file that needs anything else is
refused with a :class:`~lifesim.errors.DataError` naming the offending types, before any object
is built. Metadata (features, churn definition, schema) is stored as a JSON string.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio

from lifesim._io import atomic_path
from lifesim.churn.model import ChurnModel
from lifesim.errors import DataError

__all__ = [
    "TRUSTED_TYPES",
    "FORMAT",
    "CHECKSUM_MEMBER",
    "MAX_FILE_BYTES",
    "MAX_UNPACKED_BYTES",
    "dump_model",
    "load_payload",
]

FORMAT = "lifesim.churn.model/1"
#: Archive member holding ``{"algorithm": "sha256", "digest": ...}`` of all other members.
CHECKSUM_MEMBER = "lifesim-checksum.json"
#: Largest model file read, in bytes.
MAX_FILE_BYTES = 256 * 2**20
#: Largest total unpacked size of a model archive, in bytes.
MAX_UNPACKED_BYTES = 1024 * 2**20

#: Types beyond skops' defaults that a saved ChurnModel may contain (and nothing else).
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "lifesim.churn.model.ChurnModel",
        "lifesim.churn.model._signed_log1p",
        "lifesim.churn.model._as_text",
        "lifesim.churn.model._EncodedClassifier",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.model_selection._split.StratifiedKFold",
        "sklearn.model_selection._split.StratifiedShuffleSplit",
        "sklearn.utils.validation.check_array",
        "functools.partial",
        "numpy.dtype",
    }
)


def _digest(zf: zipfile.ZipFile) -> str:
    """SHA-256 over the names and contents of every member but the checksum, in name order."""
    h = hashlib.sha256()
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        if info.filename == CHECKSUM_MEMBER:
            continue
        h.update(info.filename.encode("utf-8") + b"\0" + str(info.file_size).encode() + b"\0")
        with zf.open(info) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _seal(path: str | os.PathLike) -> None:
    """Add the checksum member to a freshly written archive."""
    with zipfile.ZipFile(path) as zf:
        digest = _digest(zf)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(CHECKSUM_MEMBER, json.dumps({"algorithm": "sha256", "digest": digest}))


def dump_model(model: ChurnModel, meta: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``model`` and its JSON metadata to ``path`` (skops format, atomically).

    Parameters
    ----------
    model : ChurnModel
        A fitted model.
    meta : dict
        JSON-able metadata (feature spec, definition, columns, version).
    path : path-like
        Output file (conventionally ``*.skops``).

    Returns
    -------
    Path
    """
    payload = {"format": FORMAT, "model": model, "meta": json.dumps(meta, allow_nan=True)}
    with atomic_path(path) as tmp:
        sio.dump(payload, tmp)
        _seal(tmp)
    return Path(path)


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"--model {path}: not a skops model file ({exc})") from None


def _check_size(path: Path) -> None:
    """Refuse a non-file, a file too large, or an archive that unpacks too large (zip bomb)."""
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"--model {path}: not a regular file; give a .skops model file")
    if st.st_size > MAX_FILE_BYTES:
        raise DataError(
            f"--model {path}: the file is {st.st_size / 2**20:.0f} MB; allowed: at most "
            f"{MAX_FILE_BYTES // 2**20} MB for a churn model"
        )
    with _open(path) as zf:
        infos = zf.infolist()
    unpacked = sum(i.file_size for i in infos)
    if len(infos) > 100_000 or unpacked > MAX_UNPACKED_BYTES:
        raise DataError(
            f"--model {path}: unpacks to {unpacked / 2**20:.0f} MB in {len(infos)} members "
            f"({st.st_size / 2**20:.1f} MB on disk): a zip bomb, not a churn model; allowed: "
            f"at most {MAX_UNPACKED_BYTES // 2**20} MB unpacked"
        )


def _check_checksum(path: Path) -> None:
    """Refuse an archive without the checksum member or whose members were changed."""
    with _open(path) as zf:
        try:
            stored = json.loads(zf.read(CHECKSUM_MEMBER))
        except KeyError:
            raise DataError(
                f"--model {path}: not a lifesim churn model file of this version: it has no "
                f"checksum ({CHECKSUM_MEMBER}); train it again with `lifesim churn train`"
            ) from None
        except (ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataError(f"--model {path}: its checksum record is unreadable ({exc})") from None
        if not (isinstance(stored, dict) and isinstance(stored.get("digest"), str)):
            raise DataError(f"--model {path}: its checksum record is malformed ({stored!r:.80})")
        try:
            digest = _digest(zf)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise DataError(f"--model {path}: the archive is damaged ({exc})") from None
    if stored["digest"] != digest:
        raise DataError(
            f"--model {path}: the file was changed after it was saved (its SHA-256 checksum "
            "does not match); use the file `lifesim churn train` wrote, or train again"
        )


def _check_meta(path: Path, raw: object) -> dict[str, Any]:
    """Parse the metadata JSON and check the keys a model needs, naming what is wrong."""
    try:
        meta = json.loads(raw) if isinstance(raw, str) else None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DataError(f"--model {path}: its metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise DataError(f"--model {path}: its metadata must be a JSON object, got {raw!r:.80}")
    spec, names = meta.get("spec"), meta.get("feature_names")
    problems = []
    if not isinstance(spec, dict):
        problems.append(f"'spec' must be an object, got {spec!r:.60}")
    else:
        from lifesim.churn.features import FeatureSpec

        try:
            FeatureSpec.from_dict(spec)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"'spec' is not a feature spec ({type(exc).__name__}: {exc})")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        problems.append(f"'feature_names' must be a list of names, got {names!r:.60}")
    if not isinstance(meta.get("definition"), dict | None) or "definition" not in meta:
        problems.append(
            f"'definition' must be an object or null, got {meta.get('definition')!r:.60}"
        )
    if problems:
        raise DataError(f"--model {path}: malformed metadata: " + "; ".join(problems))
    return meta


def load_payload(path: str | os.PathLike) -> tuple[ChurnModel, dict[str, Any]]:
    """Load a model saved by :func:`dump_model`, trusting only :data:`TRUSTED_TYPES`.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    model : ChurnModel
    meta : dict

    Raises
    ------
    DataError
        Not a skops file, too large (on disk or unpacked), changed since it was saved (the
        checksum differs), not a lifesim churn model, malformed metadata, or it needs types
        lifesim does not trust.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    _check_size(path)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - any parse failure of a foreign file is bad input
        raise DataError(f"--model {path}: not a skops model file ({exc})") from None
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise DataError(
            f"--model {path}: refusing to load: it contains types lifesim does not trust "
            f"({', '.join(unexpected[:10])}); allowed: a lifesim ChurnModel "
            f"({', '.join(sorted(TRUSTED_TYPES))} and skops' defaults)"
        )
    _check_checksum(path)
    try:
        payload = sio.load(path, trusted=list(untrusted))
    except Exception as exc:  # noqa: BLE001 - a crafted archive can fail in many ways
        raise DataError(f"--model {path}: cannot be loaded as a churn model ({exc})") from None
    if not (
        isinstance(payload, dict)
        and payload.get("format") == FORMAT
        and isinstance(payload.get("model"), ChurnModel)
    ):
        raise DataError(
            f"--model {path}: a skops file, but not a lifesim churn model "
            f"(expected format {FORMAT!r}); train one with `lifesim churn train`"
        )
    return payload["model"], _check_meta(path, payload.get("meta"))
