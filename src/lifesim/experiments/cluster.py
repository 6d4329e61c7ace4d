"""Run the replications of ``compare``, ``sweep`` and ``optimize`` on a Dask cluster.

Every task carries its own seed (spawned from the root seed by index), so where it runs does
not change a number: local processes (``jobs``) and any Dask cluster give identical results.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from lifesim.errors import ConfigError

__all__ = ["on_cluster"]


@contextlib.contextmanager
def on_cluster(address: str | None) -> Iterator[Any]:
    """Within the block, joblib work runs on the Dask scheduler at ``address``.

    ``None`` does nothing (local processes). The scheduler and workers are started with Dask's
    own commands (``dask scheduler``, ``dask worker tcp://host:8786``); lifesim must be
    installed on every worker.

    Raises
    ------
    ConfigError
        Without ``dask.distributed`` installed, or when no scheduler answers at ``address``.
    """
    if address is None:
        yield None
        return
    try:
        import joblib
        from dask.distributed import Client
    except ImportError:
        raise ConfigError(
            [("--scheduler", "needs dask.distributed: pip install 'lifesim[dask]'")]
        ) from None
    try:
        client = Client(address, timeout=8)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            [("--scheduler", f"no Dask scheduler answers at {address!r} ({exc})")]
        ) from None
    with client, joblib.parallel_config(backend="dask"):
        yield client
