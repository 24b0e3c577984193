"""A test agent for tiers with ``num_envs`` > 1: it checks that it gets vector envs of the size
its context announces, and steps them with random actions until its budget stops it."""

import gymnasium as gym
import numpy as np

from tlbench.agents import Agent


class VectorStepper(Agent):
    def _run(self, envs):
        assert isinstance(envs, gym.vector.VectorEnv), type(envs)
        assert envs.num_envs == self.context.num_envs > 1
        envs.reset()
        envs.action_space.seed(self.context.seed)
        while True:
            _, _, terminated, truncated, info = envs.step(envs.action_space.sample())
            for i in np.flatnonzero(terminated | truncated):
                assert info["_final_obs"][i]

    def train_source(self, envs, steps):
        for env in envs:
            self._run(env)

    def save(self, path):
        (path / "artifact.txt").write_text("nothing")

    def load(self, path):
        assert (path / "artifact.txt").read_text() == "nothing"

    def train_target(self, env, steps):
        self._run(env)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        assert observation.shape == self.context.observation_space.shape
        return np.int64(3), state
