"""Input checks shared by the metric functions.

Every check raises :class:`ValueError` with a message that names the argument, the offending value
and, where there is one, the fix.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def as_curves(curves: ArrayLike, name: str = "curves") -> FloatArray:
    """Return ``curves`` as a finite float array of shape (num_runs, num_checkpoints)."""
    arr = np.asarray(curves, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (num_runs, num_checkpoints), "
            f"got shape {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least one run and one checkpoint, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite, got {arr[bad]} at index {bad}")
    return arr


def as_paired(transfer: ArrayLike, scratch: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return paired transfer and scratch curves, which must have the same shape."""
    t = as_curves(transfer, "transfer")
    s = as_curves(scratch, "scratch")
    if t.shape != s.shape:
        raise ValueError(
            f"transfer has shape {t.shape} but scratch has shape {s.shape}; run i of transfer is "
            "paired with run i of scratch, so both need the same (num_runs, num_checkpoints)"
        )
    return t, s


def as_steps(steps: ArrayLike, num_checkpoints: int) -> FloatArray:
    """Return checked checkpoint steps (integer-valued, start at 0, strictly increasing)."""
    arr = np.asarray(steps)
    if arr.ndim != 1:
        raise ValueError(f"steps must be a 1-D array, got shape {arr.shape}")
    if arr.shape[0] != num_checkpoints:
        raise ValueError(
            f"steps has {arr.shape[0]} entries but the curves have {num_checkpoints} checkpoints; "
            "pass one step count per checkpoint"
        )
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"steps must be numeric, got dtype {arr.dtype}")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)) or not np.all(out == np.round(out)):
        raise ValueError(f"steps must be whole step counts, got {arr.tolist()}")
    if out[0] != 0:
        raise ValueError(f"steps must start at 0 (the evaluation before training), got {arr[0]}")
    if out.shape[0] > 1:
        diffs = np.diff(out)
        if np.any(diffs <= 0):
            i = int(np.argmax(diffs <= 0))
            raise ValueError(
                f"steps must be strictly increasing, got steps[{i}]={arr[i]} followed by "
                f"steps[{i + 1}]={arr[i + 1]}"
            )
    return out


def check_bounds(low: float, high: float) -> tuple[float, float]:
    """Check the random (``low``) and reference (``high``) returns used for normalisation."""
    lo, hi = float(low), float(high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"low and high must be finite, got low={lo}, high={hi}")
    if not hi > lo:
        raise ValueError(
            f"high (reference return) must be greater than low (random return), "
            f"got low={lo}, high={hi}"
        )
    return lo, hi


def check_fraction(fraction: float) -> float:
    """Check the fraction of checkpoints that :func:`final_return` averages over."""
    f = float(fraction)
    if not 0.0 < f <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return f


def check_finite_scalar(value: float, name: str) -> float:
    """Return ``value`` as a float, which must be finite."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return v


def check_bootstrap(reps: int, confidence: float) -> tuple[int, float]:
    """Check the number of bootstrap replications and the interval coverage."""
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    c = float(confidence)
    if not 0.0 < c < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence}")
    return int(reps), c
