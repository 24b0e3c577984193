"""Fractional transfer learning (FTL; Sasso, Sabatelli & Wiering): Dreamer trained on several
sources at once, transferred layer by layer.

Usage::

    tlbench evaluate baselines/dreamer:FTL --scenario bullet/invpend/2-sources --tier smoke
    tlbench evaluate baselines/dreamer:FTL --scenario bullet/invpend/2-sources -k omega=0.3

The source phase is :class:`~baselines.dreamer.Dreamer`'s multi-source training. On the target,
:meth:`FTL.load` builds fresh (seeded, random) networks for the target and then, parameter by
parameter (:func:`transfer_rules`):

=====================================================  ==========================================
parameters                                             rule
=====================================================  ==========================================
encoder, decoder, RSSM, every hidden layer of reward,  ``copy``: the source's weights
value and actor
reward and value output layers (weight and bias)       ``fractional``: W_random + omega x W_source
actor output layer (weight and bias)                   ``random``: the fresh weights
RSSM ``img_in.weight`` (reads ``[z, action]``)         ``split``: the columns reading z copied,
                                                       those reading the action random
=====================================================  ==========================================

omega is 0.2 by default (the paper's sweep: 0.0-0.5). The spec's rule names the output layers'
weights; tlbench applies it to their biases as well. The action columns and the actor's output
are random because the target's actions differ (the target keeps its own action width here,
where plain fine-tuning pads it to the sources').
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from . import Dreamer, DreamerConfig
from .networks import DreamerNetworks

Rule = Literal["copy", "fractional", "random", "split"]


class FTLConfig(DreamerConfig):
    """Dreamer's settings and FTL's fraction."""

    omega: float = Field(0.2, ge=0, description="fraction of the source's output layers (spec)")


def transfer_rules(nets: DreamerNetworks) -> dict[str, Rule]:
    """The FTL rule of every entry of ``nets.state_dict()`` (see the module docstring).

    >>> import torch
    >>> nets = DreamerNetworks((5,), 1, False, deter=8, stoch=4, hidden=8, units=8, depth=2,
    ...                        generator=torch.Generator())
    >>> rules = transfer_rules(nets)
    >>> rules["reward.4.weight"], rules["actor.net.8.bias"], rules["rssm.img_in.weight"]
    ('fractional', 'random', 'split')
    >>> rules["encoder.net.0.weight"], rules["reward.0.weight"], rules["rssm.img_in.bias"]
    ('copy', 'copy', 'copy')
    """
    output: dict[str, Rule] = {
        f"reward.{len(nets.reward) - 1}": "fractional",
        f"value.{len(nets.value) - 1}": "fractional",
        f"actor.net.{len(nets.actor.net) - 1}": "random",
    }
    rules: dict[str, Rule] = {}
    for name in nets.state_dict():
        layer = name.rpartition(".")[0]
        if layer in output:
            rules[name] = output[layer]
        elif name == "rssm.img_in.weight":
            rules[name] = "split"
        else:
            rules[name] = "copy"
    return rules


def fractional_transfer(
    nets: DreamerNetworks, source: dict[str, Tensor], omega: float
) -> dict[str, Rule]:
    """Apply FTL's rules to the freshly initialised ``nets`` from the ``source`` state dict."""
    rules = transfer_rules(nets)
    stoch = nets.rssm.stoch_size
    with torch.no_grad():
        for name, tensor in nets.state_dict().items():
            rule, theirs = rules[name], source[name]
            if rule == "random":
                continue
            if rule == "split":
                tensor[:, :stoch].copy_(theirs[:, :stoch])
                continue
            if theirs.shape != tensor.shape:
                raise ValueError(
                    f"FTL cannot transfer {name}: the source's is {tuple(theirs.shape)}, the "
                    f"target's {tuple(tensor.shape)}"
                )
            if rule == "copy":
                tensor.copy_(theirs)
            else:
                tensor.add_(omega * theirs)
    return rules


class FTL(Dreamer):
    """FTL: Dreamer's multi-source training, then the fractional transfer of
    :func:`fractional_transfer` (the paired scratch control is plain Dreamer)."""

    config_class = FTLConfig
    config: FTLConfig

    def load(self, path: Path) -> None:
        """Fresh networks for the target (its own action width), then FTL's rules."""
        states, meta = self.read_artifact(path)
        self._rebuild(tuple(meta["obs_shape"]), self.action_width)
        self.rules = fractional_transfer(self.nets, states, self.config.omega)
        self._make_optimizers()
        self.transferred = True
