"""What ``tlbench evaluate`` shows at the end: a metrics table and a learning-curve plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from tlbench.metrics import Interval, TransferSummary
from tlbench.metrics.aggregate import pointwise_mean_interval


def _num(x: float, digits: int = 3) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "never" if x > 0 else "-inf"
    return f"{x:.{digits}g}" if abs(x) >= 1e4 else f"{x:.{digits}f}"


def _iv(iv: Interval) -> str:
    return f"{_num(iv.estimate)} [{_num(iv.low)}, {_num(iv.high)}]"


def metrics_table(summary: TransferSummary, title: str) -> Table:
    """The transfer metrics of one evaluation as a rich table (IQM with 95% bootstrap CIs)."""
    t, s = summary.transfer, summary.scratch
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("transfer")
    table.add_column("scratch")
    table.add_row("paired runs", str(summary.num_runs), str(summary.num_runs))
    table.add_row("jumpstart (IQM)", _iv(summary.jumpstart_iqm), "")
    table.add_row("final return (IQM)", _iv(t.final_return_iqm), _iv(s.final_return_iqm))
    table.add_row("normalised AUC (IQM)", _iv(t.auc_iqm), _iv(s.auc_iqm))
    table.add_row(
        f"time to threshold {_num(summary.threshold)} (median steps)",
        _num(t.median_time_to_threshold),
        _num(s.median_time_to_threshold),
    )
    table.add_row("success rate", _num(t.success_rate, 2), _num(s.success_rate, 2))
    table.add_row("transfer ratio (IQM)", _iv(summary.transfer_ratio_iqm), "")
    table.add_row("P(transfer > scratch)", _iv(summary.probability_of_improvement), "")
    neg = summary.negative_transfer
    table.add_row(
        "negative transfer",
        f"{'YES' if neg.scenario_flag else 'no'} (AUC diff {_iv(neg.mean_difference)})",
        "",
    )
    bmv = summary.base_model_variance
    if bmv is not None:
        table.add_row(
            "base-model variance",
            f"eta^2 {_num(bmv.eta_squared)} of AUC variance (ANOVA p = {_num(bmv.p_value)})",
            "",
        )
    return table


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
