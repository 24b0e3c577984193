"""The env an agent learns on: it counts steps, stops the agent at its budget and lets the runner
evaluate at fixed step counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, SupportsFloat

import gymnasium as gym

from tlbench.agents.api import BudgetExhausted


class BudgetedEnv(gym.Env[Any, Any]):
    """A step-budgeted view of an env, handed to the agent instead of the env itself.

    - Every ``step`` counts; a step asked for once ``budget`` steps were taken raises
      :class:`~tlbench.agents.api.BudgetExhausted`, which ends the agent's training phase.
    - Before the step that would go past checkpoint ``c`` (that is, when the agent asks for step
      ``c + 1``), ``on_checkpoint(c)`` is called: the runner evaluates the policy there, after
      the agent has seen ``c`` steps. :meth:`finish` calls the checkpoints not reached yet (the
      last one, or all those left when the agent stops early).
    - The first ``reset()`` without a seed is seeded with ``seed``, so a run is reproducible
      even if the agent never seeds its env.

    It is a plain ``gymnasium.Env``, not a ``Wrapper``: the env it holds is private, so agent code
    going through the Gymnasium API (``.unwrapped`` included) cannot step around the budget.

    >>> env = BudgetedEnv(gym.make("tlbench/Maze-v0"), budget=2, seed=0)
    >>> _ = env.reset()
    >>> _ = env.step(0); _ = env.step(0)
    >>> env.step(0)
    Traceback (most recent call last):
    ...
    tlbench.agents.api.BudgetExhausted: step budget of 2 env steps used up
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        budget: int,
        *,
        seed: int,
        checkpoints: Sequence[int] = (),
        on_checkpoint: Callable[[int], None] | None = None,
    ) -> None:
        if budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}")
        self.__env = env
        self.budget = budget
        self.steps = 0
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.metadata = env.metadata
        self.render_mode = env.render_mode
        self.spec = env.spec
        self.__seed: int | None = seed
        self.__checkpoints = sorted(c for c in checkpoints if c > 0)
        self.__on_checkpoint = on_checkpoint
        #: called every ``progress_every`` steps (the runner's progress bars)
        self.on_progress: Callable[[], None] | None = None
        self.progress_every = max(1, budget // 50)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is None:
            seed, self.__seed = self.__seed, None
        else:
            self.__seed = None
        return self.__env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self._run_checkpoints(self.steps)
        if self.steps >= self.budget:
            raise BudgetExhausted(f"step budget of {self.budget} env steps used up")
        self.steps += 1
        if self.on_progress is not None and self.steps % self.progress_every == 0:
            self.on_progress()
        return self.__env.step(action)

    def _run_checkpoints(self, upto: int) -> None:
        while self.__checkpoints and self.__checkpoints[0] <= upto:
            checkpoint = self.__checkpoints.pop(0)
            if self.__on_checkpoint is not None:
                self.__on_checkpoint(checkpoint)

    def finish(self) -> None:
        """Run every checkpoint not reached yet (the agent is done learning)."""
        self._run_checkpoints(2**62)

    def render(self) -> Any:
        return self.__env.render()

    def close(self) -> None:
        self.__env.close()
