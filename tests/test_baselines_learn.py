"""Baselines must actually learn: each beats a random policy clearly on an easy task (slow)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import tlbench  # noqa: F401
from tlbench.agents import AgentContext, AgentRef, BudgetExhausted
from tlbench.agents.random import random_returns
from tlbench.runner.budget import BudgetedEnv
from tlbench.runner.worker import evaluate_policy, seed_everything

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("agent_file", "steps", "margin"),
    [("baselines/sb3/dqn.py", 30_000, 0.5), ("baselines/sb3/ppo.py", 60_000, 0.5)],
)
def test_sb3_agent_learns_the_maze(
    agent_file: str, steps: int, margin: float, tmp_path: Path
) -> None:
    seed_everything(0)
    import torch

    torch.set_num_threads(1)
    env = gym.make("tlbench/Maze-v0")
    spaces = (env.observation_space, env.action_space)
    context = AgentContext(*spaces, (spaces,), spaces, 0, "cpu", tmp_path, "target", 0, steps)
    agent = AgentRef(ROOT / agent_file).load_class()(context)
    with contextlib.suppress(BudgetExhausted):  # as in the runner: the budget ends training
        agent.train_target(BudgetedEnv(env, steps, seed=0), steps)
    learned = float(np.mean(evaluate_policy(agent, gym.make("tlbench/Maze-v0"), 100)))
    baseline = float(np.mean(random_returns("tlbench/Maze-v0", 200)))
    # Random: about -0.36; the optimal policy: about 0.95.
    print(f"{agent_file}: learned {learned:.3f}, random {baseline:.3f}")
    assert learned > baseline + margin, (learned, baseline)
