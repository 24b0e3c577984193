"""One call that computes every transfer metric of a scenario, for tables and results files.

:func:`summarize` takes the paired transfer and scratch curves of one agent on one scenario and
returns a :class:`TransferSummary`: the per-run metrics of :mod:`tlbench.metrics.transfer` and
their aggregates with stratified-bootstrap intervals from :mod:`tlbench.metrics.aggregate`.
:meth:`TransferSummary.to_dict` turns it into plain JSON types.

**JSON convention** (``to_dict``): arrays become lists; NaN (undefined, e.g. a p-value with too
few runs per base model) becomes ``None``; ``+inf``/``-inf`` become the strings ``"inf"`` and
``"-inf"``. The only infinity in normal use is a time to threshold that was never reached
(censored), which a table shows as "never".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from tlbench.metrics._validation import (
    BoolArray,
    FloatArray,
    as_paired,
    as_steps,
    check_bounds,
    check_finite_scalar,
)
from tlbench.metrics.aggregate import (
    Interval,
    aggregate_interval,
    json_float,
    probability_of_improvement,
)
from tlbench.metrics.transfer import (
    RATIO_EPS,
    BaseModelVariance,
    NegativeTransfer,
    area_under_curve,
    base_model_variance,
    final_return,
    jumpstart,
    negative_transfer,
    time_to_threshold,
    transfer_ratio,
)

__all__ = ["ArmSummary", "TransferSummary", "summarize"]


def _json_list(x: FloatArray | BoolArray) -> list[float | str | None] | list[bool]:
    if x.dtype == np.bool_:
        return [bool(v) for v in x]
    return [json_float(v) for v in x]


@dataclass(frozen=True)
class ArmSummary:
    """Metrics of one condition (transfer or scratch) of a scenario.

    Per run, shape (num_runs,): ``final_return``, ``auc`` (normalised area under the curve),
    ``time_to_threshold`` (``inf`` if never reached), ``reached``, ``success``.
    Aggregates: ``final_return_iqm`` and ``auc_iqm`` (IQM over runs with bootstrap CI),
    ``median_time_to_threshold`` (median over runs with censored runs counted as ``inf``, so it
    is ``inf`` when half or more of the runs never reach the threshold) and ``success_rate``.
    """

    final_return: FloatArray
    auc: FloatArray
    time_to_threshold: FloatArray
    reached: BoolArray
    success: BoolArray
    final_return_iqm: Interval
    auc_iqm: Interval
    median_time_to_threshold: float
    success_rate: float

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (see the module docstring for NaN/inf)."""
        return {
            "final_return": _json_list(self.final_return),
            "auc": _json_list(self.auc),
            "time_to_threshold": _json_list(self.time_to_threshold),
            "reached": _json_list(self.reached),
            "success": _json_list(self.success),
            "final_return_iqm": self.final_return_iqm.to_dict(),
            "auc_iqm": self.auc_iqm.to_dict(),
            "median_time_to_threshold": json_float(self.median_time_to_threshold),
            "success_rate": json_float(self.success_rate),
        }


@dataclass(frozen=True)
class TransferSummary:
    """Everything :func:`summarize` computes for one agent on one scenario.

    Attributes:
        num_runs: number of paired runs.
        steps: checkpoint steps, shape (num_checkpoints,).
        low, high: random and reference returns used for normalisation.
        threshold: return used for time to threshold.
        success_threshold: return a final return must reach to count as a success.
        transfer, scratch: :class:`ArmSummary` of each condition.
        jumpstart: per-run ``transfer[:, 0] - scratch[:, 0]``, shape (num_runs,).
        jumpstart_iqm: IQM of ``jumpstart`` with CI.
        transfer_ratio: per-run :func:`~tlbench.metrics.transfer.transfer_ratio`.
        transfer_ratio_iqm: IQM of ``transfer_ratio`` with CI.
        probability_of_improvement: P(transfer AUC > scratch AUC) over runs, with CI.
        negative_transfer: per-run flags and the scenario-level flag.
        base_model_variance: ANOVA of the transfer runs' normalised AUC by base model, or
            None when no ``groups`` were given.
    """

    num_runs: int
    steps: FloatArray
    low: float
    high: float
    threshold: float
    success_threshold: float
    transfer: ArmSummary
    scratch: ArmSummary
    jumpstart: FloatArray
    jumpstart_iqm: Interval
    transfer_ratio: FloatArray
    transfer_ratio_iqm: Interval
    probability_of_improvement: Interval
    negative_transfer: NegativeTransfer
    base_model_variance: BaseModelVariance | None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types only (``json.dumps(..., allow_nan=False)`` accepts the result).

        NaN -> None, +/-inf -> "inf"/"-inf", arrays -> lists.
        """
        neg = self.negative_transfer
        return {
            "num_runs": self.num_runs,
            "steps": [int(v) for v in self.steps],
            "low": json_float(self.low),
            "high": json_float(self.high),
            "threshold": json_float(self.threshold),
            "success_threshold": json_float(self.success_threshold),
            "transfer": self.transfer.to_dict(),
            "scratch": self.scratch.to_dict(),
            "jumpstart": _json_list(self.jumpstart),
            "jumpstart_iqm": self.jumpstart_iqm.to_dict(),
            "transfer_ratio": _json_list(self.transfer_ratio),
            "transfer_ratio_iqm": self.transfer_ratio_iqm.to_dict(),
            "probability_of_improvement": self.probability_of_improvement.to_dict(),
            "negative_transfer": {
                "auc_difference": _json_list(neg.auc_difference),
                "flags": _json_list(neg.flags),
                "rate": json_float(neg.rate),
                "mean_difference": neg.mean_difference.to_dict(),
                "scenario_flag": neg.scenario_flag,
            },
            "base_model_variance": (
                None if self.base_model_variance is None else self.base_model_variance.to_dict()
            ),
        }


def _arm(
    curves: FloatArray,
    steps: FloatArray,
    low: float,
    high: float,
    threshold: float,
    success_threshold: float,
    fraction: float,
    seed: int,
    reps: int,
    confidence: float,
) -> ArmSummary:
    final = final_return(curves, fraction)
    auc = area_under_curve(curves, steps, low, high)
    times, reached = time_to_threshold(curves, steps, threshold)
    success = np.asarray(final >= success_threshold, dtype=np.bool_)
    return ArmSummary(
        final_return=final,
        auc=auc,
        time_to_threshold=times,
        reached=reached,
        success=success,
        final_return_iqm=aggregate_interval(final, "iqm", seed, reps, confidence),
        auc_iqm=aggregate_interval(auc, "iqm", seed, reps, confidence),
        median_time_to_threshold=float(np.median(times)),
        success_rate=float(np.mean(success)),
    )


def summarize(
    transfer: ArrayLike,
    scratch: ArrayLike,
    steps: ArrayLike,
    *,
    groups: ArrayLike | None,
    low: float,
    high: float,
    threshold: float,
    success_threshold: float | None = None,
    fraction: float = 0.1,
    tolerance: float = 0.05,
    eps: float = RATIO_EPS,
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
) -> TransferSummary:
    """Per-run transfer metrics and their aggregates with confidence intervals.

    Args:
        transfer, scratch: paired curves, shape (num_runs, num_checkpoints); num_checkpoints >= 2.
        steps: checkpoint steps, shape (num_checkpoints,).
        groups: base-model label (source seed) of each run, shape (num_runs,), or None to skip
            the base-model variance.
        low, high: the scenario's random and reference returns.
        threshold: return for time to threshold.
        success_threshold: return for success; defaults to ``threshold``.
        fraction: share of the last checkpoints averaged into the final return.
        tolerance: per-run negative-transfer tolerance in normalised AUC.
        eps: floor width of the transfer ratio.
        seed, reps, confidence: bootstrap settings shared by every interval.

    Returns:
        :class:`TransferSummary`. All intervals come from rliable's stratified bootstrap over
        runs, seeded by ``seed``; P(transfer > scratch) compares normalised AUCs.

    >>> steps = [0, 50, 100]
    >>> transfer = [[4.0, 8.0, 10.0], [2.0, 6.0, 9.0], [3.0, 7.0, 7.0]]
    >>> scratch = [[0.0, 3.0, 8.0], [1.0, 2.0, 6.0], [0.0, 4.0, 9.0]]
    >>> res = summarize(transfer, scratch, steps, groups=[0, 0, 1], low=0.0, high=10.0,
    ...                 threshold=8.0, reps=200)
    >>> res.jumpstart.tolist(), res.transfer.time_to_threshold.tolist()
    ([4.0, 1.0, 3.0], [50.0, 100.0, inf])
    >>> res.transfer.median_time_to_threshold, res.scratch.success_rate
    (100.0, 0.6666666666666666)
    >>> res.probability_of_improvement.estimate, res.negative_transfer.scenario_flag
    (1.0, False)
    >>> res.to_dict()["transfer"]["time_to_threshold"]
    [50.0, 100.0, 'inf']
    """
    t, s = as_paired(transfer, scratch)
    st = as_steps(steps, t.shape[1])
    lo, hi = check_bounds(low, high)
    thr = check_finite_scalar(threshold, "threshold")
    succ = (
        thr
        if success_threshold is None
        else check_finite_scalar(success_threshold, "success_threshold")
    )
    arm_args = (st, lo, hi, thr, succ, fraction, seed, reps, confidence)
    t_arm = _arm(t, *arm_args)
    s_arm = _arm(s, *arm_args)
    jump = jumpstart(t, s)
    ratio = transfer_ratio(t, s, st, lo, hi, eps)
    neg = negative_transfer(t, s, st, lo, hi, tolerance, seed, reps, confidence)
    bmv = None if groups is None else base_model_variance(t_arm.auc, groups)
    return TransferSummary(
        num_runs=int(t.shape[0]),
        steps=st,
        low=lo,
        high=hi,
        threshold=thr,
        success_threshold=succ,
        transfer=t_arm,
        scratch=s_arm,
        jumpstart=jump,
        jumpstart_iqm=aggregate_interval(jump, "iqm", seed, reps, confidence),
        transfer_ratio=ratio,
        transfer_ratio_iqm=aggregate_interval(ratio, "iqm", seed, reps, confidence),
        probability_of_improvement=probability_of_improvement(
            t_arm.auc, s_arm.auc, seed, reps, confidence
        ),
        negative_transfer=neg,
        base_model_variance=bmv,
    )
