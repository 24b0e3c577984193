"""What ``tlbench evaluate`` shows at the end: a metrics table, a learning-curve plot and, for
agents with a 2-D embedding, an embedding plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from tlbench.metrics import AlignmentSummary, Interval, TransferSummary
from tlbench.metrics.aggregate import pointwise_mean_interval

if TYPE_CHECKING:
    from tlbench.runner.probes import ProbeSet


def format_number(x: float, digits: int = 3) -> str:
    """``x`` for a table: 3 decimals, "n/a" for NaN, "never" for +inf (a threshold not reached).

    >>> format_number(-0.40512), format_number(float("inf")), format_number(123456.0)
    ('-0.405', 'never', '1.23e+05')
    """
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "never" if x > 0 else "-inf"
    return f"{x:.{digits}g}" if abs(x) >= 1e4 else f"{x:.{digits}f}"


def format_interval(iv: Interval) -> str:
    """``estimate [low, high]``."""
    return f"{format_number(iv.estimate)} [{format_number(iv.low)}, {format_number(iv.high)}]"


def metrics_table(
    summary: TransferSummary | None, title: str, alignment: AlignmentSummary | None = None
) -> Table:
    """The transfer metrics of one evaluation as a rich table (IQM with 95% bootstrap CIs), and
    the embedding alignment where there is some (mean distance with its 95% bootstrap CI)."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("transfer")
    table.add_column("scratch")
    if summary is not None:
        _return_rows(table, summary)
    if alignment is not None:
        t, s = alignment.transfer, alignment.scratch
        if summary is None:
            table.add_row("paired runs", str(alignment.num_runs), str(alignment.num_runs))
        table.add_row(
            "embedding distance to base (mean)",
            format_interval(t.mean_distance),
            format_interval(s.mean_distance),
        )
        table.add_row(
            f"aligned (distance < {alignment.fraction:g} x base scale)",
            format_number(t.success_rate, 2),
            format_number(s.success_rate, 2),
        )
    return table


def _return_rows(table: Table, summary: TransferSummary) -> None:
    t, s = summary.transfer, summary.scratch
    table.add_row("paired runs", str(summary.num_runs), str(summary.num_runs))
    table.add_row("jumpstart (IQM)", format_interval(summary.jumpstart_iqm), "")
    table.add_row(
        "final return (IQM)",
        format_interval(t.final_return_iqm),
        format_interval(s.final_return_iqm),
    )
    table.add_row("normalised AUC (IQM)", format_interval(t.auc_iqm), format_interval(s.auc_iqm))
    table.add_row(
        f"time to threshold {format_number(summary.threshold)} (median steps)",
        format_number(t.median_time_to_threshold),
        format_number(s.median_time_to_threshold),
    )
    table.add_row(
        "success rate", format_number(t.success_rate, 2), format_number(s.success_rate, 2)
    )
    table.add_row("transfer ratio (IQM)", format_interval(summary.transfer_ratio_iqm), "")
    table.add_row("P(transfer > scratch)", format_interval(summary.probability_of_improvement), "")
    neg = summary.negative_transfer
    table.add_row(
        "negative transfer",
        f"{'YES' if neg.scenario_flag else 'no'} (AUC diff {format_interval(neg.mean_difference)})",
        "",
    )
    bmv = summary.base_model_variance
    if bmv is not None:
        table.add_row(
            "base-model variance",
            f"eta^2 {format_number(bmv.eta_squared)} of AUC variance "
            f"(ANOVA p = {format_number(bmv.p_value)})",
            "",
        )


def plot_curves(results: dict[str, Any], path: Path, reps: int = 2000) -> Path:
    """Mean evaluation return of transfer and scratch runs with 95% bootstrap bands."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state is touched

    fig = Figure(figsize=(6.4, 4.0), dpi=120)
    ax = fig.subplots()
    steps = np.array(_checkpoints(results), dtype=float)
    colours = {"transfer": "tab:blue", "scratch": "tab:orange"}
    for condition, colour in colours.items():
        curves = np.array(
            [
                r["curve"]
                for r in results["runs"]
                if r.get("condition") == condition and r.get("status") == "ok"
            ],
            dtype=float,
        )
        if len(curves) == 0:
            continue
        mean, low, high = pointwise_mean_interval(curves, seed=0, reps=reps)
        ax.plot(steps, mean, color=colour, label=f"{condition} (n={len(curves)})")
        ax.fill_between(steps, low, high, color=colour, alpha=0.2)
    metrics = results.get("metrics") or {}
    for level, name, style in (("low", "random", "--"), ("high", "reference", ":")):
        if isinstance(metrics.get(level), float):
            ax.axhline(metrics[level], color="grey", linestyle=style, linewidth=1, label=name)
    scenario = results["scenario"]
    ax.set_title(f"{results['agent']['name']} on {scenario['id']} ({results['tier']} tier)")
    ax.set_xlabel("target env steps")
    ax.set_ylabel("evaluation return (mean, 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


def _checkpoints(results: dict[str, Any]) -> list[int]:
    protocol = results["protocol"]
    every, total = protocol["eval_every"], protocol["target_steps"]
    return list(range(0, total + 1, every))


def plot_embeddings(
    results: dict[str, Any], out: Path, probes: ProbeSet, path: Path
) -> Path | None:
    """The paper's Figures 5-7 for agents whose embedding is 2-D: the abstract state of every
    probe state (the maze: every cell), coloured by group (the maze's rooms), with the predicted
    transitions (an arrow from x to the predicted next state for each action) where the agent
    has ``embed_transition``. Three panels: base model 0 on the source rendering, its first
    transfer run and that run's scratch control on the target rendering.

    Reads the embeddings the runs saved under ``out/embeddings``; returns ``None`` (and draws
    nothing) when they are missing or not 2-D.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    from tlbench.runner.worker import Store

    store = Store(out)
    alignment = {}
    panels = []
    for condition, target_seed, rendering in (
        ("source", None, "source rendering"),
        ("transfer", 0, "target rendering"),
        ("scratch", 0, "target rendering"),
    ):
        run = next(
            (
                r
                for r in results["runs"]
                if r.get("condition") == condition
                and r.get("source_seed") == 0
                and r.get("target_seed") == target_seed
                and r.get("status") == "ok"
            ),
            None,
        )
        arrays = None if run is None else store.read_embeddings(run["key"])
        if run is None or arrays is None:
            return None
        x = arrays["embeddings"]
        if x.shape != (len(probes), 2):
            return None
        label = "base model s0" if condition == "source" else f"{condition} s0/t0"
        alignment[label] = (run.get("alignment") or {}).get("distance")
        panels.append((label, rendering, x, arrays.get("transitions")))

    fig = Figure(figsize=(4.2 * len(panels), 4.4), dpi=110)
    axes = fig.subplots(1, len(panels))
    colours = colormaps["tab10"]
    for ax, (label, rendering, x, transitions) in zip(axes, panels, strict=True):
        for g, name in enumerate(probes.group_names):
            sel = probes.groups == g
            if not sel.any():
                continue
            colour = colours(g % 10)
            if transitions is not None:
                for a in range(transitions.shape[1]):
                    start, end = x[sel], transitions[sel, a]
                    ax.quiver(
                        start[:, 0], start[:, 1], end[:, 0] - start[:, 0], end[:, 1] - start[:, 1],
                        angles="xy", scale_units="xy", scale=1.0, color=colour, alpha=0.35,
                        width=0.004,
                    )  # fmt: skip
            ax.scatter(x[sel, 0], x[sel, 1], s=28, color=colour, label=name, zorder=3)
        ends = [x] if transitions is None else [x, transitions.reshape(-1, 2)]
        ax.update_datalim(np.concatenate(ends))  # quiver does not widen the axes by itself
        ax.autoscale_view()
        ax.set_aspect("equal", adjustable="datalim")
        distance = alignment[label]
        extra = "" if distance is None else f"\nmean distance to base: {distance:.3f}"
        ax.set_title(f"{label} ({rendering}){extra}", fontsize="medium")
        ax.set_xlabel("abstract dim 1")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("abstract dim 2")
    axes[0].legend(fontsize="small")
    arrows = " Arrows: predicted transition of each action." if panels[0][3] is not None else ""
    fig.suptitle(
        f"{results['agent']['name']} on {results['scenario']['id']} ({results['tier']} tier): "
        f"abstract states of {probes.description}.{arrows}",
        fontsize="medium",
    )
    fig.tight_layout()
    fig.savefig(path)
    return path
