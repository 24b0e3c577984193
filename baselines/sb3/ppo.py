"""PPO (Stable-Baselines3) as a tlbench agent: scratch and naive fine-tuning.

SB3's defaults except a shorter rollout (``n_steps=256``) so that the smoke tier's small budgets
still see several policy updates. Override any hyperparameter with ``-k name=value``.
"""

from typing import Any, ClassVar

from stable_baselines3 import PPO

from tlbench.agents.sb3 import SB3Agent


class PPOAgent(SB3Agent):
    algorithm = PPO
    defaults: ClassVar[dict[str, Any]] = {
        "policy": "MlpPolicy",
        "n_steps": 256,
        "batch_size": 64,
        "ent_coef": 0.01,
    }
