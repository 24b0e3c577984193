"""PPO, written for tlbench: clipped surrogate, GAE, minibatches, one batched env loop.

The file reads top to bottom as the algorithm does (after CleanRL's ``ppo.py``): hyperparameters,
the env adapter, the observation encoding, the network, then the agent whose ``_learn`` collects
a rollout from all envs at once, computes GAE advantages and runs the clipped PPO update.

Transfer is naive fine-tuning: ``load`` restores every weight (the vocabulary of observation
values and the optimizer state included) and ``train_target`` keeps training all of them.

Envs
    ``train_source``/``train_target`` accept a single ``gymnasium.Env`` or a
    ``gymnasium.vector.VectorEnv`` with autoreset mode ``SAME_STEP`` (the last observation of an
    episode in ``info["final_obs"]``). A single env is wrapped in a one-env ``SAME_STEP`` adapter,
    so there is one code path. Truncated episodes are bootstrapped with the value of their final
    observation. The agent resets each env once per training call, *without* a seed: the runner's
    budgeted envs seed their first reset; seed an env yourself (``env.reset(seed=s)``) before
    handing it over for a reproducible run outside the runner. ``steps`` is honoured exactly when
    it is a multiple of the number of envs (the last rollout is shortened to fit); a
    :class:`~tlbench.agents.api.BudgetExhausted` raised by the env is never caught.

Observation encoding (``encoding``)
    - ``"categorical"``: every distinct observation value gets a slot of a vocabulary, in the
      order in which training first sees it (values first seen in the same batch: in increasing
      order), and the network reads the one-hot of the slots (as Minigrid agents read object
      indices): an image of shape ``(C, H, W)`` becomes ``C * vocab_size`` binary maps. The
      vocabulary is part of the saved artifact, so a target whose values differ (the inverse
      colouring) gets *new* slots for its new values, whose first-layer weights start untrained:
      nothing maps the normal and the inverse look onto each other by hand. Slot 0 is
      "unknown": values beyond the ``vocab_size - 1`` the vocabulary holds, and values that
      ``predict`` meets before training has seen them (``predict`` never adds a value).
    - ``"raw"``: the observation as floats (``uint8`` images scaled to [0, 1]).
    - ``"auto"`` (default): ``"categorical"`` for images (3-D ``Box`` observations) whose first
      training batch holds at most ``(vocab_size - 1) // 2`` distinct values (room for a
      target's new ones), else ``"raw"``. The choice is made once, at the first training batch
      of a fresh agent, and travels with the artifact.

Networks
    Images: a CNN shared by policy and value: for images of side <= 16, 3x3 convolutions without
    padding of ``channels`` maps each (the one-hot maps are stored in the rollout); for larger
    ones the Nature-CNN strides (8/4, 4/2, 3/1; the one-hot is made minibatch by minibatch);
    then a dense layer of ``hidden`` units. State vectors: separate policy and value MLPs of
    ``mlp_hidden`` tanh units. Discrete actions: a categorical policy (actions drawn by
    Gumbel-max). Box actions: a Gaussian with a state-independent log-std; the sampled action is
    clipped to the bounds for the env (the unclipped one is trained on). Orthogonal
    initialization as in CleanRL.

Randomness
    ``context.seed`` seeds the initial weights, a ``torch.Generator`` for everything training
    draws (actions in rollouts, minibatch order) and a separate CPU generator used only by
    ``predict(deterministic=False)``; ``predict(deterministic=True)`` is the argmax (or the mean).
    So evaluating in the middle of training changes nothing that is learned.

Defaults and why
    CleanRL's PPO defaults (its Atari ones) unless said otherwise: ``n_steps=128`` per env,
    ``n_minibatches=4``, ``n_epochs=4``, ``gamma=0.99``, ``gae_lambda=0.95``,
    ``clip_coef=0.2``, ``ent_coef=0.01``, ``vf_coef=0.5``, ``max_grad_norm=0.5``, Adam with
    ``eps=1e-5``, advantage normalization per minibatch, the learning rate annealed linearly to
    0 over each training call (``anneal_lr``). ``clip_vloss=False`` (CleanRL: True): value
    clipping is optional, and Engstrom et al. (2020) found no clear benefit from it.

    The rest was chosen on the grid labyrinth (``tlbench/MetaLabyrinth-v0``, ``obs_mode="grid"``,
    16 envs, 1.5M steps, one seed each):

    - ``encoding="auto"`` (categorical there): a CNN over the raw scalar grid was found to stay
      near the random return, one over the one-hot of the distinct cell values learns.
    - ``learning_rate=1e-3`` (CleanRL: 2.5e-4): with 2.5e-4 the default network was still at a
      sampled return of about -2.5 after 1.5M steps (random: -3.9), and a 4x wider network
      (``channels=[32, 64]``, ``hidden=256``) at about -0.2; with 1e-3 the default network
      passes -1 within 0.5M steps.
    - ``channels=[16]``, ``hidden=128``: one 3x3 convolution and a dense layer. Enough for 8x8
      grids with the larger learning rate, and an update stays cheap: on a CPU the convolution
      dominates the cost of a step, so a wider network is several times slower.
    - ``vocab_size=16``: room for a source's and a target's values (the grid labyrinth needs
      4 + 3, its 48x48 pixels 6 + 4).

All hyperparameters are keyword arguments (``-k name=value``); see :data:`DEFAULTS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from tlbench.agents.api import Agent, AgentContext

# ---------------------------------------------------------------------------------------------
# Hyperparameters (every one a keyword argument of the agent)
# ---------------------------------------------------------------------------------------------
DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "anneal_lr": True,  # linearly to 0 over each training call
    "n_steps": 128,  # rollout length per env; a rollout is n_steps * num_envs transitions
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "n_minibatches": 4,
    "n_epochs": 4,
    "norm_adv": True,
    "clip_coef": 0.2,
    "clip_vloss": False,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "target_kl": None,  # stop an update's epochs early above this approximate KL
    "adam_eps": 1e-5,
    "encoding": "auto",  # "auto", "categorical" or "raw"
    "vocab_size": 16,  # one-hot width: slot 0 "unknown", so 15 distinct values
    "channels": [16],  # 3x3 convs (no padding) for images of side <= 16; wider: Nature-CNN
    "hidden": 128,
    "mlp_hidden": [64, 64],  # state vectors
}
#: the keyword arguments that define the network; they are saved with the weights
ARCH_KEYS = ("encoding", "vocab_size", "channels", "hidden", "mlp_hidden")
ENCODINGS = ("auto", "categorical", "raw")


# ---------------------------------------------------------------------------------------------
# Envs: everything is a SAME_STEP vector env
# ---------------------------------------------------------------------------------------------
class SingleAsVector:
    """One ``gymnasium.Env`` seen as a vector env of one, with ``SAME_STEP`` autoreset."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        self.env = env
        self.num_envs = 1
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space

    def reset(self) -> tuple[np.ndarray, dict[str, Any]]:
        obs, _ = self.env.reset()
        return np.asarray(obs)[None], {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        action = actions[0]
        obs, reward, terminated, truncated, _ = self.env.step(action)
        info: dict[str, Any] = {}
        if terminated or truncated:
            final = np.empty(1, dtype=object)
            final[0] = obs
            info = {"final_obs": final, "_final_obs": np.ones(1, bool)}
            obs, _ = self.env.reset()
        return (
            np.asarray(obs)[None],
            np.array([reward], np.float32),
            np.array([terminated]),
            np.array([truncated]),
            info,
        )


def as_vector(env: Any) -> Any:
    """``env`` if it is a vector env (it must autoreset ``SAME_STEP``), else a one-env adapter."""
    if not hasattr(env, "num_envs"):
        return SingleAsVector(env)
    mode = getattr(env, "metadata", {}).get("autoreset_mode", gym.vector.AutoresetMode.SAME_STEP)
    if gym.vector.AutoresetMode(mode) is not gym.vector.AutoresetMode.SAME_STEP:
        raise ValueError(f"PPO needs a vector env with autoreset_mode SAME_STEP, got {mode}")
    return env


# ---------------------------------------------------------------------------------------------
# Observation encoding
# ---------------------------------------------------------------------------------------------
class Vocabulary(nn.Module):
    """Distinct observation values -> slots 1..capacity, in order of first appearance; 0 is
    "unknown". Kept as buffers, so it is saved and loaded with the weights."""

    values: torch.Tensor
    slots: torch.Tensor
    size: torch.Tensor

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.register_buffer("values", torch.full((capacity,), math.inf))  # sorted
        self.register_buffer("slots", torch.zeros(capacity, dtype=torch.long))  # slot per value
        self.register_buffer("size", torch.zeros((), dtype=torch.long))
        self.warned = False
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def lookup(self, x: np.ndarray, grow: bool) -> np.ndarray:
        """Slots (int64) of the values in ``x``; with ``grow``, new values get slots first.

        Done in numpy on a cached copy of the buffers: a rollout calls it every step."""
        if self._cache is None:
            n = int(self.size)
            self._cache = (self.values[:n].cpu().numpy(), self.slots[:n].cpu().numpy())
        values, slots = self._cache
        flat = np.asarray(x, np.float32).reshape(-1)
        if len(values) == 0:
            idx, hit = np.zeros(flat.shape, np.int64), np.zeros(flat.shape, bool)
        else:
            idx = np.searchsorted(values, flat).clip(max=len(values) - 1)
            hit = values[idx] == flat
        if grow and not hit.all():
            self._add(torch.from_numpy(np.unique(flat[~hit])).to(self.values.device))
            return self.lookup(x, grow=False)
        if len(slots) == 0:  # nothing seen yet (predict before any training): all unknown
            return np.zeros(np.shape(x), np.int64)
        return np.where(hit, slots[idx], 0).reshape(np.shape(x))

    def lookup_table(self) -> tuple[np.ndarray, np.ndarray]:
        """The known values (sorted) and their slots."""
        n = int(self.size)
        return self.values[:n].cpu().numpy(), self.slots[:n].cpu().numpy()

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._cache = None

    def _add(self, new: torch.Tensor) -> None:
        size = int(self.size)
        room = self.capacity - size
        if new.numel() > room and not self.warned:
            self.warned = True
            gym.logger.warn(
                f"PPO: more than {self.capacity} (vocab_size - 1) distinct observation values; "
                "the others share the 'unknown' slot (raise vocab_size or use encoding=raw)"
            )
        new = new[:room]
        if new.numel() == 0:
            return
        values = torch.cat([self.values[:size], new])
        slots = torch.cat([self.slots[:size], size + 1 + torch.arange(len(new), device=new.device)])
        order = torch.argsort(values)
        n = size + len(new)
        self.values[:n] = values[order]
        self.slots[:n] = slots[order]
        self.size.fill_(n)
        self._cache = None


def count_distinct(obs: np.ndarray) -> int:
    return len(np.unique(obs))


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------
def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    assert isinstance(layer, (nn.Linear, nn.Conv2d))
    nn.init.orthogonal_(layer.weight, std)
    assert layer.bias is not None
    nn.init.constant_(layer.bias, bias)
    return layer


class ActorCritic(nn.Module):
    """Policy and value. Input: vocabulary slots (categorical) or floats (raw)."""

    slot_ids: torch.Tensor
    trunk: nn.Module
    actor: nn.Module
    critic: nn.Module

    def __init__(
        self, obs_space: spaces.Box, action_space: gym.Space[Any], arch: dict[str, Any]
    ) -> None:
        super().__init__()
        shape = tuple(obs_space.shape)
        self.image = len(shape) == 3
        self.categorical = arch["encoding"] == "categorical"
        self.scale = 1 / 255 if obs_space.dtype == np.uint8 else None
        self.discrete = isinstance(action_space, spaces.Discrete)
        if isinstance(action_space, spaces.Discrete):
            n_out = int(action_space.n)
        else:
            n_out = int(np.prod(action_space.shape or ()))
        self.width = int(arch["vocab_size"])
        self.vocab = Vocabulary(self.width - 1) if self.categorical else None
        self.register_buffer("slot_ids", torch.arange(self.width).view(1, 1, -1, 1, 1))
        self.store_one_hot = int(np.prod(shape)) * self.width <= 16_384
        if self.image:
            c, h, w = shape
            in_ch = conv_in = c * self.width if self.categorical else c
            if max(h, w) <= 16:
                layers: list[nn.Module] = []
                for out_ch in arch["channels"]:
                    layers += [layer_init(nn.Conv2d(in_ch, int(out_ch), 3)), nn.ReLU()]
                    in_ch = int(out_ch)
            else:
                layers = [
                    layer_init(nn.Conv2d(in_ch, 32, 8, stride=4)),
                    nn.ReLU(),
                    layer_init(nn.Conv2d(32, 64, 4, stride=2)),
                    nn.ReLU(),
                    layer_init(nn.Conv2d(64, 64, 3, stride=1)),
                    nn.ReLU(),
                ]
            conv = nn.Sequential(*layers, nn.Flatten())
            with torch.no_grad():
                n_flat = conv(torch.zeros(1, conv_in, h, w))
            self.trunk = nn.Sequential(
                conv, layer_init(nn.Linear(n_flat.shape[1], int(arch["hidden"]))), nn.ReLU()
            )
            self.actor = layer_init(nn.Linear(int(arch["hidden"]), n_out), std=0.01)
            self.critic = layer_init(nn.Linear(int(arch["hidden"]), 1), std=1.0)
        else:
            n_in = int(np.prod(shape)) * (self.width if self.categorical else 1)
            self.trunk = nn.Flatten()
            self.actor = _mlp(n_in, arch["mlp_hidden"], n_out, 0.01)
            self.critic = _mlp(n_in, arch["mlp_hidden"], 1, 1.0)
        if not self.discrete:
            self.log_std = nn.Parameter(torch.zeros(n_out))

    def inputs(self, obs: np.ndarray, device: torch.device, grow: bool) -> torch.Tensor:
        """A batch of observations as the network's input, as stored in a rollout: floats
        (raw), one-hot maps (categorical, small observations) or slots (categorical, large
        ones: their one-hot is made minibatch by minibatch, to save memory)."""
        if self.vocab is not None:
            slots = torch.from_numpy(self.vocab.lookup(obs, grow).astype(np.uint8)).to(device)
            return self.one_hot(slots) if self.store_one_hot else slots
        x = torch.as_tensor(obs, device=device).float()
        return x * self.scale if self.scale is not None else x

    def one_hot(self, slots: torch.Tensor) -> torch.Tensor:
        if self.image:  # (B, C, H, W) -> (B, C * width, H, W)
            return (slots.unsqueeze(2) == self.slot_ids).flatten(1, 2).float()
        return (slots.unsqueeze(-1) == self.slot_ids.view(-1)).float()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.categorical and not self.store_one_hot:
            x = self.one_hot(x)
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy output (logits, or the Gaussian mean) and value."""
        h = self.features(x)
        return self.actor(h), self.critic(h).squeeze(-1)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(self.features(x)).squeeze(-1)


def _mlp(n_in: int, hidden: Sequence[int], n_out: int, out_std: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [layer_init(nn.Linear(n_in, int(h))), nn.Tanh()]
        n_in = int(h)
    return nn.Sequential(*layers, layer_init(nn.Linear(n_in, n_out), std=out_std))


LOG_2PI = math.log(2 * math.pi)


def log_prob(net: ActorCritic, out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Log-probability of ``actions`` under the policy output ``out`` (no entropy)."""
    if net.discrete:
        return torch.log_softmax(out, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    z = (actions - out) / net.log_std.exp()
    return (-0.5 * z.square() - net.log_std - 0.5 * LOG_2PI).sum(-1)


def log_prob_entropy(
    net: ActorCritic, out: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of ``actions`` and entropy of the policy given its output ``out``."""
    if net.discrete:
        logp = torch.log_softmax(out, -1)
        entropy = -(logp.exp() * logp).sum(-1)
        return logp.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), entropy
    log_std = net.log_std.expand_as(out)
    z = (actions - out) / log_std.exp()
    logp = (-0.5 * z.square() - log_std - 0.5 * LOG_2PI).sum(-1)
    return logp, (0.5 + 0.5 * LOG_2PI + log_std).sum(-1)


def sample(net: ActorCritic, out: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Actions drawn from the policy with generator ``gen`` (on ``out``'s device)."""
    if net.discrete:
        u = torch.rand(out.shape, generator=gen, device=out.device).clamp_(min=1e-20)
        return (out - torch.log(-torch.log(u))).argmax(-1)  # Gumbel-max
    noise = torch.randn(out.shape, generator=gen, device=out.device)
    return out + net.log_std.exp() * noise


# ---------------------------------------------------------------------------------------------
# The agent
# ---------------------------------------------------------------------------------------------
class PPOAgent(Agent):
    """Proximal Policy Optimization, scratch and naive fine-tuning (see the module docstring)."""

    batch_predict = True  # predict takes a batch: the runner evaluates all episodes at once

    def __init__(self, context: AgentContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        unknown = set(kwargs) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"PPO: unknown keyword arguments {sorted(unknown)}; see DEFAULTS")
        self.cfg = {**DEFAULTS, **kwargs}
        if self.cfg["encoding"] not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.cfg['encoding']!r}")
        self.device = torch.device(context.device)
        obs_space, action_space = context.observation_space, context.action_space
        if not isinstance(obs_space, spaces.Box):
            raise TypeError(f"PPO needs a Box observation space, got {obs_space}")
        if not isinstance(action_space, (spaces.Discrete, spaces.Box)):
            raise TypeError(f"PPO needs a Discrete or Box action space, got {action_space}")
        self.obs_space, self.action_space = obs_space, action_space
        arch = {k: self.cfg[k] for k in ARCH_KEYS}
        # "auto" on an image: categorical until the first training batch says otherwise
        self.encoding_decided = arch["encoding"] != "auto" or len(obs_space.shape) != 3
        if arch["encoding"] == "auto":
            arch["encoding"] = "categorical" if len(obs_space.shape) == 3 else "raw"
        self._build(arch)
        self.gen = torch.Generator(device=self.device).manual_seed(context.seed)  # training
        self.predict_gen = torch.Generator().manual_seed(context.seed + 1)  # predict only
        #: returns of the episodes finished during training, in order (diagnostics)
        self.episode_returns: list[float] = []
        #: called as ``callback(agent, steps_done)`` after every update (diagnostics)
        self.callback: Any = None

    def _build(self, arch: dict[str, Any]) -> None:
        torch.manual_seed(self.context.seed)
        self.arch = arch
        self.net = ActorCritic(self.obs_space, self.action_space, arch).to(self.device)
        params = {"lr": self.cfg["learning_rate"], "eps": self.cfg["adam_eps"]}
        try:  # fused Adam: one kernel for all parameters (much less overhead on a CPU)
            self.optimizer = torch.optim.Adam(self.net.parameters(), fused=True, **params)
        except (RuntimeError, TypeError):  # a device or an older torch without it
            self.optimizer = torch.optim.Adam(self.net.parameters(), **params)

    # -- the phases ---------------------------------------------------------------------------
    def train_source(self, envs: Sequence[Any], steps: int) -> None:
        """Train on each source env in turn, ``steps`` env steps on each."""
        for env in envs:
            self._learn(as_vector(env), steps)

    def train_target(self, env: Any, steps: int) -> None:
        """Scratch: the fresh network. Transfer: the loaded one, every weight trained."""
        self._learn(as_vector(env), steps)

    def save(self, path: Path) -> None:
        torch.save(
            {
                "arch": self.arch,
                "net": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
            },
            Path(path) / "ppo.pt",
        )

    def load(self, path: Path) -> None:
        saved = torch.load(Path(path) / "ppo.pt", map_location=self.device, weights_only=True)
        self._build(dict(saved["arch"]))
        self.net.load_state_dict(saved["net"])
        self.optimizer.load_state_dict(saved["optimizer"])
        for group in self.optimizer.param_groups:  # this agent's learning rate, not the saved one
            group["lr"] = self.cfg["learning_rate"]
        self.encoding_decided = True

    # -- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool, gen: torch.Generator) -> np.ndarray:
        """Actions for a batch of observations, without learning anything (``gen`` on CPU)."""
        out, _ = self.net(self.net.inputs(obs, self.device, grow=False))
        out = out.cpu()
        if deterministic:
            action = out.argmax(-1) if self.net.discrete else out
        else:
            action = sample(self.net, out, gen)
        return self._to_env(action.numpy())

    def _to_env(self, action: np.ndarray) -> np.ndarray:
        if self.net.discrete:
            return action.astype(np.int64)
        assert isinstance(self.action_space, spaces.Box)
        low, high = self.action_space.low, self.action_space.high
        return np.clip(action, low, high).astype(self.action_space.dtype)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[Any, Any]:
        """Greedy (argmax, or the Gaussian mean) or sampled with the agent's own predict
        generator: training's randomness and the vocabulary are left untouched. A batch of
        observations (one more leading axis) gets a batch of actions (``batch_predict``)."""
        obs = np.asarray(observation)
        if obs.shape == self.context.observation_space.shape:
            return self.act(obs[None], deterministic, self.predict_gen)[0], None
        return self.act(obs, deterministic, self.predict_gen), None

    # -- learning -----------------------------------------------------------------------------
    def _decide_encoding(self, obs: np.ndarray) -> None:
        """``encoding="auto"`` on an image: categorical iff the first batch has few values."""
        self.encoding_decided = True
        if count_distinct(obs) > (int(self.arch["vocab_size"]) - 1) // 2:
            self._build({**self.arch, "encoding": "raw"})

    def _learn(self, envs: Any, steps: int) -> None:
        cfg, device, net = self.cfg, self.device, self.net
        n_envs, n_steps = envs.num_envs, int(cfg["n_steps"])
        gamma, lam = float(cfg["gamma"]), float(cfg["gae_lambda"])
        updates = math.ceil(steps / (n_envs * n_steps))
        obs, _ = envs.reset()
        if not self.encoding_decided:
            self._decide_encoding(obs)
            net = self.net
        optimizer = self.optimizer
        x = net.inputs(obs, device, grow=True)
        # rollout storage, allocated once
        x_buf = torch.zeros((n_steps, *x.shape), dtype=x.dtype, device=device)
        act_shape: tuple[int, ...] = () if net.discrete else (self.action_space.shape or ())
        act_dtype = torch.long if net.discrete else torch.float32
        act_buf = torch.zeros((n_steps, n_envs, *act_shape), dtype=act_dtype, device=device)
        logp_buf = torch.zeros((n_steps, n_envs), device=device)
        val_buf = torch.zeros((n_steps, n_envs), device=device)
        rew_buf = torch.zeros((n_steps, n_envs), device=device)
        done_buf = torch.zeros((n_steps, n_envs), device=device)
        ep_return = np.zeros(n_envs)
        done_steps = 0
        for update in range(updates):
            if cfg["anneal_lr"]:
                for group in optimizer.param_groups:
                    group["lr"] = (1.0 - update / updates) * cfg["learning_rate"]
            # the last rollout is shortened so that exactly ``steps`` are taken
            t_max = min(n_steps, (steps - done_steps) // n_envs)
            if t_max == 0:
                break
            # ---- rollout ----
            with torch.no_grad():
                for t in range(t_max):
                    out, value = net(x)
                    action = sample(net, out, self.gen)
                    logp = log_prob(net, out, action)
                    x_buf[t], act_buf[t], logp_buf[t], val_buf[t] = x, action, logp, value
                    obs, reward, terminated, truncated, info = envs.step(
                        self._to_env(action.cpu().numpy())
                    )
                    reward = np.asarray(reward, np.float32)
                    ep_return += reward
                    done = np.logical_or(terminated, truncated)
                    if done.any():
                        self.episode_returns.extend(ep_return[done].tolist())
                        ep_return[done] = 0.0
                        # bootstrap truncated episodes from the value of their last observation
                        cut = np.flatnonzero(np.logical_and(truncated, ~np.asarray(terminated)))
                        if cut.size:
                            final = np.stack([info["final_obs"][i] for i in cut])
                            v = net.value(net.inputs(final, device, grow=True)).cpu().numpy()
                            reward = reward.copy()
                            reward[cut] += gamma * v
                    rew_buf[t] = torch.from_numpy(reward).to(device)
                    done_buf[t] = torch.from_numpy(done.astype(np.float32)).to(device)
                    x = net.inputs(obs, device, grow=True)
                done_steps += t_max * n_envs
                # ---- GAE ----
                next_value = net.value(x)
                adv = torch.zeros((t_max, n_envs), device=device)
                last = torch.zeros(n_envs, device=device)
                for t in reversed(range(t_max)):
                    nonterminal = 1.0 - done_buf[t]
                    delta = rew_buf[t] + gamma * next_value * nonterminal - val_buf[t]
                    last = delta + gamma * lam * nonterminal * last
                    adv[t] = last
                    next_value = val_buf[t]
                ret = adv + val_buf[:t_max]
            self._update(
                x_buf[:t_max].flatten(0, 1),
                act_buf[:t_max].flatten(0, 1),
                logp_buf[:t_max].flatten(0, 1),
                adv.flatten(),
                ret.flatten(),
                val_buf[:t_max].flatten(),
            )
            if self.callback is not None:
                self.callback(self, done_steps)

    def _update(
        self,
        b_x: torch.Tensor,
        b_act: torch.Tensor,
        b_logp: torch.Tensor,
        b_adv: torch.Tensor,
        b_ret: torch.Tensor,
        b_val: torch.Tensor,
    ) -> None:
        """The clipped PPO update: ``n_epochs`` passes of ``n_minibatches`` minibatches."""
        cfg, net, optimizer = self.cfg, self.net, self.optimizer
        clip, n = float(cfg["clip_coef"]), len(b_adv)
        mb_size = max(1, n // int(cfg["n_minibatches"]))
        for _epoch in range(int(cfg["n_epochs"])):
            perm = torch.randperm(n, generator=self.gen, device=self.device)
            approx_kl = torch.zeros(())
            for start in range(0, n - mb_size + 1, mb_size):
                mb = perm[start : start + mb_size]
                out, value = net(b_x[mb])
                logp, entropy = log_prob_entropy(net, out, b_act[mb])
                log_ratio = logp - b_logp[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()
                adv = b_adv[mb]
                if cfg["norm_adv"] and len(mb) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
                if cfg["clip_vloss"]:
                    v_clipped = b_val[mb] + (value - b_val[mb]).clamp(-clip, clip)
                    v_loss = (
                        0.5
                        * torch.max(
                            (value - b_ret[mb]).square(), (v_clipped - b_ret[mb]).square()
                        ).mean()
                    )
                else:
                    v_loss = 0.5 * (value - b_ret[mb]).square().mean()
                loss = pg_loss - cfg["ent_coef"] * entropy.mean() + cfg["vf_coef"] * v_loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), cfg["max_grad_norm"])
                optimizer.step()
            if cfg["target_kl"] is not None and float(approx_kl) > cfg["target_kl"]:
                break
