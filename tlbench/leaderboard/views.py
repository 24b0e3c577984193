"""What the leaderboard shows, computed from entries: table rows, the cross-scenario aggregate
and transfer matrices. Pure data; :mod:`tlbench.leaderboard.render` turns it into files.

* **Rows.** Every entry holds both conditions of its evaluation, so it gives two rows: the agent
  with transfer (``transfer``: whatever the agent does with its source artifact, naive
  fine-tuning of the source weights for the SB3 baselines)
  and its paired ``scratch`` control. Intervals are the entry's recomputed IQMs with 95%
  stratified-bootstrap intervals; jumpstart, transfer ratio, P(transfer > scratch) and the
  negative-transfer flag compare the two conditions, so the scratch row has none.
* **Cross-scenario view**, per suite and tier (the suite is the env family of a scenario's
  target: ``grid`` for the maze and labyrinth scenarios, ``bullet`` for the PyBullet ones, whose
  agents seldom overlap): each run's final return normalised by its scenario's random (0) and
  reference (1) returns, aggregated over the scenarios with rliable (IQM, mean, median,
  optimality gap; performance profiles). rliable needs as many runs on every scenario, so each
  scenario contributes its ``k`` first pairs in round-robin order over base models
  (target seed 0 of every source seed, then target seed 1, ...), ``k`` being the smallest pair
  count among the view's scenarios. Agents without an entry on every scenario of the view are
  left out (and listed).
* **Embedding alignment.** A scenario scored by embedding alignment (``maze/inverse-reward-free``)
  has no returns: its rows show the mean alignment distance of each condition (lower is better;
  the rows are ranked by it) and the share of aligned runs. On a return-scored scenario, entries
  of agents with ``embed`` carry the same two numbers, shown as extra columns. Alignment-scored
  entries take no part in the cross-scenario view or the transfer matrices, which are about
  returns.
* **Transfer matrix**, per family (the first part of a scenario id: ``maze``, ``labyrinth``)
  and tier, for every agent with entries on two or more distinct source -> target pairs of the
  family: the IQM transfer ratio of each pair.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tlbench.leaderboard.schema import Entry
from tlbench.metrics import Interval, interval_estimates
from tlbench.metrics._validation import FloatArray
from tlbench.scenarios import TIER_NAMES, Scenario, load_scenario

#: the row label of each condition
CONDITIONS = {"transfer": "transfer", "scratch": "scratch"}


def interval(d: Mapping[str, Any]) -> Interval:
    """An :class:`Interval` from its JSON form (None -> NaN, "inf"/"-inf" -> infinities).

    >>> interval({"estimate": 0.5, "low": None, "high": "inf"})
    Interval(estimate=0.5, low=nan, high=inf)
    """
    return Interval(_float(d["estimate"]), _float(d["low"]), _float(d["high"]))


def _float(v: Any) -> float:
    if v is None:
        return math.nan
    return float(v)


@dataclass(frozen=True)
class Row:
    """One row of a scenario/tier table: one condition of one entry."""

    entry: Entry
    condition: str  # "transfer" or "scratch"
    runs: int
    final_return: Interval | None  # None on a scenario scored by embedding alignment
    auc: Interval | None
    jumpstart: Interval | None = None
    transfer_ratio: Interval | None = None
    improvement: Interval | None = None
    negative_transfer: bool | None = None
    alignment: Interval | None = None  # mean alignment distance, where the entry has one
    aligned: float | None = None  # share of aligned runs

    @property
    def label(self) -> str:
        """``name (transfer)`` or ``name (scratch)``."""
        return f"{self.entry.name} ({CONDITIONS[self.condition]})"


def group(entries: Iterable[Entry]) -> dict[tuple[str, str], list[Entry]]:
    """Entries by (scenario id, tier): scenarios sorted, tiers cheapest first, entries by name."""
    out: dict[tuple[str, str], list[Entry]] = {}
    order = {t: i for i, t in enumerate(TIER_NAMES)}
    for entry in sorted(entries, key=lambda e: (e.scenario.id, order[e.tier], e.name)):
        out.setdefault((entry.scenario.id, entry.tier), []).append(entry)
    return out


def return_scored(entry: Entry) -> bool:
    """Whether the entry's scenario is scored by return (its metrics summarize returns), not by
    embedding alignment alone."""
    return "transfer" in entry.metrics


def has_alignment(entries: Iterable[Entry]) -> bool:
    """Whether any of ``entries`` carries alignment metrics."""
    return any(e.metrics.get("alignment") is not None for e in entries)


def rows(entries: Iterable[Entry]) -> list[Row]:
    """The table rows of one scenario and tier, each entry's transfer condition followed by its
    scratch control. Entries are ranked by the IQM final return of their transfer condition,
    best first; on a scenario scored by embedding alignment by the mean alignment distance of
    their transfer condition, lowest first (ties by name)."""

    def rank(e: Entry) -> tuple[float, str]:
        if return_scored(e):
            return (-_float(e.metrics["transfer"]["final_return_iqm"]["estimate"]), e.name)
        return (_float(e.metrics["alignment"]["transfer"]["mean_distance"]["estimate"]), e.name)

    out = []
    for entry in sorted(entries, key=rank):
        m = entry.metrics
        a: dict[str, Any] = m.get("alignment") or {}
        for condition in ("transfer", "scratch"):
            extra: dict[str, Any] = {}
            if a:
                extra["alignment"] = interval(a[condition]["mean_distance"])
                extra["aligned"] = _float(a[condition]["success_rate"])
            if not return_scored(entry):
                out.append(Row(entry, condition, int(a["num_runs"]), None, None, **extra))
                continue
            arm = m[condition]
            if condition == "transfer":
                extra |= {
                    "jumpstart": interval(m["jumpstart_iqm"]),
                    "transfer_ratio": interval(m["transfer_ratio_iqm"]),
                    "improvement": interval(m["probability_of_improvement"]),
                    "negative_transfer": bool(m["negative_transfer"]["scenario_flag"]),
                }
            out.append(
                Row(
                    entry=entry,
                    condition=condition,
                    runs=int(m["num_runs"]),
                    final_return=interval(arm["final_return_iqm"]),
                    auc=interval(arm["auc_iqm"]),
                    **extra,
                )
            )
    return out


def normalized_distances(entry: Entry, condition: str) -> FloatArray:
    """Per-pair alignment distance of ``condition`` divided by its base model's scale (a run is
    aligned below 0.5); pairs sorted by (source seed, target seed), shape (num_pairs,)."""
    arm = entry.metrics["alignment"][condition]
    distance = np.array([_float(v) for v in arm["distance"]], dtype=np.float64)
    scale = np.array([_float(v) for v in arm["scale"]], dtype=np.float64)
    return np.asarray(distance / scale, dtype=np.float64)


def normalized_final_returns(entry: Entry, condition: str) -> FloatArray:
    """Per-pair final return of ``condition``, normalised by the scenario's random (0) and
    reference (1) returns; pairs sorted by (source seed, target seed), shape (num_pairs,)."""
    m = entry.metrics
    final = np.array([_float(v) for v in m[condition]["final_return"]], dtype=np.float64)
    return np.asarray((final - m["low"]) / (m["high"] - m["low"]), dtype=np.float64)


def round_robin(entry: Entry, k: int) -> np.ndarray:
    """Indices (into the sorted pairs) of ``k`` pairs taken round-robin over base models:
    target seed 0 of every source seed, then target seed 1, and so on.

    The metrics' per-run arrays list pairs sorted by (source seed, target seed).
    """
    pairs = sorted(
        (r.source_seed, r.target_seed or 0) for r in entry.runs if r.condition == "transfer"
    )
    order = sorted(range(len(pairs)), key=lambda i: (pairs[i][1], pairs[i][0]))
    return np.array(order[:k], dtype=np.int64)


@dataclass(frozen=True)
class CrossView:
    """The cross-scenario aggregate of one suite (target env family) and tier."""

    suite: str
    tier: str
    scenarios: list[str]
    runs_per_scenario: int
    scores: dict[str, FloatArray]  # row label -> (runs_per_scenario, num_scenarios)
    intervals: dict[str, dict[str, Interval]]  # row label -> aggregate -> interval
    excluded: list[str] = field(default_factory=list)  # names without an entry everywhere

    @property
    def slug(self) -> str:
        """``<suite>-<tier>``: names the view's plots and its HTML table."""
        return f"{self.suite}-{self.tier}"


def cross_views(entries: Iterable[Entry], reps: int = 2000) -> list[CrossView]:
    """One :class:`CrossView` per suite and tier with entries on two or more return-scored
    scenarios."""
    grouped = group(e for e in entries if return_scored(e))
    suites = {s: suite(s) for (s, _) in grouped}
    out = []
    for suite_name, tier in sorted({(v, t) for v in suites.values() for t in TIER_NAMES}):
        scenarios = sorted({s for (s, t) in grouped if t == tier and suites[s] == suite_name})
        if len(scenarios) < 2:
            continue
        by_name: dict[str, dict[str, Entry]] = {}
        for scenario in scenarios:
            for entry in grouped[(scenario, tier)]:
                by_name.setdefault(entry.name, {})[scenario] = entry
        complete = sorted(n for n, e in by_name.items() if len(e) == len(scenarios))
        excluded = sorted(set(by_name) - set(complete))
        if not complete:
            continue
        k = min(int(by_name[n][s].metrics["num_runs"]) for n in complete for s in scenarios)
        scores: dict[str, FloatArray] = {}
        for name in complete:
            for condition in ("transfer", "scratch"):
                columns = []
                for scenario in scenarios:
                    entry = by_name[name][scenario]
                    columns.append(
                        normalized_final_returns(entry, condition)[round_robin(entry, k)]
                    )
                scores[f"{name} ({CONDITIONS[condition]})"] = np.stack(columns, axis=1)
        out.append(
            CrossView(
                suite=suite_name,
                tier=tier,
                scenarios=scenarios,
                runs_per_scenario=k,
                scores=scores,
                intervals=interval_estimates(scores, seed=0, reps=reps),
                excluded=excluded,
            )
        )
    return out


def suite(scenario_id: str) -> str:
    """The env family (``grid``, ``bullet``) of a scenario's target env."""
    from tlbench.envs import env_info

    return env_info(load_scenario(scenario_id).target.env).family


def family(scenario_id: str) -> str:
    """A scenario's family: the first part of its id.

    >>> family("labyrinth/inverse-grid")
    'labyrinth'
    """
    return scenario_id.split("/", 1)[0]


def pair_labels(scenario: Scenario) -> tuple[str, str]:
    """(sources, target) of a scenario as short labels, e.g. ``("Maze-v0", "InverseMaze-v0")``;
    several sources are joined with ``" + "``."""

    def short(label: str) -> str:
        return label.removeprefix("tlbench/")

    return " + ".join(short(ref.label) for ref in scenario.sources), short(scenario.target.label)


@dataclass(frozen=True)
class Matrix:
    """A transfer matrix: IQM transfer ratio of one agent for every source -> target pair of a
    family evaluated in one tier."""

    family: str
    tier: str
    name: str
    sources: list[str]
    targets: list[str]
    cells: dict[tuple[str, str], tuple[str, Interval]]  # (source, target) -> (scenario, ratio)


def transfer_matrices(entries: Iterable[Entry]) -> list[Matrix]:
    """Every (family, tier, agent) with two or more distinct source -> target pairs."""
    pairs: dict[str, tuple[str, str]] = {}
    found: dict[tuple[str, str, str], dict[tuple[str, str], tuple[str, Interval]]] = {}
    for (scenario_id, tier), group_entries in group(e for e in entries if return_scored(e)).items():
        if scenario_id not in pairs:
            pairs[scenario_id] = pair_labels(load_scenario(scenario_id))
        for entry in group_entries:
            cells = found.setdefault((family(scenario_id), tier, entry.name), {})
            source, target = pairs[scenario_id]
            if (source, target) in cells:  # two scenarios of one pair: tell them apart
                target = f"{target} [{scenario_id}]"
            cells[(source, target)] = (scenario_id, interval(entry.metrics["transfer_ratio_iqm"]))
    order = {t: i for i, t in enumerate(TIER_NAMES)}
    out = []
    for (fam, tier, name), cells in sorted(
        found.items(), key=lambda kv: (kv[0][0], order[kv[0][1]], kv[0][2])
    ):
        if len(cells) < 2:
            continue
        out.append(
            Matrix(
                family=fam,
                tier=tier,
                name=name,
                sources=sorted({s for s, _ in cells}),
                targets=sorted({t for _, t in cells}),
                cells=cells,
            )
        )
    return out
