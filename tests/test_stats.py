"""rlcourse.stats: the IQM, stratified-bootstrap intervals and their ratios."""

from __future__ import annotations

import numpy as np
import pytest

from rlcourse.stats import (
    Estimate,
    bootstrap_ci,
    difference_ci,
    format_number,
    iqm,
    ratio_ci,
    unsolved_as_inf,
)


def trim_mean_quarter(values: np.ndarray) -> float:
    """scipy.stats.trim_mean(values, 0.25) written out: sort, cut int(n / 4) from each end."""
    ordered = np.sort(np.ravel(values))
    cut = int(0.25 * ordered.size)
    return float(ordered[cut : ordered.size - cut].mean())


def test_iqm_is_the_mean_of_the_middle_half() -> None:
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5
    assert iqm([5, 1, 1000, 3, 2]) == pytest.approx(10 / 3)  # cut 1 each end: 2, 3, 5
    assert iqm([7.0]) == 7.0 and iqm([1, 3]) == 2.0  # nothing cut below 4 scores
    rng = np.random.default_rng(0)
    for n in (4, 5, 19, 20, 21, 103):
        values = rng.standard_cauchy(n)
        assert iqm(values) == pytest.approx(trim_mean_quarter(values))


def test_iqm_pools_runs_and_games_or_works_along_an_axis() -> None:
    table = np.random.default_rng(1).normal(size=(10, 3))
    assert iqm(table) == pytest.approx(trim_mean_quarter(table))
    along = iqm(table.T, axis=1)
    assert along.shape == (3,)
    assert along == pytest.approx([trim_mean_quarter(column) for column in table.T])


def test_iqm_ignores_a_quarter_of_runs_that_never_solved() -> None:
    steps = unsolved_as_inf([10, 20, 30, None, 40, 50, 60, 70])
    assert np.isinf(steps).sum() == 1
    assert iqm(steps) == 45.0  # 30, 40, 50, 60: the infinite run is cut
    assert iqm(unsolved_as_inf([None, None, 10, 20])) == np.inf  # half never solved


def test_a_constant_sample_has_a_zero_width_interval() -> None:
    estimate = bootstrap_ci([3.0] * 12, rng=0)
    assert estimate == Estimate(3.0, 3.0, 3.0, "IQM", "", 0.95)


def test_the_interval_holds_the_estimate_and_lies_within_the_data() -> None:
    scores = np.random.default_rng(2).exponential(10.0, size=20)
    estimate = bootstrap_ci(scores, rng=3)
    assert scores.min() <= estimate.low <= estimate.value <= estimate.high <= scores.max()
    assert estimate.value == iqm(scores)
    wider = bootstrap_ci(scores, rng=3, level=0.99)
    assert wider.low <= estimate.low and wider.high >= estimate.high


def test_the_same_seed_gives_the_same_interval_and_the_generator_given_is_used() -> None:
    scores = np.random.default_rng(4).normal(size=15)
    assert bootstrap_ci(scores, rng=7) == bootstrap_ci(scores, rng=7)
    assert bootstrap_ci(scores, rng=7) == bootstrap_ci(scores, rng=np.random.default_rng(7))
    assert bootstrap_ci(scores, rng=8) != bootstrap_ci(scores, rng=9)
    generator = np.random.default_rng(5)
    bootstrap_ci(scores, rng=generator)
    assert generator.bit_generator.state != np.random.default_rng(5).bit_generator.state


def test_the_bootstrap_is_stratified_over_games() -> None:
    # Game 0 always scores 0, game 1 always 100: every stratified resample keeps 10 of each,
    # so the pooled mean is exactly 50. Pooled (unstratified) resampling would move it.
    table = np.column_stack([np.zeros(10), np.full(10, 100.0)])
    assert bootstrap_ci(table, np.mean, rng=0) == Estimate(50.0, 50.0, 50.0, "mean", "", 0.95)
    flat = bootstrap_ci(table.ravel(), np.mean, rng=0)
    assert flat.low < 40 and flat.high > 60


def test_the_interval_covers_the_true_value_about_95_percent_of_the_time() -> None:
    # Normal samples: the population IQM is the mean, 0. A percentile bootstrap of 20 runs
    # undercovers a little (~92-94%); 300 samples put the estimate within ~2.5 points.
    rng = np.random.default_rng(10)
    covered = 0
    for _ in range(300):
        estimate = bootstrap_ci(rng.normal(size=20), rng=rng, reps=1_000)
        covered += estimate.low <= 0.0 <= estimate.high
    assert 0.88 <= covered / 300 <= 0.99


def test_other_statistics_and_their_labels() -> None:
    scores = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert bootstrap_ci(scores, np.median, rng=0).value == 3.0
    assert bootstrap_ci(scores, np.median, rng=0).label == "median"
    assert bootstrap_ci(scores, np.mean, rng=0).value == 22.0


def test_ratio_of_two_samples() -> None:
    assert ratio_ci([4.0] * 5, [2.0] * 8, rng=0) == Estimate(2.0, 2.0, 2.0, "IQM ratio", "x")
    rng = np.random.default_rng(11)
    slow, fast = rng.normal(30, 3, size=20), rng.normal(10, 1, size=20)
    estimate = ratio_ci(slow, fast, rng=0)
    assert estimate.value == pytest.approx(iqm(slow) / iqm(fast))
    assert 2.4 < estimate.low < estimate.value < estimate.high < 3.6
    assert estimate.at_least(2.0) and not estimate.at_most(3.0)
    # the same samples swapped: the interval of the inverse
    inverse = ratio_ci(fast, slow, rng=0)
    assert inverse.value == pytest.approx(1 / estimate.value)


def test_a_ratio_with_unsolved_runs() -> None:
    course = unsolved_as_inf([10, 12, 11, 13, 9, 10, 12, 11])
    peer = unsolved_as_inf([20, None, 22, 21, 19, 23, 20, 22])  # one never solved
    estimate = ratio_ci(course, peer, rng=0)
    assert np.isfinite(estimate.value) and 0 <= estimate.low <= estimate.high < 1
    both = ratio_ci(unsolved_as_inf([None, None, 1]), unsolved_as_inf([None, None, 1]), rng=0)
    assert np.isnan(both.low) and not both.at_most(1.0) and not both.at_least(0.0)


def test_difference_of_two_samples() -> None:
    estimate = difference_ci([5.0, 6, 7, 8], [1.0, 2, 3, 4], np.mean, rng=0)
    assert estimate.value == 4.0 and estimate.label == "mean difference"
    assert 0 < estimate.low <= 4.0 <= estimate.high
    same = difference_ci([1.0, 2, 3, 4, 5, 6], [1.0, 2, 3, 4, 5, 6], rng=0)
    assert same.low < 0 < same.high


def test_printed_form() -> None:
    assert str(Estimate(26_040.0, 20_012.0, 31_400.0)) == "IQM 26,000 [95% CI 20,000-31,400]"
    assert str(Estimate(2.913, 1.52, 4.1, "IQM ratio", "x")) == (
        "IQM ratio 2.91x [95% CI 1.52-4.10x]"
    )
    assert str(Estimate(-0.5, -1.25, 0.25, "mean difference")) == (
        "mean difference -0.500 [95% CI -1.25 to 0.250]"
    )
    assert format_number(float("inf")) == "inf" and format_number(999.96) == "1,000"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: bootstrap_ci([1.0, float("nan"), 2.0], rng=0), ValueError, r"NaN at \(1, 0\)"),
        (lambda: bootstrap_ci([1.0], rng=0), ValueError, r"at least 2 runs.*\(1, 1\)"),
        (lambda: bootstrap_ci([], rng=0), ValueError, r"at least 2 runs.*\(0, 1\)"),
        (lambda: bootstrap_ci(np.zeros((2, 2, 2)), rng=0), ValueError, r"\(2, 2, 2\)"),
        (lambda: bootstrap_ci([1, 2], rng=0, level=1.5), ValueError, "got 1.5"),
        (lambda: bootstrap_ci([1, 2], rng=0, level=95), ValueError, "got 95"),
        (lambda: bootstrap_ci([1, 2], rng=0, reps=0), ValueError, "got 0"),
        (lambda: bootstrap_ci([1, 2], rng=None), TypeError, "got None"),  # type: ignore[arg-type]
        (lambda: bootstrap_ci([1, 2], rng=0.5), TypeError, "got 0.5"),  # type: ignore[arg-type]
        (lambda: ratio_ci(np.ones((3, 2)), np.ones((3, 1)), rng=0), ValueError, "2 and 1"),
        (lambda: iqm([]), ValueError, r"shape \(0,\)"),
    ],
)
def test_bad_input_is_refused_with_the_value(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
