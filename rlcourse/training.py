"""Pieces every training loop of the course shares.

Schedules, greedy evaluation, a progress bar, a live plot for notebooks, a CSV log, and
checkpoints that are written atomically and loaded safely (``weights_only=True``).
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
import torch

from rlcourse.files import atomic_write

T = TypeVar("T")

# --- configs -----------------------------------------------------------------------------


def field_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a dataclass's fields (CleanRL style), by field name,
    read from the source: the command lines show them in ``--help``."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, following in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def config_from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """Rebuild a config dataclass from ``dataclasses.asdict`` output (a checkpoint's config);
    unknown keys are an error that lists the known ones."""
    from dataclasses import fields

    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}; known: {sorted(known)}")
    return cls(**values)


# --- schedules ---------------------------------------------------------------------------


def linear_schedule(start: float, end: float, duration: int, step: int) -> float:
    """Go linearly from ``start`` to ``end`` over ``duration`` steps, then stay at ``end``.

    >>> [linear_schedule(1.0, 0.1, 10, t) for t in (0, 5, 10, 50)]
    [1.0, 0.55, 0.1, 0.1]
    """
    if duration <= 0 or step >= duration:
        return end
    return start + max(step, 0) / duration * (end - start)


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


def moving_average(values: Sequence[float], window: int = 100) -> np.ndarray:
    """Trailing mean of the last ``window`` values at each point (fewer at the start).

    NaNs (e.g. the loss of episodes before learning started) are skipped; a point whose
    window holds only NaNs stays NaN.

    >>> moving_average([1.0, 2.0, 3.0, 4.0], window=2).tolist()
    [1.0, 1.5, 2.5, 3.5]
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"moving_average takes a 1-D sequence, got shape {values.shape}")
    present = ~np.isnan(values)
    # Cumulative sums make every window O(1): sum of the window = csum[i] - csum[i - window].
    sums = np.concatenate([[0.0], np.cumsum(np.where(present, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(present)])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    window_counts = counts[ends] - counts[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(window_counts > 0, (sums[ends] - sums[starts]) / window_counts, np.nan)


# --- evaluation --------------------------------------------------------------------------


def evaluate(
    policy: Callable[[Any], Any],
    env: gym.Env,
    episodes: int,
    seed: int,
    max_steps: int | None = None,
    gamma: float = 1.0,
) -> np.ndarray:
    """Returns of ``episodes`` episodes played with ``policy(obs) -> action``.

    Episode ``i`` starts from ``env.reset(seed=seed + i)``: the same seed gives the same
    evaluation. For a DQN agent pass its greedy policy (``agent.greedy``). ``gamma < 1``
    gives discounted returns ``sum_t gamma^t r_t`` (the values a Q-network predicts).
    """
    if episodes <= 0:
        raise ValueError(f"episodes must be positive, got {episodes}")
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, steps = False, 0
        while not done and (max_steps is None or steps < max_steps):
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            returns[episode] += gamma**steps * float(reward)
            done = terminated or truncated
            steps += 1
    return returns


# --- logging -----------------------------------------------------------------------------


class CSVLogger:
    """Append rows of metrics to a CSV file (created with a header on first write)."""

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

    def write(self, **row: Any) -> None:
        unknown = set(row) - set(self.fields)
        if unknown:
            raise ValueError(f"unknown CSV columns {sorted(unknown)}; known: {self.fields}")
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.fields)
            if new:
                writer.writeheader()
            writer.writerow({k: _csv_value(row.get(k)) for k in self.fields})

    def truncate_after(self, step: int, step_field: str = "step") -> None:
        """Drop rows logged after ``step`` (a resumed run rewrites them)."""
        if not self.path.exists():
            return
        with self.path.open() as file:
            rows = [row for row in csv.DictReader(file) if float(row[step_field]) <= step]
        with self.path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(rows)


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
    return {
        key: np.array([float(row[key]) if row[key] != "" else np.nan for row in rows])
        for key in rows[0]
    }


class LivePlot:
    """Curves that redraw in place in a notebook (one output, no flicker), at most every
    ``every_seconds``. Outside a notebook it draws nothing.

    >>> plot = LivePlot(["episode_return", "loss"])
    >>> plot.add(100, episode_return=12.0, loss=0.5)
    >>> plot.data["episode_return"]
    [(100, 12.0)]
    """

    def __init__(
        self,
        metrics: Sequence[str],
        every_seconds: float = 2.0,
        smoothing: float = 0.1,
        unsmoothed: Sequence[str] = ("epsilon",),
    ) -> None:
        self.metrics = list(metrics)
        self.unsmoothed = set(unsmoothed)  # schedules are not noisy: no EWMA line for them
        self.every_seconds = every_seconds
        self.smoothing = smoothing
        self.data: dict[str, list[tuple[int, float]]] = {name: [] for name in self.metrics}
        self._handle: Any = None
        self._last_draw = 0.0
        self._enabled = _in_notebook()

    def add(self, step: int, **values: float | None) -> None:
        for name, value in values.items():
            if name in self.data and value is not None and np.isfinite(value):
                self.data[name].append((step, float(value)))
        if self._enabled and time.monotonic() - self._last_draw >= self.every_seconds:
            self.draw()

    def figure(self) -> Any:
        import matplotlib.pyplot as plt
        from matplotlib.ticker import EngFormatter

        figure, axes = plt.subplots(
            1, len(self.metrics), figsize=(4 * len(self.metrics), 3), squeeze=False
        )
        for ax, name in zip(axes[0], self.metrics, strict=True):
            points = self.data[name]
            if points:
                steps, values = zip(*points, strict=True)
                if name in self.unsmoothed:
                    ax.plot(steps, values, color="C0")
                else:
                    ax.plot(steps, values, alpha=0.35, color="C0")
                    ax.plot(steps, ewma(values, self.smoothing), color="C0")
            ax.set_title(name.replace("_", " "))
            ax.set_xlabel("step")
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 10k, not 10000
            ax.grid(alpha=0.3)
        figure.tight_layout()
        plt.close(figure)
        return figure

    def draw(self) -> None:
        """Redraw now (also called at the end of training for the final picture)."""
        if not self._enabled:
            return
        from IPython.display import display

        figure = self.figure()
        if self._handle is None:
            self._handle = display(figure, display_id=True)
        else:
            self._handle.update(figure)
        self._last_draw = time.monotonic()


class MetricLogger:
    """Per-episode return, length, mean loss and mean Q, with moving averages and plots.

    The Mario DDQN tutorial's ``MetricLogger`` on the course's pieces: call
    :meth:`log_step` after every env step (with the update's loss and mean Q when one
    happened) and :meth:`log_episode` at every episode end. Rows go to a CSV log
    (:class:`CSVLogger`) when ``path`` is given; :meth:`plot` draws each metric with its
    ``window``-episode moving average and saves the figure. :meth:`resume` continues a log
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
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive int, got {window!r}")
        self.window = window
        self.fields = list(fields or ["step", *self.EPISODE_METRICS, "eval_mean", "eval_std"])
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
        """Close the current episode: its row (also written to the CSV) with ``extra`` columns."""
        row = {
            "step": int(step),
            "episode_return": self._return,
            "episode_length": self._length,
            # Means over the episode's updates; None before learning starts.
            "loss": float(np.mean(self._losses)) if self._losses else None,
            "q_mean": float(np.mean(self._q_means)) if self._q_means else None,
        }
        for name in self.history:
            self.history[name].append(math.nan if row[name] is None else float(row[name]))
        row.update(extra)
        if self.csv:
            self.csv.write(**row)
        self._start_episode()
        return row

    def log_evaluation(self, step: int, mean: float, std: float, **extra: Any) -> None:
        """A greedy evaluation's mean and spread (a row of its own in the CSV)."""
        self.evaluations.append((int(step), float(mean), float(std)))
        if self.csv:
            self.csv.write(step=int(step), eval_mean=float(mean), eval_std=float(std), **extra)

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
                for s, m, d in zip(columns["step"][evals], columns["eval_mean"][evals],
                                   columns["eval_std"][evals], strict=True)
            ]  # fmt: skip

    def plot(
        self,
        path: str | os.PathLike | None = None,
        title: str | None = None,
        baselines: dict[str, float] | None = None,
    ) -> Any:
        """Each metric per episode (faint) and its moving average (bold), against env steps,
        plus a panel of the evaluations when there are any (their scores can be on another
        scale: Atari evaluations play the whole game, unclipped). ``baselines``: horizontal
        reference lines for the scores, e.g. ``{"random": 308}``.

        Saved (atomically) to ``path`` when given; returns the figure, which a notebook shows.
        """
        import matplotlib.pyplot as plt
        from matplotlib.ticker import EngFormatter

        panels = [*self.EPISODE_METRICS, *(["evaluation"] if self.evaluations else [])]
        figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
        steps = np.asarray(self.history["step"])
        titles = {
            "episode_return": "training episode return",
            "episode_length": "episode length (steps)",
            "loss": "mean loss",
            "q_mean": "mean predicted Q",
            "evaluation": "evaluation score",
        }
        for ax, name in zip(axes, panels, strict=True):
            if name == "evaluation":
                at, means, stds = (np.asarray(c) for c in zip(*self.evaluations, strict=True))
                ax.errorbar(at, means, yerr=stds, color="C1", marker="o", markersize=3,
                            capsize=2, label="evaluation (mean, std)")  # fmt: skip
            elif len(self.history[name]):
                ax.plot(steps, self.history[name], color="C0", alpha=0.3, linewidth=0.8)
                ax.plot(steps, self.moving_average(name), color="C0",
                        label=f"mean of last {self.window}")  # fmt: skip
            reference_panel = "evaluation" if self.evaluations else "episode_return"
            if name == reference_panel:
                for i, (label, value) in enumerate((baselines or {}).items()):
                    ax.axhline(
                        value, color=f"C{i + 2}", ls="--", lw=1, label=f"{label} ({value:g})"
                    )
            if name in ("episode_return", "evaluation") and ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
            ax.set_title(titles[name])
            ax.set_xlabel("env step")
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.grid(alpha=0.3)
        if title:
            figure.suptitle(title)
        figure.tight_layout()
        plt.close(figure)
        if path is not None:
            with atomic_write(path, suffix=".png") as temporary:
                figure.savefig(temporary, format="png", dpi=100)
        return figure


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_bar(total: int, description: str, enabled: bool = True) -> Any:
    """A ``tqdm.auto`` bar (a widget in notebooks, text in a terminal) counting steps."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="step", disable=not enabled,
                dynamic_ncols=True, mininterval=0.5)  # fmt: skip


# --- checkpoints -------------------------------------------------------------------------


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, or made for something else."""


def to_saveable(value: Any) -> Any:
    """NumPy arrays -> tensors, recursively, so ``weights_only=True`` can load the file."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, dict):
        return {key: to_saveable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_saveable(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` with ``torch.save`` atomically: a temporary file, then a rename.

    A crash mid-write leaves the previous checkpoint intact, never a half-written file.
    NumPy arrays in ``payload`` are stored as tensors (see :func:`to_saveable`).
    """
    path = Path(path)
    with atomic_write(path) as temporary:
        torch.save(to_saveable(payload), temporary)
    return path


def load_checkpoint(
    path: str | os.PathLike, expect: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check what it was made for.

    ``expect`` maps keys to required values, e.g. ``{"algo": "dqn", "env_id": "CartPole-v1"}``;
    a mismatch raises :class:`CheckpointError` saying what the file holds.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train one first, or check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(error).__name__}: {reason}). "
            "It may be truncated or not a checkpoint at all: delete it and save a new one."
        ) from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} holds a {type(payload).__name__}, not a checkpoint dict")
    for key, wanted in (expect or {}).items():
        found = payload.get(key, "<missing>")
        if found != wanted:
            raise CheckpointError(
                f"{path} was saved for {key}={found!r}, but {key}={wanted!r} is needed here"
            )
    return payload


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A Generator's state as plain data (128-bit PCG64 words as strings: weights_only-safe)."""
    return _ints_to_str(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = _str_to_ints(state)


def _ints_to_str(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _ints_to_str(item) for key, item in value.items()}
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _str_to_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _str_to_ints(item) for key, item in value.items()}
    return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else value


def iterate_with_progress(items: Iterable[Any], total: int, description: str) -> Iterable[Any]:
    """Wrap an iterable in a progress bar (for evaluation loops and the like)."""
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=description, dynamic_ncols=True)
