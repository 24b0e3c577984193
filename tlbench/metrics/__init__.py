"""Transfer-learning metrics: pure functions over arrays of learning curves.

* :mod:`tlbench.metrics.transfer`: per-run metrics over paired ``(num_runs, num_checkpoints)``
  transfer and scratch curves (jumpstart, final return, normalised AUC, transfer ratio, time to
  threshold, success, negative transfer, base-model variance).
* :mod:`tlbench.metrics.aggregate`: aggregates over runs and tasks with rliable's stratified
  bootstrap (IQM, mean, median, optimality gap, probability of improvement, performance
  profiles), seeded and free of side effects on NumPy's global random state.
* :mod:`tlbench.metrics.summary`: :func:`summarize`, all of the above for one scenario, with a
  JSON-safe :meth:`TransferSummary.to_dict`.
* :mod:`tlbench.metrics.alignment`: embedding alignment (the distance between the base
  encoder's and a transferred encoder's embeddings of the same states) and its success rule.

>>> from tlbench.metrics import area_under_curve
>>> area_under_curve([[0.0, 1.0]], steps=[0, 10], low=0.0, high=1.0).tolist()
[0.5]
"""

from tlbench.metrics.aggregate import (
    Interval,
    Profile,
    aggregate_interval,
    interval_estimates,
    performance_profile,
    probability_of_improvement,
    temporary_global_seed,
)
from tlbench.metrics.alignment import (
    AlignmentArm,
    AlignmentSummary,
    aligned,
    alignment_distances,
    embedding_scale,
    summarize_alignment,
)
from tlbench.metrics.summary import ArmSummary, TransferSummary, summarize
from tlbench.metrics.transfer import (
    BaseModelVariance,
    NegativeTransfer,
    ThresholdTimes,
    TransferOutcome,
    area_under_curve,
    base_model_variance,
    final_return,
    jumpstart,
    negative_transfer,
    negative_transfer_flags,
    normalize,
    success_flags,
    success_rate,
    time_to_threshold,
    transfer_ratio,
    transfer_success,
)

__all__ = [
    "AlignmentArm",
    "AlignmentSummary",
    "ArmSummary",
    "BaseModelVariance",
    "Interval",
    "NegativeTransfer",
    "Profile",
    "ThresholdTimes",
    "TransferOutcome",
    "TransferSummary",
    "aggregate_interval",
    "aligned",
    "alignment_distances",
    "area_under_curve",
    "base_model_variance",
    "embedding_scale",
    "final_return",
    "interval_estimates",
    "jumpstart",
    "negative_transfer",
    "negative_transfer_flags",
    "normalize",
    "performance_profile",
    "probability_of_improvement",
    "success_flags",
    "success_rate",
    "summarize",
    "summarize_alignment",
    "temporary_global_seed",
    "time_to_threshold",
    "transfer_ratio",
    "transfer_success",
]
