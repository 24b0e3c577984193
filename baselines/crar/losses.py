"""CRAR's losses as pure functions of tensors (each is a mean over the batch).

Which parameters each loss trains is the update's business (see ``CRAR._update`` in
``baselines/crar/__init__.py``); here are only the values, written as the CRAR code's Keras
losses compute them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Ld1's constant: ``exp(-C_d * distance)``
DISTANCE_SCALE = 5.0
#: the distance in Ld1 is clipped to [1e-3, sqrt(10)] (the code clips its square to [1e-6, 10])
MIN_DISTANCE, MAX_DISTANCE = 1e-3, math.sqrt(10.0)
#: Ld2's excess ``max x^2 - 1`` is clipped to [0, 100], as in the code
MIN_UNIT_BALL_EXCESS, MAX_UNIT_BALL_EXCESS = 0.0, 100.0


def transition_loss(predicted: Tensor, encoded_next: Tensor, terminals: Tensor) -> Tensor:
    """MSE between ``T(e(s), a)`` and ``e(s')``, masked at terminal transitions.

    The mean runs over the whole batch and every abstract dimension: a terminal transition counts
    as an error of 0 (as the code's MSE against a masked difference).

    >>> transition_loss(torch.ones(2, 2), torch.zeros(2, 2), torch.tensor([0.0, 1.0]))
    tensor(0.5000)
    """
    mask = (1.0 - terminals).view(-1, *[1] * (predicted.dim() - 1))
    return ((predicted - encoded_next) * mask).pow(2).mean()


def reward_loss(predicted: Tensor, rewards: Tensor) -> Tensor:
    """MSE between the reward head and the rewards.

    >>> reward_loss(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]))
    tensor(0.5000)
    """
    return (predicted - rewards).pow(2).mean()


def discount_loss(predicted: Tensor, terminals: Tensor, gamma: float) -> Tensor:
    """MSE between the discount head and ``(1 - terminal) * gamma``.

    >>> discount_loss(torch.tensor([0.9, 0.9]), torch.tensor([0.0, 1.0]), 0.9)
    tensor(0.4050)
    """
    return (predicted - (1.0 - terminals) * gamma).pow(2).mean()


def separation_loss(x1: Tensor, x2: Tensor, scale: float = DISTANCE_SCALE) -> Tensor:
    """Ld1 (and Ld1'): ``exp(-C_d * ||x1 - x2||_2)``, the distance clipped to [1e-3, sqrt(10)].

    Minimising it pushes the embeddings of the pairs apart. The clip is applied to the squared
    distance before the square root (as the code does), so that the gradient is zero, not
    infinite, for identical embeddings.

    >>> round(float(separation_loss(torch.zeros(1, 2), torch.tensor([[0.3, 0.4]]))), 6)  # d=0.5
    0.082085
    >>> round(float(separation_loss(torch.zeros(1, 2), torch.zeros(1, 2))), 6)  # clipped, 1e-3
    0.995012
    """
    squared = (x1 - x2).flatten(1).pow(2).sum(1)
    distance = squared.clamp(MIN_DISTANCE**2, MAX_DISTANCE**2).sqrt()
    return torch.exp(-scale * distance).mean()


def unit_ball_loss(x: Tensor) -> Tensor:
    """Ld2: ``clip(max_c x_c^2 - 1, 0, 100)``, the max over the abstract state's channel axis
    (axis 1), averaged over everything else; zero while every coordinate is in [-1, 1].

    As the code's Keras loss, which takes the max over the last (channels-last) axis: for a dense
    abstract state (B, dim) the max over its coordinates, one value per sample; for a conv
    abstract map (B, C, h, w) the max over its C channels at each of the h x w cells, averaged
    over batch x cells.

    >>> float(unit_ball_loss(torch.tensor([[0.5, -0.9], [2.0, 0.0]])))  # (0 + 3) / 2
    1.5
    >>> x = torch.zeros(1, 3, 2, 2); x[0, 0, 0, 0] = 2.0; x[0, 2, 1, 1] = -1.5
    >>> float(unit_ball_loss(x))  # cells: 3, 0, 0, 1.25
    1.0625
    """
    excess = x.pow(2).amax(1) - 1.0
    return excess.clamp(MIN_UNIT_BALL_EXCESS, MAX_UNIT_BALL_EXCESS).mean()


def double_q_targets(
    rewards: Tensor,
    terminals: Tensor,
    gamma: float,
    next_q_online: Tensor,
    next_q_target: Tensor,
    double: bool = True,
) -> Tensor:
    """``r + (1 - terminal) * gamma * Q_target(s', argmax_a Q_online(s', a))`` (Double DQN).

    With ``double=False`` the target network picks its own best action (plain DQN).

    >>> online = torch.tensor([[0.0, 1.0]]); target = torch.tensor([[5.0, 2.0]])
    >>> double_q_targets(torch.tensor([1.0]), torch.tensor([0.0]), 0.5, online, target)
    tensor([2.])
    """
    chooser = next_q_online if double else next_q_target
    best = chooser.argmax(1, keepdim=True)
    return rewards + (1.0 - terminals) * gamma * next_q_target.gather(1, best).squeeze(1)


def q_loss(q_values: Tensor, actions: Tensor, targets: Tensor) -> Tensor:
    """MSE of the taken actions' values against their targets, as the code's Keras loss.

    The code fits the whole row ``Q(s, .)`` to a copy of itself whose taken action's entry is
    the target, so the loss is the squared TD error averaged over batch *and* actions:
    ``sum_b (Q(s_b, a_b) - y_b)^2 / (B * n_actions)``.

    >>> q_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([0]), torch.tensor([3.0]))
    tensor(2.)
    """
    taken = q_values.gather(1, actions.long().view(-1, 1)).squeeze(1)
    return (taken - targets).pow(2).sum() / q_values.numel()
