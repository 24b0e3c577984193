"""The PyBullet envs against ../shared/specs/environments.md (section 3) and PyBullet's own envs.

Reward terms are recomputed here from PyBullet's state, read with the test's own calls (joint
states, link states, contact points), and compared with what the envs report.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest

import tlbench
from tlbench.envs.bullet.locomotion import LocomotionEnv
from tlbench.envs.bullet.pendulum import PendulumSwingupEnv
from tlbench.envs.errors import InvalidActionError

WALKER_IDS = [
    "tlbench/HalfCheetah-v0",
    "tlbench/Hopper-v0",
    "tlbench/Walker2D-v0",
    "tlbench/Ant-v0",
]
SWINGUP_IDS = ["tlbench/InvertedPendulumSwingup-v0", "tlbench/InvertedDoublePendulumSwingup-v0"]
DT = 0.0165
# State and action sizes of PyBullet's envs: 8 + 2 * joints + feet.
SIZES = {
    "tlbench/HalfCheetah-v0": (26, 6),
    "tlbench/Hopper-v0": (15, 3),
    "tlbench/Walker2D-v0": (22, 6),
    "tlbench/Ant-v0": (28, 8),
    "tlbench/InvertedPendulumSwingup-v0": (5, 1),
    "tlbench/InvertedDoublePendulumSwingup-v0": (9, 1),
}


def walker(env: gym.Env[Any, Any]) -> LocomotionEnv:
    base = env.unwrapped
    assert isinstance(base, LocomotionEnv)
    return base


def swingup(env: gym.Env[Any, Any]) -> PendulumSwingupEnv:
    base = env.unwrapped
    assert isinstance(base, PendulumSwingupEnv)
    return base


def body_centre(w: LocomotionEnv) -> tuple[float, float]:
    """Mean x, y of the robot's parts and the floor, read with the test's own PyBullet calls."""
    c = w.physics_client
    positions = [
        p.getLinkState(w.robot_id, j, physicsClientId=c)[0]
        for j in range(p.getNumJoints(w.robot_id, physicsClientId=c))
    ]
    names = [p.getJointInfo(w.robot_id, j, physicsClientId=c)[12] for j in range(len(positions))]
    if b"torso" not in names:  # the Ant: its base is the torso, a part of the robot
        positions.append(p.getBasePositionAndOrientation(w.robot_id, physicsClientId=c)[0])
    positions.append(p.getBasePositionAndOrientation(w.floor_id, physicsClientId=c)[0])
    xy = np.array(positions)[:, :2].mean(axis=0)
    return float(xy[0]), float(xy[1])


def potential(w: LocomotionEnv) -> float:
    x, y = body_centre(w)
    return -math.hypot(1000.0 - x, 0.0 - y) / DT


def torso_z_pitch(w: LocomotionEnv) -> tuple[float, float]:
    c = w.physics_client
    names = [
        p.getJointInfo(w.robot_id, j, physicsClientId=c)[12]
        for j in range(p.getNumJoints(w.robot_id, physicsClientId=c))
    ]
    if b"torso" in names:
        pos, orn = p.getLinkState(w.robot_id, names.index(b"torso"), physicsClientId=c)[:2]
    else:
        pos, orn = p.getBasePositionAndOrientation(w.robot_id, physicsClientId=c)
    return pos[2], p.getEulerFromQuaternion(orn)[1]


# -- spaces and observations --------------------------------------------------------------------


@pytest.mark.parametrize("env_id", WALKER_IDS + SWINGUP_IDS)
def test_spaces_have_pybullets_sizes(env_id: str) -> None:
    state_dim, action_dim = SIZES[env_id]
    env = gym.make(env_id)
    assert env.observation_space.shape == (state_dim,)
    assert env.observation_space.dtype == np.float32
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (action_dim,), np.float32)
    env.close()
    pixels = gym.make(env_id, obs_mode="pixels")
    assert pixels.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    obs, _ = pixels.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (64, 64, 3)
    assert obs.min() < 200 and obs.max() == 255  # something drawn on a white background
    pixels.close()


@pytest.mark.parametrize("env_id", WALKER_IDS)
def test_walker_observation_layout(env_id: str) -> None:
    env = gym.make(env_id)
    w = walker(env)
    obs, _ = env.reset(seed=1)
    n = len(w.motor_joints)
    c = w.physics_client
    assert obs[0] == 0.0  # height above the start height
    assert obs[1] == pytest.approx(0.0, abs=1e-3) and obs[2] == pytest.approx(1.0, abs=1e-6)
    joints = p.getJointStates(w.robot_id, w.motor_joints, physicsClientId=c)
    for i, joint in enumerate(w.motor_joints):
        lower, upper = p.getJointInfo(w.robot_id, joint, physicsClientId=c)[8:10]
        scaled = 2 * (joints[i][0] - 0.5 * (lower + upper)) / (upper - lower)
        assert obs[8 + 2 * i] == pytest.approx(np.clip(scaled, -5, 5), abs=1e-6)
        assert obs[9 + 2 * i] == 0.0  # at rest
        # the start angle is within 0.1 rad of the model's zero
        assert abs(joints[i][0]) <= 0.1
    assert np.all(obs[8 + 2 * n :] == 0.0)  # no foot contact at reset
    for _ in range(60):
        obs, *_ = env.step(np.zeros(n, np.float32))
    touching = {cp[3] for cp in p.getContactPoints(w.robot_id, w.floor_id, physicsClientId=c)}
    names = [
        p.getJointInfo(w.robot_id, j, physicsClientId=c)[12].decode()
        for j in range(p.getNumJoints(w.robot_id, physicsClientId=c))
    ]
    expected = [1.0 if names.index(f) in touching else 0.0 for f in w.walker.feet]
    np.testing.assert_array_equal(obs[8 + 2 * n :], expected)
    assert sum(expected) >= 1  # after a second, something touches the floor
    env.close()


# -- rewards -------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", WALKER_IDS)
def test_walker_reward_terms_match_their_definitions(env_id: str) -> None:
    env = gym.make(env_id)
    w = walker(env)
    env.reset(seed=2)
    c = w.physics_client
    rng = np.random.default_rng(0)
    before = potential(w)
    for _ in range(25):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        _, reward, terminated, _, info = env.step(action)
        terms = info["reward_terms"]
        assert reward == pytest.approx(sum(terms.values()), abs=1e-9)
        # progress: the potential difference, phi = -distance to (1000, 0) / dt
        after = potential(w)
        assert terms["progress"] == pytest.approx(after - before, abs=1e-6)
        before = after
        # electricity: -2 mean|a * 0.1 * joint speed| - 0.1 mean a^2
        joints = p.getJointStates(w.robot_id, w.motor_joints, physicsClientId=c)
        speed = 0.1 * np.array([j[1] for j in joints])
        a = action.astype(np.float64)
        assert terms["electricity"] == pytest.approx(
            -2.0 * np.abs(a * speed).mean() - 0.1 * np.square(a).mean(), abs=1e-9
        )
        # joints at limit: -0.1 per joint beyond 0.99 of its half range
        at_limit = 0
        for i, joint in enumerate(w.motor_joints):
            lower, upper = p.getJointInfo(w.robot_id, joint, physicsClientId=c)[8:10]
            at_limit += abs(2 * (joints[i][0] - 0.5 * (lower + upper)) / (upper - lower)) > 0.99
        assert terms["joints_at_limit"] == pytest.approx(-0.1 * at_limit)
        assert terms["alive"] in (1.0, -1.0)
        if terminated:
            break
    env.close()


# The Ant needs torque to stand: this one pushes its feet down (ankles 1 and 4 bend one way,
# 2 and 3 the other); without torque it sinks onto its torso (see the next test).
ANT_STANCE = np.array([0, 1, 0, -1, 0, -1, 0, 1], np.float32) * 0.3


@pytest.mark.parametrize(
    ("env_id", "stance", "tolerance"),
    [
        ("tlbench/HalfCheetah-v0", np.zeros(6, np.float32), 5e-3),
        ("tlbench/Ant-v0", ANT_STANCE, 2e-2),  # its feet jitter under the stance torque
    ],
)
def test_standing_still_earns_no_progress(
    env_id: str, stance: np.ndarray, tolerance: float
) -> None:
    """A constant action on flat ground: once the robot has settled, progress is ~0 per frame
    (walking pays about 1 per frame per m/s)."""
    env = gym.make(env_id)
    env.reset(seed=0)
    for _ in range(200):  # settle
        env.step(stance)
    progress = []
    for _ in range(100):
        _, _, terminated, _, info = env.step(stance)
        assert not terminated
        progress.append(info["reward_terms"]["progress"])
    assert np.abs(progress).max() < tolerance
    assert abs(np.mean(progress)) < tolerance / 4
    env.close()


def test_ant_without_torque_sinks_and_terminates() -> None:
    env = gym.make("tlbench/Ant-v0")
    w = walker(env)
    env.reset(seed=0)
    for _ in range(100):
        _, _, terminated, _, info = env.step(np.zeros(8, np.float32))
        z, _ = torso_z_pitch(w)
        assert terminated == (not z > 0.26)
        assert info["reward_terms"]["electricity"] == 0.0  # no action, no cost
        if terminated:
            break
    assert terminated and info["reward_terms"]["alive"] == -1.0
    env.close()


def test_moving_forward_earns_progress_at_its_speed() -> None:
    """Sliding the Hopper forward at 1 m/s (its root slide joint) earns ~n/(n+1) per frame."""
    env = gym.make("tlbench/Hopper-v0")
    w = walker(env)
    env.reset(seed=0)
    c = w.physics_client
    n_parts = p.getNumJoints(w.robot_id, physicsClientId=c)  # one part per link: 10
    x0 = p.getJointState(w.robot_id, 0, physicsClientId=c)[0]  # the root slide along x
    p.resetJointState(w.robot_id, 0, x0, 1.0, physicsClientId=c)
    _, _, _, _, info = env.step(np.zeros(3, np.float32))
    assert info["reward_terms"]["progress"] == pytest.approx(n_parts / (n_parts + 1), rel=0.05)
    env.close()


@pytest.mark.parametrize("env_id", ["tlbench/Hopper-v0", "tlbench/Walker2D-v0"])
def test_a_fall_ends_hopper_and_walker_episodes(env_id: str) -> None:
    env = gym.make(env_id)
    w = walker(env)
    # Without torque the robot collapses: the episode terminates, with the alive term -1, at the
    # first frame where the torso is at most 0.8 m high or tilted by 1 rad or more.
    env.reset(seed=0)
    zero = np.zeros(env.action_space.shape, np.float32)
    for step in range(1, 1000):  # noqa: B007 (step is read after the loop)
        _, _, terminated, truncated, info = env.step(zero)
        z, pitch = torso_z_pitch(w)
        fallen = not (z > 0.8 and abs(pitch) < 1.0)
        assert terminated == fallen
        assert info["reward_terms"]["alive"] == (-1.0 if fallen else 1.0)
        if terminated:
            break
    assert terminated and not truncated and step < 200
    # Pushed over: tilt the torso by 1.2 rad (the root hinge about y); the next step ends it.
    env.reset(seed=1)
    p.resetJointState(w.robot_id, 2, 1.2, 0.0, physicsClientId=w.physics_client)
    _, _, terminated, _, info = env.step(zero)
    assert terminated and info["reward_terms"]["alive"] == -1.0
    env.close()


def test_halfcheetah_never_terminates_but_pays_for_a_flip() -> None:
    env = gym.make("tlbench/HalfCheetah-v0")
    w = walker(env)
    env.reset(seed=0)
    p.resetJointState(w.robot_id, 2, 2.0, 0.0, physicsClientId=w.physics_client)  # on its back
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(np.zeros(6, np.float32))
        assert not terminated and not truncated
    assert info["reward_terms"]["alive"] == -1.0
    env.close()


@pytest.mark.parametrize("env_id", SWINGUP_IDS)
def test_swingup_starts_hanging_and_never_terminates(env_id: str) -> None:
    env = gym.make(env_id)
    cos_theta = 2 if env_id == SWINGUP_IDS[0] else 3
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        assert obs[cos_theta] < -0.99  # cos(pi + U(-0.1, 0.1)) <= -cos(0.1) = -0.995
    env.action_space.seed(0)
    steps = 0
    while True:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        assert not terminated
        if truncated:
            break
    assert steps == 1000
    env.close()


@pytest.mark.parametrize("env_id", SWINGUP_IDS)
def test_swingup_reward_is_the_cosines_of_the_hinge_angles(env_id: str) -> None:
    env = gym.make(env_id)
    s = swingup(env)
    env.reset(seed=4)
    c = s.physics_client
    env.action_space.seed(1)
    for _ in range(200):
        _, reward, _, _, info = env.step(env.action_space.sample())
        angles = [p.getJointState(s.robot_id, h, physicsClientId=c)[0] for h in s.hinges]
        # one pole: cos(theta); two poles: cos(theta) + cos(gamma), gamma the second hinge angle
        assert reward == pytest.approx(sum(math.cos(a) for a in angles), abs=1e-12)
        assert list(info["reward_terms"].values()) == pytest.approx([math.cos(a) for a in angles])
    env.close()


def test_double_pendulum_reward_range_hanging_and_upright() -> None:
    env = gym.make("tlbench/InvertedDoublePendulumSwingup-v0")
    s = swingup(env)
    c = s.physics_client
    env.reset(seed=0)
    for hinge, angle in zip(s.hinges, (math.pi, 0.0), strict=True):
        p.resetJointState(s.robot_id, hinge, angle, 0.0, physicsClientId=c)
    _, hanging, *_ = env.step(np.zeros(1, np.float32))
    assert hanging == pytest.approx(0.0, abs=1e-3)  # cos(pi) + cos(0)
    env.reset(seed=0)
    for hinge in s.hinges:
        p.resetJointState(s.robot_id, hinge, 0.0, 0.0, physicsClientId=c)
    _, upright, *_ = env.step(np.zeros(1, np.float32))
    assert upright == pytest.approx(2.0, abs=1e-3)
    env.close()


# -- action repeat and the episode length --------------------------------------------------------


@pytest.mark.parametrize("env_id", ["tlbench/HalfCheetah-v0", "tlbench/InvertedPendulumSwingup-v0"])
def test_action_repeat_sums_the_frames_and_keeps_1000_frame_episodes(env_id: str) -> None:
    once = gym.make(env_id)
    twice = gym.make(env_id, action_repeat=2)
    once.reset(seed=5)
    twice.reset(seed=5)
    for v in (0.5, -0.3, 0.8):
        a = np.full(once.action_space.shape, v, np.float32)
        _, r1a, *_ = once.step(a)
        obs1, r1b, *_ = once.step(a)
        obs2, r2, *_ = twice.step(a)
        assert r2 == pytest.approx(r1a + r1b, abs=1e-9)
        np.testing.assert_array_equal(obs1, obs2)
    steps = 3
    while True:
        *_, terminated, truncated, _ = twice.step(np.zeros(twice.action_space.shape, np.float32))
        steps += 1
        if terminated or truncated:
            break
    assert truncated and steps == 500 and twice.unwrapped.frames == 1000  # type: ignore[attr-defined]
    once.close()
    twice.close()


def test_action_repeat_stops_at_termination() -> None:
    env = gym.make("tlbench/Hopper-v0", action_repeat=4)
    w = walker(env)
    env.reset(seed=0)
    p.resetJointState(w.robot_id, 2, 1.2, 0.0, physicsClientId=w.physics_client)
    *_, terminated, _, info = env.step(np.zeros(3, np.float32))
    assert terminated and w.frames == 1 and info["reward_terms"]["alive"] == -1.0
    env.close()


# -- strict actions and arguments ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.zeros(2, np.float32), r"shape \(2,\).*shape \(3,\)"),
        (np.zeros((1, 3), np.float32), r"shape \(1, 3\)"),
        (np.zeros(3, np.int64), "dtype int64"),
        (np.zeros(3, bool), "dtype bool"),
        (np.zeros(3, np.complex64), "dtype complex64"),
        ([0, 0, 0], "dtype int64"),
        (0.5, r"invalid action 0\.5 \(float\)"),
        ("up", "invalid action 'up'"),
        (np.array([0.1, np.nan, 0.0], np.float32), "NaN or infinite"),
        (np.array([0.1, np.inf, 0.0]), "NaN or infinite"),
        (np.array([0.1, 1.5, 0.0], np.float32), r"must lie in \[-1, 1\]"),
        ([-1.01, 0.0, 0.0], r"must lie in \[-1, 1\]"),
    ],
)
def test_invalid_actions_are_rejected_with_a_named_error(action: object, message: str) -> None:
    env = gym.make("tlbench/Hopper-v0")
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=message) as info:
        env.step(action)
    assert "Box(-1.0, 1.0, (3,), float32)" in str(info.value)  # names the space
    env.close()


@pytest.mark.parametrize(
    "action",
    [
        np.zeros(3, np.float32),
        np.ones(3),
        -np.ones(3, np.float16),
        [0.5, -1.0, 1.0],
        (0.0, 0.1, 0.2),
    ],
)
def test_valid_actions_are_accepted(action: object) -> None:
    env = gym.make("tlbench/Hopper-v0")
    env.reset(seed=0)
    env.step(action)
    env.close()


def test_bad_constructor_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="unknown obs_mode 'rgb'"):
        gym.make("tlbench/Hopper-v0", obs_mode="rgb")
    with pytest.raises(ValueError, match="action_repeat must be a positive integer, got 0"):
        gym.make("tlbench/Ant-v0", action_repeat=0)
    with pytest.raises(ValueError, match=r"action_repeat must be a positive integer, got 2\.0"):
        gym.make("tlbench/Ant-v0", action_repeat=2.0)
    with pytest.raises(ValueError, match="unknown robot 'humanoid'"):
        LocomotionEnv(robot="humanoid")
    with pytest.raises(ValueError, match="poles must be 1 or 2, got 3"):
        PendulumSwingupEnv(poles=3)
    with pytest.raises(ValueError, match="unknown render_mode 'human'"):
        PendulumSwingupEnv(poles=1, render_mode="human")


# -- clients, seeds, closing --------------------------------------------------------------------


def test_many_envs_live_in_one_process_each_with_its_own_client() -> None:
    envs = [gym.make(env_id) for env_id in tlbench.env_ids("bullet") for _ in range(3)]
    clients = {e.unwrapped.physics_client for e in envs}  # type: ignore[attr-defined]
    assert len(clients) == len(envs)
    # Same id, same seed, same actions: same observations, though other envs step in between.
    hoppers = [e for e in envs if e.spec is not None and e.spec.id == "tlbench/Hopper-v0"]
    for e in envs:
        e.reset(seed=9)
    for _ in range(10):
        for e in envs:
            e.step(np.full(e.action_space.shape, 0.3, np.float32))
    np.testing.assert_array_equal(hoppers[0].unwrapped._state(), hoppers[2].unwrapped._state())  # type: ignore[attr-defined]
    for e in envs:
        e.close()


@pytest.mark.parametrize("env_id", WALKER_IDS + SWINGUP_IDS)
def test_seeds_draw_different_start_states_and_a_reset_forgets_the_past(env_id: str) -> None:
    env = gym.make(env_id)
    firsts = {env.reset(seed=s)[0].tobytes() for s in range(5)}
    assert len(firsts) == 5
    first = env.reset(seed=3)[0]
    env.action_space.seed(0)
    for _ in range(30):
        env.step(env.action_space.sample())
    np.testing.assert_array_equal(env.reset(seed=3)[0], first)
    env.close()


def test_close_disconnects_and_may_be_called_twice() -> None:
    env = gym.make("tlbench/Ant-v0")
    env.reset(seed=0)
    client = env.unwrapped.physics_client  # type: ignore[attr-defined]
    env.close()
    env.close()
    assert not p.isConnected(physicsClientId=client)
    with pytest.raises(gym.error.Error, match="closed"):
        env.unwrapped.physics_client  # type: ignore[attr-defined]  # noqa: B018
    # a closed env pickles as a closed env
    assert pickle.loads(pickle.dumps(env.unwrapped))._client is None


def test_render_needs_a_render_mode_and_shows_the_pixel_camera() -> None:
    env = gym.make("tlbench/InvertedPendulumSwingup-v0")
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.unwrapped.render() is None
    env.close()
    env = gym.make("tlbench/InvertedPendulumSwingup-v0", render_mode="rgb_array", obs_mode="pixels")
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (256, 256, 3)
    small = frame.reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))  # the same view, 4x as fine
    assert np.abs(small - obs).mean() < 20
    env.close()


def test_importing_the_bullet_envs_prints_nothing() -> None:
    """pybullet's C code prints a "pybullet build time" line on import; tlbench keeps it out of
    the output of its commands."""
    import subprocess
    import sys

    code = "import gymnasium as gym, tlbench; gym.make('tlbench/Hopper-v0').reset(seed=0)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "build time" not in result.stdout + result.stderr, result.stdout + result.stderr
