"""Embedding alignment (van Driessel & François-Lavet, section 5.2.2): pure functions over
embedding arrays and per-run distances.

The probe states are hidden states seen twice: rendered as the source shows them and as the
target shows them (see :mod:`tlbench.runner.probes`). The *base* model (the agent at the end of
its source run) embeds the source renderings; every target run embeds the target renderings at
its end. A target run's **alignment distance** is the mean over probe states of the L2 distance
between the base embedding and its own embedding of the same state: small when the transferred
encoder maps an inverted observation where the base encoder mapped the normal one.

**Success rule** (tlbench's; the paper judged "flipped or not" by eye from plots, and reported a
bimodal distance, about 1.1 for successful and 6.2 for failed transfers on the labyrinth): a
distance is only meaningful relative to how far apart the base model puts *different* states, so
a run counts as aligned when its distance is below ``SUCCESS_FRACTION`` (one half) of its base
model's **scale**, the mean L2 distance between the base embeddings of two different probe
states. The rule is free of the embedding's units and size: scaling every embedding by ``c``
scales distance and scale alike.

Arrays: embeddings have shape ``(num_probes, *abstract_shape)`` and are compared flattened;
per-run values have shape ``(num_runs,)``.

>>> base = np.array([[0.0, 0.0], [3.0, 4.0]])
>>> moved = np.array([[0.0, 1.0], [3.0, 4.0]])
>>> alignment_distances(base, moved).tolist(), embedding_scale(base)
([1.0, 0.0], 5.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from tlbench.metrics._validation import BoolArray, FloatArray
from tlbench.metrics.aggregate import Interval, aggregate_interval, json_float

__all__ = [
    "SUCCESS_FRACTION",
    "AlignmentArm",
    "AlignmentSummary",
    "aligned",
    "alignment_distances",
    "embedding_scale",
    "summarize_alignment",
]

#: a run is aligned when its distance is below this fraction of its base model's scale
SUCCESS_FRACTION = 0.5


def _as_embeddings(x: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[0] < 1:
        raise ValueError(
            f"{name} must have shape (num_probes, *abstract_shape) with at least one probe, got "
            f"shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; found NaN or inf")
    return arr.reshape(arr.shape[0], -1)


def alignment_distances(base: ArrayLike, transferred: ArrayLike) -> FloatArray:
    """L2 distance between the two embeddings of each probe state, shape (num_probes,).

    Args:
        base: the base model's embeddings of the source renderings, (num_probes, *shape).
        transferred: a target run's embeddings of the target renderings, the same shape.

    >>> alignment_distances([[1.0, 1.0]], [[4.0, 5.0]]).tolist()
    [5.0]
    """
    b = _as_embeddings(base, "base")
    t = _as_embeddings(transferred, "transferred")
    if b.shape != t.shape:
        raise ValueError(
            f"base embeddings have shape {np.shape(base)} but transferred ones "
            f"{np.shape(transferred)}; both must embed the same probe states into one abstract "
            "space"
        )
    return np.asarray(np.linalg.norm(b - t, axis=1), dtype=np.float64)


def embedding_scale(base: ArrayLike) -> float:
    """Mean L2 distance between the embeddings of two different probe states (all pairs i < j).

    >>> embedding_scale([[0.0], [1.0], [3.0]])  # pairs: 1, 3, 2
    2.0
    """
    b = _as_embeddings(base, "base")
    if b.shape[0] < 2:
        raise ValueError(f"the scale needs at least two probe states, got {b.shape[0]}")
    i, j = np.triu_indices(b.shape[0], k=1)
    return float(np.mean(np.linalg.norm(b[i] - b[j], axis=1)))


def aligned(
    distances: ArrayLike, scales: ArrayLike, fraction: float = SUCCESS_FRACTION
) -> BoolArray:
    """Per run: distance below ``fraction`` x its base model's scale, shape (num_runs,).

    >>> aligned([0.4, 0.6, 1.0], [1.0, 1.0, 4.0]).tolist()
    [True, False, True]
    """
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(scales, dtype=np.float64)
    if d.shape != s.shape or d.ndim != 1:
        raise ValueError(
            f"distances {d.shape} and scales {s.shape} must both have shape (num_runs,)"
        )
    return np.asarray(d < fraction * s, dtype=np.bool_)


@dataclass(frozen=True)
class AlignmentArm:
    """Alignment of one condition (transfer or scratch): per-run ``distance``, its base model's
    ``scale`` and ``success`` (shape (num_runs,)); ``mean_distance`` (mean over runs with a
    bootstrap CI) and ``success_rate``."""

    distance: FloatArray
    scale: FloatArray
    success: BoolArray
    mean_distance: Interval
    success_rate: float

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict."""
        return {
            "distance": [json_float(v) for v in self.distance],
            "scale": [json_float(v) for v in self.scale],
            "success": [bool(v) for v in self.success],
            "mean_distance": self.mean_distance.to_dict(),
            "success_rate": json_float(self.success_rate),
        }


@dataclass(frozen=True)
class AlignmentSummary:
    """Embedding alignment of one agent on one scenario: the transfer runs and their paired
    scratch controls (pairs sorted by source seed, then target seed)."""

    num_runs: int
    fraction: float
    transfer: AlignmentArm
    scratch: AlignmentArm

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (``json.dumps(..., allow_nan=False)`` accepts it)."""
        return {
            "num_runs": self.num_runs,
            "success_fraction_of_scale": self.fraction,
            "transfer": self.transfer.to_dict(),
            "scratch": self.scratch.to_dict(),
        }


def summarize_alignment(
    transfer: ArrayLike,
    scratch: ArrayLike,
    scales: ArrayLike,
    *,
    fraction: float = SUCCESS_FRACTION,
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
) -> AlignmentSummary:
    """Mean alignment distance (rliable's stratified bootstrap over runs) and success rate of
    paired transfer and scratch runs.

    Args:
        transfer, scratch: per-pair alignment distances, shape (num_runs,).
        scales: the scale of each pair's base model (:func:`embedding_scale`), (num_runs,).
        fraction: the success rule's fraction of the scale.
        seed, reps, confidence: bootstrap settings.

    >>> res = summarize_alignment([0.1, 0.3], [2.0, 4.0], [1.0, 1.0], reps=200)
    >>> res.transfer.mean_distance.estimate, res.transfer.success_rate, res.scratch.success_rate
    (0.2, 1.0, 0.0)
    """
    t = np.asarray(transfer, dtype=np.float64)
    s = np.asarray(scratch, dtype=np.float64)
    sc = np.asarray(scales, dtype=np.float64)
    if not (t.shape == s.shape == sc.shape) or t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(
            f"transfer {t.shape}, scratch {s.shape} and scales {sc.shape} must all have shape "
            "(num_runs,) with at least one run: one value per transfer/scratch pair"
        )

    def arm(d: FloatArray) -> AlignmentArm:
        success = aligned(d, sc, fraction)
        return AlignmentArm(
            distance=d,
            scale=sc,
            success=success,
            mean_distance=aggregate_interval(d, "mean", seed, reps, confidence),
            success_rate=float(np.mean(success)),
        )

    return AlignmentSummary(int(t.shape[0]), float(fraction), arm(t), arm(s))
