"""``tlbench compare``: several evaluations of one scenario tier side by side.

A researcher who runs variants of an agent (CRAR's transfer modes, an ablation, two learning
rates) on the same scenario and tier wants one answer: which is better, by how much, and how
sure is that. Each input is a ``results.json`` written by ``tlbench evaluate`` (or the folder
holding it, or a leaderboard entry); every file passes the leaderboard's checks first and its
metrics are recomputed from the raw curves, so a comparison never trusts a stored number.

The conditions compared are each file's transfer runs, and the paired scratch controls: scratch
runs that are identical in two files (same curves, same embeddings: the usual case, since the
scratch control does not depend on how an agent transfers) are shown once.

For every condition: the IQM of the final return and of the normalised AUC with 95% stratified
bootstrap intervals (rliable's, as everywhere in tlbench), and, where the scenario measures
embedding alignment, the mean distance to the base model's embedding. For every ordered pair:
P(X > Y), the probability that a run of X ends with a higher final return than a run of Y, with
its interval (rliable's probability of improvement, unpaired).

The alignment distances of each transfer condition are also split into two groups, to test the
CRAR paper's observation that they are bimodal (about 1.1 for successful transfers, 6.2 for failed
ones). Each condition on its own: pooled, conditions that differ would split apart by condition.
The split is the exact one-dimensional 2-means (the cut of the sorted distances with the
least within-group sum of squares), reported with the share of the variance it explains. Any
sample can be split: the best split of a large Gaussian sample explains about 2/pi = 64% of its
variance (more for small samples: the median for 9 values is about 75%), of a uniform one 75%,
of two well separated clusters nearly all. So the share is
compared with its distribution under one Gaussian of the sample's size (a seeded Monte Carlo of
2,000 samples): a small p-value says the distances fall into two groups more cleanly than a
single normal population would. It is a description with a reference, not a proof of two modes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tlbench.leaderboard.schema import ENTRY_SCHEMA, _Results
from tlbench.leaderboard.validate import check_entry, check_scenario, check_submission, read_json
from tlbench.metrics.aggregate import (
    Interval,
    aggregate_interval,
    json_float,
    pointwise_mean_interval,
    probability_of_improvement,
)
from tlbench.report import format_interval, format_number
from tlbench.scenarios import Scenario
from tlbench.scenarios.schema import display_path

FloatArray = NDArray[np.float64]

#: the p-value below which a 2-means split counts as more separated than one Gaussian gives
SPLIT_ALPHA = 0.05
#: Monte Carlo samples of the Gaussian reference of :func:`two_means`
SPLIT_SAMPLES = 2000


class CompareError(ValueError):
    """Inputs that cannot be compared; the message names the file, the value and the fix."""


@dataclass(frozen=True)
class Condition:
    """One compared condition: the transfer (or scratch) runs of one results file.

    ``final_return``, ``auc`` and ``distance`` (alignment; None where the scenario has none)
    have one value per run, in the order of the file's recomputed metrics; ``curves`` is
    (num_runs, num_checkpoints), empty for a representation-only scenario."""

    label: str
    path: str
    arm: str
    final_return: FloatArray
    auc: FloatArray
    distance: FloatArray | None
    curves: FloatArray

    @property
    def num_runs(self) -> int:
        return max(self.final_return.size, 0 if self.distance is None else self.distance.size)


@dataclass(frozen=True)
class Split:
    """The exact 2-means split of a set of distances (see the module docstring)."""

    low_mean: float
    high_mean: float
    low_count: int
    high_count: int
    cut: float
    explained: float  # share of the variance explained by the split
    p_value: float  # P(a Gaussian sample of this size splits at least as cleanly)
    gaussian_explained: float  # the median share for a Gaussian sample of this size

    @property
    def separated(self) -> bool:
        """More cleanly split than one Gaussian population would be (p < SPLIT_ALPHA)."""
        return self.p_value < SPLIT_ALPHA

    def to_dict(self) -> dict[str, Any]:
        return {
            "low_mean": json_float(self.low_mean),
            "high_mean": json_float(self.high_mean),
            "low_count": self.low_count,
            "high_count": self.high_count,
            "cut": json_float(self.cut),
            "explained": json_float(self.explained),
            "p_value_vs_gaussian": json_float(self.p_value),
            "gaussian_explained_median": json_float(self.gaussian_explained),
            "separated": self.separated,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Split:
        """The split that :meth:`to_dict` wrote."""
        fields = ("low_mean", "high_mean", "low_count", "high_count", "cut", "explained")
        return cls(
            **{k: d[k] for k in fields},
            p_value=d["p_value_vs_gaussian"],
            gaussian_explained=d["gaussian_explained_median"],
        )


@dataclass
class Comparison:
    """The whole comparison: conditions, their intervals and every pairwise P(X > Y)."""

    scenario: Scenario
    tier: str
    steps: list[int]
    conditions: list[Condition]
    final_return: dict[str, Interval] = field(default_factory=dict)
    auc: dict[str, Interval] = field(default_factory=dict)
    distance: dict[str, Interval] = field(default_factory=dict)
    improvement: dict[tuple[str, str], Interval] = field(default_factory=dict)
    splits: dict[str, Split | None] = field(default_factory=dict)  # per transfer condition

    @property
    def scores_returns(self) -> bool:
        return bool(self.final_return)

    def ranking(self) -> list[str]:
        """Labels by IQM final return, best first (by mean distance, smallest first, for a
        representation-only scenario)."""
        if self.final_return:
            means = {c.label: float(np.mean(c.final_return)) for c in self.conditions}
            return sorted(
                self.final_return, key=lambda k: (-self.final_return[k].estimate, -means[k])
            )
        return sorted(self.distance, key=lambda k: self.distance[k].estimate)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: everything needed to redraw the tables."""
        return {
            "schema": "tlbench.compare/1",
            "scenario": {"id": self.scenario.id, "fingerprint": self.scenario.fingerprint},
            "tier": self.tier,
            "steps": self.steps,
            "conditions": [
                {
                    "label": c.label,
                    "file": c.path,
                    "arm": c.arm,
                    "runs": c.num_runs,
                    "final_return": [json_float(v) for v in c.final_return],
                    "auc": [json_float(v) for v in c.auc],
                    "distance": None if c.distance is None else [json_float(v) for v in c.distance],
                    "final_return_iqm": _maybe(self.final_return.get(c.label)),
                    "auc_iqm": _maybe(self.auc.get(c.label)),
                    "mean_distance": _maybe(self.distance.get(c.label)),
                }
                for c in self.conditions
            ],
            "ranking": self.ranking(),
            "probability_of_improvement": [
                {"x": x, "y": y, **iv.to_dict()} for (x, y), iv in self.improvement.items()
            ],
            "distance_splits": {
                label: None if split is None else split.to_dict()
                for label, split in self.splits.items()
            },
        }


def _maybe(iv: Interval | None) -> dict[str, Any] | None:
    return None if iv is None else iv.to_dict()


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    path: Path
    submission: _Results  # a Submission or an Entry
    scenario: Scenario
    metrics: dict[str, Any]
    name: str | None  # a leaderboard entry's display name


def load(path: Path) -> _Loaded:
    """A results file (or the folder holding ``results.json``, or a leaderboard entry), after
    every check of ``tlbench submit`` but the smoke-tier refusal
    (:class:`~tlbench.leaderboard.SubmissionError` if any fails)."""
    if path.is_dir():
        path = path / "results.json"
    doc = read_json(path)
    if isinstance(doc, dict) and doc.get("schema") == ENTRY_SCHEMA:
        entry = check_entry(path)
        return _Loaded(path, entry, check_scenario(path, entry), entry.metrics, entry.name)
    result = check_submission(path, any_tier=True)
    return _Loaded(path, result.submission, result.scenario, result.metrics, None)


def default_label(item: _Loaded) -> str:
    """A leaderboard entry's name, else the agent's name and its ``-k`` arguments."""
    if item.name is not None:
        return item.name
    agent = item.submission.agent
    kwargs = " ".join(f"{k}={v}" for k, v in sorted(agent.kwargs.items()))
    return f"{agent.name} {kwargs}".strip()


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if labels.count(label) == 1 else f"{label} #{seen[label]}")
    return out


def _check_same_protocol(items: list[_Loaded]) -> None:
    first = items[0]
    want = (first.scenario.id, first.submission.tier, first.submission.scenario.fingerprint)
    for item in items[1:]:
        got = (item.scenario.id, item.submission.tier, item.submission.scenario.fingerprint)
        if got == want:
            continue
        what = ("scenario", "tier", "scenario fingerprint")
        i = next(k for k in range(3) if got[k] != want[k])
        raise CompareError(
            f"{display_path(item.path)}: {what[i]} is {got[i]!r}, but "
            f"{display_path(first.path)} has {want[i]!r}; compare evaluations of one scenario "
            "and tier (re-run the older one if the scenario file changed)"
        )


def _arm(item: _Loaded, label: str, arm: str) -> Condition:
    """The ``arm`` ("transfer" or "scratch") runs of one file as a condition."""
    metrics = item.metrics
    scored = metrics.get(arm) is not None
    final = np.array(metrics[arm]["final_return"], dtype=float) if scored else np.zeros(0)
    auc = np.array(metrics[arm]["auc"], dtype=float) if scored else np.zeros(0)
    alignment = metrics.get("alignment")
    distance = None if alignment is None else np.array(alignment[arm]["distance"], dtype=float)
    runs = sorted(
        (r for r in item.submission.runs if r.condition == arm and r.curve),
        key=lambda r: (r.source_seed, -1 if r.target_seed is None else r.target_seed),
    )
    curves = np.array([r.curve for r in runs], dtype=float) if runs else np.zeros((0, 0))
    return Condition(label, display_path(item.path), arm, final, auc, distance, curves)


def _same_runs(a: Condition, b: Condition) -> bool:
    """The same curves and the same alignment distances."""
    if a.curves.shape != b.curves.shape or not np.array_equal(a.curves, b.curves):
        return False
    if a.distance is None or b.distance is None:
        return a.distance is None and b.distance is None
    return bool(np.array_equal(a.distance, b.distance))


def conditions(items: list[_Loaded], labels: Sequence[str] | None = None) -> list[Condition]:
    """Each file's transfer arm, then the scratch arms that differ from those before them."""
    if labels is not None and len(labels) != len(items):
        raise CompareError(
            f"{len(labels)} label(s) for {len(items)} results file(s); give one --label per "
            "file, in the same order, or none"
        )
    names = _unique(list(labels) if labels is not None else [default_label(i) for i in items])
    pairs = list(zip(names, items, strict=True))
    scratch: list[Condition] = []
    for name, item in pairs:
        arm = _arm(item, f"{name} (scratch)", "scratch")
        if not any(_same_runs(s, arm) for s in scratch):
            scratch.append(arm)
    if len(scratch) == 1:
        scratch = [replace(scratch[0], label="scratch control")]
    return [_arm(item, name, "transfer") for name, item in pairs] + scratch


# -- statistics ---------------------------------------------------------------------------------


def _best_splits(x: FloatArray) -> tuple[FloatArray, NDArray[np.int64]]:
    """For each row of sorted ``x`` (samples, n): the share of the variance explained by its
    best 2-means cut, and the size of its low group."""
    n = x.shape[1]
    k = np.arange(1, n)
    x = x - x.mean(axis=1, keepdims=True)  # centred: the sums of squares below stay exact
    c1, c2 = np.cumsum(x, axis=1), np.cumsum(x * x, axis=1)
    total1, total2 = c1[:, -1:], c2[:, -1:]
    lo1, lo2 = c1[:, :-1], c2[:, :-1]
    hi1, hi2 = total1 - lo1, total2 - lo2
    within = (lo2 - lo1**2 / k) + (hi2 - hi1**2 / (n - k))
    # equal neighbours cannot be cut apart
    within = np.where(x[:, 1:] > x[:, :-1], within, np.inf)
    best = np.argmin(within, axis=1)
    total = (total2 - total1**2 / n)[:, 0]
    explained = 1.0 - within[np.arange(len(x)), best] / total
    return explained, best + 1


def two_means(values: Sequence[float] | FloatArray, seed: int = 0) -> Split | None:
    """The exact 1-D 2-means split of ``values``, with the share of variance it explains and
    its p-value against one Gaussian (None with fewer than 3 values or 2 distinct ones).

    >>> s = two_means([1.0, 1.2, 0.9, 1.1, 6.0, 6.4, 6.2, 5.9])
    >>> (round(s.low_mean, 3), round(s.high_mean, 3), s.low_count, s.separated)
    (1.05, 6.125, 4, True)
    """
    x = np.sort(np.asarray(values, dtype=float))
    if x.size < 3 or x[0] == x[-1]:
        return None
    explained, low = _best_splits(x[None, :])
    k = int(low[0])
    rng = np.random.default_rng(seed)
    reference, _ = _best_splits(np.sort(rng.standard_normal((SPLIT_SAMPLES, x.size)), axis=1))
    return Split(
        low_mean=float(x[:k].mean()),
        high_mean=float(x[k:].mean()),
        low_count=k,
        high_count=int(x.size - k),
        cut=float((x[k - 1] + x[k]) / 2),
        explained=float(explained[0]),
        p_value=float((1 + np.sum(reference >= explained[0])) / (1 + SPLIT_SAMPLES)),
        gaussian_explained=float(np.median(reference)),
    )


def compare(
    paths: Sequence[Path],
    labels: Sequence[str] | None = None,
    *,
    seed: int = 0,
    reps: int = 2000,
) -> Comparison:
    """Load, check and compare ``paths`` (see the module docstring).

    Raises :class:`CompareError` (inputs that do not belong together) or
    :class:`~tlbench.leaderboard.SubmissionError` (a file that fails a check).
    """
    if len(paths) < 2:
        raise CompareError(
            f"{len(paths)} results file(s) given; compare needs at least two (one results.json "
            "per evaluation)"
        )
    items = [load(Path(p)) for p in paths]
    _check_same_protocol(items)
    conds = conditions(items, labels)
    first = items[0]
    protocol = first.submission.protocol
    steps = list(range(0, protocol.target_steps + 1, protocol.eval_every))
    result = Comparison(first.scenario, first.submission.tier, steps, conds)
    scored = [c for c in conds if c.final_return.size]
    for c in scored:
        result.final_return[c.label] = aggregate_interval(c.final_return, "iqm", seed, reps)
        result.auc[c.label] = aggregate_interval(c.auc, "iqm", seed, reps)
    for c in conds:
        if c.distance is not None:
            result.distance[c.label] = aggregate_interval(c.distance, "mean", seed, reps)
    for x in scored:
        for y in scored:
            if x is not y:
                result.improvement[(x.label, y.label)] = probability_of_improvement(
                    x.final_return, y.final_return, seed, reps
                )
    for c in conds:
        if c.arm == "transfer" and c.distance is not None:
            result.splits[c.label] = two_means(c.distance, seed)
    return result


# -- output -------------------------------------------------------------------------------------


def _iv(iv: Interval | None) -> str:
    return "" if iv is None else format_interval(iv)


def tables(result: Comparison) -> list[Any]:
    """The comparison as rich tables: conditions (ranked), and P(row > column)."""
    from rich.table import Table

    title = f"{result.scenario.id} ({result.tier} tier)"
    main = Table(title=f"Comparison on {title}", title_justify="left")
    main.add_column("rank")
    main.add_column("condition", no_wrap=True)
    main.add_column("runs")
    if result.scores_returns:
        main.add_column("final return (IQM)")
        main.add_column("normalised AUC (IQM)")
    if result.distance:
        main.add_column("embedding distance to base (mean)")
    by_label = {c.label: c for c in result.conditions}
    for i, label in enumerate(result.ranking(), start=1):
        c = by_label[label]
        cells = [str(i), label, str(c.num_runs)]
        if result.scores_returns:
            cells += [_iv(result.final_return.get(label)), _iv(result.auc.get(label))]
        if result.distance:
            cells.append(_iv(result.distance.get(label)))
        main.add_row(*cells)
    out: list[Any] = [main]
    if result.improvement:
        order = [label for label in result.ranking() if label in result.final_return]
        matrix = Table(
            title="P(row > column): the probability that a run of the row ends with a higher "
            "final return (intervals: compare.json and the table below)",
            title_justify="left",
        )
        matrix.add_column("")
        for j, _ in enumerate(order, start=1):
            matrix.add_column(str(j), justify="right")
        for i, x in enumerate(order, start=1):
            cells = ["" if x == y else f"{result.improvement[(x, y)].estimate:.2f}" for y in order]
            matrix.add_row(f"{i} {x}", *cells)
        out.append(matrix)
        steps = Table(title="Each condition against the next in rank", title_justify="left")
        steps.add_column("pair")
        steps.add_column("P(X > Y), 95% CI")
        for x, y in itertools.pairwise(order):
            steps.add_row(f"{x} > {y}", _iv(result.improvement[(x, y)]))
        out.append(steps)
    return out


def split_text(split: Split | None, what: str) -> str:
    """One line on the 2-means split of ``what``."""
    if split is None:
        return f"{what}: fewer than 3 values or all equal, nothing to split"
    verdict = "two groups" if split.separated else "not more separated than one Gaussian"
    low, high, cut = (format_number(v) for v in (split.low_mean, split.high_mean, split.cut))
    return (
        f"{what}, 2-means: {split.low_count} around {low}, {split.high_count} around {high} "
        f"(cut {cut}), explaining {100 * split.explained:.0f}% of the variance (a Gaussian "
        f"sample of {split.low_count + split.high_count}: {100 * split.gaussian_explained:.0f}%; "
        f"p = {split.p_value:.3g}): {verdict}"
    )


def split_lines(result: Comparison) -> list[str]:
    """One line per transfer condition with alignment: the split of its distances."""
    return [
        split_text(split, f"{label}: embedding distances of the transfers")
        for label, split in result.splits.items()
    ]


def plot(result: Comparison, path: Path, reps: int = 2000) -> Path:
    """Learning curves of every condition with 95% bands, and the IQM final return (or the
    mean embedding distance) of each with its interval."""
    from matplotlib.figure import Figure

    panels = (1 if result.scores_returns else 0) * 2 + (1 if result.distance else 0)
    fig = Figure(figsize=(5.2 * panels, 4.2), dpi=110)
    axes = list(np.atleast_1d(fig.subplots(1, panels)))
    colours = {c.label: f"C{i % 10}" for i, c in enumerate(result.conditions)}
    order = result.ranking()
    norm = result.scenario.normalization_  # None for a representation-only scenario
    if result.scores_returns:
        ax = axes.pop(0)
        steps = np.array(result.steps, dtype=float)
        for c in result.conditions:
            if c.curves.size == 0:
                continue
            mean, low, high = pointwise_mean_interval(c.curves, seed=0, reps=reps)
            style = "--" if c.arm == "scratch" else "-"
            ax.plot(steps, mean, style, color=colours[c.label], label=c.label)
            ax.fill_between(steps, low, high, color=colours[c.label], alpha=0.15)
        if norm is not None:
            ax.axhline(norm.random, color="grey", linestyle="--", linewidth=1)
            ax.axhline(norm.reference, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("target env steps")
        ax.set_ylabel("evaluation return (mean, 95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        _interval_panel(
            axes.pop(0), result.final_return, colours, "final return (IQM, 95% CI)", order
        )
    if result.distance:
        ax = axes.pop(0)
        _interval_panel(
            ax, result.distance, colours, "embedding distance to base (mean, 95% CI)", order
        )
        for i, label in enumerate(x for x in reversed(order) if x in result.distance):
            c = next(c for c in result.conditions if c.label == label)
            assert c.distance is not None
            ax.scatter(c.distance, np.full(c.distance.size, i), s=10, color="black", zorder=3)
    fig.suptitle(f"{result.scenario.id} ({result.tier} tier)")
    fig.tight_layout()
    fig.savefig(path)
    return path


def _interval_panel(
    ax: Any, ivs: dict[str, Interval], colours: dict[str, str], xlabel: str, order: list[str]
) -> None:
    """One horizontal interval per condition, the first of ``order`` at the top."""
    labels = [label for label in reversed(order) if label in ivs]
    for i, label in enumerate(labels):
        iv = ivs[label]
        ax.plot([iv.low, iv.high], [i, i], color=colours[label], linewidth=6, alpha=0.5)
        ax.plot([iv.estimate], [i], "|", color="black", markersize=12)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


def write(result: Comparison, out: Path, reps: int = 2000) -> list[Path]:
    """``compare.json`` and ``compare.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    data = out / "compare.json"
    data.write_text(json.dumps(result.to_dict(), indent=1, allow_nan=False) + "\n")
    return [data, plot(result, out / "compare.png", reps)]
