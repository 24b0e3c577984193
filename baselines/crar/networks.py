"""CRAR's five components, in the two architectures of the CRAR code.

Every component reads an abstract state ``x`` (and, where it needs one, an action given as an
integer tensor):

- ``encoder(s) -> x``;
- ``transition(x, a) -> x'``, residual: ``x' = x + T([x, a])``;
- ``reward(x, a) -> r`` and ``discount(x, a) -> g`` (trained to ``gamma``, or 0 at a terminal);
- ``q(x) -> Q(x, .)``, one value per action.

``dense`` (the simple, low-dimensional maze: a 2-number abstract state)::

    encoder     Dense 200-100-50-10 tanh -> Dense(abstract_dim) linear
    transition  [x, onehot(a)] -> Dense 10-30-30-10 tanh -> Dense(abstract_dim) linear; x + that
    reward      [x, onehot(a)] -> Dense 10-50-20 tanh -> Dense(1) linear   (discount: the same)
    q           x -> Dense 20-50-20 tanh -> Dense(n_actions) linear

``conv`` (the labyrinth, the code's ``high_int_dim``: an abstract *map* of ``abstract_dim``
channels; shapes for a (1, 48, 48) image, padding "same" everywhere)::

    encoder     Conv 8 2x2 tanh (8x48x48) -> Conv 16 2x2 tanh (16x48x48) -> MaxPool 2 (16x24x24)
                -> Conv 32 3x3 tanh (32x24x24) -> MaxPool 3 (32x8x8)
                -> Conv 3 1x1 linear: the abstract state, 3x8x8
    transition  [a tiled as n_actions one-hot channels, x] (7x8x8) -> Conv 16 1x1, 32 2x2,
                64 3x3, 32 2x2, 16 1x1 (all tanh) -> Conv 3 1x1 linear; x + that
    reward      [a tiled, x] (7x8x8) -> Conv 16 2x2, Conv 32 3x3 (32x8x8) -> MaxPool 2 (32x4x4)
                -> Conv 16 2x2, Conv 4 1x1 (4x4x4; every conv tanh) -> flatten 64
                -> Dense 200-50-20 tanh -> Dense(1) linear             (discount: the same)
    q           x (3x8x8) -> the same conv stack -> Dense 200-50-20 tanh -> Dense(n_actions)

The code pools in the encoder only when both sides of the observation exceed 12
(:data:`POOL_ABOVE`); a smaller grid, such as the labyrinth's 8x8 ``grid`` mode (one value per
cell), is encoded by the last 1x1 conv alone, so its abstract map is 3x8x8 too. "Same" follows
Keras (TensorFlow): an even kernel pads ``(k - 1) // 2`` rows and columns before the input and
the rest after (for 2x2: none before, one after); a pool of size ``k`` (stride ``k``) gives
``ceil(n / k)`` outputs, the missing cells padded as ``-inf``, split the same way. Weights are
initialised as Keras does (Glorot uniform kernels, zero biases) from a seeded ``torch.Generator``.
The only layout difference from the code is torch's channels-first order, which changes no
function: the Dense layer after a flatten sees the same 64 numbers in another order.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

#: the conv encoder pools (by 2, then 3) when both sides of the image exceed this, as the code
#: does; a smaller grid is encoded by the 1x1 conv alone
POOL_ABOVE = 12
#: the conv encoder's total pooling factor on a pooled image
ENCODER_POOLING = 6


def _dense_stack(n_in: int, widths: tuple[int, ...], n_out: int) -> nn.Sequential:
    """Dense layers of ``widths`` with tanh, then a linear Dense(n_out)."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(n_in, width), nn.Tanh()]
        n_in = width
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _same_conv(n_in: int, n_out: int, kernel: int) -> list[nn.Module]:
    """A stride-1 conv padded to keep the map's size as Keras' "same" does: an even kernel pads
    ``(k - 1) // 2`` before and the rest after (an explicit ZeroPad2d, so that torch does not
    warn about asymmetric padding)."""
    if kernel % 2:
        return [nn.Conv2d(n_in, n_out, kernel, padding=kernel // 2)]
    before, after = _same_pad(kernel, kernel, 1)
    return [nn.ZeroPad2d((before, after, before, after)), nn.Conv2d(n_in, n_out, kernel)]


class SameMaxPool2d(nn.MaxPool2d):
    """Keras' ``MaxPooling2D(k, padding="same")``: stride ``k``, ``ceil(n / k)`` outputs, the
    missing cells padded with ``-inf`` as TensorFlow splits them (half before, rounded down)."""

    def __init__(self, kernel: int) -> None:
        super().__init__(kernel)
        self.kernel = kernel

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (B, C, H, W) -> (B, C, ceil(H / k), ceil(W / k))."""
        top, bottom = _same_pad(x.shape[-2], self.kernel, self.kernel)
        left, right = _same_pad(x.shape[-1], self.kernel, self.kernel)
        if top or bottom or left or right:
            x = nn.functional.pad(x, (left, right, top, bottom), value=-math.inf)
        return nn.functional.max_pool2d(x, self.kernel)


def _conv_head(n_channels: int, map_shape: tuple[int, int], n_out: int) -> nn.Sequential:
    """The code's conv head on an abstract map: Conv 16 2x2, Conv 32 3x3, MaxPool 2, Conv 16 2x2,
    Conv 4 1x1 (tanh, "same") -> flatten -> Dense 200-50-20 tanh -> Dense(n_out) linear."""
    flat = 4 * -(-map_shape[0] // 2) * -(-map_shape[1] // 2)
    return nn.Sequential(
        *_same_conv(n_channels, 16, 2),
        nn.Tanh(),
        *_same_conv(16, 32, 3),
        nn.Tanh(),
        SameMaxPool2d(2),
        *_same_conv(32, 16, 2),
        nn.Tanh(),
        nn.Conv2d(16, 4, 1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(flat, 200),
        nn.Tanh(),
        *_dense_stack(200, (50, 20), n_out),
    )


def _one_hot(actions: Tensor, n_actions: int) -> Tensor:
    return nn.functional.one_hot(actions.long(), n_actions).float()


class DenseEncoder(nn.Module):
    """``s -> x``: the flattened observation through Dense 200-100-50-10 tanh -> Dense(dim)."""

    def __init__(self, obs_size: int, abstract_dim: int) -> None:
        super().__init__()
        self.net = _dense_stack(obs_size, (200, 100, 50, 10), abstract_dim)

    def forward(self, obs: Tensor) -> Tensor:
        """``obs`` (B, *obs_shape) -> (B, abstract_dim)."""
        return self.net(obs.flatten(1))


class DenseTransition(nn.Module):
    """``(x, a) -> x + T([x, onehot(a)])``, T: Dense 10-30-30-10 tanh -> Dense(dim)."""

    def __init__(self, abstract_dim: int, n_actions: int) -> None:
        super().__init__()
        self.n_actions = n_actions
        self.net = _dense_stack(abstract_dim + n_actions, (10, 30, 30, 10), abstract_dim)

    def forward(self, x: Tensor, actions: Tensor) -> Tensor:
        """``x`` (B, dim), ``actions`` (B,) -> the predicted next abstract state (B, dim)."""
        return x + self.net(torch.cat([x, _one_hot(actions, self.n_actions)], 1))


class DenseScalarHead(nn.Module):
    """``(x, a) -> scalar``: [x, onehot(a)] through Dense 10-50-20 tanh -> Dense(1).

    CRAR's reward and discount heads.
    """

    def __init__(self, abstract_dim: int, n_actions: int) -> None:
        super().__init__()
        self.n_actions = n_actions
        self.net = _dense_stack(abstract_dim + n_actions, (10, 50, 20), 1)

    def forward(self, x: Tensor, actions: Tensor) -> Tensor:
        """``x`` (B, dim), ``actions`` (B,) -> (B,)."""
        return self.net(torch.cat([x, _one_hot(actions, self.n_actions)], 1)).squeeze(1)


class DenseQ(nn.Module):
    """``x -> Q(x, .)``: Dense 20-50-20 tanh -> Dense(n_actions)."""

    def __init__(self, abstract_dim: int, n_actions: int) -> None:
        super().__init__()
        self.net = _dense_stack(abstract_dim, (20, 50, 20), n_actions)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (B, dim) -> (B, n_actions)."""
        return self.net(x)


class ConvEncoder(nn.Module):
    """``s -> x``: an image to a ``abstract_channels`` x h x w abstract map.

    With ``pool=True`` (images whose sides exceed :data:`POOL_ABOVE`): the conv stack and its two
    pools, then the 1x1 conv; a 48x48 image gives a 3x8x8 map. With ``pool=False`` (small grids,
    one value per cell, as the labyrinth's 8x8 grid mode): the 1x1 conv alone, so the map keeps
    the grid's size, as in the code.
    """

    def __init__(self, in_channels: int, abstract_channels: int, pool: bool = True) -> None:
        super().__init__()
        stack: list[nn.Module] = []
        if pool:
            stack = [
                *_same_conv(in_channels, 8, 2),
                nn.Tanh(),
                *_same_conv(8, 16, 2),
                nn.Tanh(),
                SameMaxPool2d(2),
                *_same_conv(16, 32, 3),
                nn.Tanh(),
                SameMaxPool2d(3),
            ]
            in_channels = 32
        self.net = nn.Sequential(*stack, nn.Conv2d(in_channels, abstract_channels, 1))

    def forward(self, obs: Tensor) -> Tensor:
        """``obs`` (B, C, H, W) -> (B, abstract_channels, ceil(H / 6), ceil(W / 6)), or (H, W)
        unpooled."""
        return self.net(obs)


def _tile_actions(x: Tensor, actions: Tensor, n_actions: int) -> Tensor:
    """``[onehot(a), x]``: the one-hot action tiled over ``x``'s spatial map, as channels before
    ``x``'s (the code's order)."""
    tiled = _one_hot(actions, n_actions)[:, :, None, None].expand(-1, -1, *x.shape[2:])
    return torch.cat([tiled, x], 1)


class ConvTransition(nn.Module):
    """``(x, a) -> x + T([a tiled, x])``, T: convs 16-32-64-32-16 tanh -> Conv 1x1 to channels."""

    def __init__(self, abstract_channels: int, n_actions: int) -> None:
        super().__init__()
        self.n_actions = n_actions
        layers: list[nn.Module] = []
        n_in = abstract_channels + n_actions
        for width, kernel in ((16, 1), (32, 2), (64, 3), (32, 2), (16, 1)):
            layers += [*_same_conv(n_in, width, kernel), nn.Tanh()]
            n_in = width
        layers.append(nn.Conv2d(n_in, abstract_channels, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, actions: Tensor) -> Tensor:
        """``x`` (B, C, h, w), ``actions`` (B,) -> the predicted next abstract map (B, C, h, w)."""
        return x + self.net(_tile_actions(x, actions, self.n_actions))


class ConvScalarHead(nn.Module):
    """``(x, a) -> scalar``: [a tiled, x] through the conv head (:func:`_conv_head`).

    CRAR's reward and discount heads.
    """

    def __init__(self, abstract_channels: int, map_shape: tuple[int, int], n_actions: int) -> None:
        super().__init__()
        self.n_actions = n_actions
        self.net = _conv_head(abstract_channels + n_actions, map_shape, 1)

    def forward(self, x: Tensor, actions: Tensor) -> Tensor:
        """``x`` (B, C, h, w), ``actions`` (B,) -> (B,)."""
        return self.net(_tile_actions(x, actions, self.n_actions)).squeeze(1)


class ConvQ(nn.Module):
    """``x -> Q(x, .)``: the conv head (:func:`_conv_head`) -> one value per action."""

    def __init__(self, abstract_channels: int, map_shape: tuple[int, int], n_actions: int) -> None:
        super().__init__()
        self.net = _conv_head(abstract_channels, map_shape, n_actions)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (B, C, h, w) -> (B, n_actions)."""
        return self.net(x)


class CRARNetworks(nn.Module):
    """The five components of one CRAR agent.

    Args:
        architecture: ``"dense"`` or ``"conv"``.
        obs_shape: the observation's shape, ``(C, H, W)`` for ``conv``.
        n_actions: the number of discrete actions.
        abstract_dim: the size of the abstract state (``dense``) or its channels (``conv``).
        generator: the seeded generator the weights are drawn from.

    >>> nets = CRARNetworks("dense", (1, 8, 8), 4, 2, torch.Generator().manual_seed(0))
    >>> x = nets.encoder(torch.zeros(5, 1, 8, 8))
    >>> x.shape, nets.transition(x, torch.zeros(5)).shape, nets.q(x).shape
    (torch.Size([5, 2]), torch.Size([5, 2]), torch.Size([5, 4]))
    """

    def __init__(
        self,
        architecture: str,
        obs_shape: tuple[int, ...],
        n_actions: int,
        abstract_dim: int,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.architecture = architecture
        self.obs_shape = obs_shape
        self.n_actions = n_actions
        self.encoder: nn.Module
        self.transition: nn.Module
        self.reward: nn.Module
        self.discount: nn.Module
        self.q: nn.Module
        if architecture == "dense":
            self.encoder = DenseEncoder(math.prod(obs_shape), abstract_dim)
            self.transition = DenseTransition(abstract_dim, n_actions)
            self.reward = DenseScalarHead(abstract_dim, n_actions)
            self.discount = DenseScalarHead(abstract_dim, n_actions)
            self.q = DenseQ(abstract_dim, n_actions)
        elif architecture == "conv":
            if len(obs_shape) != 3:
                raise ValueError(
                    f"the conv architecture needs (C, H, W) observations, got shape {obs_shape}; "
                    "use architecture='dense'"
                )
            pool = min(obs_shape[1:]) > POOL_ABOVE
            scale = ENCODER_POOLING if pool else 1
            map_shape = (-(-obs_shape[1] // scale), -(-obs_shape[2] // scale))
            self.encoder = ConvEncoder(obs_shape[0], abstract_dim, pool)
            self.transition = ConvTransition(abstract_dim, n_actions)
            self.reward = ConvScalarHead(abstract_dim, map_shape, n_actions)
            self.discount = ConvScalarHead(abstract_dim, map_shape, n_actions)
            self.q = ConvQ(abstract_dim, map_shape, n_actions)
        else:
            raise ValueError(f"unknown architecture {architecture!r}; use 'dense' or 'conv'")
        with torch.no_grad():
            self.abstract_shape: tuple[int, ...] = tuple(
                self.encoder(torch.zeros(1, *obs_shape)).shape[1:]
            )
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Conv2d):
                nn.init.xavier_uniform_(module.weight, generator=generator)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def components(self) -> dict[str, nn.Module]:
        """The components by name: encoder, transition, reward, discount, q."""
        return {
            "encoder": self.encoder,
            "transition": self.transition,
            "reward": self.reward,
            "discount": self.discount,
            "q": self.q,
        }


@torch.no_grad()
def plan_q_values(nets: CRARNetworks, x: Tensor, depth: int, branching: int = 2) -> Tensor:
    """Action values of the abstract states ``x`` (B, ...) by planning in the learned model.

    ``Q^0(x, a) = Q(x, a)``, and for ``d >= 1``::

        Q^d(x, a) = R(x, a) + G(x, a) * max_{a' in top_b(x')} Q^(d-1)(x', a'),  x' = T(x, a)

    where ``top_b(x')`` are the ``branching`` actions of highest ``Q(x', .)`` (the root expands
    every action; with ``branching >= n_actions`` every node does). A leaf (``d = 0``) gives the
    largest ``Q`` of its candidates, i.e. ``max Q(x', .)``. The result is the average over the
    depths, ``(Q^0 + ... + Q^depth) / (depth + 1)``, shape (B, n_actions): the root's action
    values, averaged over depths 0..d as the spec says. ``depth=0`` is plain ``Q(x, .)``.

    >>> nets = CRARNetworks("dense", (1, 8, 8), 4, 2, torch.Generator().manual_seed(0))
    >>> x = nets.encoder(torch.zeros(3, 1, 8, 8))
    >>> plan_q_values(nets, x, 3).shape
    torch.Size([3, 4])
    >>> bool(torch.equal(plan_q_values(nets, x, 0), nets.q(x)))
    True
    """
    if depth < 0:
        raise ValueError(f"planning depth must be >= 0, got {depth}")
    # One tree serves every depth: the nodes expanded below the root are chosen by Q alone.
    estimates = _expand(nets, x, depth, nets.n_actions, branching)
    return torch.stack(estimates).mean(0)


def _expand(nets: CRARNetworks, x: Tensor, depth: int, width: int, branching: int) -> list[Tensor]:
    """``[Q^0, ..., Q^depth]`` of the ``width`` best actions of ``x`` by Q (all actions if
    ``width >= n_actions``), each (B, width)."""
    q = nets.q(x)
    n = x.shape[0]
    if width >= nets.n_actions:
        actions = torch.arange(nets.n_actions, device=x.device).expand(n, -1)
    else:
        actions = q.topk(width, dim=1).indices
    estimates = [q.gather(1, actions)]
    if depth == 0:
        return estimates
    width = actions.shape[1]
    xs = x.repeat_interleave(width, 0)
    flat = actions.reshape(-1)
    rewards = nets.reward(xs, flat)
    discounts = nets.discount(xs, flat)
    for after in _expand(nets, nets.transition(xs, flat), depth - 1, branching, branching):
        estimates.append((rewards + discounts * after.max(1).values).view(n, width))
    return estimates
