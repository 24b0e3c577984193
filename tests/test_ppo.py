"""Our own PPO (``baselines/ppo``): runs, saves and loads exactly, predicts without touching what
it learns, lets the budget stop it, and (slow) learns the maze."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

import tlbench  # noqa: F401  (registers the envs)
from baselines.ppo import PPOAgent
from tlbench.agents.api import AgentContext, BudgetExhausted
from tlbench.envs.labyrinth import MetaLabyrinthVectorEnv
from tlbench.envs.maze import MazeVectorEnv

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"n_steps": 4, "n_minibatches": 2, "n_epochs": 1}


def labyrinth(num_envs: int, inverse: bool = False, seed: int = 0) -> MetaLabyrinthVectorEnv:
    envs = MetaLabyrinthVectorEnv(
        num_envs,
        obs_mode="grid",
        inverse=inverse,
        max_episode_steps=50,
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    envs.reset(seed=seed)
    return envs


def context(envs: Any, tmp_path: Path, seed: int = 0, phase: str = "target") -> AgentContext:
    if hasattr(envs, "single_observation_space"):
        spaces = (envs.single_observation_space, envs.single_action_space)
    else:
        spaces = (envs.observation_space, envs.action_space)
    return AgentContext(*spaces, (spaces,), spaces, seed, "cpu", tmp_path, phase, 0, 0)


def weights(agent: PPOAgent) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in agent.net.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class StepBudget(gym.vector.VectorEnv):  # type: ignore[type-arg]
    """Counts env steps (over all sub-envs) and raises BudgetExhausted past ``budget``."""

    def __init__(self, envs: Any, budget: int) -> None:
        self.envs, self.budget, self.steps = envs, budget, 0
        self.num_envs = envs.num_envs
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space
        self.metadata = envs.metadata

    def reset(self, **kwargs: Any) -> Any:
        return self.envs.reset(**kwargs)

    def step(self, actions: Any) -> Any:
        if self.steps + self.num_envs > self.budget:
            raise BudgetExhausted(f"step budget of {self.budget} env steps used up")
        self.steps += self.num_envs
        return self.envs.step(actions)


class Noisy(StepBudget):
    """Observations plus uniform noise: many distinct values."""

    rng = np.random.default_rng(0)

    def reset(self, **kwargs: Any) -> Any:
        obs, info = super().reset(**kwargs)
        return obs + self.rng.random(obs.shape, dtype=np.float32), info

    def step(self, actions: Any) -> Any:
        obs, *rest = super().step(actions)
        return (obs + self.rng.random(obs.shape, dtype=np.float32), *rest)


def test_hundreds_of_updates_run_and_use_the_exact_budget(tmp_path: Path) -> None:
    envs = StepBudget(labyrinth(4), budget=10**9)
    agent = PPOAgent(context(envs, tmp_path), **TINY)
    updates: list[int] = []
    agent.callback = lambda _agent, steps: updates.append(steps)
    before = weights(agent)
    agent.train_target(envs, 4 * 4 * 300 + 8)  # 300 full rollouts and a shortened last one
    assert len(updates) == 301 and updates[-1] == envs.steps == 4 * 4 * 300 + 8
    assert not same_weights(before, weights(agent))
    assert agent.episode_returns and all(-5.001 <= r <= 3.0 for r in agent.episode_returns)
    assert int(agent.net.vocab.size) == 4  # empty, agent, key, wall


def test_single_env_and_box_actions(tmp_path: Path) -> None:
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    agent = PPOAgent(context(env, tmp_path), **TINY)
    assert agent.arch["encoding"] == "raw"
    agent.train_target(env, 200)  # the 1-env adapter, a truncation at 200 steps
    action, state = agent.predict(env.observation_space.sample(), deterministic=False)
    assert state is None and env.action_space.contains(action)
    maze = gym.make("tlbench/Maze-v0")
    maze.reset(seed=0)
    agent = PPOAgent(context(maze, tmp_path), **TINY)
    agent.train_target(maze, 64)
    assert agent.arch["encoding"] == "categorical" and int(agent.net.vocab.size) == 3


def test_save_load_round_trips_exactly_and_transfer_adds_slots(tmp_path: Path) -> None:
    source = labyrinth(4)
    agent = PPOAgent(context(source, tmp_path, phase="source"), **TINY)
    agent.train_source([source], 64)
    agent.save(tmp_path)
    loaded = PPOAgent(context(source, tmp_path), **TINY)
    loaded.load(tmp_path)
    assert same_weights(weights(agent), weights(loaded))
    saved_state, loaded_state = agent.optimizer.state_dict(), loaded.optimizer.state_dict()
    for key, value in saved_state["state"].items():
        assert all(torch.equal(value[k], loaded_state["state"][key][k]) for k in value)
    obs = labyrinth(8, seed=3).reset(seed=3)[0]
    for o in obs:
        assert agent.predict(o)[0] == loaded.predict(o)[0]
    # the inverse colouring keeps the old slots and gets new ones for its new values
    target = labyrinth(4, inverse=True)
    old = {float(v): int(s) for v, s in zip(*loaded.net.vocab.lookup_table(), strict=True)}
    loaded.train_target(target, 64)
    new = {float(v): int(s) for v, s in zip(*loaded.net.vocab.lookup_table(), strict=True)}
    assert len(old) == 4 and len(new) == 7 and all(new[v] == s for v, s in old.items())
    assert sorted(s for v, s in new.items() if v not in old) == [5, 6, 7]


def test_predict_is_deterministic_and_leaves_learning_alone(tmp_path: Path) -> None:
    def run(with_predict: bool) -> tuple[PPOAgent, dict[str, torch.Tensor]]:
        envs = labyrinth(4)
        agent = PPOAgent(context(envs, tmp_path), **TINY)
        probe = labyrinth(2, seed=9).reset(seed=9)[0][0]
        # an observation value never seen in training must not enter the vocabulary
        odd = probe.copy()
        odd[0, 0, 0] = 0.123

        def callback(agent: PPOAgent, _steps: int) -> None:
            if with_predict:
                gen_state = agent.gen.get_state()
                greedy = [agent.predict(probe, deterministic=True)[0] for _ in range(5)]
                assert len(set(greedy)) == 1
                for _ in range(5):
                    agent.predict(probe, deterministic=False)
                    agent.predict(odd, deterministic=False)
                assert torch.equal(gen_state, agent.gen.get_state())

        agent.callback = callback
        agent.train_target(envs, 4 * 4 * 20)
        return agent, weights(agent)

    _, w_plain = run(False)
    probed, w_probed = run(True)
    assert same_weights(w_plain, w_probed)
    assert int(probed.net.vocab.size) == 4
    # sampled actions follow the policy: over many draws, more than one action appears
    obs = labyrinth(1).reset(seed=0)[0][0]
    fresh = PPOAgent(context(labyrinth(1), tmp_path))
    assert len({int(fresh.predict(obs, deterministic=False)[0]) for _ in range(50)}) > 1


def test_budget_exhausted_mid_rollout_propagates(tmp_path: Path) -> None:
    envs = StepBudget(labyrinth(4), budget=4 * 4 * 3 + 8)  # three rollouts and a half
    agent = PPOAgent(context(envs, tmp_path), **TINY)
    updates: list[int] = []
    agent.callback = lambda _agent, steps: updates.append(steps)
    with pytest.raises(BudgetExhausted):
        agent.train_target(envs, 10_000)
    assert updates == [16, 32, 48] and envs.steps == 56


def test_encoding_choices(tmp_path: Path) -> None:
    envs = labyrinth(2)
    assert PPOAgent(context(envs, tmp_path), encoding="raw").arch["encoding"] == "raw"
    with pytest.raises(ValueError, match="encoding"):
        PPOAgent(context(envs, tmp_path), encoding="onehot")
    with pytest.raises(TypeError, match="unknown keyword"):
        PPOAgent(context(envs, tmp_path), learning_rat=1e-3)
    # "auto" on an image with many distinct values falls back to raw at the first batch
    noisy = Noisy(envs, budget=10**9)
    agent = PPOAgent(context(envs, tmp_path), **TINY)
    assert agent.arch["encoding"] == "categorical"
    agent.train_target(noisy, 16)
    assert agent.arch["encoding"] == "raw"


def evaluate_maze(agent: PPOAgent, episodes: int = 60) -> float:
    envs = MazeVectorEnv(episodes, max_episode_steps=100, autoreset_mode=AutoresetMode.SAME_STEP)
    obs, _ = envs.reset(seed=1234)
    returns, alive = np.zeros(episodes), np.ones(episodes, bool)
    gen = torch.Generator().manual_seed(0)
    while alive.any():
        obs, reward, terminated, truncated, _ = envs.step(agent.act(obs, True, gen))
        returns += reward * alive
        alive &= ~(terminated | truncated)
    return float(returns.mean())


@pytest.mark.slow
def test_ppo_learns_the_maze(tmp_path: Path) -> None:
    """Random: -0.356, optimal: 0.952, success threshold of maze/inverse: 0.298."""
    torch.set_num_threads(1)
    envs = MazeVectorEnv(16, max_episode_steps=100, autoreset_mode=AutoresetMode.SAME_STEP)
    envs.reset(seed=0)
    agent = PPOAgent(context(envs, tmp_path))
    agent.train_target(envs, 100_000)
    assert evaluate_maze(agent) > 0.8
