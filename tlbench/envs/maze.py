"""The 8x8 maze of the CRAR transfer study and its visually inverted twin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from tlbench.envs.gridworld import (
    AGENT,
    EMPTY,
    KEY,
    N_KINDS,
    WALL,
    Emission,
    GridWorldEnv,
    GridWorldVectorEnv,
    LayoutSampler,
    bitboard_from_map,
    cell,
)
from tlbench.envs.sprites import AGENT_PATTERN, sprite

MAP = (
    "11111111",
    "10001001",
    "10001001",
    "10001001",
    "10000001",
    "10001001",
    "10001001",
    "11111111",
)
WALLS = bitboard_from_map(MAP)
FREE_CELLS = np.array([cell(r, c) for r in range(8) for c in range(8) if MAP[r][c] == "0"])
GOAL = cell(6, 6)
DOORWAY = cell(4, 4)
START_CELLS = FREE_CELLS[FREE_CELLS != GOAL]  # the 30 cells a goal-mode episode may start on

REWARD_MODES = ("goal", "none")
GOAL_REWARD = 1.0
STEP_PENALTY = -0.01


def _maze_emissions() -> dict[str, Emission]:
    lowdim = np.zeros((N_KINDS, 1, 1), np.float32)
    lowdim[WALL], lowdim[AGENT] = 1.0, 0.5  # EMPTY and the (invisible) goal stay 0
    pixels = np.zeros((N_KINDS, 6, 6), np.float32)
    pixels[WALL] = 1.0
    pixels[AGENT] = sprite(AGENT_PATTERN, 0.7, 0.8)
    assert not lowdim[KEY].any() and not pixels[KEY].any() and not pixels[EMPTY].any()
    return {"lowdim": Emission(lowdim), "pixels": Emission(pixels)}


_EMISSIONS = _maze_emissions()


def sample_goal_layouts(
    rngs: Sequence[np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Goal mode: the fixed map, the goal as the only key, a start cell drawn uniformly."""
    n = len(rngs)
    starts = START_CELLS[[int(rng.integers(len(START_CELLS))) for rng in rngs]]
    return np.full(n, WALLS, np.uint64), np.full(n, 1 << GOAL, np.uint64), starts.astype(np.int64)


def sample_reward_free_layouts(
    rngs: Sequence[np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reward-free mode (the original code): the fixed map, no goal, start at the doorway."""
    n = len(rngs)
    return np.full(n, WALLS, np.uint64), np.zeros(n, np.uint64), np.full(n, DOORWAY, np.int64)


class MazeEnv(GridWorldEnv):
    """An 8x8 maze of two rooms joined by a doorway, seen normally or inverted.

    ## Description
    The "simple maze" of François-Lavet et al. (2018), used by van Driessel & François-Lavet to
    study transfer of CRAR's learned abstract representation: the dynamics of the maze stay the
    same while its look is inverted. Row by row (1 = wall)::

        11111111
        10001001
        10001001
        10001001
        10000001
        10001001
        10001001
        11111111

    The border is wall and column 4 is wall except the doorway at (4, 4): 31 free cells.

    ## Action Space
    ``Discrete(4)``: 0 = up (row - 1), 1 = down (row + 1), 2 = left (col - 1), 3 = right (col + 1).
    A move into a wall leaves the agent where it is. Anything else (a float, NaN, a bool, an
    array of another shape, a value out of range) raises :class:`InvalidActionError`.

    ## Observation Space
    - ``obs_mode="lowdim"`` (default): ``Box(0, 1, (1, 8, 8), float32)``; wall 1.0, path 0.0,
      agent 0.5.
    - ``obs_mode="pixels"``: ``Box(0, 1, (1, 48, 48), float32)``; every cell a 6x6 block, walls
      all 1.0, path 0.0, the agent a sprite of values 0.7 and 0.8 on a 0 background.

    The inverse variant negates the observation (wall -1.0, agent -0.5, ...). The goal is not drawn.

    ## Rewards
    - ``reward_mode="goal"`` (default): +1 on reaching the goal cell (6, 6), -0.01 for any
      other step.
    - ``reward_mode="none"``: always 0 (the original code's reward-free setting).

    ## Starting State
    Goal mode: a cell drawn uniformly from the 30 free cells other than the goal. Reward-free
    mode: always the doorway (4, 4).

    ## Episode End
    Terminated when the agent reaches the goal (goal mode only). Truncated after 100 steps by the
    ``TimeLimit`` of the registration.

    ## Arguments
    - ``inverse`` (bool): the inverted look; registered as ``tlbench/InverseMaze-v0``.
    - ``obs_mode``: ``"lowdim"`` or ``"pixels"``.
    - ``reward_mode``: ``"goal"`` or ``"none"``.
    - ``render_mode``: ``None`` or ``"rgb_array"`` (the pixel view in grey, 192x192).

    ## Transfer Variants
    ``tlbench/Maze-v0`` (normal) and ``tlbench/InverseMaze-v0`` (inverse) share the map and the
    dynamics; only the emission differs. :meth:`render_observation` shows the current state under
    either emission.

    ## Notes
    The original code has no reward and never ends an episode; its goal cell (6, 6) is defined
    but unused. tlbench's default goal mode (random start, +1 at the goal, -0.01 per step, 100-step
    limit) makes returns measurable; ``reward_mode="none"`` keeps the original setting. The pixel
    sprite's shape is tlbench's own, with the original value range.

    ## Version History
    - v0: first version.

    >>> import gymnasium as gym, tlbench
    >>> env = gym.make("tlbench/InverseMaze-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, float(obs.min()), float(obs.max())
    ((1, 8, 8), -1.0, 0.0)
    """

    MOVES: ClassVar[tuple[int, ...]] = (-8, 8, -1, 1)
    OBS_MODES: ClassVar[tuple[str, ...]] = ("lowdim", "pixels")
    RENDER_MODE_OBS: ClassVar[str] = "pixels"

    def __init__(
        self,
        *,
        inverse: bool = False,
        obs_mode: str = "lowdim",
        reward_mode: str = "goal",
        render_mode: str | None = None,
    ) -> None:
        if reward_mode not in REWARD_MODES:
            raise ValueError(
                f"unknown reward_mode {reward_mode!r}; choose one of {list(REWARD_MODES)}"
            )
        self.reward_mode = reward_mode
        self.step_reward = STEP_PENALTY if reward_mode == "goal" else 0.0
        self.key_reward = GOAL_REWARD
        super().__init__(obs_mode=obs_mode, inverse=inverse, render_mode=render_mode)

    def _emissions(self) -> dict[str, Emission]:
        return _EMISSIONS

    def _layout_sampler(self) -> LayoutSampler:
        return sample_goal_layouts if self.reward_mode == "goal" else sample_reward_free_layouts


class MazeVectorEnv(GridWorldVectorEnv):
    """``num_envs`` mazes stepped together with numpy (see :class:`GridWorldVectorEnv`).

    >>> import gymnasium as gym, tlbench
    >>> envs = gym.make_vec("tlbench/Maze-v0", num_envs=3, vectorization_mode="vector_entry_point")
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape
    (3, 1, 8, 8)
    """

    env_class = MazeEnv
