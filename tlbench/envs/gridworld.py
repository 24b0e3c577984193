"""The engine shared by tlbench's 8x8 grid worlds (the maze and the meta-labyrinth).

Both families are the same kind of world: an 8x8 grid of cells, some of them walls, an agent that
moves one cell per step (a move into a wall leaves it in place), and "keys" that pay a reward when
the agent steps onto them and disappear. The maze is this world with a fixed map and one
invisible key (the goal); the meta-labyrinth draws a new map with three visible keys every episode.

State is kept as 64-bit *bitboards*: bit ``8 * row + col`` of ``walls`` is set when that cell is a
wall, likewise for ``keys``; the agent is a cell index. Moves, key pick-ups and the reachability
check of the labyrinth generator are then a few integer operations, and the same code works on one
environment (Python ints) or on thousands at once (numpy ``uint64`` arrays in the vector envs).

What the agent *sees* is an :class:`Emission`: one tile (a ``k x k`` float block) per cell kind.
The observation is the 8x8 grid of tiles, shape ``(1, 8k, 8k)``; ``k = 1`` gives the low-dimensional
grid and ``k = 6`` the 48x48 pixel image. The inverse variants of the paper are the same world under
the negated emission, so every env can render its current state under either emission.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

# defined in tlbench.envs.errors, re-exported here where it was first defined
from tlbench.envs.errors import InvalidActionError as InvalidActionError

SIZE = 8
N_CELLS = SIZE * SIZE

# Cell kinds, used to index an emission's tiles.
EMPTY, WALL, KEY, AGENT = 0, 1, 2, 3
N_KINDS = 4

_BIT_POSITIONS = np.arange(N_CELLS, dtype=np.uint64)
_ONE = np.uint64(1)

# A layout sampler draws, for each generator in a list, one episode's start state from that
# generator alone, and returns (walls, keys, agent) as arrays with one entry per generator.
LayoutSampler = Callable[[Sequence[np.random.Generator]], tuple[np.ndarray, np.ndarray, np.ndarray]]


def cell(row: int, col: int) -> int:
    """Index of the cell at ``(row, col)``: bit ``8 * row + col`` of a bitboard."""
    return SIZE * row + col


def bitboard(cells: Sequence[int] | np.ndarray) -> int:
    """The bitboard (a Python int) with the bits of ``cells`` set.

    >>> bitboard([0, 3]) == 0b1001
    True
    """
    board = 0
    for c in cells:
        board |= 1 << int(c)
    return board


def bitboard_from_map(rows: Sequence[str]) -> int:
    """The wall bitboard of a map written as 8 strings of '0' (path) and '1' (wall)."""
    return bitboard(
        [cell(r, c) for r, line in enumerate(rows) for c, ch in enumerate(line) if ch == "1"]
    )


def batch_bitboards(cells: np.ndarray) -> np.ndarray:
    """Bitboards (``uint64``, shape ``(M,)``) of an ``(M, n)`` array of cell indices."""
    return np.bitwise_or.reduce(_ONE << cells.astype(np.uint64), axis=1)


def flood_fill(start: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Cells reachable from ``start`` by 4-connected moves through ``free`` cells.

    Args:
        start: ``(M,)`` int cell indices.
        free: ``(M,)`` ``uint64`` bitboards of the cells that may be walked on. They must not
            touch the grid border (true of every tlbench map: the border is wall), so that a
            shift by one column cannot wrap from one row's edge onto the next row.

    Returns:
        ``(M,)`` ``uint64`` bitboards of the reachable cells (breadth-first search, all M at once).
    """
    reach = (_ONE << start.astype(np.uint64)) & free
    while True:
        grown = reach | (reach << np.uint64(1)) | (reach >> np.uint64(1))
        grown |= (reach << np.uint64(SIZE)) | (reach >> np.uint64(SIZE))
        grown &= free
        if np.array_equal(grown, reach):
            return reach
        reach = grown


@dataclass(frozen=True)
class Emission:
    """How cells look: ``tiles[kind]`` is the ``k x k`` block drawn for a cell of that kind."""

    tiles: np.ndarray  # float32, (N_KINDS, k, k)

    @property
    def block(self) -> int:
        """Side ``k`` of one cell's block."""
        return int(self.tiles.shape[1])

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one observation: ``(1, 8k, 8k)``."""
        return (1, SIZE * self.block, SIZE * self.block)

    def negated(self) -> Emission:
        """The inverse emission: every value negated (the paper's visual shift)."""
        return Emission(np.negative(self.tiles) + np.float32(0.0))  # + 0 turns -0.0 into 0.0

    def space(self) -> spaces.Box:
        """The observation space of this emission."""
        low, high = float(self.tiles.min()), float(self.tiles.max())
        return spaces.Box(low=low, high=high, shape=self.shape, dtype=np.float32)

    def render(self, kinds: np.ndarray) -> np.ndarray:
        """Observations of cell-kind grids: ``(..., 64)`` kinds -> ``(..., 1, 8k, 8k)`` float32."""
        k = self.block
        lead = kinds.shape[:-1]
        blocks = self.tiles[kinds].reshape((*lead, SIZE, SIZE, k, k))
        blocks = np.swapaxes(blocks, -3, -2)  # (..., row, k, col, k)
        return np.ascontiguousarray(blocks).reshape((*lead, *self.shape))


def cell_kinds(walls: np.ndarray, keys: np.ndarray, agent: np.ndarray) -> np.ndarray:
    """Cell-kind grids ``(M, 64)`` (uint8) of M states given as bitboards and agent cells."""
    kinds = ((walls[:, None] >> _BIT_POSITIONS) & _ONE).astype(np.uint8) * np.uint8(WALL)
    kinds |= ((keys[:, None] >> _BIT_POSITIONS) & _ONE).astype(np.uint8) * np.uint8(KEY)
    kinds[np.arange(len(agent)), agent] = AGENT
    return kinds


def _as_action(action: Any, space: spaces.Discrete) -> int:
    """``action`` as a Python int if it is in ``space``, else an :class:`InvalidActionError`."""
    is_int = isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_))
    is_int_0d = isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu"
    if is_int or is_int_0d:
        value = int(action)
    else:
        kind = (
            f"array of shape {action.shape} and dtype {action.dtype}"
            if isinstance(action, np.ndarray)
            else type(action).__name__
        )
        raise InvalidActionError(
            f"invalid action {action!r} ({kind}) for action space {space}: "
            f"pass one integer in [0, {space.n}), e.g. a Python int or np.int64"
        )
    if not 0 <= value < space.n:
        raise InvalidActionError(
            f"invalid action {value} for action space {space}: it must be in [0, {space.n})"
        )
    return value


def as_batch_actions(actions: Any, space: spaces.Discrete, num_envs: int) -> np.ndarray:
    """``actions`` as an ``(num_envs,)`` int64 array, or an :class:`InvalidActionError`."""
    arr = np.asarray(actions)
    if arr.shape != (num_envs,) or arr.dtype.kind not in "iu":
        raise InvalidActionError(
            f"invalid actions {actions!r} (shape {arr.shape}, dtype {arr.dtype}) for {num_envs} "
            f"envs with action space {space}: pass an integer array of shape ({num_envs},)"
        )
    bad = np.flatnonzero((arr < 0) | (arr >= space.n))
    if bad.size:
        raise InvalidActionError(
            f"invalid actions at env indices {bad[:10].tolist()} (values {arr[bad[:10]].tolist()}) "
            f"for action space {space}: every action must be in [0, {space.n})"
        )
    return arr.astype(np.int64, copy=False)


def to_rgb(observation: np.ndarray, scale: int = 4) -> np.ndarray:
    """A ``(1, H, W)`` observation with values in [-1, 1] as a grey ``(sH, sW, 3)`` uint8 image."""
    grey = np.round((np.clip(observation[0], -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    grey = np.repeat(np.repeat(grey, scale, axis=0), scale, axis=1)
    return np.repeat(grey[:, :, None], 3, axis=2)


class GridWorldEnv(gym.Env[np.ndarray, np.int64]):
    """Base class of the grid worlds; subclasses fix the map distribution, look and rewards.

    A subclass sets the class attributes below and implements :meth:`_emissions` and
    :meth:`_layout_sampler`. Everything else (dynamics, rewards, rendering, the inverse
    emission, strict actions) lives here once, and :class:`GridWorldVectorEnv` reuses the same
    pieces for the batched version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}  # noqa: RUF012 (Gymnasium convention)

    #: cell-index offset of each action
    MOVES: ClassVar[tuple[int, ...]]
    #: observation modes and the one used by default
    OBS_MODES: ClassVar[tuple[str, ...]]
    #: the observation mode whose emission ``render()`` shows (the pixel one)
    RENDER_MODE_OBS: ClassVar[str]

    def __init__(self, *, obs_mode: str, inverse: bool, render_mode: str | None) -> None:
        if obs_mode not in self.OBS_MODES:
            raise ValueError(f"unknown obs_mode {obs_mode!r}; choose one of {list(self.OBS_MODES)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            modes = self.metadata["render_modes"]
            raise ValueError(f"unknown render_mode {render_mode!r}; choose one of {modes} or None")
        self.obs_mode = obs_mode
        self.inverse = bool(inverse)
        self.render_mode = render_mode
        self.emission = self.emission_for(obs_mode, inverse)
        self._discrete = spaces.Discrete(len(self.MOVES))
        self.action_space = self._discrete
        self.observation_space = self.emission.space()
        self._moves = self.MOVES
        self._tiles = self.emission.tiles
        k = self.emission.block
        self._obs = np.zeros(self.emission.shape, dtype=np.float32)
        self._cells = self._obs.reshape(SIZE, k, SIZE, k)  # a view: _cells[row, :, col, :]
        self._walls = 0
        self._keys = 0
        self._agent = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        # ``_cells`` is a view of ``_obs``; pickling copies it, so make it a view again.
        self.__dict__.update(state)
        k = self.emission.block
        self._cells = self._obs.reshape(SIZE, k, SIZE, k)

    # -- what subclasses define -------------------------------------------------------------
    def _emissions(self) -> dict[str, Emission]:
        """The normal (non-inverse) emission of each observation mode."""
        raise NotImplementedError

    def _layout_sampler(self) -> LayoutSampler:
        """The function that draws a start state from a generator."""
        raise NotImplementedError

    step_reward: float
    key_reward: float

    # -- emissions ----------------------------------------------------------------------------
    def emission_for(self, obs_mode: str, inverse: bool) -> Emission:
        """The emission of ``obs_mode``, negated when ``inverse``."""
        emission = self._emissions()[obs_mode]
        return emission.negated() if inverse else emission

    def render_observation(
        self, inverse: bool | None = None, obs_mode: str | None = None
    ) -> np.ndarray:
        """The current state as an observation under another emission.

        Args:
            inverse: render under the inverse (True) or normal (False) emission; ``None`` keeps
                this env's own.
            obs_mode: one of :attr:`OBS_MODES`; ``None`` keeps this env's own.

        Used to compare embeddings of the same hidden state seen normal and inverse.
        """
        emission = self.emission_for(
            self.obs_mode if obs_mode is None else obs_mode,
            self.inverse if inverse is None else inverse,
        )
        kinds = cell_kinds(
            np.array([self._walls], np.uint64),
            np.array([self._keys], np.uint64),
            np.array([self._agent]),
        )
        return emission.render(kinds)[0]

    # -- gymnasium API --------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        walls, keys, agent = self._layout_sampler()([self.np_random])
        self._walls, self._keys, self._agent = int(walls[0]), int(keys[0]), int(agent[0])
        self._obs[:] = self.emission.render(cell_kinds(walls, keys, agent))[0]
        return self._obs.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        a = _as_action(action, self._discrete)
        here = self._agent
        there = here + self._moves[a]
        if not (self._walls >> there) & 1:
            self._cells[here // SIZE, :, here % SIZE, :] = self._tiles[EMPTY]
            self._cells[there // SIZE, :, there % SIZE, :] = self._tiles[AGENT]
            self._agent = here = there
        terminated = False
        if (self._keys >> here) & 1:
            self._keys &= ~(1 << here)
            reward = self.key_reward
            terminated = self._keys == 0
        else:
            reward = self.step_reward
        return self._obs.copy(), reward, terminated, False, {}

    def render(self) -> np.ndarray | None:
        """An RGB picture of what the agent sees in pixel mode (grey levels, scaled up 4x)."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='rgb_array' to make()"
            )
            return None
        return to_rgb(self.render_observation(obs_mode=self.RENDER_MODE_OBS))


class GridWorldVectorEnv(VectorEnv):
    """N copies of a :class:`GridWorldEnv` stepped together with numpy.

    Sub-env ``i`` follows exactly the transitions of a single env reset with seed ``seed + i``
    (Gymnasium's convention), given the same actions: it draws its maps from its own generator
    with the same layout sampler. The time limit of the registration is applied here, and finished
    sub-envs are reset automatically (``autoreset_mode``: Gymnasium's default ``NEXT_STEP``, or
    ``SAME_STEP`` with the last observation in ``info["final_obs"]``).

    With ``copy=False`` the returned observation array is the env's own buffer, overwritten by
    the next step (as Gymnasium's ``SyncVectorEnv(copy=False)``): the fastest way to fill a
    replay buffer.
    """

    env_class: ClassVar[type[GridWorldEnv]]

    def __init__(
        self,
        num_envs: int,
        *,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be positive or None, got {max_episode_steps}")
        mode = AutoresetMode(autoreset_mode)
        if mode is AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode DISABLED is not supported; use NEXT_STEP or SAME_STEP")
        proto = self.env_class(render_mode=render_mode, **env_kwargs)
        self._proto = proto
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.metadata = {**proto.metadata, "autoreset_mode": mode}
        self.single_action_space = proto.action_space
        self.single_observation_space = proto.observation_space
        self.action_space = batch_space(proto.action_space, num_envs)
        self.observation_space = batch_space(proto.observation_space, num_envs)
        self._max_steps = max_episode_steps
        self._copy = copy
        self._sampler = proto._layout_sampler()
        self._emission = proto.emission
        self._tiles = proto.emission.tiles
        self._moves = np.array(proto.MOVES, dtype=np.int64)
        self._step_reward = float(proto.step_reward)
        self._key_reward = float(proto.key_reward)
        k = proto.emission.block
        self._obs = np.zeros((num_envs, *proto.emission.shape), dtype=np.float32)
        self._cells = self._obs.reshape(num_envs, SIZE, k, SIZE, k)
        self._walls = np.zeros(num_envs, np.uint64)
        self._keys = np.zeros(num_envs, np.uint64)
        self._agent = np.zeros(num_envs, np.int64)
        self._elapsed = np.zeros(num_envs, np.int64)
        self._needs_reset = np.zeros(num_envs, bool)
        self._rngs: list[np.random.Generator] = []
        self._index = np.arange(num_envs)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # ``_cells`` is a view of ``_obs``; pickling copies it, so make it a view again.
        self.__dict__.update(state)
        k = self._emission.block
        self._cells = self._obs.reshape(self.num_envs, SIZE, k, SIZE, k)

    def _reset_envs(self, idx: np.ndarray) -> None:
        walls, keys, agent = self._sampler([self._rngs[i] for i in idx])
        self._walls[idx], self._keys[idx], self._agent[idx] = walls, keys, agent
        self._elapsed[idx] = 0
        self._obs[idx] = self._emission.render(cell_kinds(walls, keys, agent))

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(
                    f"got {len(seeds)} seeds for {self.num_envs} envs; pass one per env"
                )
        if not self._rngs:
            self._rngs = [gym.utils.seeding.np_random(s)[0] for s in seeds]
        else:
            for i, s in enumerate(seeds):
                if s is not None:
                    self._rngs[i] = gym.utils.seeding.np_random(s)[0]
        self._reset_envs(self._index)
        self._needs_reset[:] = False
        return self._observations(), {}

    def _observations(self) -> np.ndarray:
        return self._obs.copy() if self._copy else self._obs

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._rngs:
            raise gym.error.ResetNeeded("call reset() before step()")
        acts = as_batch_actions(actions, self._proto._discrete, self.num_envs)
        here = self._agent
        there = here + self._moves[acts]
        open_ = ((self._walls >> there.astype(np.uint64)) & _ONE) == 0
        there = np.where(open_, there, here)
        index = self._index
        self._cells[index, here // SIZE, :, here % SIZE, :] = self._tiles[EMPTY]
        self._cells[index, there // SIZE, :, there % SIZE, :] = self._tiles[AGENT]
        self._agent = there
        bit = _ONE << there.astype(np.uint64)
        got_key = (self._keys & bit) != 0
        self._keys &= ~np.where(got_key, bit, np.uint64(0))
        rewards = np.where(got_key, self._key_reward, self._step_reward)
        terminated = got_key & (self._keys == 0)
        self._elapsed += 1
        if self._max_steps is None:
            truncated = np.zeros(self.num_envs, bool)
        else:
            truncated = self._elapsed >= self._max_steps
        infos: dict[str, Any] = {}

        if self.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP:
            restart = np.flatnonzero(self._needs_reset)
            if restart.size:
                self._reset_envs(restart)
                rewards[restart] = 0.0
                terminated[restart] = False
                truncated[restart] = False
            self._needs_reset = terminated | truncated
        else:  # SAME_STEP
            done = np.flatnonzero(terminated | truncated)
            if done.size:
                final_obs = np.empty(self.num_envs, dtype=object)
                for i in done:
                    final_obs[i] = self._obs[i].copy()
                mask = np.zeros(self.num_envs, bool)
                mask[done] = True
                infos = {
                    "final_obs": final_obs,
                    "_final_obs": mask,
                    "final_info": np.array([{} for _ in range(self.num_envs)], dtype=object),
                    "_final_info": mask.copy(),
                }
                self._reset_envs(done)
        return self._observations(), rewards, terminated, truncated, infos

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One RGB picture per sub-env (see :meth:`GridWorldEnv.render`)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        pixels = self._proto.emission_for(self._proto.RENDER_MODE_OBS, self._proto.inverse)
        kinds = cell_kinds(self._walls, self._keys, self._agent)
        return tuple(to_rgb(o) for o in pixels.render(kinds))
