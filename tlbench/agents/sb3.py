"""An adapter that makes a Stable-Baselines3 algorithm a tlbench agent.

Transfer is "naive fine-tuning": the target agent starts from all the weights learned on the
sources and keeps training. A new agent is a few lines::

    from stable_baselines3 import DQN
    from tlbench.agents.sb3 import SB3Agent

    class DQNAgent(SB3Agent):
        algorithm = DQN
        defaults = {"policy": "MlpPolicy", "learning_starts": 500}

Keyword arguments given on the command line (``-k learning_rate=1e-3``) override ``defaults`` and
go to the algorithm's constructor.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from tlbench.agents.api import Agent, AgentContext


class SB3Agent(Agent):
    """Base class: set ``algorithm`` (an SB3 algorithm class) and optionally ``defaults``."""

    algorithm: ClassVar[Any]
    defaults: ClassVar[dict[str, Any]] = {"policy": "MlpPolicy"}

    def __init__(self, context: AgentContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.params = {**self.defaults, **kwargs}
        # Built now, from the spaces alone, so that the untrained policy can be evaluated (the
        # scratch control's step-0 evaluation); the real env is attached when training starts.
        self.model: Any = self._new_model(
            _SpacesOnly(context.observation_space, context.action_space)
        )
        self._fresh = True

    def _new_model(self, env: gym.Env[Any, Any]) -> Any:
        params = dict(self.params)
        policy = params.pop("policy")
        return self.algorithm(
            policy, env, seed=self.context.seed, device=self.context.device, verbose=0, **params
        )

    def train_source(self, envs: Sequence[gym.Env[Any, Any]], steps: int) -> None:
        """Train one model on each source env in turn (their spaces must match the target's)."""
        _check_same_shapes(self.context)
        for env in envs:
            self.model.set_env(env)
            self.model.learn(total_timesteps=steps, reset_num_timesteps=False)

    def save(self, path: Path) -> None:
        self.model.save(path / "model.zip")

    def load(self, path: Path) -> None:
        # The target's spaces replace the saved ones: transfer needs equal shapes, not equal
        # bounds (the inverse maze's observations lie in [-1, 0], the maze's in [0, 1]).
        obs_space, action_space = self.context.target_spaces
        self.model = self.algorithm.load(
            path / "model.zip",
            device=self.context.device,
            seed=self.context.seed,
            custom_objects={"observation_space": obs_space, "action_space": action_space},
        )
        self._fresh = False

    def train_target(self, env: gym.Env[Any, Any], steps: int) -> None:
        """Scratch: a new model. Transfer: the loaded model, all weights trained on the target."""
        self.model.set_env(env)
        if not self._fresh:
            self.model.set_random_seed(self.context.seed)
        self.model.learn(total_timesteps=steps, reset_num_timesteps=True)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[Any, Any]:
        return self.model.predict(
            observation, state=state, episode_start=episode_start, deterministic=deterministic
        )


def _check_same_shapes(context: AgentContext) -> None:
    """Naive fine-tuning copies every weight: each source needs the target's shapes."""
    target_obs, target_act = context.target_spaces
    for i, (obs, act) in enumerate(context.source_spaces):
        same_actions = type(act) is type(target_act) and act.shape == target_act.shape
        if isinstance(act, gym.spaces.Discrete) and isinstance(target_act, gym.spaces.Discrete):
            same_actions = act.n == target_act.n
        if obs.shape != target_obs.shape or not same_actions:
            raise ValueError(
                f"source {i} has observation shape {obs.shape} and action space {act}, the "
                f"target {target_obs.shape} and {target_act}: SB3 naive fine-tuning copies every "
                "weight, so it needs equal shapes; use an agent that maps between spaces"
            )


class _SpacesOnly(gym.Env[Any, Any]):
    """An env that only has spaces: what an SB3 model is built from before training starts."""

    def __init__(self, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> None:
        self.observation_space = observation_space
        self.action_space = action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        raise RuntimeError("placeholder env: attach the real env with model.set_env() first")

    def step(self, action: Any) -> Any:
        raise RuntimeError("placeholder env: attach the real env with model.set_env() first")
