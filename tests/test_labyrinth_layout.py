"""The labyrinth's two layout samplers: tlbench's flood fill and the original code's A* rule.

The original (github.com/geoffreyvd/deer-clean, examples/maze: ``MyEnv.is_valid_map`` and
``a_star_path_finding.AStar``) checks the three keys in their draw order with one A* object whose
open heap, closed set and cell costs it never clears. The hand-made layouts below are decided by
following its code step by step (traced in the comments); :func:`original_accepts` must agree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from itertools import permutations

import gymnasium as gym
import numpy as np
import pytest

import tlbench  # noqa: F401  (registers the envs)
from tlbench.envs.gridworld import bitboard_from_map, cell
from tlbench.envs.labyrinth import (
    LAYOUTS,
    START,
    MetaLabyrinthEnv,
    original_accepts,
    sample_layouts,
    sample_original_layouts,
)
from tlbench.scenarios.schema import EnvRef

# Rows 3-5 x cols 1-4 are wall (12 interior walls): rows 1-2 are an open room, joined to row 6
# through columns 5-6.
ROOM = [
    "11111111",
    "10000001",
    "10000001",
    "11111001",
    "11111001",
    "11111001",
    "10000001",
    "11111111",
]
# Rows 2 and 4 x cols 1-5, (3, 1) and (5, 1) are wall: row 1 is a corridor from the start to
# (1, 6), the only way to the rest of the maze.
CORRIDOR = [
    "11111111",
    "10000001",
    "11111101",
    "11000001",
    "11111101",
    "11000001",
    "10000001",
    "11111111",
]

CASES = [
    # Search 1 (key (1, 3)) expands (1, 1), pushing (2, 1) with f = 10 + 30 and (1, 2) with
    # f = 10 + 10; it pops (1, 2), pushing (1, 3) with f = 20, and pops (1, 3): found. (1, 2) is
    # now closed and has no entry left in the heap, so search 2 (key (1, 2)) can never pop it:
    # it expands the rest of the maze until the heap is empty, and the map is redrawn.
    pytest.param(ROOM, [(1, 3), (1, 2), (6, 1)], False, id="second-key-closed-by-the-first"),
    # The same keys drawn in another order. Search 1 (key (1, 2)) pops (1, 1), then (1, 2) (f 10)
    # and leaves (2, 1) (f 30) in the heap. Search 2 (key (1, 3)) pops the start again (nothing
    # new to push), then (2, 1), (2, 2), (2, 3), and (1, 3) (f 40): found, leaving (2, 4) (f 60).
    # Search 3 (key (6, 1)) continues from (2, 4) down columns 5-6 and along row 6: found.
    pytest.param(ROOM, [(1, 2), (1, 3), (6, 1)], True, id="same-keys-other-order-accepted"),
    # Search 1 (key (1, 2)) as in the case above. Search 2 (key (2, 4)) pops the start, (2, 1),
    # (2, 2) and (2, 3), which pushes (1, 3) (f 60) and (2, 4) (f 40), and pops (2, 4): found.
    # Key 3, (2, 3), was pushed once and popped once: closed with no entry, never found.
    pytest.param(ROOM, [(1, 2), (2, 4), (2, 3)], False, id="third-key-closed-by-the-second"),
    # Search 1 (key (1, 4)) walks the corridor (1, 2), (1, 3) and pops (1, 4): found. A found key
    # is closed without its neighbours being pushed, so the heap is now empty. Search 2 (key
    # (3, 3), never closed) pops the start, whose only open neighbour (1, 2) is closed: the heap
    # is empty again, and the map is redrawn. Key (3, 3) is only reachable past key (1, 4).
    pytest.param(CORRIDOR, [(1, 4), (3, 3), (6, 6)], False, id="second-key-behind-the-first"),
    # The nearest key last: search 1 (key (3, 3)) walks the whole corridor, closing (1, 2) on the
    # way; search 2 (key (1, 2)) finds its key closed with no entry left.
    pytest.param(CORRIDOR, [(3, 3), (1, 2), (6, 6)], False, id="second-key-closed-in-a-corridor"),
]


def reachable(walls: int, target: int) -> bool:
    """Breadth-first search from the start (the test's own, on cells)."""
    seen, queue = {START}, deque([START])
    while queue:
        here = queue.popleft()
        for move in (8, -8, 1, -1):
            there = here + move
            if not (walls >> there) & 1 and there not in seen:
                seen.add(there)
                queue.append(there)
    return target in seen


@pytest.mark.parametrize(("rows", "keys", "accepted"), CASES)
def test_original_rule_on_hand_made_layouts(
    rows: list[str], keys: list[tuple[int, int]], accepted: bool
) -> None:
    walls = bitboard_from_map(rows)
    interior = sum(ch == "1" for line in rows[1:6] for ch in line[1:6])
    assert interior == 12  # a layout the labyrinth can draw
    cells = [cell(*k) for k in keys]
    assert all(reachable(walls, c) for c in cells)  # the flood fill (layout="bfs") accepts all
    assert original_accepts(walls, cells) is accepted


def recording(
    log: list[tuple[int, Sequence[int], bool]],
) -> Callable[[int, Sequence[int]], bool]:
    """``original_accepts``, logging every call."""

    def accept(walls: int, keys: Sequence[int]) -> bool:
        decision = original_accepts(walls, keys)
        log.append((walls, keys, decision))
        return decision

    return accept


def test_original_sampler_keeps_the_first_accepted_attempt() -> None:
    log: list[tuple[int, Sequence[int], bool]] = []
    walls, keys, agent = sample_layouts([np.random.default_rng(3)], recording(log), block=64)
    assert [d for *_, d in log] == [False] * (len(log) - 1) + [True]
    assert len(log) > 1  # this seed's first attempts with reachable keys are rejected
    last_walls, last_keys, _ = log[-1]
    assert int(walls[0]) == last_walls and int(keys[0]) == sum(1 << k for k in last_keys)
    assert agent[0] == START
    for attempt_walls, attempt_keys, _ in log:  # only maps with reachable keys are asked
        assert all(reachable(attempt_walls, k) for k in attempt_keys)
    # the env's sampler is this one
    again = sample_original_layouts([np.random.default_rng(3)])
    assert int(again[0][0]) == last_walls and int(again[1][0]) == int(keys[0])


def test_layout_option_and_its_validation() -> None:
    assert LAYOUTS == ("bfs", "original")
    bfs = gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid")
    default = gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid", layout="bfs")
    original = gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid", layout="original")
    assert original.unwrapped.layout == "original" and bfs.unwrapped.layout == "bfs"
    differ = 0
    for seed in range(10):
        first = bfs.reset(seed=seed)[0]
        np.testing.assert_array_equal(first, default.reset(seed=seed)[0])
        differ += not np.array_equal(first, original.reset(seed=seed)[0])
    assert differ >= 8
    with pytest.raises(ValueError, match="unknown layout 'astar'; choose one of"):
        MetaLabyrinthEnv(layout="astar")
    # settable from a scenario file
    ref = EnvRef(env="tlbench/InverseMetaLabyrinth-v0", kwargs={"layout": "original"})
    assert ref.make().unwrapped.layout == "original"


def test_original_layout_vector_env_matches_single_envs() -> None:
    n, seed = 4, 7
    kwargs = {"obs_mode": "grid", "layout": "original"}
    vec = gym.make_vec(
        "tlbench/MetaLabyrinth-v0", num_envs=n, vectorization_mode="vector_entry_point", **kwargs
    )
    singles = [gym.make("tlbench/MetaLabyrinth-v0", **kwargs) for _ in range(n)]
    obs, _ = vec.reset(seed=seed)
    np.testing.assert_array_equal(
        obs, np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(singles)])
    )
    pending = [False] * n
    ended = 0
    for actions in np.random.default_rng(0).integers(0, 4, (150, n)):
        obs, rewards, terminated, truncated, _ = vec.step(actions)
        for i, env in enumerate(singles):
            if pending[i]:
                expected = (env.reset()[0], 0.0, False, False)
                pending[i] = False
            else:
                o, r, te, tr, _ = env.step(int(actions[i]))
                expected = (o, r, te, tr)
                pending[i] = te or tr
                ended += pending[i]
            np.testing.assert_array_equal(obs[i], expected[0])
            assert (rewards[i], terminated[i], truncated[i]) == expected[1:]
    assert ended >= n


def test_original_layouts_have_longer_key_tours() -> None:
    """The measured effect, loosely: 14.1 vs 13.1 steps on average (scripts/labyrinth_layouts)."""

    def tour(walls: int, keys: int) -> int:
        cells = [START] + [c for c in range(64) if (keys >> c) & 1]
        dist = {}
        for source in cells:
            seen, queue = {source: 0}, deque([source])
            while queue:
                here = queue.popleft()
                for move in (8, -8, 1, -1):
                    there = here + move
                    if not (walls >> there) & 1 and there not in seen:
                        seen[there] = seen[here] + 1
                        queue.append(there)
            dist[source] = seen
        return min(
            sum(dist[a][b] for a, b in zip((START, *order), order, strict=False))
            for order in permutations(cells[1:])
        )

    rngs = [np.random.default_rng(100 + i) for i in range(400)]
    means = {}
    for name, sampler in (("bfs", sample_layouts), ("original", sample_original_layouts)):
        walls, keys, _ = sampler(rngs)
        means[name] = np.mean([tour(int(w), int(k)) for w, k in zip(walls, keys, strict=True)])
    assert means["original"] > means["bfs"] + 0.4
