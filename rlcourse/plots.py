"""Figures of training runs: live curves in a notebook, a run's metrics, runs compared.

Nothing here is in a training loop: the loops log rows (:mod:`rlcourse.metrics`), these
functions draw them.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from rlcourse.config import check_positive_int
from rlcourse.files import atomic_write
from rlcourse.metrics import MetricLogger, ewma, read_run_log


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
        name
        for name in metrics.EPISODE_METRICS
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
            ax.errorbar(
                at,
                means,
                yerr=stds,
                color="C1",
                marker="o",
                markersize=3,
                capsize=2,
                label="evaluation (mean, std)",
            )
        elif len(metrics.history[name]):
            ax.plot(steps, metrics.history[name], color="C0", alpha=0.3, linewidth=0.8)
            ax.plot(
                steps,
                metrics.moving_average(name),
                color="C0",
                label=f"mean of last {metrics.window}",
            )
        reference_panel = "evaluation" if metrics.evaluations else "episode_return"
        if name == reference_panel:
            for i, (label, value) in enumerate((baselines or {}).items()):
                ax.axhline(value, color=f"C{i + 2}", ls="--", lw=1, label=f"{label} ({value:g})")
        if name in ("episode_return", "evaluation") and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.set_title(titles[name])
        ax.set_xlabel("env step")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.grid(alpha=0.3)
    return finish_figure(figure, title, path, dpi=100)


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
    for ax, xlabel in (
        (axes[0], "training minutes (evaluations excluded)"),
        (axes[1], "agent steps, millions"),
    ):
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
            axes[2].axhline(
                np.log(n_actions), color="gray", ls="--", lw=1, label=f"uniform: log {n_actions}"
            )
            axes[2].legend(fontsize=8, loc="upper right")
        axes[2].set_xlabel("training minutes")
        axes[2].set_ylabel("policy entropy (nats)")
        axes[2].grid(alpha=0.3)
    return finish_figure(figure, title, png_path, dpi=72)


def finish_figure(figure: Any, title: str | None, path: str | os.PathLike | None, dpi: int) -> Any:
    """Title, layout, save atomically (to ``path`` when given), close, and in a notebook show
    it now (:func:`show_once`); returns the figure."""
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        with atomic_write(path, suffix=".png") as temporary:
            figure.savefig(temporary, format="png", dpi=dpi)
    return show_once(figure)


def show_once(figure: Any) -> Any:
    """Close ``figure`` (pyplot forgets it) and, in a notebook, display it now, once.

    Every plotting helper of the package ends here, so its figure is shown wherever it is
    called: as a cell's last line, in a loop, before ``plt.show()`` or in the middle of a
    cell. The figure returned by a helper is not shown a second time as the cell's value; in a
    later cell it displays again like any figure. Outside a notebook nothing is displayed (a
    script saves it with ``path=`` or ``figure.savefig``), nor is a figure the package draws
    for itself (the training harness's ``metrics.png``).
    """
    import matplotlib.pyplot as plt

    plt.close(figure)  # not in pyplot's list: plt.show() and the cell's end skip it
    if _in_notebook() and not _drawn_for_the_package():
        from IPython import get_ipython
        from IPython.display import display

        display(figure)
        figure._ipython_display_ = _ShownIn(figure, get_ipython().execution_count)
    return figure


_PLOTTING_MODULES = ("rlcourse.plots", "rlcourse.studies.")


def _drawn_for_the_package() -> bool:
    """Whether the plotting helper was called by the package itself (the training harness
    saving ``metrics.png``, the command line): such a figure is a file, not shown."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(_PLOTTING_MODULES):
            return module.startswith("rlcourse.")
        frame = frame.f_back
    return False


class _ShownIn:
    """A figure's ``_ipython_display_`` once :func:`show_once` displayed it: nothing in the
    cell that showed it (its value would be the same picture again), the picture in any other."""

    def __init__(self, figure: Any, cell: int) -> None:
        self.figure, self.cell = figure, cell

    def __call__(self) -> None:
        from IPython import get_ipython
        from IPython.display import Image, display

        if get_ipython().execution_count == self.cell:
            return
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", bbox_inches="tight")
        display(Image(buffer.getvalue()))


_DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
"""Grid directions as (column, row) steps: rows grow downwards, as an image's."""


def _grid_axes(ax: Any, shape: tuple[int, int], lines: str = "white") -> tuple[Any, Any, bool]:
    import matplotlib.pyplot as plt

    rows, columns = shape
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(0.75 * columns + 1.6, 0.75 * rows + 0.8))
    ax.set_xticks(np.arange(columns))
    ax.set_yticks(np.arange(rows))
    ax.set_xticks(np.arange(-0.5, columns), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color=lines, linewidth=1.5)
    ax.grid(which="major", visible=False)
    ax.tick_params(which="both", length=0, labelsize=7)
    return ax.figure, ax, own


def _grid_shape(values_size: int, shape: Sequence[int]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"shape must be (rows, columns), got {shape!r}")
    rows, columns = (check_positive_int("shape", int(n)) for n in shape)
    if rows * columns != values_size:
        raise ValueError(f"a {rows}x{columns} grid has {rows * columns} cells, got {values_size}")
    return rows, columns


def _cell_label(ax: Any, row: int, column: int, text: str) -> None:
    box = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8}
    ax.text(
        column - 0.42,
        row - 0.42,
        text,
        ha="left",
        va="top",
        fontsize=7,
        fontweight="bold",
        color="black",
        bbox=box,
    )


def plot_grid_values(
    values: Sequence[float] | np.ndarray,
    shape: Sequence[int],
    policy: Sequence[int] | np.ndarray | None = None,
    actions: Sequence[str] = ("left", "down", "right", "up"),
    *,
    ax: Any = None,
    cell_labels: Sequence[str] | np.ndarray | None = None,
    no_arrow: Sequence[bool] | np.ndarray | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    fmt: str = ".2f",
    path: str | os.PathLike | None = None,
) -> Any:
    """A state-value table drawn on its grid: a heatmap with each value written in its cell
    and, if ``policy`` (one action per state) is given, the action as an arrow.

    ``actions`` names the direction of each action number (``"left"``, ``"down"``,
    ``"right"``, ``"up"``): FrozenLake's order is the default, CliffWalking's is
    :data:`rlcourse.agents.tabular.CLIFF_WALKING_ACTIONS`. ``cell_labels``: a short text
    per cell (FrozenLake's map letters S, F, H, G), drawn in its corner; ``no_arrow``: cells
    that get no arrow (holes, goal: nothing to choose there).

    With ``ax`` it draws there (a panel of your figure) and returns that figure; without,
    it makes its own, saved to ``path`` when given, shown in a notebook (:func:`show_once`)
    and returned.

    >>> figure = plot_grid_values(np.arange(4.0), (2, 2), policy=[2, 1, 2, 0])
    >>> len(figure.axes)  # the grid and its colour bar
    2
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    rows, columns = _grid_shape(values.size, shape)
    figure, ax, own = _grid_axes(ax, (rows, columns))
    grid = values.reshape(rows, columns)
    image = ax.imshow(grid, cmap=cmap)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    low, high = float(np.min(grid)), float(np.max(grid))
    middle = (low + high) / 2
    hidden = np.zeros(values.size, bool) if no_arrow is None else np.asarray(no_arrow, bool)
    if hidden.size != values.size:
        raise ValueError(f"no_arrow needs one flag per cell ({values.size}), got {hidden.size}")
    if policy is not None:
        moves = np.asarray(policy).reshape(-1)
        if moves.size != values.size:
            raise ValueError(f"policy needs one action per cell ({values.size}), got {moves.size}")
        unknown = [name for name in actions if name not in _DIRECTIONS]
        if unknown:
            raise ValueError(f"actions must be directions {sorted(_DIRECTIONS)}, got {unknown}")
    for state in range(values.size):
        row, column = divmod(state, columns)
        # Dark text on the bright end of the colour map (viridis: high values), light on the dark.
        colour = "black" if grid[row, column] > middle and high > low else "white"
        if policy is not None and not hidden[state]:
            dx, dy = _DIRECTIONS[actions[int(moves[state])]]
            ax.annotate(
                "",
                xy=(column + 0.3 * dx, row - 0.08 + 0.3 * dy),
                xytext=(column - 0.3 * dx, row - 0.08 - 0.3 * dy),
                arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.8, "mutation_scale": 12},
            )
        ax.text(
            column,
            row + 0.32,
            format(values[state], fmt),
            ha="center",
            va="center",
            fontsize=7,
            color=colour,
        )
        if cell_labels is not None:
            label = np.asarray(cell_labels).reshape(-1)[state]
            label = label.decode() if isinstance(label, bytes) else str(label)
            if label:
                _cell_label(ax, row, column, label)
    if title:
        ax.set_title(title, fontsize=10)
    if own:
        return finish_figure(figure, None, path, dpi=100)
    return figure


def plot_grid_path(
    paths: dict[str, Sequence[int]],
    shape: Sequence[int],
    *,
    ax: Any = None,
    shade: Sequence[bool] | np.ndarray | None = None,
    shade_label: str = "",
    cell_labels: Sequence[str] | np.ndarray | None = None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Paths on a grid, each a list of visited states (``state = row * columns + column``),
    drawn as a line through the cells' centres, one colour per path; the legend gives each
    path's number of steps. ``shade``: cells to colour (CliffWalking's cliff), named
    ``shade_label`` in the legend; ``cell_labels`` as in :func:`plot_grid_values`.

    A path's line is shifted a little per path, so paths that share cells stay visible.
    Returns the figure (see :func:`plot_grid_values` for ``ax`` and ``path``).

    >>> figure = plot_grid_path({"walk": [0, 1, 3]}, (2, 2), shade=[False, False, True, False])
    >>> figure.axes[0].get_legend() is not None
    True
    """
    import matplotlib.patches as mpatches

    if not paths:
        raise ValueError("plot_grid_path needs at least one path")
    rows, columns = _grid_shape(int(np.prod([int(n) for n in shape])), shape)
    figure, ax, own = _grid_axes(ax, (rows, columns), lines="#d0d0d0")
    background = np.zeros((rows, columns))
    handles = []
    if shade is not None:
        mask = np.asarray(shade, bool).reshape(-1)
        if mask.size != rows * columns:
            raise ValueError(f"shade needs one flag per cell ({rows * columns}), got {mask.size}")
        background = mask.reshape(rows, columns).astype(float)
        if shade_label:
            handles.append(mpatches.Patch(color="#7f7f7f", label=shade_label))
    ax.imshow(background, cmap="Greys", vmin=0, vmax=2)
    offsets = np.linspace(-0.12, 0.12, len(paths)) if len(paths) > 1 else [0.0]
    for index, ((label, states), offset) in enumerate(zip(paths.items(), offsets, strict=True)):
        states = [int(s) for s in states]
        if any(not 0 <= s < rows * columns for s in states):
            raise ValueError(f"path {label!r} leaves the {rows}x{columns} grid: {states}")
        rows_of, columns_of = np.divmod(np.asarray(states), columns)
        steps = len(states) - 1
        legend = f"{label} ({steps} step{'' if steps == 1 else 's'})"
        (line,) = ax.plot(
            columns_of + offset,
            rows_of + offset,
            "-o",
            color=f"C{index}",
            lw=2.5,
            ms=4,
            label=legend,
        )
        handles.append(line)
    if cell_labels is not None:
        for state, label in enumerate(np.asarray(cell_labels).reshape(-1)):
            label = label.decode() if isinstance(label, bytes) else str(label)
            if label:
                _cell_label(ax, *divmod(state, columns), label)
    ax.legend(
        handles=handles,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncol=len(handles),
        frameon=False,
    )
    if title:
        ax.set_title(title, fontsize=10)
    if own:
        return finish_figure(figure, None, path, dpi=100)
    return figure
