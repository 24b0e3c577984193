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
    #: the engine behind the id: ``"grid"`` (the 8x8 grid worlds) or ``"bullet"`` (PyBullet)
    family: str
    max_episode_steps: int | None = None
    vector_entry_point: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


_MAZE = "tlbench.envs.maze"
_LAB = "tlbench.envs.labyrinth"
_WALK = "tlbench.envs.bullet.locomotion:LocomotionEnv"
_SWING = "tlbench.envs.bullet.pendulum:PendulumSwingupEnv"
#: PyBullet registers its envs with 1000 steps; tlbench's envs also end episodes at 1000 frames
_BULLET_STEPS = 1000

ENVS: tuple[EnvInfo, ...] = (
    EnvInfo(
        "tlbench/Maze-v0",
        f"{_MAZE}:MazeEnv",
        "8x8 two-room maze: reach the goal (1x8x8 obs; pixels option)",
        "grid",
        max_episode_steps=100,
        vector_entry_point=f"{_MAZE}:MazeVectorEnv",
        kwargs={"inverse": False},
    ),
    EnvInfo(
        "tlbench/InverseMaze-v0",
        f"{_MAZE}:MazeEnv",
        "the maze with negated observations (same dynamics)",
        "grid",
        max_episode_steps=100,
        vector_entry_point=f"{_MAZE}:MazeVectorEnv",
        kwargs={"inverse": True},
    ),
    EnvInfo(
        "tlbench/MetaLabyrinth-v0",
        f"{_LAB}:MetaLabyrinthEnv",
        "new random 8x8 maze with 3 keys per episode (48x48 px)",
        "grid",
        max_episode_steps=50,
        vector_entry_point=f"{_LAB}:MetaLabyrinthVectorEnv",
        kwargs={"inverse": False},
    ),
    EnvInfo(
        "tlbench/InverseMetaLabyrinth-v0",
        f"{_LAB}:MetaLabyrinthEnv",
        "the labyrinth with negated observations (same mazes)",
        "grid",
        max_episode_steps=50,
        vector_entry_point=f"{_LAB}:MetaLabyrinthVectorEnv",
        kwargs={"inverse": True},
    ),
    EnvInfo(
        "tlbench/HalfCheetah-v0",
        _WALK,
        "PyBullet's HalfCheetah: run forward (26-dim state or 64x64 px)",
        "bullet",
        max_episode_steps=_BULLET_STEPS,
        kwargs={"robot": "halfcheetah"},
    ),
    EnvInfo(
        "tlbench/Hopper-v0",
        _WALK,
        "PyBullet's Hopper: hop forward without falling (15-dim state or 64x64 px)",
        "bullet",
        max_episode_steps=_BULLET_STEPS,
        kwargs={"robot": "hopper"},
    ),
    EnvInfo(
        "tlbench/Walker2D-v0",
        _WALK,
        "PyBullet's Walker2D: walk forward without falling (22-dim state or 64x64 px)",
        "bullet",
        max_episode_steps=_BULLET_STEPS,
        kwargs={"robot": "walker2d"},
    ),
    EnvInfo(
        "tlbench/Ant-v0",
        _WALK,
        "PyBullet's Ant: walk forward on four legs (28-dim state or 64x64 px)",
        "bullet",
        max_episode_steps=_BULLET_STEPS,
        kwargs={"robot": "ant"},
    ),
    EnvInfo(
        "tlbench/InvertedPendulumSwingup-v0",
        _SWING,
        "cart-pole swing-up: raise the hanging pole and balance it (5-dim state or 64x64 px)",
        "bullet",
        max_episode_steps=_BULLET_STEPS,
        kwargs={"poles": 1},
    ),
    EnvInfo(
        "tlbench/InvertedDoublePendulumSwingup-v0",
        _SWING,
        "double cart-pole swing-up: raise both hanging poles (9-dim state or 64x64 px)",
        "bullet",
        max_episode_steps=_BULLET_STEPS,
        kwargs={"poles": 2},
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


def env_ids(family: str | None = None) -> list[str]:
    """Every tlbench env id (of ``family``, ``"grid"`` or ``"bullet"``, if given), in order.

    >>> env_ids()[:2]
    ['tlbench/Maze-v0', 'tlbench/InverseMaze-v0']
    >>> env_ids("bullet")[:2]
    ['tlbench/HalfCheetah-v0', 'tlbench/Hopper-v0']
    """
    families = {info.family for info in ENVS}
    if family is not None and family not in families:
        raise ValueError(f"unknown env family {family!r}; choose one of {sorted(families)}")
    return [info.id for info in ENVS if family is None or info.family == family]


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
