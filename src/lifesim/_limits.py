"""Resource limits checked before work starts: sizes, counts, file sizes, decompressed sizes.

One place for every bound lifesim puts on what an input may ask for, so that a hostile or
careless file (``market.size: 1e12``, ``-r 1000000000``, a gzip bomb) is refused up front with
a message that names the value, the limit and the machine's memory, instead of failing after
allocating terabytes or running for ever.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = [
    "BYTES_PER_PERSON",
    "MAX_ARMS",
    "MAX_DAYS",
    "MAX_REPLICATIONS",
    "MAX_SCENARIO_BYTES",
    "MAX_SWEEP_POINTS",
    "decompressed_limit",
    "fmt_bytes",
    "machine_memory",
    "people_problem",
    "too_much_decompressed",
]

#: Largest horizon of a simulation, in days (about 87 years).
MAX_DAYS = 32_000
#: Most replications per strategy in one comparison.
MAX_REPLICATIONS = 100_000
#: Most points of one sweep design (each holds a resolved scenario while the sweep runs).
MAX_SWEEP_POINTS = 10_000
#: Most arms (control included) in one A/B design or analysis.
MAX_ARMS = 100
#: Largest scenario file read, in bytes.
MAX_SCENARIO_BYTES = 10 * 2**20
#: Memory one simulated person needs (state arrays, daily draws, event log), conservatively.
BYTES_PER_PERSON = 400
#: Largest decompressed size of a compressed data file (further capped by memory / 8).
MAX_DECOMPRESSED_BYTES = 2 * 2**30


def machine_memory() -> int | None:
    """Physical memory of this machine in bytes (``None`` when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def fmt_bytes(n: float) -> str:
    """Show a byte count with a binary-ish unit (``3.2 GB``, ``400 TB``)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PB"  # pragma: no cover


def people_problem(n: int, copies: int = 1) -> str | None:
    """Say why ``n`` simulated people cannot fit in memory, or ``None`` when they can.

    Parameters
    ----------
    n : int
        Number of people of one simulation.
    copies : int
        Simulations held at once (parallel workers).
    """
    need = n * BYTES_PER_PERSON * max(1, copies)
    have = machine_memory()
    if have is None or need <= have:
        return None
    return (
        f"{int(n):,} people need about {fmt_bytes(need)} of memory; this machine has "
        f"{fmt_bytes(have)}; allowed: at most about {have // BYTES_PER_PERSON:,} people"
    )


def decompressed_limit() -> int:
    """Largest decompressed size accepted for a compressed data file, in bytes."""
    have = machine_memory()
    return min(MAX_DECOMPRESSED_BYTES, have // 8) if have else MAX_DECOMPRESSED_BYTES


def _opener(path: Path) -> Callable[[], IO[bytes]] | None:
    name = path.name.lower()
    if name.endswith((".gz", ".gzip")):
        return lambda: gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return lambda: bz2.open(path, "rb")
    if name.endswith((".xz", ".lzma")):
        return lambda: lzma.open(path, "rb")
    if name.endswith(".zip"):

        def open_zip() -> IO[bytes]:
            zf = zipfile.ZipFile(path)
            names = [i for i in zf.infolist() if not i.is_dir()]
            if len(names) != 1:
                raise OSError(f"a zip file must hold exactly one file, found {len(names)}")
            return zf.open(names[0])

        return open_zip
    if name.endswith(".zst"):
        try:
            import zstandard
        except ImportError:  # pragma: no cover - pandas would fail too
            return None
        return lambda: zstandard.open(path, "rb")
    return None


def too_much_decompressed(path: str | os.PathLike, limit: int | None = None) -> str | None:
    """Stream a compressed file, counting its decompressed bytes up to ``limit``.

    Returns
    -------
    str or None
        Why the file is refused (it inflates past the limit, or it is not valid compressed
        data), or ``None`` for an uncompressed file or one within the limit. Reading stops
        as soon as the limit is passed, so a bomb costs at most ``limit`` bytes of work.
    """
    path = Path(path)
    opener = _opener(path)
    if opener is None:
        return None
    limit = decompressed_limit() if limit is None else limit
    total = 0
    try:
        with opener() as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
                if total > limit:
                    return (
                        f"{path} inflates to more than {fmt_bytes(limit)} when decompressed "
                        f"(compressed: {fmt_bytes(path.stat().st_size)}); allowed: at most "
                        f"{fmt_bytes(limit)}; decompress it yourself, convert it to Parquet, or "
                        "read it in chunks with lifesim.ab.aggregate"
                    )
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        return f"{path} is not valid compressed data ({exc})"
    return None
