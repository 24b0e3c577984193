"""What every tlbench PyBullet env shares: its own physics client, strict box actions, action
repeat, the episode's length in frames, the tracking camera and pickling.

A subclass loads its bodies (:meth:`BulletEnv._load`), puts them in their start state
(:meth:`BulletEnv._reset_bodies`), applies an action (:meth:`BulletEnv._apply_action`), measures
the state and the reward after one frame of physics (:meth:`BulletEnv._after_frame`) and says
what the state observation is and where the camera looks. The loop around them lives here once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import pybullet as p
import pybullet_data
from gymnasium import spaces

from tlbench.envs.errors import InvalidActionError

#: frames of physics in one episode, whatever the action repeat (the Dreamer protocol's 1000 env
#: steps); an env ends an episode with ``truncated=True`` once it has simulated this many
EPISODE_FRAMES = 1000

OBS_MODES = ("state", "pixels")
#: side of a pixel observation, and of the picture ``render()`` returns
PIXELS = 64
RENDER_SIDE = 256

# The tracking camera of the spec: 2 m from its target, level (yaw 0, pitch 0: looking along +y,
# so that the walkers' forward direction +x points right), a 60 degree field of view.
CAMERA_DISTANCE = 2.0
CAMERA_YAW = 0.0
CAMERA_PITCH = 0.0
CAMERA_FOV = 60.0
CAMERA_NEAR = 1.0
CAMERA_FAR = 25.0
_PROJECTION = p.computeProjectionMatrixFOV(
    fov=CAMERA_FOV, aspect=1.0, nearVal=CAMERA_NEAR, farVal=CAMERA_FAR
)

#: flags PyBullet's own envs load their MJCF robots with (self collision between non-adjacent
#: parts; the "googley" colours of parts whose file sets none)
MJCF_FLAGS = (
    p.URDF_USE_SELF_COLLISION
    | p.URDF_USE_SELF_COLLISION_EXCLUDE_ALL_PARENTS
    | p.URDF_GOOGLEY_UNDEFINED_COLORS
)


def asset_path(*parts: str) -> str:
    """A file of the ``pybullet_data`` package, e.g. ``asset_path("mjcf", "hopper.xml")``."""
    return os.path.join(pybullet_data.getDataPath(), *parts)


@dataclass(frozen=True)
class Physics:
    """The world's settings, as PyBullet's envs set them (``scene_abstract.World``)."""

    #: seconds of simulated time per frame (one ``stepSimulation`` call)
    frame_time: float
    #: solver sub-steps per frame
    substeps: int
    gravity: float = 9.8
    solver_iterations: int = 5
    contact_erp: float = 0.9


def as_box_action(action: Any, space: spaces.Box) -> np.ndarray:
    """``action`` as a float64 array if it lies in ``space``, else an :class:`InvalidActionError`.

    A valid action is a real floating-point array (or a list of floats) of the space's shape,
    finite, within the bounds. Integers, booleans and complex numbers are refused rather than
    converted, so that an agent built for a discrete space fails loudly here.

    >>> box = spaces.Box(-1.0, 1.0, (2,), np.float32)
    >>> as_box_action(np.array([0.5, -1.0], np.float32), box)
    array([ 0.5, -1. ])
    >>> as_box_action([0.5, 1.5], box)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tlbench.envs.errors.InvalidActionError: invalid action [0.5, 1.5] for action space Box(...): ...
    """
    if isinstance(action, np.ndarray):
        arr = action
    elif isinstance(action, list | tuple):
        try:
            arr = np.asarray(action)
        except ValueError:  # a ragged list
            arr = np.asarray(action, dtype=object)
    else:
        raise InvalidActionError(
            f"invalid action {action!r} ({type(action).__name__}) for action space {space}: "
            f"pass a float array of shape {space.shape}, e.g. np.zeros({space.shape}, np.float32)"
        )
    if arr.dtype.kind != "f" or arr.shape != space.shape:
        raise InvalidActionError(
            f"invalid action {action!r} (shape {arr.shape}, dtype {arr.dtype}) for action space "
            f"{space}: pass a real floating-point array of shape {space.shape}"
        )
    # Python floats compare faster than numpy's reductions on a few values; NaN fails both tests.
    values = arr.ravel().tolist()
    bounds = zip(values, space.low.ravel().tolist(), space.high.ravel().tolist(), strict=True)
    if not all(low <= v <= high for v, low, high in bounds):
        low, high = space.low, space.high
        if not np.all(np.isfinite(arr)):
            problem = "it holds NaN or infinite values"
        else:
            problem = f"every value must lie in [{low.min():g}, {high.max():g}]; clip it first"
        raise InvalidActionError(f"invalid action {action!r} for action space {space}: {problem}")
    return arr.astype(np.float64)


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 RGBA as ``(H, W, 3)`` uint8 RGB over a white background."""
    rgb = rgba[:, :, :3]
    alpha = rgba[:, :, 3:]
    if alpha.min() == 255:  # the usual case: every pixel opaque
        return np.ascontiguousarray(rgb)
    a = alpha.astype(np.uint16)
    out = (rgb.astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


class BulletEnv(gym.Env[np.ndarray, np.ndarray]):
    """Base class of tlbench's PyBullet envs; see the module docstring for what a subclass adds.

    Each env owns a physics client (``pybullet.connect(pybullet.DIRECT)``), so that any number
    of envs can live in one process; :meth:`close` disconnects it. The bodies are loaded once and
    the loaded world is saved; every ``reset`` restores it before drawing the start state from
    the env's seeded generator, so an episode depends only on its seed and its actions.
    """

    # render_fps is set per env: 1 / (0.0165 s x action repeat)
    metadata = {"render_modes": ["rgb_array"], "render_fps": 61}  # noqa: RUF012 (Gymnasium convention)

    #: names of the reward terms ``info["reward_terms"]`` reports (their sum is the reward)
    reward_terms: tuple[str, ...]

    def __init__(
        self,
        *,
        physics: Physics,
        obs_mode: str,
        action_repeat: int,
        render_mode: str | None,
    ) -> None:
        if obs_mode not in OBS_MODES:
            raise ValueError(f"unknown obs_mode {obs_mode!r}; choose one of {list(OBS_MODES)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            modes = self.metadata["render_modes"]
            raise ValueError(f"unknown render_mode {render_mode!r}; choose one of {modes} or None")
        if (
            not isinstance(action_repeat, int | np.integer)
            or isinstance(action_repeat, bool)
            or action_repeat < 1
        ):
            raise ValueError(f"action_repeat must be a positive integer, got {action_repeat!r}")
        self.obs_mode = obs_mode
        self.action_repeat = int(action_repeat)
        self.render_mode = render_mode
        self.physics = physics
        fps = round(1.0 / (physics.frame_time * self.action_repeat))
        self.metadata = {**type(self).metadata, "render_fps": fps}
        #: frames simulated in this episode
        self.frames = 0
        self._client: int | None = None
        self._initial_state = -1
        self._has_episode = False
        self._connect()
        action_dim, state_high = self._sizes()
        self._actions = spaces.Box(-1.0, 1.0, (action_dim,), np.float32)
        self.action_space = self._actions
        if obs_mode == "state":
            self.observation_space: spaces.Box = spaces.Box(
                -state_high, state_high, None, np.float32
            )
        else:
            self.observation_space = spaces.Box(0, 255, (PIXELS, PIXELS, 3), np.uint8)

    # -- what subclasses define -------------------------------------------------------------
    def _load(self, client: int) -> None:
        """Load the bodies into ``client`` and remember their ids (called once per client)."""
        raise NotImplementedError

    def _sizes(self) -> tuple[int, np.ndarray]:
        """The size of an action and the (symmetric) upper bounds of the state observation."""
        raise NotImplementedError

    def _reset_bodies(self, client: int, rng: np.random.Generator) -> None:
        """Put the restored world into an episode's start state and measure it."""
        raise NotImplementedError

    def _apply_action(self, client: int, action: np.ndarray) -> None:
        """Set the motor torques of ``action`` for the next frame."""
        raise NotImplementedError

    def _after_frame(
        self, client: int, action: np.ndarray, terms: dict[str, float]
    ) -> tuple[float, bool]:
        """Measure the state after a frame; add its reward terms to ``terms``.

        Returns the frame's reward and whether the episode has ended (``terminated``).
        """
        raise NotImplementedError

    def _state(self) -> np.ndarray:
        """The state observation (float32) of the last measurement."""
        raise NotImplementedError

    def _camera_target(self) -> Sequence[float]:
        """The world point the camera looks at."""
        raise NotImplementedError

    # -- the physics client -------------------------------------------------------------------
    def _connect(self) -> int:
        client = p.connect(p.DIRECT)
        if client < 0:
            raise RuntimeError("pybullet.connect(pybullet.DIRECT) failed")
        phys = self.physics
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=client)
        p.setGravity(0, 0, -phys.gravity, physicsClientId=client)
        p.setDefaultContactERP(phys.contact_erp, physicsClientId=client)
        p.setPhysicsEngineParameter(
            fixedTimeStep=phys.frame_time,
            numSolverIterations=phys.solver_iterations,
            numSubSteps=phys.substeps,
            physicsClientId=client,
        )
        self._client = client
        self._load(client)
        self._initial_state = p.saveState(physicsClientId=client)
        return client

    @property
    def physics_client(self) -> int:
        """The id of this env's PyBullet client (pass it as ``physicsClientId``)."""
        if self._client is None:
            raise gym.error.Error("the env is closed")
        return self._client

    def close(self) -> None:
        """Disconnect the physics client (calling it again does nothing)."""
        client, self._client = self._client, None
        if client is not None:
            p.disconnect(physicsClientId=client)

    def __del__(self) -> None:
        # a half-built env has no client attribute; at interpreter exit pybullet may be gone
        with contextlib.suppress(Exception):
            self.close()

    # -- pickling: the client is recreated and the world restored from a .bullet snapshot ----
    _UNPICKLED = ("_client", "_initial_state")  # ids valid in this process's client only

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in self._UNPICKLED}
        state["_snapshot"] = None
        state["_closed"] = self._client is None
        if self._client is not None and self._has_episode:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "world.bullet")
                p.saveBullet(path, physicsClientId=self._client)
                with open(path, "rb") as f:
                    state["_snapshot"] = f.read()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        snapshot = state.pop("_snapshot")
        closed = state.pop("_closed")
        self.__dict__.update(state)
        self._client, self._initial_state = None, -1
        if closed:
            return
        client = self._connect()
        # Loading re-initialised the subclass's measurements; the pickled ones win (the body ids
        # are the same: loading is deterministic).
        self.__dict__.update(state)
        if snapshot is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "world.bullet")
                with open(path, "wb") as f:
                    f.write(snapshot)
                p.restoreState(fileName=path, physicsClientId=client)

    # -- gymnasium API --------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        client = self.physics_client
        p.restoreState(self._initial_state, physicsClientId=client)
        self.frames = 0
        self._reset_bodies(client, self.np_random)
        self._has_episode = True
        return self._observation(), {}

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        a = as_box_action(action, self._actions)
        client = self.physics_client
        if not self._has_episode:
            raise gym.error.ResetNeeded("call reset() before step()")
        terms = dict.fromkeys(self.reward_terms, 0.0)
        reward = 0.0
        terminated = False
        for _ in range(self.action_repeat):
            self._apply_action(client, a)
            p.stepSimulation(physicsClientId=client)
            self.frames += 1
            r, terminated = self._after_frame(client, a, terms)
            reward += r
            if terminated or self.frames >= EPISODE_FRAMES:
                break
        truncated = self.frames >= EPISODE_FRAMES
        return self._observation(), reward, terminated, truncated, {"reward_terms": terms}

    def _observation(self) -> np.ndarray:
        if self.obs_mode == "state":
            return self._state()
        return self.camera_image(PIXELS)

    def camera_image(self, side: int) -> np.ndarray:
        """The tracking camera's ``(side, side, 3)`` uint8 picture of the current state.

        PyBullet's TINY software renderer, composited on white where it leaves pixels transparent.
        """
        view = p.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=list(self._camera_target()),
            distance=CAMERA_DISTANCE,
            yaw=CAMERA_YAW,
            pitch=CAMERA_PITCH,
            roll=0.0,
            upAxisIndex=2,
        )
        _, _, rgba, _, _ = p.getCameraImage(
            side,
            side,
            viewMatrix=view,
            projectionMatrix=_PROJECTION,
            renderer=p.ER_TINY_RENDERER,
            flags=p.ER_NO_SEGMENTATION_MASK,
            physicsClientId=self.physics_client,
        )
        return _composite_on_white(np.asarray(rgba, dtype=np.uint8).reshape(side, side, 4))

    def render(self) -> np.ndarray | None:
        """A ``256 x 256`` RGB picture from the camera of the pixel observations."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='rgb_array' to make()"
            )
            return None
        return self.camera_image(RENDER_SIDE)

    #: set by subclasses when they load their bodies
    robot_id: int
    _movable: list[int]

    def _disable_motors(self, client: int) -> None:
        """Turn off the velocity motors PyBullet gives every joint (as PyBullet's envs do)."""
        n = len(self._movable)
        p.setJointMotorControlArray(
            self.robot_id,
            self._movable,
            p.POSITION_CONTROL,
            targetPositions=[0.0] * n,
            targetVelocities=[0.0] * n,
            positionGains=[0.1] * n,
            velocityGains=[0.1] * n,
            forces=[0.0] * n,
            physicsClientId=client,
        )
