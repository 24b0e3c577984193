"""Our own PPO (torch, batched over vector envs); see :mod:`baselines.ppo.agent`."""

from .agent import DEFAULTS, PPOAgent

__all__ = ["DEFAULTS", "PPOAgent"]
