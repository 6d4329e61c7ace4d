"""Checks of scalar arguments with one message format: ``name: must be <allowed>, got <value>``.

Modelled on scikit-learn's ``check_scalar`` and tea-tasting's ``utils/checks.py``: every
check names the parameter, says what is allowed and shows the value it got, and returns the
value (as a plain Python ``int``/``float`` where it converts), so a caller writes::

    reps = check_int("replications", reps, min=2)

The error is a :class:`~lifesim.errors.ConfigError` by default, whose ``problems`` carry the
parameter name as the key path (``replications``) and whose text reads
``replications: must be a whole number >= 2, got 1.5``. Pass ``error=DataError`` (or any
exception class taking one message) where the argument is about data rather than a
scenario; the text is the same.

Booleans are never numbers here (``True`` is not the whole number 1).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any, NoReturn

from lifesim.errors import ConfigError

__all__ = ["check_choice", "check_int", "check_jobs", "check_number", "check_prob", "fail"]


def fail(name: str, allowed: str, value: Any, error: type[Exception] = ConfigError) -> NoReturn:
    """Raise ``error`` saying ``name: must be <allowed>, got <value!r>``.

    Parameters
    ----------
    name : str
        The parameter (or key path) at fault.
    allowed : str
        What is allowed, completing "must be ...".
    value : object
        The value received (shown with ``repr``).
    error : type of Exception
        :class:`ConfigError` (or a subclass) gets ``[(name, message)]``; any other class gets
        the one-line text.

    Raises
    ------
    Exception
        Always, of type ``error``.
    """
    msg = f"must be {allowed}, got {value!r}"
    if isinstance(error, type) and issubclass(error, ConfigError):
        raise error([(name, msg)])
    raise error(f"{name}: {msg}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(
    name: str,
    value: Any,
    *,
    min: int | None = None,  # noqa: A002 (the word a reader expects, as in check_scalar)
    max: int | None = None,  # noqa: A002
    error: type[Exception] = ConfigError,
) -> int:
    """Check that ``value`` is a whole number (not a bool) within ``[min, max]``.

    Parameters
    ----------
    name : str
        The parameter's name, shown in the message.
    value : object
        The value to check; ``int`` and NumPy integers pass.
    min, max : int, optional
        Inclusive bounds.
    error : type of Exception
        The exception raised (default :class:`ConfigError`).

    Returns
    -------
    int
        ``value`` as a Python ``int``.

    Raises
    ------
    Exception
        Of type ``error``: ``days: must be a whole number >= 1, got 0``, or
        ``replications: must be <= 100,000, got 1000000000``.

    Examples
    --------
    >>> check_int("replications", 30, min=2)
    30
    >>> check_int("replications", 1.5, min=2)
    Traceback (most recent call last):
    ...
    lifesim.errors.ConfigError: replications: must be a whole number >= 2, got 1.5
    """
    if not _is_int(value) or (min is not None and value < min):
        fail(name, "a whole number" + (f" >= {min}" if min is not None else ""), value, error)
    if max is not None and value > max:
        fail(name, f"<= {max:,}", value, error)
    return int(value)


def check_jobs(name: str, value: Any, error: type[Exception] = ConfigError) -> int:
    """Check a worker count: a whole number >= 1, or -1 for all cores.

    Returns
    -------
    int

    Raises
    ------
    Exception
        Of type ``error``: ``jobs: must be >= 1 or -1 (all cores), got 0``.
    """
    if not _is_int(value) or value == 0 or value < -1:
        fail(name, ">= 1 or -1 (all cores)", value, error)
    return int(value)


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: str = "neither",
    error: type[Exception] = ConfigError,
) -> float:
    """Check that ``value`` is a real number (not a bool, not NaN) in an interval.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : object
        The value to check.
    low, high : float, optional
        The interval's ends (``None``: unbounded on that side).
    closed : {'neither', 'left', 'right', 'both'}
        Which ends belong to the interval.
    error : type of Exception
        The exception raised (default :class:`ConfigError`).

    Returns
    -------
    float

    Raises
    ------
    Exception
        Of type ``error``: ``alpha: must be in (0, 1), got 1.5``.
    """
    if closed not in ("neither", "left", "right", "both"):
        raise ValueError(f"closed == {closed!r}, must be one of 'neither', 'left', 'right', 'both'")
    lo_in, hi_in = closed in ("left", "both"), closed in ("right", "both")
    if low is not None and high is not None:
        allowed = f"in {'[' if lo_in else '('}{low:g}, {high:g}{']' if hi_in else ')'}"
    elif low is not None:
        allowed = f"{'>=' if lo_in else '>'} {low:g}"
    elif high is not None:
        allowed = f"{'<=' if hi_in else '<'} {high:g}"
    else:
        allowed = "a number"
    ok = _is_real(value) and value == value  # NaN != NaN
    if ok and low is not None:
        ok = value >= low if lo_in else value > low
    if ok and high is not None:
        ok = value <= high if hi_in else value < high
    if not ok:
        fail(name, allowed, value, error)
    return float(value)


def check_prob(
    name: str, value: Any, *, closed: str = "neither", error: type[Exception] = ConfigError
) -> float:
    """Check a probability: :func:`check_number` on the interval 0..1 (open by default).

    Examples
    --------
    >>> check_prob("alpha", 0.05)
    0.05
    >>> check_prob("alpha", 1.5)
    Traceback (most recent call last):
    ...
    lifesim.errors.ConfigError: alpha: must be in (0, 1), got 1.5
    """
    return check_number(name, value, low=0, high=1, closed=closed, error=error)


def check_choice(
    name: str, value: Any, choices: Iterable[Any], error: type[Exception] = ConfigError
) -> Any:
    """Check that ``value`` is one of ``choices``.

    Returns
    -------
    object
        ``value``.

    Raises
    ------
    Exception
        Of type ``error``: ``design: must be 'person' or 'market', got 'city'``, or
        ``mode: must be one of 'a', 'b', 'c', got 'd'`` for three choices or more.
    """
    options = list(choices)
    if value in options:
        return value
    shown = [repr(c) for c in options]
    if len(shown) == 1:
        allowed = shown[0]
    elif len(shown) == 2:
        allowed = f"{shown[0]} or {shown[1]}"
    else:
        allowed = "one of " + ", ".join(shown)
    fail(name, allowed, value, error)
