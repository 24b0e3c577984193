"""A test agent with a 2-D ``embed`` and an ``embed_transition`` whose alignment is known.

Its embedding is a fixed linear map of the observation, ``sign * (obs @ W)``, with ``W`` drawn
from a generator seeded with 0 (the same in every run). A source run and a scratch run use
``sign = +1``; a transfer run (``load``) uses ``sign = -1``, which undoes the inverse maze's
negated observations exactly: its embedding of an inverted state equals the base model's
embedding of the normal one (distance 0), while the scratch run's is its negative.
"""

import numpy as np

from tlbench.agents import Agent

#: the predicted move of the abstract state under each action
MOVES = np.array([[0.0, 0.1], [0.0, -0.1], [-0.1, 0.0], [0.1, 0.0]])


class Embedder(Agent):
    def __init__(self, context, **kwargs):
        super().__init__(context, **kwargs)
        size = int(np.prod(context.observation_space.shape))
        self.w = np.random.default_rng(0).normal(size=(size, 2))
        self.sign = 1.0

    def train_source(self, envs, steps):
        for env in envs:
            env.reset()

    def save(self, path):
        (path / "sign.txt").write_text("-1")

    def load(self, path):
        self.sign = float((path / "sign.txt").read_text())

    def train_target(self, env, steps):
        env.reset()
        for _ in range(steps):
            env.step(0)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return 0, state

    def embed(self, observations):
        obs = np.asarray(observations, dtype=np.float64)
        return self.sign * (obs.reshape(len(obs), -1) @ self.w)

    def embed_transition(self, abstract_states, actions):
        return np.asarray(abstract_states) + MOVES[np.asarray(actions)]
