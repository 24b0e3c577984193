"""Dreamer (v1) and the multi-source transfer methods built on it: FTL and MMTL, as tlbench agents.

Hafner, Lillicrap, Ba & Norouzi (ICLR 2020) learn a world model (a recurrent state-space model,
RSSM, with an observation decoder and a reward head) from replayed sequences, and an actor and a
value function purely in imagination: 15-step latent rollouts of the actor, trained on
lambda-returns. Sasso, Sabatelli & Wiering (TMLR 2023) transfer such agents from several sources
at once: fractional transfer (FTL) and meta-model transfer (MMTL). The spec followed is
``specs/baselines.md`` (Dreamer, FTL, MMTL).

Usage (three agents in one package; the folder alone picks Dreamer)::

    tlbench evaluate baselines/dreamer --scenario bullet/invpend/2-sources -k size=small
    tlbench evaluate baselines/dreamer:FTL --scenario bullet/invpend/2-sources -k omega=0.2
    tlbench evaluate baselines/dreamer:MMTL --scenario bullet/invpend/2-sources
    tlbench evaluate baselines/dreamer:MMTL ... -k meta_inputs=latent   # the public code's variant

- :class:`Dreamer`: on the sources, one agent trained on all of them at once (below); on the
  target, *plain fine-tuning*: :meth:`Dreamer.load` copies every weight and everything trains.
  Its paired scratch control (the runner's, no ``load``) is *scratch Dreamer*.
- :class:`~baselines.dreamer.ftl.FTL`: the same source agent, transferred layer by layer (copied,
  fractional ``W_random + omega W_source``, random); see ``ftl.py``.
- :class:`~baselines.dreamer.mmtl.MMTL`: a universal autoencoder (UAE), single-task source agents
  on it, and a reward meta-model on the target; see ``mmtl.py``.

This file reads top to bottom: the config, the adapters between envs and the agent, the update,
the loop, the agent API. The networks are in ``networks.py``, the replay in ``replay.py``.

## The update (:meth:`Dreamer.update`)
One batch of ``batch_size`` x ``batch_length`` (50 x 50) replayed steps, three Adam steps, each
clipping its gradients' norm to 100:

- **world model** (lr 6e-4): the RSSM filters the sequences (posterior states); the loss is
  ``kl_scale x max(KL(posterior || prior), free_nats) + image + reward``, with the KL summed over
  the 30 stochastic dims and averaged over the batch before the free nats (3.0) apply, and the
  image and reward terms the negative log-likelihoods of unit-variance Gaussians (pixels summed),
  up to their constant;
- **actor** (lr 8e-5): from every posterior state of the batch (2,500 of them), 15 imagined steps
  (each action a reparameterised sample of the actor on the stopped previous state; the world
  model's weights frozen, its gradients flowing); rewards from the reward head, values from the
  value head; lambda-returns (discount 0.99, lambda 0.95) bootstrapped from the last value; the
  loss is minus their mean, weighted by ``discount^t``;
- **value** (lr 8e-5): regression of the value on the (stopped) lambda-returns of the imagined
  states, same weights.

## The loop (:meth:`Dreamer.learn`)
Each round runs one episode of every env whose budget is not used up (the source phase's 2-4
envs; the target's one). An env's first :meth:`~Dreamer.prefill_steps` act uniformly at random;
after that, the exploring policy: the posterior of the latest observation, a sample of the actor,
plus Gaussian noise of std 0.3, clipped to [-1, 1] (Discrete actions: the sampled action, replaced
by a uniformly random one with probability 0.3). Every ``train_every`` = 1,000 frames (all envs
together), 100 updates (``train_steps``), once every env has finished its prefill and every
replay holds a sequence; when the loop ends, the frames since the last block get their share of
updates (tlbench's rule, for budgets that are not a multiple of 1,000, such as MMTL's split
ones). Frames are env steps times the action repeat (Dreamer's code counts its schedule in
frames): the env's ``action_repeat`` make() argument is read from ``env.spec`` (the paper tier's
2), or set ``-k action_repeat=N``. The budget: an env is stepped exactly ``steps`` times, never
more (an episode still running when its budget runs out is cut there).

**Prefill rule** (tlbench): 5,000 frames (the spec), but at most 10% of an env's budget
(``prefill_fraction``): 100 steps on the smoke tier's 1,000, 5,000 on the standard tier, 2,500
steps (5,000 frames) on the paper tier.

**Multi-source training** (spec, FTL's source phase): one agent, one replay per source, each
batch split evenly between the replays (tlbench's choice; 50 sequences from 2 sources: 25 + 25).
Actions are padded to the widest source: the actor emits ``action_width`` numbers, every env uses
the first ones it needs (the replay keeps all of them, so the model learns the others do nothing).

## Observations
Pictures (64 x 64, channels last as tlbench's PyBullet envs give them, or first) go through the
conv encoder and decoder, scaled from uint8 to [-0.5, 0.5]; anything else (state vectors, the
maze's 1x8x8 grid, flattened) through tlbench's MLP encoder and decoder (Dense 2 x ``units`` ELU).
In state mode the sources' vectors differ in size: every vector is zero-padded to the widest of
the sources *and the target* (tlbench's deviation: the paper's pixels are 64x64x3 everywhere;
including the target's width lets the transferred encoder read every target dim). The source
agent's action width is likewise the widest of sources and target, so that fine-tuning can keep
every weight.

## Transfer (what ``load`` does)
The target agent is built for the target alone (the scratch control trains that one); ``load``
builds fresh seeded networks at the artifact's observation width and then:

- ``Dreamer`` (plain fine-tuning): its action width is the artifact's (the target uses the first
  dims) and every weight is copied; fresh optimisers, the same learning rates.
- ``FTL``: its own action width; the spec's per-layer rules with ``omega`` = 0.2 (``ftl.py``).
- ``MMTL``: its own action width; the frozen UAE as encoder, the frozen source reward heads and a
  fresh reward meta-model reading ``[feat, r_1(feat), ..., r_N(feat)]`` (``meta_inputs=latent``:
  ``feat`` only); everything else fresh (``mmtl.py``).

## Acting (:meth:`Dreamer.predict`)
The recurrent state ``(latent, last action)`` is returned as ``state`` and reset where
``episode_start`` is true. ``deterministic=True`` (the runner's evaluations): the posterior's mean
(Dreamer's code samples the posterior when it acts) and the actor's mode: for Box actions the
exact mode of the tanh-normal, computed per dimension (:func:`~.networks.tanh_normal_mode`;
Dreamer v1's code estimates it as the most likely of 100 samples; it is not ``tanh(mean)``, which
a wide policy seldom takes), for Discrete ones the most likely action. ``deterministic=False``
samples the posterior and the actor with predict's own generator. Neither touches the weights,
the replays or the training generators.

## Sizes
``size=paper`` (default): the spec's (deter 200, stoch 30, hidden 200, units 400, conv depth 32,
batch 50 x 50). ``size=small`` (tlbench, for CPUs): deter 64, stoch 16, hidden 64, units 64,
depth 16, batch 16 x 32. Each size can also be set on its own (``-k deter=100``).

## Faithful, and where tlbench deviates
Faithful (the spec): the architectures (conv encoder/decoder, RSSM 200/30/200 with std
softplus + 0.1, ELU heads 2x400 / 3x400 / 4x400, tanh-normal actor with init std 5, mean scale 5,
min std 1e-4), the losses, free nats 3, KL scale 1, batch 50 x 50, 100 updates every 1,000 frames,
5,000 prefill frames, Adam lrs 6e-4 / 8e-5 / 8e-5, clip 100, discount 0.99, lambda 0.95, horizon
15, exploration noise 0.3, pixels in [-0.5, 0.5]; weights initialised as TensorFlow's Keras layers
are (Glorot-uniform, orthogonal recurrent kernel, zero biases); Adam's epsilon is TensorFlow's 1e-7.

Deviations (tlbench's): the replay is one continuous stream per env, and a sampled sequence may
cross an episode start, where the RSSM state and the action are reset to zeros (Dreamer v1
samples inside one stored episode; the maze's episodes can be shorter than a sequence); every
sequence starts from a zero state with a zero action; the prefill cap for small budgets and the
share of updates of a last partial interval; the state-vector encoder and decoder, and the
zero-padding of vectors (to the widest of sources and target, actions too); the deterministic
``predict`` (posterior mean; the exact mode instead of the best of 100 samples); epsilon-greedy
(0.3) exploration for Discrete actions, with a straight-through one-hot actor; ``amp=true``
autocasts the updates to bfloat16 (the spec leaves mixed precision optional; never run on a GPU
so far); the even split of each batch between source replays.

## Determinism and device
Networks live on ``context.device`` (``cpu`` or ``cuda``; the runner resolves it). Weights come
from CPU ``torch.Generator`` objects seeded from ``context.seed`` (so a seed gives the same
initial weights on any device); the RSSM's and the actor's samples from a generator on the device;
random actions, exploration noise and batches from numpy generators of the seed. No global random
state is read: on a CPU the same seed gives the same weights, losses and actions (tested).

## Artifact
``save`` writes ``dreamer.pt`` (the state dict of every network, read back with
``torch.load(weights_only=True)``) and ``dreamer.json`` (the config and the shapes); MMTL writes
``mmtl.pt`` and ``mmtl.json``. No pickled objects.

## Measured (CPU only: no GPU run yet)
On one core of a shared 2-core AMD EPYC virtual machine (torch 2.13 CPU, one thread; the full
table and the command are in ``docs/performance.md``, section "Dreamer"):

- speed, ``benchmarks/dreamer.py``: ``size=small`` with state observations 7.6-9 updates/s and
  74-87 training env steps/s (100 updates per 1,000 steps; three runs); the paper's sizes with
  state observations 0.13 updates/s (7.6 s per update, 0.4 s of it the world model's step, the
  rest the actor's and value's on 2,500 x 15 imagined states), 1.3 steps/s; the paper's sizes
  with 64x64 pixels 0.0425 updates/s (24 s per update), 0.21 env steps/s at action repeat 2.
  The paper's reference is about 46 frames/s on one V100 (1e6 frames in 6 hours). On a GPU: not
  run yet.
- learning, ``tests/test_dreamer.py::test_dreamer_learns_the_swingup_from_state`` (slow):
  InvertedPendulumSwingup-v0 with state observations, ``size=small``, 10 updates every 100 steps
  (the spec's ratio), 400 prefill steps, seed 0: after 4,000 steps (370 updates, about a minute)
  the deterministic policy returns 103 (3 episodes; random: -896). Such short runs are unstable:
  evaluated every 1,000 steps up to 8,000 (3 episodes each), seed 0 went -839, -839, -86, 103,
  122, 94, 139, 201; seed 1 -505, -661, 264, 102, then -836 from 5,000 steps on; seed 2 -254,
  -922, -836, -884, 43, 70, -506, -894. Seed 1's actor saturated (mean 4.8 of the mean scale 5,
  std 0.001: full force one way, the cart against the end of its rail) and a saturated tanh
  passes almost no gradient: Dreamer v1 has no entropy term to prevent this.
- the world model on one fixed batch (``test_world_model_losses_fall_on_a_fixed_batch``): 60
  updates take reconstruction / reward / model losses to 39% / 7% / 24% of their start with state
  observations and 29% / 2% / 30% with pixels (tiny networks, free nats off).
- the smoke tier, ``tlbench evaluate baselines/dreamer:FTL --scenario bullet/invpend/2-sources
  --tier smoke -k size=small``: 1 min 43 s of wall time for its 5 runs (13-37 s of training
  each); the paper's sizes at 100 updates per 1,000 steps would take 12-25 minutes per run here.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from tlbench.agents import Agent, AgentContext

from .networks import PIXELS, DreamerNetworks, Latent, kl_divergence
from .replay import Replay, Sequences

__all__ = [
    "FTL",
    "MMTL",
    "SIZES",
    "Dreamer",
    "DreamerConfig",
    "DreamerNetworks",
    "EnvIO",
    "Replay",
    "lambda_return",
]

Size = Literal["paper", "small"]

#: the two size presets: the spec's (paper) and tlbench's CPU one (small)
SIZES: dict[str, dict[str, int]] = {
    "paper": {
        "deter": 200,
        "stoch": 30,
        "hidden": 200,
        "units": 400,
        "depth": 32,
        "batch_size": 50,
        "batch_length": 50,
    },
    "small": {
        "deter": 64,
        "stoch": 16,
        "hidden": 64,
        "units": 64,
        "depth": 16,
        "batch_size": 16,
        "batch_length": 32,
    },
}
# Streams of the seed's generators: weights, training noise, predict()'s noise, numpy's.
_INIT, _TRAIN, _EVAL, _NUMPY = 0, 1, 2, 3


def stream_seed(seed: int, *stream: int) -> int:
    """A 63-bit seed for one stream of ``seed`` (independent streams, no collisions)."""
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1, np.uint64)[0] >> 1)


class DreamerConfig(BaseModel):
    """Dreamer's settings: the agent's keyword arguments (``-k name=value``).

    ``None`` means "the size preset's value" (:data:`SIZES`). Sources: "spec" is
    ``specs/baselines.md`` (Dreamer v1's paper and code), "tlbench" this implementation's choice.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: Size = Field("paper", description="size preset: paper (spec) or small (tlbench, CPU)")
    deter: int | None = Field(None, ge=1, description="GRU state size [200 / 64] (spec)")
    stoch: int | None = Field(None, ge=1, description="stochastic state size [30 / 16] (spec)")
    hidden: int | None = Field(None, ge=1, description="RSSM hidden layer size [200 / 64] (spec)")
    units: int | None = Field(None, ge=1, description="heads' layer width [400 / 64] (spec)")
    depth: int | None = Field(None, ge=1, description="conv encoder depth [32 / 16] (spec)")
    batch_size: int | None = Field(None, ge=1, description="sequences per batch [50 / 16] (spec)")
    batch_length: int | None = Field(None, ge=2, description="steps per sequence [50 / 32] (spec)")
    horizon: int = Field(15, ge=2, description="imagination horizon (spec)")
    train_every: int = Field(1000, ge=1, description="frames between training blocks (spec)")
    train_steps: int = Field(100, ge=0, description="gradient steps per block (spec)")
    prefill: int = Field(5000, ge=0, description="random frames per env before training (spec)")
    action_repeat: int | None = Field(
        None,
        ge=1,
        description="frames per env step: prefill and train_every count frames, as in Dreamer's "
        "code; None: the env's action_repeat make() argument, else 1 (tlbench)",
    )
    prefill_fraction: float = Field(
        0.1, gt=0, le=1, description="prefill at most this fraction of a budget (tlbench)"
    )
    model_lr: float = Field(6e-4, gt=0, description="world model Adam lr (spec)")
    value_lr: float = Field(8e-5, gt=0, description="value Adam lr (spec)")
    actor_lr: float = Field(8e-5, gt=0, description="actor Adam lr (spec)")
    adam_eps: float = Field(1e-7, gt=0, description="Adam epsilon (TensorFlow's default)")
    grad_clip: float = Field(100.0, gt=0, description="gradient norm clip per optimiser (spec)")
    free_nats: float = Field(3.0, ge=0, description="KL free nats (spec)")
    kl_scale: float = Field(1.0, ge=0, description="KL scale (spec)")
    discount: float = Field(0.99, gt=0, le=1, description="imagination discount (spec)")
    return_lambda: float = Field(0.95, ge=0, le=1, description="lambda of the returns (spec)")
    expl_noise: float = Field(
        0.3, ge=0, description="Gaussian noise std (Box) / epsilon (Discrete) (spec)"
    )
    encoder: Literal["auto", "conv", "vector"] = Field(
        "auto", description="auto: conv for 64x64 pictures, else vector (tlbench)"
    )
    amp: bool = Field(False, description="bfloat16 autocast in the updates (tlbench)")
    verbose: bool = Field(True, description="print the mean losses of every training block")

    def sizes(self) -> dict[str, int]:
        """The preset's sizes with the fields set explicitly on top."""
        preset = SIZES[self.size]
        return {k: v if getattr(self, k) is None else getattr(self, k) for k, v in preset.items()}


# ----------------------------------------------------------------------------------------------
# From an env's spaces to the agent's vectors, and back


@dataclass(frozen=True)
class ObsLayout:
    """How an observation space is read: a picture ``(C, 64, 64)`` or a flat vector."""

    pixels: bool
    channels_last: bool  # the env gives (H, W, C)
    flat_dim: int  # vectors: the env's size; pictures: channels

    @classmethod
    def of(cls, space: gym.Space[Any], encoder: str) -> ObsLayout:
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"Dreamer needs a Box observation space, got {space}")
        shape = tuple(space.shape)
        picture = len(shape) == 3 and (
            shape[:2] == (PIXELS, PIXELS) or shape[1:] == (PIXELS, PIXELS)
        )
        if encoder == "conv" and not picture:
            raise ValueError(
                f"encoder=conv needs 64x64 pictures, got observations of shape {shape}; "
                "use encoder=vector"
            )
        if encoder != "vector" and picture:
            last = shape[:2] == (PIXELS, PIXELS)
            return cls(True, last, shape[2] if last else shape[0])
        return cls(False, False, math.prod(shape))


class EnvIO:
    """One env as the agent sees it: observations in the agent's layout (pictures as uint8
    ``(C, 64, 64)`` or float32 in [-0.5, 0.5], vectors zero-padded to ``obs_width``) and the
    agent's action vectors (width ``action_width``) as the env's actions (the first dims it
    needs; Box actions rescaled from [-1, 1] to its bounds; Discrete: the one-hot's index)."""

    def __init__(
        self, obs_space: gym.Space[Any], action_space: gym.Space[Any], obs_width: int, encoder: str
    ) -> None:
        self.obs_space, self.action_space = obs_space, action_space
        self.layout = ObsLayout.of(obs_space, encoder)
        self.obs_width = obs_width
        assert isinstance(obs_space, gym.spaces.Box)
        self.uint8 = obs_space.dtype == np.uint8
        if isinstance(action_space, gym.spaces.Discrete):
            self.discrete, self.action_dim = True, int(action_space.n)
        elif isinstance(action_space, gym.spaces.Box):
            self.discrete, self.action_dim = False, math.prod(action_space.shape)
            self.low = np.asarray(action_space.low, np.float64).ravel()
            self.high = np.asarray(action_space.high, np.float64).ravel()
            if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))):
                raise ValueError(f"Dreamer needs a bounded Box action space, got {action_space}")
        else:
            raise ValueError(f"Dreamer needs a Box or Discrete action space, got {action_space}")

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """The shape the agent's encoder reads."""
        if self.layout.pixels:
            return (self.layout.flat_dim, PIXELS, PIXELS)
        return (self.obs_width,)

    @property
    def obs_dtype(self) -> type:
        return np.uint8 if self.layout.pixels and self.uint8 else np.float32

    def observation(self, obs: Any, batched: bool = False) -> np.ndarray:
        """The agent's form of one observation (or of a batch along the first axis)."""
        x = np.asarray(obs)
        if not batched:
            x = x[None]
        if self.layout.pixels:
            if self.layout.channels_last:
                x = x.transpose(0, 3, 1, 2)
            x = np.ascontiguousarray(x, np.uint8) if self.uint8 else x.astype(np.float32) - 0.5
        else:
            flat = x.reshape(len(x), -1).astype(np.float32)
            x = np.zeros((len(x), self.obs_width), np.float32)
            x[:, : flat.shape[1]] = flat
        return x if batched else x[0]

    def action(self, vector: np.ndarray) -> Any:
        """The env's action for one of the agent's action vectors."""
        if self.discrete:
            assert isinstance(self.action_space, gym.spaces.Discrete)
            return int(self.action_space.start) + int(np.argmax(vector[: self.action_dim]))
        a = np.clip(np.asarray(vector[: self.action_dim], np.float64), -1.0, 1.0)
        scaled = self.low + (a + 1.0) / 2.0 * (self.high - self.low)
        scaled = np.clip(scaled, self.low, self.high)
        return scaled.astype(self.action_space.dtype).reshape(self.action_space.shape)


def to_float(obs: Tensor) -> Tensor:
    """uint8 pictures to float in [-0.5, 0.5]; anything else unchanged."""
    return obs.float() / 255.0 - 0.5 if obs.dtype == torch.uint8 else obs


def lambda_return(
    reward: Tensor, value: Tensor, discount: Tensor, bootstrap: Tensor, lambda_: float
) -> Tensor:
    """Dreamer's lambda-returns along the first axis (time).

    ``R_t = r_t + d_t ((1 - lambda) v_{t+1} + lambda R_{t+1})`` with ``v_T = R_T = bootstrap``.

    >>> r, v, d = torch.ones(2, 1), torch.zeros(2, 1), torch.full((2, 1), 0.5)
    >>> lambda_return(r, v, d, torch.full((1,), 4.0), 1.0).squeeze(1).tolist()
    [2.5, 3.0]
    """
    next_values = torch.cat([value[1:], bootstrap[None]], 0)
    inputs = reward + discount * next_values * (1 - lambda_)
    returns, last = [], bootstrap
    for t in reversed(range(len(reward))):
        last = inputs[t] + discount[t] * lambda_ * last
        returns.append(last)
    return torch.stack(returns[::-1], 0)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``modules`` inside the block (gradients still flow through)."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


# ----------------------------------------------------------------------------------------------
# The agent


class Dreamer(Agent):
    """Dreamer (v1): scratch in the target's scratch control, plain fine-tuning on transfer.

    Args:
        context: the run's context (spaces, seed, device).
        **kwargs: the fields of :class:`DreamerConfig`.

    >>> import tempfile, gymnasium as gym, tlbench
    >>> from tlbench.agents import AgentContext
    >>> env = gym.make("tlbench/Maze-v0")
    >>> spaces = (env.observation_space, env.action_space)
    >>> ctx = AgentContext(*spaces, (spaces,), spaces, 0, "cpu", Path(tempfile.mkdtemp()),
    ...                    "target", 0, 300)
    >>> agent = Dreamer(ctx, size="small", train_every=100, train_steps=2, verbose=False)
    >>> agent.train_target(env, 300)
    >>> obs, _ = env.reset(seed=0)
    >>> action, state = agent.predict(obs)
    >>> action in range(4), len(agent.history)
    (True, 3)
    """

    config_class: ClassVar[type[DreamerConfig]] = DreamerConfig
    #: the file names of the artifact
    ARTIFACT = ("dreamer.pt", "dreamer.json")

    def __init__(self, context: AgentContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.config = cfg = self.config_class(**kwargs)
        self.sizes = cfg.sizes()
        self.device = torch.device(context.device)
        self.seed = context.seed
        self.rng = np.random.default_rng([context.seed, _NUMPY])
        self.generator = self._torch_generator(_TRAIN)
        self.eval_generator = self._torch_generator(_EVAL)
        if context.phase == "source":
            # Sources (and, in state mode, the target) share one encoder and one actor: vectors
            # are padded to the widest of them all, so that the target fits the transferred nets.
            obs_width, action_width = self._widest((*context.source_spaces, context.target_spaces))
        else:
            obs_width, action_width = self._widest((context.target_spaces,))
        self.io = EnvIO(context.observation_space, context.action_space, obs_width, cfg.encoder)
        self.obs_shape = self.io.obs_shape
        self.discrete = self.io.discrete
        self.action_width = action_width
        self.nets = self._build(self.obs_shape, action_width, self.discrete)
        self.transferred = False
        self.env_steps = 0  # env steps of this phase, all envs together
        self.updates = 0
        self.history: list[dict[str, float]] = []  # mean losses of every training block
        self._make_optimizers()

    def _torch_generator(self, stream: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(stream_seed(self.seed, stream))

    def _widest(self, spaces: Sequence[tuple[gym.Space[Any], gym.Space[Any]]]) -> tuple[int, int]:
        """The observation width (vectors) and action width all of ``spaces`` fit into."""
        ios = [EnvIO(o, a, 0, self.config.encoder) for o, a in spaces]
        if len({io.layout.pixels for io in ios}) > 1:
            raise ValueError("Dreamer needs all envs to give pictures, or all vectors")
        if len({io.discrete for io in ios}) > 1:
            raise ValueError("Dreamer needs all envs' actions to be Box, or all Discrete")
        if ios[0].discrete and len({io.action_dim for io in ios}) > 1:
            raise ValueError(
                "Discrete envs of different action counts cannot share an actor: "
                f"{[io.action_dim for io in ios]}"
            )
        if ios[0].layout.pixels and len({io.layout.flat_dim for io in ios}) > 1:
            raise ValueError("pictures of different channel counts cannot share an encoder")
        return max(io.layout.flat_dim for io in ios), max(io.action_dim for io in ios)

    def _build(
        self, obs_shape: tuple[int, ...], action_width: int, discrete: bool, stream: int = 0
    ) -> DreamerNetworks:
        """Fresh networks, their weights drawn from the seed's init stream (``stream`` > 0: the
        ``stream``-th extra agent of MMTL's source phase): the same seed and sizes always give
        the same weights."""
        generator = torch.Generator().manual_seed(stream_seed(self.seed, _INIT, stream))
        nets = DreamerNetworks.from_sizes(obs_shape, action_width, discrete, self.sizes, generator)
        return nets.to(self.device)

    def _make_optimizers(self) -> None:
        """Fresh Adam optimisers over the trainable parameters of model, value and actor."""
        cfg = self.config

        def adam(params: Sequence[nn.Parameter], lr: float) -> torch.optim.Adam:
            return torch.optim.Adam(list(params), lr=lr, eps=cfg.adam_eps)

        self.model_params = [p for p in self._model_modules().parameters() if p.requires_grad]
        self.model_opt = adam(self.model_params, cfg.model_lr)
        self.value_opt = adam(list(self.nets.value.parameters()), cfg.value_lr)
        self.actor_opt = adam(list(self.nets.actor.parameters()), cfg.actor_lr)

    def _model_modules(self) -> nn.ModuleList:
        """What the model loss trains (MMTL adds its meta-model)."""
        return nn.ModuleList(self.nets.world_model().values())

    # ------------------------------------------------------------------------------------------
    # The update

    def _reward(self, feat: Tensor) -> Tensor:
        """The reward model's prediction for model states ``feat`` (MMTL: the meta-model)."""
        out: Tensor = self.nets.reward(feat).squeeze(-1)
        return out

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.config.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _step(self, optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        optimizer.step()

    def world_model_losses(self, batch: Sequences) -> tuple[dict[str, Tensor], Latent]:
        """The model loss's terms on ``batch`` (per sequence step, averaged), and the posteriors.

        ``image`` is the negative log-likelihood of the observations under unit-variance
        Gaussians, summed over pixels (or vector entries), up to its constant; ``reward`` the
        same for the rewards; ``kl`` the KL divergence of posterior and prior, summed over the
        stoch dims; ``model`` = kl_scale * max(kl, free_nats) + image + reward.
        """
        nets, cfg = self.nets, self.config
        obs = to_float(batch.obs)
        with self._autocast():
            embed = nets.encoder(obs)
            post, prior = nets.rssm.observe(embed, batch.actions, batch.first, self.generator)
            feat = post.feat()
            recon = nets.decoder(feat).float()
            reward = self._reward(feat).float()
        dims = tuple(range(2, recon.dim()))
        image = 0.5 * (recon - obs).pow(2).sum(dims).mean()
        reward_loss = 0.5 * (reward - batch.rewards).pow(2).mean()
        kl = kl_divergence(post, prior).float().mean()
        model = cfg.kl_scale * torch.clamp(kl, min=cfg.free_nats) + image + reward_loss
        losses = {"model": model, "image": image, "reward": reward_loss, "kl": kl}
        return losses, post

    def imagine(self, start: Latent) -> Tensor:
        """The model states ``(H, N, feat)`` of ``horizon`` imagined steps from ``start``
        (``N`` states), the actor choosing each action from the (stopped) previous state."""
        nets = self.nets
        state, feats = start, []
        for _ in range(self.config.horizon):
            action = nets.actor.sample(state.feat().detach(), self.generator)
            state = nets.rssm.img_step(state, action, self.generator)
            feats.append(state.feat())
        return torch.stack(feats, 0)

    def update(self, batch: Sequences) -> dict[str, float]:
        """One gradient step of world model, actor and value on ``batch``; the losses."""
        nets, cfg = self.nets, self.config
        losses, post = self.world_model_losses(batch)
        self._step(self.model_opt, losses["model"])

        start = post.detach().reshape(-1)
        with frozen(self._model_modules(), nets.value), self._autocast():
            feats = self.imagine(start)
            reward = self._reward(feats).float()
            value = nets.value(feats).squeeze(-1).float()
        discount = torch.full_like(reward, cfg.discount)
        returns = lambda_return(
            reward[:-1], value[:-1], discount[:-1], value[-1], cfg.return_lambda
        )
        weights = torch.cumprod(
            torch.cat([torch.ones_like(discount[:1]), discount[:-2]], 0), 0
        ).detach()
        actor_loss = -(weights * returns).mean()
        self._step(self.actor_opt, actor_loss)

        with self._autocast():
            value_pred = nets.value(feats[:-1].detach()).squeeze(-1).float()
        value_loss = 0.5 * (weights * (value_pred - returns.detach()).pow(2)).mean()
        self._step(self.value_opt, value_loss)

        self.updates += 1
        out = {name: float(v.detach()) for name, v in losses.items()}
        out.update(actor=float(actor_loss.detach()), value=float(value_loss.detach()))
        return out

    # ------------------------------------------------------------------------------------------
    # Collecting and training

    def prefill_steps(self, budget: int, repeat: int = 1) -> int:
        """Random env steps at the start of an env's ``budget``: the spec's 5,000 frames
        (``prefill``; ``repeat`` frames per step), at most ``prefill_fraction`` (10%) of the
        budget."""
        cfg = self.config
        return min(math.ceil(cfg.prefill / repeat), int(cfg.prefill_fraction * budget))

    def frames_per_step(self, env: gym.Env[Any, Any]) -> int:
        """``action_repeat``, or the ``action_repeat`` the env was made with (1 if none)."""
        if self.config.action_repeat is not None:
            return self.config.action_repeat
        spec = getattr(env, "spec", None)
        kwargs = getattr(spec, "kwargs", None) or {}
        return int(kwargs.get("action_repeat", 1))

    def sample(self, replays: Sequence[Replay]) -> Sequences:
        """A batch of ``batch_size`` sequences, split as evenly as possible between replays."""
        size, length = self.sizes["batch_size"], self.sizes["batch_length"]
        shares = [size // len(replays) + (i < size % len(replays)) for i in range(len(replays))]
        parts = [
            r.sample(self.rng, n, length, self.device)
            for r, n in zip(replays, shares, strict=True)
            if n
        ]
        return Sequences(*(torch.cat(items, 0) for items in zip(*parts, strict=True)))

    def train_block(self, replays: Sequence[Replay], n: int) -> None:
        """``n`` updates; their mean losses go to ``history``."""
        if n == 0:
            return
        sums: dict[str, float] = {}
        for _ in range(n):
            for name, value in self.update(self.sample(replays)).items():
                sums[name] = sums.get(name, 0.0) + value
        means = {k: v / n for k, v in sums.items()}
        self.history.append(means)
        if self.config.verbose:
            losses = " ".join(f"{k}={v:.4g}" for k, v in means.items())
            print(f"Dreamer {self.env_steps} steps, {self.updates} updates: {losses}", flush=True)

    def _policy_action(
        self, io: EnvIO, obs: np.ndarray, latent: Latent, prev: Tensor
    ) -> tuple[np.ndarray, Latent, Tensor]:
        """The exploring policy's action vector (spec: a sample, plus noise 0.3)."""
        nets = self.nets
        with torch.no_grad():
            x = to_float(torch.as_tensor(obs[None], device=self.device))
            post, _ = nets.rssm.obs_step(latent, prev, nets.encoder(x), self.generator)
            action = nets.actor.sample(post.feat(), self.generator)[0].cpu().numpy()
        noise = self.config.expl_noise
        if self.discrete:
            if self.rng.random() < noise:
                action = np.eye(self.action_width, dtype=np.float32)[
                    self.rng.integers(io.action_dim)
                ]
        else:
            action = np.clip(action + noise * self.rng.standard_normal(action.shape), -1, 1)
        action = action.astype(np.float32)
        return action, post, torch.as_tensor(action[None], device=self.device)

    def _random_action(self, io: EnvIO) -> np.ndarray:
        if self.discrete:
            return np.eye(self.action_width, dtype=np.float32)[self.rng.integers(io.action_dim)]
        return self.rng.uniform(-1, 1, self.action_width).astype(np.float32)

    def learn(self, envs: Sequence[gym.Env[Any, Any]], steps: int, replays: list[Replay]) -> None:
        """Dreamer's loop on ``envs``, at most ``steps`` env steps on each (see the docstring):
        each round runs one episode of every env whose budget is not used up; the first
        :meth:`prefill_steps` of an env act randomly; every ``train_every`` frames (all envs
        together; :meth:`frames_per_step` frames per step) ``train_steps`` updates, once every
        env is past its prefill and every replay holds a sequence; at the end, the frames since
        the last block get their share (``train_steps x frames / train_every``, rounded down)."""
        cfg = self.config
        ios = [self._env_io(env) for env in envs]
        used = [0] * len(envs)
        repeat = self.frames_per_step(envs[0])
        prefill = self.prefill_steps(steps, repeat)
        length = self.sizes["batch_length"]
        frames = 0  # the frames of this call, all envs together: the training schedule
        while any(u < steps for u in used):
            for i, (env, io, replay) in enumerate(zip(envs, ios, replays, strict=True)):
                if used[i] >= steps:
                    continue
                obs, _ = env.reset()
                obs = io.observation(obs)
                replay.add(obs, None, 0.0)
                latent = self.nets.rssm.initial(1, self.device)
                prev = torch.zeros(1, self.action_width, device=self.device)
                done = False
                while not done and used[i] < steps:
                    if used[i] < prefill:
                        action = self._random_action(io)
                    else:
                        action, latent, prev = self._policy_action(io, obs, latent, prev)
                    next_obs, reward, terminated, truncated, _ = env.step(io.action(action))
                    used[i] += 1
                    frames += repeat
                    self.env_steps += 1
                    obs = io.observation(next_obs)
                    replay.add(obs, action, float(reward))
                    done = terminated or truncated
                    ready = all(len(r) >= length for r in replays) and all(
                        u >= min(prefill, steps) for u in used
                    )
                    if ready and frames // cfg.train_every > (frames - repeat) // cfg.train_every:
                        self.train_block(replays, cfg.train_steps)
        # The frames since the last block get their share of updates (budgets that are not a
        # multiple of train_every, such as MMTL's split ones).
        if all(len(r) >= length for r in replays):
            self.train_block(
                replays, cfg.train_steps * (frames % cfg.train_every) // cfg.train_every
            )

    def _env_io(self, env: gym.Env[Any, Any]) -> EnvIO:
        io = EnvIO(env.observation_space, env.action_space, self.io.obs_width, self.config.encoder)
        too_wide = not io.layout.pixels and io.layout.flat_dim > io.obs_width
        too_many = io.action_dim > self.action_width
        if io.obs_shape != self.obs_shape or io.discrete != self.discrete or too_wide or too_many:
            raise ValueError(
                f"an env with observations {env.observation_space} and actions "
                f"{env.action_space} does not fit this agent (built for observations "
                f"{self.obs_shape} and {self.action_width} action dims)"
            )
        return io

    def _replays(self, n: int) -> list[Replay]:
        return [Replay(self.obs_shape, self.io.obs_dtype, self.action_width) for _ in range(n)]

    def random_replay(self, env: gym.Env[Any, Any], steps: int, seed: int = 0) -> Replay:
        """A replay of ``steps`` uniformly random steps of ``env`` (first reset seeded with
        ``seed``), outside any budget: for tests and benchmarks of :meth:`update`."""
        (replay,) = self._replays(1)
        io = self._env_io(env)
        obs, _ = env.reset(seed=seed)
        replay.add(io.observation(obs), None, 0.0)
        for _ in range(steps):
            action = self._random_action(io)
            obs, reward, terminated, truncated, _ = env.step(io.action(action))
            replay.add(io.observation(obs), action, float(reward))
            if terminated or truncated:
                obs, _ = env.reset()
                replay.add(io.observation(obs), None, 0.0)
        return replay

    # ------------------------------------------------------------------------------------------
    # The agent API

    def train_source(self, envs: Sequence[gym.Env[Any, Any]], steps: int) -> None:
        """One agent on all the sources at once (spec: FTL's multi-task source training)."""
        self.learn(envs, steps, self._replays(len(envs)))

    def train_target(self, env: gym.Env[Any, Any], steps: int) -> None:
        """Scratch, or fine-tuning of everything :meth:`load` copied: the same loop."""
        self.learn([env], steps, self._replays(1))

    def _meta(self) -> dict[str, Any]:
        return {
            "agent": type(self).__name__,
            "config": self.config.model_dump(),
            "obs_shape": list(self.obs_shape),
            "action_width": self.action_width,
            "discrete": self.discrete,
        }

    def save(self, path: Path) -> None:
        """Write ``dreamer.pt`` (the networks' state dict) and ``dreamer.json`` (config, shapes)."""
        weights, meta = (path / name for name in self.ARTIFACT)
        torch.save(self.nets.state_dict(), weights)
        meta.write_text(json.dumps(self._meta(), indent=1) + "\n", encoding="utf-8")

    def read_artifact(self, path: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """The source networks' state dict and the artifact's metadata, checked against this
        agent: the same sizes, observations of the same kind and no wider than the source's."""
        weights, meta_file = (path / name for name in self.ARTIFACT)
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        theirs = {**SIZES[meta["config"]["size"]]}
        theirs.update({k: v for k, v in meta["config"].items() if k in theirs and v is not None})
        for key in ("deter", "stoch", "hidden", "units", "depth"):
            if theirs[key] != self.sizes[key]:
                raise ValueError(
                    f"the artifact in {path} has {key}={theirs[key]} but this agent has "
                    f"{self.sizes[key]}; pass the same -k size options to both phases"
                )
        shape = tuple(meta["obs_shape"])
        if len(shape) != len(self.obs_shape) or (len(shape) == 3 and shape != self.obs_shape):
            raise ValueError(
                f"the artifact in {path} reads observations of shape {shape}, this target gives "
                f"{self.obs_shape}"
            )
        if len(shape) == 1 and shape[0] < self.io.layout.flat_dim:
            raise ValueError(
                f"the artifact in {path} reads vectors of {shape[0]}, the target gives "
                f"{self.io.layout.flat_dim}"
            )
        states = torch.load(weights, map_location=self.device, weights_only=True)
        return states, meta

    def _rebuild(self, obs_shape: tuple[int, ...], action_width: int) -> None:
        """Networks (fresh, seeded) for the artifact's observation width and ``action_width``."""
        self.io = EnvIO(self.io.obs_space, self.io.action_space, obs_shape[0], self.config.encoder)
        self.obs_shape = self.io.obs_shape
        self.action_width = action_width
        self.nets = self._build(self.obs_shape, action_width, self.discrete)

    def load(self, path: Path) -> None:
        """Plain fine-tuning: copy every weight of the source agent.

        The target's observations are padded to the source's width, and its actions to the
        source's (the env uses the first dims it needs).
        """
        states, meta = self.read_artifact(path)
        if meta["discrete"] != self.discrete:
            raise ValueError("fine-tuning needs the same kind of actions (Box or Discrete)")
        self._rebuild(tuple(meta["obs_shape"]), int(meta["action_width"]))
        self.nets.load_state_dict(states)
        self._make_optimizers()
        self.transferred = True

    # ------------------------------------------------------------------------------------------
    # Acting

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[Any, Any]:
        """The action for one observation (or a batch), and the recurrent state to pass back.

        The state is ``(latent, last action)``; it is reset where ``episode_start`` is true.
        Deterministic: the posterior's mean and the actor's mode (the tanh-normal's, or the most
        likely action); otherwise samples from predict's own generator. Neither touches what
        the agent trains with.
        """
        io, nets = self.io, self.nets
        obs = np.asarray(observation)
        single = obs.shape == io.obs_space.shape
        x = io.observation(obs[None] if single else obs, batched=True)
        n = len(x)
        if state is None:
            latent = nets.rssm.initial(n, self.device)
            prev = torch.zeros(n, self.action_width, device=self.device)
        else:
            latent, prev = state
            if episode_start is not None:
                keep = torch.as_tensor(~np.asarray(episode_start, bool), device=self.device)
                keep = keep.reshape(-1, 1).float()
                latent = Latent(*(t * keep for t in latent))
                prev = prev * keep
        generator = None if deterministic else self.eval_generator
        with torch.no_grad():
            embed = nets.encoder(to_float(torch.as_tensor(x, device=self.device)))
            post, _ = nets.rssm.obs_step(latent, prev, embed, generator)
            feat = post.feat()
            if deterministic:
                action = nets.actor.mode(feat)
            else:
                action = nets.actor.sample(feat, self.eval_generator)
        vectors = action.cpu().numpy()
        actions = [io.action(v) for v in vectors]
        out = actions[0] if single else np.stack(actions)
        return out, (post, action)


from .ftl import FTL  # noqa: E402  (FTL and MMTL subclass Dreamer)
from .mmtl import MMTL  # noqa: E402
