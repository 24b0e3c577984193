"""tlbench's environments and their registration with Gymnasium.

One list of ids (:data:`ENVS`) and one function that registers them (:func:`register_envs`, run
by ``import tlbench``). Entry points are strings, so nothing is imported until an env is made.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym


@dataclass(frozen=True)
class EnvInfo:
    """One registered environment id."""

    id: str
    entry_point: str
    description: str
    max_episode_steps: int | None = None
    vector_entry_point: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


_MAZE = "tlbench.envs.maze"
_LAB = "tlbench.envs.labyrinth"

ENVS: tuple[EnvInfo, ...] = (
    EnvInfo(
        "tlbench/Maze-v0",
        f"{_MAZE}:MazeEnv",
        "8x8 two-room maze: reach the goal (1x8x8 obs; pixels option)",
        max_episode_steps=100,
        vector_entry_point=f"{_MAZE}:MazeVectorEnv",
        kwargs={"inverse": False},
    ),
    EnvInfo(
        "tlbench/InverseMaze-v0",
        f"{_MAZE}:MazeEnv",
        "the maze with negated observations (same dynamics)",
        max_episode_steps=100,
        vector_entry_point=f"{_MAZE}:MazeVectorEnv",
        kwargs={"inverse": True},
    ),
    EnvInfo(
        "tlbench/MetaLabyrinth-v0",
        f"{_LAB}:MetaLabyrinthEnv",
        "new random 8x8 maze with 3 keys per episode (48x48 px)",
        max_episode_steps=50,
        vector_entry_point=f"{_LAB}:MetaLabyrinthVectorEnv",
        kwargs={"inverse": False},
    ),
    EnvInfo(
        "tlbench/InverseMetaLabyrinth-v0",
        f"{_LAB}:MetaLabyrinthEnv",
        "the labyrinth with negated observations (same mazes)",
        max_episode_steps=50,
        vector_entry_point=f"{_LAB}:MetaLabyrinthVectorEnv",
        kwargs={"inverse": True},
    ),
)


def register_envs() -> None:
    """Register every id of :data:`ENVS` with Gymnasium (idempotent)."""
    for info in ENVS:
        if info.id in gym.registry:
            continue
        gym.register(
            id=info.id,
            entry_point=info.entry_point,
            vector_entry_point=info.vector_entry_point,
            max_episode_steps=info.max_episode_steps,
            kwargs=dict(info.kwargs),
        )


def env_ids() -> list[str]:
    """Every tlbench env id, in registration order.

    >>> env_ids()[:2]
    ['tlbench/Maze-v0', 'tlbench/InverseMaze-v0']
    """
    return [info.id for info in ENVS]


def env_info(env_id: str) -> EnvInfo:
    """The :class:`EnvInfo` of ``env_id``; an unknown id raises a ``KeyError`` naming the nearest.

    >>> env_info("tlbench/Maze-v0").max_episode_steps
    100
    >>> env_info("tlbench/Mze-v0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    KeyError: "unknown env id 'tlbench/Mze-v0'; did you mean 'tlbench/Maze-v0'? (...)"
    """
    for info in ENVS:
        if info.id == env_id:
            return info
    raise KeyError(
        f"unknown env id {env_id!r}{suggest(env_id, env_ids())} (`tlbench envs` lists them all)"
    )


def suggest(name: str, choices: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest of ``choices``, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""
