"""Per-run transfer metrics over learning curves.

**Data model.** A learning curve is evaluated at checkpoints ``steps`` (1-D, whole step counts,
strictly increasing, ``steps[0] == 0`` is the evaluation before any target training); each entry
of a curves array is the mean evaluation return at that checkpoint. ``transfer`` and ``scratch``
are arrays of shape ``(num_runs, num_checkpoints)`` whose rows are *paired*: run ``i`` of
transfer and run ``i`` of scratch share the target seed and the base-model (source) seed.

**Normalisation.** ``low`` and ``high`` are the scenario's random and reference returns; a return
``x`` normalises to ``(x - low) / (high - low)``, so 0 is the random level and 1 the reference.

Every function is pure, returns one value per run (shape ``(num_runs,)``) unless stated, and
raises :class:`ValueError` naming the argument on malformed input (wrong shapes, unpaired arrays,
non-increasing ``steps``, ``high <= low``, NaN/inf).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike

from tlbench.metrics._validation import (
    BoolArray,
    FloatArray,
    as_curves,
    as_paired,
    as_steps,
    check_bounds,
    check_finite_scalar,
    check_fraction,
)
from tlbench.metrics.aggregate import Interval, aggregate_interval, json_float

__all__ = [
    "BaseModelVariance",
    "NegativeTransfer",
    "ThresholdTimes",
    "TransferOutcome",
    "area_under_curve",
    "base_model_variance",
    "final_return",
    "jumpstart",
    "negative_transfer",
    "negative_transfer_flags",
    "normalize",
    "success_flags",
    "success_rate",
    "time_to_threshold",
    "transfer_ratio",
    "transfer_success",
]

#: Default width of the smooth floor in :func:`transfer_ratio`.
RATIO_EPS = 0.05


def normalize(x: ArrayLike, low: float, high: float) -> FloatArray:
    """Normalise returns: ``(x - low) / (high - low)``; any shape in, same shape out.

    >>> normalize([0.0, 5.0, 10.0, -5.0], low=0.0, high=10.0).tolist()
    [0.0, 0.5, 1.0, -0.5]
    """
    lo, hi = check_bounds(low, high)
    return (np.asarray(x, dtype=np.float64) - lo) / (hi - lo)


def jumpstart(transfer: ArrayLike, scratch: ArrayLike) -> FloatArray:
    """Initial-performance gain of each paired run: ``transfer[:, 0] - scratch[:, 0]``.

    Args:
        transfer: shape (num_runs, num_checkpoints).
        scratch: shape (num_runs, num_checkpoints), paired row by row with ``transfer``.

    Returns:
        shape (num_runs,), in return units.

    >>> jumpstart([[5.0, 8.0], [3.0, 9.0]], [[1.0, 7.0], [4.0, 9.0]]).tolist()
    [4.0, -1.0]
    """
    t, s = as_paired(transfer, scratch)
    return t[:, 0] - s[:, 0]


def final_return(curves: ArrayLike, fraction: float = 0.1) -> FloatArray:
    """Mean return over the last ``ceil(fraction * num_checkpoints)`` checkpoints (at least 1).

    Args:
        curves: shape (num_runs, num_checkpoints).
        fraction: share of checkpoints to average, in (0, 1].

    Returns:
        shape (num_runs,).

    >>> curves = [[0.0, 1.0, 2.0, 4.0], [0.0, 0.0, 3.0, 5.0]]
    >>> final_return(curves).tolist()  # ceil(0.1 * 4) = 1 checkpoint
    [4.0, 5.0]
    >>> final_return(curves, fraction=0.5).tolist()  # last 2 checkpoints
    [3.0, 4.0]
    """
    c = as_curves(curves)
    f = check_fraction(fraction)
    num = c.shape[1]
    # The tolerance keeps float noise from adding a checkpoint:
    # 0.07 * 100 == 7.000000000000001 must still mean 7 checkpoints.
    k = min(num, max(1, math.ceil(f * num - 1e-9)))
    return c[:, -k:].mean(axis=1)


def _time_averaged(curves: FloatArray, steps: FloatArray) -> FloatArray:
    if curves.shape[1] < 2:
        raise ValueError(
            f"the area under a curve needs at least 2 checkpoints, got {curves.shape[1]}"
        )
    area = np.trapezoid(curves, x=steps, axis=1)
    return np.asarray(area / (steps[-1] - steps[0]), dtype=np.float64)


def area_under_curve(curves: ArrayLike, steps: ArrayLike, low: float, high: float) -> FloatArray:
    """Normalised area under each learning curve.

    The trapezoidal area over ``steps`` divided by the span ``steps[-1] - steps[0]`` is the
    time-averaged return; it is then normalised to ``(avg - low) / (high - low)``. So 0 means the
    curve sat at the random level throughout, 1 at the reference level throughout; values below
    0 or above 1 are possible and kept.

    Args:
        curves: shape (num_runs, num_checkpoints), num_checkpoints >= 2.
        steps: shape (num_checkpoints,).
        low: random return of the scenario.
        high: reference return of the scenario; must be > ``low``.

    Returns:
        shape (num_runs,).

    >>> # Trapezoids: (0+10)/2*100 + (10+10)/2*100 = 1500 over 200 steps -> 7.5 -> 0.75
    >>> area_under_curve([[0.0, 10.0, 10.0]], steps=[0, 100, 200], low=0.0, high=10.0).tolist()
    [0.75]
    """
    c = as_curves(curves)
    st = as_steps(steps, c.shape[1])
    lo, hi = check_bounds(low, high)
    return (_time_averaged(c, st) - lo) / (hi - lo)


def _smooth_floor(z: FloatArray, eps: float) -> FloatArray:
    """The positive, strictly increasing ``g(z)`` documented in :func:`transfer_ratio`."""
    # 2 * eps - z > eps wherever the tail is used; the maximum only guards the unused branch.
    tail = eps * eps / np.maximum(2.0 * eps - z, eps)
    return np.asarray(np.where(z >= eps, z, tail), dtype=np.float64)


def transfer_ratio(
    transfer: ArrayLike,
    scratch: ArrayLike,
    steps: ArrayLike,
    low: float,
    high: float,
    eps: float = RATIO_EPS,
) -> FloatArray:
    """Ratio of the normalised areas of paired transfer and scratch runs, robust to signs.

    A plain ratio of areas breaks when an area is zero or negative (negative rewards, or curves
    below the random level). Definition used here, with ``a_t``, ``a_s`` the normalised AUCs
    (:func:`area_under_curve`) of paired runs::

        ratio = g(1 + a_t) / g(1 + a_s)

        g(z) = z                          if z >= eps
        g(z) = eps**2 / (2 * eps - z)     if z <  eps

    ``1 + a`` is the time-averaged return measured from a floor one random-to-reference gap below
    the random level (``low - (high - low)``), in units of that gap: the random level counts 1,
    the reference level 2. So a scratch run at the random level against a transfer run at the
    reference level gives a ratio of 2. Whenever both curves average above
    ``floor + eps * (high - low)`` (the usual case), ``g`` is the identity and the ratio is
    exactly ``(1 + a_t) / (1 + a_s)``. Below that, ``g`` continues smoothly (value and slope
    match at ``eps``) as a positive, strictly increasing hyperbola that tends to 0, instead of
    reaching 0 or going negative. Hence, for paired runs:

    * equal curves give exactly 1;
    * the ratio is > 1 iff ``a_t > a_s`` and < 1 iff ``a_t < a_s`` (``g`` is strictly
      increasing and positive), and it increases with ``a_t`` and decreases with ``a_s``;
    * it is finite and positive for any finite input: ``g > 0`` everywhere, so no division by
      zero (floating-point overflow needs normalised AUCs beyond about 1e150 in magnitude).

    Args:
        transfer, scratch: paired curves, shape (num_runs, num_checkpoints).
        steps: shape (num_checkpoints,).
        low, high: random and reference returns (``high > low``).
        eps: width of the floor region in normalised units, > 0 (default 0.05).

    Returns:
        shape (num_runs,).

    >>> steps = [0, 10]
    >>> t = [[10.0, 10.0], [0.0, 0.0], [-5.0, -5.0], [-20.0, -20.0]]
    >>> s = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    >>> # normalised AUCs a_t = 1, 0, -0.5, -2 against a_s = 0; the last is in the tail:
    >>> # g(1 - 2) = 0.05**2 / (0.1 + 1) = 0.0025 / 1.1
    >>> transfer_ratio(t, s, steps, low=0.0, high=10.0).round(6).tolist()
    [2.0, 1.0, 0.5, 0.002273]
    """
    t, s = as_paired(transfer, scratch)
    st = as_steps(steps, t.shape[1])
    lo, hi = check_bounds(low, high)
    e = check_finite_scalar(eps, "eps")
    if e <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    a_t = (_time_averaged(t, st) - lo) / (hi - lo)
    a_s = (_time_averaged(s, st) - lo) / (hi - lo)
    return _smooth_floor(1.0 + a_t, e) / _smooth_floor(1.0 + a_s, e)


class ThresholdTimes(NamedTuple):
    """Result of :func:`time_to_threshold`; unpacks as ``steps, reached``.

    ``steps`` (float, shape (num_runs,)) is the first checkpoint step at which the curve is
    ``>= threshold``, and ``np.inf`` for runs that never get there (right-censored); ``reached``
    (bool, shape (num_runs,)) is ``np.isfinite(steps)``.
    """

    steps: FloatArray
    reached: BoolArray


def time_to_threshold(curves: ArrayLike, steps: ArrayLike, threshold: float) -> ThresholdTimes:
    """Steps needed to first reach ``threshold`` (a return, not normalised).

    Only checkpoints count: the time is the first entry of ``steps`` whose evaluation is
    ``>= threshold`` (no interpolation between checkpoints); 0 if the curve starts there.

    Args:
        curves: shape (num_runs, num_checkpoints).
        steps: shape (num_checkpoints,).
        threshold: return to reach.

    Returns:
        :class:`ThresholdTimes` ``(steps, reached)``, both of shape (num_runs,); ``steps`` is
        ``np.inf`` where ``reached`` is False.

    >>> times, reached = time_to_threshold([[0.0, 5.0, 9.0], [0.0, 1.0, 2.0]], [0, 50, 100], 5.0)
    >>> times.tolist(), reached.tolist()
    ([50.0, inf], [True, False])
    """
    c = as_curves(curves)
    st = as_steps(steps, c.shape[1])
    thr = check_finite_scalar(threshold, "threshold")
    hit = c >= thr
    reached = np.asarray(hit.any(axis=1), dtype=np.bool_)
    first = hit.argmax(axis=1)
    times = np.where(reached, st[first], np.inf).astype(np.float64)
    return ThresholdTimes(times, reached)


def success_flags(curves: ArrayLike, success_threshold: float, fraction: float = 0.1) -> BoolArray:
    """Per-run success: ``final_return(curves, fraction) >= success_threshold``.

    Args:
        curves: shape (num_runs, num_checkpoints).
        success_threshold: the scenario's success threshold (a return).
        fraction: as in :func:`final_return`.

    Returns:
        bool, shape (num_runs,).

    >>> success_flags([[0.0, 6.0], [0.0, 4.0]], success_threshold=5.0).tolist()
    [True, False]
    """
    thr = check_finite_scalar(success_threshold, "success_threshold")
    return np.asarray(final_return(curves, fraction) >= thr, dtype=np.bool_)


def success_rate(curves: ArrayLike, success_threshold: float, fraction: float = 0.1) -> float:
    """Fraction of runs that succeed (:func:`success_flags`), in [0, 1].

    >>> success_rate([[0.0, 6.0], [0.0, 4.0], [1.0, 5.0]], success_threshold=5.0)
    0.6666666666666666
    """
    return float(np.mean(success_flags(curves, success_threshold, fraction)))


def negative_transfer_flags(
    transfer: ArrayLike,
    scratch: ArrayLike,
    steps: ArrayLike,
    low: float,
    high: float,
    tolerance: float = 0.05,
) -> BoolArray:
    """Per-run negative transfer: ``auc_t - auc_s < -tolerance`` for paired runs.

    ``auc_*`` are normalised areas (:func:`area_under_curve`), so ``tolerance`` is a share of the
    random-to-reference gap (default 0.05, i.e. 5%), which keeps evaluation noise from flagging
    runs that merely tie.

    Returns:
        bool, shape (num_runs,).

    >>> t = [[0.0, 2.0], [0.0, 8.0]]
    >>> s = [[0.0, 4.0], [0.0, 8.0]]
    >>> negative_transfer_flags(t, s, [0, 1], low=0.0, high=10.0).tolist()
    [True, False]
    """
    tol = check_finite_scalar(tolerance, "tolerance")
    if tol < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    t, s = as_paired(transfer, scratch)
    diff = area_under_curve(t, steps, low, high) - area_under_curve(s, steps, low, high)
    return np.asarray(diff < -tol, dtype=np.bool_)


@dataclass(frozen=True)
class NegativeTransfer:
    """Result of :func:`negative_transfer`.

    Attributes:
        auc_difference: per-run ``auc_t - auc_s`` (normalised), shape (num_runs,).
        flags: per-run negative transfer (``auc_difference < -tolerance``), shape (num_runs,).
        rate: mean of ``flags``.
        mean_difference: mean of ``auc_difference`` with its stratified-bootstrap CI.
        scenario_flag: ``mean_difference.high < 0``: the whole interval lies below zero.
    """

    auc_difference: FloatArray
    flags: BoolArray
    rate: float
    mean_difference: Interval
    scenario_flag: bool


def negative_transfer(
    transfer: ArrayLike,
    scratch: ArrayLike,
    steps: ArrayLike,
    low: float,
    high: float,
    tolerance: float = 0.05,
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
) -> NegativeTransfer:
    """Per-run and scenario-level negative transfer.

    Per run: see :func:`negative_transfer_flags`. Scenario level: negative transfer is declared
    when the upper bound of the ``confidence`` stratified-bootstrap interval (rliable, percentile
    method) of ``mean(auc_t - auc_s)`` is below 0. The bootstrap resamples the paired differences,
    so the pairing is kept; with the default 95% two-sided interval this is a one-sided test at
    the 2.5% level. With a single run the interval collapses to that run's difference, so the flag
    is just its sign; with few runs treat it as indicative only.

    >>> t = [[0.0, 2.0], [0.0, 3.0], [0.0, 1.0]]
    >>> s = [[0.0, 6.0], [0.0, 6.0], [0.0, 7.0]]
    >>> res = negative_transfer(t, s, [0, 1], low=0.0, high=10.0, reps=200)
    >>> res.flags.tolist(), res.rate, res.scenario_flag
    ([True, True, True], 1.0, True)
    >>> round(res.mean_difference.estimate, 6)
    -0.216667
    """
    flags = negative_transfer_flags(transfer, scratch, steps, low, high, tolerance)
    diff = area_under_curve(transfer, steps, low, high) - area_under_curve(
        scratch, steps, low, high
    )
    mean_diff = aggregate_interval(diff, "mean", seed=seed, reps=reps, confidence=confidence)
    return NegativeTransfer(
        auc_difference=diff,
        flags=flags,
        rate=float(np.mean(flags)),
        mean_difference=mean_diff,
        scenario_flag=bool(mean_diff.high < 0),
    )


@dataclass(frozen=True)
class TransferOutcome:
    """Result of :func:`transfer_success`.

    Attributes:
        success: per-run ``final_return(transfer) >= success_threshold``, shape (num_runs,).
        success_rate: mean of ``success``.
        negative: per-run and scenario-level negative transfer (:func:`negative_transfer`).
    """

    success: BoolArray
    success_rate: float
    negative: NegativeTransfer


def transfer_success(
    transfer: ArrayLike,
    scratch: ArrayLike,
    steps: ArrayLike,
    *,
    low: float,
    high: float,
    success_threshold: float,
    fraction: float = 0.1,
    tolerance: float = 0.05,
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
) -> TransferOutcome:
    """Did transfer succeed, and was it negative? Per run and for the scenario.

    A transfer run *succeeds* when its final return (:func:`final_return` with ``fraction``)
    reaches the scenario's ``success_threshold``; ``success_rate`` is the share of such runs.
    Negative transfer compares each transfer run with its paired scratch run, see
    :func:`negative_transfer`.

    Args:
        transfer, scratch: paired curves, shape (num_runs, num_checkpoints).
        steps: shape (num_checkpoints,).
        low, high: random and reference returns.
        success_threshold: scenario success threshold (a return).
        fraction, tolerance, seed, reps, confidence: see :func:`final_return` and
            :func:`negative_transfer`.

    >>> t = [[0.0, 9.0], [0.0, 3.0]]
    >>> s = [[0.0, 5.0], [0.0, 5.0]]
    >>> out = transfer_success(t, s, [0, 1], low=0.0, high=10.0, success_threshold=8.0, reps=200)
    >>> out.success.tolist(), out.success_rate, out.negative.flags.tolist()
    ([True, False], 0.5, [False, True])
    """
    t, s = as_paired(transfer, scratch)
    ok = success_flags(t, success_threshold, fraction)
    neg = negative_transfer(t, s, steps, low, high, tolerance, seed, reps, confidence)
    return TransferOutcome(success=ok, success_rate=float(np.mean(ok)), negative=neg)


@dataclass(frozen=True)
class BaseModelVariance:
    """One-way ANOVA of a per-run metric grouped by base model (source seed).

    With ``N`` runs in ``k`` groups, group means ``m_g`` (``n_g`` runs each), grand mean ``m``,
    ``SS_between = sum_g n_g (m_g - m)^2`` and ``SS_within = sum_g sum_i (x_gi - m_g)^2``:

    Attributes:
        num_groups: ``k``.
        group_means: ``m_g`` in sorted group-label order, shape (k,).
        between_variance: ``SS_between / N``, the variance of the group means (law of total
            variance: ``between_variance + within_variance == np.var(values)``).
        within_variance: ``SS_within / N``, the mean variance inside groups.
        eta_squared: ``SS_between / (SS_between + SS_within)``: share of the variance explained
            by the base model; NaN when all values are equal.
        icc: one-way intraclass correlation ICC(1) ``(MS_b - MS_w) / (MS_b + (n0 - 1) MS_w)``
            with ``MS_b = SS_between / (k - 1)``, ``MS_w = SS_within / (N - k)`` and
            ``n0 = (N - sum_g n_g^2 / N) / (k - 1)`` (mean group size, adjusted for unequal
            sizes); estimates the share of variance due to the base model in the population and
            can be negative by chance. NaN unless ``k >= 2`` and ``N > k`` and the denominator is
            non-zero.
        f_statistic, p_value: ``scipy.stats.f_oneway`` over all groups, when at least two groups
            have at least two runs; NaN otherwise. If all groups are constant inside, F is inf
            and p is 0 when the group means differ, NaN when they do not.
    """

    num_groups: int
    group_means: FloatArray
    between_variance: float
    within_variance: float
    eta_squared: float
    icc: float
    f_statistic: float
    p_value: float

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (NaN -> None, inf -> "inf")."""
        return {
            "num_groups": self.num_groups,
            "group_means": [json_float(v) for v in self.group_means],
            "between_variance": json_float(self.between_variance),
            "within_variance": json_float(self.within_variance),
            "eta_squared": json_float(self.eta_squared),
            "icc": json_float(self.icc),
            "f_statistic": json_float(self.f_statistic),
            "p_value": json_float(self.p_value),
        }


def base_model_variance(values: ArrayLike, groups: ArrayLike) -> BaseModelVariance:
    """Split the variance of a per-run metric into between- and within-base-model parts.

    Tests whether the base model (source seed) decides how well transfer works: a large
    ``eta_squared``/``icc`` and small ``p_value`` mean runs sharing a base model behave alike.

    Args:
        values: per-run metric, e.g. normalised AUC of the transfer runs, shape (num_runs,).
        groups: base-model label of each run (e.g. the source seed), shape (num_runs,).

    Returns:
        :class:`BaseModelVariance` (definitions there).

    >>> res = base_model_variance([1.0, 2.0, 5.0, 6.0], groups=[0, 0, 1, 1])
    >>> res.group_means.tolist(), res.between_variance, res.within_variance
    ([1.5, 5.5], 4.0, 0.25)
    >>> round(res.eta_squared, 4), round(res.f_statistic, 1)
    (0.9412, 32.0)
    """
    x = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups)
    if x.ndim != 1 or x.shape[0] < 1:
        raise ValueError(f"values must be a non-empty 1-D array (num_runs,), got shape {x.shape}")
    if g.shape != x.shape:
        raise ValueError(
            f"groups has shape {g.shape} but values has shape {x.shape}; "
            "pass one base-model label per run"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"values must be finite, got {x.tolist()}")
    labels, idx = np.unique(g, return_inverse=True)
    k = labels.shape[0]
    n = x.shape[0]
    counts = np.bincount(idx, minlength=k).astype(np.float64)
    means = np.bincount(idx, weights=x, minlength=k) / counts
    grand = float(x.mean())
    ss_between = float(np.sum(counts * (means - grand) ** 2))
    ss_within = float(np.sum((x - means[idx]) ** 2))
    ss_total = ss_between + ss_within
    eta = ss_between / ss_total if ss_total > 0 else math.nan

    icc = math.nan
    if k >= 2 and n > k:
        ms_b = ss_between / (k - 1)
        ms_w = ss_within / (n - k)
        n0 = (n - float(np.sum(counts**2)) / n) / (k - 1)
        denom = ms_b + (n0 - 1.0) * ms_w
        if denom != 0:
            icc = (ms_b - ms_w) / denom

    f_stat = p_val = math.nan
    if int(np.sum(counts >= 2)) >= 2:
        if ss_within == 0:
            if ss_between > 0:
                f_stat, p_val = math.inf, 0.0
        else:
            res = scipy.stats.f_oneway(*(x[idx == j] for j in range(k)))
            f_stat, p_val = float(res.statistic), float(res.pvalue)

    return BaseModelVariance(
        num_groups=int(k),
        group_means=np.asarray(means, dtype=np.float64),
        between_variance=ss_between / n,
        within_variance=ss_within / n,
        eta_squared=eta,
        icc=icc,
        f_statistic=f_stat,
        p_value=p_val,
    )
