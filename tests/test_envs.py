"""Tests over every registered tlbench grid-world id: conformance, determinism, pickling."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tlbench
from tlbench.envs import env_info
from tlbench.envs.labyrinth import MetaLabyrinthEnv

# Every id with every observation / reward mode it offers.
VARIANTS = [(env_id, {}) for env_id in tlbench.env_ids()] + [
    ("tlbench/Maze-v0", {"obs_mode": "pixels"}),
    ("tlbench/InverseMaze-v0", {"obs_mode": "pixels"}),
    ("tlbench/Maze-v0", {"reward_mode": "none"}),
    ("tlbench/MetaLabyrinth-v0", {"obs_mode": "grid"}),
    ("tlbench/InverseMetaLabyrinth-v0", {"obs_mode": "grid"}),
]
VARIANT_IDS = [f"{i}{'-' + '-'.join(map(str, kw.values())) if kw else ''}" for i, kw in VARIANTS]


def test_registry_lists_the_four_grid_worlds() -> None:
    assert tlbench.env_ids()[:4] == [
        "tlbench/Maze-v0",
        "tlbench/InverseMaze-v0",
        "tlbench/MetaLabyrinth-v0",
        "tlbench/InverseMetaLabyrinth-v0",
    ]
    for env_id in tlbench.env_ids():
        assert env_id in gym.registry
        assert env_info(env_id).description


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
    assert frame.dtype == np.uint8 and frame.shape == (192, 192, 3)


@pytest.mark.parametrize(("env_id", "kwargs"), VARIANTS, ids=VARIANT_IDS)
def test_pickle_round_trip_continues_identically(env_id: str, kwargs: dict) -> None:
    vec = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
    vec.reset(seed=1)
    vec_clone = pickle.loads(pickle.dumps(vec))
    for a in np.random.default_rng(0).integers(0, 4, (60, 2)):
        np.testing.assert_array_equal(vec.step(a)[0], vec_clone.step(a)[0])

    env = gym.make(env_id, **kwargs)
    env.reset(seed=3)
    actions = np.random.default_rng(0).integers(0, 4, 300)
    for a in actions[:20]:
        env.step(int(a))
    clone = pickle.loads(pickle.dumps(env))
    for a in actions[20:]:
        out_a, out_b = env.step(int(a)), clone.step(int(a))
        np.testing.assert_array_equal(out_a[0], out_b[0])
        assert out_a[1:4] == out_b[1:4]
        if out_a[2] or out_a[3]:
            np.testing.assert_array_equal(env.reset()[0], clone.reset()[0])


_ROLLOUT = """
import hashlib, json, sys
import gymnasium as gym, numpy as np, tlbench
out = {}
for env_id, kwargs in json.loads(sys.argv[1]):
    env = gym.make(env_id, **kwargs)
    digest = hashlib.sha256()
    obs, _ = env.reset(seed=123)
    digest.update(obs.tobytes())
    for a in np.random.default_rng(7).integers(0, 4, 10_000):
        obs, reward, terminated, truncated, _ = env.step(int(a))
        digest.update(obs.tobytes() + repr((float(reward), terminated, truncated)).encode())
        if terminated or truncated:
            obs, _ = env.reset()
            digest.update(obs.tobytes())
    out[env_id + json.dumps(kwargs)] = digest.hexdigest()
print(json.dumps(out))
"""


def test_same_seed_same_actions_identical_in_two_processes() -> None:
    arg = json.dumps(VARIANTS)
    runs = [
        subprocess.run(
            [sys.executable, "-c", _ROLLOUT, arg], capture_output=True, text=True, check=True
        )
        for _ in range(2)
    ]
    first, second = (json.loads(r.stdout) for r in runs)
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


def test_bad_constructor_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="unknown obs_mode 'rgb'"):
        gym.make("tlbench/Maze-v0", obs_mode="rgb")
    with pytest.raises(ValueError, match="unknown reward_mode 'dense'"):
        gym.make("tlbench/Maze-v0", reward_mode="dense")
    with pytest.raises(ValueError, match="unknown obs_mode 'lowdim'"):
        gym.make("tlbench/MetaLabyrinth-v0", obs_mode="lowdim")
    with pytest.raises(ValueError, match="unknown render_mode 'human'"):
        MetaLabyrinthEnv(render_mode="human")  # gym.make would wrap it in HumanRendering


def test_rollout_digest_is_sensitive_to_the_seed() -> None:
    """Guards the two-process test: a different seed must change the digest."""

    def digest(seed: int) -> str:
        env = gym.make("tlbench/Maze-v0")
        h = hashlib.sha256(env.reset(seed=seed)[0].tobytes())
        for a in range(50):
            h.update(env.step(a % 4)[0].tobytes())
        return h.hexdigest()

    assert digest(0) == digest(0)
    assert len({digest(s) for s in range(10)}) > 1


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
