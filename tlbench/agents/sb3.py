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

A tier with ``num_envs`` > 1 hands the agent a Gymnasium vector env; the adapter gives it to SB3
as a ``VecEnv`` (:class:`GymnasiumVecEnv`), so SB3 trains on ``num_envs`` envs at once, as with its
own ``n_envs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from tlbench.agents.api import Agent, AgentContext


class SB3Agent(Agent):
    """Base class: set ``algorithm`` (an SB3 algorithm class) and optionally ``defaults``."""

    algorithm: ClassVar[Any]
    defaults: ClassVar[dict[str, Any]] = {"policy": "MlpPolicy"}
    batch_predict = True  # SB3's predict takes batches of observations

    def __init__(self, context: AgentContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.params = {**self.defaults, **kwargs}
        # Built now, from the spaces alone, so that the untrained policy can be evaluated (the
        # scratch control's step-0 evaluation); the real env is attached when training starts.
        self.model: Any = self._new_model(self._placeholder())

        self._fresh = True

    def _placeholder(self) -> Any:
        """An env with the target's spaces only (a VecEnv of ``num_envs`` when the tier has
        vector envs: SB3 sizes its buffers by the number of envs at construction)."""
        obs, act = self.context.observation_space, self.context.action_space
        if self.context.num_envs > 1:
            return _SpacesOnlyVec(self.context.num_envs, obs, act)
        return _SpacesOnly(obs, act)

    def _new_model(self, env: Any) -> Any:
        params = dict(self.params)
        policy = params.pop("policy")
        return self.algorithm(
            policy, env, seed=self.context.seed, device=self.context.device, verbose=0, **params
        )

    def train_source(self, envs: Sequence[gym.Env[Any, Any]], steps: int) -> None:
        """Train one model on each source env in turn (their spaces must match the target's)."""
        _check_same_shapes(self.context)
        for env in envs:
            self.model.set_env(as_sb3_env(env))
            self.model.learn(total_timesteps=steps, reset_num_timesteps=False)

    def save(self, path: Path) -> None:
        self.model.save(path / "model.zip")

    def load(self, path: Path) -> None:
        # The target's spaces replace the saved ones: transfer needs equal shapes, not equal
        # bounds (the inverse maze's observations lie in [-1, 0], the maze's in [0, 1]).
        obs_space, action_space = self.context.target_spaces
        self.model = self.algorithm.load(
            path / "model.zip",
            env=self._placeholder() if self.context.num_envs > 1 else None,
            device=self.context.device,
            seed=self.context.seed,
            custom_objects={"observation_space": obs_space, "action_space": action_space},
        )
        self._fresh = False

    def train_target(self, env: gym.Env[Any, Any], steps: int) -> None:
        """Scratch: a new model. Transfer: the loaded model, all weights trained on the target."""
        self.model.set_env(as_sb3_env(env))
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


def as_sb3_env(env: Any) -> Any:
    """What SB3's ``set_env`` takes: a single env as it is, a Gymnasium vector env as a VecEnv."""
    if isinstance(env, gym.vector.VectorEnv):
        return GymnasiumVecEnv(env)
    return env


class GymnasiumVecEnv(VecEnv):
    """A Gymnasium vector env with ``SAME_STEP`` autoreset seen as an SB3 ``VecEnv``.

    SB3 reads a finished episode's last observation from ``info["terminal_observation"]`` and a
    time-limit cut from ``info["TimeLimit.truncated"]``; Gymnasium gives them as
    ``info["final_obs"]`` and the ``truncated`` array.
    """

    def __init__(self, envs: gym.vector.VectorEnv[Any, Any, Any]) -> None:
        self.envs = envs
        super().__init__(envs.num_envs, envs.single_observation_space, envs.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> Any:
        seeds, self._seeds = self._seeds, [None] * self.num_envs
        # A reset without SB3 seeds leaves the seed to the env (the run's seed, at first).
        obs, _ = self.envs.reset(seed=seeds if seeds[0] is not None else None)  # type: ignore[arg-type]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> Any:
        obs, rewards, terminated, truncated, info = self.envs.step(self._actions)
        dones = np.logical_or(terminated, truncated)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = info["final_obs"][i]
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.envs.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.envs, attr_name, None)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"cannot set {attr_name!r} on the sub-envs of a vector env")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> Any:
        raise AttributeError(f"cannot call {method_name!r} on the sub-envs of a vector env")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


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


class _SpacesOnlyVec(VecEnv):
    """A VecEnv that only has spaces and a number of envs (see :class:`_SpacesOnly`)."""

    render_mode = None

    def reset(self) -> Any:
        raise RuntimeError("placeholder env: attach the real env with model.set_env() first")

    def step_async(self, actions: np.ndarray) -> None:
        raise RuntimeError("placeholder env: attach the real env with model.set_env() first")

    step_wait = reset

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [None] * self.num_envs

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        pass

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> Any:
        return [None] * self.num_envs

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * self.num_envs
