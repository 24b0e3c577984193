"""Measure the normalization returns written into the scenario files of tasks/.

For every target env of the grid-world scenarios this prints

- ``random``: the mean return of a uniformly random policy, measured over ``--episodes`` episodes
  of ``gymnasium.make(env_id, **kwargs)`` (one env, reset with ``--seed`` once, then continuing);
  for the goal-mode maze also computed exactly by dynamic programming over (cell, steps left);
- ``reference``: the return of a good policy. For the maze it is the optimal policy's expected
  return, computed exactly: from each of the 30 start cells the shortest path to the goal has ``d``
  moves, the last one paying +1 and the ``d - 1`` before it -0.01 each, so the return is
  ``1 - 0.01 * (d - 1)``, averaged over the uniformly drawn start cells. For the labyrinth it is the
  mean return of an oracle that reads the hidden state and collects the keys in the order of the
  shortest tour (breadth-first distances, best of the 3! orders); the greedy oracle that always
  walks to the nearest key is printed next to it for comparison.

Run from the repository root::

    .venv/bin/python scripts/reference_returns.py --episodes 2000 --seed 0

``scripts/labyrinth_layouts.py`` measures the same references with the vector envs, adds the
oracles under epsilon-greedy evaluation, and compares the labyrinth's two ``layout`` options.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections import deque
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import tlbench  # noqa: F401  (registers the envs)
from tlbench.envs.gridworld import GridWorldEnv
from tlbench.envs.maze import GOAL, GOAL_REWARD, START_CELLS, STEP_PENALTY, WALLS, MazeEnv

# (env id, kwargs) of every target of the shipped scenarios.
TARGETS: list[tuple[str, dict[str, Any]]] = [
    ("tlbench/InverseMaze-v0", {}),
    ("tlbench/InverseMaze-v0", {"reward_mode": "none"}),
    ("tlbench/InverseMetaLabyrinth-v0", {}),
    ("tlbench/InverseMetaLabyrinth-v0", {"obs_mode": "grid"}),
]

Policy = Callable[[GridWorldEnv], int]


def distances_from(start: int, walls: int, moves: tuple[int, ...]) -> dict[int, int]:
    """Breadth-first number of moves from ``start`` to every reachable cell of a bitboard map."""
    dist = {start: 0}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for move in moves:
            there = here + move
            if not (walls >> there) & 1 and there not in dist:
                dist[there] = dist[here] + 1
                queue.append(there)
    return dist


def step_towards(env: GridWorldEnv, target: int) -> int:
    """The action that moves the agent one cell along a shortest path to ``target``."""
    dist = distances_from(target, env._walls, env.MOVES)  # moves are symmetric
    here = env._agent
    return min(range(len(env.MOVES)), key=lambda a: dist.get(here + env.MOVES[a], math.inf))


def key_cells(env: GridWorldEnv) -> list[int]:
    return [c for c in range(64) if (env._keys >> c) & 1]


def nearest_key_policy(env: GridWorldEnv) -> int:
    """Walk to the nearest remaining key."""
    dist = distances_from(env._agent, env._walls, env.MOVES)
    return step_towards(env, min(key_cells(env), key=lambda k: dist[k]))


def shortest_tour_policy(env: GridWorldEnv) -> int:
    """Walk to the first key of the shortest tour over the remaining keys (optimal)."""
    keys = key_cells(env)
    dist = {c: distances_from(c, env._walls, env.MOVES) for c in [env._agent, *keys]}

    def tour_length(order: tuple[int, ...]) -> int:
        stops = [env._agent, *order]
        return sum(dist[a][b] for a, b in itertools.pairwise(stops))

    best = min(itertools.permutations(keys), key=tour_length)
    return step_towards(env, best[0])


def mean_return(
    env_id: str, kwargs: dict[str, Any], episodes: int, seed: int, policy: Policy | None
) -> tuple[float, float]:
    """Mean return and its standard error over ``episodes`` episodes (``policy=None``: random)."""
    env = gym.make(env_id, **kwargs)
    env.action_space.seed(seed)
    unwrapped = env.unwrapped
    assert isinstance(unwrapped, GridWorldEnv)
    returns = np.empty(episodes)
    env.reset(seed=seed)
    for i in range(episodes):
        total, done = 0.0, False
        while not done:
            action = env.action_space.sample() if policy is None else policy(unwrapped)
            _, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns[i] = total
        env.reset()
    env.close()
    return float(returns.mean()), float(returns.std(ddof=1) / math.sqrt(episodes))


def maze_optimal_return() -> float:
    """The goal-mode maze's optimal expected return, exactly, over the 30 start cells."""
    dist = distances_from(GOAL, WALLS, MazeEnv.MOVES)
    returns = [GOAL_REWARD + STEP_PENALTY * (dist[int(s)] - 1) for s in START_CELLS]
    return float(np.mean(returns))


def maze_random_return(max_steps: int = 100) -> float:
    """The goal-mode maze's expected return under uniformly random actions, exactly.

    Dynamic programming over (cell, steps left): ``V[k](s)`` is the expected return of a random
    walk from ``s`` with ``k`` steps left before the time limit; the goal is absorbing.
    """
    cells = [c for c in range(64) if not (WALLS >> c) & 1]
    value = dict.fromkeys(cells, 0.0)
    for _ in range(max_steps):
        new = {}
        for s in cells:
            total = 0.0
            for move in MazeEnv.MOVES:
                there = s if (WALLS >> (s + move)) & 1 else s + move
                if there == GOAL:
                    total += GOAL_REWARD
                else:
                    total += STEP_PENALTY + value[there]
            new[s] = total / len(MazeEnv.MOVES)
        value = new
    return float(np.mean([value[int(s)] for s in START_CELLS]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"episodes per measurement: {args.episodes}, seed {args.seed}")
    for env_id, kwargs in TARGETS:
        label = f"{env_id} {kwargs or ''}".strip()
        rand, rand_se = mean_return(env_id, kwargs, args.episodes, args.seed, None)
        print(f"{label}\n  random              {rand:+.4f} ± {rand_se:.4f} (s.e.)")
        if "Maze" in env_id and kwargs.get("reward_mode", "goal") == "goal":
            print(f"  random (exact)      {maze_random_return():+.4f}")
            exact = maze_optimal_return()
            check, check_se = mean_return(
                env_id, kwargs, args.episodes, args.seed, shortest_tour_policy
            )
            print(f"  optimal (exact)     {exact:+.4f}")
            print(f"  optimal (rollouts)  {check:+.4f} ± {check_se:.4f}")
        elif "Labyrinth" in env_id:
            for name, policy in (
                ("shortest tour", shortest_tour_policy),
                ("nearest key", nearest_key_policy),
            ):
                value, se = mean_return(env_id, kwargs, args.episodes, args.seed, policy)
                print(f"  {name:<19} {value:+.4f} ± {se:.4f}")


if __name__ == "__main__":
    main()
