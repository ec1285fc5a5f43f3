"""Results that vary from run to run, told with their uncertainty: the interquartile mean
(IQM) and 95% percentile-bootstrap confidence intervals, stratified over games.

The method is rliable's (Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the
Statistical Precipice"), written here over NumPy alone:

* **IQM**: the mean of the middle 50% of the scores, all runs and games pooled: sorted, a
  quarter (rounded down, as in ``scipy.stats.trim_mean(x, 0.25)``) cut from each end. Less
  swayed by one lucky or unlucky run than the mean, less noisy than the median.
* **Stratified bootstrap**: scores are a ``(runs, games)`` table (or one game's ``(runs,)``).
  A resample draws, for each game on its own, as many runs as it has, with replacement; the
  statistic of each of ``reps`` resamples is computed, and the interval is the middle
  ``level`` of them (the percentile method): ``[q((1 - level) / 2), q((1 + level) / 2)]``,
  taken as order statistics of the resamples (no interpolation).
* **Two samples** (:func:`ratio_ci`, :func:`difference_ci`): each is resampled on its own
  (they need not have the same number of runs), and the interval is that of the ratio or the
  difference of their statistics.

A run that never reached a goal can count as ``np.inf`` (e.g. steps to solve): the IQM stays
finite while fewer than a quarter of the runs are infinite. NaN is refused. Every function
takes its random generator (or a seed) explicitly: the same seed gives the same interval.

>>> steps = [2_000, 26_000, 32_000, 31_000, 20_000, 18_000, 24_000, 29_000]
>>> iqm(steps)
24750.0
>>> print(bootstrap_ci(steps, rng=0))
IQM 24,800 [95% CI 16,000-30,000]
>>> bootstrap_ci(steps, rng=0).at_most(35_000)  # the whole interval is at most 35,000
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, overload

import numpy as np
from numpy.typing import ArrayLike

LEVEL = 0.95
"""The default confidence level."""
REPS = 10_000
"""The default number of bootstrap resamples (rliable uses 50,000; 10,000 moves the bounds
of a 20-run interval by well under 1% of its width)."""
_CHUNK = 2_000_000  # resampled scores held in memory at once


class Statistic(Protocol):
    """An aggregate of scores along an axis, as :func:`iqm`, ``np.median`` or ``np.mean``."""

    def __call__(self, scores: np.ndarray, /, *, axis: int) -> Any: ...


class Estimate(NamedTuple):
    """A point estimate and its confidence interval.

    >>> print(Estimate(26_000.0, 20_012.0, 31_400.0))
    IQM 26,000 [95% CI 20,000-31,400]
    >>> print(Estimate(2.913, 1.52, 4.1, label="IQM ratio", unit="x"))
    IQM ratio 2.91x [95% CI 1.52-4.10x]
    >>> Estimate(2.913, 1.52, 4.1).at_most(0.5), Estimate(2.913, 1.52, 4.1).at_least(1.5)
    (False, True)
    """

    value: float
    """The statistic of the sample itself."""
    low: float
    """The interval's lower bound."""
    high: float
    """The interval's upper bound."""
    label: str = "IQM"
    """What ``value`` is, for printing: "IQM", "median", "IQM ratio", ..."""
    unit: str = ""
    """Printed after each number: " s", "x", ""."""
    level: float = LEVEL
    """The confidence level of ``[low, high]``."""

    def __str__(self) -> str:
        low, high = format_number(self.low), format_number(self.high)
        dash = " to " if self.low < 0 or self.high < 0 else "-"
        return (
            f"{self.label} {format_number(self.value)}{self.unit} "
            f"[{self.level:.0%} CI {low}{dash}{high}{self.unit}]"
        )

    def at_most(self, bound: float) -> bool:
        """Whether the whole interval is at or below ``bound`` (a target "<= bound" is met
        only then). False when the interval is undefined (NaN)."""
        return bool(self.high <= bound)

    def at_least(self, bound: float) -> bool:
        """Whether the whole interval is at or above ``bound``. False when undefined (NaN)."""
        return bool(self.low >= bound)


def format_number(x: float) -> str:
    """Three significant digits, thousands separated.

    >>> [format_number(x) for x in (26_040.0, 1_234.5, 16.24, 2.913, 0.5234, 0.0, -3.0)]
    ['26,000', '1,230', '16.2', '2.91', '0.523', '0', '-3.00']
    >>> format_number(float("inf")), format_number(float("nan"))
    ('inf', 'nan')
    """
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    decimals = 2 - math.floor(math.log10(abs(x)))
    if decimals <= 0:
        return f"{round(x, decimals):,.0f}"
    return f"{x:,.{decimals}f}"


@overload
def iqm(scores: ArrayLike, axis: None = None) -> float: ...
@overload
def iqm(scores: ArrayLike, axis: int) -> np.ndarray: ...
def iqm(scores: ArrayLike, axis: int | None = None) -> float | np.ndarray:
    """The interquartile mean: the mean of the middle 50% of ``scores`` (all of them pooled
    when ``axis`` is None, as runs x games are in rliable; else along ``axis``). A quarter of
    the scores, rounded down, is cut from each end, as ``scipy.stats.trim_mean(x, 0.25)`` does.

    >>> iqm([1, 2, 3, 4, 5, 6, 7, 8])  # 2 cut from each end: the mean of 3, 4, 5, 6
    4.5
    >>> iqm([1, 2, 3, 4, 1000])  # 1 cut from each end: one outlier does not count
    3.0
    >>> iqm([[1, 10], [2, 20], [3, 30], [4, 40]])  # runs x games, pooled: 3, 4, 10, 20
    9.25
    >>> iqm([[1, 2, 3, 4], [10, 20, 30, 40]], axis=1)
    array([ 2.5, 25. ])
    """
    array = np.asarray(scores, dtype=float)
    if axis is None:
        array = array.reshape(-1)
        axis = 0
        pooled = True
    else:
        pooled = False
    n = array.shape[axis]
    if n == 0:
        raise ValueError(f"iqm of no scores: got an array of shape {array.shape}")
    cut = n // 4
    middle = np.partition(array, (cut, n - cut - 1), axis=axis) if cut else array
    middle = np.take(middle, np.arange(cut, n - cut), axis=axis)
    mean = middle.mean(axis=axis)
    return float(mean) if pooled else mean


def _as_rng(rng: np.random.Generator | int) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a np.random.Generator or an int seed (no hidden global state), got {rng!r}"
    )


def _as_table(scores: ArrayLike, name: str) -> np.ndarray:
    """``scores`` as a float (runs, games) table, checked."""
    table = np.array(scores, dtype=float)
    if table.ndim == 1:
        table = table[:, None]
    if table.ndim != 2:
        raise ValueError(f"{name} must be (runs,) or (runs, games), got shape {table.shape}")
    if table.shape[0] < 2 or table.shape[1] < 1:
        raise ValueError(
            f"{name} needs at least 2 runs (a bootstrap of one run has no spread), got shape "
            f"{table.shape}"
        )
    if np.isnan(table).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(table))[0])
        raise ValueError(
            f"{name} holds NaN at {where}: a score is missing (count a run that "
            "never got there as np.inf, or leave it out)"
        )
    return table


def _check(level: float, reps: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or reps < 1:
        raise ValueError(f"reps must be a positive int, got {reps!r}")


def _label(statistic: Statistic) -> str:
    if statistic is iqm:
        return "IQM"
    return str(getattr(statistic, "__name__", "statistic"))


def _resampled(
    table: np.ndarray, statistic: Statistic, reps: int, rng: np.random.Generator
) -> np.ndarray:
    """The statistic of ``reps`` stratified resamples of a (runs, games) table: each game's
    runs drawn with replacement, on their own."""
    runs, games = table.shape
    per_chunk = max(1, _CHUNK // table.size)
    values = []
    for start in range(0, reps, per_chunk):
        n = min(per_chunk, reps - start)
        rows = rng.integers(0, runs, size=(n, runs, games))
        sample = table[rows, np.arange(games)].reshape(n, runs * games)
        values.append(np.asarray(statistic(sample, axis=1), dtype=float))
    return np.concatenate(values)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile interval: order statistics, so infinite values give no NaN."""
    if np.isnan(values).any():  # e.g. inf / inf: the interval is undefined
        return math.nan, math.nan
    tail = (1 - level) / 2
    low = np.quantile(values, tail, method="lower")
    high = np.quantile(values, 1 - tail, method="higher")
    return float(low), float(high)


def bootstrap_ci(
    scores: ArrayLike,
    statistic: Statistic = iqm,
    *,
    rng: np.random.Generator | int,
    reps: int = REPS,
    level: float = LEVEL,
    unit: str = "",
) -> Estimate:
    """``statistic`` of ``scores`` (``(runs,)`` or ``(runs, games)``) with its ``level``
    percentile-bootstrap interval, the runs resampled within each game (stratified).

    ``statistic`` aggregates along an axis (:func:`iqm`, ``np.median``, ``np.mean``); all runs
    and games of a resample are pooled, as in rliable's aggregate IQM.

    >>> print(bootstrap_ci([10.0, 12.0, 11.0, 13.0, 50.0, 9.0], rng=1, unit=" s"))
    IQM 11.5 s [95% CI 9.75-31.0 s]
    >>> print(bootstrap_ci([[0, 100], [0, 100], [0, 100]], np.mean, rng=1))  # stratified
    mean 50.0 [95% CI 50.0-50.0]
    """
    _check(level, reps)
    table = _as_table(scores, "scores")
    with np.errstate(invalid="ignore"):
        value = float(statistic(table.reshape(1, -1), axis=1)[0])
        low, high = _interval(_resampled(table, statistic, reps, _as_rng(rng)), level)
    return Estimate(value, low, high, _label(statistic), unit, level)


def _two_sample(
    a: ArrayLike,
    b: ArrayLike,
    statistic: Statistic,
    how: str,
    rng: np.random.Generator | int,
    reps: int,
    level: float,
    unit: str,
) -> Estimate:
    _check(level, reps)
    first, second = _as_table(a, "the first sample"), _as_table(b, "the second sample")
    if first.shape[1] != second.shape[1]:
        raise ValueError(
            f"the two samples must cover the same games: got {first.shape[1]} and "
            f"{second.shape[1]} columns"
        )
    generator = _as_rng(rng)

    def combine(x: Any, y: Any) -> Any:
        return x / y if how == "ratio" else x - y

    with np.errstate(divide="ignore", invalid="ignore"):
        value = combine(
            statistic(first.reshape(1, -1), axis=1)[0], statistic(second.reshape(1, -1), axis=1)[0]
        )
        values = combine(
            _resampled(first, statistic, reps, generator),
            _resampled(second, statistic, reps, generator),
        )
        low, high = _interval(values, level)
    return Estimate(float(value), low, high, f"{_label(statistic)} {how}", unit, level)


def ratio_ci(
    numerator: ArrayLike,
    denominator: ArrayLike,
    statistic: Statistic = iqm,
    *,
    rng: np.random.Generator | int,
    reps: int = REPS,
    level: float = LEVEL,
    unit: str = "x",
) -> Estimate:
    """``statistic(numerator) / statistic(denominator)`` (e.g. the course's IQM wall time over
    SB3's) with its percentile-bootstrap interval; each sample is resampled on its own
    (stratified by game), so they may have different numbers of runs. A ratio of two infinite
    statistics is undefined: if any resample gives one, the interval is NaN (and neither
    :meth:`Estimate.at_most` nor :meth:`Estimate.at_least` holds).

    >>> print(ratio_ci([10, 11, 12, 13, 14], [20, 22, 24, 26, 28], rng=0))
    IQM ratio 0.500x [95% CI 0.412-0.600x]
    """
    return _two_sample(numerator, denominator, statistic, "ratio", rng, reps, level, unit)


def difference_ci(
    a: ArrayLike,
    b: ArrayLike,
    statistic: Statistic = iqm,
    *,
    rng: np.random.Generator | int,
    reps: int = REPS,
    level: float = LEVEL,
    unit: str = "",
) -> Estimate:
    """``statistic(a) - statistic(b)`` with its percentile-bootstrap interval, each sample
    resampled on its own (stratified by game): for scores that can be 0 or negative, where a
    ratio means little. An interval that holds 0 does not separate the two.

    >>> print(difference_ci([5, 6, 7, 8], [1, 2, 3, 4], np.mean, rng=0))
    mean difference 4.00 [95% CI 2.50-5.50]
    """
    return _two_sample(a, b, statistic, "difference", rng, reps, level, unit)


def unsolved_as_inf(values: Sequence[float | None]) -> np.ndarray:
    """Steps or seconds to solve as scores: a run that never solved (``None``) counts as
    ``np.inf`` (infinitely slow), so it weighs against its side without a made-up number.

    >>> unsolved_as_inf([2_000, None, 31_000])
    array([ 2000.,   inf, 31000.])
    """
    return np.array([np.inf if v is None else float(v) for v in values])
