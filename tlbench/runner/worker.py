"""Executing one run: build the agent, train it within its budget, evaluate it, write its record."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tlbench.agents.api import Agent, AgentContext, BudgetExhausted
from tlbench.agents.loader import AgentRef
from tlbench.runner.budget import Budgeted, BudgetedEnv, BudgetedVectorEnv
from tlbench.runner.plan import RunSpec
from tlbench.scenarios import EnvRef, Scenario

# Evaluation episode j of every run and checkpoint starts from seed EVAL_SEED + j: all runs, both
# conditions, are evaluated on the same episodes.
EVAL_SEED = 1_000_000
MAX_EVAL_EPISODE_STEPS = 1_000_000


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to execute one run."""

    scenario: Scenario
    tier: str
    agent: AgentRef
    agent_digest: str
    run: RunSpec
    out: Path
    device: str
    versions: dict[str, str]
    device_info: dict[str, Any] = field(default_factory=dict)


class Store:
    """The output folder: ``runs/<key>.json`` records, ``artifacts/<key>/``, ``logs/<key>.log``
    and, for agents with ``embed``, ``embeddings/<key>.npz`` (see :func:`embed_probes`)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        for sub in ("runs", "artifacts", "logs", "work", "embeddings"):
            (out / sub).mkdir(parents=True, exist_ok=True)

    def record_path(self, key: str) -> Path:
        return self.out / "runs" / f"{key}.json"

    def artifact(self, key: str) -> Path:
        return self.out / "artifacts" / key

    def log(self, key: str) -> Path:
        return self.out / "logs" / f"{key}.log"

    def work(self, key: str) -> Path:
        return self.out / "work" / key

    def embeddings(self, key: str) -> Path:
        return self.out / "embeddings" / f"{key}.npz"

    def read_embeddings(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays :func:`embed_probes` saved for run ``key``, or ``None`` if there are none."""
        try:
            with np.load(self.embeddings(key), allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError):
            return None

    def read(self, key: str) -> dict[str, Any] | None:
        """The record of run ``key``, or ``None`` if there is none (or it is unreadable)."""
        path = self.record_path(key)
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record

    def finished(self, run: RunSpec, embeddings: bool = False) -> bool:
        """Whether ``run`` finished before (its record says ok, and its artifact exists; with
        ``embeddings``, also its probe-state embeddings: a run recorded before the agent had
        ``embed`` runs again)."""
        record = self.read(run.key)
        if record is None or record.get("status") != "ok":
            return False
        if embeddings and not (record.get("embeddings") and self.embeddings(run.key).is_file()):
            return False
        return run.condition != "source" or self.artifact(run.key).is_dir()

    def write(self, record: dict[str, Any]) -> None:
        """Write a record atomically (a crash never leaves half a file)."""
        path = self.record_path(record["key"])
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (agents may use the global generator)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.manual_seed(seed)


class _EvalNoise:
    """The runner's random actions for evaluation episode ``j`` (``epsilon-greedy``).

    One generator per episode, seeded ``(EVAL_SEED, j)``, and a copy of the action space seeded
    from it (a copy, so that seeding it never touches a space the agent might hold): every run
    and checkpoint meets the same noise in episode ``j``, whatever the agent does.
    """

    def __init__(self, j: int, space: Any, epsilon: float | None) -> None:
        self.epsilon = epsilon
        self.rng = np.random.default_rng([EVAL_SEED, j])
        self.space = copy.deepcopy(space)
        self.space.seed(int(self.rng.integers(2**31)))

    def __call__(self, action: Any) -> Any:
        if self.epsilon is not None and self.rng.random() < self.epsilon:
            return self.space.sample()
        return action


def _check_policy(policy: str, epsilon: float | None) -> tuple[bool, float | None]:
    """``(deterministic, epsilon)`` of an evaluation policy (see :func:`evaluate_policy`)."""
    if policy not in ("greedy", "sampled", "epsilon-greedy"):
        raise ValueError(f"unknown evaluation policy {policy!r}")
    if policy == "epsilon-greedy" and epsilon is None:
        raise ValueError("the epsilon-greedy evaluation policy needs epsilon")
    return policy != "sampled", (epsilon if policy == "epsilon-greedy" else None)


def _too_long() -> RuntimeError:
    return RuntimeError(
        f"an evaluation episode ran {MAX_EVAL_EPISODE_STEPS} steps without ending; "
        "the target env needs a time limit"
    )


def evaluate_policy(
    agent: Agent,
    env: Any,
    episodes: int,
    policy: str = "greedy",
    epsilon: float | None = None,
) -> list[float]:
    """Returns of ``episodes`` evaluation episodes (episode j seeded ``EVAL_SEED + j``).

    ``policy`` is the tier's ``eval_policy``: ``greedy`` acts with
    ``predict(deterministic=True)``, ``sampled`` with ``predict(deterministic=False)``, and
    ``epsilon-greedy`` takes the greedy action but, with probability ``epsilon``, a uniformly
    random action instead. The runner draws those coin flips and random actions itself
    (:class:`_EvalNoise`), so they are the same for every run and checkpoint (transfer and
    scratch meet the same noise) and no agent can change them. ``predict`` is called at every
    step, also when its action is replaced, so that a recurrent agent sees every observation.
    """
    deterministic, epsilon = _check_policy(policy, epsilon)
    returns = []
    for j in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + j)
        noise = _EvalNoise(j, env.action_space, epsilon)
        state: Any = None
        start = np.ones(1, dtype=bool)
        total = 0.0
        for _ in range(MAX_EVAL_EPISODE_STEPS):
            action, state = agent.predict(
                obs, state=state, episode_start=start, deterministic=deterministic
            )
            start = np.zeros(1, dtype=bool)
            obs, reward, terminated, truncated, _ = env.step(noise(action))
            total += float(reward)
            if terminated or truncated:
                break
        else:
            raise _too_long()
        returns.append(total)
    return returns


def evaluate_policy_batched(
    agent: Agent, envs: Sequence[Any], policy: str = "greedy", epsilon: float | None = None
) -> list[float]:
    """What :func:`evaluate_policy` returns for ``len(envs)`` episodes, for an agent with
    ``batch_predict``: episode j plays on ``envs[j]``, all in lockstep, and each step asks
    ``predict`` once for the observations of every episode still running (a stateless policy:
    no recurrent state is passed). The episodes, their seeds and the runner's noise are those
    of :func:`evaluate_policy`; greedy and epsilon-greedy returns are the same as with it.
    """
    deterministic, epsilon = _check_policy(policy, epsilon)
    n = len(envs)
    obs = [env.reset(seed=EVAL_SEED + j)[0] for j, env in enumerate(envs)]
    noise = [_EvalNoise(j, env.action_space, epsilon) for j, env in enumerate(envs)]
    totals = [0.0] * n
    running = list(range(n))
    for _ in range(MAX_EVAL_EPISODE_STEPS):
        if not running:
            return totals
        actions, _ = agent.predict(
            np.stack([obs[j] for j in running]),
            state=None,
            episode_start=None,
            deterministic=deterministic,
        )
        actions = np.asarray(actions)
        if actions.ndim == 0 or len(actions) != len(running):
            got = "a single action" if actions.ndim == 0 else f"{len(actions)} actions"
            raise ValueError(
                f"{type(agent).__name__} has batch_predict but predict() returned "
                f"{got} for a batch of {len(running)} observations; return "
                "one action per observation, or set batch_predict = False"
            )
        still = []
        for j, action in zip(running, actions, strict=True):
            obs[j], reward, terminated, truncated, _ = envs[j].step(noise[j](action))
            totals[j] += float(reward)
            if not (terminated or truncated):
                still.append(j)
        running = still
    raise _too_long()


def has_embed(agent: Agent | type[Agent]) -> bool:
    """Whether an agent (or agent class) has the optional ``embed`` capability."""
    return callable(getattr(agent, "embed", None))


def embed_probes(agent: Agent, observations: np.ndarray, n_actions: int) -> dict[str, np.ndarray]:
    """The agent's abstract states of the probe observations, and where it predicts them to go.

    Returns ``{"embeddings": (N, *abstract_shape)}`` from ``agent.embed(observations)`` (one call
    on the batch of N observations), plus ``"transitions"``, shape (N, n_actions, 2), when the
    embedding is 2-D and the agent has ``embed_transition``: the predicted next abstract state
    of each state under each action (the embedding plots draw them as arrows).
    """
    n = len(observations)
    raw = agent.embed(observations)  # type: ignore[attr-defined]
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] != n or not np.all(np.isfinite(x)):
        raise ValueError(
            f"{type(agent).__name__}.embed() returned {_describe(x)} for a batch of {n} "
            f"observations of shape {observations.shape[1:]}; it must return one finite abstract "
            f"state per observation, an array of shape ({n}, ...)"
        )
    # saved as the agent gave them when they are floats (float32 for most networks)
    out = {"embeddings": np.asarray(raw) if np.asarray(raw).dtype.kind == "f" else x}
    step = getattr(agent, "embed_transition", None)
    if callable(step) and x[0].size == 2 and n_actions > 0:
        predicted = []
        for a in range(n_actions):
            y = np.asarray(step(np.asarray(raw), np.full(n, a, np.int64)), dtype=np.float64)
            if y.shape != x.shape or not np.all(np.isfinite(y)):
                raise ValueError(
                    f"{type(agent).__name__}.embed_transition() returned {_describe(y)} for "
                    f"{n} abstract states of shape {x.shape[1:]}; it must return the finite "
                    f"predicted next abstract states, an array of shape {x.shape}"
                )
            predicted.append(y.reshape(n, 2))
        out["transitions"] = np.stack(predicted, axis=1)
    return out


def _describe(x: np.ndarray) -> str:
    finite = "finite" if np.all(np.isfinite(x)) else "non-finite"
    return f"a {finite} array of shape {x.shape}"


def _save_embeddings(
    job: Job, store: Store, agent: Agent, phase: str, n_actions: int
) -> dict[str, Any]:
    """Embed the probe states (the source rendering for a source run, the target rendering for a
    target run) and save them. Returns what the run's record gets: the file and the number of
    probe states (nothing when the agent has no ``embed`` or the scenario no probe states)."""
    if not has_embed(agent):
        return {}
    from tlbench.runner.probes import probe_set

    probes = probe_set(job.scenario, job.tier)
    if probes is None:
        return {}
    arrays = embed_probes(agent, probes.source if phase == "source" else probes.target, n_actions)
    path = store.embeddings(job.run.key)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return {"embeddings": str(path), "probes": len(probes)}


def _context(job: Job, phase: str, spaces: tuple[Any, Any], work: Path) -> AgentContext:
    scenario, tier = job.scenario, job.scenario.tier(job.tier)
    source_spaces = []
    target_env = scenario.target_for(job.tier).make()
    for ref in scenario.sources_for(job.tier):
        env = ref.make()
        source_spaces.append((env.observation_space, env.action_space))
        env.close()
    target_spaces = (target_env.observation_space, target_env.action_space)
    target_env.close()
    return AgentContext(
        observation_space=spaces[0],
        action_space=spaces[1],
        source_spaces=tuple(source_spaces),
        target_spaces=target_spaces,
        seed=job.run.seed,
        device=job.device,
        work_dir=work,
        phase=phase,
        source_steps=tier.source_steps,
        target_steps=tier.target_steps,
        num_envs=tier.num_envs,
    )


def execute(job: Job, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Execute ``job.run`` and write its record (also when it fails); return the record."""
    store = Store(job.out)
    run = job.run
    record: dict[str, Any] = {
        "key": run.key,
        "condition": run.condition,
        "source_seed": run.source_seed,
        "target_seed": run.target_seed,
        "seed": run.seed,
        "source_key": run.source_key,
        "scenario": job.scenario.id,
        "scenario_version": job.scenario.version,
        "fingerprint": job.scenario.fingerprint,
        "tier": job.tier,
        "agent": {
            "path": str(job.agent.path),
            "class": job.agent.class_name,
            "digest": job.agent_digest,
            "kwargs": job.agent.kwargs,
        },
        "device": job.device_info or {"device": job.device},
        "versions": job.versions,
        "log": str(store.log(run.key)),
    }
    work = store.work(run.key)
    store.embeddings(run.key).unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    try:
        seed_everything(run.seed)
        agent_class = job.agent.load_class()
        if run.condition == "source":
            record.update(_source_phase(job, agent_class, store, work, progress))
        else:
            record.update(_target_phase(job, agent_class, store, work, progress))
        record["status"] = "ok"
    except Exception as exc:  # a crashing agent is recorded, not propagated
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    record.setdefault("timing", {})["total_s"] = time.perf_counter() - started
    shutil.rmtree(work, ignore_errors=True)
    store.write(record)
    return record


def _source_phase(
    job: Job,
    agent_class: type[Agent],
    store: Store,
    work: Path,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    tier = job.scenario.tier(job.tier)
    budget = tier.source_steps
    envs = []
    for i, ref in enumerate(job.scenario.sources_for(job.tier)):
        envs.append(_budgeted(ref, tier.num_envs, budget, seed=job.run.seed * 100 + i))
    context = _context(job, "source", _single_spaces(envs[0]), work)
    agent = agent_class(context, **job.agent.kwargs)
    total = budget * len(envs)
    if progress:
        for env in envs:
            env.on_progress = lambda: progress(sum(e.steps for e in envs), total)
    start = time.perf_counter()
    with contextlib.suppress(BudgetExhausted):  # the budget ends the phase
        agent.train_source(envs, budget)  # type: ignore[arg-type]  # vector envs too
    train_s = time.perf_counter() - start
    artifact = store.artifact(job.run.key)
    tmp = artifact.with_name(artifact.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    agent.save(tmp)
    shutil.rmtree(artifact, ignore_errors=True)
    os.replace(tmp, artifact)
    embedded = _save_embeddings(job, store, agent, "source", _n_actions(_single_spaces(envs[0])[1]))
    return {
        "steps": {"source": [env.steps for env in envs]},
        "artifact": str(artifact),
        "timing": {"train_s": train_s},
        **embedded,
    }


def _budgeted(
    ref: EnvRef,
    num_envs: int,
    budget: int,
    *,
    seed: int,
    checkpoints: tuple[int, ...] | list[int] = (),
    on_checkpoint: Callable[[int], None] | None = None,
) -> Budgeted:
    """The env an agent trains on: one budgeted env, or a budgeted vector env of ``num_envs``."""
    if num_envs == 1:
        return BudgetedEnv(
            ref.make(), budget, seed=seed, checkpoints=checkpoints, on_checkpoint=on_checkpoint
        )
    return BudgetedVectorEnv(
        ref.make_vec(num_envs),
        budget,
        seed=seed,
        checkpoints=checkpoints,
        on_checkpoint=on_checkpoint,
    )


def _single_spaces(env: Budgeted) -> tuple[Any, Any]:
    """The observation and action space of one (sub-)env."""
    if isinstance(env, BudgetedVectorEnv):
        return env.single_observation_space, env.single_action_space
    return env.observation_space, env.action_space


def _n_actions(space: Any) -> int:
    n = getattr(space, "n", None)
    return int(n) if n is not None else 0


def _target_phase(
    job: Job,
    agent_class: type[Agent],
    store: Store,
    work: Path,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    tier = job.scenario.tier(job.tier)
    target = job.scenario.target_for(job.tier)  # the tier's env kwargs applied
    # A scenario scored by embedding alignment has no return to evaluate (a reward-free target:
    # every return is 0), so its runs train with the tier's budget and skip the evaluations.
    returns = job.scenario.score == "return"
    batched = returns and getattr(agent_class, "batch_predict", False) is True
    # One env per evaluation episode for agents that predict batches, else one for all (none
    # when there is no return to evaluate).
    n_eval_envs = (tier.eval_episodes if batched else 1) if returns else 0
    eval_envs = [target.make() for _ in range(n_eval_envs)]
    curve: dict[int, list[float]] = {}
    eval_time = 0.0

    def evaluate_at(step: int) -> None:
        nonlocal eval_time
        if not eval_envs:
            return
        t0 = time.perf_counter()
        if batched:
            curve[step] = evaluate_policy_batched(
                agent, eval_envs, tier.eval_policy, tier.eval_epsilon
            )
        else:
            curve[step] = evaluate_policy(
                agent, eval_envs[0], tier.eval_episodes, tier.eval_policy, tier.eval_epsilon
            )
        eval_time += time.perf_counter() - t0

    env = _budgeted(
        target,
        tier.num_envs,
        tier.target_steps,
        seed=job.run.seed,
        checkpoints=tier.checkpoints if returns else (),
        on_checkpoint=evaluate_at,
    )
    if progress:
        env.on_progress = lambda: progress(env.steps, tier.target_steps)
    context = _context(job, "target", _single_spaces(env), work)
    agent = agent_class(context, **job.agent.kwargs)
    load_s = 0.0
    if job.run.condition == "transfer":
        assert job.run.source_key is not None
        artifact = store.artifact(job.run.source_key)
        t0 = time.perf_counter()
        agent.load(artifact)
        load_s = time.perf_counter() - t0
    evaluate_at(0)
    eval_before = eval_time
    start = time.perf_counter()
    with contextlib.suppress(BudgetExhausted):  # the budget ends the phase
        agent.train_target(env, tier.target_steps)  # type: ignore[arg-type]  # or a vector env
    env.finish()
    # The evaluations inside train_target are the runner's time, not the agent's.
    train_s = time.perf_counter() - start - (eval_time - eval_before)
    t0 = time.perf_counter()
    embedded = _save_embeddings(job, store, agent, "target", _n_actions(_single_spaces(env)[1]))
    timing = {"train_s": train_s, "eval_s": eval_time, "load_s": load_s}
    if embedded:
        timing["embed_s"] = time.perf_counter() - t0
    record: dict[str, Any] = {"steps": {"target": env.steps}, "timing": timing, **embedded}
    for eval_env in eval_envs:
        eval_env.close()
    if returns:
        checkpoints = tier.checkpoints
        record.update(
            checkpoints=checkpoints,
            returns=[curve[c] for c in checkpoints],
            curve=[float(np.mean(curve[c])) for c in checkpoints],
        )
    return record
