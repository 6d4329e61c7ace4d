"""Progress of the long jobs (compare, sweep, optimize, calibrate, audit): one protocol.

The protocol is a plain callable ``progress(done, total)``, called as units of work (runs,
points, trials, draws) finish, ``done`` increasing to ``total``. Every long job of the library
takes ``progress=``:

- ``None`` or ``False``: silent;
- a callable: called as above (a notebook can drive its own widget, a test can record);
- ``True``: a display chosen here, a tqdm bar (a widget in Jupyter when ``ipywidgets`` is
  installed, else text on stderr) or, without tqdm, :class:`LineProgress`.

A job converts its argument with :func:`as_progress` once its inputs are validated and just
before the work starts: a display object that has a ``begin(total)`` method is told then, so
it shows itself before the first unit finishes, never before an input error. Progress never
touches random numbers or results: the same seed gives the same numbers with or without it.

:class:`LineProgress` is the display for a stderr that is not a terminal (a log file, a CI
job, a pipe): one plain line per step, throttled, e.g.
``compare: 12/60 runs, 35 s elapsed, ETA 1 min 50 s``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from lifesim.errors import ConfigError

__all__ = ["LineProgress", "ProgressLike", "as_progress", "auto_progress", "format_duration"]

#: What ``progress=`` accepts.
ProgressLike = Callable[[int, int], None] | bool | None

_INTERRUPT = [False]  # Ctrl-C was pressed (set by the command line's signal handler)


def interrupt(requested: bool = True) -> None:
    """Record a Ctrl-C (or clear it): the displays raise KeyboardInterrupt at their next update.

    Python drops a KeyboardInterrupt raised while a finaliser runs (numba compiling its
    loops on a machine's first run is full of them); the next progress update raises it
    again, so the command still stops.
    """
    _INTERRUPT[0] = requested


def _stop_if_interrupted() -> None:
    if _INTERRUPT[0]:
        raise KeyboardInterrupt


def format_duration(seconds: float) -> str:
    """Format a duration for people: ``'8 s'``, ``'1 min 50 s'``, ``'2 h 5 min'``.

    Examples
    --------
    >>> format_duration(7.6), format_duration(110), format_duration(7500)
    ('8 s', '1 min 50 s', '2 h 5 min')
    """
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, s = divmod(s, 60)
        return f"{m} min {s} s" if s else f"{m} min"
    h, rem = divmod(s, 3600)
    m = rem // 60
    return f"{h} h {m} min" if m else f"{h} h"


class LineProgress:
    """Plain progress lines for a log: ``label: done/total unit, elapsed, ETA``.

    A line is written on the first update (or at :meth:`begin`), at the end, and in between
    only when at least ``min_interval`` seconds have passed since the last line *and* either
    ``step`` of the total has been done since then or ``max_interval`` seconds have passed:
    a fast job writes a handful of lines, a slow one a line every ``step`` of the work, and at
    least one every ``max_interval`` seconds while work finishes.

    Parameters
    ----------
    label : str
        What runs, e.g. ``"compare"``.
    unit : str
        What is counted, plural (``"runs"``, ``"points"``, ``"trials"``).
    stream : file-like, optional
        Where to write (default: ``sys.stderr`` at the time of each line).
    min_interval, max_interval : float
        Seconds: the least and (while work finishes) the most between two lines.
    step : float
        Fraction of the total worth a line once ``min_interval`` has passed.
    clock : callable() -> float
        Seconds (default :func:`time.monotonic`); the elapsed time counts from construction.
    """

    def __init__(
        self,
        label: str,
        unit: str = "runs",
        stream: IO[str] | None = None,
        min_interval: float = 5.0,
        max_interval: float = 30.0,
        step: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.step = step
        self.clock = clock
        self.t0 = clock()
        self.last_t: float | None = None
        self.last_done = 0
        self.finished = False
        self.base = 0  # units done before this run (a resumed sweep): not in the ETA's rate

    def _write(self, text: str) -> None:
        out = self.stream if self.stream is not None else sys.stderr
        out.write(f"{self.label}: {text}\n")
        out.flush()

    def begin(self, total: int, done: int = 0) -> None:
        """Say the work has started (inputs are valid): ``label: done/total unit, started``.

        ``done`` units were finished by an earlier run (a resumed sweep); the ETA leaves
        them out of the rate.
        """
        if self.last_t is None:
            self.last_t, self.base, self.last_done = self.clock(), done, done
            self._write(f"{done}/{total} {self.unit}, started")

    def __call__(self, done: int, total: int) -> None:
        """Record that ``done`` of ``total`` units are finished; write a line if one is due."""
        _stop_if_interrupted()
        if self.finished:
            return
        now = self.clock()
        elapsed = now - self.t0
        if done >= total:
            self.finished = True
            self._write(f"{done}/{total} {self.unit}, done in {format_duration(elapsed)}")
            return
        if self.last_t is not None:
            since = now - self.last_t
            enough = (done - self.last_done) >= self.step * total or since >= self.max_interval
            if since < self.min_interval or not enough or done <= self.last_done:
                return
        self.last_t, self.last_done = now, done
        ran = done - self.base
        eta = elapsed / ran * (total - done) if ran > 0 else None
        when = f", ETA {format_duration(eta)}" if eta is not None else ""
        self._write(f"{done}/{total} {self.unit}, {format_duration(elapsed)} elapsed{when}")


class _Tqdm:
    """A tqdm bar made at :meth:`begin` or the first update (never before inputs are valid)."""

    def __init__(self, label: str, unit: str) -> None:
        self.label, self.unit = label, unit
        self.bar: Any = None

    def begin(self, total: int, done: int = 0) -> None:
        if self.bar is None:
            self.bar = _tqdm_class()(
                total=total, initial=done, desc=self.label, unit=" " + self.unit
            )

    def __call__(self, done: int, total: int) -> None:
        _stop_if_interrupted()
        self.begin(total)
        if self.bar.disable or self.bar.n >= self.bar.total:
            return
        if self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()


def _tqdm_class() -> Any:
    """Return tqdm's notebook widget inside Jupyter with ipywidgets, else its text bar."""
    ipython = sys.modules.get("IPython")
    kernel = ipython is not None and "ipykernel" in sys.modules
    if kernel:
        try:
            import ipywidgets  # noqa: F401 - only asks whether widgets can be drawn
            from tqdm.notebook import tqdm

            return tqdm
        except ImportError:
            pass
    from tqdm import tqdm

    return tqdm


def auto_progress(label: str, unit: str = "runs") -> Callable[[int, int], None]:
    """Return the display of ``progress=True``: a tqdm bar, or :class:`LineProgress`."""
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return LineProgress(label, unit)
    return _Tqdm(label, unit)


def as_progress(
    progress: ProgressLike, total: int, label: str, unit: str = "runs", done: int = 0
) -> Callable[[int, int], None] | None:
    """Turn a job's ``progress=`` argument into a callback, and say the work is starting.

    Call it once the job's inputs are validated and just before its work starts.

    Parameters
    ----------
    progress : callable(done, total), bool or None
        See the module's docstring.
    total : int
        Units of work the job will report.
    label, unit : str
        Shown by the display of ``progress=True`` (``"compare"``, ``"runs"``).
    done : int
        Units finished by an earlier run (a resumed sweep).

    Returns
    -------
    callable(done, total) or None

    Raises
    ------
    ConfigError
        ``progress`` is not one of the accepted kinds.
    """
    if progress is None or progress is False:
        return None
    if progress is True:
        progress = auto_progress(label, unit)
    elif not callable(progress):
        raise ConfigError(
            [("progress", f"must be a callable(done, total), True or None, got {progress!r}")]
        )
    begin = getattr(progress, "begin", None)
    if callable(begin):
        begin(total, done)
    return progress
