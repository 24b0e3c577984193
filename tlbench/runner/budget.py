"""The envs an agent learns on: they count steps, stop the agent at its budget and let the runner
evaluate at fixed step counts. :class:`BudgetedEnv` wraps one env, :class:`BudgetedVectorEnv` a
vector env (a tier with ``num_envs`` > 1); both keep their count in one :class:`_Budget`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, SupportsFloat

import gymnasium as gym

from tlbench.agents.api import BudgetExhausted


class _Budget:
    """The step count, the checkpoints and the first seed that both budgeted envs share."""

    def __init__(
        self,
        budget: int,
        seed: int,
        checkpoints: Sequence[int],
        on_checkpoint: Callable[[int], None] | None,
        stride: int,
    ) -> None:
        if budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}")
        self.budget = budget
        self.steps = 0
        self.stride = stride
        self.seed: int | None = seed
        self.checkpoints = sorted(c for c in checkpoints if c > 0)
        self.on_checkpoint = on_checkpoint
        self.on_progress: Callable[[], None] | None = None
        self.progress_every = max(stride, budget // 50)
        self._next_progress = self.progress_every

    def first_seed(self, seed: Any) -> Any:
        """The seed a ``reset`` uses: the run's seed on the first reset that gives none."""
        if seed is None:
            seed, self.seed = self.seed, None
        else:
            self.seed = None
        return seed

    def take(self) -> None:
        """Account for one ``step`` call (``stride`` env steps), or raise at the budget."""
        self.run_checkpoints(self.steps)
        if self.steps + self.stride > self.budget:
            raise BudgetExhausted(f"step budget of {self.budget} env steps used up")
        self.steps += self.stride
        if self.on_progress is not None and self.steps >= self._next_progress:
            self._next_progress += self.progress_every
            self.on_progress()

    def run_checkpoints(self, upto: int) -> None:
        while self.checkpoints and self.checkpoints[0] <= upto:
            checkpoint = self.checkpoints.pop(0)
            if self.on_checkpoint is not None:
                self.on_checkpoint(checkpoint)


class _Budgeted:
    """What both budgeted envs show of their :class:`_Budget`."""

    budget: int

    def _init_budget(self, budget: _Budget) -> None:
        self.__budget = budget
        self.budget = budget.budget

    @property
    def steps(self) -> int:
        """Env steps taken so far (over all sub-envs of a vector env)."""
        return self.__budget.steps

    @property
    def on_progress(self) -> Callable[[], None] | None:
        """Called every 2% of the budget (the runner's progress bars)."""
        return self.__budget.on_progress

    @on_progress.setter
    def on_progress(self, callback: Callable[[], None] | None) -> None:
        self.__budget.on_progress = callback

    def finish(self) -> None:
        """Run every checkpoint not reached yet (the agent is done learning)."""
        self.__budget.run_checkpoints(2**62)

    def _first_seed(self, seed: Any) -> Any:
        return self.__budget.first_seed(seed)

    def _take(self) -> None:
        self.__budget.take()


class BudgetedEnv(_Budgeted, gym.Env[Any, Any]):
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
        self.__env = env
        self._init_budget(_Budget(budget, seed, checkpoints, on_checkpoint, stride=1))
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.metadata = env.metadata
        self.render_mode = env.render_mode
        self.spec = env.spec

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        return self.__env.reset(seed=self._first_seed(seed), options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self._take()
        return self.__env.step(action)

    def render(self) -> Any:
        return self.__env.render()

    def close(self) -> None:
        self.__env.close()


class BudgetedVectorEnv(_Budgeted, gym.vector.VectorEnv[Any, Any, Any]):
    """A step-budgeted view of a vector env (autoreset ``SAME_STEP``, see
    :meth:`tlbench.scenarios.EnvRef.make_vec`), for tiers with ``num_envs`` > 1.

    As :class:`BudgetedEnv`, with the budget and the checkpoints counted in env steps over all
    sub-envs: one ``step`` takes ``num_envs`` of them. The tier makes budgets and the evaluation
    interval multiples of ``num_envs``, so every checkpoint falls between two calls of ``step``
    and the runner evaluates after exactly that many env steps. The first ``reset()`` without a
    seed seeds sub-env ``i`` with ``seed + i``.

    >>> from tlbench.scenarios import EnvRef
    >>> ref = EnvRef(env="tlbench/MetaLabyrinth-v0", kwargs={"obs_mode": "grid"})
    >>> envs = BudgetedVectorEnv(ref.make_vec(4), budget=8, seed=0)
    >>> obs, _ = envs.reset()
    >>> _ = envs.step([0, 1, 2, 3]); _ = envs.step([0, 1, 2, 3])
    >>> envs.steps
    8
    >>> envs.step([0, 1, 2, 3])
    Traceback (most recent call last):
    ...
    tlbench.agents.api.BudgetExhausted: step budget of 8 env steps used up
    """

    def __init__(
        self,
        envs: gym.vector.VectorEnv[Any, Any, Any],
        budget: int,
        *,
        seed: int,
        checkpoints: Sequence[int] = (),
        on_checkpoint: Callable[[int], None] | None = None,
    ) -> None:
        mode = envs.metadata.get("autoreset_mode")
        if mode is not gym.vector.AutoresetMode.SAME_STEP:
            raise ValueError(
                f"a budgeted vector env needs autoreset_mode SAME_STEP, got {mode}; "
                "make it with EnvRef.make_vec"
            )
        self.__envs = envs
        self._init_budget(_Budget(budget, seed, checkpoints, on_checkpoint, envs.num_envs))
        self.num_envs = envs.num_envs
        self.observation_space = envs.observation_space
        self.action_space = envs.action_space
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space
        self.metadata = envs.metadata
        self.render_mode = envs.render_mode
        self.spec = envs.spec

    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        return self.__envs.reset(seed=self._first_seed(seed), options=options)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        self._take()
        return self.__envs.step(actions)

    def render(self) -> Any:
        return self.__envs.render()

    def close(self, **kwargs: Any) -> None:
        self.__envs.close(**kwargs)


Budgeted = BudgetedEnv | BudgetedVectorEnv
