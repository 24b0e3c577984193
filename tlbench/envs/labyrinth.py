"""The meta-labyrinth of the CRAR transfer study: a new random maze with 3 keys every episode."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
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


#: the layout samplers of :class:`MetaLabyrinthEnv`'s ``layout`` argument
LAYOUTS = ("bfs", "original")

#: an acceptance rule beyond reachability: (wall bitboard, key cells in draw order) -> accepted
Acceptance = Callable[[int, Sequence[int]], bool]

#: neighbour order of the original's A*: row + 1, col - 1, row - 1, col + 1
_ASTAR_MOVES = (SIZE, -1, -SIZE, 1)
_ASTAR_STEP = 10  # the original's cost of a move; its heuristic is 10 x the Manhattan distance


class _OpenEntry:
    """An entry ``(f, cell)`` of the original A*'s open heap, ordered as the original orders it.

    The original pushes ``(f, cell)`` tuples, which compare by the ``f`` stored at push time and,
    on a tie, by the two cells' *current* ``f`` (a later update may have changed it); an entry
    never precedes another of the same cell with the same stored ``f``. ``heapq`` only uses ``<``.
    """

    __slots__ = ("cell", "f", "f_now")

    def __init__(self, f: int, cell: int, f_now: list[int]) -> None:
        self.f, self.cell, self.f_now = f, cell, f_now

    def __lt__(self, other: _OpenEntry) -> bool:
        if self.f != other.f:
            return self.f < other.f
        return self.cell != other.cell and self.f_now[self.cell] < self.f_now[other.cell]


def original_accepts(walls: int, keys: Sequence[int], start: int = START) -> bool:
    """Whether the original code's reachability check accepts a labyrinth.

    Args:
        walls: wall bitboard (the border must be wall).
        keys: the key cells in the order they were drawn, which is the order the original
            checks them in.
        start: the agent's cell.

    The original runs one A* search per key (10 per move, heuristic 10 x the Manhattan distance
    to that key, neighbours in the order row + 1, col - 1, row - 1, col + 1) with one search
    object that it never clears: the open heap, the closed set and every cell's cost ``g`` and
    estimate ``f`` carry over from one key's search to the next. Each search pushes the start
    (``f = 0``) and pops entries until it pops its key (found) or the heap is empty (the map is
    redrawn). The first key is found exactly when it is reachable. A closed cell is never pushed
    again, so a later key that an earlier search closed is found only if an older entry of it is
    still in the heap (rare: none in 50,000 maps); and a found key is closed without pushing its
    neighbours, so a later key reachable only through an earlier one is never found either. Of
    the maps whose keys are all reachable about 94% are rejected, about two thirds of them for
    the first reason.

    This replays those searches with the original's rules, written for bitboards: entries are
    ordered as :class:`_OpenEntry` says; a neighbour that is not wall and not closed counts as
    open only if the heap holds an entry of it whose stored ``f`` equals its current ``f``; an
    open neighbour is updated (``g``, then ``f`` against the current key) only if reached more
    cheaply, and then not pushed again; any other neighbour is updated and pushed, even if it
    has a stale entry and even if its ``g`` gets worse.
    """
    g = [0] * (SIZE * SIZE)
    f_now = [0] * (SIZE * SIZE)
    closed = [False] * (SIZE * SIZE)
    heap: list[_OpenEntry] = []
    n_entries = [0] * (SIZE * SIZE)  # heap entries per cell
    entries: dict[tuple[int, int], int] = {}  # heap entries per (cell, stored f)

    def push(cell: int) -> None:
        heapq.heappush(heap, _OpenEntry(f_now[cell], cell, f_now))
        n_entries[cell] += 1
        entries[cell, f_now[cell]] = entries.get((cell, f_now[cell]), 0) + 1

    for key in keys:
        if closed[key] and not n_entries[key]:
            return False  # it will never be popped: this search would empty the heap
        key_row, key_col = divmod(key, SIZE)
        push(start)
        while True:
            if not heap:
                return False
            entry = heapq.heappop(heap)
            here = entry.cell
            n_entries[here] -= 1
            entries[here, entry.f] -= 1
            closed[here] = True
            if here == key:
                break
            for move in _ASTAR_MOVES:
                there = here + move
                if (walls >> there) & 1 or closed[there]:
                    continue
                is_open = entries.get((there, f_now[there]), 0) > 0
                if is_open and g[there] <= g[here] + _ASTAR_STEP:
                    continue
                g[there] = g[here] + _ASTAR_STEP
                row, col = divmod(there, SIZE)
                f_now[there] = g[there] + _ASTAR_STEP * (abs(row - key_row) + abs(col - key_col))
                if not is_open:
                    push(there)
    return True


def sample_layouts(
    rngs: Sequence[np.random.Generator], accept: Acceptance | None = None, block: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one labyrinth per generator, redrawing each until all its keys are reachable.

    Every attempt of generator ``i`` takes 60 uniforms from it: the 12 walls are the 24 wall
    candidates with the smallest of the first 24 uniforms, the 3 keys the allowed cells of the key
    region with the smallest of the other 36 (both uniform random subsets; the keys' draw order,
    by increasing uniform, is uniformly random like the original's one-by-one draws).
    Reachability is a breadth-first flood fill from the start; ``accept`` (called with the wall
    bitboard and the key cells in draw order) may reject attempts whose keys are all reachable.
    A generator draws ``block`` attempts at a time and keeps the first accepted one (the others
    are spent). A generator's maps therefore depend on that generator alone, not on how many are
    sampled together: a vector env and single envs seeded alike see the same mazes. Without
    ``accept`` and with ``block=1`` this is ``layout="bfs"``, the default.
    """
    n = len(rngs)
    walls = np.zeros(n, np.uint64)
    keys = np.zeros(n, np.uint64)
    pending = np.arange(n)
    while pending.size:
        u = np.concatenate([rngs[int(i)].random((block, _DRAWS)) for i in pending])
        n_cand = len(WALL_CANDIDATES)
        chosen = np.argsort(u[:, :n_cand], axis=1, kind="stable")[:, :N_WALLS]
        inner = batch_bitboards(WALL_CANDIDATES[chosen])
        region_blocked = ((inner[:, None] >> KEY_REGION.astype(np.uint64)) & np.uint64(1)) == 1
        region_blocked |= KEY_REGION == START
        key_u = np.where(region_blocked, np.inf, u[:, n_cand:])
        key_cells = KEY_REGION[np.argsort(key_u, axis=1, kind="stable")[:, :N_KEYS]]
        key_bits = batch_bitboards(key_cells)
        all_walls = inner | np.uint64(BORDER)
        reach = flood_fill(np.full(len(u), START), ~all_walls & _ALL)
        ok = ((key_bits & ~reach) == 0).reshape(len(pending), block)
        if accept is not None:
            for row, attempts in enumerate(ok):
                for j in np.flatnonzero(attempts):
                    k = row * block + j
                    if accept(int(all_walls[k]), key_cells[k].tolist()):
                        break
                    attempts[j] = False
        found = ok.any(axis=1)
        first = np.flatnonzero(found) * block + ok.argmax(axis=1)[found]
        done = pending[found]
        walls[done], keys[done] = all_walls[first], key_bits[first]
        pending = pending[~found]
    return walls, keys, np.full(n, START, np.int64)


#: attempts per generator and round of :func:`sample_original_layouts` (about 60 per maze)
ORIGINAL_BLOCK = 64


def sample_original_layouts(
    rngs: Sequence[np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw labyrinths as :func:`sample_layouts`, keeping only those the original code accepts.

    The attempts and the reachability test are those of :func:`sample_layouts`; an attempt whose
    keys are all reachable is then also redrawn unless :func:`original_accepts` accepts it (keys
    checked in their draw order). This is the original code's distribution of mazes
    (``layout="original"``): about 6% of the maps with reachable keys, with longer key tours.
    Attempts are drawn :data:`ORIGINAL_BLOCK` at a time, so a seed's mazes differ from its
    ``layout="bfs"`` mazes even when these would have been accepted.
    """
    return sample_layouts(rngs, original_accepts, ORIGINAL_BLOCK)


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
    The maze is redrawn until it passes the check chosen by ``layout``:

    - ``layout="bfs"`` (default): every key is reachable from the start (a breadth-first flood
      fill). Every maze whose keys are all reachable is kept.
    - ``layout="original"``: the original code's check, replayed exactly
      (:func:`original_accepts`). It looks for the keys in their draw order with one A* search
      whose open heap and closed set it never clears, so in effect a key is found only if no
      earlier search closed it and it can be reached without passing an earlier key (a key
      found is closed without opening its neighbours). It rejects about 94% of the mazes whose
      keys are all reachable, and the mazes it keeps have longer key tours. This is the
      distribution the original code trains and evaluates on.

    The two distributions, over 20,000 mazes or episodes each (random: uniformly random actions;
    oracle: reads the state and walks the shortest tour over the remaining keys; epsilon 0.1:
    the oracle's action replaced by a uniformly random one with probability 0.1, as the
    benchmark's runner evaluates), with standard errors, printed by
    ``OMP_NUM_THREADS=1 .venv/bin/python scripts/labyrinth_layouts.py --episodes 20000 --seed 0``::

        layout                          bfs                original
        rejected, keys reachable        0                  0.9365 ± 0.0004
        shortest key tour (steps)       13.133 ± 0.025     14.163 ± 0.024
        return, random                  -3.888 ± 0.009     -4.106 ± 0.008
        return, oracle                  +1.987 ± 0.003     +1.884 ± 0.002
        return, oracle epsilon 0.1      +1.836 ± 0.003     +1.720 ± 0.003

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
    - ``layout``: ``"bfs"`` (default) or ``"original"``, which mazes are kept (see Description).
    - ``render_mode``: ``None`` or ``"rgb_array"`` (the pixel view in grey, 192x192).

    ## Transfer Variants
    ``tlbench/MetaLabyrinth-v0`` and ``tlbench/InverseMetaLabyrinth-v0`` draw the same mazes for
    the same seed; only the emission differs. :meth:`render_observation` renders the current state
    under either emission, for the paper's "same instance, normal vs inverse" comparison.

    ## Notes
    The original applied the 50-step limit only in evaluation; tlbench applies it always. The
    original meant to check reachability with A*, but its check rejects most mazes whose keys
    are reachable (see ``layout``); tlbench's default keeps them all, ``layout="original"``
    keeps the original's mazes. The sprites' shapes are tlbench's own, with the original value
    ranges.

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
        self,
        *,
        inverse: bool = False,
        obs_mode: str = "pixels",
        layout: str = "bfs",
        render_mode: str | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; choose one of {list(LAYOUTS)}")
        super().__init__(obs_mode=obs_mode, inverse=inverse, render_mode=render_mode)
        self.layout = layout

    def _emissions(self) -> dict[str, Emission]:
        return _EMISSIONS

    def _layout_sampler(self) -> LayoutSampler:
        return sample_original_layouts if self.layout == "original" else sample_layouts


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
