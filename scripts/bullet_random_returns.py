"""Measure the random-policy returns written into the scenario files of tasks/bullet/.

For every PyBullet target env this prints the mean return (and its standard error) of a uniformly
random policy, ``action_space.sample()`` from a seeded action space, over ``--episodes`` episodes
of ``gymnasium.make(env_id, action_repeat=k)`` (state observations; the random policy ignores
them), episode ``i`` reset with seed ``--seed + i``. It measures action repeat 1 (the
``normalization.random`` of the scenario files) and 2 (the paper tier's protocol, printed for
comparison: a random action held for two frames). Episodes are 1000 frames at either repeat, so
the two are on one scale.

Run from the repository root::

    .venv/bin/python scripts/bullet_random_returns.py --episodes 100 --seed 0
"""

from __future__ import annotations

import argparse
import math
import time

import gymnasium as gym
import numpy as np

import tlbench


def random_returns(env_id: str, episodes: int, seed: int, action_repeat: int) -> np.ndarray:
    """Returns of ``episodes`` episodes of the uniformly random policy."""
    env = gym.make(env_id, action_repeat=action_repeat)
    env.action_space.seed(seed)
    returns = np.zeros(episodes)
    try:
        for i in range(episodes):
            env.reset(seed=seed + i)
            done = False
            while not done:
                _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
                returns[i] += float(reward)
                done = terminated or truncated
    finally:
        env.close()
    return returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"episodes per measurement: {args.episodes}, seeds {args.seed}..")
    for env_id in tlbench.env_ids("bullet"):
        print(env_id)
        for repeat in (1, 2):
            start = time.perf_counter()
            returns = random_returns(env_id, args.episodes, args.seed, repeat)
            se = returns.std(ddof=1) / math.sqrt(len(returns))
            seconds = time.perf_counter() - start
            print(
                f"  action_repeat {repeat}: random {returns.mean():+9.2f} ± {se:6.2f} (s.e.)"
                f"  [{returns.min():+.1f}, {returns.max():+.1f}]  {seconds:.0f} s"
            )


if __name__ == "__main__":
    main()
