"""Meta-model transfer learning (MMTL; Sasso, Sabatelli & Wiering): a universal encoder, single-task
source agents on it, and a target reward model that reads the sources' reward predictions.

Usage::

    tlbench evaluate baselines/dreamer:MMTL --scenario bullet/invpend/2-sources --tier smoke
    tlbench evaluate baselines/dreamer:MMTL --scenario ... -k meta_inputs=latent   # the code's

Source phase (:meth:`MMTL.train_source`, N source envs, ``steps`` each):

1. The universal autoencoder (UAE): a Dreamer trained on the first ``uae_sources`` = 2 sources at
   once (the paper: Hopper and Ant, 2e6 steps); its encoder is frozen from then on and shared by
   every MMTL agent. Each of those sources gives ``uae_fraction`` = 1/2 of its budget to the UAE
   and the rest to step 2 (tlbench's rule: the API gives every source one budget). With a single
   source, the UAE is trained on it alone. ``uae=<folder>`` takes the encoder of another run's
   artifact instead (a Dreamer, FTL or MMTL source artifact of the same sizes and observation
   width), and every source's whole budget goes to step 2.
2. N single-task Dreamer agents, one per source, each with the frozen UAE as its encoder and its
   own action width, trained one after the other on what is left of their budgets.
3. The artifact: the UAE's weights and the N source reward heads (``mmtl.pt``, ``mmtl.json``).

Target (:meth:`MMTL.load`): fresh Dreamer networks (seeded) with the UAE as their frozen encoder;
the reward model is a *meta-model*, Dense 2 x units ELU -> 1 (the reward head's architecture),
whose input is ``meta_inputs``:

- ``latent+predictions`` (default, the paper): ``[feat, r_1(feat), ..., r_N(feat)]``, the target's
  model state and the N frozen source reward heads' predictions for that state;
- ``latent`` (the public code's behaviour, which computes the predictions but does not feed them
  in): ``feat`` alone.

The source reward heads read the target's model state ``feat = [h, z]`` (same sizes as theirs):
all agents see observations through the same frozen encoder, which is what MMTL's transfer of the
reward heads rests on. The heads stay frozen; the meta-model's gradient flows through them into
the target's RSSM and encoder input (not the frozen encoder's weights). Everything else trains as
in Dreamer. The paired scratch control (no ``load``) is plain Dreamer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import torch
from pydantic import Field
from torch import Tensor, nn

from . import _INIT, Dreamer, DreamerConfig, EnvIO, stream_seed
from .networks import DreamerNetworks, initialise, mlp

#: the init stream of the meta-model's weights
_META_STREAM = 1000


class MMTLConfig(DreamerConfig):
    """Dreamer's settings and MMTL's."""

    meta_inputs: Literal["latent+predictions", "latent"] = Field(
        "latent+predictions",
        description="meta-model input: with the source predictions (paper), or without (code)",
    )
    uae_sources: int = Field(2, ge=1, description="sources the UAE is trained on (spec)")
    uae_fraction: float = Field(
        0.5, gt=0, lt=1, description="budget share of those sources for the UAE (tlbench)"
    )
    uae: str | None = Field(None, description="folder of an artifact to take the UAE from")


class MMTL(Dreamer):
    """MMTL (see the module docstring)."""

    config_class = MMTLConfig
    config: MMTLConfig
    ARTIFACT = ("mmtl.pt", "mmtl.json")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.uae: nn.Module | None = None
        self.source_nets: list[DreamerNetworks] = []
        self.source_rewards = nn.ModuleList()

    # ------------------------------------------------------------------------------------------
    # Source phase

    def train_source(self, envs: Sequence[gym.Env[Any, Any]], steps: int) -> None:
        """The UAE, then one single-task agent per source on the frozen UAE."""
        cfg = self.config
        used = [0] * len(envs)
        if cfg.uae is not None:
            self.nets.encoder.load_state_dict(self._read_uae(Path(cfg.uae)))
        else:
            k = min(cfg.uae_sources, len(envs))
            uae_steps = int(cfg.uae_fraction * steps)
            self.learn(envs[:k], uae_steps, self._replays(k))
            used[:k] = [uae_steps] * k
        self.uae = self.nets.encoder.requires_grad_(False)
        universal = (self.nets, self.action_width)
        for i, env in enumerate(envs):
            io = EnvIO(env.observation_space, env.action_space, self.io.obs_width, cfg.encoder)
            nets = self._build(self.obs_shape, io.action_dim, self.discrete, stream=i + 1)
            nets.encoder = self.uae
            self.nets, self.action_width = nets, io.action_dim
            self._make_optimizers()
            self.learn([env], steps - used[i], self._replays(1))
            self.source_nets.append(nets)
        self.nets, self.action_width = universal

    def _read_uae(self, folder: Path) -> dict[str, Tensor]:
        """The encoder weights of the artifact in ``folder`` (MMTL's UAE, or a Dreamer's)."""
        for weights, prefix in (("mmtl.pt", "uae."), ("dreamer.pt", "encoder.")):
            if (folder / weights).is_file():
                states = torch.load(folder / weights, map_location=self.device, weights_only=True)
                return {k[len(prefix) :]: v for k, v in states.items() if k.startswith(prefix)}
        raise ValueError(f"uae={str(folder)!r} holds no mmtl.pt or dreamer.pt artifact")

    def save(self, path: Path) -> None:
        """``mmtl.pt``: the UAE's weights (``uae.*``) and the source reward heads
        (``reward{i}.*``); ``mmtl.json``: config, shapes, number of sources."""
        if self.uae is None:
            raise RuntimeError("MMTL.save() needs train_source() first: it saves the UAE")
        states = {f"uae.{k}": v for k, v in self.uae.state_dict().items()}
        for i, nets in enumerate(self.source_nets):
            states.update({f"reward{i}.{k}": v for k, v in nets.reward.state_dict().items()})
        torch.save(states, path / self.ARTIFACT[0])
        meta = {**self._meta(), "n_sources": len(self.source_nets)}
        (path / self.ARTIFACT[1]).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    # ------------------------------------------------------------------------------------------
    # Target phase

    def load(self, path: Path) -> None:
        """Frozen UAE as the encoder, frozen source reward heads, a fresh meta-model."""
        states, meta = self.read_artifact(path)
        self._rebuild(tuple(meta["obs_shape"]), self.action_width)
        nets, units = self.nets, self.sizes["units"]
        nets.encoder.load_state_dict({k[4:]: v for k, v in states.items() if k.startswith("uae.")})
        nets.encoder.requires_grad_(False)
        self.uae = nets.encoder
        self.source_rewards = nn.ModuleList()
        for i in range(int(meta["n_sources"])):
            head = mlp(nets.feat_dim, units, 2, 1).to(self.device)
            prefix = f"reward{i}."
            head.load_state_dict(
                {k[len(prefix) :]: v for k, v in states.items() if k.startswith(prefix)}
            )
            self.source_rewards.append(head.requires_grad_(False))
        n_in = nets.feat_dim + (
            len(self.source_rewards) if self.config.meta_inputs == "latent+predictions" else 0
        )
        meta_model = mlp(n_in, units, 2, 1)
        initialise(
            meta_model, torch.Generator().manual_seed(stream_seed(self.seed, _INIT, _META_STREAM))
        )
        nets.reward = meta_model.to(self.device)
        self._make_optimizers()
        self.transferred = True

    def meta_input(self, feat: Tensor) -> Tensor:
        """What the meta-model reads for model states ``feat``."""
        if not self.transferred or self.config.meta_inputs == "latent":
            return feat
        predictions = [head(feat) for head in self.source_rewards]
        return torch.cat([feat, *predictions], -1)

    def _reward(self, feat: Tensor) -> Tensor:
        out: Tensor = self.nets.reward(self.meta_input(feat)).squeeze(-1)
        return out
