"""Random actions and a short pause per run, so that a test can kill an evaluation part-way."""

import time

import numpy as np

from tlbench.agents import Agent


class SlowRandom(Agent):
    def __init__(self, context, **kwargs):
        super().__init__(context, **kwargs)
        self.rng = np.random.default_rng(context.seed)

    def train_source(self, envs, steps):
        time.sleep(0.3)

    def save(self, path):
        (path / "a").write_text("x")

    def load(self, path):
        pass

    def train_target(self, env, steps):
        time.sleep(0.3)
        env.reset()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(int(self.rng.integers(4)))
            if terminated or truncated:
                env.reset()

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return int(self.rng.integers(4)), state
