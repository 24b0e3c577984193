"""Checking a submission (or a stored entry) and recomputing its metrics.

Every problem is a :class:`SubmissionError` whose subclass (and ``code``) names the kind of
problem and whose message names the file, the offending value and the fix. The checks, in the
order they run:

====================  ================================================================
code                  what is refused
====================  ================================================================
unreadable            a path that cannot be read (missing, a folder, no permission)
not-utf8              bytes that are not UTF-8 (a pickle is named as such: JSON only)
invalid-json          malformed JSON, a truncated file, a repeated key
non-finite            NaN, Infinity or -Infinity (or a number too large for a float)
unknown-schema        a ``schema`` other than ``tlbench.results/1``
invalid-submission    a missing or unknown key, a value of the wrong type
unknown-scenario      a scenario id or tier that is not registered
smoke-tier            a smoke-tier result: smoke checks the pipeline, it says nothing about
                      transfer (the leaderboard holds standard and paper tiers)
fingerprint-mismatch  a fingerprint or protocol other than the registered scenario's
run-count             runs that do not match the tier: source seeds x (1 + 2 x target
                      seeds) runs, every one finished (``ok``), with the planned seeds and keys
non-monotonic-steps   evaluation checkpoints not strictly increasing, or not the tier's
curve-mismatch        returns or curves of the wrong length, a curve that is not the mean
                      of its returns
over-budget           a run that used more env steps than the tier allows
alignment-mismatch    embedding alignment missing where the scenario is scored by it, on some
                      runs only, a distance that is not the mean of its per-probe distances, or
                      per-probe distances of the wrong number
invalid-name          a display name that cannot name a file
duplicate-entry       the same (agent, version, scenario, tier) or the same curves again
digest-mismatch       (entries) curves that no longer match their ``curves_sha256``
metrics-mismatch      (entries) stored metrics that differ from the recomputed ones
misplaced-entry       (entries) a file whose path is not ``<scenario>/<tier>/<name>.json``
====================  ================================================================
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tlbench.leaderboard.schema import (
    ENTRY_SCHEMA,
    NAME_PATTERN,
    NAME_RULE,
    SUBMISSION_SCHEMA,
    Entry,
    Submission,
    _Results,
)
from tlbench.scenarios import Scenario, ScenarioError, load_scenario
from tlbench.scenarios.schema import display_path

#: at most this many problems of one kind are listed in a message
MAX_LISTED = 5


class SubmissionError(ValueError):
    """A submission or entry that tlbench refuses; ``code`` names the kind of problem."""

    code = "invalid"

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{display_path(self.path)}: {message}")


class UnreadableError(SubmissionError):
    code = "unreadable"


class NotUtf8Error(SubmissionError):
    code = "not-utf8"


class InvalidJsonError(SubmissionError):
    code = "invalid-json"


class NonFiniteError(SubmissionError):
    code = "non-finite"


class UnknownSchemaError(SubmissionError):
    code = "unknown-schema"


class SchemaViolationError(SubmissionError):
    code = "invalid-submission"


class UnknownScenarioError(SubmissionError):
    code = "unknown-scenario"


class SmokeTierError(SubmissionError):
    code = "smoke-tier"


class AlignmentMismatchError(SubmissionError):
    code = "alignment-mismatch"


class FingerprintError(SubmissionError):
    code = "fingerprint-mismatch"


class RunCountError(SubmissionError):
    code = "run-count"


class NonMonotonicStepsError(SubmissionError):
    code = "non-monotonic-steps"


class CurveMismatchError(SubmissionError):
    code = "curve-mismatch"


class OverBudgetError(SubmissionError):
    code = "over-budget"


class InvalidNameError(SubmissionError):
    code = "invalid-name"


class DuplicateEntryError(SubmissionError):
    code = "duplicate-entry"


class DigestMismatchError(SubmissionError):
    code = "digest-mismatch"


class MetricsMismatchError(SubmissionError):
    code = "metrics-mismatch"


class MisplacedEntryError(SubmissionError):
    code = "misplaced-entry"


#: every error class, by code
ERRORS: dict[str, type[SubmissionError]] = {
    cls.code: cls
    for cls in (
        UnreadableError,
        NotUtf8Error,
        InvalidJsonError,
        NonFiniteError,
        UnknownSchemaError,
        SchemaViolationError,
        UnknownScenarioError,
        FingerprintError,
        RunCountError,
        NonMonotonicStepsError,
        CurveMismatchError,
        OverBudgetError,
        AlignmentMismatchError,
        InvalidNameError,
        DuplicateEntryError,
        DigestMismatchError,
        MetricsMismatchError,
        MisplacedEntryError,
    )
}


@dataclass(frozen=True)
class Checked:
    """A submission that passed every check, with what tlbench recomputed from it."""

    submission: Submission
    scenario: Scenario
    metrics: dict[str, Any]
    curves_sha256: str


# -- reading JSON -------------------------------------------------------------------------------


class _NonFinite:
    """Stands in for a NaN/Infinity token while parsing, so that its place can be named."""

    def __init__(self, token: str) -> None:
        self.token = token


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def read_json(path: Path) -> Any:
    """The JSON document in ``path``, refusing anything that is not plain, finite JSON.

    Raises :class:`UnreadableError`, :class:`NotUtf8Error`, :class:`InvalidJsonError` or
    :class:`NonFiniteError`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UnreadableError(path, f"cannot read the file: {reason}") from None
    if data[:1] == b"\x80" and data[1:2] in (bytes([p]) for p in range(2, 6)):
        raise NotUtf8Error(
            path,
            "this is a Python pickle, not JSON; tlbench reads JSON only and never unpickles "
            "(submit the results.json that tlbench evaluate wrote)",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.end]
        raise NotUtf8Error(
            path,
            f"not UTF-8: byte(s) {bad!r} at offset {exc.start} ({exc.reason}); a results file "
            "is UTF-8 JSON as tlbench evaluate writes it, save it again as UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not content
    try:
        doc = json.loads(text, parse_constant=_NonFinite, object_pairs_hook=_pairs)
    except _RepeatedKey as exc:
        raise InvalidJsonError(
            path,
            f"key {exc.key!r} appears twice in one object; JSON readers disagree on which "
            "value wins, so tlbench refuses it: keep one",
        ) from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise InvalidJsonError(
                path,
                f"truncated JSON: the file ends (line {exc.lineno}, column {exc.colno}) before "
                f"the document does ({exc.msg}); copy the whole results.json again",
            ) from None
        raise InvalidJsonError(
            path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    bad_values = _non_finite(doc)
    if bad_values:
        listed = ", ".join(
            f"{where or 'the document'} is {what}" for where, what in bad_values[:MAX_LISTED]
        )
        more = " (and more)" if len(bad_values) > MAX_LISTED else ""
        raise NonFiniteError(
            path,
            f"non-finite number(s): {listed}{more}; results hold finite returns only (a "
            "diverged agent's return is a bug to fix in the agent, not a score)",
        )
    return doc


def _non_finite(value: Any) -> list[tuple[str, str]]:
    """``(key path, what)`` of the first non-finite numbers in ``value`` (at most
    :data:`MAX_LISTED` + 1), in document order."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack and len(found) <= MAX_LISTED:
        item, at = stack.pop()
        if isinstance(item, _NonFinite):
            found.append((at, item.token))
        elif isinstance(item, float) and not math.isfinite(item):
            found.append((at, f"{item} (a number beyond the float range)"))
        elif isinstance(item, dict):
            stack.extend(reversed([(v, f"{at}.{k}" if at else str(k)) for k, v in item.items()]))
        elif isinstance(item, list):
            stack.extend(reversed([(v, f"{at}[{i}]") for i, v in enumerate(item)]))
    return found


# -- the checks ---------------------------------------------------------------------------------


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model(path: Path, doc: Any, model: type[BaseModel], what: str) -> Any:
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        lines = []
        for error in exc.errors()[:MAX_LISTED]:
            loc = _dotted(tuple(error["loc"])) or "the document"
            if error["type"] == "extra_forbidden":
                lines.append(f"{loc}: unknown key (not part of a {what})")
            elif error["type"] == "missing":
                lines.append(f"{loc}: missing key")
            else:
                shown = repr(error.get("input"))
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                lines.append(f"{loc}: {error['msg']}, got {shown}")
        more = f" (and {exc.error_count() - MAX_LISTED} more)" if exc.error_count() > 5 else ""
        raise SchemaViolationError(
            path,
            f"not a valid {what}{more}:\n  "
            + "\n  ".join(lines)
            + "\nsubmit the results.json exactly as tlbench evaluate wrote it",
        ) from None


def _check_schema(path: Path, doc: Any, expected: str) -> None:
    if not isinstance(doc, dict):
        raise UnknownSchemaError(
            path, f"expected a JSON object with a 'schema' key, got a {type(doc).__name__}"
        )
    schema = doc.get("schema")
    if schema == expected:
        return
    if schema == ENTRY_SCHEMA and expected == SUBMISSION_SCHEMA:
        raise UnknownSchemaError(
            path,
            f"schema {schema!r} is a leaderboard entry, not a submission; submit the "
            "results.json that tlbench evaluate wrote",
        )
    got = "no 'schema' key" if schema is None else f"unknown schema version {schema!r}"
    raise UnknownSchemaError(
        path,
        f"{got}; this tlbench reads {expected!r} (files written by another tlbench version: "
        "re-run tlbench evaluate with this one, or install the version that wrote it)",
    )


def check_tier(path: Path, results: _Results) -> None:
    """Refuse a smoke-tier result: the leaderboard holds standard and paper tiers only."""
    if results.tier == "smoke":
        raise SmokeTierError(
            path,
            "tier 'smoke' checks the pipeline (tiny budgets, 2 seeds) and says nothing about "
            "transfer, so the leaderboard does not take it; re-run tlbench evaluate with "
            "--tier standard (or paper) and submit that",
        )


def check_scenario(path: Path, results: _Results) -> Scenario:
    """The registered scenario of ``results``, checked against what the results were run on."""
    stamp = results.scenario
    try:
        scenario = load_scenario(stamp.id)
    except ScenarioError as exc:
        raise UnknownScenarioError(path, f"scenario.id: {exc}") from None
    if stamp.fingerprint != scenario.fingerprint:
        raise FingerprintError(
            path,
            f"scenario.fingerprint {stamp.fingerprint!r} (version {stamp.version}) is not the "
            f"registered {stamp.id!r}'s {scenario.fingerprint!r} (version {scenario.version}): "
            "the results were produced under another protocol; re-run tlbench evaluate on the "
            "registered scenario",
        )
    registered = scenario.tier(results.tier)
    if results.protocol != registered:
        diff = ", ".join(
            f"{k} {getattr(results.protocol, k)} (registered: {getattr(registered, k)})"
            for k in type(registered).model_fields
            if getattr(results.protocol, k) != getattr(registered, k)
        )
        raise FingerprintError(
            path,
            f"protocol does not match tier {results.tier!r} of {stamp.id!r}: {diff}; re-run "
            "tlbench evaluate on the registered scenario",
        )
    return scenario


def check_runs(path: Path, results: _Results, scenario: Scenario | None = None) -> None:
    """Run counts, seeds, keys, checkpoints, curves, budgets and embedding alignment against the
    tier's protocol (``scenario``: the registered one, by default loaded from the stamp)."""
    from tlbench.runner.plan import plan_runs

    if scenario is None:
        scenario = load_scenario(results.scenario.id)

    tier, protocol = results.tier, results.protocol
    expected = protocol.source_seeds * (1 + 2 * protocol.target_seeds)
    how = (
        f"tier {tier!r} has {protocol.source_seeds} source seeds x (1 + 2 x "
        f"{protocol.target_seeds} target seeds) = {expected} runs"
    )
    runs = results.runs
    if len(runs) != expected:
        raise RunCountError(
            path,
            f"{len(runs)} runs, but {how}; submit a complete evaluation (repeating the "
            "tlbench evaluate command resumes an interrupted one)",
        )
    not_ok = [f"{r.condition} s{r.source_seed}/t{r.target_seed}" for r in runs if r.status != "ok"]
    if not_ok or results.failed:
        listed = ", ".join(not_ok[:MAX_LISTED]) or ", ".join(results.failed[:MAX_LISTED])
        raise RunCountError(
            path,
            f"{len(not_ok) or len(results.failed)} run(s) did not finish ({listed}); every one "
            f"of the {expected} runs must be ok: repeat the tlbench evaluate command (it reruns "
            "only the failed runs), then submit the new results.json",
        )
    plan = plan_runs(
        fingerprint=results.scenario.fingerprint,
        tier=tier,
        source_seeds=protocol.source_seeds,
        target_seeds=protocol.target_seeds,
        agent_digest=results.agent.digest,
        agent_kwargs=results.agent.kwargs,
    )
    planned = {(p.condition, p.source_seed, p.target_seed): p for p in plan}
    seen: set[tuple[str, int, int | None]] = set()
    for i, run in enumerate(runs):
        ident = (run.condition, run.source_seed, run.target_seed)
        spec = planned.get(ident)
        label = f"runs[{i}] ({run.condition} s{run.source_seed}/t{run.target_seed})"
        if spec is None or ident in seen:
            problem = "is not part of the tier's plan" if spec is None else "appears twice"
            raise RunCountError(path, f"{label} {problem}; {how}, one per seed and condition")
        seen.add(ident)
        if run.seed != spec.seed or run.key != spec.key:
            raise RunCountError(
                path,
                f"{label} has seed {run.seed} and key {run.key!r}, but the plan for this agent "
                f"(digest {results.agent.digest}, its kwargs) gives seed {spec.seed} and key "
                f"{spec.key!r}: the runs come from another agent, scenario or tier; submit one "
                "evaluation's results.json unchanged",
            )
        if run.condition != "source":
            _check_target_run(path, label, run, protocol, scenario.score == "return")
    _check_alignment(path, results, scenario)


def _check_target_run(
    path: Path, label: str, run: Any, protocol: Any, curves_required: bool = True
) -> None:
    import numpy as np

    checkpoints, returns, curve = run.checkpoints, run.returns, run.curve
    if not curves_required and checkpoints is None and returns is None and curve is None:
        _check_budget(path, label, run, protocol)  # no returns evaluated: nothing else to check
        return
    if checkpoints is None or returns is None or curve is None:
        missing = [k for k in ("checkpoints", "returns", "curve") if getattr(run, k) is None]
        raise CurveMismatchError(
            path, f"{label} has no {', '.join(missing)}: a finished target run records them"
        )
    for j in range(1, len(checkpoints)):
        if checkpoints[j] <= checkpoints[j - 1]:
            raise NonMonotonicStepsError(
                path,
                f"{label}.checkpoints: step {checkpoints[j]} at position {j} follows "
                f"{checkpoints[j - 1]}; evaluation steps must strictly increase",
            )
    if checkpoints != protocol.checkpoints:
        raise NonMonotonicStepsError(
            path,
            f"{label}.checkpoints are {_short(checkpoints)}, but the tier evaluates at "
            f"{_short(protocol.checkpoints)} (0 to target_steps every eval_every)",
        )
    if len(returns) != len(checkpoints) or len(curve) != len(checkpoints):
        raise CurveMismatchError(
            path,
            f"{label} has {len(returns)} lists of returns and {len(curve)} curve points for "
            f"{len(checkpoints)} checkpoints; each needs one per checkpoint",
        )
    for j, (episodes, mean) in enumerate(zip(returns, curve, strict=True)):
        if len(episodes) != protocol.eval_episodes:
            raise CurveMismatchError(
                path,
                f"{label}.returns[{j}] has {len(episodes)} episodes; the tier evaluates "
                f"{protocol.eval_episodes} at each checkpoint",
            )
        if float(np.mean(episodes)) != mean:
            raise CurveMismatchError(
                path,
                f"{label}.curve[{j}] is {mean!r}, but the mean of its returns is "
                f"{float(np.mean(episodes))!r}; a curve point is the mean of its episodes",
            )
    _check_budget(path, label, run, protocol)


def _check_budget(path: Path, label: str, run: Any, protocol: Any) -> None:
    used = (run.steps or {}).get("target")
    if isinstance(used, int) and used > protocol.target_steps:
        raise OverBudgetError(
            path,
            f"{label} used {used} target env steps; the tier allows {protocol.target_steps}",
        )


def _check_alignment(path: Path, results: _Results, scenario: Scenario) -> None:
    """Every run carries alignment or none does (a scenario scored by embedding alignment: every
    one); a source run its scale, a target run one distance per probe state of the scenario and
    their mean."""
    import numpy as np

    from tlbench.runner.probes import probe_set

    runs = results.runs
    labels = [f"runs[{i}] ({r.condition} s{r.source_seed}/t{r.target_seed})" for i, r in
              enumerate(runs)]  # fmt: skip
    missing = [label for label, r in zip(labels, runs, strict=True) if r.alignment is None]
    if len(missing) == len(runs) and scenario.score == "return":
        return
    if missing:
        why = (
            f"scenario {scenario.id!r} is scored by embedding alignment, so every run carries it"
            if scenario.score != "return"
            else "alignment comes from the agent's embed() in every run or in none"
        )
        raise AlignmentMismatchError(
            path,
            f"{len(missing)} of {len(runs)} runs have no alignment "
            f"({', '.join(missing[:MAX_LISTED])}{', ...' if len(missing) > MAX_LISTED else ''}): "
            f"{why}; submit the results.json of "
            "one tlbench evaluate of an agent with embed(), unchanged",
        )
    probes = probe_set(scenario, results.tier)
    if probes is None:
        raise AlignmentMismatchError(
            path,
            f"the runs carry alignment, but scenario {scenario.id!r} has no probe states to "
            "align; remove it (tlbench evaluate never records it there)",
        )
    for label, run in zip(labels, runs, strict=True):
        a = run.alignment
        assert a is not None
        if run.condition == "source":
            if a.scale is None or a.distances is not None or a.distance is not None:
                raise AlignmentMismatchError(
                    path, f"{label}.alignment must hold the base model's scale only"
                )
            continue
        if a.distances is None or a.distance is None or a.scale is not None:
            raise AlignmentMismatchError(
                path, f"{label}.alignment must hold distances and their mean distance only"
            )
        if len(a.distances) != len(probes):
            raise AlignmentMismatchError(
                path,
                f"{label}.alignment has {len(a.distances)} distances, but the scenario has "
                f"{len(probes)} probe states ({probes.description}); one distance per state",
            )
        if min(a.distances) < 0:
            raise AlignmentMismatchError(
                path, f"{label}.alignment.distances holds a negative distance {min(a.distances)}"
            )
        if float(np.mean(a.distances)) != a.distance:
            raise AlignmentMismatchError(
                path,
                f"{label}.alignment.distance is {a.distance!r}, but the mean of its distances is "
                f"{float(np.mean(a.distances))!r}; a run's distance is the mean over its probe "
                "states",
            )


def _short(values: list[int]) -> str:
    return str(values) if len(values) <= 8 else f"[{values[0]}, {values[1]}, ..., {values[-1]}]"


def check_name(path: Path, name: str) -> str:
    """``name`` if it can name an entry's file, else :class:`InvalidNameError`."""
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidNameError(
            path, f"display name {name!r} cannot name an entry file: {NAME_RULE}; pass --name"
        )
    return name


def default_name(agent_class: str) -> str:
    """The display name used when none is given: the agent class's name in lowercase.

    >>> default_name("DQNAgent")
    'dqnagent'
    """
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in agent_class.lower())[:64]


# -- recomputation ------------------------------------------------------------------------------


def curves_sha256(results: _Results) -> str:
    """SHA-256 of the raw curves: every target run's condition, seeds, checkpoints, returns and
    curve, sorted by (source seed, target seed, condition), as canonical JSON. Runs with
    alignment add it (a source run then appears too, with its scale); without, the rows are
    what they were before alignment existed, so older entries keep their digest."""

    def row(r: Any) -> dict[str, Any]:
        out = {
            "condition": r.condition,
            "source_seed": r.source_seed,
            "target_seed": r.target_seed,
            "checkpoints": r.checkpoints,
            "returns": r.returns,
            "curve": r.curve,
        }
        if r.alignment is not None:
            out["alignment"] = r.alignment.model_dump()
        return out

    rows = sorted(
        (row(r) for r in results.runs if r.condition != "source" or r.alignment is not None),
        key=lambda row: (
            row["source_seed"],
            -1 if row["target_seed"] is None else row["target_seed"],
            row["condition"],
        ),
    )
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recompute_metrics(results: _Results, scenario: Scenario) -> dict[str, Any]:
    """The transfer metrics of ``results``' raw curves and alignment, computed exactly as
    ``tlbench evaluate`` computes them (:func:`tlbench.runner.evaluate.summarize_runs`,
    :func:`~tlbench.runner.evaluate.summarize_alignment_runs`)."""
    from tlbench.runner.evaluate import metrics_dict, summarize_alignment_runs, summarize_runs

    fields = {"condition", "source_seed", "target_seed", "status", "curve", "alignment"}
    runs = [run.model_dump(include=fields) for run in results.runs]
    summary = summarize_runs(scenario, results.protocol.checkpoints, runs)
    alignment = summarize_alignment_runs(runs)
    recomputed = metrics_dict(summary, alignment)
    assert recomputed is not None  # check_runs made sure every pair finished
    metrics: dict[str, Any] = json.loads(json.dumps(recomputed, allow_nan=False))
    return metrics


# -- entry points -------------------------------------------------------------------------------


def check_submission(path: Path, *, any_tier: bool = False) -> Checked:
    """Every check of a submission file up to (not including) duplicates, then the recomputed
    metrics and digest of its curves. ``any_tier``: take smoke-tier results too (``tlbench
    compare`` of one's own runs; the leaderboard never does)."""
    doc = read_json(path)
    _check_schema(path, doc, SUBMISSION_SCHEMA)
    submission: Submission = _model(path, doc, Submission, "submission (tlbench.results/1)")
    if not any_tier:
        check_tier(path, submission)
    scenario = check_scenario(path, submission)
    check_runs(path, submission, scenario)
    return Checked(
        submission=submission,
        scenario=scenario,
        metrics=recompute_metrics(submission, scenario),
        curves_sha256=curves_sha256(submission),
    )


def check_entry(path: Path, root: Path | None = None) -> Entry:
    """Every check of a stored entry: the submission's checks, its place under ``root``, its
    digest, and its stored metrics against a recomputation."""
    doc = read_json(path)
    _check_schema(path, doc, ENTRY_SCHEMA)
    entry: Entry = _model(path, doc, Entry, "leaderboard entry (tlbench.entry/1)")
    if root is not None:
        expected = root / entry.scenario.id / entry.tier / f"{entry.name}.json"
        if path.resolve() != expected.resolve():
            raise MisplacedEntryError(
                path,
                f"the entry of {entry.name!r} on {entry.scenario.id!r} ({entry.tier} tier) "
                f"belongs at {display_path(expected)}; entries are written by tlbench submit",
            )
    check_tier(path, entry)
    scenario = check_scenario(path, entry)
    check_runs(path, entry, scenario)
    digest = curves_sha256(entry)
    if digest != entry.curves_sha256:
        raise DigestMismatchError(
            path,
            f"curves_sha256 is {entry.curves_sha256}, but the curves hash to {digest}: the "
            "curves were changed after submission; restore the file or submit again",
        )
    metrics = recompute_metrics(entry, scenario)
    if metrics != entry.metrics:
        changed = sorted(k for k in metrics if metrics[k] != entry.metrics.get(k))
        extra = sorted(set(entry.metrics) - set(metrics))
        raise MetricsMismatchError(
            path,
            f"stored metrics differ from the ones recomputed from the curves (keys: "
            f"{', '.join(changed + extra)}); metrics are never edited by hand: submit again",
        )
    return entry
