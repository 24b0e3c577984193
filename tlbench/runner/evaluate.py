"""``tlbench evaluate``: an agent through a scenario tier, into one results file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tlbench import system
from tlbench.agents.loader import AgentRef
from tlbench.runner.local import run_jobs
from tlbench.runner.plan import RunSpec, plan_runs
from tlbench.runner.probes import ProbeSet, probe_set
from tlbench.runner.worker import Job, Store, has_embed
from tlbench.scenarios import Scenario

if TYPE_CHECKING:
    from tlbench.metrics import AlignmentSummary, TransferSummary

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
    "versions",
    "device",
)


@dataclass
class Evaluation:
    """What :func:`evaluate` produced."""

    out: Path
    results: dict[str, Any]
    summary: TransferSummary | None
    failed: list[dict[str, Any]]
    executed: int
    alignment: AlignmentSummary | None = None
    probes: ProbeSet | None = None
    #: where runs resumed from earlier commands differ in versions or device from the results'
    #: (:func:`tlbench.system.mixed_provenance`); empty when every run matches
    provenance: list[str] = field(default_factory=list)

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

    **Embedding alignment.** When the agent has ``embed`` and the scenario has probe states
    (:func:`~tlbench.runner.probes.probe_set`), every run embeds them at its end (source runs
    the source rendering, target runs the target rendering) into ``out/embeddings/<key>.npz``,
    and each run entry of ``results.json`` gets ``alignment``: a source run its base model's
    ``scale``, a target run (transfer and scratch alike) the L2 ``distances`` of each probe state
    to its base model's embedding and their mean ``distance``. ``metrics.alignment`` summarizes
    them (:mod:`tlbench.metrics.alignment`). A scenario scored by ``embedding-alignment`` is
    scored by that alone: its runs skip the return evaluations (its target is reward-free), and
    an agent without ``embed`` is refused.
    """
    protocol = scenario.tier(tier)
    resolved = system.resolve_device(device)
    agent_class = agent.load_class()  # fail before any run if the agent cannot be loaded
    embeds = has_embed(agent_class)
    if scenario.score == "embedding-alignment" and not embeds:
        raise EvaluationError(
            f"scenario {scenario.id!r} is scored by embedding alignment, but the agent "
            f"{agent_class.__name__} has no embed() method: add embed(observations), which "
            "returns the agent's abstract state of each observation of a batch (see "
            "docs/agent-api.md, 'Optional capabilities'), or evaluate it on a return-scored "
            "scenario (`tlbench list`)"
        )
    probes = probe_set(scenario, tier) if embeds else None
    if scenario.score == "embedding-alignment" and probes is None:
        raise EvaluationError(
            f"scenario {scenario.id!r} is scored by embedding alignment, but it has no probe "
            "states: alignment needs one source and a target that is the same grid world seen "
            "differently (see tlbench/runner/probes.py)"
        )
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
    todo = [run for run in runs if not store.finished(run, embeddings=probes is not None)]
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
    if probes is not None:
        attach_alignment(store, runs, run_entries)
    summary = summarize_runs(scenario, protocol.checkpoints, run_entries, reps)
    alignment = summarize_alignment_runs(run_entries, reps)
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
        "metrics": metrics_dict(summary, alignment),
        "failed": [f["key"] for f in failed],
    }
    tmp = out / f"results.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True, allow_nan=False) + "\n", "utf-8")
    os.replace(tmp, out / "results.json")
    finished = [e for e in run_entries if e.get("status") == "ok"]
    provenance = system.mixed_provenance(finished, versions, info)
    return Evaluation(out, results, summary, failed, len(todo), alignment, probes, provenance)


def attach_alignment(
    store: Store, runs: Iterable[RunSpec], run_entries: list[dict[str, Any]]
) -> None:
    """Add ``alignment`` to the entries of the finished runs whose embeddings were saved: a
    source run's ``scale`` (:func:`~tlbench.metrics.alignment.embedding_scale` of its base
    embeddings), a target run's per-probe ``distances`` to its base model's embeddings and
    their mean ``distance``. ``run_entries`` are in the order of ``runs``."""
    from tlbench.metrics.alignment import alignment_distances, embedding_scale

    def embeddings(entry: Mapping[str, Any]) -> np.ndarray | None:
        if entry.get("status") != "ok" or not entry.get("key"):
            return None
        arrays = store.read_embeddings(entry["key"])
        return None if arrays is None else arrays["embeddings"]

    pairs = list(zip(runs, run_entries, strict=True))
    base: dict[int, np.ndarray] = {}
    for run, entry in pairs:
        if run.condition == "source":
            x = embeddings(entry)
            if x is not None and len(x) >= 2:
                base[run.source_seed] = x
                entry["alignment"] = {"scale": embedding_scale(x)}
    for run, entry in pairs:
        if run.condition == "source" or run.source_seed not in base:
            continue
        x = embeddings(entry)
        if x is None:
            continue
        if x.shape != base[run.source_seed].shape:
            raise ValueError(
                f"run {run.label} embedded the probe states into shape {x.shape[1:]}, but its "
                f"base model (source s{run.source_seed}) into {base[run.source_seed].shape[1:]}: "
                "embed() must return the same abstract space in both phases"
            )
        distances = alignment_distances(base[run.source_seed], x)
        entry["alignment"] = {
            "distances": [float(d) for d in distances],
            "distance": float(np.mean(distances)),
        }


def paired_alignment(
    runs: Iterable[Mapping[str, Any]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(transfer, scratch, scales)``: the alignment distance of each pair whose two runs both
    succeeded and carry ``alignment``, and the scale of the pair's base model; pairs sorted by
    (source seed, target seed), each of shape (num_pairs,).

    >>> runs = [
    ...     {"condition": "source", "source_seed": 0, "target_seed": None, "status": "ok",
    ...      "alignment": {"scale": 2.0}},
    ...     {"condition": "scratch", "source_seed": 0, "target_seed": 0, "status": "ok",
    ...      "alignment": {"distance": 1.5}},
    ...     {"condition": "transfer", "source_seed": 0, "target_seed": 0, "status": "ok",
    ...      "alignment": {"distance": 0.5}},
    ... ]
    >>> [a.tolist() for a in paired_alignment(runs)]
    [[0.5], [1.5], [2.0]]
    """
    scales: dict[int, float] = {}
    by_pair: dict[tuple[int, int], dict[str, float]] = {}
    for run in runs:
        alignment = run.get("alignment")
        if run.get("status") != "ok" or not alignment:
            continue
        if run.get("condition") == "source" and alignment.get("scale") is not None:
            scales[int(run["source_seed"])] = float(alignment["scale"])
        elif (
            run.get("condition") in ("transfer", "scratch")
            and alignment.get("distance") is not None
        ):
            pair = (int(run["source_seed"]), int(run["target_seed"]))
            by_pair.setdefault(pair, {})[run["condition"]] = float(alignment["distance"])
    pairs = sorted(p for p, c in by_pair.items() if len(c) == 2 and p[0] in scales)
    return (
        np.array([by_pair[p]["transfer"] for p in pairs], dtype=np.float64),
        np.array([by_pair[p]["scratch"] for p in pairs], dtype=np.float64),
        np.array([scales[p[0]] for p in pairs], dtype=np.float64),
    )


def summarize_alignment_runs(
    runs: Iterable[Mapping[str, Any]], reps: int = 2000
) -> AlignmentSummary | None:
    """The alignment metrics of an evaluation from its run entries (see
    :func:`paired_alignment`), or ``None`` when no pair carries alignment. The leaderboard
    recomputes them with this same function."""
    from tlbench.metrics import summarize_alignment

    transfer, scratch, scales = paired_alignment(runs)
    if len(transfer) == 0:
        return None
    return summarize_alignment(transfer, scratch, scales, seed=0, reps=reps)


def metrics_dict(
    summary: TransferSummary | None, alignment: AlignmentSummary | None
) -> dict[str, Any] | None:
    """``results.json``'s ``metrics``: the transfer metrics of the returns (return-scored
    scenarios) with the alignment metrics under ``"alignment"`` where there are some; ``None``
    when there is neither."""
    if summary is None and alignment is None:
        return None
    out: dict[str, Any] = summary.to_dict() if summary is not None else {}
    if alignment is not None:
        out["alignment"] = alignment.to_dict()
    return out


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
    or ``None`` when no pair has both runs or the scenario is not scored by return.

    ``tlbench evaluate`` writes these into ``results.json``, and the leaderboard recomputes them
    with this same function from a submission's raw curves.
    """
    from tlbench.metrics import summarize

    if scenario.score != "return":
        return None  # scored by embedding alignment: no return to summarize
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
