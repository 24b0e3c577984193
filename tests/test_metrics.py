"""Transfer metrics and rliable aggregates, on matrices small enough to check by hand.

Each expected number is worked out in the comment next to it.
"""

from __future__ import annotations

import json
import math
from typing import Any, cast

import numpy as np
import pytest

from tlbench.metrics import (
    Interval,
    aggregate_interval,
    area_under_curve,
    base_model_variance,
    final_return,
    interval_estimates,
    jumpstart,
    negative_transfer,
    negative_transfer_flags,
    normalize,
    performance_profile,
    probability_of_improvement,
    success_flags,
    success_rate,
    summarize,
    temporary_global_seed,
    time_to_threshold,
    transfer_ratio,
    transfer_success,
)


def _global_state() -> tuple[Any, ...]:
    """NumPy's legacy global generator state as a tuple (typed for mypy)."""
    return cast("tuple[Any, ...]", np.random.get_state(legacy=True))  # noqa: NPY002


REPS = 300  # bootstrap replications: enough to exercise the code, fast on 2 cores


# --------------------------------------------------------------------------- per-run metrics


def test_jumpstart_is_paired_first_checkpoint_difference() -> None:
    transfer = np.array([[2.0, 5.0, 7.0], [1.0, 3.0, 4.0]])
    scratch = np.array([[0.0, 4.0, 6.0], [3.0, 3.0, 3.0]])
    # run 0: 2 - 0 = 2; run 1: 1 - 3 = -2
    np.testing.assert_array_equal(jumpstart(transfer, scratch), [2.0, -2.0])


def test_final_return_averages_last_checkpoints() -> None:
    curves = np.array([[0.0, 1.0, 2.0, 3.0, 10.0], [5.0, 5.0, 6.0, 8.0, 4.0]])
    # fraction 0.1: ceil(0.5) = 1 checkpoint -> last column
    np.testing.assert_array_equal(final_return(curves), [10.0, 4.0])
    # fraction 0.4: ceil(2.0) = 2 -> (3 + 10) / 2 = 6.5, (8 + 4) / 2 = 6
    np.testing.assert_array_equal(final_return(curves, fraction=0.4), [6.5, 6.0])
    # fraction 0.5: ceil(2.5) = 3 -> (2 + 3 + 10) / 3 = 5, (6 + 8 + 4) / 3 = 6
    np.testing.assert_array_equal(final_return(curves, fraction=0.5), [5.0, 6.0])
    # fraction 1: all -> 16 / 5 = 3.2, 28 / 5 = 5.6
    np.testing.assert_allclose(final_return(curves, fraction=1.0), [3.2, 5.6])


def test_final_return_float_noise_does_not_add_a_checkpoint() -> None:
    # 0.07 * 100 == 7.000000000000001 in floating point; ceil must still give 7 checkpoints.
    curves = np.arange(100, dtype=np.float64)[None, :]
    # last 7 = 93 .. 99 -> 96 (8 checkpoints would give 95.5)
    np.testing.assert_array_equal(final_return(curves, fraction=0.07), [96.0])


def test_area_under_curve_trapezoid_by_hand() -> None:
    steps = np.array([0, 20, 40, 100])
    curves = np.array(
        [
            [0.0, 4.0, 6.0, 6.0],  # (0+4)/2*20 + (4+6)/2*20 + (6+6)/2*60 = 40+100+360 = 500
            [-5.0, -5.0, -5.0, -5.0],  # at the random level throughout
            [15.0, 15.0, 15.0, 15.0],  # at the reference level throughout
            [15.0, -5.0, -5.0, -5.0],  # starts at the reference, drops to random at step 20
        ]
    )
    auc = area_under_curve(curves, steps, low=-5.0, high=15.0)
    # run 0: 500 / 100 = 5 -> (5 - (-5)) / (15 - (-5)) = 0.5; runs 1 and 2: 0 and 1
    # run 3: (15 + -5)/2*20 + (-5)*80 = 100 - 400 = -300 -> avg -3 -> (-3 + 5) / 20 = 0.1
    np.testing.assert_allclose(auc, [0.5, 0.0, 1.0, 0.1], atol=1e-12)


def test_area_under_curve_of_a_constant_is_its_normalised_value() -> None:
    # Any step spacing: a constant curve averages to itself.
    auc = area_under_curve([[3.0, 3.0, 3.0]], [0, 1, 1000], low=1.0, high=5.0)
    np.testing.assert_allclose(auc, [0.5])  # (3 - 1) / (5 - 1)


def test_normalize() -> None:
    np.testing.assert_array_equal(normalize([[-1.0, 3.0]], low=-1.0, high=3.0), [[0.0, 1.0]])


# --------------------------------------------------------------------------- transfer ratio

STEPS2 = np.array([0, 10])


def _flat(levels: list[float]) -> np.ndarray:
    """Constant curves over STEPS2, one per level (low=0, high=10 -> normalised AUC level/10)."""
    return np.repeat(np.asarray(levels, dtype=np.float64)[:, None], 2, axis=1)


def test_transfer_ratio_by_hand() -> None:
    transfer = _flat([10.0, 5.0, 0.0, 0.0])
    scratch = _flat([0.0, -5.0, -20.0, 10.0])
    # normalised AUCs: a_t = 1, 0.5, 0, 0 ; a_s = 0, -0.5, -2, 1
    # run 0: (1+1)/(1+0) = 2
    # run 1: (1+0.5)/(1-0.5) = 3
    # run 2: 1 + a_s = -1 < eps -> g(-1) = 0.05**2 / (0.1 + 1) = 0.0025 / 1.1 -> 1 / that = 440
    # run 3: (1+0)/(1+1) = 0.5
    np.testing.assert_allclose(
        transfer_ratio(transfer, scratch, STEPS2, low=0.0, high=10.0), [2.0, 3.0, 440.0, 0.5]
    )


def test_transfer_ratio_equal_curves_give_exactly_one() -> None:
    curves = np.array([[0.0, 3.0, 7.0], [-100.0, -50.0, -80.0], [-1e6, 0.0, 1e6], [2.0, 2.0, 2.0]])
    ratio = transfer_ratio(curves, curves.copy(), [0, 5, 10], low=0.0, high=10.0)
    np.testing.assert_array_equal(ratio, np.ones(4))


def test_transfer_ratio_finite_for_negative_and_extreme_returns() -> None:
    transfer = _flat([-1e6, 1e6, -30.0, -1e6])
    scratch = _flat([1e6, -1e6, -1e6, -30.0])
    ratio = transfer_ratio(transfer, scratch, STEPS2, low=0.0, high=10.0)
    assert np.all(np.isfinite(ratio)) and np.all(ratio > 0)
    # Worse transfer than scratch -> < 1, better -> > 1.
    assert ratio.tolist()[0] < 1 < ratio.tolist()[1]
    # Both below the floor: -30 (a = -3) beats -1e6, so > 1 instead of a tie or a sign flip.
    assert ratio[2] > 1 > ratio[3]


def test_transfer_ratio_is_monotone_and_continuous() -> None:
    levels = np.linspace(-40.0, 40.0, 161)  # normalised AUC -4 .. 4, crossing the floor region
    fixed = np.zeros_like(levels)
    up = transfer_ratio(_flat(list(levels)), _flat(list(fixed)), STEPS2, low=0.0, high=10.0)
    down = transfer_ratio(_flat(list(fixed)), _flat(list(levels)), STEPS2, low=0.0, high=10.0)
    assert np.all(np.diff(up) > 0), "ratio must increase with the transfer area"
    assert np.all(np.diff(down) < 0), "ratio must decrease with the scratch area"
    # > 1 exactly when transfer's area is larger (fixed scratch at the random level = 0).
    np.testing.assert_array_equal(up > 1, levels > 0)
    np.testing.assert_array_equal(up == 1, levels == 0)
    # Value and slope match at the floor: z = 1 + a = eps = 0.05 on both sides.
    eps = 0.05
    a = np.array([eps - 1 - 1e-9, eps - 1, eps - 1 + 1e-9]) * 10.0
    near = transfer_ratio(_flat(list(a)), _flat([0.0, 0.0, 0.0]), STEPS2, low=0.0, high=10.0)
    np.testing.assert_allclose(near, [eps, eps, eps], rtol=1e-6)


# --------------------------------------------------------------------------- time to threshold


def test_time_to_threshold_with_censored_runs() -> None:
    steps = np.array([0, 100, 250, 400])
    curves = np.array(
        [
            [0.0, 4.0, 5.0, 9.0],  # first >= 5 at index 2 -> 250 (equality counts)
            [6.0, 0.0, 0.0, 0.0],  # already there at step 0 -> 0, even though it drops later
            [0.0, 1.0, 2.0, 4.99],  # never -> inf, censored
            [0.0, 7.0, 1.0, 9.0],  # first at index 1 -> 100
        ]
    )
    times, reached = time_to_threshold(curves, steps, threshold=5.0)
    np.testing.assert_array_equal(times, [250.0, 0.0, np.inf, 100.0])
    np.testing.assert_array_equal(reached, [True, True, False, True])
    assert times.dtype == np.float64


def test_time_to_threshold_all_censored() -> None:
    times, reached = time_to_threshold([[0.0, 1.0], [0.0, 2.0]], [0, 1], threshold=10.0)
    assert times.tolist() == [math.inf, math.inf]
    assert not reached.any()


# --------------------------------------------------------------------------- success, negative


def test_success_flags_and_rate() -> None:
    curves = np.array([[0.0, 8.0, 10.0], [0.0, 9.0, 7.0], [0.0, 0.0, 8.0]])
    # final return (last checkpoint) = 10, 7, 8 against threshold 8 -> T, F, T (>= counts)
    np.testing.assert_array_equal(success_flags(curves, 8.0), [True, False, True])
    assert success_rate(curves, 8.0) == pytest.approx(2 / 3)
    # fraction 1.0: means 6, 16/3, 8/3 -> only run 0 >= 6
    np.testing.assert_array_equal(success_flags(curves, 6.0, fraction=1.0), [True, False, False])


def test_negative_transfer_flags_respect_tolerance() -> None:
    steps = [0, 1]
    # with low 0, high 10 and flat curves the normalised AUC is level / 10
    transfer = _flat([2.0, 5.0, 4.0, 9.0])
    scratch = _flat([5.0, 5.0, 5.0, 5.0])
    # diffs: -0.3, 0, -0.1, +0.4; tolerance 0.05 flags runs 0 and 2
    flags = negative_transfer_flags(transfer, scratch, steps, low=0.0, high=10.0)
    np.testing.assert_array_equal(flags, [True, False, True, False])
    # tolerance 0.2 flags only run 0
    flags = negative_transfer_flags(transfer, scratch, steps, 0.0, 10.0, tolerance=0.2)
    np.testing.assert_array_equal(flags, [True, False, False, False])


def test_scenario_negative_transfer_flag() -> None:
    steps = [0, 1]
    scratch = _flat([5.0, 5.0, 5.0, 5.0])
    worse = negative_transfer(_flat([2.0, 3.0, 4.0, 1.0]), scratch, steps, 0.0, 10.0, reps=REPS)
    # all diffs negative (-0.3, -0.2, -0.1, -0.4): every resample mean < 0 -> upper bound < 0
    assert worse.scenario_flag
    assert worse.mean_difference.estimate == pytest.approx(-0.25)
    assert worse.mean_difference.high < 0
    assert worse.rate == 1.0
    mixed = negative_transfer(_flat([2.0, 8.0, 4.0, 6.0]), scratch, steps, 0.0, 10.0, reps=REPS)
    # diffs -0.3, +0.3, -0.1, +0.1: mean 0 and the interval straddles 0
    assert not mixed.scenario_flag
    assert mixed.mean_difference.estimate == pytest.approx(0.0)
    assert mixed.rate == 0.5
    one = negative_transfer(_flat([4.0]), _flat([5.0]), steps, 0.0, 10.0, reps=REPS)
    # one run: the interval collapses to the single difference -0.1
    assert one.mean_difference.low == one.mean_difference.high == pytest.approx(-0.1)
    assert one.scenario_flag


def test_transfer_success_bundles_success_and_negative_transfer() -> None:
    transfer = np.array([[0.0, 9.0], [0.0, 3.0], [0.0, 8.0]])
    scratch = np.array([[0.0, 5.0], [0.0, 5.0], [0.0, 8.0]])
    out = transfer_success(
        transfer, scratch, [0, 1], low=0.0, high=10.0, success_threshold=8.0, reps=REPS
    )
    # final returns 9, 3, 8 >= 8 -> T, F, T
    assert out.success.tolist() == [True, False, True]
    assert out.success_rate == pytest.approx(2 / 3)
    # AUCs: t = 0.45, 0.15, 0.4 ; s = 0.25, 0.25, 0.4 -> diffs 0.2, -0.1, 0
    np.testing.assert_allclose(out.negative.auc_difference, [0.2, -0.1, 0.0], atol=1e-12)
    assert out.negative.flags.tolist() == [False, True, False]


# --------------------------------------------------------------------------- base-model variance


def test_base_model_variance_by_hand() -> None:
    res = base_model_variance([1.0, 2.0, 5.0, 6.0], groups=[0, 0, 1, 1])
    # group means 1.5, 5.5; grand mean 3.5
    # SS_between = 2*(1.5-3.5)^2 + 2*(5.5-3.5)^2 = 16 -> / N=4 -> 4
    # SS_within = 4 * 0.5^2 = 1 -> / 4 -> 0.25 ; eta^2 = 16/17
    # MS_b = 16/1, MS_w = 1/2, F = 32; n0 = (4 - 8/4)/1 = 2; ICC = (16-0.5)/(16+0.5) = 31/33
    # F(1, 2) = t^2 with 2 df: p = 1 - |t|/sqrt(t^2+2) = 1 - sqrt(32/34)
    assert res.num_groups == 2
    np.testing.assert_array_equal(res.group_means, [1.5, 5.5])
    assert res.between_variance == pytest.approx(4.0)
    assert res.within_variance == pytest.approx(0.25)
    assert res.eta_squared == pytest.approx(16 / 17)
    assert res.icc == pytest.approx(31 / 33)
    assert res.f_statistic == pytest.approx(32.0)
    assert res.p_value == pytest.approx(1 - math.sqrt(16 / 17))
    # law of total variance
    assert res.between_variance + res.within_variance == pytest.approx(np.var([1, 2, 5, 6]))


def test_base_model_variance_clearly_different_groups_small_p() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat([10, 20, 30], 5)
    values = np.array([0.0, 1.0, 2.0]).repeat(5) + rng.normal(0.0, 0.05, size=15)
    res = base_model_variance(values, groups)
    assert res.p_value < 1e-10
    assert res.eta_squared > 0.99
    assert res.icc > 0.99


def test_base_model_variance_identical_groups() -> None:
    res = base_model_variance([1.0, 2.0, 3.0, 3.0, 1.0, 2.0], groups=[0, 0, 0, 1, 1, 1])
    # both groups are {1, 2, 3}: means 2 and 2 -> no between variance
    assert res.between_variance == 0.0
    assert res.within_variance == pytest.approx(2 / 3)  # each group's population variance
    assert res.eta_squared == 0.0
    assert res.f_statistic == pytest.approx(0.0)
    assert res.p_value == pytest.approx(1.0)
    # MS_b = 0, MS_w = 4/4 = 1, n0 = 3 -> ICC = (0 - 1)/(0 + 2) = -0.5
    assert res.icc == pytest.approx(-0.5)


def test_base_model_variance_degenerate_cases() -> None:
    # one base model: nothing between, no test
    one = base_model_variance([1.0, 2.0, 3.0], groups=[4, 4, 4])
    assert one.num_groups == 1 and one.between_variance == 0.0
    assert math.isnan(one.icc) and math.isnan(one.f_statistic) and math.isnan(one.p_value)
    # only one group with >= 2 members: F and p undefined by contract
    single = base_model_variance([1.0, 2.0, 7.0], groups=[0, 0, 1])
    assert math.isnan(single.f_statistic) and math.isnan(single.p_value)
    assert single.between_variance == pytest.approx(
        ((1.5 - 10 / 3) ** 2 * 2 + (7 - 10 / 3) ** 2) / 3
    )
    # constant inside groups, different means: F = inf, p = 0
    sep = base_model_variance([1.0, 1.0, 2.0, 2.0], groups=[0, 0, 1, 1])
    assert sep.f_statistic == math.inf and sep.p_value == 0.0 and sep.eta_squared == 1.0
    # all equal: nothing to explain
    flat = base_model_variance([3.0, 3.0, 3.0, 3.0], groups=[0, 0, 1, 1])
    assert math.isnan(flat.eta_squared) and math.isnan(flat.f_statistic)
    # group means come out in sorted label order
    order = base_model_variance([5.0, 1.0], groups=[7, 3])
    assert order.group_means.tolist() == [1.0, 5.0]
    json.dumps(flat.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------- aggregates


def test_interval_estimates_point_values_by_hand() -> None:
    scores = {"a": np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])}
    res = interval_estimates(scores, reps=REPS)["a"]
    # IQM of 5 scores trims int(1.25) = 1 from each end: mean(1, 2, 3) = 2
    assert res["iqm"].estimate == pytest.approx(2.0)
    assert res["mean"].estimate == pytest.approx(3.2)  # 16 / 5
    assert res["median"].estimate == pytest.approx(3.2)  # median of the one task mean
    # optimality gap: 1 - mean(min(x, 1)) = 1 - (0+1+1+1+1)/5 = 0.2
    assert res["optimality_gap"].estimate == pytest.approx(0.2)
    for iv in res.values():
        assert iv.low <= iv.estimate <= iv.high
    assert res["mean"].low < res["mean"].high


def test_interval_estimates_multi_task_median_and_gamma() -> None:
    # 2 runs x 3 tasks: task means 0.5, 2, 4 -> median 2, mean 6.5/3
    scores = np.array([[0.0, 1.0, 4.0], [1.0, 3.0, 4.0]])
    res = interval_estimates({"a": scores}, reps=REPS, gamma=2.0)["a"]
    assert res["median"].estimate == pytest.approx(2.0)
    assert res["mean"].estimate == pytest.approx(6.5 / 3)
    # gap at gamma 2: 2 - mean(min(x, 2)) = 2 - (0+1+2+1+2+2)/6 = 2/3
    assert res["optimality_gap"].estimate == pytest.approx(2 / 3)


def test_single_run_interval_collapses_to_point() -> None:
    res = interval_estimates({"a": np.array([[0.3, 0.9]])}, reps=REPS)["a"]
    for name, iv in res.items():
        assert iv.low == iv.estimate == iv.high, name
    assert res["mean"].estimate == pytest.approx(0.6)


def test_aggregates_are_seeded_and_deterministic() -> None:
    rng = np.random.default_rng(1)
    scores = {"a": rng.normal(size=(6, 2)), "b": rng.normal(size=(4, 2))}
    first = interval_estimates(scores, seed=7, reps=REPS)
    second = interval_estimates(scores, seed=7, reps=REPS)
    assert first == second
    other = interval_estimates(scores, seed=8, reps=REPS)
    assert other["a"]["mean"].low != first["a"]["mean"].low
    # each algorithm is bootstrapped on its own: dropping "b" does not change "a"
    assert interval_estimates({"a": scores["a"]}, seed=7, reps=REPS)["a"] == first["a"]
    x, y = scores["a"], scores["b"]
    assert probability_of_improvement(x, y, seed=3, reps=REPS) == probability_of_improvement(
        x, y, seed=3, reps=REPS
    )
    p1 = performance_profile(scores, [-1.0, 0.0, 1.0], seed=3, reps=REPS)
    p2 = performance_profile(scores, [-1.0, 0.0, 1.0], seed=3, reps=REPS)
    for key in scores:
        for u, v in zip(p1[key], p2[key], strict=True):
            np.testing.assert_array_equal(u, v)


def test_aggregates_leave_global_rng_untouched() -> None:
    np.random.seed(12345)  # noqa: NPY002
    expected_next = np.random.rand(3)  # noqa: NPY002
    np.random.seed(12345)  # noqa: NPY002
    before = _global_state()
    scores = np.arange(12.0).reshape(6, 2)
    interval_estimates({"a": scores}, seed=0, reps=REPS)
    probability_of_improvement(scores, scores[::-1] + 0.5, seed=0, reps=REPS)
    performance_profile({"a": scores}, [0.0, 5.0], seed=0, reps=REPS)
    aggregate_interval(scores[:, 0], "median", seed=0, reps=REPS)
    after = _global_state()
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]
    np.testing.assert_array_equal(np.random.rand(3), expected_next)  # noqa: NPY002


def test_temporary_global_seed_restores_state_on_error() -> None:
    np.random.seed(5)  # noqa: NPY002
    state = _global_state()[1].copy()
    with pytest.raises(RuntimeError), temporary_global_seed(0):
        np.random.rand()  # noqa: NPY002
        raise RuntimeError("boom")
    np.testing.assert_array_equal(_global_state()[1], state)


def test_probability_of_improvement_by_hand() -> None:
    # x > y pairs: 1 beats 0 (1); 2 beats 0, ties 2 (1.5); 3 beats all (3) -> 5.5 / 9
    iv = probability_of_improvement([1.0, 2.0, 3.0], [0.0, 2.0, 2.5], reps=REPS)
    assert iv.estimate == pytest.approx(5.5 / 9)
    assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 1.0
    # complete separation: 1
    assert probability_of_improvement([5.0, 6.0], [1.0, 2.0], reps=REPS).estimate == 1.0
    # one run each, equal -> 0.5 with a collapsed interval
    assert probability_of_improvement([1.0], [1.0], reps=REPS) == Interval(0.5, 0.5, 0.5)


def test_performance_profile_by_hand() -> None:
    scores = np.array([[0.2, 0.6], [0.9, 1.4]])
    prof = performance_profile({"a": scores}, [0.0, 0.5, 1.0, 2.0], reps=REPS)["a"]
    # fraction of the 4 scores strictly above tau: 4/4, 3/4, 1/4, 0/4
    np.testing.assert_allclose(prof.profile, [1.0, 0.75, 0.25, 0.0])
    assert np.all(prof.lower <= prof.profile) and np.all(prof.profile <= prof.upper)
    assert prof.lower.shape == prof.upper.shape == (4,)


def test_aggregate_interval_statistics() -> None:
    v = np.array([4.0, 1.0, 2.0, 8.0])
    assert aggregate_interval(v, "mean", reps=REPS).estimate == pytest.approx(3.75)
    assert aggregate_interval(v, "median", reps=REPS).estimate == pytest.approx(3.75)  # 1 task
    assert aggregate_interval(v, "iqm", reps=REPS).estimate == pytest.approx(3.0)  # mean(2, 4)
    with pytest.raises(ValueError, match="statistic must be one of"):
        aggregate_interval(v, "max", reps=REPS)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- summarize


def test_summarize_by_hand_and_json() -> None:
    steps = [0, 50, 100]
    transfer = np.array([[4.0, 8.0, 10.0], [2.0, 6.0, 9.0], [3.0, 7.0, 7.0], [0.0, 0.0, 1.0]])
    scratch = np.array([[0.0, 3.0, 8.0], [1.0, 2.0, 6.0], [0.0, 4.0, 9.0], [0.0, 2.0, 6.0]])
    res = summarize(
        transfer, scratch, steps, groups=[0, 0, 1, 1], low=0.0, high=10.0, threshold=8.0, reps=REPS
    )
    assert res.num_runs == 4
    np.testing.assert_array_equal(res.jumpstart, [4.0, 1.0, 3.0, 0.0])
    # transfer AUCs: (750, 575, 600, 25) / 100 / 10
    np.testing.assert_allclose(res.transfer.auc, [0.75, 0.575, 0.6, 0.025])
    # scratch AUCs: (350, 275, 425, 250) / 1000
    np.testing.assert_allclose(res.scratch.auc, [0.35, 0.275, 0.425, 0.25])
    # times to 8: transfer 50, 100, never, never -> median of (50, 100, inf, inf) = inf
    assert res.transfer.time_to_threshold.tolist() == [50.0, 100.0, math.inf, math.inf]
    assert res.transfer.median_time_to_threshold == math.inf
    # scratch reaches 8 at 100, never, 100, never -> median (100, 100, inf, inf) = inf
    assert res.scratch.reached.tolist() == [True, False, True, False]
    # success = final >= 8: transfer 10, 9, 7, 1 -> 2/4; scratch 8, 6, 9, 6 -> 2/4
    assert res.transfer.success_rate == 0.5 and res.scratch.success_rate == 0.5
    # final-return IQM of 4 runs = mean of the middle two: transfer (7+9)/2, scratch (6+8)/2
    assert res.transfer.final_return_iqm.estimate == pytest.approx(8.0)
    assert res.scratch.final_return_iqm.estimate == pytest.approx(7.0)
    # ratios (1+a_t)/(1+a_s): 1.75/1.35, 1.575/1.275, 1.6/1.425, 1.025/1.25
    np.testing.assert_allclose(
        res.transfer_ratio, [1.75 / 1.35, 1.575 / 1.275, 1.6 / 1.425, 1.025 / 1.25]
    )
    # AUC pairs: every transfer AUC except 0.025 beats every scratch AUC -> (3*4 + 0) / 16
    assert res.probability_of_improvement.estimate == pytest.approx(12 / 16)
    # diffs 0.4, 0.3, 0.175, -0.225: mean 0.1625 -> no scenario-level negative transfer
    assert res.negative_transfer.mean_difference.estimate == pytest.approx(0.1625)
    assert res.negative_transfer.flags.tolist() == [False, False, False, True]
    assert not res.negative_transfer.scenario_flag
    bmv = res.base_model_variance
    assert bmv is not None
    np.testing.assert_allclose(bmv.group_means, [0.6625, 0.3125])  # AUC means per base model

    d = res.to_dict()
    text = json.dumps(d, allow_nan=False)  # plain JSON types only
    back = json.loads(text)
    assert back["transfer"]["time_to_threshold"] == [50.0, 100.0, "inf", "inf"]
    assert back["transfer"]["median_time_to_threshold"] == "inf"
    assert back["steps"] == [0, 50, 100]
    assert back["negative_transfer"]["flags"] == [False, False, False, True]
    assert back["base_model_variance"]["num_groups"] == 2
    assert set(back["transfer_ratio_iqm"]) == {"estimate", "low", "high"}


def test_summarize_is_deterministic_and_handles_small_samples() -> None:
    transfer = np.array([[1.0, 5.0]])
    scratch = np.array([[1.0, 3.0]])
    kwargs = {"groups": None, "low": 0.0, "high": 10.0, "threshold": 4.0, "reps": REPS}
    a = summarize(transfer, scratch, [0, 10], **kwargs)  # type: ignore[arg-type]
    b = summarize(transfer, scratch, [0, 10], **kwargs)  # type: ignore[arg-type]
    assert a.to_dict() == b.to_dict()
    assert a.base_model_variance is None
    assert a.to_dict()["base_model_variance"] is None
    # one run: every interval collapses to its point
    assert a.transfer_ratio_iqm.low == a.transfer_ratio_iqm.high == a.transfer_ratio_iqm.estimate
    # one run per base model: F and p are NaN -> None in JSON
    c = summarize(
        np.array([[1.0, 5.0], [2.0, 2.0]]),
        np.array([[1.0, 3.0], [2.0, 3.0]]),
        [0, 10],
        groups=[0, 1],
        low=0.0,
        high=10.0,
        threshold=4.0,
        success_threshold=3.0,
        reps=REPS,
    )
    d = c.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["base_model_variance"]["p_value"] is None  # type: ignore[index]
    assert c.success_threshold == 3.0
    assert c.transfer.success.tolist() == [True, False]  # finals 5, 2 against 3


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: jumpstart(np.zeros((2, 3)), np.zeros((3, 3))), r"transfer has shape \(2, 3\)"),
        (lambda: jumpstart(np.zeros(3), np.zeros(3)), r"transfer must be a 2-D array"),
        (
            lambda: area_under_curve(np.zeros((1, 3)), [0, 5, 5], 0.0, 1.0),
            r"strictly increasing, got steps\[1\]=5 followed by steps\[2\]=5",
        ),
        (lambda: area_under_curve(np.zeros((1, 3)), [0, 5, 3], 0.0, 1.0), r"strictly increasing"),
        (lambda: area_under_curve(np.zeros((1, 2)), [1, 5], 0.0, 1.0), r"steps must start at 0"),
        (lambda: area_under_curve(np.zeros((1, 2)), [0, 5, 9], 0.0, 1.0), r"steps has 3 entries"),
        (lambda: area_under_curve(np.zeros((1, 2)), [0, 2.5], 0.0, 1.0), r"whole step counts"),
        (
            lambda: area_under_curve(np.zeros((1, 2)), [0, 5], 5.0, 5.0),
            r"high \(reference return\) must be greater than low \(random return\), "
            r"got low=5.0, high=5.0",
        ),
        (lambda: area_under_curve(np.zeros((1, 2)), [0, 5], 2.0, 1.0), r"low=2.0, high=1.0"),
        (lambda: area_under_curve(np.zeros((1, 1)), [0], 0.0, 1.0), r"at least 2 checkpoints"),
        (
            lambda: area_under_curve([[0.0, np.nan]], [0, 1], 0.0, 1.0),
            r"curves must be finite, got nan at index \(0, 1\)",
        ),
        (
            lambda: transfer_ratio(np.zeros((2, 2)), np.zeros((2, 3)), [0, 1], 0.0, 1.0),
            r"scratch has shape \(2, 3\)",
        ),
        (lambda: transfer_ratio(np.zeros((1, 2)), np.zeros((1, 2)), [0, 1], 1.0, 0.0), r"low=1"),
        (
            lambda: transfer_ratio(np.zeros((1, 2)), np.zeros((1, 2)), [0, 1], 0.0, 1.0, eps=0.0),
            r"eps must be positive",
        ),
        (lambda: final_return(np.zeros((1, 2)), fraction=0.0), r"fraction must be in \(0, 1\]"),
        (lambda: time_to_threshold(np.zeros((1, 2)), [0, 1], np.nan), r"threshold must be"),
        (
            lambda: negative_transfer_flags(np.zeros((1, 2)), np.zeros((1, 2)), [0, 1], 0, 1, -1),
            r"tolerance must be >= 0",
        ),
        (lambda: base_model_variance([1.0, 2.0], [0, 0, 1]), r"groups has shape \(3,\)"),
        (lambda: base_model_variance([[1.0]], [[0]]), r"values must be a non-empty 1-D array"),
        (lambda: interval_estimates({}), r"scores is empty"),
        (lambda: interval_estimates({"a": [[1.0]]}, reps=0), r"reps must be a positive integer"),
        (lambda: interval_estimates({"a": [[1.0]]}, confidence=1.5), r"confidence must be in"),
        (lambda: interval_estimates({"a": [[np.inf]]}), r"scores\['a'\] must be finite"),
        (
            lambda: interval_estimates({"a": np.zeros((2, 2)), "b": np.zeros((2, 3))}),
            r"same number of tasks",
        ),
        (
            lambda: probability_of_improvement(np.zeros((2, 2)), np.zeros((2, 1))),
            r"x and y need the same number of tasks",
        ),
        (lambda: performance_profile({"a": [1.0]}, []), r"taus must be a non-empty 1-D array"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_problem(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_fast_iqm_equals_rliables_bit_for_bit() -> None:
    from rliable import metrics as rlm

    from tlbench.metrics.aggregate import iqm

    rng = np.random.default_rng(0)
    for n in range(1, 40):
        for tasks in (1, 3):
            x = rng.normal(size=(n, tasks)) * 10.0 ** rng.integers(-3, 4)
            assert iqm(x) == float(rlm.aggregate_iqm(x))


def test_fast_probability_of_improvement_equals_rliables_bit_for_bit() -> None:
    from rliable import metrics as rlm

    from tlbench.metrics.aggregate import improvement_probability

    rng = np.random.default_rng(1)
    for nx in range(1, 12):
        for ny in (1, 3, 8):
            for tasks in (1, 2):
                x = rng.integers(0, 4, size=(nx, tasks)).astype(float)  # many ties
                y = rng.integers(0, 4, size=(ny, tasks)).astype(float)
                assert improvement_probability(x, y) == float(rlm.probability_of_improvement(x, y))
                xf, yf = rng.normal(size=(nx, tasks)), rng.normal(size=(ny, tasks))
                assert improvement_probability(xf, yf) == float(
                    rlm.probability_of_improvement(xf, yf)
                )


def test_pointwise_bands_match_one_bootstrap_per_checkpoint_in_estimate() -> None:
    from tlbench.metrics import aggregate_interval
    from tlbench.metrics.aggregate import pointwise_mean_interval

    curves = np.array([[0.0, 1.0, 4.0], [2.0, 3.0, 5.0], [1.0, 1.0, 9.0]])
    est, low, high = pointwise_mean_interval(curves, reps=300)
    for i in range(3):
        assert est[i] == aggregate_interval(curves[:, i], "mean", reps=300).estimate
        assert low[i] <= est[i] <= high[i]
    assert (low[2], high[2]) != (low[0], high[0])
