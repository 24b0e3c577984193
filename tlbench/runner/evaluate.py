"""``tlbench evaluate``: an agent through a scenario tier, into one results file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tlbench import system
from tlbench.agents.loader import AgentRef
from tlbench.runner.local import run_jobs
from tlbench.runner.plan import RunSpec, plan_runs
from tlbench.runner.worker import Job, Store
from tlbench.scenarios import Scenario

if TYPE_CHECKING:
    from tlbench.metrics import TransferSummary

RESULTS_SCHEMA = "tlbench.results/1"
RUN_FIELDS = (
    "key",
    "condition",
    "source_seed",
    "target_seed",
    "seed",
    "source_key",
    "status",
    "error",
    "log",
    "checkpoints",
    "returns",
    "curve",
    "steps",
    "timing",
)


@dataclass
class Evaluation:
    """What :func:`evaluate` produced."""

    out: Path
    results: dict[str, Any]
    summary: TransferSummary | None
    failed: list[dict[str, Any]]
    executed: int

    @property
    def results_path(self) -> Path:
        return self.out / "results.json"


class EvaluationError(ValueError):
    """An evaluation that cannot start (bad arguments); nothing was run."""


def evaluate(
    agent: AgentRef,
    scenario: Scenario,
    tier: str,
    out: Path,
    *,
    workers: int = 1,
    device: str = "auto",
    run_timeout: float | None = None,
    command: str = "",
    reps: int = 2000,
    on_plan: Callable[[list[RunSpec], list[RunSpec]], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    on_start: Callable[[RunSpec], None] | None = None,
    on_done: Callable[[RunSpec, dict[str, Any]], None] | None = None,
) -> Evaluation:
    """Run every run of ``scenario``/``tier`` for ``agent`` not finished in ``out`` yet, then
    write ``out/results.json`` from all of them.

    Finished runs (a record with status ``ok`` under ``out/runs``) are skipped, so repeating a
    command resumes an interrupted evaluation; failed runs are tried again.
    """
    if scenario.score != "return":
        raise EvaluationError(
            f"scenario {scenario.id!r} is scored by {scenario.score}, not by return: it is "
            "representation-only until the embedding-alignment metric exists"
        )
    protocol = scenario.tier(tier)
    resolved = system.resolve_device(device)
    agent.load_class()  # fail before any run if the agent cannot be loaded
    digest = agent.digest()
    runs = plan_runs(
        fingerprint=scenario.fingerprint,
        tier=tier,
        source_seeds=protocol.source_seeds,
        target_seeds=protocol.target_seeds,
        agent_digest=digest,
        agent_kwargs=agent.kwargs,
    )
    store = Store(out)
    todo = [run for run in runs if not store.finished(run)]
    if on_plan:
        on_plan(runs, todo)
    versions = system.versions()
    info = system.device_info(resolved)
    jobs = [Job(scenario, tier, agent, digest, run, out, resolved, versions, info) for run in todo]
    run_jobs(
        jobs,
        after_last_start=_prefetch,
        workers=workers,
        run_timeout=run_timeout,
        on_progress=on_progress,
        on_start=on_start,
        on_done=on_done,
    )
    records = {run.key: store.read(run.key) or {} for run in runs}
    failed = [
        records[r.key] | {"label": r.label} for r in runs if records[r.key].get("status") != "ok"
    ]
    run_entries = [
        {k: records[r.key].get(k) for k in RUN_FIELDS if k in records[r.key]} | {"key": r.key}
        for r in runs
    ]
    summary = summarize_runs(scenario, protocol.checkpoints, run_entries, reps)
    results = {
        "schema": RESULTS_SCHEMA,
        "scenario": {
            "id": scenario.id,
            "version": scenario.version,
            "title": scenario.title,
            "fingerprint": scenario.fingerprint,
        },
        "tier": tier,
        "protocol": protocol.model_dump(),
        "agent": {
            "name": agent.load_class().__name__,
            "path": str(agent.path),
            "class": agent.class_name,
            "digest": digest,
            "kwargs": agent.kwargs,
        },
        "command": command,
        "versions": versions,
        "device": info,
        "runs": run_entries,
        "metrics": None if summary is None else summary.to_dict(),
        "failed": [f["key"] for f in failed],
    }
    tmp = out / f"results.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True, allow_nan=False) + "\n", "utf-8")
    os.replace(tmp, out / "results.json")
    return Evaluation(out, results, summary, failed, executed=len(todo))


def paired_curves(
    runs: Iterable[Mapping[str, Any]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(transfer, scratch, groups)`` of the pairs whose two runs both succeeded.

    ``runs`` are the run entries of a results file (keys ``condition``, ``source_seed``,
    ``target_seed``, ``status`` and, for successful target runs, ``curve``). ``transfer`` and
    ``scratch`` have shape (num_pairs, num_checkpoints), pairs sorted by (source seed, target
    seed); ``groups`` holds each pair's source seed (its base model).

    >>> runs = [
    ...     {"condition": "scratch", "source_seed": 0, "target_seed": 0, "status": "ok",
    ...      "curve": [0.0, 1.0]},
    ...     {"condition": "transfer", "source_seed": 0, "target_seed": 0, "status": "ok",
    ...      "curve": [2.0, 3.0]},
    ... ]
    >>> t, s, g = paired_curves(runs)
    >>> t.tolist(), s.tolist(), g.tolist()
    ([[2.0, 3.0]], [[0.0, 1.0]], [0])
    """
    by_pair: dict[tuple[int, int], dict[str, list[float]]] = {}
    for run in runs:
        condition = run.get("condition")
        if condition in ("transfer", "scratch") and run.get("status") == "ok":
            pair = (int(run["source_seed"]), int(run["target_seed"]))
            by_pair.setdefault(pair, {})[condition] = run["curve"]
    pairs = sorted(p for p, c in by_pair.items() if len(c) == 2)
    transfer = np.array([by_pair[p]["transfer"] for p in pairs], dtype=np.float64)
    scratch = np.array([by_pair[p]["scratch"] for p in pairs], dtype=np.float64)
    return transfer, scratch, np.array([p[0] for p in pairs], dtype=np.int64)


def summarize_runs(
    scenario: Scenario,
    checkpoints: list[int],
    runs: Iterable[Mapping[str, Any]],
    reps: int = 2000,
) -> TransferSummary | None:
    """The transfer metrics of an evaluation from its run entries (see :func:`paired_curves`),
    or ``None`` when no pair has both runs.

    ``tlbench evaluate`` writes these into ``results.json``, and the leaderboard recomputes them
    with this same function from a submission's raw curves.
    """
    from tlbench.metrics import summarize

    transfer, scratch, groups = paired_curves(runs)
    if len(transfer) == 0:
        return None
    return summarize(
        transfer,
        scratch,
        checkpoints,
        groups=groups,
        low=scenario.normalization.random,
        high=scenario.normalization.reference,
        threshold=scenario.success_threshold,
        success_threshold=scenario.success_threshold,
        seed=0,
        reps=reps,
    )


def _prefetch() -> None:
    """Import what the end of an evaluation needs (rliable, matplotlib: about 1.5 s) while the
    last runs execute in their workers, instead of after them."""
    import matplotlib.figure  # noqa: F401

    import tlbench.metrics
    import tlbench.report  # noqa: F401
