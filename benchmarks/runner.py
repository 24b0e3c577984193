"""The runner's overhead: ``tlbench evaluate`` against the agent's own training for the same steps.

Both sides are whole programs doing the same learning work on one core, measured in this run:

- *agent alone*: a fresh Python process (``--alone`` mode of this script) that imports the agent
  and calls its ``train_source`` / ``save`` / ``load`` / ``train_target`` on plain Gymnasium
  envs, for every run of the tier, back to back: what a researcher's own training script does;
- *evaluate*: ``tlbench evaluate`` of the same agent, scenario and tier with ``--workers 1``
  (every run in its own worker process, budget wrappers, records, results file, metrics with
  bootstrap intervals, plot), minus the time its evaluation episodes took (reported on its own
  line: the agent-alone program has no evaluation).

The ratio (evaluate minus evaluation episodes) / (agent alone) is the runner's overhead; the goal
is at most 1.05 on the smoke tier. The training calls alone (without process start and imports)
are printed too.

    python benchmarks/runner.py [--agent baselines/sb3/dqn.py] [--scenario maze/inverse]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym

import tlbench  # noqa: F401  (registers the envs)
from tlbench.agents import AgentContext, AgentRef
from tlbench.runner.plan import plan_runs
from tlbench.runner.worker import seed_everything
from tlbench.scenarios import load_scenario


def agent_alone(agent: AgentRef, scenario_id: str, tier_name: str, work: Path) -> float:
    """Seconds the agent's own training calls take for every run of the tier."""
    import torch

    torch.set_num_threads(1)  # as in a runner worker
    scenario = load_scenario(scenario_id)
    tier = scenario.tier(tier_name)
    cls = agent.load_class()
    target = scenario.target_for(tier_name).make()
    sources = [ref.make() for ref in scenario.sources_for(tier_name)]
    spaces = tuple((e.observation_space, e.action_space) for e in sources)
    target_spaces = (target.observation_space, target.action_space)
    runs = plan_runs(
        fingerprint="bench",
        tier=tier_name,
        source_seeds=tier.source_seeds,
        target_seeds=tier.target_seeds,
        agent_digest="bench",
        agent_kwargs={},
    )

    def context(phase: str, seed: int, obs: gym.Space, act: gym.Space) -> AgentContext:
        return AgentContext(
            obs,
            act,
            spaces,
            target_spaces,
            seed,
            "cpu",
            work,
            phase,
            tier.source_steps,
            tier.target_steps,
        )

    total = 0.0
    for run in runs:
        seed_everything(run.seed)
        artifact = work / f"artifact-{run.source_seed}"
        if run.condition == "source":
            envs = [ref.make() for ref in scenario.sources_for(tier_name)]
            for i, env in enumerate(envs):
                env.reset(seed=run.seed * 100 + i)
            start = time.perf_counter()
            a = cls(context("source", run.seed, *spaces[0]), **agent.kwargs)
            a.train_source(envs, tier.source_steps)
            artifact.mkdir(parents=True, exist_ok=True)
            a.save(artifact)
            total += time.perf_counter() - start
        else:
            env = scenario.target_for(tier_name).make()
            env.reset(seed=run.seed)
            start = time.perf_counter()
            a = cls(context("target", run.seed, *target_spaces), **agent.kwargs)
            if run.condition == "transfer":
                a.load(artifact)
            a.train_target(env, tier.target_steps)
            total += time.perf_counter() - start
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="baselines/sb3/dqn.py")
    parser.add_argument("--scenario", default="maze/inverse")
    parser.add_argument("--tier", default="smoke")
    parser.add_argument("--alone", metavar="WORKDIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.alone:  # the agent-alone program: print the training calls' own time
        print(agent_alone(AgentRef.parse(args.agent), args.scenario, args.tier, Path(args.alone)))
        return

    work = Path(tempfile.mkdtemp(prefix="tlbench-bench-"))
    try:
        start = time.perf_counter()
        calls = float(
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--agent",
                    args.agent,
                    "--scenario",
                    args.scenario,
                    "--tier",
                    args.tier,
                    "--alone",
                    str(work / "alone"),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        alone = time.perf_counter() - start
        out = work / "evaluate"
        cli = Path(sys.executable).parent / "tlbench"
        start = time.perf_counter()
        subprocess.run(
            [
                str(cli),
                "evaluate",
                args.agent,
                "--scenario",
                args.scenario,
                "--tier",
                args.tier,
                "--out",
                str(out),
                "--workers",
                "1",
                "--device",
                "cpu",
            ],
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - start
        results = json.loads((out / "results.json").read_text())
        evaluation = sum(r["timing"].get("eval_s", 0.0) for r in results["runs"])
        training = sum(r["timing"].get("train_s", 0.0) for r in results["runs"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"agent {args.agent}, scenario {args.scenario}, tier {args.tier}, workers 1, cpu")
    print(f"runs: {len(results['runs'])}")
    print(f"agent alone, whole program:               {alone:8.2f} s")
    print(f"  of which its training calls:            {calls:8.2f} s")
    print(f"tlbench evaluate, whole command:          {wall:8.2f} s")
    print(f"  of which evaluation episodes:           {evaluation:8.2f} s")
    print(f"  of which agent training inside workers: {training:8.2f} s")
    ratio = (wall - evaluation) / alone
    print(
        f"overhead ratio (evaluate - evaluation) / alone: {ratio:.3f}  (goal <= 1.05: "
        f"{'PASS' if ratio <= 1.05 else 'FAIL'})"
    )


if __name__ == "__main__":
    main()
