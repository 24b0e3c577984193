"""CRAR (Combined Reinforcement via Abstract Representations) as a tlbench agent.

François-Lavet, Bengio, Precup & Pineau (AAAI 2019) learn an encoder ``e(s) -> x`` into a small
abstract state together with a model of the abstract dynamics (transition, reward, discount) and
a Q-function on top, all trained from one replay buffer. van Driessel & François-Lavet (2021)
transfer such an agent to a visually changed task by keeping every component but the encoder:
only the mapping from observation to abstract state is learned again. The spec followed is
``specs/baselines.md`` (CRAR); the public CRAR code (DeeR, and the deer-clean fork of the transfer
study) supplies the constants the papers do not give.

Usage::

    tlbench evaluate baselines/crar --scenario maze/inverse --tier smoke -k mode=freeze

This file reads top to bottom: the config, the replay buffer, the update (the seven losses, each
with its own optimiser step), the data regimes, the transfer, the agent API. The networks are in
``networks.py``, the losses as pure functions in ``losses.py``.

## Losses, and what each one trains
One update draws one minibatch ``(s, a, r, s', terminal)`` and takes seven optimiser steps in this
order, each with its own RMSprop state (the spec: in the code "each loss has its own RMSprop
step"), each recomputing the encoder with the weights the previous step left:

=================  ==============================================  ========================
loss               value                                           parameters it updates
=================  ==============================================  ========================
transition         MSE(e(s) + T(e(s), a), e(s')), 0 at terminals  encoder, transition
reward             MSE(R(e(s), a), r)                              encoder, reward
discount           MSE(G(e(s), a), (1 - terminal) * gamma)         encoder, discount
Ld1 (random pairs) exp(-C_d ||e(s_i) - e(s_(i-1))||), C_d = 5      encoder
Ld1' (consecutive) exp(-C_d ||e(s) - e(s')||)                      encoder
Ld2 (unit ball)    clip(max_c e(s)_c^2 - 1, 0, 100)                encoder
Q                  Double-DQN MSE, target net = copy of e and Q    encoder, q
=================  ==============================================  ========================

Gradients reach ``e(s')`` in the transition loss and both members of the Ld1 pairs, as in the
code (its models feed both inputs through the shared encoder). Ld1's random pairs are the batch
and the batch rolled by one, as in the code. The Ld1 distance is clipped to [1e-3, sqrt(10)].
Ld2 takes the max over the abstract state's channel axis, as the code's Keras loss does over its
channels-last axis: for the dense state the max over its coordinates (one value per sample), for
the conv 8x8x3 map the max over the 3 channels at each of the 64 cells, averaged over batch x
cells. Ld1' uses ``consecutive_lr_factor`` times the learning rate (the spec: 1/5 for the maze's
dense architecture, 1 for the labyrinth's conv one). In a frozen transfer mode the same seven
steps run but only the encoder receives gradients. Each step clips its gradients' global norm to
1.0. The target copy of encoder and Q is refreshed every 1,000 updates.

## Architecture
``architecture="auto"`` (:func:`auto_architecture`) follows the code's choice per environment,
recognised from the observation space: the simple maze's low-dimensional observations get the
``dense`` networks and a 2-number abstract state (``run_simple_maze.py``); the labyrinth gets the
``conv`` networks and an 8x8x3 abstract map (``run_maze.py``, ``HIGH_INT_DIM``), in pixels
(48x48, a pooled conv encoder) and in its low-dimensional 8x8 grid mode alike (the encoder is then
one 1x1 conv to 3 channels; the transition, reward, discount and Q nets are the conv ones). The
grid mode is told from the maze's (1, 8, 8) observations by its observation space, that of
``tlbench/MetaLabyrinth-v0`` or its inverse with ``obs_mode="grid"``; other images (sides above
12) get ``conv``, other small observations ``dense``. ``-k architecture=dense`` or ``conv``
overrides it. The networks are in ``networks.py``.

## Data regime
``regime="offline"`` (the code's default): the behaviour is uniformly random and learning is
offline. The whole step budget is collected first, through the env the agent is given, stopping
at the budget; then the updates run on that buffer in epochs, every learning rate multiplied by
``lr_decay`` after each epoch: 0.9 for the simple maze (dense; ``run_simple_maze.py``), 1.0, no
decay, for the labyrinth and its transfer (conv; ``LEARNING_RATE_DECAY = 1`` in ``run_maze.py``
and ``run_maze_inverse.py``). The code's schedules: maze (dense) 5,000 random steps, 50 epochs x
5,000 updates; labyrinth (conv) 200,000 random steps, 150 epochs x 2,000 updates, and after a
transfer 50 epochs x 2,000 updates (``run_maze_inverse.py``; the maze keeps its 50 x 5,000).
They are the defaults whenever the buffer holds at least the code's number of steps (the
standard and paper tiers). A smaller buffer (the smoke tiers) gets ``updates_per_step`` updates
per collected step, cut into epochs of the code's length: the beginning of the code's schedule,
so that the learning rate at update ``u`` is the code's, ``lr x lr_decay^(u //
updates_per_epoch)``. The defaults, 1 (dense) and 0.1 (conv), keep smoke-tier runs short: they
check the pipeline and learn little (at the maze's ratio of 50 updates per step, the 2,000 smoke
steps would cost 100,000 updates). Set ``epochs``, ``updates_per_epoch`` or ``updates_per_step``
to change the schedule. The runner's evaluations during collection see the untrained (or just
transferred) agent: an offline agent's learning curve is flat until the final checkpoint.

``regime="online"`` (tlbench's option): epsilon-greedy behaviour, epsilon decayed linearly from
``epsilon_start`` to ``epsilon_end`` over ``exploration_fraction`` of the budget, uniformly random
for the first ``learning_starts`` steps, then ``updates_per_step`` updates after every env step
(on everything collected so far); the learning rates decay every ``updates_per_epoch`` updates.

## Transfer
The target collects a fresh random buffer of its own budget and trains with ``transfer_lr`` =
8e-5 (the code's value; the paper's section 5.2.1 states 5e-4, which is ``lr``), on the code's
transfer schedule (above). Modes (paper 5.2.3), recorded with the agent's keyword arguments:

- ``freeze`` (default, the paper's approach): copy every component; only the encoder trains.
- ``reset-encoder``: as ``freeze``, but the encoder is "re-initialised" as the code does it: each
  of its weight and bias tensors is permuted elementwise (a seeded permutation), which keeps the
  distribution of the weights and destroys what they learned.
- ``finetune-all``: copy everything and train everything.
- ``no-ld1``: as ``freeze``, without the Ld1 (random pairs) loss.
- ``delayed-structure``: as ``freeze``, with Ld1, Ld1' and Ld2 off for the first
  ``structure_delay_epochs`` = 15 epochs.
- ``scratch``: no transfer; :meth:`CRAR.load` ignores the artifact.

The paired scratch control of the runner (no ``load``) trains everything with ``lr`` on the
source schedule.

## Evaluation
:meth:`CRAR.predict` acts on the planned action values
(:func:`~baselines.crar.networks.plan_q_values`): depth 3 for the conv architecture (the
labyrinth; the root expands every action, deeper nodes the 2 best by Q, the value of an
expansion is ``r + g * max Q`` and the estimates of depths 0..3 are averaged), depth 0 (plain
greedy Q) for the dense one. ``deterministic=True`` takes the best planned action;
``deterministic=False`` is the code's test policy, epsilon-greedy with ``eval_epsilon`` = 0.1
(``run_maze.py``, ``run_maze_inverse.py``): with probability 0.1 a uniformly random action. Its
coin flips and random actions come from a generator of the agent's own, seeded from
``context.seed`` and read by nothing else, so that evaluating never changes what is learned. The
runner chooses which of the two it calls (the tier's evaluation policy).
:meth:`CRAR.embed` returns the encoder's abstract states.

## Faithful, and where tlbench deviates
Faithful: the architectures and losses above (the conv heads Conv16 2x2, Conv32 3x3, MaxPool 2,
Conv16 2x2, Conv4 1x1 -> Dense 200-50-20, Keras' "same" padding and pooling), Double DQN, target
refresh every 1,000 updates, RMSprop(lr 5e-4, rho 0.9, eps 1e-4) per loss with global-norm
clipping 1.0, batch 32, gamma 0.9, the learning-rate decay per environment, the offline
random-data regime and its schedules, lr 8e-5 in transfer, the epsilon-greedy 0.1 test policy
with planning, Glorot-uniform weights and zero biases (Keras' defaults), the Q loss averaged over
actions as Keras' MSE does.

Deviations (tlbench's choices):

- The random buffer is collected through tlbench's env, whose registered ``TimeLimit`` ends every
  labyrinth episode after 50 steps. The code's labyrinth has no 50-step cap in training mode
  (only its test mode stops at 50 steps), so its 200,000 random steps form about 470 episodes,
  each ending when the 3 keys are collected; tlbench's form at least 4,000 (200,000 / 50), and a
  time-limit truncation is not a terminal. The env is tlbench's and stays as it is.
- The replay buffer stores explicit ``(s, a, r, s', terminal)`` transitions: the ``s'`` of a
  truncated step is its last observation rather than the next episode's first.
- The schedule for budgets below the code's (``updates_per_step``); the ``online`` regime.
- The architecture is chosen from the observation space (see Architecture), as the agent is not
  told which environment it is in.
- The simple maze's script tests with epsilon 1.0 (a uniformly random test policy);
  ``eval_epsilon`` is 0.1 for every architecture.
- The dense networks serve any small observation (the code's simple maze with pixel observations
  flattens a conv stack into the dense encoder; tlbench's pixel maze gets the conv networks).

## Determinism and device
All networks live on ``context.device``. Weights come from a ``torch.Generator`` seeded with
``context.seed``; random actions, minibatches, the reset-encoder permutation and the random
actions of ``predict(deterministic=False)`` from separate ``numpy.random.Generator`` objects
derived from it; no global random state is read. On a CPU the same seed gives the same weights
and predictions.

## Measured (one CPU core, seed 0 unless said)
Maze (goal reward; random policy -0.36, optimum 0.95), greedy Q: offline with the paper's
schedule (5,000 random steps, 50 x 5,000 updates), evaluated every 25,000 updates: -0.64,
-0.64, 0.02, then 0.95 from 100,000 updates on (through 175,000). Shorter offline schedules are
unreliable: 2,000 steps with 10,000 updates 0.17, with 20,000 updates -0.76 (the greedy policy
pushes into a wall from a few cells and never leaves). Online, 5,000 steps x 4 updates: 0.95
(seed 0), 0.43 (seed 1). These runs predate the Ld2 cap at 100, which only acts on coordinates
above 10 in size. Meta-labyrinth: no CPU run of a few minutes beat the random policy, with the
earlier conv heads and, for the grid mode, the earlier networks (see ``tests/test_crar.py``);
none has been made with the networks above.

## Artifact
``save`` writes ``crar.pt`` (the five components' state dicts, read back with
``torch.load(weights_only=True)``) and ``crar.json`` (the config and the shapes); no pickled
objects.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from tlbench.agents import Agent, AgentContext

from .losses import (
    discount_loss,
    double_q_targets,
    q_loss,
    reward_loss,
    separation_loss,
    transition_loss,
    unit_ball_loss,
)
from .networks import POOL_ABOVE, CRARNetworks, plan_q_values

__all__ = [
    "CRAR",
    "CRARConfig",
    "CRARNetworks",
    "Phase",
    "ReplayBuffer",
    "auto_architecture",
    "plan_q_values",
]

Mode = Literal["freeze", "reset-encoder", "finetune-all", "no-ld1", "delayed-structure", "scratch"]
#: the modes in which only the encoder trains on the target
FROZEN_MODES = ("freeze", "reset-encoder", "no-ld1", "delayed-structure")


class CRARConfig(BaseModel):
    """CRAR's settings: the agent's keyword arguments (``-k name=value``).

    ``None`` means "the architecture's default", given in brackets as [dense / conv]. Sources:
    "spec" is ``specs/baselines.md`` (values from the CRAR papers and code), "tlbench" is this
    implementation's own choice.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = Field("freeze", description="transfer mode, see the module docstring (spec)")
    regime: Literal["offline", "online"] = Field(
        "offline", description="offline: random data, then training (spec); online (tlbench)"
    )
    architecture: Literal["auto", "dense", "conv"] = Field(
        "auto",
        description="auto: conv for images and the labyrinth's grid, else dense; see "
        "auto_architecture() (spec)",
    )
    abstract_dim: int | None = Field(
        None, ge=1, description="abstract state size / channels [2 / 3] (spec)"
    )
    lr: float = Field(5e-4, gt=0, description="RMSprop learning rate, source and scratch (spec)")
    transfer_lr: float = Field(8e-5, gt=0, description="learning rate after load() (spec: code)")
    lr_decay: float | None = Field(
        None, gt=0, description="learning-rate factor after each epoch [0.9 / 1.0] (spec: code)"
    )
    rmsprop_alpha: float = Field(0.9, gt=0, lt=1, description="RMSprop's rho (spec)")
    rmsprop_eps: float = Field(1e-4, gt=0, description="RMSprop's epsilon (spec)")
    clip_norm: float = Field(1.0, gt=0, description="global gradient-norm clip per loss (spec)")
    batch_size: int = Field(32, ge=1, description="minibatch size (spec)")
    gamma: float = Field(0.9, ge=0, le=1, description="discount factor (spec)")
    target_update_interval: int = Field(
        1000, ge=1, description="updates between target-net refreshes (spec)"
    )
    double_q: bool = Field(True, description="Double DQN targets (spec)")
    distance_scale: float = Field(5.0, gt=0, description="C_d in Ld1 = exp(-C_d * dist) (spec)")
    consecutive_lr_factor: float | None = Field(
        None, gt=0, description="Ld1' learning rate / lr [0.2 / 1.0] (spec)"
    )
    epochs: int | None = Field(
        None,
        ge=1,
        description="offline epochs [50 / 150, transfer 50] (spec: code); see schedule()",
    )
    updates_per_epoch: int | None = Field(
        None, ge=1, description="updates per epoch [5,000 / 2,000] (spec: code)"
    )
    updates_per_step: float | None = Field(
        None, gt=0, description="updates per step below the paper's buffer, and online [1 / 0.1]"
    )
    structure_delay_epochs: int = Field(
        15, ge=0, description="delayed-structure: epochs without Ld1, Ld1', Ld2 (spec)"
    )
    plan_depth: int | None = Field(
        None, ge=0, description="planning depth in predict() [0 (tlbench) / 3 (spec)]"
    )
    plan_branching: int = Field(2, ge=1, description="actions expanded below the root (spec)")
    eval_epsilon: float = Field(
        0.1, ge=0, le=1, description="predict(deterministic=False): random-action rate (spec: code)"
    )
    learning_starts: int = Field(
        500, ge=0, description="online: random steps before updates start (tlbench)"
    )
    epsilon_start: float = Field(1.0, ge=0, le=1, description="online: first epsilon (tlbench)")
    epsilon_end: float = Field(0.1, ge=0, le=1, description="online: last epsilon (tlbench)")
    exploration_fraction: float = Field(
        0.5, gt=0, le=1, description="online: budget fraction of epsilon's decay (tlbench)"
    )
    verbose: bool = Field(True, description="print the mean losses of every epoch (tlbench)")


class PaperSchedule(NamedTuple):
    """The code's offline schedule for one architecture."""

    steps: int  # random steps collected
    epochs: int
    updates_per_epoch: int


PAPER_SCHEDULES = {
    "dense": PaperSchedule(5_000, 50, 5_000),
    "conv": PaperSchedule(200_000, 150, 2_000),
}
#: the code's schedule after a transfer (``run_maze_inverse.py``: 50 epochs on the labyrinth)
PAPER_TRANSFER_SCHEDULES = {
    "dense": PaperSchedule(5_000, 50, 5_000),
    "conv": PaperSchedule(200_000, 50, 2_000),
}
#: updates per collected step below the paper's buffer size (see the module docstring)
SMALL_BUDGET_UPDATES_PER_STEP = {"dense": 1.0, "conv": 0.1}
DEFAULT_ABSTRACT_DIM = {"dense": 2, "conv": 3}
DEFAULT_PLAN_DEPTH = {"dense": 0, "conv": 3}
DEFAULT_CONSECUTIVE_LR_FACTOR = {"dense": 0.2, "conv": 1.0}
#: ``run_simple_maze.py`` decays by 0.9 per epoch; ``run_maze.py`` and ``run_maze_inverse.py``
#: set ``LEARNING_RATE_DECAY = 1``
DEFAULT_LR_DECAY = {"dense": 0.9, "conv": 1.0}
#: which components each loss's optimiser updates (before freezing), in the order of the update
LOSS_COMPONENTS: dict[str, tuple[str, ...]] = {
    "transition": ("encoder", "transition"),
    "reward": ("encoder", "reward"),
    "discount": ("encoder", "discount"),
    "ld1": ("encoder",),
    "ld1_consecutive": ("encoder",),
    "ld2": ("encoder",),
    "q": ("encoder", "q"),
}
# Streams of the seed's numpy generators: behaviour and minibatches, the encoder permutation,
# the random actions of predict(deterministic=False).
_BEHAVIOUR_STREAM, _PERMUTATION_STREAM, _EVALUATION_STREAM = 0, 1, 2


@functools.cache
def _labyrinth_grid_spaces() -> tuple[gym.spaces.Box, ...]:
    """The observation spaces of the meta-labyrinth's grid mode, normal and inverse."""
    from tlbench.envs.labyrinth import MetaLabyrinthEnv

    spaces = []
    for inverse in (False, True):
        space = MetaLabyrinthEnv(inverse=inverse, obs_mode="grid").observation_space
        assert isinstance(space, gym.spaces.Box)
        spaces.append(space)
    return tuple(spaces)


def auto_architecture(space: gym.spaces.Box) -> str:
    """The architecture ``architecture="auto"`` picks for observations of ``space``.

    The code's choice follows the environment: the simple maze (``run_simple_maze.py``) has the
    dense networks and a 2-number abstract state; the labyrinth (``run_maze.py``, ``HIGH_INT_DIM``)
    the conv ones and an 8x8x3 abstract map, in pixels and in its low-dimensional grid alike. The
    agent sees only the observation space, so:

    - ``conv`` for images, ``(C, H, W)`` with both H and W above 12 (the sides from which the code's
      encoder pools): the pixel labyrinth (and the pixel maze);
    - ``conv`` for the meta-labyrinth's grid mode, recognised by its observation space (that of
      ``tlbench/MetaLabyrinth-v0`` or ``tlbench/InverseMetaLabyrinth-v0`` with
      ``obs_mode="grid"``: (1, 8, 8), values in [0, 0.99] or [-0.99, 0]);
    - ``dense`` otherwise: the maze's low-dimensional (1, 8, 8) observations (values in [0, 1] or
      [-1, 0]) and any other small observation.

    ``architecture="dense"`` or ``"conv"`` overrides the choice (for another grid env, say).

    >>> import tlbench
    >>> auto_architecture(gym.make("tlbench/Maze-v0").observation_space)
    'dense'
    >>> auto_architecture(gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid").observation_space)
    'conv'
    """
    shape = tuple(space.shape)
    if len(shape) == 3 and min(shape[1:]) > POOL_ABOVE:
        return "conv"
    if any(space == grid for grid in _labyrinth_grid_spaces()):
        return "conv"
    return "dense"


# ----------------------------------------------------------------------------------------------
# Replay buffer


class Batch(NamedTuple):
    """A minibatch of transitions, as tensors on the agent's device."""

    obs: Tensor  # (B, *obs_shape)
    actions: Tensor  # (B,) int64
    rewards: Tensor  # (B,)
    next_obs: Tensor  # (B, *obs_shape)
    terminals: Tensor  # (B,) 1.0 where the episode terminated (not truncated)


class ReplayBuffer:
    """Transitions ``(s, a, r, s', terminal)``; every observation stored once.

    Observations ("frames") are stored in float32 chunks of ``CHUNK`` frames, so the buffer
    grows without copying them; a transition holds the indices of its two frames, so that
    consecutive transitions share one: about ``steps + episodes`` frames in all (the
    labyrinth's 200,000 pixel steps take about 1.9 GB).
    """

    CHUNK = 4096

    def __init__(self, obs_shape: tuple[int, ...]) -> None:
        self.obs_shape = obs_shape
        self._chunks: list[np.ndarray] = []
        self.n_frames = 0
        self._size = 0
        self._obs = np.zeros(1024, np.int64)
        self._next = np.zeros(1024, np.int64)
        self._actions = np.zeros(1024, np.int64)
        self._rewards = np.zeros(1024, np.float32)
        self._terminals = np.zeros(1024, np.float32)

    def __len__(self) -> int:
        return self._size

    def add_frame(self, obs: np.ndarray) -> int:
        """Store an observation; return its index."""
        chunk, offset = divmod(self.n_frames, self.CHUNK)
        if chunk == len(self._chunks):
            self._chunks.append(np.empty((self.CHUNK, *self.obs_shape), np.float32))
        self._chunks[chunk][offset] = obs
        self.n_frames += 1
        return self.n_frames - 1

    def add(self, obs: int, action: int, reward: float, next_obs: int, terminal: bool) -> None:
        """Store a transition between the frames ``obs`` and ``next_obs``."""
        if self._size == len(self._obs):
            for name in ("_obs", "_next", "_actions", "_rewards", "_terminals"):
                old = getattr(self, name)
                setattr(self, name, np.concatenate([old, np.zeros_like(old)]))
        i = self._size
        self._obs[i], self._next[i], self._actions[i] = obs, next_obs, action
        self._rewards[i], self._terminals[i] = reward, float(terminal)
        self._size += 1

    def frames(self, index: np.ndarray) -> np.ndarray:
        """The frames at ``index`` (an integer array), stacked."""
        chunks, offsets = np.divmod(index, self.CHUNK)
        return np.stack([self._chunks[c][o] for c, o in zip(chunks, offsets, strict=True)])

    def sample(self, rng: np.random.Generator, size: int, device: torch.device) -> Batch:
        """``size`` transitions drawn uniformly with replacement."""
        idx = rng.integers(self._size, size=size)

        def tensor(array: np.ndarray) -> Tensor:
            return torch.from_numpy(array).to(device)

        return Batch(
            tensor(self.frames(self._obs[idx])),
            tensor(self._actions[idx]),
            tensor(self._rewards[idx]),
            tensor(self.frames(self._next[idx])),
            tensor(self._terminals[idx]),
        )


@dataclass
class Phase:
    """How one training phase trains: learning rate, trainable components, which losses."""

    lr: float
    trainable: tuple[str, ...]
    ld1: bool = True  # the Ld1 (random pairs) loss is on
    structure_delay_epochs: int = 0  # epochs without Ld1, Ld1', Ld2
    transfer: bool = False  # training after a transfer: the code's transfer schedule


# ----------------------------------------------------------------------------------------------
# The agent


class CRAR(Agent):
    """CRAR: encoder, abstract model and Q-function; transfer by re-learning the encoder.

    Args:
        context: the run's context (spaces, seed, device).
        **kwargs: the fields of :class:`CRARConfig`.

    >>> import tempfile, gymnasium as gym, tlbench
    >>> from tlbench.agents import AgentContext
    >>> env = gym.make("tlbench/Maze-v0")
    >>> spaces = (env.observation_space, env.action_space)
    >>> ctx = AgentContext(*spaces, (spaces,), spaces, 0, "cpu", Path(tempfile.mkdtemp()),
    ...                    "target", 0, 100)
    >>> agent = CRAR(ctx, epochs=1, updates_per_epoch=10, verbose=False)
    >>> agent.train_target(env, 100)
    >>> obs, _ = env.reset(seed=0)
    >>> action, _ = agent.predict(obs)
    >>> action in range(4), agent.embed(obs).shape
    (True, (2,))
    """

    def __init__(self, context: AgentContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.config = config = CRARConfig(**kwargs)
        obs_space, action_space = context.observation_space, context.action_space
        if not isinstance(action_space, gym.spaces.Discrete) or int(action_space.start) != 0:
            raise ValueError(
                f"CRAR needs a Discrete(n) action space starting at 0, got {action_space}"
            )
        if not isinstance(obs_space, gym.spaces.Box):
            raise ValueError(f"CRAR needs a Box observation space, got {obs_space}")
        self.obs_shape: tuple[int, ...] = tuple(obs_space.shape)
        self.n_actions = int(action_space.n)
        self.architecture = self._pick_architecture()
        arch = self.architecture
        self.abstract_dim = config.abstract_dim or DEFAULT_ABSTRACT_DIM[arch]
        self.plan_depth = (
            config.plan_depth if config.plan_depth is not None else DEFAULT_PLAN_DEPTH[arch]
        )
        self.consecutive_lr_factor = (
            config.consecutive_lr_factor or DEFAULT_CONSECUTIVE_LR_FACTOR[arch]
        )
        self.updates_per_epoch = config.updates_per_epoch or PAPER_SCHEDULES[arch].updates_per_epoch
        self.lr_decay = config.lr_decay if config.lr_decay is not None else DEFAULT_LR_DECAY[arch]
        self.device = torch.device(context.device)
        self.seed = context.seed
        self.rng = np.random.default_rng([context.seed, _BEHAVIOUR_STREAM])
        # predict(deterministic=False)'s draws only: evaluating never changes what is learned
        self.eval_rng = np.random.default_rng([context.seed, _EVALUATION_STREAM])
        generator = torch.Generator().manual_seed(context.seed)
        self.nets = CRARNetworks(
            arch, self.obs_shape, self.n_actions, self.abstract_dim, generator
        ).to(self.device)
        self.target_encoder = copy.deepcopy(self.nets.encoder).requires_grad_(False)
        self.target_q = copy.deepcopy(self.nets.q).requires_grad_(False)
        self.transferred = False  # load() received an artifact (any mode but scratch)
        self.updates = 0
        self.optimizers: dict[str, tuple[torch.optim.Optimizer, list[nn.Parameter]]] = {}
        self.history: list[dict[str, float]] = []  # mean losses of every epoch

    def _pick_architecture(self) -> str:
        if self.config.architecture != "auto":
            return self.config.architecture
        space = self.context.observation_space
        assert isinstance(space, gym.spaces.Box)
        return auto_architecture(space)

    # ------------------------------------------------------------------------------------------
    # The update

    def _start_phase(self, phase: Phase) -> None:
        """Freeze what the phase does not train; a fresh RMSprop per loss; sync the target."""
        components = self.nets.components()
        for name, module in components.items():
            module.requires_grad_(name in phase.trainable)
        self.optimizers = {}
        for loss, names in LOSS_COMPONENTS.items():
            params = [p for n in names if n in phase.trainable for p in components[n].parameters()]
            factor = self.consecutive_lr_factor if loss == "ld1_consecutive" else 1.0
            optimizer = torch.optim.RMSprop(
                params,
                lr=phase.lr * factor,
                alpha=self.config.rmsprop_alpha,
                eps=self.config.rmsprop_eps,
                foreach=True,
            )
            self.optimizers[loss] = (optimizer, params)
        self.updates = 0
        self._sync_target()

    def _sync_target(self) -> None:
        self.target_encoder.load_state_dict(self.nets.encoder.state_dict())
        self.target_q.load_state_dict(self.nets.q.state_dict())

    def _decay_lr(self) -> None:
        for optimizer, _ in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] *= self.lr_decay

    def _step(self, loss_name: str, loss: Tensor) -> float:
        optimizer, params = self.optimizers[loss_name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, self.config.clip_norm)
        optimizer.step()
        return float(loss.detach())

    def _update(
        self, batch: Batch, *, structure: bool = True, ld1: bool = True
    ) -> dict[str, float]:
        """One update: the seven loss steps in the order of LOSS_COMPONENTS; returns each loss
        as it was before its own step."""
        nets, cfg = self.nets, self.config
        s, a, r, s2, terminal = batch
        n = s.shape[0]
        out: dict[str, float] = {}

        x, x_next = nets.encoder(torch.cat([s, s2])).split(n)
        out["transition"] = self._step(
            "transition", transition_loss(nets.transition(x, a), x_next, terminal)
        )
        out["reward"] = self._step("reward", reward_loss(nets.reward(nets.encoder(s), a), r))
        out["discount"] = self._step(
            "discount", discount_loss(nets.discount(nets.encoder(s), a), terminal, cfg.gamma)
        )
        if structure:
            if ld1:
                x = nets.encoder(s)
                out["ld1"] = self._step("ld1", separation_loss(x, x.roll(1, 0), cfg.distance_scale))
            x, x_next = nets.encoder(torch.cat([s, s2])).split(n)
            out["ld1_consecutive"] = self._step(
                "ld1_consecutive", separation_loss(x, x_next, cfg.distance_scale)
            )
            out["ld2"] = self._step("ld2", unit_ball_loss(nets.encoder(s)))
        with torch.no_grad():
            targets = double_q_targets(
                r,
                terminal,
                cfg.gamma,
                nets.q(nets.encoder(s2)),
                self.target_q(self.target_encoder(s2)),
                cfg.double_q,
            )
        out["q"] = self._step("q", q_loss(nets.q(nets.encoder(s)), a, targets))

        self.updates += 1
        if self.updates % cfg.target_update_interval == 0:
            self._sync_target()
        return out

    def losses(self, batch: Batch) -> dict[str, float]:
        """Every loss on ``batch`` with the current weights (no update)."""
        nets, cfg = self.nets, self.config
        s, a, r, s2, terminal = batch
        with torch.no_grad():
            x, x_next = nets.encoder(s), nets.encoder(s2)
            targets = double_q_targets(
                r,
                terminal,
                cfg.gamma,
                nets.q(x_next),
                self.target_q(self.target_encoder(s2)),
                cfg.double_q,
            )
            values = {
                "transition": transition_loss(nets.transition(x, a), x_next, terminal),
                "reward": reward_loss(nets.reward(x, a), r),
                "discount": discount_loss(nets.discount(x, a), terminal, cfg.gamma),
                "ld1": separation_loss(x, x.roll(1, 0), cfg.distance_scale),
                "ld1_consecutive": separation_loss(x, x_next, cfg.distance_scale),
                "ld2": unit_ball_loss(x),
                "q": q_loss(nets.q(x), a, targets),
            }
        return {name: float(value) for name, value in values.items()}

    # ------------------------------------------------------------------------------------------
    # Data regimes

    def _collect_random(self, env: gym.Env[Any, Any], steps: int, buffer: ReplayBuffer) -> None:
        """``steps`` uniformly random steps of ``env`` into ``buffer``."""
        obs, _ = env.reset()
        frame = buffer.add_frame(obs)
        for _ in range(steps):
            _, frame = self._record_step(env, int(self.rng.integers(self.n_actions)), frame, buffer)

    @staticmethod
    def _record_step(
        env: gym.Env[Any, Any], action: int, frame: int, buffer: ReplayBuffer
    ) -> tuple[Any, int]:
        """Step ``env`` with ``action`` from the observation stored as ``frame`` and store the
        transition; returns the observation to act on next and its frame (after a reset when
        the episode ended)."""
        next_obs, reward, terminated, truncated, _ = env.step(action)
        next_frame = buffer.add_frame(next_obs)
        buffer.add(frame, action, float(reward), next_frame, bool(terminated))
        if terminated or truncated:
            obs, _ = env.reset()
            return obs, buffer.add_frame(obs)
        return next_obs, next_frame

    def schedule(self, buffer_steps: int, transfer: bool = False) -> list[int]:
        """The number of updates of each epoch of offline training on ``buffer_steps`` steps.

        ``epochs`` epochs if set; else the paper's epochs once the buffer holds the paper's
        number of steps (after a transfer, ``transfer=True``: the code's transfer schedule, 50
        epochs on the labyrinth); else ``updates_per_step x buffer_steps`` updates in epochs of
        ``updates_per_epoch`` (the last one shorter): the beginning of the paper's schedule.
        """
        cfg = self.config
        paper = (PAPER_TRANSFER_SCHEDULES if transfer else PAPER_SCHEDULES)[self.architecture]
        per_epoch = self.updates_per_epoch
        if cfg.epochs is not None:
            return [per_epoch] * cfg.epochs
        if cfg.updates_per_step is None and buffer_steps >= paper.steps:
            return [per_epoch] * paper.epochs
        total = max(1, math.ceil(self._updates_per_step() * buffer_steps))
        full, rest = divmod(total, per_epoch)
        return [per_epoch] * full + ([rest] if rest else [])

    def _updates_per_step(self) -> float:
        if self.config.updates_per_step is not None:
            return self.config.updates_per_step
        return SMALL_BUDGET_UPDATES_PER_STEP[self.architecture]

    def _learn_offline(self, buffer: ReplayBuffer, phase: Phase) -> None:
        """The updates of :meth:`schedule` on ``buffer``, the lr decayed after each epoch."""
        if len(buffer) == 0:
            return
        epochs = self.schedule(len(buffer), phase.transfer)
        self._start_phase(phase)
        for epoch, n_updates in enumerate(epochs):
            structure = epoch >= phase.structure_delay_epochs
            sums: dict[str, float] = {}
            for _ in range(n_updates):
                batch = buffer.sample(self.rng, self.config.batch_size, self.device)
                for name, value in self._update(batch, structure=structure, ld1=phase.ld1).items():
                    sums[name] = sums.get(name, 0.0) + value
            self._end_epoch(
                f"{epoch + 1}/{len(epochs)}", {k: v / n_updates for k, v in sums.items()}
            )

    def _learn_online(self, env: gym.Env[Any, Any], steps: int, phase: Phase) -> None:
        """Epsilon-greedy steps of ``env``, ``updates_per_step`` updates after each; the lr
        decays every ``updates_per_epoch`` updates."""
        cfg = self.config
        buffer = ReplayBuffer(self.obs_shape)
        self._start_phase(phase)
        per_step, credit = self._updates_per_step(), 0.0
        decay_steps = max(1, int(cfg.exploration_fraction * steps))
        sums: dict[str, float] = {}
        obs, _ = env.reset()
        frame = buffer.add_frame(obs)
        for t in range(steps):
            fraction = min(1.0, t / decay_steps)
            epsilon = cfg.epsilon_start + fraction * (cfg.epsilon_end - cfg.epsilon_start)
            if t < cfg.learning_starts or self.rng.random() < epsilon:
                action = int(self.rng.integers(self.n_actions))
            else:
                action = int(self._greedy(np.asarray(obs, np.float32)[None])[0])
            obs, frame = self._record_step(env, action, frame, buffer)
            if t + 1 < cfg.learning_starts:
                continue
            credit += per_step
            while credit >= 1.0:
                credit -= 1.0
                epoch = self.updates // self.updates_per_epoch
                batch = buffer.sample(self.rng, cfg.batch_size, self.device)
                structure = epoch >= phase.structure_delay_epochs
                for name, value in self._update(batch, structure=structure, ld1=phase.ld1).items():
                    sums[name] = sums.get(name, 0.0) + value
                if self.updates % self.updates_per_epoch == 0:
                    means = {k: v / self.updates_per_epoch for k, v in sums.items()}
                    self._end_epoch(str(epoch + 1), means)
                    sums = {}

    def _end_epoch(self, label: str, means: dict[str, float]) -> None:
        self._decay_lr()
        self.history.append(means)
        if self.config.verbose:
            losses = " ".join(f"{k}={v:.4g}" for k, v in means.items())
            print(f"CRAR epoch {label} ({self.updates} updates): {losses}", flush=True)

    def _learn(self, envs: Sequence[gym.Env[Any, Any]], steps: int, phase: Phase) -> None:
        if self.config.regime == "online":
            for env in envs:
                self._learn_online(env, steps, phase)
            return
        buffer = ReplayBuffer(self.obs_shape)
        for env in envs:
            self._collect_random(env, steps, buffer)
        self._learn_offline(buffer, phase)

    # ------------------------------------------------------------------------------------------
    # The agent API

    def train_source(self, envs: Sequence[gym.Env[Any, Any]], steps: int) -> None:
        """Learn every component from scratch on the sources (one buffer for all of them)."""
        self._learn(envs, steps, self.source_phase())

    def train_target(self, env: gym.Env[Any, Any], steps: int) -> None:
        """Transfer runs: train as the mode says, with ``transfer_lr``. Scratch: as a source."""
        self._learn([env], steps, self.target_phase())

    def source_phase(self) -> Phase:
        """How :meth:`train_source` trains: every component, ``lr``."""
        return Phase(self.config.lr, tuple(self.nets.components()))

    def target_phase(self) -> Phase:
        """How :meth:`train_target` trains: as a source without a transfer (scratch), every
        component with ``transfer_lr`` in ``finetune-all``, else the encoder alone with
        ``transfer_lr`` (without Ld1 in ``no-ld1``, structure losses delayed in
        ``delayed-structure``)."""
        cfg = self.config
        if not self.transferred:
            return self.source_phase()
        if cfg.mode == "finetune-all":
            return Phase(cfg.transfer_lr, tuple(self.nets.components()), transfer=True)
        return Phase(
            cfg.transfer_lr,
            ("encoder",),
            ld1=cfg.mode != "no-ld1",
            structure_delay_epochs=(
                cfg.structure_delay_epochs if cfg.mode == "delayed-structure" else 0
            ),
            transfer=True,
        )

    def save(self, path: Path) -> None:
        """Write ``crar.pt`` (state dicts) and ``crar.json`` (config and shapes) into ``path``."""
        states = {name: module.state_dict() for name, module in self.nets.components().items()}
        torch.save(states, path / "crar.pt")
        meta = {
            "config": self.config.model_dump(),
            "architecture": self.architecture,
            "obs_shape": list(self.obs_shape),
            "n_actions": self.n_actions,
            "abstract_shape": list(self.nets.abstract_shape),
        }
        (path / "crar.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    def load(self, path: Path) -> None:
        """Copy every component from the artifact (mode ``scratch``: ignore it).

        ``reset-encoder`` then permutes the encoder's weights.
        """
        if self.config.mode == "scratch":
            return
        meta = json.loads((path / "crar.json").read_text(encoding="utf-8"))
        mine = {
            "architecture": self.architecture,
            "obs_shape": list(self.obs_shape),
            "n_actions": self.n_actions,
            "abstract_shape": list(self.nets.abstract_shape),
        }
        for key, value in mine.items():
            if meta[key] != value:
                raise ValueError(
                    f"the artifact in {path} has {key}={meta[key]!r} but this agent has {value!r}; "
                    "transfer needs the same architecture and shapes (pass the same -k options "
                    "to both phases)"
                )
        states = torch.load(path / "crar.pt", map_location=self.device, weights_only=True)
        for name, module in self.nets.components().items():
            module.load_state_dict(states[name])
        if self.config.mode == "reset-encoder":
            self.permute_encoder()
        self._sync_target()
        self.transferred = True

    def permute_encoder(self) -> None:
        """Permute each encoder tensor elementwise (seeded): the code's encoder "reset"."""
        rng = np.random.default_rng([self.seed, _PERMUTATION_STREAM])
        with torch.no_grad():
            for param in self.nets.encoder.parameters():
                order = torch.from_numpy(rng.permutation(param.numel())).to(param.device)
                param.copy_(param.flatten()[order].view_as(param))

    def _greedy(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions in the planned values for a batch of observations."""
        with torch.no_grad():
            x = self.nets.encoder(torch.as_tensor(obs, dtype=torch.float32, device=self.device))
            values = plan_q_values(self.nets, x, self.plan_depth, self.config.plan_branching)
        return values.argmax(1).cpu().numpy()

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[Any, Any]:
        """The action (an int; an array for a batch of observations), and ``state``.

        ``deterministic=True``: greedy in the planned action values. ``deterministic=False``: the
        code's test policy, epsilon-greedy with ``eval_epsilon`` (0.1) around that action, its
        coin flips and random actions drawn from a generator of the agent's own that nothing
        else reads (seeded from ``context.seed``), so that evaluating changes nothing learned.
        """
        obs = np.asarray(observation, np.float32)
        single = obs.shape == self.obs_shape
        batch = obs[None] if single else obs
        actions = self._greedy(batch) if deterministic else self._epsilon_greedy(batch)
        return (int(actions[0]) if single else actions), state

    def _epsilon_greedy(self, obs: np.ndarray) -> np.ndarray:
        """Planned greedy actions, each replaced with probability ``eval_epsilon`` by a uniformly
        random one; the same draws (a coin and an action per observation) whatever the coins."""
        n = obs.shape[0]
        coins = np.asarray(self.eval_rng.random(n))
        random_actions = np.asarray(self.eval_rng.integers(self.n_actions, size=n))
        explore = coins < self.config.eval_epsilon
        if explore.all():
            return random_actions
        out: np.ndarray = np.where(explore, random_actions, self._greedy(obs))
        return out

    def embed(self, observation: np.ndarray) -> np.ndarray:
        """The encoder's abstract state of one observation, or of a batch (leading axis)."""
        obs = np.asarray(observation, np.float32)
        single = obs.shape == self.obs_shape
        with torch.no_grad():
            x = self.nets.encoder(torch.as_tensor(obs[None] if single else obs, device=self.device))
        out: np.ndarray = x.cpu().numpy()
        return out[0] if single else out

    def embed_transition(self, abstract_states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """The transition model's predicted next abstract states ``x + T(x, a)`` of a batch of
        abstract states (as :meth:`embed` returns them) and integer actions, shape (N,)."""
        x = torch.as_tensor(np.asarray(abstract_states, np.float32), device=self.device)
        a = torch.as_tensor(np.asarray(actions, np.int64), device=self.device)
        with torch.no_grad():
            out: np.ndarray = self.nets.transition(x, a).cpu().numpy()
        return out
