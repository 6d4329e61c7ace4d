"""Exceptions raised by lifesim: one root, :class:`LifesimError`."""

from __future__ import annotations

import difflib
import re

__all__ = ["LifesimError", "ConfigError", "DataError", "LimitError"]


class LifesimError(Exception):
    """Root of every error lifesim raises on purpose (bad input, bad config)."""


class ConfigError(LifesimError, ValueError):
    """A scenario or option is invalid.

    Parameters
    ----------
    problems : list of (path, message)
        Each problem names the key path (``stages.awareness.to.purchase.p``) and says what
        is wrong: the bad value and what is allowed.
    source : str, optional
        Where the config came from (a file name), shown in the message.
    """

    def __init__(self, problems: list[tuple[str, str]] | str, source: str | None = None):
        if isinstance(problems, str):
            problems = [("", problems)]
        self.problems = [(p, did_you_mean(m)) for p, m in problems]
        self.source = source
        lines = [f"{p}: {m}" if p else m for p, m in self.problems]
        head = f"invalid scenario {source}" if source else "invalid scenario"
        if len(lines) == 1 and not source:
            super().__init__(lines[0])
        else:
            super().__init__(head + ":\n" + "\n".join("  " + ln for ln in lines))


class DataError(LifesimError, ValueError):
    """Input data (a CSV/Parquet file or a DataFrame) is unusable; names the column."""


class LimitError(LifesimError, ValueError):
    """A size or count is beyond what lifesim allows or what this machine can hold.

    Raised before any work starts (too many arms or replications, a file that inflates past
    the decompression limit), with the value, the limit and, for memory, the machine's size.
    """


_UNKNOWN = re.compile(r"(?:unknown [\w ()-]+?|no key) '([^']+)'[^;]*; known(?: stages)?: ([^;\n]+)")


def did_you_mean(message: str) -> str:
    """Add ``(did you mean 'x'?)`` to an "unknown 'y'; known: ..." message when one is close."""
    if "did you mean" in message:
        return message
    m = _UNKNOWN.search(message)
    if m is None:
        return message
    name = m.group(1).rsplit(".", 1)[-1]
    known = [k.strip() for k in m.group(2).split(",") if k.strip()]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"{message} (did you mean {close[0]!r}?)" if close else message
