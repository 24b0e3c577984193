"""Dreamer's replay: every step of one env in order, sampled as fixed-length sequences.

One entry per observation: the observation, the action that led to it, the reward received on
the way and whether an episode starts there (``first``; its action and reward are zeros). The
entries of consecutive episodes follow each other, so a sampled sequence may cross an episode
boundary: the RSSM resets its state where ``first`` is true (tlbench's choice; Dreamer v1 stores
whole episodes and samples inside one, which needs episodes at least a sequence long, and the
maze's can be a few steps). Observations are kept as the agent reads them: uint8 pictures
``(C, 64, 64)`` or float32 vectors, in chunks so that the buffer grows without copying.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class Sequences(NamedTuple):
    """A batch of ``B`` sequences of ``T`` steps, as tensors on the agent's device."""

    obs: Tensor  # (B, T, *obs_shape), float32: pictures scaled to [-0.5, 0.5]
    actions: Tensor  # (B, T, A): the action that led to each observation
    rewards: Tensor  # (B, T): the reward received on the way to each observation
    first: Tensor  # (B, T) bool: an episode starts at this observation


class Replay:
    """The steps of one env (see the module docstring)."""

    CHUNK = 8192

    def __init__(self, obs_shape: tuple[int, ...], obs_dtype: type, action_dim: int) -> None:
        self.obs_shape = obs_shape
        self.obs_dtype = obs_dtype
        self.action_dim = action_dim
        self._obs: list[np.ndarray] = []
        self._actions: list[np.ndarray] = []
        self._rewards: list[np.ndarray] = []
        self._first: list[np.ndarray] = []
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: np.ndarray | None, reward: float) -> None:
        """Store an observation; ``action is None`` marks the first one of an episode."""
        chunk, offset = divmod(self.size, self.CHUNK)
        if chunk == len(self._obs):
            self._obs.append(np.zeros((self.CHUNK, *self.obs_shape), self.obs_dtype))
            self._actions.append(np.zeros((self.CHUNK, self.action_dim), np.float32))
            self._rewards.append(np.zeros(self.CHUNK, np.float32))
            self._first.append(np.zeros(self.CHUNK, bool))
        self._obs[chunk][offset] = obs
        if action is None:
            self._first[chunk][offset] = True
        else:
            self._actions[chunk][offset] = action
            self._rewards[chunk][offset] = reward
        self.size += 1

    def _gather(self, parts: list[np.ndarray], index: np.ndarray) -> np.ndarray:
        chunks, offsets = np.divmod(index, self.CHUNK)
        out = np.empty((*index.shape, *parts[0].shape[1:]), parts[0].dtype)
        for c in np.unique(chunks):
            where = chunks == c
            out[where] = parts[c][offsets[where]]
        return out

    def sample(
        self, rng: np.random.Generator, batch: int, length: int, device: torch.device
    ) -> Sequences:
        """``batch`` sequences of ``length`` consecutive entries, starts drawn uniformly."""
        if self.size < length:
            raise ValueError(f"the replay holds {self.size} steps, fewer than length={length}")
        starts = rng.integers(0, self.size - length + 1, size=batch)
        index = starts[:, None] + np.arange(length)[None, :]
        obs = torch.from_numpy(self._gather(self._obs, index)).to(device)
        if obs.dtype == torch.uint8:
            obs = obs.float() / 255.0 - 0.5
        first = self._gather(self._first, index)
        first[:, 0] = True  # a sequence starts from a fresh state
        return Sequences(
            obs,
            torch.from_numpy(self._gather(self._actions, index)).to(device),
            torch.from_numpy(self._gather(self._rewards, index)).to(device),
            torch.from_numpy(first).to(device),
        )
