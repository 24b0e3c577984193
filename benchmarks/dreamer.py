"""Dreamer's training speed (baselines/dreamer): gradient updates/s and training env steps/s.

Run from the repository root::

    .venv/bin/python benchmarks/dreamer.py [--device cuda] [--threads 1]

For each case (an env, an observation mode, a size preset of :mod:`baselines.dreamer`), in one
run on one machine:

- **updates/s**: :meth:`Dreamer.update` (world model, actor and value: one gradient step each)
  on batches sampled from a replay of random steps, ``--updates`` timed after one untimed
  update; the batch (sequences x steps) is printed;
- **act steps/s**: the collection loop's per-step work after the prefill, timed on its own:
  the exploring policy (encoder, one RSSM posterior step, an actor sample, noise) and one
  ``env.step``, ``--act-steps`` steps with resets;
- **train steps/s**: the loop's steady rate, ``1 / (1 / act + ratio / updates)``, where
  ``ratio`` is the updates per env step of the default schedule (``train_steps`` every
  ``train_every`` frames: ``100 x action repeat / 1000``); prefill and evaluations left out.

Cases: InvertedPendulumSwingup-v0 as 64x64 pixels with action repeat 2 and the paper's sizes
(the paper tier: Dreamer's code counts its schedule in frames, so 100 updates every 1,000 frames
are 100 every 500 env steps at action repeat 2); and in state mode (action repeat 1, 100 updates
every 1,000 steps) with the paper's sizes and with ``size=small``. The paper's reference: about
6 hours per 1e6 environment steps (frames) on one V100, 46 frames/s; frames/s = env steps/s x
action repeat. The script only reports; it always exits 0.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import tlbench
from tlbench.agents import AgentContext
from tlbench.system import cpu_model
from tlbench.timing import require_positive

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from baselines.dreamer import Dreamer  # noqa: E402

ENV_ID = "tlbench/InvertedPendulumSwingup-v0"
#: the paper's reference: 1e6 frames in about 6 hours on one V100
REFERENCE_FRAMES_PER_S = 1e6 / (6 * 3600)


@dataclass(frozen=True)
class Case:
    name: str
    obs_mode: str
    action_repeat: int
    kwargs: dict[str, Any]

    def make(self) -> gym.Env[Any, Any]:
        return gym.make(ENV_ID, obs_mode=self.obs_mode, action_repeat=self.action_repeat)


CASES = (
    Case("pixels, paper sizes", "pixels", 2, {"size": "paper"}),
    Case("state, paper sizes", "state", 1, {"size": "paper"}),
    Case("state, size=small", "state", 1, {"size": "small"}),
)


def make_agent(case: Case, device: str) -> tuple[Dreamer, gym.Env[Any, Any]]:
    env = case.make()
    spaces = (env.observation_space, env.action_space)
    work = Path(tempfile.mkdtemp())
    context = AgentContext(*spaces, (spaces,), spaces, 0, device, work, "target", 0, 0)
    return Dreamer(context, verbose=False, **case.kwargs), env


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_updates(agent: Dreamer, replay: Any, updates: int, device: str) -> float:
    agent.update(agent.sample([replay]))  # warm-up (allocations, kernels)
    sync(device)
    start = time.perf_counter()
    for _ in range(updates):
        agent.update(agent.sample([replay]))
    sync(device)
    return updates / (time.perf_counter() - start)


def time_acting(agent: Dreamer, env: gym.Env[Any, Any], steps: int, device: str) -> float:
    io = agent._env_io(env)
    obs, _ = env.reset(seed=1)
    obs = io.observation(obs)
    latent = agent.nets.rssm.initial(1, agent.device)
    prev = torch.zeros(1, agent.action_width, device=agent.device)
    start = time.perf_counter()
    for _ in range(steps):
        action, latent, prev = agent._policy_action(io, obs, latent, prev)
        next_obs, _, terminated, truncated, _ = env.step(io.action(action))
        obs = io.observation(next_obs)
        if terminated or truncated:
            obs = io.observation(env.reset()[0])
            latent = agent.nets.rssm.initial(1, agent.device)
            prev = torch.zeros(1, agent.action_width, device=agent.device)
    sync(device)
    return steps / (time.perf_counter() - start)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    parser.add_argument("--updates", type=int, default=5, help="timed updates per case")
    parser.add_argument("--act-steps", type=int, default=500, help="timed acting steps per case")
    parser.add_argument(
        "--cases", default="all", help="comma-separated case numbers (1-based), or all"
    )
    args = parser.parse_args(argv)
    require_positive(parser, args, "threads", "updates", "act_steps")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table; always returns 0."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cases = CASES if args.cases == "all" else [CASES[int(i) - 1] for i in args.cases.split(",")]
    device = args.device
    if device == "cpu":
        where = (
            f"cpu: {cpu_model()} ({os.cpu_count()} logical cores), {args.threads} torch thread(s)"
        )
    else:
        where = f"device: {torch.cuda.get_device_name(torch.device(device))}"
    print("Dreamer training speed (baselines/dreamer)")
    print(
        f"python {platform.python_version()} | torch {torch.__version__} | numpy "
        f"{np.__version__} | tlbench {tlbench.__version__}"
    )
    print(where)
    print(f"settings: --updates {args.updates} --act-steps {args.act_steps} (env {ENV_ID})")
    print("")
    header = (
        f"{'case':<22} {'repeat':>6} {'batch':>7} {'sizes (deter/stoch/units/depth)':>31} "
        f"{'updates/s':>9} {'act steps/s':>11} {'upd/step':>8} {'train steps/s':>13} "
        f"{'frames/s':>8} {'vs paper':>8}"
    )
    print(header)
    for case in cases:
        torch.manual_seed(0)
        agent, env = make_agent(case, device)
        s = agent.sizes
        replay = agent.random_replay(env, max(200, 2 * s["batch_length"]))
        updates = time_updates(agent, replay, args.updates, device)
        acting = time_acting(agent, env, args.act_steps, device)
        repeat = agent.frames_per_step(env)  # the env's action repeat: the schedule is in frames
        ratio = agent.config.train_steps * repeat / agent.config.train_every
        train = 1.0 / (1.0 / acting + ratio / updates)
        frames = train * case.action_repeat
        batch = f"{s['batch_size']}x{s['batch_length']}"
        sizes = f"{s['deter']}/{s['stoch']}/{s['units']}/{s['depth']}"
        print(
            f"{case.name:<22} {case.action_repeat:>6} {batch:>7} {sizes:>31} {updates:>9.3g} "
            f"{acting:>11.1f} {ratio:>8.2f} {train:>13.2f} {frames:>8.2f} "
            f"{frames / REFERENCE_FRAMES_PER_S:>7.3f}x",
            flush=True,
        )
        env.close()
    print("")
    print(
        f"paper reference: 1e6 frames in ~6 h on one V100 = {REFERENCE_FRAMES_PER_S:.1f} frames/s;"
        " 'vs paper' = frames/s / that"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
