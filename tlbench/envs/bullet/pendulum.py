"""The swing-up cart-poles of PyBullet, with one pole and with two, as one Gymnasium env.

Registered as ``tlbench/InvertedPendulumSwingup-v0`` (``poles=1``: PyBullet's
``InvertedPendulumSwingupBulletEnv``) and ``tlbench/InvertedDoublePendulumSwingup-v0``
(``poles=2``: tlbench's swing-up version of PyBullet's double pendulum, after the reward formula
of Sasso et al.).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pybullet as p

from tlbench.envs.bullet.base import MJCF_FLAGS, BulletEnv, Physics, asset_path

#: PyBullet's pendulum world: one solver step of 0.0165 s per frame
PHYSICS = Physics(frame_time=0.0165, substeps=1)
#: the first pole starts hanging: angle HANGING + U(-START_NOISE, START_NOISE) rad
HANGING = math.pi
START_NOISE = 0.1


@dataclass(frozen=True)
class CartPole:
    """One cart-pole model (values from PyBullet's ``robot_pendula``)."""

    name: str
    #: MJCF file under ``pybullet_data/mjcf``
    asset: str
    #: force on the cart (N) for action 1
    force: float


CARTPOLES: Mapping[int, CartPole] = {
    1: CartPole("InvertedPendulumSwingup", "inverted_pendulum.xml", force=100.0),
    2: CartPole("InvertedDoublePendulumSwingup", "inverted_double_pendulum.xml", force=200.0),
}


class PendulumSwingupEnv(BulletEnv):
    """A pole (or two, hinged end to end) hanging from a cart: swing it up and balance it.

    ## Description
    The cart-poles of PyBullet's pendulum envs, written against raw ``pybullet`` for Gymnasium
    (no ``gym`` or ``pybullet_envs`` import). A cart slides on a 2 m rail (its joint is limited
    to [-1, 1] m); a 0.6 m pole hangs from it on a free hinge, and with ``poles=2`` a second
    0.6 m pole hangs from the first one's end on a second hinge. The poles start hanging down;
    the reward pays for holding them up.

    One frame is one ``stepSimulation`` of 0.0165 s (one solver step), gravity 9.8 m/s^2,
    5 solver iterations; there is no floor to touch.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: the force on the cart, 100 N (one pole) or 200 N (two poles)
    times the action. An action of another shape, not of a real floating-point dtype, holding
    NaN or infinity, or outside [-1, 1] raises :class:`InvalidActionError`.

    ## Observation Space
    ``obs_mode="state"`` (default), ``Box(low, high, (n,), float32)``: cosines and sines are
    bounded by [-1, 1], positions and speeds by nothing (the bound is the largest float32, as
    Gymnasium's checker flags infinite ones). With theta the first hinge's angle (0 = upright)
    and gamma the second's (relative to the first pole):

    - one pole, n = 5: cart position x (m), cart velocity, cos(theta), sin(theta), theta's
      angular velocity (rad/s);
    - two poles, n = 9: x, cart velocity, x of the second pole's centre of mass, cos(theta),
      sin(theta), theta's angular velocity, cos(gamma), sin(gamma), gamma's angular velocity.

    ``obs_mode="pixels"``: ``Box(0, 255, (64, 64, 3), uint8)``, the view of a camera 2 m in front
    of the base of the cart's body (the middle of the rail), level (yaw 0, pitch 0; field of
    view 60 degrees, near 1 m, far 25 m); the base does not move, so neither does the camera.
    PyBullet's TINY renderer, composited on white.

    ## Rewards
    Per frame (``info["reward_terms"]`` reports each term, summed over the frames of the step);
    with an action repeat, the rewards of the frames add up.

    - one pole: ``cos_theta`` = cos(theta): 1 upright, -1 hanging;
    - two poles: ``cos_theta`` + ``cos_gamma`` = cos(theta) + cos(gamma): 2 with both poles
      upright, 0 hanging straight down (theta = pi, gamma = 0).

    ## Starting State
    The cart at rest in the middle of the rail; theta = pi + U(-0.1, 0.1) (hanging), with two
    poles gamma = U(-0.1, 0.1); all velocities 0.

    ## Episode End
    Never terminated. Truncated after 1000 frames (see Arguments for the action repeat); the
    registered ``TimeLimit`` of 1000 steps is PyBullet's and is reached at the same step when
    ``action_repeat=1``.

    ## Arguments
    - ``poles``: 1 or 2 (fixed by the id).
    - ``obs_mode``: ``"state"`` (default) or ``"pixels"``.
    - ``action_repeat`` (int, default 1): frames each action is held for; a step returns the sum
      of its frames' rewards. Episodes are 1000 frames whatever the repeat, so returns stay on
      one scale: with ``action_repeat=2`` (the Dreamer protocol of Sasso et al.) an episode is
      500 agent steps.
    - ``render_mode``: ``None`` or ``"rgb_array"`` (the pixel camera's view at 256x256).

    ## Transfer Variants
    The two pendula are each other's closest source, and with the walkers they make the
    multi-source sets of Sasso et al. (2023, Table 1; ``tasks/bullet/``). Their state sizes
    differ (5 and 9); the pixel observations have one shape.

    ## Notes
    - One pole is PyBullet's ``InvertedPendulumSwingupBulletEnv``: same model, force, reward
      and (never) termination. Its start angle is written 3.1415 + U(-0.1, 0.1) in PyBullet's
      code; tlbench uses pi, as the specification of the paper's setting says.
    - The double-pendulum swing-up exists in no public code. tlbench defines it from PyBullet's
      ``InvertedDoublePendulumBulletEnv`` (model, 200 N force, observation) with the swing-up
      start of the single pendulum and the reward cos(theta) + cos(gamma) of Sasso et al., where
      gamma is the second hinge's joint angle. It never terminates (PyBullet's balancing version
      ends when the tip drops and pays an alive bonus minus a distance penalty instead).
    - Deterministic: the world is restored from a snapshot at every reset, and an episode
      depends only on the reset's seed and the actions. A pickled env continues exactly as the
      original.

    ## Version History
    - v0: first version.

    >>> import gymnasium as gym, numpy as np, tlbench
    >>> env = gym.make("tlbench/InvertedPendulumSwingup-v0")
    >>> obs, info = env.reset(seed=0)
    >>> bool(obs[2] < -0.99)  # cos(theta): the pole hangs
    True
    >>> obs, reward, terminated, truncated, info = env.step(np.zeros(1, np.float32))
    >>> bool(reward == info["reward_terms"]["cos_theta"])
    True
    >>> env.close()
    """

    def __init__(
        self,
        *,
        poles: int,
        obs_mode: str = "state",
        action_repeat: int = 1,
        render_mode: str | None = None,
    ) -> None:
        if not isinstance(poles, int) or isinstance(poles, bool) or poles not in CARTPOLES:
            raise ValueError(f"poles must be 1 or 2, got {poles!r}")
        self.poles = int(poles)
        self.cartpole = CARTPOLES[self.poles]
        self.reward_terms = ("cos_theta",) if self.poles == 1 else ("cos_theta", "cos_gamma")
        super().__init__(
            physics=PHYSICS,
            obs_mode=obs_mode,
            action_repeat=action_repeat,
            render_mode=render_mode,
        )

    def _load(self, client: int) -> None:
        bodies = p.loadMJCF(
            asset_path("mjcf", self.cartpole.asset), flags=MJCF_FLAGS, physicsClientId=client
        )
        robot = next(b for b in bodies if p.getNumJoints(b, physicsClientId=client) > 0)
        infos = [
            p.getJointInfo(robot, j, physicsClientId=client)
            for j in range(p.getNumJoints(robot, physicsClientId=client))
        ]
        joints = {info[1].decode(): j for j, info in enumerate(infos)}
        links = {info[12].decode(): j for j, info in enumerate(infos)}
        self.robot_id = robot
        self.slider = joints["slider"]
        #: the hinges: the first pole's, then (two poles) the second's
        self.hinges = (joints["hinge"],) if self.poles == 1 else (joints["hinge"], joints["hinge2"])
        self._pole2 = links.get("pole2", -1)
        self._movable = [j for j, info in enumerate(infos) if info[2] != p.JOINT_FIXED]
        self._measured = (self.slider, *self.hinges)
        self._base = tuple(p.getBasePositionAndOrientation(robot, physicsClientId=client)[0])
        self._disable_motors(client)
        self._state_vec = np.zeros(5 if self.poles == 1 else 9)
        self._angles = np.zeros(self.poles)

    def _sizes(self) -> tuple[int, np.ndarray]:
        # cosines and sines are within [-1, 1]; positions and speeds have no bound (the largest
        # float32 stands for none: Gymnasium's checker flags infinite bounds)
        high = np.full(len(self._state_vec), np.finfo(np.float32).max, np.float32)
        high[[2, 3] if self.poles == 1 else [3, 4, 6, 7]] = 1.0
        return 1, high

    def _reset_bodies(self, client: int, rng: np.random.Generator) -> None:
        noise = rng.uniform(-START_NOISE, START_NOISE, size=self.poles)
        starts = [HANGING + float(noise[0])] + [float(u) for u in noise[1:]]
        for hinge, angle in zip(self.hinges, starts, strict=True):
            p.resetJointState(self.robot_id, hinge, angle, 0.0, physicsClientId=client)
        self._disable_motors(client)
        self._measure(client)

    def _apply_action(self, client: int, action: np.ndarray) -> None:
        p.setJointMotorControl2(
            self.robot_id,
            self.slider,
            p.TORQUE_CONTROL,
            force=self.cartpole.force * float(action[0]),
            physicsClientId=client,
        )

    def _after_frame(
        self, client: int, action: np.ndarray, terms: dict[str, float]
    ) -> tuple[float, bool]:
        self._measure(client)
        cos_theta = math.cos(self._angles[0])
        terms["cos_theta"] += cos_theta
        if self.poles == 1:
            return cos_theta, False
        cos_gamma = math.cos(self._angles[1])
        terms["cos_gamma"] += cos_gamma
        return cos_theta + cos_gamma, False

    def _measure(self, client: int) -> None:
        """Read the joints from PyBullet and build the state vector."""
        states = p.getJointStates(self.robot_id, self._measured, physicsClientId=client)
        (x, vx, *_), (theta, theta_dot, *_) = states[0], states[1]
        self._angles[0] = theta
        if self.poles == 1:
            self._state_vec[:] = (x, vx, math.cos(theta), math.sin(theta), theta_dot)
            return
        gamma, gamma_dot = states[2][0], states[2][1]
        self._angles[1] = gamma
        pole2_x = p.getLinkState(self.robot_id, self._pole2, physicsClientId=client)[0][0]
        self._state_vec[:] = (
            x,
            vx,
            pole2_x,
            math.cos(theta),
            math.sin(theta),
            theta_dot,
            math.cos(gamma),
            math.sin(gamma),
            gamma_dot,
        )

    def _state(self) -> np.ndarray:
        return self._state_vec.astype(np.float32)

    def _camera_target(self) -> Sequence[float]:
        return self._base
