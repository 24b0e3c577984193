"""The meta-labyrinth of the CRAR transfer study: a new random maze with 3 keys every episode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from tlbench.envs.gridworld import (
    AGENT,
    EMPTY,
    KEY,
    N_KINDS,
    SIZE,
    WALL,
    Emission,
    GridWorldEnv,
    GridWorldVectorEnv,
    LayoutSampler,
    batch_bitboards,
    bitboard,
    cell,
    flood_fill,
)
from tlbench.envs.sprites import AGENT_PATTERN, KEY_PATTERN, sprite

START = cell(1, 1)
N_WALLS = 12
N_KEYS = 3
# Interior walls go in rows 1-5 x cols 1-5, never on the start cell: 24 candidates.
WALL_CANDIDATES = np.array(
    [cell(r, c) for r in range(1, 6) for c in range(1, 6) if cell(r, c) != START]
)
# Keys go in rows 1-6 x cols 1-6, on no wall, the start cell or another key.
KEY_REGION = np.array([cell(r, c) for r in range(1, 7) for c in range(1, 7)])
BORDER = bitboard(
    [
        cell(r, c)
        for r in range(SIZE)
        for c in range(SIZE)
        if r in (0, SIZE - 1) or c in (0, SIZE - 1)
    ]
)
_ALL = np.uint64(2**64 - 1)
_DRAWS = len(WALL_CANDIDATES) + len(KEY_REGION)  # uniforms drawn per attempt

KEY_REWARD = 1.0
STEP_PENALTY = -0.1


def sample_layouts(
    rngs: Sequence[np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one labyrinth per generator, redrawing each until all its keys are reachable.

    Every attempt of generator ``i`` takes 60 uniforms from it: the 12 walls are the 24 wall
    candidates with the smallest of the first 24 uniforms, the 3 keys the allowed cells of the key
    region with the smallest of the other 36 (both uniform random subsets). Reachability is a
    breadth-first flood fill from the start. A generator's maps therefore depend on that
    generator alone, not on how many are sampled together: a vector env and single envs seeded
    alike see the same mazes.
    """
    n = len(rngs)
    walls = np.zeros(n, np.uint64)
    keys = np.zeros(n, np.uint64)
    pending = np.arange(n)
    while pending.size:
        u = np.stack([rngs[int(i)].random(_DRAWS) for i in pending])
        n_cand = len(WALL_CANDIDATES)
        chosen = np.argsort(u[:, :n_cand], axis=1, kind="stable")[:, :N_WALLS]
        inner = batch_bitboards(WALL_CANDIDATES[chosen])
        region_blocked = ((inner[:, None] >> KEY_REGION.astype(np.uint64)) & np.uint64(1)) == 1
        region_blocked |= KEY_REGION == START
        key_u = np.where(region_blocked, np.inf, u[:, n_cand:])
        key_bits = batch_bitboards(KEY_REGION[np.argsort(key_u, axis=1, kind="stable")[:, :N_KEYS]])
        all_walls = inner | np.uint64(BORDER)
        reach = flood_fill(np.full(len(pending), START), ~all_walls & _ALL)
        ok = (key_bits & ~reach) == 0
        done = pending[ok]
        walls[done], keys[done] = all_walls[ok], key_bits[ok]
        pending = pending[~ok]
    return walls, keys, np.full(n, START, np.int64)


def _labyrinth_emissions() -> dict[str, Emission]:
    grid = np.zeros((N_KINDS, 1, 1), np.float32)
    grid[AGENT], grid[KEY], grid[WALL] = 0.25, 0.5, 0.99
    pixels = np.zeros((N_KINDS, 6, 6), np.float32)
    pixels[WALL] = 1.0
    pixels[AGENT] = sprite(AGENT_PATTERN, 0.8, 0.9)
    pixels[KEY] = sprite(KEY_PATTERN, 0.6, 0.7)
    assert not pixels[EMPTY].any()
    return {"pixels": Emission(2.0 * pixels - 1.0), "grid": Emission(grid)}


_EMISSIONS = _labyrinth_emissions()


class MetaLabyrinthEnv(GridWorldEnv):
    """A distribution of 8x8 mazes with three keys to collect, seen normally or inverted.

    ## Description
    The "meta-labyrinth" of van Driessel & François-Lavet: every ``reset()`` draws a new maze from
    the env's seeded generator. The border is wall; 12 interior walls are placed uniformly among
    rows 1-5 x cols 1-5 (never on the start cell (1, 1)), so row 6 and column 6 are always open;
    3 keys are placed uniformly among rows 1-6 x cols 1-6 on no wall, the start or another key.
    The maze is redrawn until every key is reachable from the start (breadth-first search).

    ## Action Space
    ``Discrete(4)`` in the original code's order: 0 = row + 1, 1 = col + 1, 2 = row - 1,
    3 = col - 1. A move into a wall leaves the agent in place. Anything else (a float, NaN, a
    bool, an array of another shape, a value out of range) raises :class:`InvalidActionError`.

    ## Observation Space
    - ``obs_mode="pixels"`` (default): ``Box(-1, 1, (1, 48, 48), float32)``; every cell a 6x6
      block: wall 1, empty 0, agent sprite of values 0.8/0.9, key sprite of values 0.6/0.7, all
      then mapped by x -> 2x - 1 (empty is -1, wall +1).
    - ``obs_mode="grid"``: ``Box(0, 0.99, (1, 8, 8), float32)``: empty 0, agent 0.25, key 0.5,
      wall 0.99 (the values the original code produces).

    The inverse variant negates the observation.

    ## Rewards
    +1 for a step onto a key (the key disappears), -0.1 for any other step. Returns range from
    -5.0 (no key in 50 steps) to about 3 - 0.1 * (steps - 3).

    ## Starting State
    The agent at (1, 1) in a freshly drawn maze.

    ## Episode End
    Terminated when all 3 keys are collected; truncated after 50 steps by the registration's
    ``TimeLimit``.

    ## Arguments
    - ``inverse`` (bool): the inverted look; registered as ``tlbench/InverseMetaLabyrinth-v0``.
    - ``obs_mode``: ``"pixels"`` or ``"grid"``.
    - ``render_mode``: ``None`` or ``"rgb_array"`` (the pixel view in grey, 192x192).

    ## Transfer Variants
    ``tlbench/MetaLabyrinth-v0`` and ``tlbench/InverseMetaLabyrinth-v0`` draw the same mazes for
    the same seed; only the emission differs. :meth:`render_observation` renders the current state
    under either emission, for the paper's "same instance, normal vs inverse" comparison.

    ## Notes
    The original applied the 50-step limit only in evaluation; tlbench applies it always. The
    original checked reachability with A*; a breadth-first search decides the same thing. The
    sprites' shapes are tlbench's own, with the original value ranges.

    ## Version History
    - v0: first version.

    >>> import gymnasium as gym, tlbench
    >>> env = gym.make("tlbench/MetaLabyrinth-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, float(obs.min()), float(obs.max())
    ((1, 48, 48), -1.0, 1.0)
    """

    MOVES: ClassVar[tuple[int, ...]] = (8, 1, -8, -1)
    OBS_MODES: ClassVar[tuple[str, ...]] = ("pixels", "grid")
    RENDER_MODE_OBS: ClassVar[str] = "pixels"
    step_reward = STEP_PENALTY
    key_reward = KEY_REWARD

    def __init__(
        self, *, inverse: bool = False, obs_mode: str = "pixels", render_mode: str | None = None
    ) -> None:
        super().__init__(obs_mode=obs_mode, inverse=inverse, render_mode=render_mode)

    def _emissions(self) -> dict[str, Emission]:
        return _EMISSIONS

    def _layout_sampler(self) -> LayoutSampler:
        return sample_layouts


class MetaLabyrinthVectorEnv(GridWorldVectorEnv):
    """``num_envs`` labyrinths stepped together with numpy (see :class:`GridWorldVectorEnv`).

    >>> import gymnasium as gym, tlbench
    >>> envs = gym.make_vec(
    ...     "tlbench/MetaLabyrinth-v0", num_envs=2, vectorization_mode="vector_entry_point"
    ... )
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape
    (2, 1, 48, 48)
    """

    env_class = MetaLabyrinthEnv
