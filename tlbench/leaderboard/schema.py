"""The pydantic models of a submission (a ``results.json``) and of a leaderboard entry.

A **submission** is the ``results.json`` that ``tlbench evaluate`` writes (schema
:data:`SUBMISSION_SCHEMA`). An **entry** (schema :data:`ENTRY_SCHEMA`) is a submission that passed
every check of :mod:`tlbench.leaderboard.validate`, with the submitted ``metrics`` replaced by
the ones tlbench recomputed from the raw curves, plus the display ``name``, the
``agent_version`` and ``curves_sha256``, the SHA-256 of the raw curves.

Every model forbids unknown keys, is frozen and validates strictly (``"3"`` is not an integer,
NaN and infinities are not numbers): a file either is what ``tlbench evaluate`` writes or it is
refused with the key path of each problem.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tlbench.scenarios import Tier, TierName

#: the ``schema`` of a results file written by ``tlbench evaluate`` (and of a submission)
SUBMISSION_SCHEMA = "tlbench.results/1"
#: the ``schema`` of a leaderboard entry file
ENTRY_SCHEMA = "tlbench.entry/1"

#: a display name: it names the entry's file, ``<scenario>/<tier>/<name>.json``
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_HEX16 = r"^[0-9a-f]{16}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ScenarioStamp(_Model):
    """The scenario a result was produced on, as ``tlbench evaluate`` stamps it."""

    id: str = Field(min_length=1, description="scenario id, e.g. 'maze/inverse'")
    version: int = Field(ge=1, description="the scenario file's version")
    title: str = Field(description="the scenario's title")
    fingerprint: str = Field(pattern=_HEX16, description="Scenario.fingerprint at evaluation")


class AgentStamp(_Model):
    """The evaluated agent: where its code was, its code digest and its keyword arguments."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(min_length=1, description="the agent class's name")
    path: str = Field(description="the agent file or folder given to tlbench evaluate")
    class_name: str | None = Field(alias="class", description="ClassName of path:ClassName")
    digest: str = Field(pattern=_HEX16, description="hash of the agent's code")
    kwargs: dict[str, Any] = Field(description="keyword arguments given with -k")


class DeviceStamp(_Model):
    """Where the runs executed."""

    device: str = Field(description="cpu, cuda or cuda:N")
    cpu: str = Field(description="the CPU's model name")
    cpu_count: int | None = Field(description="logical CPU cores")
    platform: str = Field(description="operating system and architecture")
    gpu: str | None = Field(default=None, description="the GPU's name (cuda devices only)")


class RunAlignment(_Model):
    """A run's embedding alignment (agents with ``embed``, scenarios with probe states): a source
    run's ``scale`` (mean distance between its base embeddings of two different probe states), a
    target run's L2 ``distances`` to its base model's embedding of each probe state and their
    mean ``distance``."""

    scale: float | None = Field(default=None, ge=0, description="source runs: the base scale")
    distances: list[float] | None = Field(default=None, description="target runs: per probe")
    distance: float | None = Field(default=None, description="target runs: mean of distances")


class Run(_Model):
    """One run of an evaluation, as in ``results.json``'s ``runs`` list.

    Target runs (``transfer``, ``scratch``) that finished carry their raw evaluation data:
    ``checkpoints`` (target steps of each evaluation), ``returns`` (the return of every
    evaluation episode, one list per checkpoint) and ``curve`` (the mean of each list); on a
    scenario scored by embedding alignment, which evaluates no returns, they have none. Runs of
    an agent with ``embed`` carry ``alignment``. Each run carries the ``versions`` and ``device``
    it was made with (results written before runs recorded them have neither): a resumed
    evaluation may combine runs of several commands.
    """

    key: str = Field(pattern=_HEX16, description="the run's key (hash of what determines it)")
    condition: Literal["source", "transfer", "scratch"]
    source_seed: int = Field(ge=0, description="index of the base model")
    target_seed: int | None = Field(ge=0, description="index of the target run; None for source")
    seed: int = Field(description="the seed the agent and its envs got")
    source_key: str | None = Field(default=None, description="transfer runs: the source run")
    status: Literal["ok", "failed"]
    error: str | None = None
    log: str | None = None
    checkpoints: list[int] | None = None
    returns: list[list[float]] | None = None
    curve: list[float] | None = None
    steps: dict[str, int | list[int]] | None = None
    timing: dict[str, float] | None = None
    alignment: RunAlignment | None = None
    versions: dict[str, str] | None = Field(default=None, description="what the run ran with")
    device: DeviceStamp | None = Field(default=None, description="the device it ran on")


class _Results(_Model):
    """What a submission and an entry share: everything ``tlbench evaluate`` records."""

    scenario: ScenarioStamp
    tier: TierName
    protocol: Tier = Field(description="the tier's protocol, as the scenario defined it")
    agent: AgentStamp
    command: str = Field(description="the tlbench evaluate command line that produced it")
    versions: dict[str, str] = Field(description="Python's and each library's version")
    device: DeviceStamp
    runs: list[Run]
    failed: list[str] = Field(description="keys of the runs that failed")


class Submission(_Results):
    """A ``results.json`` as ``tlbench evaluate`` writes it. Its ``metrics`` are not read: the
    leaderboard recomputes them from the raw curves."""

    schema_: Literal["tlbench.results/1"] = Field(alias="schema")
    metrics: Any = Field(default=None, description="ignored: recomputed from the curves")


class Entry(_Results):
    """A leaderboard entry: a validated submission with recomputed metrics."""

    schema_: Literal["tlbench.entry/1"] = Field(alias="schema")
    name: str = Field(description="display name; the entry's file is <name>.json")
    agent_version: str = Field(min_length=1, description="the submitter's version of the agent")
    curves_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of raw curves")
    metrics: dict[str, Any] = Field(description="TransferSummary.to_dict(), recomputed")

    @field_validator("name")
    @classmethod
    def _name_format(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r} is not a display name ({NAME_RULE})")
        return value


NAME_RULE = (
    "1 to 64 characters: lowercase letters, digits, '.', '_' and '-', starting with a letter "
    "or digit"
)
