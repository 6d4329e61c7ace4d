"""The scenario's own uplift model: what one more contact of a tactic would do for each person.

Targeting by uplift reaches first the people a contact changes most, not the people most
likely to act anyway (the CRM score). In the simulator the true expected effect of a contact
is known from the scenario, so the model here is an *oracle*: a best case for any uplift model
fitted to data. ``targeting: uplift`` blurs it with the same kind of error as the CRM score
(lognormal, ``uplift_noise``) so that neither ranking is given better information.

For a person ``i`` in stage ``s`` with propensity ``m_i``, fatigue ``F_i`` and churn factor
``c_i`` (promotion side effects x satisfaction x fatigue, as the engine's day uses them), a
contact of tactic ``t`` adds, per day while it works,

    lift_i = exp(-erosion x F_i) x ( sum_e p_e(i) |f_e - 1| + b_s(i) |t.buy - 1| ) x r_i

where ``e`` runs over the moves out of ``s``, ``p_e(i) = p_e x (m_i if the move is scaled by
propensity) x (c_i if it leads to a churned stage)`` is the move's daily probability,
``f_e`` the tactic's factor on it, ``b_s(i)`` the stage's daily repeat-purchase probability
(``x m_i`` where scaled) and ``r_i`` the share of the contact that is new: 1, or for a person
whose last contact with ``t`` still works (effects of one tactic do not stack),
``days since it / t.duration``. Campaign boosts and order values are left out: they scale
everyone in a stage alike, so they do not change the ranking within a stage.
"""

from __future__ import annotations

import numpy as np

from lifesim.model import CompiledTactic, Population, StageGraph

__all__ = ["expected_lift"]


def expected_lift(
    graph: StageGraph,
    pop: Population,
    tactic: CompiledTactic,
    people: np.ndarray,
    day: int,
    last_with: np.ndarray,
    erosion: float,
    churn_factor: np.ndarray,
) -> np.ndarray:
    """Return the expected extra moves and orders per day one contact of ``tactic`` gives.

    Parameters
    ----------
    graph : StageGraph
    pop : Population
    tactic : CompiledTactic
    people : ndarray of int
        Who to evaluate (any order; the result follows it).
    day : int
        Today.
    last_with : ndarray of int16, shape (N,)
        Day of each person's last contact with ``tactic`` (-32768: never).
    erosion : float
        ``fatigue.erosion`` (a contact's strength is ``exp(-erosion x fatigue)``).
    churn_factor : ndarray of float, shape (len(people),)
        Factor on each person's moves into churned stages.

    Returns
    -------
    ndarray of float64
        ``lift_i`` as in the module docstring; 0 for people in stages the tactic does not serve.
    """
    people = np.asarray(people, dtype=np.intp)
    if not len(people):
        return np.zeros(0)
    st = pop.stage[people].astype(np.intp)
    m = pop.propensity[people].astype(np.float64)
    gain = np.zeros(len(people))
    if graph.n_edges:  # a graph of stages without moves: no move to gain
        edges = graph.slot_edge[st].astype(np.intp)
        valid = edges >= 0
        e = np.where(valid, edges, 0)
        p = graph.p[e] * np.where(graph.scaled[e], m[:, None], 1.0)
        p = p * np.where(graph.to_churn[e], np.asarray(churn_factor, np.float64)[:, None], 1.0)
        gain = np.where(valid, p * np.abs(tactic.edge_factor[e] - 1.0), 0.0).sum(axis=1)
    buy = tactic.spec.buy
    if buy != 1.0:
        b = graph.buy_p[st] * np.where(graph.buy_scaled[st], m, 1.0)
        gain = gain + np.minimum(b, 1.0) * abs(buy - 1.0)
    strength = np.exp(-erosion * pop.fatigue[people].astype(np.float64))
    since = day - last_with[people].astype(np.int64)
    new_share = np.clip(since / tactic.spec.duration, 0.0, 1.0)
    lift = strength * gain * new_share
    return np.where(tactic.stage_mask[st], lift, 0.0)
