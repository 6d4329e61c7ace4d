"""Seeds and named random streams (NumPy Generators from SeedSequence spawning).

lifesim never uses global random state. A simulation takes one ``seed`` (an int, a
:class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`) and derives one
independent stream per *concern* (population, transitions, purchases, ...), always in the same
way, so two strategies run with the same seed see the same random numbers for the same
person on the same day (common random numbers).
"""

from __future__ import annotations

import zlib

import numpy as np

from lifesim.errors import ConfigError

__all__ = ["SeedLike", "as_seed_sequence", "stream", "spawn_seeds"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Turn any accepted seed into a :class:`~numpy.random.SeedSequence`.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        ``None`` draws fresh entropy (not reproducible). A Generator contributes one
        draw from itself (so it advances), which keeps the call reproducible.

    Returns
    -------
    numpy.random.SeedSequence
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2**63 - 1)))
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, SeedSequence, Generator or None, got {seed!r}")
    if seed < 0:  # a ConfigError (a ValueError): `--seed -1` was an internal error
        raise ConfigError([("seed", f"must be >= 0, got {seed}")])
    return np.random.SeedSequence(int(seed))


def stream(seed: SeedLike, name: str) -> np.random.Generator:
    """Return the named, independent stream of ``seed``.

    The stream depends only on the root entropy and ``name`` (not on the order of calls),
    so adding a new concern never shifts the numbers of existing ones.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        Root seed.
    name : str
        Concern, e.g. ``"transition"``.

    Returns
    -------
    numpy.random.Generator
        An SFC64-backed generator (fast; statistically strong for simulation).
    """
    root = as_seed_sequence(seed)
    key = zlib.crc32(name.encode())
    child = np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, 0x6C73, key), pool_size=root.pool_size
    )
    return np.random.Generator(np.random.SFC64(child))


def spawn_seeds(seed: SeedLike, n: int) -> list[np.random.SeedSequence]:
    """Spawn ``n`` independent child seeds (one per replication), reproducibly.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        Root seed.
    n : int
        Number of children.

    Returns
    -------
    list of numpy.random.SeedSequence
        Child ``i`` is the same whatever ``n`` is and whoever runs it (any worker count).
    """
    root = as_seed_sequence(seed)
    return [
        np.random.SeedSequence(
            root.entropy, spawn_key=(*root.spawn_key, i), pool_size=root.pool_size
        )
        for i in range(n)
    ]
