"""A/B experiments inside the simulator, with the true effect known.

Public API
----------
run_experiment
    Run a scenario's ``experiment:`` once: randomise people (or regions) into arms, give each
    arm only its own marketing, read the metric windows, analyse the dataset with
    :func:`lifesim.ab.analyze`, and set the true effect beside every estimate.
audit
    Repeat the experiment (and an A/A version) and report false-positive rate, power, CI
    coverage of the truth and bias, each with its Monte Carlo error.
true_effects
    Every arm run over the whole market with common random numbers.
ExperimentResult, AuditResult
    Frozen results with ``to_pandas()``, ``summary()``, ``to_dict()`` and an HTML view.
ArmRouter, ArmView, assign
    The building blocks: the strategy wrapper that routes each arm's strategy to its people
    and the seeded complete randomisation.
"""

from lifesim.experiments.insim.audit import aa_version, audit
from lifesim.experiments.insim.design import ArmRouter, ArmView, assign
from lifesim.experiments.insim.result import AuditResult, ExperimentResult
from lifesim.experiments.insim.run import (
    analyse_dataset,
    run_experiment,
    simulate_experiment,
    true_effects,
)

__all__ = [
    "run_experiment",
    "audit",
    "aa_version",
    "true_effects",
    "simulate_experiment",
    "analyse_dataset",
    "ExperimentResult",
    "AuditResult",
    "ArmRouter",
    "ArmView",
    "assign",
]
