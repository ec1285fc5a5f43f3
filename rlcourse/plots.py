"""Figures of training runs: live curves in a notebook, a run's metrics, runs compared.

Nothing here is in a training loop: the loops log rows (:mod:`rlcourse.metrics`), these
functions draw them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlcourse.files import atomic_write
from rlcourse.metrics import MetricLogger, ewma


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


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def plot_metrics(
    metrics: MetricLogger,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    baselines: dict[str, float] | None = None,
) -> Any:
    """A run's metrics: each per episode (faint) and its moving average (bold), against env steps,
    plus a panel of the evaluations when there are any (their scores can be on another
    scale: Atari evaluations play the whole game, unclipped). ``baselines``: horizontal
    reference lines for the scores, e.g. ``{"random": 308}``.

    Saved (atomically) to ``path`` when given; returns the figure, which a notebook shows.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    drawn = [
        name for name in metrics.EPISODE_METRICS
        if np.isfinite(np.asarray(metrics.history[name], dtype=float)).any()
    ]
    panels = [*drawn, *(["evaluation"] if metrics.evaluations else [])] or ["episode_return"]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
    axes = axes[0]
    steps = np.asarray(metrics.history["step"])
    titles = {
        "episode_return": "training episode return",
        "episode_length": "episode length (steps)",
        "loss": "mean loss",
        "q_mean": "mean predicted Q",
        "evaluation": "evaluation score",
    }
    for ax, name in zip(axes, panels, strict=True):
        if name == "evaluation":
            at, means, stds = (np.asarray(c) for c in zip(*metrics.evaluations, strict=True))
            ax.errorbar(at, means, yerr=stds, color="C1", marker="o", markersize=3,
                        capsize=2, label="evaluation (mean, std)")  # fmt: skip
        elif len(metrics.history[name]):
            ax.plot(steps, metrics.history[name], color="C0", alpha=0.3, linewidth=0.8)
            ax.plot(steps, metrics.moving_average(name), color="C0",
                    label=f"mean of last {metrics.window}")  # fmt: skip
        reference_panel = "evaluation" if metrics.evaluations else "episode_return"
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
    return _finish(figure, title, path, dpi=100)


_RUN_COLUMNS = ("step", "wall_seconds", "eval_mean", "eval_std")
_OLD_A2C_COLUMNS = {"steps": "step", "train_s": "wall_seconds", "eval_score": "eval_mean"}
"""The A2C logs written before the one-stack redesign (one row per evaluation, columns
``wall_s, train_s, steps, ..., eval_score, eval_std, ..., entropy``) under today's names."""


def read_run_log(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A run's ``log.csv`` as columns named as in :data:`rlcourse.metrics.LOG_COLUMNS`; the
    A2C logs of rlcourse < 0.2 (``steps``, ``train_s``, ``eval_score``, ...) are renamed.

    Raises ValueError for an empty file or one without the step, time and evaluation columns.
    """
    from rlcourse.metrics import read_csv

    columns = read_csv(path)
    if not columns:
        raise ValueError(f"{path} has no rows yet")
    if "eval_score" in columns:
        columns = {_OLD_A2C_COLUMNS.get(name, name): values for name, values in columns.items()}
    missing = [name for name in _RUN_COLUMNS if name not in columns]
    if missing:
        raise ValueError(f"{path} is not a training log with evaluations: no columns {missing}")
    return columns


def plot_runs(
    csv_paths: str | os.PathLike | Sequence[str | os.PathLike],
    png_path: str | os.PathLike | None = None,
    labels: Sequence[str] | None = None,
    *,
    target: float | None = None,
    budget_minutes: float | None = None,
    n_actions: int | None = None,
    title: str | None = None,
) -> Any:
    """Runs compared: evaluation score (mean, std band) against training minutes and against
    agent steps, and the policy's entropy when logged (A2C), one colour per run.

    ``csv_paths``: the runs' ``log.csv`` files (today's columns or the old A2C ones, see
    :func:`read_run_log`), labelled with ``labels`` (default: the run folders' names).
    ``target``: a dashed score line; ``budget_minutes``: a dotted time line; ``n_actions``:
    the entropy of the uniform policy, ``log(n_actions)``, as a dashed line.

    Saved (atomically) to ``png_path`` when given; returns the figure.
    """
    import matplotlib.pyplot as plt

    if isinstance(csv_paths, (str, os.PathLike)):
        csv_paths = [csv_paths]
    paths = list(csv_paths)
    if not paths:
        raise ValueError("plot_runs needs at least one log")
    labels = list(labels) if labels is not None else [Path(p).parent.name for p in paths]
    if len(labels) != len(paths):
        raise ValueError(f"{len(paths)} logs but {len(labels)} labels")
    logs = [read_run_log(path) for path in paths]
    with_entropy = any(np.isfinite(log.get("entropy", [np.nan])).any() for log in logs)
    n_panels = 3 if with_entropy else 2
    figure, axes = plt.subplots(1, n_panels, figsize=(4.7 * n_panels, 3.8), squeeze=False)
    axes = axes[0]
    for index, (log, label) in enumerate(zip(logs, labels, strict=True)):
        color = f"C{index}"
        evals = np.isfinite(log["eval_mean"])
        mean, std = log["eval_mean"][evals], np.nan_to_num(log["eval_std"][evals])
        minutes = log["wall_seconds"] / 60
        for ax, x in ((axes[0], minutes[evals]), (axes[1], log["step"][evals] / 1e6)):
            ax.plot(x, mean, marker="o", ms=3, color=color, label=label)
            ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15)
        if with_entropy and "entropy" in log:
            measured = np.isfinite(log["entropy"])
            axes[2].plot(minutes[measured], log["entropy"][measured], color=color)
    for ax, xlabel in ((axes[0], "training minutes (evaluations excluded)"),
                       (axes[1], "agent steps, millions")):  # fmt: skip
        if target is not None:
            ax.axhline(target, color="gray", ls="--", lw=1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("evaluation score (mean ± std)")
        ax.grid(alpha=0.3)
    if budget_minutes:
        axes[0].axvline(budget_minutes, color="gray", ls=":", lw=1)
    axes[0].legend(fontsize=8, loc="upper left")
    if with_entropy:
        if n_actions:
            axes[2].axhline(np.log(n_actions), color="gray", ls="--", lw=1,
                            label=f"uniform: log {n_actions}")  # fmt: skip
            axes[2].legend(fontsize=8, loc="upper right")
        axes[2].set_xlabel("training minutes")
        axes[2].set_ylabel("policy entropy (nats)")
        axes[2].grid(alpha=0.3)
    return _finish(figure, title, png_path, dpi=72)


def _finish(figure: Any, title: str | None, path: str | os.PathLike | None, dpi: int) -> Any:
    """Title, layout, close (a notebook shows the returned figure once), save atomically."""
    import matplotlib.pyplot as plt

    if title:
        figure.suptitle(title)
    figure.tight_layout()
    plt.close(figure)
    if path is not None:
        with atomic_write(path, suffix=".png") as temporary:
            figure.savefig(temporary, format="png", dpi=dpi)
    return figure
