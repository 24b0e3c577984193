"""The maze and meta-labyrinth against ../shared/specs/environments.md (sections 1 and 2)."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pytest

import tlbench  # noqa: F401  (registers the envs)
from tlbench.envs.gridworld import InvalidActionError

MAZE_MAP = [
    "11111111",
    "10001001",
    "10001001",
    "10001001",
    "10000001",
    "10001001",
    "10001001",
    "11111111",
]
MAZE_WALLS = np.array([[float(ch) for ch in row] for row in MAZE_MAP], np.float32)
MAZE_MOVES = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1)}
LAB_MOVES = {0: (1, 0), 1: (0, 1), 2: (-1, 0), 3: (0, -1)}


def agent_cell(grid: np.ndarray, value: float) -> tuple[int, int]:
    rows, cols = np.nonzero(np.isclose(grid, value))
    assert len(rows) == 1, grid
    return int(rows[0]), int(cols[0])


def bfs_path(
    walls: np.ndarray, start: tuple[int, int], goal: tuple[int, int], moves: dict
) -> list[int]:
    """Actions of a shortest path (the test's own BFS, independent of the env's bitboards)."""
    prev: dict[tuple[int, int], tuple[tuple[int, int], int]] = {}
    queue, seen = deque([start]), {start}
    while queue:
        here = queue.popleft()
        if here == goal:
            path = []
            while here != start:
                here, a = prev[here]
                path.append(a)
            return path[::-1]
        for a, (dr, dc) in moves.items():
            there = (here[0] + dr, here[1] + dc)
            if not walls[there] and there not in seen:
                seen.add(there)
                prev[there] = (here, a)
                queue.append(there)
    raise AssertionError(f"{goal} unreachable from {start}")


# -- maze ---------------------------------------------------------------------------------------


def test_maze_map_and_cell_values() -> None:
    env = gym.make("tlbench/Maze-v0")
    starts = set()
    for seed in range(200):
        obs, _ = env.reset(seed=seed)
        assert obs.shape == (1, 8, 8) and obs.dtype == np.float32
        grid = obs[0]
        start = agent_cell(grid, 0.5)
        starts.add(start)
        expected = MAZE_WALLS.copy()
        expected[start] = 0.5
        np.testing.assert_array_equal(grid, expected)
    assert int((MAZE_WALLS == 0).sum()) == 31
    assert (6, 6) not in starts and len(starts) == 30  # uniform over the 30 non-goal free cells


def test_maze_pixels_blocks() -> None:
    obs, _ = gym.make("tlbench/Maze-v0", obs_mode="pixels").reset(seed=0)
    assert obs.shape == (1, 48, 48)
    blocks = obs[0].reshape(8, 6, 8, 6).transpose(0, 2, 1, 3)
    agent = agent_cell(gym.make("tlbench/Maze-v0").reset(seed=0)[0][0], 0.5)
    for r in range(8):
        for c in range(8):
            block = blocks[r, c]
            if (r, c) == agent:
                assert set(np.unique(block)) == {np.float32(0.0), np.float32(0.7), np.float32(0.8)}
            else:
                assert (block == MAZE_WALLS[r, c]).all()


def test_maze_actions_move_as_specified_and_walls_block() -> None:
    env = gym.make("tlbench/Maze-v0", reward_mode="none")
    obs, _ = env.reset(seed=0)
    assert agent_cell(obs[0], 0.5) == (4, 4)  # reward-free mode starts at the doorway
    # The doorway's vertical neighbours are wall: up and down leave the agent in place.
    for action, expected in [(0, (4, 4)), (1, (4, 4)), (2, (4, 3)), (3, (4, 5))]:
        env.reset()
        obs, *_ = env.step(action)
        assert agent_cell(obs[0], 0.5) == expected
    # From (4, 3) every direction is open.
    for action, (dr, dc) in MAZE_MOVES.items():
        env.reset()
        env.step(2)
        obs, *_ = env.step(action)
        assert agent_cell(obs[0], 0.5) == (4 + dr, 3 + dc)


def test_maze_goal_rewards_and_termination() -> None:
    env = gym.make("tlbench/Maze-v0")
    for seed in range(30):
        obs, _ = env.reset(seed=seed)
        path = bfs_path(MAZE_WALLS, agent_cell(obs[0], 0.5), (6, 6), MAZE_MOVES)
        total = 0.0
        for i, a in enumerate(path):
            obs, reward, terminated, truncated, _ = env.step(a)
            total += reward
            last = i == len(path) - 1
            assert reward == (1.0 if last else -0.01)
            assert terminated is last and truncated is False
        assert total == pytest.approx(1.0 - 0.01 * (len(path) - 1))


def test_maze_reward_free_never_ends_before_the_time_limit() -> None:
    env = gym.make("tlbench/Maze-v0", reward_mode="none")
    env.reset(seed=0)
    path = bfs_path(MAZE_WALLS, (4, 4), (6, 6), MAZE_MOVES)
    for t, a in enumerate(path + [0] * 100):
        _, reward, terminated, truncated, _ = env.step(a)
        assert reward == 0.0 and not terminated
        assert truncated is (t == 99)
        if truncated:
            break


@pytest.mark.parametrize(
    ("normal_id", "inverse_id", "kwargs"),
    [
        ("tlbench/Maze-v0", "tlbench/InverseMaze-v0", {}),
        ("tlbench/Maze-v0", "tlbench/InverseMaze-v0", {"obs_mode": "pixels"}),
        ("tlbench/MetaLabyrinth-v0", "tlbench/InverseMetaLabyrinth-v0", {}),
        ("tlbench/MetaLabyrinth-v0", "tlbench/InverseMetaLabyrinth-v0", {"obs_mode": "grid"}),
    ],
)
def test_inverse_observation_is_the_negated_normal_one(
    normal_id: str, inverse_id: str, kwargs: dict
) -> None:
    normal, inverse = gym.make(normal_id, **kwargs), gym.make(inverse_id, **kwargs)
    obs_n, _ = normal.reset(seed=11)
    obs_i, _ = inverse.reset(seed=11)
    assert obs_n.any()
    for a in np.random.default_rng(1).integers(0, 4, 200):
        np.testing.assert_array_equal(obs_i, -obs_n)
        # rendering the current state under the other emission gives the other env's observation
        np.testing.assert_array_equal(normal.unwrapped.render_observation(inverse=True), obs_i)
        np.testing.assert_array_equal(inverse.unwrapped.render_observation(inverse=False), obs_n)
        obs_n, r_n, te_n, tr_n, _ = normal.step(int(a))
        obs_i, r_i, te_i, tr_i, _ = inverse.step(int(a))
        assert (r_n, te_n, tr_n) == (r_i, te_i, tr_i)
        if te_n or tr_n:
            obs_n, obs_i = normal.reset()[0], inverse.reset()[0]
    assert not np.signbit(obs_i[obs_i == 0]).any()  # no negative zeros


def test_render_observation_switches_obs_mode() -> None:
    env = gym.make("tlbench/MetaLabyrinth-v0")
    env.reset(seed=0)
    grid = env.unwrapped.render_observation(obs_mode="grid")
    assert grid.shape == (1, 8, 8) and agent_cell(grid[0], 0.25) == (1, 1)


# -- meta-labyrinth -------------------------------------------------------------------------------


def parse_labyrinth(grid: np.ndarray) -> tuple[np.ndarray, tuple[int, int], list[tuple[int, int]]]:
    assert set(np.unique(grid)) <= {np.float32(v) for v in (0.0, 0.25, 0.5, 0.99)}
    walls = np.isclose(grid, 0.99)
    keys = [tuple(map(int, k)) for k in np.argwhere(np.isclose(grid, 0.5))]
    return walls, agent_cell(grid, 0.25), keys


def test_labyrinth_layout_distribution() -> None:
    env = gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid")
    key_cells = set()
    wall_cells = set()
    for seed in range(300):
        obs, _ = env.reset(seed=seed)
        walls, agent, keys = parse_labyrinth(obs[0])
        assert agent == (1, 1)
        border = np.ones((8, 8), bool)
        border[1:7, 1:7] = False
        assert walls[border].all()
        interior = np.argwhere(walls & ~border)
        assert len(interior) == 12
        assert (interior >= 1).all() and (interior <= 5).all()
        assert len(keys) == 3
        for key in keys:
            assert 1 <= key[0] <= 6 and 1 <= key[1] <= 6 and key != (1, 1)
            bfs_path(walls, (1, 1), key, LAB_MOVES)  # raises if unreachable
        key_cells.update(keys)
        wall_cells.update(map(tuple, interior.tolist()))
    assert len(wall_cells) == 24  # every candidate cell gets a wall sometimes
    assert any(6 in k for k in key_cells)  # keys also in row/col 6


def test_labyrinth_pixels_rescaled() -> None:
    env = gym.make("tlbench/MetaLabyrinth-v0")
    obs, _ = env.reset(seed=4)
    grid = env.unwrapped.render_observation(obs_mode="grid")[0]
    blocks = obs[0].reshape(8, 6, 8, 6).transpose(0, 2, 1, 3)
    for r in range(8):
        for c in range(8):
            values = set(np.unique(blocks[r, c]).astype(np.float64).round(4).tolist())
            kind = grid[r, c]
            if np.isclose(kind, 0.99):
                assert values == {1.0}
            elif np.isclose(kind, 0.25):
                assert values == {-1.0, 0.6, 0.8}  # 2 * {0, 0.8, 0.9} - 1
            elif np.isclose(kind, 0.5):
                assert values == {-1.0, 0.2, 0.4}  # 2 * {0, 0.6, 0.7} - 1
            else:
                assert values == {-1.0}


def test_labyrinth_rewards_and_end_after_three_keys() -> None:
    env = gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid")
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        rewards: list[float] = []
        terminated = False
        while not terminated:
            walls, agent, keys = parse_labyrinth(obs[0])
            paths = [bfs_path(walls, agent, k, LAB_MOVES) for k in keys]
            for i, a in enumerate(min(paths, key=len)):
                obs, reward, terminated, truncated, _ = env.step(a)
                rewards.append(reward)
                assert reward == (1.0 if i == len(min(paths, key=len)) - 1 else -0.1)
                assert not truncated or terminated
        assert rewards.count(1.0) == 3 and len(rewards) <= 50
        assert set(rewards) <= {1.0, -0.1}


def test_labyrinth_truncates_at_50_steps() -> None:
    env = gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid")
    obs, _ = env.reset(seed=0)
    for t in range(50):
        obs, reward, terminated, truncated, _ = env.step(2)  # row - 1: into the top wall
        assert reward == -0.1 and not terminated
        assert truncated is (t == 49)
    assert agent_cell(obs[0], 0.25) == (1, 1)


def test_labyrinth_action_order_is_the_original_one() -> None:
    env = gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid")
    for seed in range(50):
        obs, _ = env.reset(seed=seed)
        walls, _, _ = parse_labyrinth(obs[0])
        for action in (0, 1):
            dr, dc = LAB_MOVES[action]
            if not walls[1 + dr, 1 + dc]:
                obs, _ = env.reset(seed=seed)
                obs, *_ = env.step(action)
                assert agent_cell(obs[0], 0.25) == (1 + dr, 1 + dc)


# -- vector envs ----------------------------------------------------------------------------------

ALL_IDS = [
    "tlbench/Maze-v0",
    "tlbench/InverseMaze-v0",
    "tlbench/MetaLabyrinth-v0",
    "tlbench/InverseMetaLabyrinth-v0",
]


@pytest.mark.parametrize("autoreset", ["NextStep", "SameStep"])
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_vector_env_matches_single_envs(env_id: str, autoreset: str) -> None:
    n, seed = 6, 40
    kwargs = {"obs_mode": "pixels"} if "Maze" in env_id and "Labyrinth" not in env_id else {}
    vec = gym.make_vec(
        env_id,
        num_envs=n,
        vectorization_mode="vector_entry_point",
        autoreset_mode=autoreset,
        **kwargs,
    )
    singles = [gym.make(env_id, **kwargs) for _ in range(n)]
    obs, _ = vec.reset(seed=seed)
    np.testing.assert_array_equal(
        obs, np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(singles)])
    )
    pending = [False] * n
    episodes_ended = 0
    for actions in np.random.default_rng(0).integers(0, 4, (400, n)):
        obs, rewards, terminated, truncated, info = vec.step(actions)
        for i, env in enumerate(singles):
            if autoreset == "NextStep" and pending[i]:
                expected = (env.reset()[0], 0.0, False, False)
                pending[i] = False
            else:
                o, r, te, tr, _ = env.step(int(actions[i]))
                expected = (o, r, te, tr)
                if te or tr:
                    episodes_ended += 1
                    if autoreset == "NextStep":
                        pending[i] = True
                    else:
                        np.testing.assert_array_equal(info["final_obs"][i], o)
                        assert info["_final_obs"][i]
                        expected = (env.reset()[0], r, te, tr)
            np.testing.assert_array_equal(obs[i], expected[0])
            assert (rewards[i], terminated[i], truncated[i]) == expected[1:]
    assert episodes_ended >= n  # the comparison crossed episode boundaries


def test_vector_copy_false_returns_the_live_buffer() -> None:
    vec = gym.make_vec(
        "tlbench/Maze-v0", num_envs=2, vectorization_mode="vector_entry_point", copy=False
    )
    first, _ = vec.reset(seed=0)
    second, *_ = vec.step(np.array([1, 1]))
    assert first is second
    vec_copy = gym.make_vec("tlbench/Maze-v0", num_envs=2, vectorization_mode="vector_entry_point")
    first, _ = vec_copy.reset(seed=0)
    second, *_ = vec_copy.step(np.array([1, 1]))
    assert first is not second


def test_vector_env_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="num_envs must be at least 1, got 0"):
        gym.make_vec("tlbench/Maze-v0", num_envs=0, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="DISABLED"):
        gym.make_vec(
            "tlbench/Maze-v0",
            num_envs=2,
            vectorization_mode="vector_entry_point",
            autoreset_mode="Disabled",
        )
    vec = gym.make_vec("tlbench/Maze-v0", num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(gym.error.ResetNeeded):
        vec.step(np.array([0, 0]))
    with pytest.raises(ValueError, match="got 3 seeds for 2 envs"):
        vec.reset(seed=[1, 2, 3])


# -- invalid actions ------------------------------------------------------------------------------

BAD_ACTIONS = [
    pytest.param(4, "must be in \\[0, 4\\)", id="too-large"),
    pytest.param(-1, "must be in \\[0, 4\\)", id="negative"),
    pytest.param(np.int64(7), "must be in \\[0, 4\\)", id="np-int-out-of-range"),
    pytest.param(1.0, "float", id="float"),
    pytest.param(np.float32(2.0), "float32", id="np-float"),
    pytest.param(float("nan"), "nan", id="nan"),
    pytest.param(True, "bool", id="bool"),
    pytest.param(np.array([1]), "shape \\(1,\\)", id="shape-1"),
    pytest.param(np.array([[0, 1]]), "shape \\(1, 2\\)", id="shape-1x2"),
    pytest.param(np.array(1.5), "dtype float64", id="0d-float-array"),
    pytest.param("up", "'up'", id="string"),
    pytest.param(None, "None", id="none"),
]


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize(("action", "message"), BAD_ACTIONS)
def test_invalid_actions_are_rejected_with_a_named_error(
    env_id: str, action: object, message: str
) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=message) as info:
        env.step(action)
    assert "Discrete(4)" in str(info.value)


@pytest.mark.parametrize("action", [0, np.int64(3), np.int32(1), np.uint8(2), np.array(2)])
def test_valid_action_types_are_accepted(action: object) -> None:
    env = gym.make("tlbench/MetaLabyrinth-v0")
    env.reset(seed=0)
    env.step(action)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.array([0, 1]), "shape \\(2,\\)"),
        (np.array([0, 1, 2.0]), "dtype float64"),
        (np.array([0, 1, 4]), "env indices \\[2\\] \\(values \\[4\\]\\)"),
        (np.array([-1, 1, 2]), "env indices \\[0\\]"),
        ([0, 1, float("nan")], "dtype float64"),
        (np.array([True, False, True]), "dtype bool"),
    ],
)
def test_vector_env_rejects_invalid_actions(actions: object, message: str) -> None:
    vec = gym.make_vec(
        "tlbench/MetaLabyrinth-v0", num_envs=3, vectorization_mode="vector_entry_point"
    )
    vec.reset(seed=0)
    with pytest.raises(InvalidActionError, match=message):
        vec.step(actions)
