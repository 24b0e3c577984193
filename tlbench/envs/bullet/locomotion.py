"""PyBullet's four MJCF walkers (Hopper, Walker2D, HalfCheetah, Ant) as one Gymnasium env.

The walkers differ only in data (:class:`Walker`: the model file, motor power, which parts are
feet, when the robot counts as alive); :class:`LocomotionEnv` is the one class that runs them,
registered as ``tlbench/Hopper-v0``, ``tlbench/Walker2D-v0``, ``tlbench/HalfCheetah-v0`` and
``tlbench/Ant-v0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pybullet as p

from tlbench.envs.bullet.base import MJCF_FLAGS, BulletEnv, Physics, asset_path

#: PyBullet's locomotion world: 4 solver sub-steps of 0.0165 / 4 s per frame
PHYSICS = Physics(frame_time=0.0165, substeps=4)
#: seconds per frame, the ``dt`` of the progress reward
DT = PHYSICS.frame_time
#: the point every walker walks to: a kilometre ahead along +x
WALK_TARGET = (1e3, 0.0)

FLOOR_ASSET = "plane_stadium.sdf"
FLOOR_FRICTION = 0.8
FLOOR_RESTITUTION = 0.5

ALIVE_BONUS = 1.0  # per frame while alive; -ALIVE_BONUS otherwise
ELECTRICITY_COST = -2.0  # times mean |action * joint speed|
STALL_TORQUE_COST = -0.1  # times mean action^2
JOINTS_AT_LIMIT_COST = -0.1  # per joint beyond JOINT_LIMIT
JOINT_LIMIT = 0.99  # of the half range, from the middle of a joint's range
DEFAULT_JOINT_POWER = 100.0  # a motor's torque gain unless the walker says otherwise
JOINT_NOISE = 0.1  # start angles drawn from U(-JOINT_NOISE, JOINT_NOISE) rad
JOINT_SPEED_SCALE = 0.1  # joint speeds are observed (and costed) times this
VELOCITY_SCALE = 0.3  # body velocity is observed times this
STATE_BOUND = 5.0  # the state vector is clipped to [-STATE_BOUND, STATE_BOUND]


@dataclass(frozen=True)
class Walker:
    """What tells one walker from another (all values from PyBullet's ``robot_locomotors``)."""

    name: str
    #: MJCF file under ``pybullet_data/mjcf``
    asset: str
    #: torque gain of every motor: torque = power * joint power * action
    power: float
    #: parts whose ground contact is observed (last entries of the state vector)
    feet: tuple[str, ...]
    #: per-joint power, where it is not DEFAULT_JOINT_POWER
    joint_power: Mapping[str, float] = field(default_factory=dict)
    #: alive only while the torso is higher than this (m), if set
    min_height: float | None = None
    #: alive only while the torso's |pitch| is smaller than this (rad), if set
    max_pitch: float | None = None
    #: alive only while none of these parts touches the ground
    grounded_parts: tuple[str, ...] = ()
    #: whether losing the alive bonus ends the episode
    terminates: bool = True


WALKERS: Mapping[str, Walker] = {
    "hopper": Walker(
        "Hopper", "hopper.xml", power=0.75, feet=("foot",), min_height=0.8, max_pitch=1.0
    ),
    "walker2d": Walker(
        "Walker2D",
        "walker2d.xml",
        power=0.40,
        feet=("foot", "foot_left"),
        joint_power={"foot_joint": 30.0, "foot_left_joint": 30.0},
        min_height=0.8,
        max_pitch=1.0,
    ),
    "halfcheetah": Walker(
        "HalfCheetah",
        "half_cheetah.xml",
        power=0.90,
        feet=("ffoot", "fshin", "fthigh", "bfoot", "bshin", "bthigh"),
        joint_power={
            "bthigh": 120.0,
            "bshin": 90.0,
            "bfoot": 60.0,
            "fthigh": 140.0,
            "fshin": 60.0,
            "ffoot": 30.0,
        },
        max_pitch=1.0,
        grounded_parts=("fshin", "fthigh", "bshin", "bthigh"),
        terminates=False,
    ),
    "ant": Walker(
        "Ant",
        "ant.xml",
        power=2.5,
        feet=("front_left_foot", "front_right_foot", "left_back_foot", "right_back_foot"),
        min_height=0.26,
    ),
}


class LocomotionEnv(BulletEnv):
    """PyBullet's Hopper, Walker2D, HalfCheetah and Ant: walk forward as fast as possible.

    ## Description
    The MJCF walkers of PyBullet's locomotion envs (``HopperBulletEnv``, ``Walker2DBulletEnv``,
    ``HalfCheetahBulletEnv``, ``AntBulletEnv``), written against raw ``pybullet`` for Gymnasium
    (no ``gym`` or ``pybullet_envs`` import), with the same world, reward, termination and
    observations. A robot on a flat floor is paid for moving towards a target 1 km ahead along
    +x. Hopper, Walker2D and HalfCheetah move in the x-z plane; the Ant moves freely.

    One frame is one ``stepSimulation`` of 0.0165 s (4 solver sub-steps), gravity 9.8 m/s^2,
    5 solver iterations, contact ERP 0.9; the floor is ``plane_stadium.sdf`` with friction 0.8
    and restitution 0.5.

    ## Action Space
    ``Box(-1, 1, (n,), float32)``, one torque per motor: n = 3 (Hopper), 6 (Walker2D,
    HalfCheetah), 8 (Ant). Motor ``i`` gets torque ``power * joint_power_i * a_i`` with power 0.75
    (Hopper), 0.40 (Walker2D), 0.90 (HalfCheetah), 2.5 (Ant) and joint power 100, except
    Walker2D's feet (30) and HalfCheetah's bthigh 120, bshin 90, bfoot 60, fthigh 140, fshin 60,
    ffoot 30. An action of another shape, not of a real floating-point dtype, holding NaN or
    infinity, or outside [-1, 1] raises :class:`InvalidActionError`.

    ## Observation Space
    ``obs_mode="state"`` (default): ``Box(-5, 5, (8 + 2n + f,), float32)``, every entry clipped
    to [-5, 5]: 15 (Hopper), 22 (Walker2D), 26 (HalfCheetah), 28 (Ant) values:

    - 0: torso height minus its height at reset;
    - 1, 2: sin and cos of the angle from the torso's heading (yaw) to the walk target;
    - 3-5: 0.3 times the torso's velocity, rotated into the torso's heading frame;
    - 6, 7: the torso's roll and pitch (rad);
    - then for each motor joint: its position scaled to [-1, 1] over its range (0 in the
      middle), and 0.1 times its speed (rad/s);
    - last, one 1.0/0.0 per foot: whether it touches the floor (Hopper: foot; Walker2D: both
      feet; HalfCheetah: ffoot, fshin, fthigh, bfoot, bshin, bthigh; Ant: the four feet).

    ``obs_mode="pixels"``: ``Box(0, 255, (64, 64, 3), uint8)``, the view of a camera 2 m to the
    side of the torso looking at it level (yaw 0, pitch 0; field of view 60 degrees, near 1 m,
    far 25 m), which follows the robot; PyBullet's TINY renderer, composited on white.

    ## Rewards
    The reward of a frame is the sum of the terms below (``info["reward_terms"]`` reports each,
    summed over the frames of the step); with an action repeat, the rewards of the frames add up.

    - ``alive``: +1 while the robot is alive, -1 once it is not. Alive means: Hopper and
      Walker2D, torso higher than 0.8 m and |torso pitch| < 1 rad; Ant, torso higher than
      0.26 m; HalfCheetah, |torso pitch| < 1 rad and none of fthigh, fshin, bthigh, bshin
      touching the floor.
    - ``progress``: ``phi(s') - phi(s)`` with the potential ``phi = -d / dt``, ``d`` the
      horizontal distance from the body's centre to the walk target (1000, 0) and dt = 0.0165 s:
      about the speed towards the target in m/s, 0 when the robot stands still. The body's
      centre is the mean position of the robot's parts and of the floor (see Notes).
    - ``electricity``: ``-2.0 * mean_i |a_i * w_i| - 0.1 * mean_i a_i^2``, with ``w_i`` 0.1 times
      joint ``i``'s speed (rad/s): the cost of driving the motors, and of stalled ones.
    - ``joints_at_limit``: -0.1 for every motor joint whose scaled position has
      |value| > 0.99.

    PyBullet's list has a fifth term, a feet-collision cost, which its code always sets to 0; it
    is left out here.

    ## Starting State
    The robot as the model file places it (Ant's torso 0.75 m above the floor, the others
    standing), every motor joint turned by an angle drawn from U(-0.1, 0.1) rad, all velocities 0.

    ## Episode End
    Terminated when Hopper, Walker2D or Ant stops being alive (HalfCheetah never terminates: not
    being alive costs it -1 per frame), or when the state holds NaN or infinity. Truncated after
    1000 frames (see Arguments for the action repeat); the registered ``TimeLimit`` of 1000 steps
    is PyBullet's and is reached at the same step when ``action_repeat=1``.

    ## Arguments
    - ``robot``: ``"hopper"``, ``"walker2d"``, ``"halfcheetah"`` or ``"ant"`` (fixed by the id).
    - ``obs_mode``: ``"state"`` (default) or ``"pixels"``.
    - ``action_repeat`` (int, default 1): frames each action is held for. A step returns the
      sum of its frames' rewards and stops early on termination. Episodes are 1000 frames
      whatever the repeat, so returns stay on one scale: with ``action_repeat=2`` (the Dreamer
      protocol of Sasso et al.) an episode is 500 agent steps.
    - ``render_mode``: ``None`` or ``"rgb_array"`` (the pixel camera's view at 256x256).

    ## Transfer Variants
    The four walkers are the locomotion half of the multi-source sets of Sasso et al. (2023,
    Table 1), where each is a target with the other walkers and the pendula as sources
    (``tasks/bullet/``). Their state and action sizes differ; the pixel observations all have
    one shape.

    ## Notes
    - The body's centre for ``progress`` is the mean over the robot's parts and the floor: in
      PyBullet's envs the floor joins the robot's part list when the scene is built, and
      tlbench keeps that so that returns are on PyBullet's scale (progress is n/(n+1) of the
      parts' mean speed with n parts: 10 for Hopper, 16 for Walker2D and HalfCheetah, 21 for
      Ant). PyBullet's first episode after construction measures its start potential before the
      floor joins; tlbench uses one part list throughout.
    - Foot contacts are measured after each frame, before the observation is built. PyBullet
      builds the observation (and HalfCheetah's alive check) from the previous frame's contacts;
      tlbench's observation is that of the current state.
    - Deterministic: the world is restored from a snapshot at every reset, and an episode
      depends only on the reset's seed and the actions. A pickled env continues exactly as the
      original (the snapshot holds the contact state).

    ## Version History
    - v0: first version.

    >>> import gymnasium as gym, numpy as np, tlbench
    >>> env = gym.make("tlbench/Hopper-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.action_space.shape
    ((15,), (3,))
    >>> obs, reward, terminated, truncated, info = env.step(np.zeros(3, np.float32))
    >>> sorted(info["reward_terms"])
    ['alive', 'electricity', 'joints_at_limit', 'progress']
    >>> env.close()
    """

    reward_terms = ("alive", "progress", "electricity", "joints_at_limit")

    def __init__(
        self,
        *,
        robot: str,
        obs_mode: str = "state",
        action_repeat: int = 1,
        render_mode: str | None = None,
    ) -> None:
        if robot not in WALKERS:
            raise ValueError(f"unknown robot {robot!r}; choose one of {list(WALKERS)}")
        self.robot = robot
        self.walker = WALKERS[robot]
        super().__init__(
            physics=PHYSICS,
            obs_mode=obs_mode,
            action_repeat=action_repeat,
            render_mode=render_mode,
        )

    # -- loading ------------------------------------------------------------------------------
    def _load(self, client: int) -> None:
        w = self.walker
        floor = p.loadSDF(asset_path(FLOOR_ASSET), physicsClientId=client)[0]
        p.changeDynamics(
            floor,
            -1,
            lateralFriction=FLOOR_FRICTION,
            restitution=FLOOR_RESTITUTION,
            physicsClientId=client,
        )
        p.changeVisualShape(floor, -1, rgbaColor=[1, 1, 1, 0.8], physicsClientId=client)
        robot = p.loadMJCF(asset_path("mjcf", w.asset), flags=MJCF_FLAGS, physicsClientId=client)[0]
        infos = [
            p.getJointInfo(robot, j, physicsClientId=client)
            for j in range(p.getNumJoints(robot, physicsClientId=client))
        ]
        joint_names = [info[1].decode() for info in infos]
        link_names = [info[12].decode() for info in infos]
        movable = [j for j, info in enumerate(infos) if info[2] != p.JOINT_FIXED]
        # As PyBullet's envs: joints named "ignore*" (the planar walkers' root slides and hinge)
        # are passive, every other movable joint has a motor.
        motors = [j for j in movable if not joint_names[j].startswith("ignore")]
        lower = np.array([infos[j][8] for j in motors])
        upper = np.array([infos[j][9] for j in motors])

        self.floor_id = floor
        self.robot_id = robot
        self.motor_joints = tuple(motors)
        self.motor_names = tuple(joint_names[j] for j in motors)
        self._movable = movable
        self._gains = np.array(
            [w.power * w.joint_power.get(joint_names[j], DEFAULT_JOINT_POWER) for j in motors]
        )
        self._mid = 0.5 * (lower + upper)
        self._to_unit = 2.0 / (upper - lower)
        self._links = list(range(len(infos)))
        # The torso is the link named so, or the base when no link is (the Ant); the base is a
        # part of the robot only then (the planar walkers' base is a fixed anchor).
        self._torso = link_names.index("torso") if "torso" in link_names else -1
        self._feet = [link_names.index(name) for name in w.feet]
        self._grounded = [w.feet.index(name) for name in w.grounded_parts]
        floor_x, floor_y, _ = p.getBasePositionAndOrientation(floor, physicsClientId=client)[0]
        self._floor_xy = (floor_x, floor_y)
        self._n_parts = len(self._links) + (1 if self._torso == -1 else 0) + 1  # + the floor
        self._disable_motors(client)
        # measurements, updated after every frame
        self._feet_contact = np.zeros(len(self._feet))
        self._state_vec = np.zeros(8 + 2 * len(motors) + len(self._feet))
        self._rel = np.zeros(len(motors))
        self._speed = np.zeros(len(motors))
        self._initial_z = 0.0
        self._potential = 0.0
        self._torso_pos: Sequence[float] = (0.0, 0.0, 0.0)
        self._centre = (0.0, 0.0)
        self._z = self._pitch = 0.0

    def _sizes(self) -> tuple[int, np.ndarray]:
        return len(self.motor_joints), np.full(len(self._state_vec), STATE_BOUND, np.float32)

    # -- an episode -------------------------------------------------------------------------
    def _reset_bodies(self, client: int, rng: np.random.Generator) -> None:
        angles = rng.uniform(-JOINT_NOISE, JOINT_NOISE, size=len(self.motor_joints))
        for joint, angle in zip(self.motor_joints, angles, strict=True):
            p.resetJointState(self.robot_id, joint, float(angle), 0.0, physicsClientId=client)
        self._disable_motors(client)
        self._feet_contact[:] = 0.0
        self._initial_z = math.nan  # set by the first measurement
        self._measure(client)
        self._potential = self._potential_now()

    def _apply_action(self, client: int, action: np.ndarray) -> None:
        p.setJointMotorControlArray(
            self.robot_id,
            self.motor_joints,
            p.TORQUE_CONTROL,
            forces=(self._gains * action).tolist(),
            physicsClientId=client,
        )

    def _after_frame(
        self, client: int, action: np.ndarray, terms: dict[str, float]
    ) -> tuple[float, bool]:
        touching = {
            c[3] for c in p.getContactPoints(self.robot_id, self.floor_id, physicsClientId=client)
        }
        self._feet_contact[:] = [1.0 if link in touching else 0.0 for link in self._feet]
        self._measure(client)
        alive = ALIVE_BONUS if self._is_alive() else -ALIVE_BONUS
        potential = self._potential_now()
        progress = potential - self._potential
        self._potential = potential
        n = len(action)  # (sums over n rather than np.mean: several times faster on 3-8 values)
        electricity = ELECTRICITY_COST * float(np.abs(action * self._speed).sum()) / n
        electricity += STALL_TORQUE_COST * float(action @ action) / n
        at_limit = JOINTS_AT_LIMIT_COST * int(np.count_nonzero(np.abs(self._rel) > JOINT_LIMIT))
        terms["alive"] += alive
        terms["progress"] += progress
        terms["electricity"] += electricity
        terms["joints_at_limit"] += at_limit
        finite = bool(np.isfinite(self._state_vec).all())
        terminated = (self.walker.terminates and alive < 0) or not finite
        return alive + progress + electricity + at_limit, terminated

    def _is_alive(self) -> bool:
        w = self.walker
        if w.min_height is not None and not self._z > w.min_height:
            return False
        if w.max_pitch is not None and not abs(self._pitch) < w.max_pitch:
            return False
        return not any(self._feet_contact[i] for i in self._grounded)

    def _measure(self, client: int) -> None:
        """Read the robot's state from PyBullet and build the state vector."""
        robot = self.robot_id
        joints = p.getJointStates(robot, self.motor_joints, physicsClientId=client)
        self._rel = (np.array([j[0] for j in joints]) - self._mid) * self._to_unit
        self._speed = JOINT_SPEED_SCALE * np.array([j[1] for j in joints])
        links = p.getLinkStates(robot, self._links, computeLinkVelocity=1, physicsClientId=client)
        x_sum = self._floor_xy[0] + sum(link[0][0] for link in links)
        y_sum = self._floor_xy[1] + sum(link[0][1] for link in links)
        if self._torso == -1:
            pos, orn = p.getBasePositionAndOrientation(robot, physicsClientId=client)
            vel = p.getBaseVelocity(robot, physicsClientId=client)[0]
            x_sum += pos[0]
            y_sum += pos[1]
        else:
            torso = links[self._torso]
            pos, orn, vel = torso[0], torso[1], torso[6]
        self._centre = (x_sum / self._n_parts, y_sum / self._n_parts)
        self._torso_pos = pos
        roll, pitch, yaw = p.getEulerFromQuaternion(orn)
        self._z, self._pitch = pos[2], pitch
        if math.isnan(self._initial_z):
            self._initial_z = pos[2]
        to_target = math.atan2(WALK_TARGET[1] - self._centre[1], WALK_TARGET[0] - self._centre[0])
        angle = to_target - yaw
        cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
        vx, vy, vz = vel
        state = self._state_vec
        state[:8] = (
            pos[2] - self._initial_z,
            math.sin(angle),
            math.cos(angle),
            VELOCITY_SCALE * (cos_yaw * vx + sin_yaw * vy),
            VELOCITY_SCALE * (-sin_yaw * vx + cos_yaw * vy),
            VELOCITY_SCALE * vz,
            roll,
            pitch,
        )
        n = len(self._rel)
        state[8 : 8 + 2 * n : 2] = self._rel
        state[9 : 9 + 2 * n : 2] = self._speed
        state[8 + 2 * n :] = self._feet_contact
        np.minimum(state, STATE_BOUND, out=state)  # clip (faster than np.clip on few values)
        np.maximum(state, -STATE_BOUND, out=state)

    def _potential_now(self) -> float:
        dx = WALK_TARGET[0] - self._centre[0]
        dy = WALK_TARGET[1] - self._centre[1]
        return -math.hypot(dx, dy) / DT

    def _state(self) -> np.ndarray:
        return self._state_vec.astype(np.float32)

    def _camera_target(self) -> Sequence[float]:
        return self._torso_pos
