"""A test agent that ignores its budget: it steps until the env stops it."""

import numpy as np

from tlbench.agents import Agent


class GreedyStepper(Agent):
    def _run(self, env):
        env.reset()
        while True:
            _, _, terminated, truncated, _ = env.step(0)
            if terminated or truncated:
                env.reset()

    def train_source(self, envs, steps):
        for env in envs:
            self._run(env)

    def save(self, path):
        (path / "artifact.txt").write_text("nothing")

    def load(self, path):
        assert (path / "artifact.txt").read_text() == "nothing"

    def train_target(self, env, steps):
        # A careless agent: its except clause must not swallow BudgetExhausted.
        try:  # noqa: SIM105
            self._run(env)
        except Exception:
            pass

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.int64(3), state
