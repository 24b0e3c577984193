"""Results files as ``tlbench evaluate`` writes them, with made-up returns, and the small
scenarios they are made for: fast inputs for the leaderboard and ``tlbench compare`` tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tlbench.runner.plan import plan_runs
from tlbench.scenarios import load_scenario

TIERS = """\
tiers:
  smoke: {source_steps: 200, target_steps: 200, eval_every: 100, eval_episodes: 3,
          eval_policy: greedy, source_seeds: 2, target_seeds: 2}
  standard: {source_steps: 200, target_steps: 200, eval_every: 100, eval_episodes: 3,
             eval_policy: epsilon-greedy, eval_epsilon: 0.1, source_seeds: 2, target_seeds: 2}
  paper: {source_steps: 300, target_steps: 300, eval_every: 100, eval_episodes: 2,
          eval_policy: greedy, source_seeds: 1, target_seeds: 1}
"""


#: budgets of 100 steps, for scenarios that real (test) agents are evaluated on
TINY_TIERS = """\
tiers:
  smoke: {source_steps: 100, target_steps: 100, eval_every: 50, eval_episodes: 1,
          eval_policy: greedy, source_seeds: 2, target_seeds: 2}
  standard: {source_steps: 100, target_steps: 100, eval_every: 50, eval_episodes: 1,
             eval_policy: greedy, source_seeds: 2, target_seeds: 2}
  paper: {source_steps: 100, target_steps: 100, eval_every: 50, eval_episodes: 1,
          eval_policy: greedy, source_seeds: 1, target_seeds: 1}
"""
#: maze/inverse-reward-free at the budgets above
TINY_REWARD_FREE = f"""\
id: test/tiny-rf
version: 1
title: Tiny reward-free maze (tests)
description: maze/inverse-reward-free with budgets small enough for unit tests.
references: []
sources:
  - env: tlbench/Maze-v0
    kwargs: {{reward_mode: none}}
target:
  env: tlbench/InverseMaze-v0
  kwargs: {{reward_mode: none}}
score: embedding-alignment
{TINY_TIERS}"""


def scenario_file(sid: str, sources: str, target: str) -> str:
    return f"""\
id: {sid}
version: 1
title: Test scenario {sid}
description: A scenario with budgets small enough for unit tests.
references: []
sources:
{sources}
target:
  {target}
score: return
success_threshold: 0.5
normalization: {{random: -1.0, reference: 1.0}}
{TIERS}"""


SCENARIOS = {
    "test/tiny": ("  - env: tlbench/Maze-v0", "env: tlbench/InverseMaze-v0"),
    # a family of three source -> target pairs, for the transfer matrix
    "toy/maze": ("  - env: tlbench/Maze-v0", "env: tlbench/InverseMaze-v0"),
    "toy/labyrinth": ("  - env: tlbench/MetaLabyrinth-v0", "env: tlbench/InverseMaze-v0"),
    "toy/both": (
        "  - env: tlbench/Maze-v0\n  - env: tlbench/MetaLabyrinth-v0",
        "env: tlbench/InverseMetaLabyrinth-v0",
    ),
}


def make_results(
    scenario_id: str = "test/tiny",
    tier: str = "standard",
    *,
    digest: str = "0123456789abcdef",
    name: str = "ToyAgent",
    gain: float = 0.3,
    seed: int = 0,
) -> dict[str, Any]:
    """A results file as ``tlbench evaluate`` writes it, with made-up returns: scratch learns
    from -1 towards 1, transfer starts ``gain`` higher."""
    scenario = load_scenario(scenario_id)
    protocol = scenario.tier(tier)
    rng = np.random.default_rng(seed)
    runs = []
    for spec in plan_runs(
        fingerprint=scenario.fingerprint,
        tier=tier,
        source_seeds=protocol.source_seeds,
        target_seeds=protocol.target_seeds,
        agent_digest=digest,
        agent_kwargs={},
    ):
        run: dict[str, Any] = {
            "key": spec.key,
            "condition": spec.condition,
            "source_seed": spec.source_seed,
            "target_seed": spec.target_seed,
            "seed": spec.seed,
            "source_key": spec.source_key,
            "status": "ok",
            "log": f"runs/toy/logs/{spec.key}.log",
            "timing": {"total_s": 1.5},
        }
        if spec.condition == "source":
            run["steps"] = {"source": [protocol.source_steps] * len(scenario.sources)}
        else:
            n = len(protocol.checkpoints)
            base = np.linspace(-1.0, 0.6, n) + (gain if spec.condition == "transfer" else 0.0)
            returns = [
                [round(float(x), 3) for x in rng.normal(b, 0.3, protocol.eval_episodes)]
                for b in base
            ]
            run.update(
                checkpoints=protocol.checkpoints,
                returns=returns,
                curve=[float(np.mean(r)) for r in returns],
                steps={"target": protocol.target_steps},
            )
        runs.append(run)
    return {
        "schema": "tlbench.results/1",
        "scenario": {
            "id": scenario.id,
            "version": scenario.version,
            "title": scenario.title,
            "fingerprint": scenario.fingerprint,
        },
        "tier": tier,
        "protocol": protocol.model_dump(),
        "agent": {"name": name, "path": "toy.py", "class": None, "digest": digest, "kwargs": {}},
        "command": f"tlbench evaluate toy.py --scenario {scenario_id} --tier {tier} --out runs/t",
        "versions": {"python": "3.11.0", "tlbench": "0.1.0"},
        "device": {"device": "cpu", "cpu": "Test CPU", "cpu_count": 2, "platform": "Linux"},
        "runs": runs,
        "metrics": {"anything": "the submitted metrics are ignored"},
        "failed": [],
    }


def write(path: Path, data: dict[str, Any] | str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=1))
    return path
