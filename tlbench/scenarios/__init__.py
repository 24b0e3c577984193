"""Scenarios: declarative, versioned transfer protocols stored as YAML files under ``tasks/``.

A scenario names its source envs and its target env (registered tlbench ids with keyword
arguments), how target runs are scored, and three protocol tiers (``smoke``, ``standard``,
``paper``) of step budgets, evaluation schedule and seeds. Its :attr:`Scenario.fingerprint` is
stamped into every result.

>>> from tlbench.scenarios import load_scenario, scenario_ids
>>> [i for i in scenario_ids() if i.startswith("labyrinth/")]
['labyrinth/inverse', 'labyrinth/inverse-grid']
>>> load_scenario("maze/inverse").tier("paper").target_steps
5000
"""

from tlbench.scenarios.registry import TASKS_DIR_ENV, load_scenario, scenario_ids, tasks_dir
from tlbench.scenarios.schema import (
    FINGERPRINT_FORMAT,
    TIER_NAMES,
    EnvRef,
    Normalization,
    Reference,
    Scenario,
    ScenarioError,
    ScoreName,
    Tier,
    TierName,
)

__all__ = [
    "FINGERPRINT_FORMAT",
    "TASKS_DIR_ENV",
    "TIER_NAMES",
    "EnvRef",
    "Normalization",
    "Reference",
    "Scenario",
    "ScenarioError",
    "ScoreName",
    "Tier",
    "TierName",
    "load_scenario",
    "scenario_ids",
    "tasks_dir",
]
