"""Tests over every registered tlbench id: conformance, determinism, pickling.

The generic tests run over every id with random actions sampled from its own (seeded) action
space; rollouts of the PyBullet envs are shorter, their physics costing far more per step.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tlbench
from tlbench.envs import env_info
from tlbench.envs.labyrinth import MetaLabyrinthEnv

GRID_IDS = tlbench.env_ids("grid")
BULLET_IDS = tlbench.env_ids("bullet")

# Every id with every observation / reward mode it offers.
GRID_VARIANTS: list[tuple[str, dict[str, Any]]] = [(env_id, {}) for env_id in GRID_IDS] + [
    ("tlbench/Maze-v0", {"obs_mode": "pixels"}),
    ("tlbench/InverseMaze-v0", {"obs_mode": "pixels"}),
    ("tlbench/Maze-v0", {"reward_mode": "none"}),
    ("tlbench/MetaLabyrinth-v0", {"obs_mode": "grid"}),
    ("tlbench/InverseMetaLabyrinth-v0", {"obs_mode": "grid"}),
    ("tlbench/MetaLabyrinth-v0", {"layout": "original"}),
]
# State observations one action per frame, and the paper tier's pixels with action repeat 2.
BULLET_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    (env_id, kwargs)
    for env_id in BULLET_IDS
    for kwargs in ({}, {"obs_mode": "pixels", "action_repeat": 2})
]
VARIANTS = GRID_VARIANTS + BULLET_VARIANTS


def _variant_id(env_id: str, kwargs: dict[str, Any]) -> str:
    return f"{env_id}{'-' + '-'.join(map(str, kwargs.values())) if kwargs else ''}"


VARIANT_IDS = [_variant_id(env_id, kwargs) for env_id, kwargs in VARIANTS]
GRID_VARIANT_IDS = [_variant_id(env_id, kwargs) for env_id, kwargs in GRID_VARIANTS]
RENDER_SHAPES = {"grid": (192, 192, 3), "bullet": (256, 256, 3)}
#: steps of a random rollout: long for the grid worlds, short for the PyBullet envs
ROLLOUT_STEPS = {"grid": 10_000, "bullet": 300}


def random_actions(env: gym.Env[Any, Any], n: int, seed: int) -> list[Any]:
    """``n`` actions sampled from ``env``'s action space, seeded."""
    space = env.action_space
    space.seed(seed)
    return [space.sample() for _ in range(n)]


def test_registry_lists_the_grid_worlds_and_the_bullet_envs() -> None:
    assert GRID_IDS == [
        "tlbench/Maze-v0",
        "tlbench/InverseMaze-v0",
        "tlbench/MetaLabyrinth-v0",
        "tlbench/InverseMetaLabyrinth-v0",
    ]
    assert BULLET_IDS == [
        "tlbench/HalfCheetah-v0",
        "tlbench/Hopper-v0",
        "tlbench/Walker2D-v0",
        "tlbench/Ant-v0",
        "tlbench/InvertedPendulumSwingup-v0",
        "tlbench/InvertedDoublePendulumSwingup-v0",
    ]
    assert tlbench.env_ids() == GRID_IDS + BULLET_IDS
    for env_id in tlbench.env_ids():
        assert env_id in gym.registry
        assert env_info(env_id).description
    with pytest.raises(ValueError, match="unknown env family 'mujoco'"):
        tlbench.env_ids("mujoco")


def test_unknown_env_id_suggests_the_nearest() -> None:
    with pytest.raises(KeyError, match="did you mean 'tlbench/InverseMaze-v0'"):
        env_info("tlbench/InvrseMaze-v0")


@pytest.mark.parametrize(("env_id", "kwargs"), VARIANTS, ids=VARIANT_IDS)
def test_gymnasium_env_checker_passes_without_warnings(env_id: str, kwargs: dict) -> None:
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == RENDER_SHAPES[env_info(env_id).family]
    env.close()


@pytest.mark.parametrize(("env_id", "kwargs"), GRID_VARIANTS, ids=GRID_VARIANT_IDS)
def test_vector_env_pickle_round_trip_continues_identically(env_id: str, kwargs: dict) -> None:
    vec = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
    vec.reset(seed=1)
    vec_clone = pickle.loads(pickle.dumps(vec))
    for a in np.random.default_rng(0).integers(0, 4, (60, 2)):
        np.testing.assert_array_equal(vec.step(a)[0], vec_clone.step(a)[0])


@pytest.mark.parametrize(("env_id", "kwargs"), VARIANTS, ids=VARIANT_IDS)
def test_pickle_round_trip_continues_identically(env_id: str, kwargs: dict) -> None:
    """A pickled env, mid-episode, continues bit for bit as the original, resets included."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=3)
    actions = random_actions(env, 300 if env_info(env_id).family == "grid" else 150, seed=0)
    for a in actions[:20]:
        if any(env.step(a)[2:4]):
            env.reset()
    clone = pickle.loads(pickle.dumps(env))
    for a in actions[20:]:
        out_a, out_b = env.step(a), clone.step(a)
        np.testing.assert_array_equal(out_a[0], out_b[0])
        assert out_a[1:] == out_b[1:]  # reward, terminated, truncated, info
        if out_a[2] or out_a[3]:
            np.testing.assert_array_equal(env.reset()[0], clone.reset()[0])
    env.close()
    clone.close()


_ROLLOUT = """
import hashlib, json, sys
import gymnasium as gym, numpy as np, tlbench
out = {}
for env_id, kwargs, steps in json.loads(sys.argv[1]):
    env = gym.make(env_id, **kwargs)
    digest = hashlib.sha256()
    obs, _ = env.reset(seed=123)
    digest.update(obs.tobytes())
    env.action_space.seed(7)
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        digest.update(obs.tobytes() + repr((float(reward), terminated, truncated)).encode())
        if terminated or truncated:
            obs, _ = env.reset()
            digest.update(obs.tobytes())
    env.close()
    out[env_id + json.dumps(kwargs)] = digest.hexdigest()
print(json.dumps(out))
"""


def test_same_seed_same_actions_identical_in_two_processes() -> None:
    arg = json.dumps(
        [[env_id, kwargs, ROLLOUT_STEPS[env_info(env_id).family]] for env_id, kwargs in VARIANTS]
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ROLLOUT, arg],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [proc.communicate() for proc in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    first, second = (json.loads(out) for out, _ in outs)
    assert len(first) == len(VARIANTS)
    assert first == second


@pytest.mark.parametrize("env_id", ["tlbench/MetaLabyrinth-v0", "tlbench/InverseMetaLabyrinth-v0"])
def test_different_seeds_give_different_first_labyrinths(env_id: str) -> None:
    env = gym.make(env_id)
    firsts = {env.reset(seed=s)[0].tobytes() for s in range(20)}
    assert len(firsts) == 20
    # ... and the same seed the same labyrinth
    np.testing.assert_array_equal(env.reset(seed=5)[0], env.reset(seed=5)[0])


def test_normal_and_inverse_labyrinths_draw_the_same_mazes() -> None:
    normal = gym.make("tlbench/MetaLabyrinth-v0", obs_mode="grid")
    inverse = gym.make("tlbench/InverseMetaLabyrinth-v0", obs_mode="grid")
    for seed in range(10):
        np.testing.assert_array_equal(inverse.reset(seed=seed)[0], -normal.reset(seed=seed)[0])


def test_time_limits_come_from_the_registration() -> None:
    assert gym.make("tlbench/Maze-v0").spec.max_episode_steps == 100
    assert gym.make("tlbench/MetaLabyrinth-v0").spec.max_episode_steps == 50
    for env_id in BULLET_IDS:
        assert env_info(env_id).max_episode_steps == 1000  # as PyBullet registers its envs


def test_bad_constructor_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="unknown obs_mode 'rgb'"):
        gym.make("tlbench/Maze-v0", obs_mode="rgb")
    with pytest.raises(ValueError, match="unknown reward_mode 'dense'"):
        gym.make("tlbench/Maze-v0", reward_mode="dense")
    with pytest.raises(ValueError, match="unknown obs_mode 'lowdim'"):
        gym.make("tlbench/MetaLabyrinth-v0", obs_mode="lowdim")
    with pytest.raises(ValueError, match="unknown render_mode 'human'"):
        MetaLabyrinthEnv(render_mode="human")  # gym.make would wrap it in HumanRendering


@pytest.mark.parametrize("env_id", ["tlbench/Maze-v0", "tlbench/Hopper-v0"])
def test_rollout_digest_is_sensitive_to_the_seed(env_id: str) -> None:
    """Guards the two-process test: a different seed must change the digest."""

    def digest(seed: int) -> str:
        env = gym.make(env_id)
        h = hashlib.sha256(env.reset(seed=seed)[0].tobytes())
        for a in random_actions(env, 20, seed=0):
            h.update(env.step(a)[0].tobytes())
        env.close()
        return h.hexdigest()

    assert digest(0) == digest(0)
    assert len({digest(s) for s in range(5)}) > 1  # (two maze seeds may draw one start cell)


def test_cli_lists_every_env_with_a_description() -> None:
    from typer.testing import CliRunner

    from tlbench.cli import app

    result = CliRunner().invoke(app, ["envs"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    for env_id in tlbench.env_ids():
        (line,) = [ln for ln in lines if ln.startswith(env_id + " ")]
        assert env_info(env_id).description in line
    help_text = CliRunner().invoke(app, ["--help"]).stdout
    for command in ("envs", "list", "show", "evaluate"):
        assert command in help_text
