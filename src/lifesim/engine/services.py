"""The narrow interface the engine offers to marketing (no access to the Simulation itself).

Marketing, its budget, offers and contacts see the market only through :class:`Services`:
the population arrays, the stage graph, the ledger, named random streams, cause codes,
person-level effects, the support desk and the history so far. The engine builds it once per
run; nothing here holds the :class:`~lifesim.engine.core.Simulation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lifesim.config import Scenario
from lifesim.engine.kernel import Effect
from lifesim.engine.recorder import Ledger
from lifesim.model import Population, StageGraph

__all__ = ["Services"]


@dataclass(eq=False)
class Services:
    """What marketing may use of the engine.

    Attributes
    ----------
    scenario : Scenario
    graph : StageGraph
    pop : Population
        The market's arrays (marketing writes fatigue, satisfaction, last contact and the
        promotion side effects; the engine owns stages).
    ledger : Ledger
        The budget: charges, reservations and releases.
    n, days : int
        Market size and horizon.
    stream : callable(name) -> numpy.random.Generator
        The run's named random streams (same name, same numbers).
    cause_code : callable(name) -> int
        Cause code of a name (registered on first use).
    causes : list of str
        Cause names by code (read only).
    add_effect : callable(Effect)
        Activate a person-level effect for its days.
    open_tickets : callable(day, people), optional
        Open support tickets for ``people`` (``None`` without support staff).
    history : callable() -> dict
        Purchases and moves so far, as DataFrames.
    """

    scenario: Scenario
    graph: StageGraph
    pop: Population
    ledger: Ledger
    n: int
    days: int
    stream: Callable[[str], np.random.Generator]
    cause_code: Callable[[str], int]
    causes: list[str]
    add_effect: Callable[[Effect], None]
    open_tickets: Callable[[int, np.ndarray], None] | None
    history: Callable[[], dict[str, Any]]
