"""The uniformly random policy: the lower reference every learning test compares against."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class RandomPolicy:
    """Acts uniformly at random in ``action_space``, from its own seeded generator.

    It has the :meth:`tlbench.agents.Agent.predict` signature, so the runner's evaluation can
    score it like any agent.
    """

    def __init__(self, action_space: gym.Space[Any], seed: int = 0) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[Any, Any]:
        return self.action_space.sample(), state


def random_returns(env_id: str, episodes: int, seed: int = 0, **env_kwargs: Any) -> list[float]:
    """Returns of the random policy on the runner's evaluation episodes of ``env_id``.

    The episodes are the runner's (episode ``j`` seeded ``1_000_000 + j``), so the figure is
    directly comparable with an agent's evaluation returns.

    >>> import tlbench
    >>> returns = random_returns("tlbench/Maze-v0", 3)
    >>> len(returns), all(-1.0 <= r <= 1.0 for r in returns)
    (3, True)
    """
    from tlbench.runner.worker import evaluate_policy

    env = gym.make(env_id, **env_kwargs)
    try:
        return evaluate_policy(RandomPolicy(env.action_space, seed), env, episodes)  # type: ignore[arg-type]
    finally:
        env.close()
