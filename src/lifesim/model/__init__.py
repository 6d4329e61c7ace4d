"""The model: stage graph, population (struct of arrays), tactics and strategies."""

from lifesim.model.graph import KIND_CODES, StageGraph
from lifesim.model.population import Population, dist_ppf, sample_dist
from lifesim.model.strategies import (
    FixedSplit,
    KpiFocused,
    NoMarketing,
    StageFocused,
    Strategy,
    check_trust,
    custom_targets,
    make_strategy,
    register_strategy_type,
    trusted,
    untrusted_error,
)
from lifesim.model.tactics import CompiledTactic, compile_tactics, edge_factors

__all__ = [
    "KIND_CODES",
    "StageGraph",
    "Population",
    "dist_ppf",
    "sample_dist",
    "CompiledTactic",
    "compile_tactics",
    "edge_factors",
    "Strategy",
    "NoMarketing",
    "KpiFocused",
    "StageFocused",
    "FixedSplit",
    "make_strategy",
    "register_strategy_type",
    "trusted",
    "check_trust",
    "custom_targets",
    "untrusted_error",
]
