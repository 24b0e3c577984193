"""Gradient updates per second of the CRAR agent, alone and as an ensemble, and what that makes
of the maze transfer study's wall time.

Run from the repository root::

    .venv/bin/python benchmarks/crar.py

Everything printed is measured in the same run, on the same machine:

- **single model**: ``CRAR._update`` (one update: the seven losses, each with its own RMSprop
  step) of one agent, on minibatches of 32 drawn beforehand from a small random buffer, for the
  agent's three network sets: ``dense`` on the maze (``tlbench/Maze-v0``, 1x8x8), ``conv`` on the
  labyrinth's 48x48 pixels (``tlbench/MetaLabyrinth-v0``) and ``conv`` on its 8x8 grid mode
  (``obs_mode="grid"``, the encoder without pools). Source phase (every component trains) and
  frozen phase (only the encoder trains, the transfers' case).
- **ensemble**: :class:`baselines.crar.ensemble.CRAREnsemble` on the maze for several ensemble
  sizes E: updates/s of the ensemble and model-updates/s (updates x E per second), source and
  frozen phases.
- **maze study**: the wall time of ``scripts/crar_maze_study.py`` projected from these rates,
  for the paper's schedule (50 epochs x 5,000 updates per model, base and transfer) and for the
  schedule given by ``--study-epochs``, with ``--study-workers`` processes of one thread each
  (each worker one ensemble of its share of the models; a machine with that many idle cores is
  assumed). The paper reports 10 days on a GTX 1050 Ti for its low-dimensional maze study.

Each rate is the best of ``--repeats`` timed runs, the runs of all cases interleaved. torch uses
``--threads`` threads (default 1: the study runs one thread per process). The script only
reports; it always exits 0.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tlbench  # noqa: E402
from baselines.crar import CRAR, Phase  # noqa: E402
from baselines.crar.ensemble import CRAREnsemble, collect  # noqa: E402
from tlbench.agents import AgentContext  # noqa: E402
from tlbench.system import cpu_model  # noqa: E402
from tlbench.timing import require_positive  # noqa: E402

#: (label, env id, env kwargs, agent kwargs)
SINGLE_CASES: tuple[tuple[str, str, dict[str, Any], dict[str, Any]], ...] = (
    ("dense, maze 1x8x8", "tlbench/Maze-v0", {}, {}),
    ("conv, labyrinth 1x48x48", "tlbench/MetaLabyrinth-v0", {}, {}),
    ("conv, labyrinth grid 1x8x8", "tlbench/MetaLabyrinth-v0", {"obs_mode": "grid"}, {
        "architecture": "conv"
    }),
)  # fmt: skip
PAPER_EPOCHS, PAPER_UPDATES_PER_EPOCH = 50, 5_000
PAPER_DAYS = 10.0


def make_agent(env_id: str, env_kwargs: dict[str, Any], seed: int, **kwargs: Any) -> CRAR:
    env = gym.make(env_id, **env_kwargs)
    spaces = (env.observation_space, env.action_space)
    context = AgentContext(*spaces, (spaces,), spaces, seed, "cpu", Path("."), "target", 0, 0)
    return CRAR(context, verbose=False, **kwargs)


def phase(agent: CRAR, frozen: bool) -> Phase:
    names = ("encoder",) if frozen else tuple(agent.nets.components())
    return Phase(agent.config.lr, names)


class SingleCase:
    """``updates`` calls of one agent's ``_update`` on pre-drawn minibatches."""

    def __init__(
        self,
        label: str,
        env_id: str,
        env_kwargs: dict[str, Any],
        agent_kwargs: dict[str, Any],
        frozen: bool,
        updates: int,
    ) -> None:
        self.label = f"{label}, {'frozen' if frozen else 'source'}"
        self.models = 1
        self.agent = agent = make_agent(env_id, env_kwargs, 0, **agent_kwargs)
        buffer = collect(agent, gym.make(env_id, **env_kwargs), 300, seed=0)
        rng = np.random.default_rng(0)
        self.batches = [buffer.sample(rng, 32, agent.device) for _ in range(updates)]
        agent._start_phase(phase(agent, frozen))
        agent._update(self.batches[0])  # warm-up

    def run(self) -> tuple[float, float]:
        """One timed run; updates per second of wall time and of this process's CPU time."""
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in self.batches:
            self.agent._update(batch)
        n = len(self.batches)
        return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


class EnsembleCase:
    """``updates`` updates of an ensemble of ``models`` maze agents."""

    def __init__(self, models: int, frozen: bool, updates: int) -> None:
        self.label = f"ensemble E={models}, {'frozen' if frozen else 'source'}"
        self.models = models
        agents = [make_agent("tlbench/Maze-v0", {}, seed) for seed in range(models)]
        env = gym.make("tlbench/Maze-v0")
        self.buffers = [collect(a, env, 300, seed=i) for i, a in enumerate(agents)]
        self.ensemble = ensemble = CRAREnsemble(agents)
        ensemble._load_buffers(self.buffers)
        ensemble.start_phase(phase(agents[0], frozen))
        self.batches = [ensemble.sample(self.buffers) for _ in range(updates)]
        ensemble.update(self.batches[0])  # warm-up

    def run(self) -> tuple[float, float]:
        """One timed run; ensemble updates per second of wall time and of CPU time."""
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in self.batches:
            self.ensemble.update(batch)
        n = len(self.batches)
        return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def time_cases(cases: Sequence[Any], repeats: int) -> list[tuple[float, float]]:
    """Every case ``repeats`` times, round-robin; the best wall rate and the best CPU rate of
    each."""
    rates: list[list[tuple[float, float]]] = [[] for _ in cases]
    for _ in range(repeats):
        for case, case_rates in zip(cases, rates, strict=True):
            case_rates.append(case.run())
    return [(max(w for w, _ in r), max(c for _, c in r)) for r in rates]


def study_hours(
    rate: Callable[[int, bool], float],
    bases: int,
    transfers: int,
    workers: int,
    epochs: tuple[int, ...],
    per_epoch: int,
) -> float:
    """Projected hours of the study: each phase runs its models as ``workers`` ensembles side by
    side, so a phase takes (its updates) / (the ensemble rate at ceil(models / workers))."""
    base_updates, transfer_updates = (e * per_epoch for e in epochs)
    seconds = base_updates / rate(math.ceil(bases / workers), False)
    seconds += transfer_updates / rate(math.ceil(bases * transfers / workers), True)
    return seconds / 3600


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--updates", type=int, default=200, help="updates per dense timed run")
    parser.add_argument("--conv-updates", type=int, default=10, help="per 48x48 conv timed run")
    parser.add_argument("--ensemble-sizes", default="1,2,4,8,16,22", help="comma-separated E")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--study-bases", type=int, default=4, help="B base models")
    parser.add_argument("--study-transfers", type=int, default=6, help="T transfers per base")
    parser.add_argument("--study-workers", type=int, default=2, help="processes, 1 thread each")
    parser.add_argument(
        "--study-epochs", default="10,4", help="base,transfer epochs of the schedule run"
    )
    args = parser.parse_args(argv)
    require_positive(parser, args, "updates", "conv_updates", "repeats", "threads", "study_workers")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    begin = time.perf_counter()
    sizes = sorted({int(s) for s in args.ensemble_sizes.split(",")})
    bases, transfers, workers = args.study_bases, args.study_transfers, args.study_workers
    needed = {math.ceil(bases / workers), math.ceil(bases * transfers / workers)}
    print("tlbench CRAR update throughput")
    print(
        f"python {platform.python_version()} | torch {torch.__version__} | numpy {np.__version__}"
        f" | tlbench {tlbench.__version__}"
    )
    print(
        f"cpu: {cpu_model()} ({os.cpu_count()} logical cores), {platform.system()}; torch threads "
        f"{torch.get_num_threads()}; load average at start {os.getloadavg()[0]:.2f}"
    )
    print(
        f"settings: --updates {args.updates} --conv-updates {args.conv_updates} --repeats "
        f"{args.repeats}; batch size 32 (64 where a loss encodes s and s' together)"
    )

    singles: list[Any] = []
    for label, env_id, env_kwargs, agent_kwargs in SINGLE_CASES:
        n = args.conv_updates if "48x48" in label else args.updates
        for frozen in (False, True):
            singles.append(SingleCase(label, env_id, env_kwargs, agent_kwargs, frozen, n))
    ensembles = [
        EnsembleCase(e, frozen, max(10, args.updates // max(1, e // 4)))
        for e in sorted(set(sizes) | needed)
        for frozen in (False, True)
    ]
    cases = singles + ensembles
    rates = time_cases(cases, args.repeats)

    print("")
    print("one agent (CRAR._update: seven RMSprop steps); per s of wall time and of CPU time")
    print(f"{'networks':<40} {'updates/s':>10} {'ms/update':>10} {'per CPU-s':>10} {'CPU ms':>8}")
    for case, (wall, cpu) in zip(singles, rates, strict=False):
        print(
            f"{case.label:<40} {wall:>10,.1f} {1e3 / wall:>10.2f} {cpu:>10,.1f} {1e3 / cpu:>8.2f}"
        )
    single = {False: rates[0], True: rates[1]}  # dense source, dense frozen

    print("")
    print("ensemble of E maze agents (CRAREnsemble.update); model-updates = updates x E")
    print(
        f"{'case':<28} {'updates/s':>10} {'model-upd/s':>12} {'model-upd/CPU-s':>16} "
        f"{'vs one agent (CPU)':>19}"
    )
    ensemble_rate: dict[tuple[int, bool], tuple[float, float]] = {}
    for case, (wall, cpu) in zip(ensembles, rates[len(singles) :], strict=True):
        frozen = case.label.endswith("frozen")
        ensemble_rate[case.models, frozen] = (wall, cpu)
        print(
            f"{case.label:<28} {wall:>10,.1f} {wall * case.models:>12,.0f} "
            f"{cpu * case.models:>16,.0f} {cpu * case.models / single[frozen][1]:>18.1f}x"
        )

    print("")
    print(
        f"maze study, {bases} base models x {transfers} transfers, {workers} workers of one "
        "thread each; 'CPU': from the CPU-time rates (a dedicated core per worker), 'wall': "
        "from the wall-time rates under this run's load"
    )
    schedule = tuple(int(e) for e in args.study_epochs.split(","))
    for label, epochs in (
        (f"paper ({PAPER_EPOCHS} + {PAPER_EPOCHS} epochs)", (PAPER_EPOCHS, PAPER_EPOCHS)),
        (f"run ({schedule[0]} + {schedule[1]} epochs)", schedule),
    ):
        hours = {}
        for i, clock in enumerate(("wall", "CPU")):

            def ensemble_at(models: int, frozen: bool, i: int = i) -> float:
                return ensemble_rate[models, frozen][i]

            def one_by_one(models: int, frozen: bool, i: int = i) -> float:
                return single[frozen][i] / models  # each worker trains its agents in turn

            hours[clock] = (
                study_hours(
                    ensemble_at, bases, transfers, workers, epochs, PAPER_UPDATES_PER_EPOCH
                ),
                study_hours(one_by_one, bases, transfers, workers, epochs, PAPER_UPDATES_PER_EPOCH),
            )
        cpu_hours = hours["CPU"][0]
        print(
            f"  {label:<24} ensemble {cpu_hours:6.2f} h CPU / {hours['wall'][0]:6.2f} h wall; "
            f"agents one by one {hours['CPU'][1]:6.2f} h CPU / {hours['wall'][1]:6.2f} h wall; "
            f"paper {PAPER_DAYS * 24:.0f} h: {PAPER_DAYS * 24 / cpu_hours:.0f}x (CPU)"
        )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    print(f"(this benchmark: {time.perf_counter() - begin:.0f} s wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
