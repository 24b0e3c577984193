"""Expanding (scenario, tier, agent) into runs, and the key that identifies each run."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

Condition = Literal["source", "transfer", "scratch"]


@dataclass(frozen=True)
class RunSpec:
    """One run of an evaluation.

    Attributes:
        condition: ``source`` (train a base model on the sources and save its artifact),
            ``transfer`` (load that artifact, then train on the target) or ``scratch`` (the paired
            control: train on the target only).
        source_seed: index of the base model (0 .. source_seeds - 1).
        target_seed: index of the target run for that base model; ``None`` for source runs.
        seed: the seed the agent and its envs get. A transfer run and its paired scratch run get
            the same one: ``1000 * (source_seed + 1) + target_seed``; a source run gets
            ``source_seed``.
        key: hash of everything that determines the run's result (see :func:`run_key`).
        source_key: for transfer runs, the key of the source run whose artifact it loads.
    """

    condition: Condition
    source_seed: int
    target_seed: int | None
    seed: int
    key: str
    source_key: str | None = None

    @property
    def label(self) -> str:
        """Short human name, e.g. ``transfer s0/t3``."""
        if self.target_seed is None:
            return f"{self.condition} s{self.source_seed}"
        return f"{self.condition} s{self.source_seed}/t{self.target_seed}"


def run_key(**fields: Any) -> str:
    """SHA-256 (first 16 hex chars) of the fields as canonical JSON.

    >>> run_key(a=1, b=[2]) == run_key(b=[2], a=1)
    True
    """
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_runs(
    *,
    fingerprint: str,
    tier: str,
    source_seeds: int,
    target_seeds: int,
    agent_digest: str,
    agent_kwargs: dict[str, Any],
) -> list[RunSpec]:
    """Every run of an evaluation: the source runs first, then per base model its target runs
    (transfer and paired scratch for each target seed).

    >>> runs = plan_runs(fingerprint="f", tier="smoke", source_seeds=2, target_seeds=3,
    ...                  agent_digest="d", agent_kwargs={})
    >>> [r.condition for r in runs].count("transfer"), len(runs)
    (6, 14)
    """
    common = {
        "fingerprint": fingerprint,
        "tier": tier,
        "agent": agent_digest,
        "kwargs": agent_kwargs,
    }
    runs: list[RunSpec] = []
    sources = {}
    for s in range(source_seeds):
        key = run_key(**common, condition="source", source_seed=s)
        sources[s] = key
        runs.append(RunSpec("source", s, None, s, key))
    for s in range(source_seeds):
        for t in range(target_seeds):
            seed = 1000 * (s + 1) + t
            for condition in ("transfer", "scratch"):
                key = run_key(**common, condition=condition, source_seed=s, target_seed=t)
                source_key = sources[s] if condition == "transfer" else None
                runs.append(RunSpec(condition, s, t, seed, key, source_key))
    return runs
