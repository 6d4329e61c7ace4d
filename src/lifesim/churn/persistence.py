"""Save and load trained churn models with skops: safe to load a file from someone else.

A plain pickle runs arbitrary code when loaded. skops stores the model as data and, when
loading, refuses any type that is not explicitly trusted. lifesim trusts exactly the types a
:class:`ChurnModel` is made of (:data:`TRUSTED_TYPES`); a file that needs anything else is
refused with a :class:`~lifesim.errors.DataError` naming the offending types, before any object
is built. Metadata (features, churn definition, schema) is stored as a JSON string.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio

from lifesim._io import atomic_path
from lifesim.churn.model import ChurnModel
from lifesim.errors import DataError

__all__ = ["TRUSTED_TYPES", "FORMAT", "dump_model", "load_payload"]

FORMAT = "lifesim.churn.model/1"

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
    return Path(path)


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
        Not a skops file, not a lifesim churn model, or it needs types lifesim does not trust.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise DataError(f"--model {path}: not a skops model file ({exc})") from None
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise DataError(
            f"--model {path}: refusing to load: it contains types lifesim does not trust "
            f"({', '.join(unexpected[:10])}); allowed: a lifesim ChurnModel "
            f"({', '.join(sorted(TRUSTED_TYPES))} and skops' defaults)"
        )
    payload = sio.load(path, trusted=list(untrusted))
    if not (
        isinstance(payload, dict)
        and payload.get("format") == FORMAT
        and isinstance(payload.get("model"), ChurnModel)
    ):
        raise DataError(
            f"--model {path}: a skops file, but not a lifesim churn model "
            f"(expected format {FORMAT!r}); train one with `lifesim churn train`"
        )
    return payload["model"], json.loads(payload["meta"])
