"""The evaluation pipeline: budget, evaluation, failures, resuming, results files, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from typer.testing import CliRunner

import tlbench  # noqa: F401
from tlbench.agents import AgentRef, BudgetExhausted
from tlbench.cli import app
from tlbench.leaderboard import validate as v
from tlbench.runner.budget import BudgetedEnv, BudgetedVectorEnv
from tlbench.runner.evaluate import evaluate
from tlbench.runner.worker import evaluate_policy, evaluate_policy_batched
from tlbench.scenarios import EnvRef, load_scenario
from tlbench.system import source_revision

ROOT = Path(__file__).resolve().parents[1]
AGENTS = Path(__file__).resolve().parent / "agents"

TINY = """\
id: test/tiny
version: 1
title: Tiny maze transfer (tests)
description: Maze to inverse maze with budgets small enough for unit tests.
references: []
sources:
  - env: tlbench/Maze-v0
target:
  env: tlbench/InverseMaze-v0
score: return
success_threshold: 0.5
normalization: {random: -0.9, reference: 0.9}
tiers:
  smoke: {source_steps: 200, target_steps: 200, eval_every: 100, eval_episodes: 2,
          eval_policy: greedy, source_seeds: 2, target_seeds: 2}
  standard: {source_steps: 300, target_steps: 300, eval_every: 100, eval_episodes: 2,
             eval_policy: greedy, source_seeds: 1, target_seeds: 3}
  paper: {source_steps: 300, target_steps: 300, eval_every: 100, eval_episodes: 2,
          eval_policy: greedy, source_seeds: 1, target_seeds: 1, env_kwargs: {obs_mode: pixels}}
"""


@pytest.fixture
def tasks(tasks_with: Callable[[dict[str, str]], Path]) -> Path:
    """A tasks folder holding the shipped scenarios plus ``test/tiny``."""
    return tasks_with({"test/tiny": TINY})


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]


def comparable(results: dict[str, Any]) -> dict[str, Any]:
    """A results file without what legitimately differs between two executions."""
    results = json.loads(json.dumps(results))
    for run in results["runs"]:
        run.pop("timing", None)
        run.pop("log", None)
    results.pop("command", None)
    return results


# -- the budget -----------------------------------------------------------------------------------


def test_budgeted_env_counts_stops_and_calls_checkpoints() -> None:
    seen: list[tuple[int, int]] = []
    env = BudgetedEnv(
        gym.make("tlbench/Maze-v0"),
        250,
        seed=3,
        checkpoints=[0, 100, 200, 250],
        on_checkpoint=lambda c: seen.append((c, env.steps)),
    )
    first, _ = env.reset()
    np.testing.assert_array_equal(first, gym.make("tlbench/Maze-v0").reset(seed=3)[0])
    assert env.unwrapped is env  # the Gymnasium API leads to no unbudgeted env
    steps = 0
    with pytest.raises(BudgetExhausted, match="250"):
        while True:
            _, _, te, tr, _ = env.step(1)
            steps += 1
            if te or tr:
                env.reset()
    assert steps == env.steps == 250
    assert seen == [(100, 100), (200, 200), (250, 250)]  # each before the step beyond it
    env.finish()
    assert len(seen) == 3


def test_budgeted_env_finish_runs_the_checkpoints_left() -> None:
    seen: list[int] = []
    env = BudgetedEnv(
        gym.make("tlbench/Maze-v0"),
        300,
        seed=0,
        checkpoints=[100, 200, 300],
        on_checkpoint=seen.append,
    )
    env.reset()
    for _ in range(150):
        env.step(0)
    env.finish()
    assert seen == [100, 200, 300]


def test_an_agent_that_ignores_its_budget_is_stopped(tasks: Path, tmp_path: Path) -> None:
    scenario = load_scenario("test/tiny")
    result = evaluate(
        AgentRef(AGENTS / "greedy_stepper.py"),
        scenario,
        "smoke",
        tmp_path / "out",
        workers=0,
        device="cpu",
        reps=200,
    )
    assert not result.failed
    for record in records(tmp_path / "out"):
        if record["condition"] == "source":
            assert record["steps"]["source"] == [200]
        else:
            assert record["steps"]["target"] == 200
            assert record["checkpoints"] == [0, 100, 200]
            assert [len(r) for r in record["returns"]] == [2, 2, 2]


def test_budgeted_vector_env_counts_env_steps_over_all_sub_envs() -> None:
    ref = EnvRef(env="tlbench/MetaLabyrinth-v0", kwargs={"obs_mode": "grid"})
    seen: list[tuple[int, int]] = []
    envs = BudgetedVectorEnv(
        ref.make_vec(4),
        40,
        seed=7,
        checkpoints=[0, 20, 40],
        on_checkpoint=lambda c: seen.append((c, envs.steps)),
    )
    first, _ = envs.reset()
    np.testing.assert_array_equal(first, ref.make_vec(4).reset(seed=7)[0])
    np.testing.assert_array_equal(first[2], ref.make().reset(seed=9)[0])  # sub-env i: seed + i
    assert envs.unwrapped is envs
    calls = 0
    with pytest.raises(BudgetExhausted, match="40"):
        while True:
            envs.step(np.zeros(4, dtype=np.int64))
            calls += 1
    assert calls == 10 and envs.steps == 40
    assert seen == [(20, 20), (40, 40)]  # each before the step beyond it
    envs.finish()
    assert len(seen) == 2


def test_budgeted_vector_env_needs_same_step_autoreset() -> None:
    envs = gym.make_vec("tlbench/Maze-v0", num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="SAME_STEP"):
        BudgetedVectorEnv(envs, 10, seed=0)


class _Recorder:
    """An agent stand-in that always predicts action 3 and records how it was asked."""

    def __init__(self) -> None:
        self.deterministic: list[bool] = []

    def predict(self, observation, state=None, episode_start=None, deterministic=True):  # type: ignore[no-untyped-def]
        self.deterministic.append(deterministic)
        return np.int64(3), state


class _ActionLog(gym.Wrapper):  # type: ignore[type-arg]
    def __init__(self, env: gym.Env) -> None:  # type: ignore[type-arg]
        super().__init__(env)
        self.actions: list[int] = []

    def step(self, action: Any) -> Any:
        self.actions.append(int(action))
        return super().step(action)


def test_evaluation_policies_greedy_sampled_and_epsilon_greedy() -> None:
    def run(policy: str, epsilon: float | None = None) -> tuple[_Recorder, list[int], list[float]]:
        agent, env = _Recorder(), _ActionLog(gym.make("tlbench/InverseMaze-v0"))
        returns = evaluate_policy(agent, env, 20, policy, epsilon)  # type: ignore[arg-type]
        return agent, env.actions, returns

    greedy, greedy_actions, _ = run("greedy")
    assert set(greedy.deterministic) == {True} and set(greedy_actions) == {3}
    sampled, _, _ = run("sampled")
    assert set(sampled.deterministic) == {False}
    noisy, actions, returns = run("epsilon-greedy", 0.1)
    assert set(noisy.deterministic) == {True}
    assert len(noisy.deterministic) == len(actions)  # predict is asked at every step
    replaced = np.mean(np.array(actions) != 3)
    assert 0.03 < replaced < 0.12  # 0.1 x 3/4 of random actions differ from the greedy one
    # The runner draws the noise from its own generator: the same for every evaluation.
    _, actions_again, returns_again = run("epsilon-greedy", 0.1)
    assert actions_again == actions and returns_again == returns
    _, all_random, _ = run("epsilon-greedy", 1.0)
    assert 0.2 < np.mean(np.array(all_random) == 3) < 0.3


def test_epsilon_noise_does_not_depend_on_the_agents_random_state() -> None:
    env = _ActionLog(gym.make("tlbench/InverseMaze-v0"))
    evaluate_policy(_Recorder(), env, 5, "epsilon-greedy", 0.5)  # type: ignore[arg-type]
    first = list(env.actions)
    np.random.seed(123)  # noqa: NPY002 (an agent reseeding the global generator)
    env.actions.clear()
    evaluate_policy(_Recorder(), env, 5, "epsilon-greedy", 0.5)  # type: ignore[arg-type]
    assert env.actions == first


class _LooksAround:
    """A stateless agent stand-in whose action depends on the observation, single or batched."""

    batch_predict = True

    def predict(self, observation, state=None, episode_start=None, deterministic=True):  # type: ignore[no-untyped-def]
        obs = np.asarray(observation)
        flat = obs.reshape(-1, 64) if obs.ndim == 4 else obs.reshape(1, 64)
        actions = (np.argmin(flat, axis=1) + (flat.sum(axis=1) < -3)) % 4
        return (actions if obs.ndim == 4 else actions[0]), state


@pytest.mark.parametrize("policy,epsilon", [("greedy", None), ("epsilon-greedy", 0.3)])
def test_batched_evaluation_plays_the_same_episodes(policy: str, epsilon: float | None) -> None:
    agent = _LooksAround()
    single = evaluate_policy(agent, gym.make("tlbench/InverseMaze-v0"), 12, policy, epsilon)  # type: ignore[arg-type]
    envs = [gym.make("tlbench/InverseMaze-v0") for _ in range(12)]
    batched = evaluate_policy_batched(agent, envs, policy, epsilon)  # type: ignore[arg-type]
    assert batched == single
    assert len(set(single)) > 1  # the episodes differ, so the comparison can fail


def test_a_batch_predict_agent_that_returns_one_action_is_named() -> None:
    agent = _Recorder()
    agent.batch_predict = True  # type: ignore[attr-defined]
    envs = [gym.make("tlbench/InverseMaze-v0") for _ in range(3)]
    with pytest.raises(ValueError, match="returned a single action for a batch of 3"):
        evaluate_policy_batched(agent, envs)  # type: ignore[arg-type]


def test_a_tier_with_num_envs_trains_on_vector_envs(
    tasks_with: Callable[[dict[str, str]], Path], tmp_path: Path
) -> None:
    vector = TINY.replace(
        "source_seeds: 2, target_seeds: 2}", "source_seeds: 1, target_seeds: 1, num_envs: 4}"
    )
    tasks_with({"test/tiny": vector})
    scenario = load_scenario("test/tiny")
    assert scenario.tier("smoke").num_envs == 4
    result = evaluate(
        AgentRef(AGENTS / "vector_stepper.py"),
        scenario,
        "smoke",
        tmp_path / "out",
        workers=0,
        device="cpu",
        reps=200,
    )
    assert not result.failed, result.failed
    recs = records(tmp_path / "out")
    assert len(recs) == 3
    for record in recs:
        if record["condition"] == "source":
            assert record["steps"]["source"] == [200]
        else:
            assert record["steps"]["target"] == 200
            assert record["checkpoints"] == [0, 100, 200]


# -- failures -------------------------------------------------------------------------------------


def test_a_crashing_agent_fails_its_run_only(tasks: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_cli(
        "evaluate",
        f"{AGENTS / 'crashing.py'}:CrashesOnOneSeed",
        "-s",
        "test/tiny",
        "-o",
        str(out),
        "-w",
        "2",
        "--no-plot",
    )
    assert res.exit_code == 1
    # The transfer run and its paired scratch run share seed 1001: both crash.
    assert "2 run(s) failed" in res.stderr and "boom: a bug in the agent" in res.stderr
    assert "transfer s0/t1" in res.stderr and "scratch s0/t1" in res.stderr
    assert "logs" in res.stderr
    recs = records(out)
    assert len(recs) == 10
    failed = [r for r in recs if r["status"] != "ok"]
    assert sorted((r["condition"], r["seed"]) for r in failed) == [
        ("scratch", 1001),
        ("transfer", 1001),
    ]
    assert all("Traceback" in r["traceback"] for r in failed)
    results = json.loads((out / "results.json").read_text())
    assert results["metrics"]["num_runs"] == 3  # the pairs whose two runs both succeeded
    assert sorted(results["failed"]) == sorted(r["key"] for r in failed)


def test_a_failed_source_run_fails_its_transfer_runs_only(tasks: Path, tmp_path: Path) -> None:
    scenario = load_scenario("test/tiny")
    result = evaluate(
        AgentRef(AGENTS / "crashing.py", "CrashesInSource"),
        scenario,
        "smoke",
        tmp_path,
        workers=2,
        device="cpu",
        reps=200,
    )
    failed = sorted((f["condition"], f["source_seed"]) for f in result.failed)
    assert failed == [("source", 1), ("transfer", 1), ("transfer", 1)]
    assert all("source run" in f["error"] for f in result.failed if f["condition"] == "transfer")


def test_a_worker_that_dies_is_recorded_as_failed(tasks: Path, tmp_path: Path) -> None:
    scenario = load_scenario("test/tiny")
    result = evaluate(
        AgentRef(AGENTS / "crashing.py", "DiesHard"),
        scenario,
        "smoke",
        tmp_path,
        workers=2,
        device="cpu",
        reps=200,
    )
    assert [f["error"] for f in result.failed] == [
        "the worker process died (exit code 139) before writing a result"
    ] * 2  # seed 2000: transfer and scratch of s1/t0
    assert len(records(tmp_path)) == 10


def test_a_run_past_its_timeout_is_killed(tasks: Path, tmp_path: Path) -> None:
    scenario = load_scenario("test/tiny")
    start = time.monotonic()
    result = evaluate(
        AgentRef(AGENTS / "crashing.py", "Hangs"),
        scenario,
        "smoke",
        tmp_path,
        workers=2,
        device="cpu",
        run_timeout=3,
        reps=200,
    )
    assert time.monotonic() - start < 60
    assert {f["error"] for f in result.failed} == {"killed after the run timeout of 3 s"}
    assert len(result.failed) == 2


# -- resuming -------------------------------------------------------------------------------------


def test_killed_evaluation_resumes_to_the_same_results(tasks: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "tlbench.cli",
        "evaluate",
        f"{AGENTS / 'slow_random.py'}",
        "-s",
        "test/tiny",
        "-w",
        "1",
        "--no-plot",
    ]
    env = {**os.environ, "TLBENCH_TASKS_DIR": str(tasks)}
    full, part = tmp_path / "full", tmp_path / "part"
    subprocess.run([*cmd, "-o", str(full)], env=env, check=True, capture_output=True)

    proc = subprocess.Popen(
        [*cmd, "-o", str(part)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((part / "runs").glob("*.json"))) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in (part / "runs").glob("*.json")}
    assert 4 <= len(done_before) < 10, "the kill should land part-way"
    assert not (part / "results.json").exists()

    rerun = subprocess.run(
        [*cmd, "-o", str(part)], env=env, check=True, capture_output=True, text=True
    )
    assert f"{10 - len(done_before)} executed now" in rerun.stdout.replace("\n", " ")
    for name, mtime in done_before.items():  # finished runs were not executed again
        assert (part / "runs" / name).stat().st_mtime_ns == mtime
    a = json.loads((full / "results.json").read_text())
    b = json.loads((part / "results.json").read_text())
    assert comparable(a) == comparable(b)

    again = subprocess.run(
        [*cmd, "-o", str(part)], env=env, check=True, capture_output=True, text=True
    )
    assert "0 executed now" in again.stdout.replace("\n", " ")


# -- results --------------------------------------------------------------------------------------


def test_results_record_provenance_and_raw_curves(tasks: Path, tmp_path: Path) -> None:
    res = run_cli(
        "evaluate",
        f"{AGENTS / 'crashing.py'}:RandomAgent",
        "-s",
        "test/tiny",
        "-o",
        str(tmp_path),
        "-w",
        "2",
        "-k",
        "unused=3",
    )
    assert res.exit_code == 0, res.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["schema"] == "tlbench.results/1"
    assert results["scenario"]["fingerprint"] == load_scenario("test/tiny").fingerprint
    assert results["agent"]["kwargs"] == {"unused": 3}
    assert results["agent"]["name"] == "RandomAgent" and len(results["agent"]["digest"]) == 16
    assert {"python", "numpy", "torch", "gymnasium", "tlbench"} <= set(results["versions"])
    assert results["versions"]["tlbench-source"] == source_revision()
    assert results["device"]["device"] == "cpu" and results["device"]["cpu"]
    assert results["command"].startswith("tlbench evaluate")
    assert len(results["runs"]) == 10
    for run in results["runs"]:
        assert run["status"] == "ok" and run["timing"]["total_s"] > 0
        if run["condition"] != "source":
            assert run["steps"]["target"] == 200 and len(run["returns"]) == 3
            assert run["timing"]["train_s"] >= 0 and run["timing"]["eval_s"] > 0
            assert run["curve"] == [float(np.mean(r)) for r in run["returns"]]
    assert results["metrics"]["num_runs"] == 4
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert "jumpstart" in res.stdout and "P(transfer > scratch)" in res.stdout


def test_a_resumed_evaluation_logs_its_runs_and_names_those_made_otherwise(
    tasks: Path, tmp_path: Path
) -> None:
    args = ("evaluate", f"{AGENTS / 'crashing.py'}:RandomAgent", "-s", "test/tiny", "--no-plot")
    first = run_cli(*args, "-o", str(tmp_path), "-w", "1")
    assert first.exit_code == 0 and "note:" not in first.stderr
    # not a terminal: a plain line per finished run instead of progress bars
    lines = first.stderr.splitlines()
    assert lines[0] == "10 runs: 0 finished before, 10 to run"
    assert [line.split("]")[0] for line in lines[1:11]] == [f"[{i}/10" for i in range(1, 11)]
    assert all(": ok in " in line for line in lines[1:11])
    results = json.loads((tmp_path / "results.json").read_text())
    assert all(r["versions"] == results["versions"] for r in results["runs"])
    assert all(r["device"] == results["device"] for r in results["runs"])
    # as if two runs had been made by an earlier command, with other code and another CPU
    paths = sorted((tmp_path / "runs").glob("*.json"))
    for path, edit in zip(paths[:2], ("versions", "device"), strict=True):
        record = json.loads(path.read_text())
        if edit == "versions":
            record["versions"] = {**record["versions"], "numpy": "1.0.0"}
            del record["versions"]["tlbench-source"]
        else:
            record["device"] = {**record["device"], "cpu": "Another CPU"}
        path.write_text(json.dumps(record))
    again = run_cli(*args, "-o", str(tmp_path), "-w", "1")
    assert again.exit_code == 0 and "0 executed now" in again.stdout.replace("\n", " ")
    assert again.stderr.startswith("10 runs: 10 finished before, 0 to run\n")
    note = " ".join(again.stderr.split())
    here = results["versions"]
    assert f"numpy: {here['numpy']} in 9 runs, 1.0.0 in 1 run (the results record" in note
    assert f"tlbench-source: {here['tlbench-source']} in 9 runs, not recorded in 1 run" in note
    assert "cpu: " in note and "Another CPU in 1 run" in note
    rewritten = json.loads((tmp_path / "results.json").read_text())
    assert sorted(r["versions"]["numpy"] for r in rewritten["runs"])[0] == "1.0.0"
    # still a valid results file (the leaderboard's checks but the tier: smoke is not taken)
    submission = v.Submission.model_validate(rewritten)
    v.check_runs(tmp_path / "results.json", submission, v.check_scenario(tmp_path, submission))


def test_paired_runs_share_their_seed_and_evaluation_episodes(tasks: Path, tmp_path: Path) -> None:
    scenario = load_scenario("test/tiny")
    evaluate(
        AgentRef(AGENTS / "greedy_stepper.py"),
        scenario,
        "smoke",
        tmp_path,
        workers=0,
        device="cpu",
        reps=200,
    )
    recs = {(r["condition"], r["source_seed"], r["target_seed"]): r for r in records(tmp_path)}
    for s in range(2):
        for t in range(2):
            transfer, scratch = recs[("transfer", s, t)], recs[("scratch", s, t)]
            assert transfer["seed"] == scratch["seed"] == 1000 * (s + 1) + t
            # The same fixed policy on the same evaluation episodes: the same returns.
            assert transfer["returns"] == scratch["returns"]


# -- bad input ------------------------------------------------------------------------------------


def test_unknown_scenario_tier_and_agent_class_are_named(tasks: Path, tmp_path: Path) -> None:
    agent = str(AGENTS / "crashing.py")
    res = run_cli("evaluate", agent + ":RandomAgent", "-s", "maze/invrse", "-o", str(tmp_path))
    assert res.exit_code == 2 and "did you mean 'maze/inverse'" in res.stderr
    res = run_cli("evaluate", agent + ":RandomAgent", "-s", "test/tiny", "-t", "smok")
    assert res.exit_code == 2 and "smoke" in res.stderr
    res = run_cli("evaluate", agent + ":RandomAgnt", "-s", "test/tiny", "-o", str(tmp_path))
    assert res.exit_code == 2 and "did you mean 'RandomAgent'" in res.stderr
    res = run_cli("evaluate", agent, "-s", "test/tiny", "-o", str(tmp_path))
    assert res.exit_code == 2 and "defines several agents" in res.stderr
    res = run_cli("evaluate", "no/such/agent.py", "-s", "test/tiny", "-o", str(tmp_path))
    assert res.exit_code == 2 and "does not exist" in res.stderr
    res = run_cli("evaluate", agent + ":RandomAgent", "-s", "test/tiny", "-k", "oops")
    assert res.exit_code == 2 and "'oops' is not name=value" in res.stderr
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_alignment_scored_scenarios_refuse_agents_without_embed(
    tasks: Path, tmp_path: Path
) -> None:
    """Agents with embed() are scored there: tests/test_alignment.py."""
    res = run_cli(
        "evaluate",
        f"{AGENTS / 'crashing.py'}:RandomAgent",
        "-s",
        "maze/inverse-reward-free",
        "-o",
        str(tmp_path),
    )
    assert res.exit_code == 2 and "RandomAgent has no embed()" in res.stderr
    assert not (tmp_path / "runs").exists()  # nothing ran


# -- Stable-Baselines3 ----------------------------------------------------------------------------


def test_sb3_dqn_smoke_evaluation_through_the_cli(tmp_path: Path) -> None:
    """The README's main job: DQN on maze/inverse, smoke tier, through the console script."""
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "tlbench"),
            "evaluate",
            "baselines/sb3/dqn.py",
            "--scenario",
            "maze/inverse",
            "--tier",
            "smoke",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "final return (IQM)" in proc.stdout and "learning curves" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    tier = load_scenario("maze/inverse").tier("smoke")
    assert len(results["runs"]) == tier.source_seeds * (1 + 2 * tier.target_seeds)
    assert all(r["status"] == "ok" for r in results["runs"])
    assert (out / "curves.png").exists()


def test_sb3_same_seed_twice_gives_identical_curves(tasks: Path, tmp_path: Path) -> None:
    scenario = load_scenario("test/tiny")
    agent = AgentRef(ROOT / "baselines" / "sb3" / "dqn.py", kwargs={"learning_starts": 50})
    a = evaluate(agent, scenario, "standard", tmp_path / "a", workers=2, device="cpu", reps=200)
    b = evaluate(agent, scenario, "standard", tmp_path / "b", workers=2, device="cpu", reps=200)
    assert not a.failed and not b.failed
    assert comparable(a.results) == comparable(b.results)


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_sb3_trains_on_the_vector_envs_of_a_tier_reproducibly(
    tasks_with: Callable[[dict[str, str]], Path], tmp_path: Path, algo: str
) -> None:
    vector = TINY.replace(
        "source_seeds: 2, target_seeds: 2}", "source_seeds: 1, target_seeds: 1, num_envs: 4}"
    )
    tasks_with({"test/tiny": vector})
    scenario = load_scenario("test/tiny")
    kwargs = {"learning_starts": 50} if algo == "dqn" else {"n_steps": 16, "batch_size": 32}
    agent = AgentRef(ROOT / "baselines" / "sb3" / f"{algo}.py", kwargs=kwargs)
    a = evaluate(agent, scenario, "smoke", tmp_path / "a", workers=0, device="cpu", reps=200)
    b = evaluate(agent, scenario, "smoke", tmp_path / "b", workers=0, device="cpu", reps=200)
    assert not a.failed, a.failed
    assert comparable(a.results) == comparable(b.results)
    assert all(r["steps"].get("target", 200) == 200 for r in records(tmp_path / "a"))


def test_a_tiers_env_kwargs_reach_every_env_of_its_runs(tasks: Path, tmp_path: Path) -> None:
    scenario = load_scenario("test/tiny")
    pixels = AgentRef(AGENTS / "crashing.py", "ExpectsShape", {"expected_shape": [1, 48, 48]})
    paper = evaluate(pixels, scenario, "paper", tmp_path / "p", workers=0, device="cpu", reps=200)
    assert not paper.failed and len(paper.results["runs"]) == 3
    smoke = evaluate(pixels, scenario, "smoke", tmp_path / "s", workers=0, device="cpu", reps=200)
    assert len(smoke.failed) == 10  # the smoke tier keeps the 1x8x8 low-dim observations


def test_sb3_fine_tuning_across_different_shapes_fails_with_a_clear_error(tmp_path: Path) -> None:
    from gymnasium import spaces

    from tlbench.agents import AgentContext

    hopper = (spaces.Box(-1, 1, (15,)), spaces.Box(-1, 1, (3,)))
    walker = (spaces.Box(-1, 1, (22,)), spaces.Box(-1, 1, (6,)))
    context = AgentContext(*hopper, (hopper,), walker, 0, "cpu", tmp_path, "source", 10, 10)
    agent = AgentRef(ROOT / "baselines" / "sb3" / "ppo.py").load_class()(context)
    env = BudgetedEnv(gym.make("tlbench/Hopper-v0"), 10, seed=0)
    with pytest.raises(ValueError, match=r"shape \(15,\).*target \(22,\).*SB3 naive fine-tuning"):
        agent.train_source([env], 10)
    maze = (spaces.Box(0, 1, (1, 8, 8)), spaces.Discrete(4))
    five = (spaces.Box(0, 1, (1, 8, 8)), spaces.Discrete(5))
    context = AgentContext(*maze, (maze,), five, 0, "cpu", tmp_path, "source", 10, 10)
    agent = AgentRef(ROOT / "baselines" / "sb3" / "dqn.py").load_class()(context)
    with pytest.raises(ValueError, match="Discrete\\(5\\)"):
        agent.train_source([gym.make("tlbench/Maze-v0")], 10)


def test_source_revision_names_the_commit_and_local_changes(tmp_path: Path) -> None:
    repo = tmp_path / "src"
    (repo / "tlbench").mkdir(parents=True)
    code = repo / "tlbench" / "x.py"
    code.write_text("a = 1\n")
    assert source_revision(repo) == "unknown (not a git checkout)"

    def git(*args: str) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
        done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True,
                              text=True, check=True)  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "x")
    head = git("rev-parse", "HEAD")[:12]
    assert source_revision(repo) == head
    (repo / "untracked.txt").write_text("new files are not the source")
    assert source_revision(repo) == head
    code.write_text("a = 2\n")
    assert source_revision(repo) == head + "+modified"
    # A folder inside a checkout (an installed copy in a venv there) is not the checkout.
    (repo / "venv" / "site-packages").mkdir(parents=True)
    assert source_revision(repo / "venv" / "site-packages").startswith("unknown")


def test_a_package_folder_offers_the_agent_of_its_module(tmp_path: Path) -> None:
    for name, init in (
        ("imports", "from .agent import GreedyStepper\n"),
        # a class the __init__ defines itself wins over those it imports (baselines/dreamer)
        ("defines", "from .agent import GreedyStepper\n\nclass Own(GreedyStepper):\n    pass\n"),
    ):
        package = tmp_path / name
        package.mkdir()
        (package / "agent.py").write_text((AGENTS / "greedy_stepper.py").read_text())
        (package / "__init__.py").write_text(init)
        expected = "GreedyStepper" if name == "imports" else "Own"
        assert AgentRef.parse(str(package)).load_class().__name__ == expected
