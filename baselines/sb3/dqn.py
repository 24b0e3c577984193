"""DQN (Stable-Baselines3) as a tlbench agent: scratch and naive fine-tuning for discrete envs.

Hyperparameters are SB3's defaults except where small grid worlds need otherwise: a short
warm-up, a fast exploration decay and frequent target updates, so that learning shows within
the smoke and standard budgets. Override any of them with ``-k name=value``.
"""

from typing import Any, ClassVar

from stable_baselines3 import DQN

from tlbench.agents.sb3 import SB3Agent


class DQNAgent(SB3Agent):
    algorithm = DQN
    defaults: ClassVar[dict[str, Any]] = {
        "policy": "MlpPolicy",
        "learning_rate": 5e-4,
        "buffer_size": 50_000,
        "learning_starts": 500,
        "batch_size": 64,
        "gamma": 0.99,
        "train_freq": 1,
        "target_update_interval": 500,
        "exploration_fraction": 0.3,
        "exploration_final_eps": 0.05,
        "policy_kwargs": {"net_arch": [128, 128]},
    }
