"""Tactics compiled to arrays over the stage graph."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lifesim.config import Scenario
from lifesim.config.scenario import Tactic
from lifesim.model.graph import StageGraph

__all__ = ["CompiledTactic", "compile_tactics", "edge_factors"]


def edge_factors(graph: StageGraph, effect: dict[str, float]) -> np.ndarray:
    """Per-edge multipliers from a ``{"src->dst": factor}`` mapping (1 elsewhere)."""
    f = np.ones(graph.n_edges)
    for key, mult in effect.items():
        a, _, b = key.partition("->")
        f[graph.edge(a, b)] *= mult
    return f


@dataclass(frozen=True, eq=False)
class CompiledTactic:
    """A tactic as arrays.

    Attributes
    ----------
    name : str
    spec : Tactic
        The validated spec.
    group : str
        Budget group: acquisition, retention or advocacy.
    stage_mask : ndarray of bool, shape (S,)
        Stages it serves.
    edge_factor : ndarray, shape (E,)
        Multipliers on moves for a reached person.
    referral_factor : ndarray, shape (E,) or None
        Multipliers on a referred person's moves.
    referral_from : ndarray of bool, shape (S,) or None
        Stages referred people are drawn from.
    """

    name: str
    spec: Tactic
    group: str
    stage_mask: np.ndarray
    edge_factor: np.ndarray
    referral_factor: np.ndarray | None
    referral_from: np.ndarray | None

    @cached_property
    def unit_cost(self) -> float:
        """Money committed per contact: the contact, a possible redemption and referral."""
        c = self.spec.cost
        reward = self.spec.referral.reward if self.spec.referral is not None else 0.0
        return c.per_contact + (c.per_redemption if self.spec.single_use else 0.0) + reward


def _group(t: Tactic, scn: Scenario) -> str:
    if t.group is not None:
        return t.group
    kind = scn.stages[t.stages[0]].kind
    return "acquisition" if kind == "prospect" else "retention"


def compile_tactics(scn: Scenario, graph: StageGraph) -> dict[str, CompiledTactic]:
    """Compile every tactic of a validated scenario."""
    out = {}
    for name, t in scn.tactics.items():
        mask = np.zeros(graph.n_stages, dtype=bool)
        mask[[graph.index(s) for s in t.stages]] = True
        rf = rfrom = None
        if t.referral is not None:
            rf = edge_factors(graph, t.referral.effect)
            rfrom = np.zeros(graph.n_stages, dtype=bool)
            rfrom[[graph.index(s) for s in t.referral.from_stages]] = True
        out[name] = CompiledTactic(
            name=name,
            spec=t,
            group=_group(t, scn),
            stage_mask=mask,
            edge_factor=edge_factors(graph, t.effect),
            referral_factor=rf,
            referral_from=rfrom,
        )
    return out
