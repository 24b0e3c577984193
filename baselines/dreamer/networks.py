"""Dreamer's networks: encoder, decoder, the recurrent state-space model (RSSM) and the heads.

Shapes for the spec's sizes (deter 200, stoch 30, hidden 200, units 400, depth 32); ``feat`` is
the model state ``[h, z]`` (deterministic and stochastic parts, 230 numbers)::

    encoder (pixels)  (C, 64, 64) -> Conv 32, 64, 128, 256 (k4 s2, ReLU) -> flatten: 1024
    encoder (vector)  (D,) -> Dense 400-400 ELU: 400                      (tlbench, see below)
    decoder (pixels)  feat -> Dense 1024 -> (1024, 1, 1) -> ConvT 128 k5, 64 k5, 32 k6 (s2, ReLU)
                      -> ConvT C k6 s2: (C, 64, 64), the mean of a unit-variance Gaussian
    decoder (vector)  feat -> Dense 400-400 ELU -> Dense(D)                (tlbench)
    rssm  prior       [z, a] -> img_in Dense 200 ELU -> GRU cell 200 (h) -> img_hidden Dense 200
                      ELU -> img_dist Dense 2x30: mean, std = softplus + 0.1
          posterior   [h, embed] -> obs_hidden Dense 200 ELU -> obs_dist Dense 2x30
    reward            feat -> Dense 400-400 ELU -> Dense 1
    value             feat -> Dense 400-400-400 ELU -> Dense 1
    actor (Box)       feat -> Dense 400 x4 ELU -> Dense 2A: tanh-normal, mean 5 tanh(m / 5),
                      std softplus(s + softplus^-1(5)) + 1e-4
    actor (Discrete)  feat -> Dense 400 x4 ELU -> Dense A: logits of a one-hot categorical

Every head's last ``nn.Linear`` is its *output layer* (what FTL transfers fractionally); the
RSSM's ``img_in`` is the layer that reads the action (its first ``stoch`` input columns read the
latent ``z``, the rest the action). The vector encoder and decoder are tlbench's: the spec (and
Dreamer) only use pixels; their two ELU layers of ``units`` mirror the heads.

Weights are initialised as TensorFlow does for Dreamer's Keras layers (Glorot-uniform kernels,
orthogonal recurrent kernel, zero biases), from a seeded ``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: the side of the pixel observations the conv encoder and decoder take
PIXELS = 64
#: the actor's constants (spec): initial std, mean scale, minimum std
INIT_STD, MEAN_SCALE, MIN_STD = 5.0, 5.0, 1e-4
#: the RSSM's minimum std (spec: std = softplus + 0.1)
RSSM_MIN_STD = 0.1


def mlp(n_in: int, units: int, layers: int, n_out: int) -> nn.Sequential:
    """``layers`` Dense(units) + ELU, then a linear Dense(n_out) (the output layer)."""
    modules: list[nn.Module] = []
    for _ in range(layers):
        modules += [nn.Linear(n_in, units), nn.ELU()]
        n_in = units
    modules.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*modules)


def initialise(module: nn.Module, generator: torch.Generator) -> None:
    """Glorot-uniform kernels, orthogonal GRU recurrent kernels, zero biases (TF's defaults)."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(m.weight, generator=generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.GRUCell):
            nn.init.xavier_uniform_(m.weight_ih, generator=generator)
            nn.init.orthogonal_(m.weight_hh, generator=generator)
            nn.init.zeros_(m.bias_ih)
            nn.init.zeros_(m.bias_hh)


# ----------------------------------------------------------------------------------------------
# Encoders and decoders


class ConvEncoder(nn.Module):
    """``(..., C, 64, 64)`` in [-0.5, 0.5] -> ``(..., 32 * depth)``."""

    def __init__(self, channels: int, depth: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, depth, 4, 2),
            nn.ReLU(),
            nn.Conv2d(depth, 2 * depth, 4, 2),
            nn.ReLU(),
            nn.Conv2d(2 * depth, 4 * depth, 4, 2),
            nn.ReLU(),
            nn.Conv2d(4 * depth, 8 * depth, 4, 2),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.out_dim = 32 * depth

    def forward(self, obs: Tensor) -> Tensor:
        lead = obs.shape[:-3]
        return self.net(obs.reshape(-1, *obs.shape[-3:])).reshape(*lead, self.out_dim)


class ConvDecoder(nn.Module):
    """``(..., feat)`` -> ``(..., C, 64, 64)``, the mean of the image's Gaussian."""

    def __init__(self, feat_dim: int, channels: int, depth: int) -> None:
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(
            nn.Linear(feat_dim, 32 * depth),
            nn.Unflatten(1, (32 * depth, 1, 1)),
            nn.ConvTranspose2d(32 * depth, 4 * depth, 5, 2),
            nn.ReLU(),
            nn.ConvTranspose2d(4 * depth, 2 * depth, 5, 2),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * depth, depth, 6, 2),
            nn.ReLU(),
            nn.ConvTranspose2d(depth, channels, 6, 2),
        )

    def forward(self, feat: Tensor) -> Tensor:
        lead = feat.shape[:-1]
        out = self.net(feat.reshape(-1, feat.shape[-1]))
        return out.reshape(*lead, self.channels, PIXELS, PIXELS)


class VectorEncoder(nn.Module):
    """``(..., D)`` -> ``(..., units)``: Dense units x2, ELU (tlbench's, for state vectors)."""

    def __init__(self, obs_dim: int, units: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, units), nn.ELU(), nn.Linear(units, units), nn.ELU()
        )
        self.out_dim = units

    def forward(self, obs: Tensor) -> Tensor:
        out: Tensor = self.net(obs)
        return out


class VectorDecoder(nn.Module):
    """``(..., feat)`` -> ``(..., D)``: Dense units x2 ELU, then Dense(D) (tlbench's)."""

    def __init__(self, feat_dim: int, obs_dim: int, units: int) -> None:
        super().__init__()
        self.net = mlp(feat_dim, units, 2, obs_dim)

    def forward(self, feat: Tensor) -> Tensor:
        out: Tensor = self.net(feat)
        return out


# ----------------------------------------------------------------------------------------------
# The RSSM


class Latent(NamedTuple):
    """A model state: the GRU's ``deter`` (h), and the stochastic ``stoch`` (z) with the
    mean and std of the Gaussian it was drawn from."""

    deter: Tensor
    stoch: Tensor
    mean: Tensor
    std: Tensor

    def feat(self) -> Tensor:
        """``[h, z]``, what the decoder and the heads read."""
        return torch.cat([self.deter, self.stoch], -1)

    def detach(self) -> Latent:
        return Latent(*(t.detach() for t in self))

    def reshape(self, *shape: int) -> Latent:
        return Latent(*(t.reshape(*shape, t.shape[-1]) for t in self))


def gaussian(params: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor]:
    """``(sample, mean, std)`` of the RSSM's Gaussian; without a generator the sample is the mean
    (the deterministic latent of :meth:`Dreamer.predict`)."""
    mean, raw_std = params.chunk(2, -1)
    std = F.softplus(raw_std) + RSSM_MIN_STD
    if generator is None:
        return mean, mean, std
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + std * noise, mean, std


class RSSM(nn.Module):
    """Dreamer's recurrent state-space model (deter GRU, Gaussian stoch)."""

    def __init__(
        self, action_dim: int, embed_dim: int, deter: int, stoch: int, hidden: int
    ) -> None:
        super().__init__()
        self.deter_size, self.stoch_size = deter, stoch
        self.img_in = nn.Linear(stoch + action_dim, hidden)  # columns: [z | action]
        self.cell = nn.GRUCell(hidden, deter)
        self.img_hidden = nn.Linear(deter, hidden)
        self.img_dist = nn.Linear(hidden, 2 * stoch)
        self.obs_hidden = nn.Linear(deter + embed_dim, hidden)
        self.obs_dist = nn.Linear(hidden, 2 * stoch)

    def initial(self, batch: int, device: torch.device) -> Latent:
        zeros = torch.zeros(batch, self.deter_size, device=device)
        stoch = torch.zeros(batch, self.stoch_size, device=device)
        return Latent(zeros, stoch, stoch, stoch + 1.0)

    def img_step(self, prev: Latent, action: Tensor, generator: torch.Generator | None) -> Latent:
        """The prior ``p(z' | h')``, ``h' = GRU(h, [z, a])``."""
        x = F.elu(self.img_in(torch.cat([prev.stoch, action], -1)))
        deter = self.cell(x, prev.deter)
        stoch, mean, std = gaussian(self.img_dist(F.elu(self.img_hidden(deter))), generator)
        return Latent(deter, stoch, mean, std)

    def obs_step(
        self, prev: Latent, action: Tensor, embed: Tensor, generator: torch.Generator | None
    ) -> tuple[Latent, Latent]:
        """``(posterior, prior)`` after ``action`` and the observation's ``embed``."""
        prior = self.img_step(prev, action, generator)
        x = F.elu(self.obs_hidden(torch.cat([prior.deter, embed], -1)))
        stoch, mean, std = gaussian(self.obs_dist(x), generator)
        return Latent(prior.deter, stoch, mean, std), prior

    def observe(
        self, embed: Tensor, actions: Tensor, first: Tensor, generator: torch.Generator | None
    ) -> tuple[Latent, Latent]:
        """Posteriors and priors of a batch of sequences ``(B, T, ...)``.

        ``actions[:, t]`` is the action that led to observation ``t``; where ``first[:, t]`` is
        true an episode starts there: the state and the action are reset to zeros first.
        """
        batch, length = embed.shape[:2]
        state = self.initial(batch, embed.device)
        posts, priors = [], []
        for t in range(length):
            keep = (~first[:, t]).to(embed.dtype)[:, None]
            state = Latent(*(s * keep for s in state))
            post, prior = self.obs_step(state, actions[:, t] * keep, embed[:, t], generator)
            posts.append(post)
            priors.append(prior)
            state = post
        return _stack(posts), _stack(priors)


def _stack(states: list[Latent]) -> Latent:
    """Latents of single steps ``(B, ...)`` as one of sequences ``(B, T, ...)``."""
    return Latent(*(torch.stack(parts, 1) for parts in zip(*states, strict=True)))


def kl_divergence(post: Latent, prior: Latent) -> Tensor:
    """KL(post || prior) of the two diagonal Gaussians, summed over the stoch dims (float32)."""
    var_ratio = (post.std.float() / prior.std.float()).pow(2)
    mean_term = ((post.mean.float() - prior.mean.float()) / prior.std.float()).pow(2)
    return 0.5 * (var_ratio + mean_term - 1.0 - var_ratio.log()).sum(-1)


# ----------------------------------------------------------------------------------------------
# The actor


def tanh_normal_mode(mean: Tensor, std: Tensor, iterations: int = 30) -> Tensor:
    """The mode of ``tanh(x)``, ``x ~ N(mean, std^2)``, per dimension.

    The density of ``y = tanh(x)`` is highest where ``g(x) = -(x - mean)^2 / (2 std^2) +
    2 log cosh x`` is: at a stable fixed point of ``x = mean + 2 std^2 tanh(x)``. The map is
    increasing, so iterating it from either end of its range reaches its largest and its smallest
    fixed point, the two candidates; the one of higher ``g`` wins. With a small std that is
    ``tanh(mean)``; with a wide one it is near -1 or 1, where a tanh-normal puts its mass
    (Dreamer v1's code estimates the mode as the most likely of 100 samples).

    >>> round(tanh_normal_mode(torch.tensor([0.5]), torch.tensor([0.01])).item(), 3)  # tanh(0.5)
    0.462
    >>> round(tanh_normal_mode(torch.tensor([0.5]), torch.tensor([3.0])).item(), 6)
    1.0
    """
    mean, var = mean.float(), std.float().pow(2)
    reach = 2 * var

    def g(x: Tensor) -> Tensor:
        log_cosh = x.abs() + F.softplus(-2 * x.abs()) - math.log(2)
        return -(x - mean).pow(2) / (2 * var) + 2 * log_cosh

    x = torch.stack([mean + reach, mean - reach])  # the largest and the smallest fixed point
    for _ in range(iterations):
        x = torch.tanh(x).mul_(reach).add_(mean)
    high, low = x
    return torch.tanh(torch.where(g(high) >= g(low), high, low))


class Actor(nn.Module):
    """The policy: tanh-normal for Box actions, one-hot categorical for Discrete ones.

    Actions are vectors in [-1, 1]^A (Box) or one-hot vectors (Discrete).
    """

    def __init__(self, feat_dim: int, action_dim: int, units: int, discrete: bool) -> None:
        super().__init__()
        self.discrete = discrete
        self.action_dim = action_dim
        self.net = mlp(feat_dim, units, 4, action_dim if discrete else 2 * action_dim)
        self.raw_init_std = math.log(math.expm1(INIT_STD))

    def forward(self, feat: Tensor) -> Tensor:
        out: Tensor = self.net(feat)
        return out

    def sample(self, feat: Tensor, generator: torch.Generator) -> Tensor:
        """A differentiable sample: reparameterised (Box) or straight-through (Discrete)."""
        out = self(feat)
        if self.discrete:
            probs = out.softmax(-1)
            flat = probs.reshape(-1, self.action_dim).float()
            index = torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])
            onehot = F.one_hot(index, self.action_dim).to(probs.dtype)
            return onehot + (probs - probs.detach())
        mean, std = self._mean_std(out)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return torch.tanh(mean + std * noise)

    def mode(self, feat: Tensor) -> Tensor:
        """The most likely action: the tanh-normal's mode (Box) or the most likely one-hot."""
        out = self(feat)
        if self.discrete:
            return F.one_hot(out.argmax(-1), self.action_dim).to(out.dtype)
        return tanh_normal_mode(*self._mean_std(out))

    def _mean_std(self, out: Tensor) -> tuple[Tensor, Tensor]:
        mean, raw_std = out.chunk(2, -1)
        mean = MEAN_SCALE * torch.tanh(mean / MEAN_SCALE)
        std = F.softplus(raw_std + self.raw_init_std) + MIN_STD
        return mean, std


# ----------------------------------------------------------------------------------------------
# All of one agent's networks


class DreamerNetworks(nn.Module):
    """Encoder, decoder, RSSM, reward, value and actor of one agent.

    Args:
        obs_shape: ``(C, 64, 64)`` for the conv encoder, or ``(D,)`` for the vector one.
        action_dim: the width of the action vectors (Box) or the number of actions (Discrete).
        discrete: one-hot categorical actor instead of tanh-normal.
        deter, stoch, hidden, units, depth: the sizes (see the module docstring).
        generator: the weights' random source.
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action_dim: int,
        discrete: bool,
        *,
        deter: int,
        stoch: int,
        hidden: int,
        units: int,
        depth: int,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.obs_shape = obs_shape
        self.pixels = len(obs_shape) == 3
        self.feat_dim = deter + stoch
        if self.pixels:
            self.encoder: nn.Module = ConvEncoder(obs_shape[0], depth)
            self.decoder: nn.Module = ConvDecoder(self.feat_dim, obs_shape[0], depth)
            embed = 32 * depth
        else:
            self.encoder = VectorEncoder(obs_shape[0], units)
            self.decoder = VectorDecoder(self.feat_dim, obs_shape[0], units)
            embed = units
        self.rssm = RSSM(action_dim, embed, deter, stoch, hidden)
        self.reward = mlp(self.feat_dim, units, 2, 1)
        self.value = mlp(self.feat_dim, units, 3, 1)
        self.actor = Actor(self.feat_dim, action_dim, units, discrete)
        initialise(self, generator)

    #: the sizes the networks take (a size preset also holds batch sizes)
    SIZE_KEYS = ("deter", "stoch", "hidden", "units", "depth")

    @classmethod
    def from_sizes(
        cls,
        obs_shape: tuple[int, ...],
        action_dim: int,
        discrete: bool,
        sizes: Mapping[str, int],
        generator: torch.Generator,
    ) -> DreamerNetworks:
        """The networks for a size preset (``SIZES[...]`` or an agent's ``sizes``)."""
        return cls(
            obs_shape,
            action_dim,
            discrete,
            **{k: sizes[k] for k in cls.SIZE_KEYS},
            generator=generator,
        )

    def world_model(self) -> dict[str, nn.Module]:
        """The components the model loss trains."""
        return {
            "encoder": self.encoder,
            "decoder": self.decoder,
            "rssm": self.rssm,
            "reward": self.reward,
        }
