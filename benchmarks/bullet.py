"""Throughput of tlbench's PyBullet envs next to the cost of their physics alone.

Run from the repository root::

    .venv/bin/python benchmarks/bullet.py

Everything in the printed table is measured in the same run, on the same machine:

- each PyBullet id made with ``gymnasium.make`` (default wrappers) in ``obs_mode="state"`` and
  ``obs_mode="pixels"`` (64x64x3, one picture per step), stepped with random actions drawn
  beforehand from its seeded action space and reset whenever an episode is terminated or
  truncated (resets are inside the timing);
- ``physics``: the raw ``pybullet.stepSimulation()`` calls of a state-mode run, timed alone:
  the same number of calls, on the same states (same actions and seed), with every other cost
  left out. ``1 / env rate - 1 / physics rate`` is then what the env costs per step on top of
  its physics: checking the action, setting torques, measuring the state, rewards, resets,
  Gymnasium's wrappers and, in pixel mode, the picture.

The targets are the throughput of PyBullet's own (legacy ``gym``) envs on this kind of machine:
``HopperBulletEnv-v0`` 3,930 steps/s with state and 660 with pixel observations,
``HalfCheetahBulletEnv-v0`` 2,720 and 605. Each figure is the best of ``--repeats`` timed runs,
the runs of all cases interleaved. The script reports (PASS/FAIL); it always exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import pybullet as p

import tlbench
from tlbench.timing import header as machine_header
from tlbench.timing import require_positive, time_cases

#: steps/s of PyBullet's legacy envs on this kind of machine: id -> (state, pixels)
REFERENCES = {
    "tlbench/Hopper-v0": ("HopperBulletEnv-v0", 3_930.0, 660.0),
    "tlbench/HalfCheetah-v0": ("HalfCheetahBulletEnv-v0", 2_720.0, 605.0),
}
MODES = ("state", "pixels", "physics")


class EnvCase:
    """One env (``gymnasium.make``) stepped with pre-drawn random actions."""

    def __init__(self, env_id: str, obs_mode: str, steps: int, seed: int = 0) -> None:
        self.env_id = env_id
        self.mode = obs_mode
        self.env = gym.make(env_id, obs_mode=obs_mode)
        self.seed = seed
        space = self.env.action_space
        space.seed(seed)
        self.actions = [space.sample() for _ in range(steps)]

    def run(self) -> float:
        """One timed run; its steps/s (resets included)."""
        env = self.env
        env.reset(seed=self.seed)
        start = time.perf_counter()
        for action in self.actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        return len(self.actions) / (time.perf_counter() - start)

    def close(self) -> None:
        self.env.close()


class PhysicsCase(EnvCase):
    """The ``stepSimulation`` calls of a state-mode run, timed on their own.

    The run of :class:`EnvCase` (same env id, actions and seed: the same states), with
    ``pybullet.stepSimulation`` replaced for its duration by a wrapper that adds up the time
    spent inside it; the rate is steps per second of that time. The wrapper's own cost (two
    clock reads, well under a microsecond) counts as physics.
    """

    def __init__(self, env_id: str, steps: int, seed: int = 0) -> None:
        super().__init__(env_id, "state", steps, seed)
        self.mode = "physics"

    def run(self) -> float:
        """One timed run; the rate of its stepSimulation calls alone."""
        real = p.stepSimulation
        spent = 0.0
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            nonlocal spent
            start = clock()
            try:
                return real(*args, **kwargs)
            finally:
                spent += clock() - start

        p.stepSimulation = timed
        try:
            super().run()
        finally:
            p.stepSimulation = real
        return len(self.actions) / spent


Case = EnvCase | PhysicsCase


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=5_000, help="steps per state-mode run")
    parser.add_argument(
        "--pixel-steps", type=int, default=1_000, help="steps per pixel-mode run (~10x slower)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    args = parser.parse_args(argv)
    require_positive(parser, args, "steps", "pixel_steps", "repeats")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table and the targets; always returns 0."""
    args = parse_args(argv)
    print(
        machine_header(
            "tlbench PyBullet environment throughput",
            ("numpy", "gymnasium", "pybullet", "tlbench"),
            f"--steps {args.steps} --pixel-steps {args.pixel_steps} --repeats "
            f"{args.repeats} (best of {args.repeats}, cases interleaved)",
        )
    )

    ids = tlbench.env_ids("bullet")
    cases: list[Case] = []
    for env_id in ids:
        cases.append(EnvCase(env_id, "state", args.steps))
        cases.append(EnvCase(env_id, "pixels", args.pixel_steps))
        cases.append(PhysicsCase(env_id, args.steps))
    try:
        timings = time_cases(cases, args.repeats)
    finally:
        for case in cases:
            case.close()
    rate = {(c.env_id, c.mode): t.best for c, t in zip(cases, timings, strict=True)}
    spread = min(t.spread for t in timings)

    print("")
    print("steps/s: gymnasium.make, random actions, reset on terminated or truncated;")
    print("physics: the stepSimulation() calls of a state run alone (same states and number)")
    print("overhead: microseconds per step on top of the physics (1/env rate - 1/physics rate)")
    width = max(len(env_id) for env_id in ids)
    header = (
        f"{'env':<{width}}  {'state':>8}  {'pixels':>7}  {'physics':>8}  "
        f"{'state/physics':>13}  {'overhead state':>14}  {'overhead pixels':>15}"
    )
    print(header)
    for env_id in ids:
        state, pixels, physics = (rate[env_id, mode] for mode in MODES)
        over_state = 1e6 / state - 1e6 / physics
        over_pixels = 1e6 / pixels - 1e6 / physics
        print(
            f"{env_id:<{width}}  {state:>8,.0f}  {pixels:>7,.0f}  {physics:>8,.0f}  "
            f"{state / physics:>12.2f}x  {over_state:>11.0f} us  {over_pixels:>12.0f} us"
        )
    print(
        f"(spread: the slowest run's rate as a fraction of the fastest's, worst case {spread:.2f})"
    )

    print("")
    print("targets (PyBullet's legacy envs on this kind of machine)")
    for env_id, (legacy, ref_state, ref_pixels) in REFERENCES.items():
        for mode, ref in (("state", ref_state), ("pixels", ref_pixels)):
            got = rate[env_id, mode]
            verdict = "PASS" if got >= ref else "FAIL"
            print(
                f"[{verdict}] {env_id} {mode} >= {legacy} {ref:,.0f} steps/s: {got:,.0f} "
                f"({got / ref:.2f}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
