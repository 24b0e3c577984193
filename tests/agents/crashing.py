"""Test agents that fail in the ways a real agent can."""

import os

import numpy as np

from tlbench.agents import Agent


class _Base(Agent):
    def train_source(self, envs, steps):
        for env in envs:
            env.reset()

    def save(self, path):
        (path / "a").write_text("x")

    def load(self, path):
        pass

    def train_target(self, env, steps):
        env.reset()
        for _ in range(steps):
            env.step(0)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return 0, state


class CrashesOnOneSeed(_Base):
    """Raises during target training of the run with seed 1001 (source seed 0, target seed 1)."""

    def train_target(self, env, steps):
        if self.context.seed == 1001:
            raise RuntimeError("boom: a bug in the agent")
        super().train_target(env, steps)


class CrashesInSource(_Base):
    def train_source(self, envs, steps):
        if self.context.seed == 1:
            raise ValueError("source training failed")


class DiesHard(_Base):
    """Kills its own process (as a segfault would) in one run."""

    def train_target(self, env, steps):
        if self.context.seed == 2000:
            os._exit(139)
        super().train_target(env, steps)


class Hangs(_Base):
    def train_target(self, env, steps):
        if self.context.seed == 1000:
            import time

            time.sleep(600)
        super().train_target(env, steps)


class RandomAgent(_Base):
    """Uniformly random actions from a generator seeded by the run's seed."""

    def __init__(self, context, **kwargs):
        super().__init__(context, **kwargs)
        self.rng = np.random.default_rng(context.seed)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return int(self.rng.integers(4)), state


class ExpectsShape(_Base):
    """Fails unless every env it is given has observations of shape ``expected_shape``."""

    def _check(self, env):
        shape = tuple(env.observation_space.shape)
        if shape != tuple(self.kwargs["expected_shape"]):
            raise AssertionError(f"observation shape {shape}")

    def train_source(self, envs, steps):
        for env in envs:
            self._check(env)

    def train_target(self, env, steps):
        self._check(env)
        super().train_target(env, steps)
