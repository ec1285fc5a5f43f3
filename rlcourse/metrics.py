"""Training metrics: CSV logs, per-episode statistics, moving averages.

:class:`MetricLogger` is the Mario DDQN tutorial's logger on the course's pieces; every
training loop writes its rows (one per finished training episode, one per evaluation) to a
``log.csv`` with the same columns (:data:`LOG_COLUMNS`) whatever the algorithm.
Drawing them is :mod:`rlcourse.plots`' job.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlcourse.config import check_positive_int
from rlcourse.files import atomic_write, write_failure

LOG_COLUMNS = [
    "step",
    "episode",
    "wall_seconds",
    "episode_return",
    "episode_length",
    "loss",
    "q_mean",
    "epsilon",
    "policy_loss",
    "value_loss",
    "entropy",
    "grad_norm",
    "eval_mean",
    "eval_std",
]
"""The columns of every run's ``log.csv``: a row per finished training episode (the
training columns) or per evaluation (``eval_mean``, ``eval_std``); cells an algorithm does
not measure stay empty (DQN has no entropy, A2C no epsilon)."""


def ewma(values: Sequence[float], alpha: float = 0.1) -> np.ndarray:
    """Exponentially weighted moving average, for smoothing noisy curves.

    >>> ewma([0.0, 10.0, 10.0], alpha=0.5).tolist()
    [0.0, 5.0, 7.5]
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    smoothed = np.empty(len(values), dtype=np.float64)
    running = math.nan
    for i, value in enumerate(values):
        running = value if i == 0 else alpha * value + (1 - alpha) * running
        smoothed[i] = running
    return smoothed


def moving_average(values: Sequence[float] | np.ndarray, window: int = 100) -> np.ndarray:
    """Trailing mean of the last ``window`` values at each point (fewer at the start).

    NaNs (e.g. the loss of episodes before learning started) are skipped; a point whose
    window holds only NaNs stays NaN.

    >>> moving_average([1.0, 2.0, 3.0, 4.0], window=2).tolist()
    [1.0, 1.5, 2.5, 3.5]
    """
    window = check_positive_int("window", window)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"moving_average takes a 1-D sequence, got shape {array.shape}")
    present = ~np.isnan(array)
    # Cumulative sums make every window O(1): sum of the window = csum[i] - csum[i - window].
    sums = np.concatenate([[0.0], np.cumsum(np.where(present, array, 0.0))])
    counts = np.concatenate([[0], np.cumsum(present)])
    ends = np.arange(1, len(array) + 1)
    starts = np.maximum(ends - window, 0)
    window_counts = counts[ends] - counts[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(window_counts > 0, (sums[ends] - sums[starts]) / window_counts, np.nan)


class CSVLogger:
    """Append rows of metrics to a CSV file (created with its header at once, so a run that
    logged nothing yet still has a readable log)."""

    def __init__(self, path: str | os.PathLike, fields: Sequence[str]) -> None:
        self.path = Path(path)
        self.fields = list(fields)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open() as file:
                header = next(csv.reader(file), [])
            if header != self.fields:
                raise ValueError(
                    f"{self.path} has columns {header}, this run logs {self.fields}: "
                    "use another output directory"
                )
        else:
            self._write_header()

    def _write_header(self) -> None:
        with atomic_write(self.path) as temporary, open(temporary, "w", newline="") as file:
            csv.writer(file).writerow(self.fields)

    def write(self, **row: Any) -> None:
        unknown = set(row) - set(self.fields)
        if unknown:
            raise ValueError(f"unknown CSV columns {sorted(unknown)}; known: {self.fields}")
        if not self.path.exists():  # deleted since: start again
            self._write_header()
        try:
            with self.path.open("a", newline="") as file:  # a log grows by whole rows
                writer = csv.DictWriter(file, fieldnames=self.fields)
                writer.writerow({k: _csv_value(row.get(k)) for k in self.fields})
        except OSError as error:  # a full disk: one line naming the log
            raise write_failure(self.path, error) from None

    def truncate_after(self, step: int, step_field: str = "step") -> None:
        """Drop rows logged after ``step`` (a resumed run rewrites them)."""
        if not self.path.exists():
            return
        with self.path.open(newline="") as file:
            rows = [row for row in csv.DictReader(file) if _step_of(row, step_field) <= step]
        # Atomically: a kill at this moment leaves the old log whole, never an empty one.
        with atomic_write(self.path) as temporary, open(temporary, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(rows)


def _step_of(row: dict[str, Any], step_field: str) -> float:
    """A row's step; a row cut short (a run killed mid-write) counts as after every step."""
    value = row.get(step_field)
    try:
        return float(value) if value not in (None, "") else math.inf
    except ValueError:
        return math.inf


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def read_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A CSV log as columns of floats (empty cells become NaN)."""
    with Path(path).open() as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return {}
    for line, row in enumerate(rows, start=2):
        if None in row.values() or None in row:
            raise ValueError(
                f"{path} line {line} has {len([v for v in row.values() if v is not None])} "
                f"values where the header names {len(rows[0])}: a row cut short (a run killed "
                "while writing it?); delete that line"
            )
    try:
        return {
            key: np.array([float(row[key]) if row[key] != "" else np.nan for row in rows])
            for key in rows[0]
        }
    except ValueError as error:
        raise ValueError(f"{path} holds a value that is not a number ({error})") from None


class MetricLogger:
    """Per-episode return, length, mean loss and mean Q, with moving averages and plots.

    The Mario DDQN tutorial's ``MetricLogger`` on the course's pieces: call
    :meth:`log_step` after every env step (with the update's loss and mean Q when one
    happened) and :meth:`log_episode` at every episode end. Rows go to a CSV log
    (:class:`CSVLogger`) when ``path`` is given; :func:`rlcourse.plots.plot_metrics` draws
    each metric with its ``window``-episode moving average. :meth:`resume` continues a log
    after a checkpoint. Evaluations (:meth:`log_evaluation`) share the CSV file.

    >>> metrics = MetricLogger(window=2)
    >>> for reward in (1.0, 1.0, 0.0):
    ...     metrics.log_step(reward, loss=0.5, q_mean=2.0)
    >>> row = metrics.log_episode(step=3)
    >>> row["episode_return"], row["episode_length"], row["loss"], row["q_mean"]
    (2.0, 3, 0.5, 2.0)
    >>> metrics.moving_average("episode_return").tolist()
    [2.0]
    """

    EPISODE_METRICS = ("episode_return", "episode_length", "loss", "q_mean")

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        fields: Sequence[str] | None = None,
        window: int = 100,
    ) -> None:
        self.window = check_positive_int("window", window)
        self.fields = list(fields or LOG_COLUMNS)
        missing = {"step", *self.EPISODE_METRICS} - set(self.fields)
        if missing:
            raise ValueError(f"a MetricLogger CSV needs the columns {sorted(missing)}")
        self.csv = CSVLogger(path, self.fields) if path is not None else None
        self.history: dict[str, list[float]] = {k: [] for k in ("step", *self.EPISODE_METRICS)}
        self.evaluations: list[tuple[int, float, float]] = []
        self._start_episode()

    def _start_episode(self) -> None:
        self._return, self._length = 0.0, 0
        self._losses: list[float] = []
        self._q_means: list[float] = []

    def log_step(
        self, reward: float, loss: float | None = None, q_mean: float | None = None
    ) -> None:
        """One env step of the current episode (``loss``/``q_mean``: the update's, if any)."""
        self._return += float(reward)
        self._length += 1
        if loss is not None:
            self._losses.append(float(loss))
        if q_mean is not None:
            self._q_means.append(float(q_mean))

    def log_episode(self, step: int, **extra: Any) -> dict[str, Any]:
        """Close the current episode: its row (also written to the CSV) with ``extra`` columns.

        ``extra`` may also give the episode's metrics directly (``episode_return=...``), for
        loops that count episodes themselves (parallel games).
        """
        row = {
            "step": int(step),
            "episode_return": self._return,
            "episode_length": self._length,
            # Means over the episode's updates; None before learning starts.
            "loss": float(np.mean(self._losses)) if self._losses else None,
            "q_mean": float(np.mean(self._q_means)) if self._q_means else None,
        }
        row.update(extra)
        for name in self.history:
            value = row[name]
            self.history[name].append(math.nan if value is None else float(value))
        if self.csv:
            self.csv.write(**row)
        self._start_episode()
        return row

    def log_evaluation(self, step: int, mean: float, std: float, **extra: Any) -> None:
        """A greedy evaluation's mean and spread (a row of its own in the CSV)."""
        self.evaluations.append((int(step), float(mean), float(std)))
        if self.csv:
            self.csv.write(step=int(step), eval_mean=float(mean), eval_std=float(std), **extra)

    def episode_state(self) -> dict[str, Any]:
        """The episode in progress (for a resume point taken in the middle of one)."""
        return {
            "return": self._return,
            "length": self._length,
            "losses": list(self._losses),
            "q_means": list(self._q_means),
        }

    def load_episode_state(self, state: dict[str, Any]) -> None:
        self._return, self._length = float(state["return"]), int(state["length"])
        self._losses = [float(x) for x in state["losses"]]
        self._q_means = [float(x) for x in state["q_means"]]

    def moving_average(self, name: str) -> np.ndarray:
        """The ``window``-episode trailing mean of one of :attr:`EPISODE_METRICS`."""
        if name not in self.EPISODE_METRICS:
            raise ValueError(f"unknown metric {name!r}; known: {list(self.EPISODE_METRICS)}")
        return moving_average(self.history[name], self.window)

    def resume(self, step: int) -> None:
        """Continue after a checkpoint at ``step``: later rows are dropped, earlier reloaded."""
        self.history = {k: [] for k in self.history}
        self.evaluations = []
        self._start_episode()
        if self.csv and self.csv.path.exists():
            self.csv.truncate_after(step)
            self._load(read_csv(self.csv.path))

    @classmethod
    def from_csv(cls, path: str | os.PathLike, window: int = 100) -> MetricLogger:
        """A finished run's metrics, read back from its CSV log (for plots; writes nothing)."""
        columns = read_csv(path)
        missing = {"step", *cls.EPISODE_METRICS} - set(columns)
        if columns and missing:
            raise ValueError(f"{path} is not a metrics log: no columns {sorted(missing)}")
        metrics = cls(window=window)
        metrics._load(columns)
        return metrics

    def _load(self, columns: dict[str, np.ndarray]) -> None:
        if not columns:
            return
        episodes = ~np.isnan(columns["episode_return"])
        for name in self.history:
            self.history[name] = columns[name][episodes].tolist()
        if "eval_mean" in columns:
            evals = ~np.isnan(columns["eval_mean"])
            self.evaluations = [
                (int(s), float(m), float(d))
                for s, m, d in zip(
                    columns["step"][evals],
                    columns["eval_mean"][evals],
                    columns["eval_std"][evals],
                    strict=True,
                )
            ]


_RUN_COLUMNS = ("step", "wall_seconds", "eval_mean", "eval_std")
_OLD_A2C_COLUMNS = {"steps": "step", "train_s": "wall_seconds", "eval_score": "eval_mean"}
"""The A2C logs written before the one-stack redesign (one row per evaluation, columns
``wall_s, train_s, steps, ..., eval_score, eval_std, ..., entropy``) under today's names."""


def read_run_log(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A run's ``log.csv`` as columns named as in :data:`LOG_COLUMNS`; the
    A2C logs of rlcourse < 0.2 (``steps``, ``train_s``, ``eval_score``, ...) are renamed.

    Raises ValueError for an empty file or one without the step, time and evaluation columns.
    """
    columns = read_csv(path)
    if not columns:
        raise ValueError(f"{path} has no rows yet")
    if "eval_score" in columns:
        columns = {_OLD_A2C_COLUMNS.get(name, name): values for name, values in columns.items()}
    missing = [name for name in _RUN_COLUMNS if name not in columns]
    if missing:
        raise ValueError(f"{path} is not a training log with evaluations: no columns {missing}")
    return columns
