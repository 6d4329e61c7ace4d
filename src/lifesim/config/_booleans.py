"""Booleans are never numbers in a scenario: find ``true``/``false`` where a number is expected.

pydantic's lax mode reads ``true`` as ``1`` for an ``int`` or ``float`` field, so
``market.size: true`` would run with one person. :func:`bool_problems` walks the raw data
along the models' fields before validation and names every such key path.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["bool_problems"]


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _members(tp: Any) -> tuple[Any, ...]:
    tp = _strip(tp)
    if get_origin(tp) in (Union, types.UnionType):
        return tuple(m for a in get_args(tp) for m in _members(a))
    return (tp,)


def _allows_bool(tp: Any) -> bool:
    for m in _members(tp):
        if m is bool or m is Any:
            return True
        if get_origin(m) is Literal and any(isinstance(a, bool) for a in get_args(m)):
            return True
    return False


def _wants_number(tp: Any) -> bool:
    return not _allows_bool(tp) and any(m in (int, float) for m in _members(tp))


def _walk(tp: Any, value: Any, path: str, out: dict[str, str]) -> None:
    if isinstance(value, bool):
        if _wants_number(tp):
            out.setdefault(path, f"must be a number, not a boolean; got {str(value).lower()}")
        return
    for m in _members(tp):
        origin = get_origin(m)
        if isinstance(m, type) and issubclass(m, BaseModel) and isinstance(value, Mapping):
            for key, v in value.items():
                field = m.model_fields.get(str(key))
                if field is not None:
                    _walk(field.annotation, v, f"{path}.{key}" if path else str(key), out)
        elif origin is dict and isinstance(value, Mapping):
            vt = get_args(m)[1]
            for key, v in value.items():
                _walk(vt, v, f"{path}.{key}" if path else str(key), out)
        elif origin is list and isinstance(value, list | tuple):
            (it,) = get_args(m)
            for i, v in enumerate(value):
                _walk(it, v, f"{path}.{i}" if path else str(i), out)


def bool_problems(model: type[BaseModel], data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """List ``(key path, message)`` for every boolean given where ``model`` wants a number.

    Parameters
    ----------
    model : pydantic model class
        The model the data is for (e.g. :class:`~lifesim.config.Scenario`).
    data : mapping
        Raw data (parsed YAML).

    Returns
    -------
    list of (str, str)
    """
    out: dict[str, str] = {}
    _walk(model, data, "", out)
    return list(out.items())
