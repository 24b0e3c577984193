"""Training speed of tlbench's own PPO (``baselines/ppo``) against Stable-Baselines3's PPO, on the
grid labyrinth (``tlbench/MetaLabyrinth-v0``, ``obs_mode="grid"``), measured in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/ppo.py

Both learn from scratch for a fixed number of env steps with the same number of envs and the
same rollout length per env (``--num-envs``, ``--n-steps``), each with its own defaults
otherwise:

- **ours**: :class:`baselines.ppo.PPOAgent` on the numpy vector env
  (:class:`tlbench.envs.labyrinth.MetaLabyrinthVectorEnv`, autoreset ``SAME_STEP``), its default
  network (a CNN over the one-hot of the distinct cell values) and update (4 epochs of 4
  minibatches).
- **SB3**: ``stable_baselines3.PPO("MlpPolicy")`` on its usual ``DummyVecEnv`` of
  ``gym.make`` envs (``make_vec_env``), with tlbench's SB3 baseline settings
  (``baselines/sb3/ppo.py``: minibatches of 64, ``ent_coef=0.01``) and SB3's 10 epochs.

``-k name=value`` (repeatable) passes keyword arguments to ours, as ``tlbench evaluate`` does,
e.g. ``-k 'channels=[32, 64]' -k hidden=256``.

Both run in this process with the same torch thread count (``--threads``, default 1). The rate is
env steps per CPU-second of this process (``time.process_time``, so load from other processes
matters less than for wall time; wall rates are printed too); each case runs ``--repeats``
times, interleaved, and the best run counts. The script only reports; it always exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tlbench  # noqa: E402, F401  (registers the envs)
from baselines.ppo import PPOAgent  # noqa: E402
from tlbench.agents.api import AgentContext  # noqa: E402
from tlbench.agents.loader import parse_kwargs  # noqa: E402
from tlbench.envs.labyrinth import MetaLabyrinthVectorEnv  # noqa: E402
from tlbench.timing import header, require_positive  # noqa: E402

ENV_ID = "tlbench/MetaLabyrinth-v0"
TARGET_RATIO = 5.0


class Ours:
    """``steps`` env steps of training of a fresh :class:`PPOAgent` on the numpy vector env."""

    label = "ours (baselines/ppo, numpy vector env)"

    def __init__(self, steps: int, num_envs: int, n_steps: int, kwargs: dict[str, Any]) -> None:
        self.steps, self.num_envs, self.n_steps = steps, num_envs, n_steps
        self.kwargs = kwargs

    def run(self) -> tuple[float, float]:
        from gymnasium.vector import AutoresetMode

        envs = MetaLabyrinthVectorEnv(
            self.num_envs,
            obs_mode="grid",
            max_episode_steps=50,
            autoreset_mode=AutoresetMode.SAME_STEP,
        )
        envs.reset(seed=0)
        spaces = (envs.single_observation_space, envs.single_action_space)
        context = AgentContext(*spaces, (spaces,), spaces, 0, "cpu", Path("."), "target", 0, 0)
        agent = PPOAgent(context, **{"n_steps": self.n_steps, **self.kwargs})
        wall, cpu = time.perf_counter(), time.process_time()
        agent.train_target(envs, self.steps)
        return self.steps / (time.process_time() - cpu), self.steps / (time.perf_counter() - wall)


class SB3:
    """``steps`` env steps of ``stable_baselines3.PPO("MlpPolicy")`` on a ``DummyVecEnv``."""

    label = "SB3 PPO (MlpPolicy, DummyVecEnv)"

    def __init__(self, steps: int, num_envs: int, n_steps: int) -> None:
        self.steps, self.num_envs, self.n_steps = steps, num_envs, n_steps

    def run(self) -> tuple[float, float]:
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env

        env = make_vec_env(ENV_ID, n_envs=self.num_envs, seed=0, env_kwargs={"obs_mode": "grid"})
        model = PPO(
            "MlpPolicy",
            env,
            n_steps=self.n_steps,
            batch_size=64,
            ent_coef=0.01,
            seed=0,
            device="cpu",
            verbose=0,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        model.learn(total_timesteps=self.steps)
        steps = model.num_timesteps  # SB3 completes its last rollout
        return steps / (time.process_time() - cpu), steps / (time.perf_counter() - wall)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=65_536, help="env steps of ours per run")
    parser.add_argument("--sb3-steps", type=int, default=16_384, help="env steps of SB3 per run")
    parser.add_argument("--num-envs", type=int, default=16, help="envs of both")
    parser.add_argument("--n-steps", type=int, default=128, help="rollout length per env, both")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs; the best counts")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both")
    parser.add_argument(
        "-k", dest="kwargs", action="append", default=[], help="name=value for ours (repeatable)"
    )
    args = parser.parse_args(argv)
    require_positive(
        parser, args, "steps", "sb3_steps", "num_envs", "n_steps", "repeats", "threads"
    )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    begin = time.perf_counter()
    print(
        header(
            "tlbench PPO training speed: ours vs Stable-Baselines3, grid labyrinth",
            ("torch", "numpy", "gymnasium", "stable_baselines3"),
            f"--steps {args.steps} --sb3-steps {args.sb3_steps} --num-envs {args.num_envs} "
            f"--n-steps {args.n_steps} --repeats {args.repeats} ours: {args.kwargs or 'defaults'}; "
            "torch threads "
            f"{torch.get_num_threads()}; load average at start {os.getloadavg()[0]:.2f}",
        )
    )
    cases: list[Ours | SB3] = [
        Ours(args.steps, args.num_envs, args.n_steps, parse_kwargs(args.kwargs)),
        SB3(args.sb3_steps, args.num_envs, args.n_steps),
    ]
    rates: list[list[tuple[float, float]]] = [[] for _ in cases]
    for _ in range(args.repeats):
        for case, case_rates in zip(cases, rates, strict=True):
            case_rates.append(case.run())
    best = [(max(c for c, _ in r), max(w for _, w in r)) for r in rates]
    print("")
    print(f"{'case':<40} {'steps/CPU-s':>12} {'steps/wall-s':>13}")
    for case, (cpu, wall) in zip(cases, best, strict=True):
        print(f"{case.label:<40} {cpu:>12,.0f} {wall:>13,.0f}")
    ratio = best[0][0] / best[1][0]
    print(f"ratio ours / SB3 (per CPU-second): {ratio:.1f}x")
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(f"target: ours >= {TARGET_RATIO:.0f}x SB3 per CPU-second [{verdict}]")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    print(f"(this benchmark: {time.perf_counter() - begin:.0f} s wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
