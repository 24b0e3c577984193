"""tlbench: a Gymnasium-compatible benchmark suite for transfer learning in deep RL.

``import tlbench`` registers the environments, so that ``gymnasium.make("tlbench/Maze-v0")`` works.
"""

from tlbench.envs import env_ids, register_envs

__version__ = "0.1.0"
__all__ = ["__version__", "env_ids", "register_envs"]

register_envs()
