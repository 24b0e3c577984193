"""The probe states of embedding alignment: the same hidden states, rendered once as the source
shows them and once as the target shows them.

A scenario has probe states when it has one source and its source and target are the same grid
world (the same :class:`~tlbench.envs.gridworld.GridWorldEnv` class) seen under two emissions,
as in ``maze/inverse``, ``maze/inverse-reward-free`` and the ``labyrinth/`` scenarios. Other
scenarios (the PyBullet ones transfer between different robots) have none, and no alignment.

- **Maze** (:class:`~tlbench.envs.maze.MazeEnv`): the agent on every one of the 31 free cells
  of the fixed map, as the paper plots it (its Figures 5-7). Each state is labelled by the room
  it lies in: left (column < 4), right (column > 4), or the doorway (4, 4).
- **Other grid worlds** (the meta-labyrinth, whose map changes every episode): the first
  :data:`LOCKSTEP_PROBES` distinct states of seeded random play: the source env and the target
  env are reset with seeds ``PROBE_SEED, PROBE_SEED + 1, ...`` (one per episode) and stepped
  with the same uniformly random actions (a generator seeded with :data:`PROBE_SEED`). The
  scenarios promise the same maps and dynamics for the same seed, and every state is checked:
  the target's observation must equal the source env's state rendered under the target's
  emission.

The probe set depends on the scenario and tier only (fixed seeds), so every run of every
evaluation uses the same one.

>>> from tlbench.scenarios import load_scenario
>>> probes = probe_set(load_scenario("maze/inverse-reward-free"), "smoke")
>>> len(probes), probes.source.shape, float(probes.source.max()), float(probes.target.min())
(31, (31, 1, 8, 8), 1.0, -1.0)
>>> probes.group_names
('left room', 'right room', 'doorway')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tlbench.envs.gridworld import SIZE, GridWorldEnv, cell_kinds
from tlbench.scenarios import Scenario

#: seed of the random play (actions, and the first episode's reset) that draws probe states
PROBE_SEED = 0
#: distinct states drawn by random play in grid worlds other than the maze
LOCKSTEP_PROBES = 256
#: random steps after which drawing gives up (a world with fewer distinct states)
_MAX_LOCKSTEP_STEPS = 100 * LOCKSTEP_PROBES


@dataclass(frozen=True)
class ProbeSet:
    """Probe states of one scenario and tier.

    Attributes:
        source: each state as the source renders it, (num_probes, *source_obs_shape) float32.
        target: the same states as the target renders them, (num_probes, *target_obs_shape).
        cells: the agent's cell (``8 * row + col``) in each state, (num_probes,).
        groups: index into ``group_names`` of each state (the maze's rooms), (num_probes,).
        group_names: what the groups are, for plot legends.
        description: how the states were drawn, one line.
    """

    source: np.ndarray
    target: np.ndarray
    cells: np.ndarray
    groups: np.ndarray
    group_names: tuple[str, ...]
    description: str

    def __len__(self) -> int:
        return int(self.source.shape[0])


def probe_set(scenario: Scenario, tier: str) -> ProbeSet | None:
    """The probe states of ``scenario`` in ``tier`` (its envs made as the tier makes them), or
    ``None`` when the scenario has none (see the module docstring)."""
    sources = scenario.sources_for(tier)
    if len(sources) != 1:
        return None
    source_env = sources[0].make()
    target_env = scenario.target_for(tier).make()
    try:
        source, target = source_env.unwrapped, target_env.unwrapped
        if not isinstance(source, GridWorldEnv) or type(source) is not type(target):
            return None
        assert isinstance(target, GridWorldEnv)
        from tlbench.envs.maze import MazeEnv

        if isinstance(source, MazeEnv):
            return _maze_cells(source, target)
        return _lockstep(source_env, target_env)
    finally:
        source_env.close()
        target_env.close()


def _maze_cells(source: GridWorldEnv, target: GridWorldEnv) -> ProbeSet:
    """The agent on every free cell of the maze. The goal (the maze's only key) is not drawn by
    either emission, so the states carry no key."""
    from tlbench.envs.maze import FREE_CELLS, WALLS

    cells = np.asarray(FREE_CELLS, dtype=np.int64)
    n = len(cells)
    kinds = cell_kinds(np.full(n, WALLS, np.uint64), np.zeros(n, np.uint64), cells)
    cols = cells % SIZE
    groups = np.where(cols < 4, 0, np.where(cols > 4, 1, 2)).astype(np.int64)
    return ProbeSet(
        source=source.emission.render(kinds),
        target=target.emission.render(kinds),
        cells=cells,
        groups=groups,
        group_names=("left room", "right room", "doorway"),
        description=f"the agent on each of the maze's {n} free cells",
    )


def _lockstep(source_env: Any, target_env: Any) -> ProbeSet:
    """Distinct states of seeded random play, the source and target envs stepped together."""
    target = target_env.unwrapped
    rng = np.random.default_rng(PROBE_SEED)
    n_actions = int(source_env.action_space.n)
    seen: set[bytes] = set()
    sources: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    episode, steps = 0, 0
    obs_s, _ = source_env.reset(seed=PROBE_SEED)
    obs_t, _ = target_env.reset(seed=PROBE_SEED)
    while len(sources) < LOCKSTEP_PROBES and steps < _MAX_LOCKSTEP_STEPS:
        expected = source_env.unwrapped.render_observation(
            inverse=target.inverse, obs_mode=target.obs_mode
        )
        if not np.array_equal(expected, obs_t):
            raise RuntimeError(
                f"probe states: after {steps} steps of seeded random play the target "
                f"{target_env.spec.id if target_env.spec else target_env} is not in the source's "
                "state; alignment needs a source and target with the same maps and dynamics "
                "for the same seed"
            )
        key = np.asarray(obs_s).tobytes()
        if key not in seen:
            seen.add(key)
            sources.append(np.asarray(obs_s, np.float32))
            targets.append(np.asarray(obs_t, np.float32))
        action = int(rng.integers(n_actions))
        obs_s, _, term_s, trunc_s, _ = source_env.step(action)
        obs_t, _, _, _, _ = target_env.step(action)
        steps += 1
        if term_s or trunc_s:
            episode += 1
            obs_s, _ = source_env.reset(seed=PROBE_SEED + episode)
            obs_t, _ = target_env.reset(seed=PROBE_SEED + episode)
    n = len(sources)
    return ProbeSet(
        source=np.stack(sources),
        target=np.stack(targets),
        cells=np.full(n, -1, np.int64),
        groups=np.zeros(n, np.int64),
        group_names=("probe state",),
        description=f"{n} distinct states of seeded random play (seed {PROBE_SEED})",
    )
