"""The model: stage graph, population (struct of arrays)."""

from lifesim.model.graph import KIND_CODES, StageGraph
from lifesim.model.population import Population, dist_ppf, sample_dist

__all__ = ["KIND_CODES", "StageGraph", "Population", "dist_ppf", "sample_dist"]
