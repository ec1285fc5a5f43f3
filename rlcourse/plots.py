"""Figures of training runs: live curves in a notebook, a run's metrics, runs compared.

Nothing here is in a training loop: the loops log rows (:mod:`rlcourse.metrics`), these
functions draw them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
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
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    plt.close(figure)
    if path is not None:
        with atomic_write(path, suffix=".png") as temporary:
            figure.savefig(temporary, format="png", dpi=100)
    return figure
