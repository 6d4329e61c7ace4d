"""The stage graph compiled to arrays (edges, per-stage slot tables)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifesim.config import Scenario

__all__ = ["StageGraph", "KIND_CODES"]

KIND_CODES = {"prospect": 0, "customer": 1, "churned": 2, "outside": 3}


@dataclass(frozen=True, eq=False)
class StageGraph:
    """Arrays describing the stages and moves of a scenario.

    Attributes
    ----------
    names : tuple of str
        Stage names; the index is the stage code.
    kind : ndarray of int8, shape (S,)
        0 prospect, 1 customer, 2 churned, 3 outside (``not_arrived``, the last stage of a
        scenario with arrivals: no moves out, no purchases; people leave it by arriving).
    src, dst : ndarray of int8, shape (E,)
        Source and target stage of each edge (move).
    p : ndarray of float64, shape (E,)
        Daily base probability of each edge.
    scaled, boosted, purchase, to_churn : ndarray of bool, shape (E,)
        Edge flags: scaled by propensity, boosted by campaigns/tactics, a purchase, into a
        churned stage.
    slot_edge : ndarray of int16, shape (S, D)
        Edge index of each outgoing slot of a stage (``-1`` pads; D = max out-degree, >= 1).
    buy_p : ndarray of float64, shape (S,)
        Daily repeat-purchase probability per stage (0 where the stage does not buy).
    buy_scaled : ndarray of bool, shape (S,)
        Whether the repeat-purchase probability is scaled by propensity.
    """

    names: tuple[str, ...]
    kind: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    p: np.ndarray
    scaled: np.ndarray
    boosted: np.ndarray
    purchase: np.ndarray
    to_churn: np.ndarray
    slot_edge: np.ndarray
    buy_p: np.ndarray
    buy_scaled: np.ndarray

    @property
    def n_stages(self) -> int:
        """Number of stages."""
        return len(self.names)

    @property
    def n_edges(self) -> int:
        """Number of edges (allowed moves)."""
        return len(self.src)

    def index(self, name: str) -> int:
        """Return the code of stage ``name``."""
        return self.names.index(name)

    def edge(self, src: str, dst: str) -> int:
        """Return the index of the edge ``src -> dst`` (``KeyError`` if there is none)."""
        s, d = self.index(src), self.index(dst)
        hits = np.flatnonzero((self.src == s) & (self.dst == d))
        if len(hits) == 0:
            raise KeyError(f"no move {src} -> {dst}")
        return int(hits[0])

    def edge_names(self) -> list[str]:
        """Names ``'src->dst'`` of every edge."""
        return [
            f"{self.names[a]}->{self.names[b]}" for a, b in zip(self.src, self.dst, strict=True)
        ]

    @classmethod
    def from_scenario(cls, scn: Scenario) -> StageGraph:
        """Compile the stage graph of a validated scenario."""
        names = tuple(scn.stage_names)  # with arrivals: not_arrived last
        kinds = [KIND_CODES[st.kind] for st in scn.stages.values()]
        kinds += [KIND_CODES["outside"]] * (len(names) - len(kinds))
        code = {n: i for i, n in enumerate(names)}
        kind = np.array(kinds, dtype=np.int8)
        src, dst, p, sc, bo, pu = [], [], [], [], [], []
        for s, st in scn.stages.items():
            for t, tr in st.to.items():
                src.append(code[s])
                dst.append(code[t])
                p.append(tr.p)
                sc.append(tr.propensity)
                bo.append(tr.boost)
                pu.append(tr.purchase)
        n_st = len(names)
        src_a = np.array(src, dtype=np.int8)
        deg = np.bincount(src_a, minlength=n_st) if len(src) else np.zeros(n_st, int)
        d = max(1, int(deg.max()) if n_st else 1)
        slot = np.full((n_st, d), -1, dtype=np.int16)
        fill = np.zeros(n_st, dtype=int)
        for e, s in enumerate(src):
            slot[s, fill[s]] = e
            fill[s] += 1
        dst_a = np.array(dst, dtype=np.int8)
        stages = list(scn.stages.values()) + [None] * (len(names) - len(scn.stages))
        buy_p = np.array([st.buy.p if st and st.buy else 0.0 for st in stages])
        buy_sc = np.array([bool(st and st.buy and st.buy.propensity) for st in stages])
        return cls(
            names=names,
            kind=kind,
            src=src_a,
            dst=dst_a,
            p=np.array(p, dtype=np.float64),
            scaled=np.array(sc, dtype=bool),
            boosted=np.array(bo, dtype=bool),
            purchase=np.array(pu, dtype=bool),
            to_churn=kind[dst_a] == KIND_CODES["churned"] if len(dst) else np.zeros(0, bool),
            slot_edge=slot,
            buy_p=buy_p,
            buy_scaled=buy_sc,
        )
