"""The agent API: what tlbench calls on an agent, in which order.

An agent is a class (in a user's file, or one of ``baselines/``) that subclasses :class:`Agent`.
For one run, the runner does::

    agent = AgentClass(context, **kwargs)          # built from an AgentContext
    agent.train_source(source_envs, steps)         # transfer runs only: learn on the sources
    agent.save(artifact_dir)                       # ... and save what is to be transferred
    agent = AgentClass(target_context, **kwargs)   # a fresh agent for the target phase
    agent.load(artifact_dir)                       # transfer runs only: receive the artifact
    agent.train_target(target_env, steps)          # learn on the target
    agent.predict(obs, state, episode_start, deterministic)   # called by the runner

Source training happens once per source seed (the "base model") and its artifact is shared by
all the target runs of that seed. The scratch control builds the agent and calls
``train_target`` without ``load``.

The runner owns the step budget and the evaluation: the envs handed to ``train_source`` and
``train_target`` stop the agent (by raising :class:`BudgetExhausted`, which an agent must not
catch) once its budget is used up, and the runner evaluates :meth:`Agent.predict` on its own
seeded evaluation envs at fixed target step counts, in the middle of ``train_target``. So
``predict`` must not change what the agent is learning. How the runner acts in its evaluation
episodes is part of the scenario's tier (``eval_policy``): ``greedy`` calls ``predict`` with
``deterministic=True``, ``sampled`` with ``deterministic=False`` (draw from your policy, with a
random generator of your own so that evaluating does not change training), and
``epsilon-greedy`` calls it with ``deterministic=True`` and replaces the action with probability
``eval_epsilon`` by a random one that the runner draws itself.

A tier with ``num_envs`` > 1 hands ``train_source`` and ``train_target`` Gymnasium vector envs
(:class:`gymnasium.vector.VectorEnv`, ``num_envs`` sub-envs, autoreset ``SAME_STEP``: a finished
sub-env's last observation is in ``info["final_obs"]``) instead of single envs; the budget counts
env steps over all sub-envs. ``context.num_envs`` says which to expect before training starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np


class BudgetExhausted(BaseException):
    """Raised by a budgeted env when the agent asks for a step beyond its budget.

    It derives from ``BaseException`` so that an agent's ``except Exception`` does not swallow
    it: the phase ends there, and the runner carries on.
    """


@dataclass(frozen=True)
class AgentContext:
    """What an agent is built from.

    Attributes:
        observation_space: the observation space of the env this agent will learn on in this
            phase (the target for the target phase, the first source for the source phase).
        action_space: its action space.
        source_spaces: ``(observation_space, action_space)`` of every source env, in order.
        target_spaces: ``(observation_space, action_space)`` of the target env.
        seed: the seed of this run; seed torch, numpy and your samplers with it.
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:N"``), resolved by the runner.
        work_dir: a private, empty-at-start folder for scratch files of this run.
        phase: ``"source"`` or ``"target"``.
        source_steps: env steps available per source env (the tier's budget).
        target_steps: env steps available on the target (the tier's budget).
        num_envs: 1 if the agent trains on single envs, else the number of sub-envs of the
            vector envs it is handed (the tier's ``num_envs``).
    """

    observation_space: gym.Space[Any]
    action_space: gym.Space[Any]
    source_spaces: tuple[tuple[gym.Space[Any], gym.Space[Any]], ...]
    target_spaces: tuple[gym.Space[Any], gym.Space[Any]]
    seed: int
    device: str
    work_dir: Path
    phase: str
    source_steps: int
    target_steps: int
    num_envs: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class Agent(ABC):
    """Base class of every tlbench agent. Subclass it and implement the abstract methods.

    ``__init__`` receives the :class:`AgentContext` and the agent's keyword arguments (set on the
    command line with ``-k name=value``; they are recorded in the results).
    """

    #: Set to ``True`` if :meth:`predict` also takes a batch of observations, shape
    #: ``(N, *observation_shape)``, and returns ``N`` actions (as Stable-Baselines3's does), and
    #: the policy is not recurrent. The runner then plays all evaluation episodes of a checkpoint
    #: in lockstep and asks once per step for all of them: the same episodes and returns, at a
    #: fraction of the cost.
    batch_predict: ClassVar[bool] = False

    def __init__(self, context: AgentContext, **kwargs: Any) -> None:
        self.context = context
        self.kwargs = kwargs

    def train_source(self, envs: Sequence[gym.Env[Any, Any]], steps: int) -> None:
        """Learn on the source envs, at most ``steps`` env steps on each (vector envs when
        ``context.num_envs`` > 1).

        The default raises: an agent that transfers must implement it (a scratch-only agent
        need not, and then only its scratch runs are possible).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement train_source()")

    def save(self, path: Path) -> None:
        """Write the transferable artifact into the (existing, empty) folder ``path``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement save()")

    def load(self, path: Path) -> None:
        """Receive the artifact that :meth:`save` wrote (the transfer step)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement load()")

    @abstractmethod
    def train_target(self, env: gym.Env[Any, Any], steps: int) -> None:
        """Learn on the target env, at most ``steps`` env steps (a vector env when
        ``context.num_envs`` > 1)."""

    @abstractmethod
    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[Any, Any]:
        """The action for one observation, and the next recurrent state (``None`` if stateless).

        The signature is Stable-Baselines3's: ``episode_start`` is ``True`` on the first step
        of an episode so that recurrent agents can reset their state.
        """
