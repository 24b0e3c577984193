"""Measure the labyrinth's two layout distributions side by side, and the grid targets' references.

For ``tlbench/InverseMetaLabyrinth-v0`` under ``layout="bfs"`` (tlbench's default) and
``layout="original"`` (the original code's acceptance rule) this prints

- how often the original rule rejects a map whose keys are all reachable (over every such attempt
  made while drawing the ``--episodes`` maps below), with its binomial standard error;
- the mean shortest key tour of the maps (breadth-first distances, best of the 3! orders);
- mean returns, each over ``--episodes`` episodes, with standard errors: a uniformly random
  policy; the oracle that reads the hidden state and walks the shortest tour over the remaining
  keys (replanned every step), greedily; and the same oracle under epsilon-greedy evaluation
  (with probability ``--epsilon`` a uniformly random action instead of the oracle's), as the
  benchmark's runner evaluates maze and labyrinth agents.

For ``tlbench/InverseMaze-v0`` (goal reward, 100 steps) it prints the same three returns (the
oracle walks a shortest path to the goal), rollouts next to their exact values computed by
dynamic programming over (cell, steps left).

Episodes run in the numpy vector envs: ``--envs`` sub-envs, seeded ``seed + i``, each playing
``episodes / envs`` whole episodes (a fixed number per sub-env, so short episodes are not
over-counted). Sub-env ``i`` draws the mazes a single env reset with ``seed + i`` draws, so
every policy meets the same mazes. Observations play no part (the policies read the state), so
the numbers hold for ``obs_mode="grid"`` and ``"pixels"`` and for the normal ids alike. Run from
the repository root (about two minutes of one core, most of it drawing original mazes)::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/labyrinth_layouts.py --episodes 20000 --seed 0
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

import tlbench  # noqa: F401  (registers the envs)
from tlbench.envs.gridworld import N_CELLS, SIZE, GridWorldVectorEnv
from tlbench.envs.labyrinth import N_KEYS, ORIGINAL_BLOCK, original_accepts, sample_layouts
from tlbench.envs.maze import GOAL, GOAL_REWARD, START_CELLS, STEP_PENALTY, WALLS, MazeEnv

_ONE = np.uint64(1)
_BITS = np.arange(N_CELLS, dtype=np.uint64)
_FAR = 10_000  # distance of an unreachable cell
_PERMS = np.array(list(itertools.permutations(range(N_KEYS))))  # itertools order: ties go first


def distances(walls: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Breadth-first distances ``(M, 64)`` from ``sources`` ``(M,)`` through non-wall cells.

    Computed layer by layer on bitboards; wall and unreachable cells get a large value.
    """
    free = ~walls.astype(np.uint64)
    dist = np.full((len(sources), N_CELLS), _FAR, np.int64)
    reach = np.zeros(len(sources), np.uint64)
    new = _ONE << sources.astype(np.uint64)
    layer = 0
    while new.any():
        dist[((new[:, None] >> _BITS) & _ONE) == 1] = layer
        reach |= new
        grown = reach | (reach << _ONE) | (reach >> _ONE)
        grown |= (reach << np.uint64(SIZE)) | (reach >> np.uint64(SIZE))
        new = grown & free & ~reach
        layer += 1
    return dist


def key_cells(keys: np.ndarray) -> np.ndarray:
    """The key cells ``(M, 3)`` of key bitboards, in increasing cell order."""
    bits = ((keys[:, None] >> _BITS) & _ONE) == 1
    rows, cols = np.nonzero(bits)
    assert np.array_equal(np.bincount(rows, minlength=len(keys)), np.full(len(keys), N_KEYS))
    return cols.reshape(len(keys), N_KEYS)


def shortest_tours(walls: np.ndarray, keys: np.ndarray, agent: np.ndarray) -> np.ndarray:
    """Length of the shortest walk from ``agent`` over all 3 keys, per map."""
    cells = key_cells(keys)
    dist = distances(np.repeat(walls, N_KEYS), cells.ravel()).reshape(len(walls), N_KEYS, N_CELLS)
    rows = np.arange(len(walls))[:, None]
    to_key = dist[rows, np.arange(N_KEYS), agent[:, None]]  # (M, 3): agent -> key j
    between = dist[rows[:, :, None], np.arange(N_KEYS)[:, None], cells[:, None, :]]  # i -> j
    p = _PERMS
    tours = to_key[:, p[:, 0]] + between[:, p[:, 0], p[:, 1]] + between[:, p[:, 1], p[:, 2]]
    return tours.min(axis=1)


class LabyrinthOracle:
    """Walks the shortest tour over the remaining keys, replanned every step (vectorized).

    Decides as ``shortest_tour_policy`` of ``scripts/reference_returns.py``: keys in increasing
    cell order, the first shortest of the orders in ``itertools.permutations`` order, and the
    first action (in action order) that steps onto a cell nearer to the first key of that order.
    Distances from each key are computed once per maze (keys only disappear).
    """

    def __init__(self, vec: GridWorldVectorEnv) -> None:
        self.vec = vec
        n = vec.num_envs
        self.cells = np.zeros((n, N_KEYS), np.int64)
        self.dist = np.zeros((n, N_KEYS, N_CELLS), np.int64)
        self.moves = np.array(vec._proto.MOVES, np.int64)
        self.new_mazes(np.arange(n))

    def new_mazes(self, idx: np.ndarray) -> None:
        """Reread the mazes of sub-envs ``idx`` (after a reset)."""
        if not idx.size:
            return
        vec = self.vec
        cells = key_cells(vec._keys[idx])
        walls = np.repeat(vec._walls[idx], N_KEYS)
        self.cells[idx] = cells
        self.dist[idx] = distances(walls, cells.ravel()).reshape(len(idx), N_KEYS, N_CELLS)

    def __call__(self, vec: GridWorldVectorEnv) -> np.ndarray:
        n = vec.num_envs
        rows = np.arange(n)
        agent = vec._agent
        left = ((vec._keys[:, None] >> self.cells.astype(np.uint64)) & _ONE) == 1  # (n, 3)
        to_key = self.dist[rows[:, None], np.arange(N_KEYS), agent[:, None]]
        cost = np.zeros((n, len(_PERMS)), np.int64)
        first = np.zeros((n, len(_PERMS)), np.int64)
        for k, perm in enumerate(_PERMS):
            at = np.full(n, -1)  # -1: the agent, else the key last visited
            found = np.zeros(n, bool)
            for j in perm:
                here_to_j = np.where(
                    at < 0, to_key[:, j], self.dist[rows, j, self.cells[rows, np.maximum(at, 0)]]
                )
                cost[:, k] += np.where(left[:, j], here_to_j, 0)
                first[:, k] = np.where(left[:, j] & ~found, j, first[:, k])
                found |= left[:, j]
                at = np.where(left[:, j], j, at)
        target = first[rows, np.argmin(cost, axis=1)]
        there = agent[:, None] + self.moves[None, :]
        blocked = ((vec._walls[:, None] >> there.astype(np.uint64)) & _ONE) == 1
        ahead = np.where(blocked, _FAR, self.dist[rows[:, None], target[:, None], there])
        return np.argmin(ahead, axis=1)


class MazeOracle:
    """Steps to the first neighbour (in action order) nearer to the maze's goal."""

    def __init__(self, vec: GridWorldVectorEnv) -> None:
        self.moves = np.array(vec._proto.MOVES, np.int64)
        self.dist = distances(np.array([WALLS], np.uint64), np.array([GOAL]))[0]

    def new_mazes(self, idx: np.ndarray) -> None:
        """The maze never changes."""

    def __call__(self, vec: GridWorldVectorEnv) -> np.ndarray:
        there = vec._agent[:, None] + self.moves[None, :]
        blocked = ((np.uint64(WALLS) >> there.astype(np.uint64)) & _ONE) == 1
        return np.argmin(np.where(blocked, _FAR, self.dist[there]), axis=1)


def run_episodes(
    env_id: str,
    kwargs: dict[str, Any],
    episodes: int,
    envs: int,
    seed: int,
    oracle: type[LabyrinthOracle] | type[MazeOracle] | None,
    epsilon: float,
) -> tuple[float, float]:
    """Mean return and its standard error: ``envs`` sub-envs x ``episodes / envs`` episodes each.

    ``oracle=None`` plays uniformly random actions; otherwise the oracle's action, replaced with
    probability ``epsilon`` by a uniformly random one.
    """
    per_env = math.ceil(episodes / envs)
    vec = gym.make_vec(
        env_id,
        num_envs=envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode="SameStep",
        **kwargs,
    )
    core = vec.unwrapped
    assert isinstance(core, GridWorldVectorEnv)
    rng = np.random.default_rng(seed + 1_000_003)
    vec.reset(seed=seed)
    policy = oracle(core) if oracle is not None else None
    returns = np.zeros((envs, per_env))
    running = np.zeros(envs)
    played = np.zeros(envs, np.int64)
    while (played < per_env).any():
        random_actions = rng.integers(0, 4, envs)
        if policy is None:
            actions = random_actions
        else:
            actions = np.where(rng.random(envs) < epsilon, random_actions, policy(core))
        _, rewards, terminated, truncated, _ = vec.step(actions)
        running += rewards
        done = np.flatnonzero(terminated | truncated)
        keep = done[played[done] < per_env]
        returns[keep, played[keep]] = running[keep]
        played[done] += 1
        running[done] = 0.0
        if policy is not None:
            policy.new_mazes(done)
    vec.close()
    flat = returns.ravel()[:episodes]
    return float(flat.mean()), float(flat.std(ddof=1) / math.sqrt(len(flat)))


def layout_statistics(episodes: int, envs: int, seed: int) -> dict[str, tuple[float, float]]:
    """The original rule's rejection rate and the mean shortest tours of the first mazes drawn.

    Draws, for every sub-env ``i`` of the return measurements, the mazes it plays (generator
    seeded ``seed + i``, ``episodes / envs`` mazes each), under both layouts.
    """
    per_env = math.ceil(episodes / envs)
    counts = {"attempts": 0, "accepted": 0}

    def counting(walls: int, keys: Sequence[int]) -> bool:
        counts["attempts"] += 1
        accepted = original_accepts(walls, keys)
        counts["accepted"] += accepted
        return accepted

    out = {}
    for name, accept, block in (("bfs", None, 1), ("original", counting, ORIGINAL_BLOCK)):
        rngs = [np.random.default_rng(seed + i) for i in range(envs)]
        tours = np.concatenate(
            [shortest_tours(*sample_layouts(rngs, accept, block)) for _ in range(per_env)]
        )[:episodes]
        out[f"tour {name}"] = (float(tours.mean()), float(tours.std(ddof=1) / math.sqrt(episodes)))
    p = 1.0 - counts["accepted"] / counts["attempts"]
    out["rejected"] = (p, math.sqrt(p * (1 - p) / counts["attempts"]))
    out["attempts"] = (float(counts["attempts"]), 0.0)
    return out


def maze_exact(epsilon: float, greedy: bool, max_steps: int = 100) -> float:
    """The maze's expected return from a uniform start cell, exactly, by dynamic programming.

    ``greedy=False``: uniformly random actions; else the oracle's action, replaced with
    probability ``epsilon`` by a uniformly random one. ``V[k](s)`` is the expected return from
    ``s`` with ``k`` steps left; the goal ends the episode.
    """
    moves = MazeEnv.MOVES
    dist = distances(np.array([WALLS], np.uint64), np.array([GOAL]))[0]
    cells = [c for c in range(N_CELLS) if not (WALLS >> c) & 1]
    after = {s: [s if (WALLS >> (s + m)) & 1 else s + m for m in moves] for s in cells}

    def oracle_action(s: int) -> int:
        return min(range(len(moves)), key=lambda a: (int(dist[after[s][a]]), a))

    best = {s: oracle_action(s) for s in cells}
    value = dict.fromkeys(cells, 0.0)
    for _ in range(max_steps):
        outcome = {
            s: [GOAL_REWARD if t == GOAL else STEP_PENALTY + value[t] for t in after[s]]
            for s in cells
        }
        uniform = {s: sum(outcome[s]) / len(moves) for s in cells}
        if greedy:
            value = {s: (1 - epsilon) * outcome[s][best[s]] + epsilon * uniform[s] for s in cells}
        else:
            value = uniform
    return float(np.mean([value[int(s)] for s in START_CELLS]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--envs", type=int, default=2_000, help="sub-envs of the vector env")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epsilon", type=float, default=0.1)
    args = parser.parse_args()
    eps = args.epsilon
    print(
        f"episodes per measurement: {args.episodes} ({args.envs} sub-envs seeded {args.seed}+i), "
        f"epsilon {eps}"
    )
    clock = time.perf_counter()
    stats = layout_statistics(args.episodes, args.envs, args.seed)
    p, p_se = stats["rejected"]
    print(
        f"original rule: rejects {p:.4f} ± {p_se:.4f} of the maps with reachable keys "
        f"({int(stats['attempts'][0])} such attempts)  [{time.perf_counter() - clock:.0f} s]"
    )
    policies: list[tuple[str, type[LabyrinthOracle] | type[MazeOracle] | None, float]] = [
        ("random", None, 0.0),
        ("oracle greedy", LabyrinthOracle, 0.0),
        (f"oracle eps {eps}", LabyrinthOracle, eps),
    ]
    for layout in ("bfs", "original"):
        clock = time.perf_counter()
        tour, tour_se = stats[f"tour {layout}"]
        print(f"tlbench/InverseMetaLabyrinth-v0 layout={layout}")
        print(
            f"  shortest key tour   {tour:.4f} ± {tour_se:.4f} steps "
            f"(greedy oracle: 3 - 0.1 x (tour - 3) = {3.3 - 0.1 * tour:+.4f})"
        )
        for name, oracle, epsilon in policies:
            kwargs: dict[str, Any] = {"obs_mode": "grid", "layout": layout}
            mean, se = run_episodes(
                "tlbench/InverseMetaLabyrinth-v0",
                kwargs,
                args.episodes,
                args.envs,
                args.seed,
                oracle,
                epsilon,
            )
            print(f"  {name:<19} {mean:+.4f} ± {se:.4f}")
        print(f"  [{time.perf_counter() - clock:.0f} s]")
    print("tlbench/InverseMaze-v0 (goal reward)")
    maze = [
        ("random", None, 0.0, maze_exact(0.0, greedy=False)),
        ("oracle greedy", MazeOracle, 0.0, maze_exact(0.0, greedy=True)),
        (f"oracle eps {eps}", MazeOracle, eps, maze_exact(eps, greedy=True)),
    ]
    for name, oracle, epsilon, exact in maze:
        mean, se = run_episodes(
            "tlbench/InverseMaze-v0", {}, args.episodes, args.envs, args.seed, oracle, epsilon
        )
        print(f"  {name:<19} {mean:+.4f} ± {se:.4f}   exact {exact:+.4f}")


if __name__ == "__main__":
    main()
