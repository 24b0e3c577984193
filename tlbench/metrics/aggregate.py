"""Aggregate scores over runs and tasks, with stratified-bootstrap confidence intervals.

Thin, typed wrappers around `rliable <https://github.com/google-research/rliable>`_ (Agarwal et
al., 2021, "Deep Reinforcement Learning at the Edge of the Statistical Precipice"): the point
estimates are rliable's aggregate metrics and the intervals come from rliable's stratified
bootstrap (percentile method), which resamples runs with replacement separately within each task.

Scores are arrays of shape ``(num_runs, num_tasks)``; a 1-D array of shape ``(num_runs,)`` is
read as a single task. Scores are usually normalised (0 = random, 1 = reference), which is what
the optimality gap's default threshold of 1.0 assumes.

**Seeding.** rliable 1.2 draws its bootstrap indices from NumPy's *global* generator
(``np.random.choice``) and ignores the ``random_state`` it accepts. Every function here therefore
runs rliable inside :func:`temporary_global_seed`, which seeds the global generator and restores
its previous state afterwards: the same inputs and ``seed`` give the same intervals, and calling
these functions leaves the caller's global random state untouched. Each algorithm (key of a score
dict) is bootstrapped with the same ``seed`` on its own, so its interval does not depend on which
other algorithms are in the dict.

**Small samples.** With a single run every bootstrap resample equals the data, so the interval
collapses to the point estimate (``low == estimate == high``). With 2-3 runs the percentile
intervals are wide and coarse; they are still returned, never an error. IQM with fewer than four
runs per task is computed by rliable (``scipy.stats.trim_mean`` trims ``int(0.25 * n)`` values
from each end, which is nothing for ``n < 4``, so the IQM then equals the mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from rliable import library as rly
from rliable import metrics as rlm

from tlbench.metrics._validation import FloatArray, check_bootstrap

__all__ = [
    "Interval",
    "Profile",
    "aggregate_interval",
    "interval_estimates",
    "performance_profile",
    "probability_of_improvement",
    "temporary_global_seed",
]

AGGREGATES = ("iqm", "mean", "median", "optimality_gap")
Statistic = Literal["iqm", "mean", "median"]


def json_float(x: float) -> float | str | None:
    """Map a float to a JSON-safe value: NaN -> None, +/-inf -> "inf"/"-inf", else the float."""
    v = float(x)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval ``[low, high]``.

    >>> iv = Interval(estimate=0.5, low=0.25, high=0.75)
    >>> iv.low <= iv.estimate <= iv.high
    True
    >>> iv.to_dict()
    {'estimate': 0.5, 'low': 0.25, 'high': 0.75}
    """

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | str | None]:
        """JSON-safe dict; NaN becomes None and infinities the strings "inf"/"-inf"."""
        return {
            "estimate": json_float(self.estimate),
            "low": json_float(self.low),
            "high": json_float(self.high),
        }


class Profile(NamedTuple):
    """A performance profile with its pointwise confidence band, each of shape (num_taus,)."""

    profile: FloatArray
    lower: FloatArray
    upper: FloatArray


def iqm(scores: FloatArray) -> float:
    """rliable's IQM (``scipy.stats.trim_mean(scores, 0.25, axis=None)``), without scipy's
    per-call overhead: the same numpy operations, so bit-for-bit the same value.

    The bootstrap calls it once per replicate; scipy's argument handling took about 100 us of
    each call, most of the time of an evaluation's metrics.

    >>> iqm(np.array([[1.0], [2.0], [3.0], [5.0]]))
    2.5
    """
    flat = np.ravel(scores)
    cut = int(0.25 * flat.shape[0])
    kept = np.partition(flat, (cut, flat.shape[0] - cut - 1))[cut : flat.shape[0] - cut]
    return float(np.mean(kept))


def improvement_probability(scores_x: FloatArray, scores_y: FloatArray) -> float:
    """rliable's ``probability_of_improvement`` without scipy: per task, the Mann-Whitney U of
    ``x`` over ``y`` (pairs with x > y, plus half the ties) divided by the number of pairs,
    averaged over tasks. Counting pairs gives exactly the integer-or-half U that scipy's rank
    sums give, so the value is bit-for-bit rliable's.

    >>> improvement_probability(np.array([[2.0], [3.0]]), np.array([[1.0], [3.0]]))
    0.625
    """
    per_task = []
    for task in range(scores_x.shape[1]):
        x, y = scores_x[:, task], scores_y[:, task]
        if np.array_equal(x, y):
            per_task.append(0.5)
            continue
        wins = np.count_nonzero(x[:, None] > y[None, :])
        ties = np.count_nonzero(x[:, None] == y[None, :])
        per_task.append((wins + 0.5 * ties) / (x.shape[0] * y.shape[0]))
    return float(np.mean(per_task))


def score_distribution(scores: FloatArray, taus: FloatArray) -> FloatArray:
    """rliable's score distribution (``rly.score_distributions``: the fraction of all scores
    above each ``tau``) in one vectorised comparison instead of a Python call per ``tau``; a
    mean of booleans counts exactly, so the values are bit-for-bit rliable's.

    The bootstrap of a performance profile calls it once per replicate; rliable's
    ``np.vectorize`` over the thresholds took about 1 ms per call.

    >>> score_distribution(np.array([[0.1], [0.5], [0.9]]), np.array([0.0, 0.5])).tolist()
    [1.0, 0.3333333333333333]
    """
    flat = np.ravel(scores)
    return np.asarray(np.mean(flat[:, None] > np.asarray(taus)[None, :], axis=0))


def pointwise_mean_interval(
    curves: ArrayLike, seed: int = 0, reps: int = 2000, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean over runs at each checkpoint of ``curves`` (num_runs, num_checkpoints), with
    stratified-bootstrap CIs: one bootstrap, each checkpoint a stratum (pointwise bands).

    >>> est, low, high = pointwise_mean_interval([[0.0, 1.0], [2.0, 3.0]], reps=200)
    >>> est.tolist()
    [1.0, 2.0]
    """
    reps, confidence = check_bootstrap(reps, confidence)
    x = _as_scores(curves, "curves")
    return _bootstrap(x, lambda s: np.mean(s, axis=0), seed, reps, confidence)


@contextmanager
def temporary_global_seed(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator for the duration of a ``with`` block, then restore it.

    Needed because rliable draws bootstrap indices from the global generator.

    >>> state = np.random.get_state()[1].copy()
    >>> with temporary_global_seed(3):
    ...     a = np.random.rand()
    >>> with temporary_global_seed(3):
    ...     b = np.random.rand()
    >>> a == b
    True
    >>> bool(np.array_equal(np.random.get_state()[1], state))
    True
    """
    # The legacy global API is the point here: it is what rliable draws from.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(seed)  # noqa: NPY002
        yield
    finally:
        np.random.set_state(saved)  # noqa: NPY002


def _as_scores(scores: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (num_runs, num_tasks) or (num_runs,), got shape {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least one run and one task, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; found NaN or inf in {arr.tolist()}")
    return arr


def _as_score_dict(scores: Mapping[str, ArrayLike]) -> dict[str, FloatArray]:
    if not scores:
        raise ValueError("scores is empty; pass {algorithm name: (num_runs, num_tasks) array}")
    out = {str(k): _as_scores(v, f"scores[{k!r}]") for k, v in scores.items()}
    num_tasks = {k: v.shape[1] for k, v in out.items()}
    if len(set(num_tasks.values())) > 1:
        raise ValueError(f"every algorithm needs the same number of tasks, got {num_tasks}")
    return out


def _bootstrap(
    scores: FloatArray | list[FloatArray],
    func: Callable[..., Any],
    seed: int,
    reps: int,
    confidence: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Run rliable's stratified bootstrap on one algorithm; return (estimate, low, high)."""
    with temporary_global_seed(seed):
        point, intervals = rly.get_interval_estimates(
            {"x": scores}, func, reps=reps, confidence_interval_size=confidence
        )
    est = np.atleast_1d(np.asarray(point["x"], dtype=np.float64))
    ci = np.asarray(intervals["x"], dtype=np.float64).reshape(2, -1)
    return est, ci[0], ci[1]


def interval_estimates(
    scores: Mapping[str, ArrayLike],
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
    gamma: float = 1.0,
) -> dict[str, dict[str, Interval]]:
    """IQM, mean, median and optimality gap of each algorithm, with bootstrap CIs.

    Args:
        scores: ``{algorithm: array of shape (num_runs, num_tasks)}`` (or ``(num_runs,)`` for a
            single task); algorithms may have different ``num_runs`` but need equal ``num_tasks``.
        seed: seed of the bootstrap (see the module docstring).
        reps: bootstrap replications.
        confidence: coverage of the two-sided percentile interval.
        gamma: optimality-gap threshold: ``gamma - mean(min(score, gamma))``; 1.0 = reference
            level on normalised scores.

    Returns:
        ``{algorithm: {"iqm" | "mean" | "median" | "optimality_gap": Interval}}``. rliable's
        mean and median are taken over the per-task means; IQM and optimality gap over all
        ``num_runs * num_tasks`` scores.

    >>> scores = {"a": np.array([[0.0], [1.0], [2.0], [3.0]])}
    >>> res = interval_estimates(scores, reps=200)
    >>> res["a"]["mean"].estimate, res["a"]["iqm"].estimate, res["a"]["optimality_gap"].estimate
    (1.5, 1.5, 0.25)
    >>> res["a"]["mean"].low <= 1.5 <= res["a"]["mean"].high
    True
    >>> one = interval_estimates({"b": np.array([[0.7]])}, reps=200)["b"]["iqm"]
    >>> one.estimate == one.low == one.high == 0.7
    True
    """
    reps, confidence = check_bootstrap(reps, confidence)
    g = float(gamma)
    data = _as_score_dict(scores)

    def aggregates(x: FloatArray) -> FloatArray:
        return np.array(
            [
                iqm(x),
                rlm.aggregate_mean(x),
                rlm.aggregate_median(x),
                rlm.aggregate_optimality_gap(x, gamma=g),
            ],
            dtype=np.float64,
        )

    out: dict[str, dict[str, Interval]] = {}
    for key, x in data.items():
        est, low, high = _bootstrap(x, aggregates, seed, reps, confidence)
        out[key] = {
            name: Interval(float(est[i]), float(low[i]), float(high[i]))
            for i, name in enumerate(AGGREGATES)
        }
    return out


def aggregate_interval(
    scores: ArrayLike,
    statistic: Statistic = "iqm",
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
) -> Interval:
    """One aggregate of one algorithm's scores with its stratified-bootstrap CI.

    Args:
        scores: shape (num_runs, num_tasks), or (num_runs,) for one task.
        statistic: ``"iqm"``, ``"mean"`` or ``"median"`` (rliable's definitions, see
            :func:`interval_estimates`).
        seed, reps, confidence: as in :func:`interval_estimates`.

    >>> aggregate_interval(np.array([1.0, 2.0, 3.0]), "mean", reps=200).estimate
    2.0
    >>> aggregate_interval(np.array([-0.5]), "iqm", reps=200)
    Interval(estimate=-0.5, low=-0.5, high=-0.5)
    """
    reps, confidence = check_bootstrap(reps, confidence)
    funcs: dict[str, Callable[[FloatArray], Any]] = {
        "iqm": iqm,
        "mean": rlm.aggregate_mean,
        "median": rlm.aggregate_median,
    }
    if statistic not in funcs:
        raise ValueError(f"statistic must be one of {sorted(funcs)}, got {statistic!r}")
    fn = funcs[statistic]
    x = _as_scores(scores, "scores")
    est, low, high = _bootstrap(
        x, lambda s: np.array([fn(s)], dtype=np.float64), seed, reps, confidence
    )
    return Interval(float(est[0]), float(low[0]), float(high[0]))


def probability_of_improvement(
    x: ArrayLike,
    y: ArrayLike,
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
) -> Interval:
    """P(X > Y): probability that a run of X scores higher than a run of Y, with a CI.

    rliable's definition: per task, the Mann-Whitney U statistic over all run pairs divided by
    ``num_runs_x * num_runs_y`` (ties count 1/2), averaged over tasks. The bootstrap resamples
    the runs of X and of Y independently (rliable's ``StratifiedIndependentBootstrap``), i.e.
    it treats the two samples as unpaired.

    Args:
        x: shape (num_runs_x, num_tasks) or (num_runs_x,).
        y: shape (num_runs_y, num_tasks) or (num_runs_y,); same num_tasks as ``x``.
        seed, reps, confidence: as in :func:`interval_estimates`.

    >>> probability_of_improvement([2.0, 3.0, 4.0], [0.0, 1.0, 2.5], reps=200).estimate
    0.8888888888888888
    >>> probability_of_improvement([1.0, 2.0], [1.0, 2.0], reps=200).estimate
    0.5
    """
    reps, confidence = check_bootstrap(reps, confidence)
    xs = _as_scores(x, "x")
    ys = _as_scores(y, "y")
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(
            f"x and y need the same number of tasks, got x shape {xs.shape}, y shape {ys.shape}"
        )
    est, low, high = _bootstrap([xs, ys], improvement_probability, seed, reps, confidence)
    return Interval(float(est[0]), float(low[0]), float(high[0]))


def performance_profile(
    scores: Mapping[str, ArrayLike],
    taus: ArrayLike,
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
) -> dict[str, Profile]:
    """Run-score distribution (performance profile) of each algorithm, with bootstrap bands.

    The profile at ``tau`` is the fraction of all ``num_runs * num_tasks`` scores strictly above
    ``tau`` (rliable's ``create_performance_profile`` with score distributions).

    Args:
        scores: ``{algorithm: (num_runs, num_tasks) or (num_runs,) array}``.
        taus: thresholds, shape (num_taus,).
        seed, reps, confidence: as in :func:`interval_estimates`.

    Returns:
        ``{algorithm: Profile(profile, lower, upper)}``, each array of shape (num_taus,).

    >>> prof = performance_profile({"a": np.array([0.1, 0.5, 0.9, 1.3])}, [0.0, 0.5, 1.0], reps=200)
    >>> prof["a"].profile.tolist()
    [1.0, 0.5, 0.25]
    >>> bool(np.all(prof["a"].lower <= prof["a"].profile))
    True
    """
    reps, confidence = check_bootstrap(reps, confidence)
    data = _as_score_dict(scores)
    tau_arr = np.asarray(taus, dtype=np.float64)
    if tau_arr.ndim != 1 or tau_arr.shape[0] < 1 or not np.all(np.isfinite(tau_arr)):
        raise ValueError(f"taus must be a non-empty 1-D array of finite thresholds, got {taus!r}")
    out: dict[str, Profile] = {}
    for key, x in data.items():
        with temporary_global_seed(seed):
            profiles, cis = rly.create_performance_profile(
                {key: x},
                tau_arr,
                custom_profile_func=score_distribution,
                reps=reps,
                confidence_interval_size=confidence,
            )
        ci = np.asarray(cis[key], dtype=np.float64).reshape(2, -1)
        out[key] = Profile(np.asarray(profiles[key], dtype=np.float64), ci[0], ci[1])
    return out
