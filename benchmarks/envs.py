"""Throughput of tlbench's environments next to Gymnasium's FrozenLake and Minigrid.

Run from the repository root::

    .venv/bin/python benchmarks/envs.py

Everything in the printed table is measured in the same run, on the same machine:

- single envs made with ``gymnasium.make`` (default wrappers), stepped with random actions drawn
  beforehand from a seeded generator and reset whenever an episode is terminated or truncated;
- Gymnasium's ``FrozenLake-v1`` (8x8) measured the same way, as a reference for a cheap toy env;
- Minigrid's 48x48 RGB observation path (``MiniGrid-Empty-8x8-v0`` with ``RGBImgObsWrapper``
  at ``tile_size=6`` and ``ImgObsWrapper``), the usual way to get pixels of an 8x8 grid world;
- the vector envs (``make_vec`` with ``vectorization_mode="vector_entry_point"``) with
  ``copy=True`` (a fresh observation array per step) and ``copy=False`` (the env's own buffer,
  overwritten by the next step: Gymnasium's ``copy`` option of its vector envs, enough when each
  batch is consumed, e.g. written into a replay buffer, before the next step).

Each figure is the best of ``--repeats`` timed runs, the runs of all cases interleaved. The script
reports (PASS/FAIL for the performance targets); it always exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

import tlbench
from tlbench.timing import header as machine_header
from tlbench.timing import require_positive, time_cases

TARGET_NUM_ENVS = 4096
FROZENLAKE_ID = "FrozenLake-v1"
MINIGRID_ID = "MiniGrid-Empty-8x8-v0"
MINIGRID_TILE = 6
FROZENLAKE_LABEL = f"{FROZENLAKE_ID} map_name=8x8 (slippery)"
MINIGRID_LABEL = f"{MINIGRID_ID} RGB 48x48x3 (tile {MINIGRID_TILE})"
MAZE_ID = "tlbench/Maze-v0"
LABYRINTH_ID = "tlbench/MetaLabyrinth-v0"

EnvFactory = Callable[[], gym.Env[Any, Any]]


class SingleCase:
    """One single env stepped with pre-drawn random actions, reset when an episode ends."""

    def __init__(self, label: str, make: EnvFactory, steps: int, seed: int = 0) -> None:
        self.label = label
        self.env = make()
        self.seed = seed
        n_actions = int(self.env.action_space.n)  # type: ignore[attr-defined]
        rng = np.random.default_rng(seed)
        self.actions: list[int] = rng.integers(n_actions, size=steps).tolist()  # Python ints

    def run(self) -> float:
        """One timed run; its steps/s (resets included)."""
        env, actions = self.env, self.actions
        env.reset(seed=self.seed)
        start = time.perf_counter()
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        return len(actions) / (time.perf_counter() - start)

    def close(self) -> None:
        self.env.close()


class VectorCase:
    """One vector env (``vector_entry_point``) stepped with pre-drawn random action batches."""

    def __init__(self, env_id: str, num_envs: int, steps: int, copy: bool, seed: int = 0) -> None:
        self.env_id = env_id
        self.copy = copy
        self.seed = seed
        self.num_envs = num_envs
        self.envs = gym.make_vec(
            env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", copy=copy
        )
        n_actions = int(self.envs.single_action_space.n)  # type: ignore[attr-defined]
        rng = np.random.default_rng(seed)
        self.actions = rng.integers(n_actions, size=(steps, num_envs), dtype=np.int64)

    def run(self) -> float:
        """One timed run; its env-steps/s (autoresets included)."""
        envs, actions = self.envs, self.actions
        envs.reset(seed=self.seed)
        start = time.perf_counter()
        for batch in actions:
            envs.step(batch)
        return actions.size / (time.perf_counter() - start)

    def close(self) -> None:
        self.envs.close()


def make_minigrid_rgb() -> gym.Env[Any, Any] | None:
    """Minigrid's 48x48x3 RGB path, or ``None`` when minigrid cannot be imported."""
    try:
        import minigrid  # noqa: F401  (registers the MiniGrid ids)
        from minigrid.wrappers import ImgObsWrapper, RGBImgObsWrapper
    except ImportError:
        return None
    return ImgObsWrapper(RGBImgObsWrapper(gym.make(MINIGRID_ID), tile_size=MINIGRID_TILE))


def fmt_rate(rate: float) -> str:
    """``1234567.8`` -> ``"1,234,568"``."""
    return f"{rate:,.0f}"


def fmt_millions(rate: float) -> str:
    """``12345678`` -> ``"12.35M"``."""
    return f"{rate / 1e6:.2f}M"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=50_000, help="steps per single-env run")
    parser.add_argument(
        "--minigrid-steps",
        type=int,
        default=None,
        help="steps per Minigrid run (default: min(--steps, 5000); it is ~100x slower)",
    )
    parser.add_argument(
        "--vector-steps",
        type=int,
        default=204,
        help="batched steps per vector-env run (default 204: four labyrinth and two maze "
        "time-limit periods, so the timing includes the resets at their usual rate)",
    )
    parser.add_argument("--num-envs", type=int, default=TARGET_NUM_ENVS, help="vector env size N")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    args = parser.parse_args(argv)
    require_positive(parser, args, "steps", "vector_steps", "num_envs", "repeats")
    if args.minigrid_steps is None:
        args.minigrid_steps = min(args.steps, 5_000)
    else:
        require_positive(parser, args, "minigrid_steps")
    return args


def single_cases(steps: int) -> list[SingleCase]:
    """Every grid-world id with default kwargs, the other observation modes, and FrozenLake.

    (The PyBullet envs have their own benchmark, ``benchmarks/bullet.py``.)
    """
    configs: list[tuple[str, str, dict[str, Any]]] = [
        (env_id, env_id, {}) for env_id in tlbench.env_ids("grid")
    ]
    configs += [
        (f"{LABYRINTH_ID} obs_mode=grid", LABYRINTH_ID, {"obs_mode": "grid"}),
        (f"{MAZE_ID} obs_mode=pixels", MAZE_ID, {"obs_mode": "pixels"}),
        (FROZENLAKE_LABEL, FROZENLAKE_ID, {"map_name": "8x8"}),
    ]
    cases = []
    for label, env_id, kwargs in configs:

        def make(env_id: str = env_id, kwargs: dict[str, Any] = kwargs) -> gym.Env[Any, Any]:
            return gym.make(env_id, **kwargs)

        cases.append(SingleCase(label, make, steps))
    return cases


def minigrid_case(steps: int) -> tuple[SingleCase | None, str]:
    """Minigrid's 48x48 RGB path, or ``None`` and the reason it is skipped."""
    env = make_minigrid_rgb()
    if env is None:
        return None, "minigrid is not importable: the Minigrid comparison is skipped"
    obs, _ = env.reset(seed=0)
    env.close()
    shape = tuple(np.asarray(obs).shape)
    if shape != (48, 48, 3):
        return None, f"Minigrid's RGB observation has shape {shape}, not (48, 48, 3): skipped"

    def make() -> gym.Env[Any, Any]:
        env = make_minigrid_rgb()
        assert env is not None
        return env

    return SingleCase(MINIGRID_LABEL, make, steps), ""


def single_obs_shape(env_id: str) -> tuple[int, ...]:
    """Shape of one observation of ``env_id`` with default kwargs."""
    env = gym.make(env_id)
    try:
        shape = env.observation_space.shape
        assert shape is not None
        return tuple(shape)
    finally:
        env.close()


def print_vector_target(rates: dict[bool, float], label: str, threshold: float, n: int) -> None:
    """One PASS/FAIL line for a vector target, saying which copy mode reached it."""
    name = f"{label} >= {threshold / 1e6:.0f}M env-steps/s at N={TARGET_NUM_ENVS}"
    if n != TARGET_NUM_ENVS:
        print(f"[SKIP] {name}: this run used N={n}")
        return
    reached = [copy for copy in (True, False) if rates[copy] >= threshold]
    if len(reached) == 2:
        how = "reached with both copy modes"
    elif reached == [False]:
        how = "reached with copy=False only (obs = the env's buffer, valid until next step)"
    elif reached == [True]:
        how = "reached with copy=True only"
    else:
        how = "reached with neither copy mode"
    detail = ", ".join(
        f"copy={copy} {fmt_millions(rates[copy])} {verdict(rates[copy] >= threshold)}"
        for copy in (True, False)
    )
    print(f"[{verdict(bool(reached))}] {name}: {how} ({detail})")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table and the targets; always returns 0."""
    args = parse_args(argv)

    print(
        machine_header(
            "tlbench environment throughput",
            ("numpy", "gymnasium", "tlbench", "minigrid"),
            f"--steps {args.steps} --minigrid-steps {args.minigrid_steps} "
            f"--vector-steps {args.vector_steps} --num-envs {args.num_envs} "
            f"--repeats {args.repeats} (best of {args.repeats}, cases interleaved)",
        )
    )

    singles = single_cases(args.steps)
    minigrid, minigrid_note = minigrid_case(args.minigrid_steps)
    if minigrid is not None:
        singles.append(minigrid)
    vectors = [
        VectorCase(env_id, args.num_envs, args.vector_steps, copy)
        for env_id in (MAZE_ID, LABYRINTH_ID)
        for copy in (True, False)
    ]
    try:
        single_timings = time_cases(singles, args.repeats)
        vector_timings = time_cases(vectors, args.repeats)
    finally:
        cases: list[SingleCase | VectorCase] = [*singles, *vectors]
        for case in cases:
            case.close()

    rate = {c.label: t.best for c, t in zip(singles, single_timings, strict=True)}
    frozen = rate[FROZENLAKE_LABEL]
    print("")
    print("single env: gymnasium.make, random actions, reset on terminated or truncated")
    print("(spread: the slowest run's rate as a fraction of the fastest's)")
    width = max(len(c.label) for c in singles)
    print(f"{'env':<{width}}  {'steps/s':>10}  {'vs FrozenLake':>13}  {'spread':>6}")
    for case, timing in zip(singles, single_timings, strict=True):
        ratio = timing.best / frozen
        print(
            f"{case.label:<{width}}  {fmt_rate(timing.best):>10}  {ratio:>12.2f}x  "
            f"{timing.spread:>6.2f}"
        )
    if minigrid is None:
        print(f"note: {minigrid_note}")
    else:
        lab_vs_minigrid = rate[LABYRINTH_ID] / rate[MINIGRID_LABEL]
        print(f"{LABYRINTH_ID} (48x48 pixels) / Minigrid 48x48 RGB: {lab_vs_minigrid:.1f}x")

    print("")
    print(
        f"vector env: make_vec(vectorization_mode='vector_entry_point'), N={args.num_envs}, "
        "random actions, autoreset"
    )
    print("(copy=True allocates and fills a new obs batch every step; copy=False reuses one)")
    vwidth = max(len(c.env_id) for c in vectors)
    header = f"{'env':<{vwidth}}  {'copy':<5}  {'env-steps/s':>12}  {'spread':>6}"
    print(f"{header}  {'obs batch MB':>12}")
    vrate: dict[str, dict[bool, float]] = {}
    for vcase, timing in zip(vectors, vector_timings, strict=True):
        vrate.setdefault(vcase.env_id, {})[vcase.copy] = timing.best
        mb = args.num_envs * int(np.prod(single_obs_shape(vcase.env_id))) * 4 / 1e6
        print(
            f"{vcase.env_id:<{vwidth}}  {vcase.copy!s:<5}  {fmt_rate(timing.best):>12}  "
            f"{timing.spread:>6.2f}  {mb:>12.1f}"
        )

    print("")
    print("targets")
    ratio = rate[MAZE_ID] / frozen
    print(f"[{verdict(ratio >= 1.0)}] {MAZE_ID} single >= 1.0x {FROZENLAKE_ID}: {ratio:.2f}x")
    if minigrid is None:
        print(f"[SKIP] {LABYRINTH_ID} single >= 10x Minigrid 48x48 RGB: {minigrid_note}")
    else:
        lab_ratio = rate[LABYRINTH_ID] / rate[MINIGRID_LABEL]
        print(
            f"[{verdict(lab_ratio >= 10.0)}] {LABYRINTH_ID} single >= 10x Minigrid 48x48 RGB: "
            f"{lab_ratio:.1f}x"
        )
    print(
        f"[{verdict(rate[LABYRINTH_ID] >= 20_000)}] {LABYRINTH_ID} single >= 20,000 steps/s: "
        f"{fmt_rate(rate[LABYRINTH_ID])}"
    )
    print_vector_target(vrate[MAZE_ID], f"{MAZE_ID} vector", 10e6, args.num_envs)
    print_vector_target(vrate[LABYRINTH_ID], f"{LABYRINTH_ID} (pixels) vector", 1e6, args.num_envs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
