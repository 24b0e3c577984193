"""Many CRAR agents trained at once: an ensemble dimension for the dense architecture.

The maze's networks are tiny (the encoder is 64-200-100-50-10-2): one update of one agent (seven
RMSprop steps) costs 6-9 ms of one CPU core, much of it the per-call overhead of hundreds of small
tensor operations. :class:`CRAREnsemble` trains ``E`` independent :class:`~baselines.crar.CRAR`
agents in one pass: every weight gets a leading model axis ``(E, ...)``, every dense layer is one
``torch.baddbmm`` over that axis, and the losses of ``losses.py`` run per model under
``torch.vmap``. An update of ``E`` models then takes as many operations as an update of one;
what grows with ``E`` is the arithmetic. ``benchmarks/crar.py`` measures 3-4x more model-updates
per CPU-second than one agent from ``E = 12`` on (``docs/performance.md``, CRAR).

It is the same CRAR, model by model: the agents' own networks (built, initialised and seeded by
:class:`~baselines.crar.CRAR`) are stacked, the seven loss steps run in the order and on the
parameters of ``CRAR._update`` (``LOSS_COMPONENTS``; frozen components take no step), each
model's gradients are clipped to global norm ``clip_norm`` over that loss's trainable parameters
of that model alone, each (loss, model) pair has its own RMSprop state (torch's update, written
with the same ``_foreach`` operations), the target copy of encoder and Q is refreshed every
``target_update_interval`` updates, and each model draws its minibatches from its own agent's
generator and buffer exactly as :meth:`ReplayBuffer.sample` does. Summing the models' losses
before the backward pass gives each model the gradient of its own loss (the models share no
parameters). ``tests/test_crar_ensemble.py`` checks that ``E`` agents trained by the ensemble
match the same agents trained one by one to float tolerance (source and frozen phases, target
refreshes included).

What differs: only the arithmetic's order (a batched matmul instead of one per model, the
gradient norm as one sum of squares instead of a norm of per-tensor norms), so results agree to
float rounding, not bit for bit. Dense architecture only, i.e. the simple maze (the labyrinth, in
pixels and in its grid mode alike, has the conv networks, which would need grouped convolutions);
every model of an ensemble shares one phase (learning rate, trainable components, schedule), and
the learning-rate decay and the schedule are the agents' own (``CRAR.lr_decay``,
``CRAR.schedule``).

>>> import gymnasium as gym, tempfile, tlbench
>>> from pathlib import Path
>>> from baselines.crar import CRAR, ReplayBuffer
>>> from tlbench.agents import AgentContext
>>> env = gym.make("tlbench/Maze-v0")
>>> spaces = (env.observation_space, env.action_space)
>>> def agent(seed):
...     ctx = AgentContext(*spaces, (spaces,), spaces, seed, "cpu", Path(tempfile.mkdtemp()),
...                        "source", 0, 100)
...     return CRAR(ctx, epochs=1, updates_per_epoch=20, verbose=False)
>>> agents = [agent(seed) for seed in range(3)]
>>> buffers = [collect(a, env, 100, seed=i) for i, a in enumerate(agents)]
>>> ensemble = CRAREnsemble(agents)
>>> ensemble.learn_offline(buffers, agents[0].source_phase())
>>> ensemble.write_back()  # the agents now hold the trained weights
>>> agents[2].updates, agents[2].embed(env.reset(seed=0)[0]).shape
(20, (2,))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from . import CRAR, LOSS_COMPONENTS, Batch, Phase, ReplayBuffer
from .losses import (
    discount_loss,
    double_q_targets,
    q_loss,
    reward_loss,
    separation_loss,
    transition_loss,
    unit_ball_loss,
)

__all__ = ["CRAREnsemble", "collect"]

COMPONENTS = ("encoder", "transition", "reward", "discount", "q")

# The losses of losses.py, one value per model (E,) from per-model inputs (E, B, ...).
_transition = torch.vmap(transition_loss)
_reward = torch.vmap(reward_loss)
_discount = torch.vmap(discount_loss, in_dims=(0, 0, None))
_separation = torch.vmap(separation_loss, in_dims=(0, 0, None))
_unit_ball = torch.vmap(unit_ball_loss)
_q = torch.vmap(q_loss)
_q_targets = torch.vmap(double_q_targets, in_dims=(0, 0, None, 0, 0, None))


def collect(
    agent: CRAR, env: gym.Env[Any, Any], steps: int, seed: int | None = None
) -> ReplayBuffer:
    """``steps`` uniformly random steps of ``env`` (reset with ``seed`` first), drawn by the
    agent's own generator as its offline regime does."""
    if seed is not None:
        env.reset(seed=seed)
    buffer = ReplayBuffer(agent.obs_shape)
    agent._collect_random(env, steps, buffer)
    return buffer


class _StackedDense:
    """One dense component of ``E`` models: ``(E, in, out)`` kernels and ``(E, 1, out)`` biases
    of the ``nn.Linear`` layers of its ``net`` (an ``nn.Sequential`` of Linear and Tanh), tanh
    after every layer but the last, as ``networks._dense_stack`` builds it."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        layers = [list(module.net) for module in modules]  # type: ignore[arg-type]
        linears = [m for m in layers[0] if isinstance(m, nn.Linear)]
        expected = [nn.Linear, nn.Tanh] * (len(linears) - 1) + [nn.Linear]
        if [type(m) for m in layers[0]] != expected:
            raise ValueError(f"expected Linear/Tanh layers, got {modules[0]}")
        self.params: list[Tensor] = []
        for i, _ in enumerate(layers[0]):
            if isinstance(layers[0][i], nn.Linear):
                kernel = torch.stack([net[i].weight.detach().T for net in layers])
                bias = torch.stack([net[i].bias.detach()[None] for net in layers])
                self.params += [kernel.contiguous(), bias.contiguous()]

    def __call__(self, h: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """``h`` (E, B, in) -> (E, B, out)."""
        params = self.params if params is None else params
        last = len(params) - 2
        for i in range(0, len(params), 2):
            h = torch.baddbmm(params[i + 1], h, params[i])
            if i < last:
                h = h.tanh()
        return h

    def write_back(self, modules: Sequence[nn.Module]) -> None:
        """Copy model ``e``'s weights into ``modules[e]``."""
        with torch.no_grad():
            for e, module in enumerate(modules):
                net: nn.Sequential = module.net  # type: ignore[assignment]
                linears = [m for m in net if isinstance(m, nn.Linear)]
                for j, linear in enumerate(linears):
                    linear.weight.copy_(self.params[2 * j][e].T)
                    linear.bias.copy_(self.params[2 * j + 1][e, 0])


class CRAREnsemble:
    """``E`` dense CRAR agents trained together (see the module docstring).

    Args:
        agents: the agents; their networks are copied in (stacked), :meth:`write_back` copies
            the trained weights out again. Every agent needs the same config (up to its seed)
            and the dense architecture.
    """

    def __init__(self, agents: Sequence[CRAR]) -> None:
        if not agents:
            raise ValueError("an ensemble needs at least one agent")
        first = agents[0]
        for agent in agents:
            if agent.architecture != "dense":
                raise ValueError(
                    f"CRAREnsemble supports the dense architecture only, got "
                    f"{agent.architecture!r}; train conv agents one by one"
                )
            if agent.config != first.config or agent.obs_shape != first.obs_shape:
                raise ValueError("every agent of an ensemble needs the same config and obs shape")
        self.agents = list(agents)
        self.n_models = len(agents)
        self.config = first.config
        self.n_actions = first.n_actions
        self.consecutive_lr_factor = first.consecutive_lr_factor
        self.updates_per_epoch = first.updates_per_epoch
        self.lr_decay = first.lr_decay
        self.device = first.device
        self.nets = {
            name: _StackedDense([getattr(a.nets, name) for a in agents]) for name in COMPONENTS
        }
        self.target_encoder = _StackedDense([a.target_encoder for a in agents])
        self.target_q = _StackedDense([a.target_q for a in agents])
        self.updates = 0
        self.lrs: dict[str, float] = {}
        self.params: dict[str, list[Tensor]] = {}
        self.square_avgs: dict[str, list[Tensor]] = {}
        self.history: list[dict[str, np.ndarray]] = []  # per epoch: loss -> (E,) means

    # ------------------------------------------------------------------------------------------
    # The components, batched over models

    def encode(self, obs: Tensor) -> Tensor:
        """``obs`` (E, B, *obs_shape) -> (E, B, abstract_dim)."""
        return self.nets["encoder"](obs.flatten(2))

    def _with_action(self, x: Tensor, actions: Tensor) -> Tensor:
        one_hot = nn.functional.one_hot(actions.long(), self.n_actions).to(x.dtype)
        return torch.cat([x, one_hot], 2)

    def transition(self, x: Tensor, actions: Tensor) -> Tensor:
        """``x + T([x, onehot(a)])``, (E, B, dim)."""
        return x + self.nets["transition"](self._with_action(x, actions))

    def reward(self, x: Tensor, actions: Tensor) -> Tensor:
        """(E, B)."""
        return self.nets["reward"](self._with_action(x, actions)).squeeze(2)

    def discount(self, x: Tensor, actions: Tensor) -> Tensor:
        """(E, B)."""
        return self.nets["discount"](self._with_action(x, actions)).squeeze(2)

    def q(self, x: Tensor) -> Tensor:
        """(E, B, n_actions)."""
        return self.nets["q"](x)

    # ------------------------------------------------------------------------------------------
    # The update, as CRAR._start_phase / _step / _update

    def start_phase(self, phase: Phase) -> None:
        """Freeze what the phase does not train; fresh RMSprop states; sync the targets."""
        for name, stacked in self.nets.items():
            for p in stacked.params:
                p.requires_grad_(name in phase.trainable)
        for loss, names in LOSS_COMPONENTS.items():
            self.params[loss] = [
                p for n in names if n in phase.trainable for p in self.nets[n].params
            ]
            self.square_avgs[loss] = [torch.zeros_like(p) for p in self.params[loss]]
            factor = self.consecutive_lr_factor if loss == "ld1_consecutive" else 1.0
            self.lrs[loss] = phase.lr * factor
        self.updates = 0
        self._sync_target()

    def _sync_target(self) -> None:
        with torch.no_grad():
            for target, name in ((self.target_encoder, "encoder"), (self.target_q, "q")):
                for t, p in zip(target.params, self.nets[name].params, strict=True):
                    t.copy_(p)

    def decay_lr(self) -> None:
        """Every learning rate times the agents' ``lr_decay`` (the end of an epoch)."""
        for loss in self.lrs:
            self.lrs[loss] *= self.lr_decay

    def _step(self, loss_name: str, losses: Tensor) -> Tensor:
        """One RMSprop step per model on its loss ``losses[e]``, gradients clipped per model."""
        cfg = self.config
        params = self.params[loss_name]
        if not params:
            return losses.detach()
        grads = list(torch.autograd.grad(losses.sum(), params))
        with torch.no_grad():
            squares = [g.pow(2).flatten(1).sum(1) for g in grads]
            norms = torch.stack(squares).sum(0).sqrt()  # (E,): each model's global norm
            coef = (cfg.clip_norm / (norms + 1e-6)).clamp(max=1.0)  # as clip_grad_norm_
            grads = [g * coef.view(-1, *[1] * (g.dim() - 1)) for g in grads]
            # torch.optim.RMSprop (no momentum, not centred), its foreach implementation
            square_avgs = self.square_avgs[loss_name]
            torch._foreach_mul_(square_avgs, cfg.rmsprop_alpha)
            torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - cfg.rmsprop_alpha)
            avg = torch._foreach_sqrt(square_avgs)
            torch._foreach_add_(avg, cfg.rmsprop_eps)
            torch._foreach_addcdiv_(params, grads, avg, value=-self.lrs[loss_name])
        return losses.detach()

    def update(
        self, batch: Batch, *, structure: bool = True, ld1: bool = True
    ) -> dict[str, Tensor]:
        """One update of every model: the seven loss steps of ``CRAR._update`` on ``batch``
        (every field with a leading model axis, (E, B, ...)); returns each loss (E,) as it was
        before its own step."""
        cfg = self.config
        s, a, r, s2, terminal = batch
        n = s.shape[1]
        out: dict[str, Tensor] = {}

        x, x_next = self.encode(torch.cat([s, s2], 1)).split(n, 1)
        out["transition"] = self._step(
            "transition", _transition(self.transition(x, a), x_next, terminal)
        )
        out["reward"] = self._step("reward", _reward(self.reward(self.encode(s), a), r))
        out["discount"] = self._step(
            "discount", _discount(self.discount(self.encode(s), a), terminal, cfg.gamma)
        )
        if structure:
            if ld1:
                x = self.encode(s)
                out["ld1"] = self._step("ld1", _separation(x, x.roll(1, 1), cfg.distance_scale))
            x, x_next = self.encode(torch.cat([s, s2], 1)).split(n, 1)
            out["ld1_consecutive"] = self._step(
                "ld1_consecutive", _separation(x, x_next, cfg.distance_scale)
            )
            out["ld2"] = self._step("ld2", _unit_ball(self.encode(s)))
        with torch.no_grad():
            targets = _q_targets(
                r,
                terminal,
                cfg.gamma,
                self.q(self.encode(s2)),
                self.target_q(self.target_encoder(s2.flatten(2))),
                cfg.double_q,
            )
        out["q"] = self._step("q", _q(self.q(self.encode(s)), a, targets))

        self.updates += 1
        if self.updates % cfg.target_update_interval == 0:
            self._sync_target()
        return out

    # ------------------------------------------------------------------------------------------
    # Offline training, as CRAR._learn_offline

    def sample(self, buffers: Sequence[ReplayBuffer]) -> Batch:
        """One minibatch per model, each drawn by its agent's generator from its buffer (the
        draws of :meth:`ReplayBuffer.sample`), stacked to (E, B, ...)."""
        size = self.config.batch_size
        pairs = zip(self.agents, buffers, strict=True)
        idx = np.stack([agent.rng.integers(len(b), size=size) for agent, b in pairs])
        rows = torch.arange(self.n_models)[:, None]
        i = torch.from_numpy(idx)
        return Batch(
            self._obs[rows, i], self._actions[rows, i], self._rewards[rows, i],
            self._next[rows, i], self._terminals[rows, i],
        )  # fmt: skip

    def _load_buffers(self, buffers: Sequence[ReplayBuffer]) -> None:
        """The buffers' transitions as (E, N, ...) tensors (every buffer the same length)."""
        sizes = {len(b) for b in buffers}
        if len(sizes) != 1:
            raise ValueError(f"every model's buffer needs the same length, got {sorted(sizes)}")
        n = sizes.pop()

        def stack(get: Any) -> Tensor:
            return torch.from_numpy(np.stack([get(b) for b in buffers])).to(self.device)

        self._obs = stack(lambda b: b.frames(b._obs[:n]))
        self._next = stack(lambda b: b.frames(b._next[:n]))
        self._actions = stack(lambda b: b._actions[:n])
        self._rewards = stack(lambda b: b._rewards[:n])
        self._terminals = stack(lambda b: b._terminals[:n])

    def learn_offline(
        self, buffers: Sequence[ReplayBuffer], phase: Phase, log_every: int = 1
    ) -> None:
        """The offline schedule of ``CRAR._learn_offline`` for every model on its own buffer
        (``buffers[e]``): ``agent.schedule(len(buffer), phase.transfer)`` epochs, lr decayed
        after each.
        Prints the losses' means over models every ``log_every`` epochs when ``verbose``."""
        if len(buffers) != self.n_models:
            raise ValueError(f"need one buffer per model ({self.n_models}), got {len(buffers)}")
        self._load_buffers(buffers)
        epochs = self.agents[0].schedule(len(buffers[0]), phase.transfer)
        self.start_phase(phase)
        for epoch, n_updates in enumerate(epochs):
            structure = epoch >= phase.structure_delay_epochs
            sums: dict[str, Tensor] = {}
            for _ in range(n_updates):
                losses = self.update(self.sample(buffers), structure=structure, ld1=phase.ld1)
                for name, value in losses.items():
                    sums[name] = sums[name] + value if name in sums else value
            self.decay_lr()
            means = {k: (v / n_updates).numpy() for k, v in sums.items()}
            self.history.append(means)
            if self.config.verbose and ((epoch + 1) % log_every == 0 or epoch + 1 == len(epochs)):
                text = " ".join(f"{k}={v.mean():.4g}" for k, v in means.items())
                print(
                    f"CRAREnsemble({self.n_models}) epoch {epoch + 1}/{len(epochs)} "
                    f"({self.updates} updates), mean over models: {text}",
                    flush=True,
                )

    def write_back(self) -> None:
        """Copy every model's weights (and target copies) into its agent; set its counters."""
        for name, stacked in self.nets.items():
            stacked.write_back([getattr(a.nets, name) for a in self.agents])
        self.target_encoder.write_back([a.target_encoder for a in self.agents])
        self.target_q.write_back([a.target_q for a in self.agents])
        for e, agent in enumerate(self.agents):
            agent.updates = self.updates
            agent.history.extend({k: float(v[e]) for k, v in h.items()} for h in self.history)
