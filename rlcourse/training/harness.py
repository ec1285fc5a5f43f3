"""The run harness under every training loop: files, schedule, progress, exact resume.

A run directory holds, whatever the algorithm:

* ``config.json``: the algorithm, env id and options, hyperparameters, step budget;
* ``log.csv``: one row per finished training episode and per evaluation, with the same
  columns for every algorithm (:data:`rlcourse.metrics.LOG_COLUMNS`);
* ``checkpoint.pt``: the resume point (every ``checkpoint_every`` steps, and on Ctrl-C);
* ``best.pt``: the weights of the best evaluation so far; ``final.pt``: the final weights;
* ``metrics.png``: the run's curves (:func:`rlcourse.plots.plot_metrics`).

Evaluations happen every ``eval_every`` agent steps. Resuming is exact: a run interrupted
(even by SIGKILL) and resumed from ``checkpoint.pt`` ends with the same weights, bit for bit
on CPU, as one that was never interrupted. Besides the agent's state, a resume point keeps
each game in progress as its seed and the actions played since it started
(:class:`ResumableGame`); resuming replays them, which puts the emulator, the wrappers and
their random generators back where they were.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rlcourse.checkpoints import (
    CheckpointError,
    export_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from rlcourse.config import check_positive_int
from rlcourse.errors import RunDirectoryError
from rlcourse.files import atomic_write
from rlcourse.metrics import LOG_COLUMNS, MetricLogger
from rlcourse.plots import LivePlot, plot_metrics
from rlcourse.resume import ResumableGame

__all__ = ["Prepared", "ResumableGame", "Run", "TrainRequest", "TrainResult", "progress_bar"]


class TrainResult(NamedTuple):
    """What a training run returns (every loop)."""

    agent: Any
    """The trained agent."""
    evaluations: list[tuple[int, float, float]]
    """``(step, mean, std)`` of each evaluation."""
    solved_at_step: int | None
    """First step at which an evaluation reached ``solve_score`` (None if never)."""
    metrics: MetricLogger
    """Per-episode return, length, loss, ... with moving averages (:mod:`rlcourse.metrics`)."""
    interrupted: bool
    """True when Ctrl-C stopped the run (a resume point was written)."""
    wall_seconds: float
    """Training time, evaluations excluded."""


class TrainRequest(NamedTuple):
    """A training run asked for by env id and config (the command line's ``rlcourse train``):
    what :attr:`rlcourse.registry.Algorithm.prepare` turns into an agent, its games and a
    loop to run."""

    env_id: str
    """The game, e.g. ``"ALE/KungFuMaster-v5"``."""
    config: Any
    """The algorithm's config dataclass."""
    total_steps: int
    """Agent steps to train for (summed over parallel games)."""
    env_options: dict[str, Any] = {}
    """How the env is made beyond its id (e.g. ``{"actions": "right_only"}``)."""
    out_dir: Path | None = None
    """The run directory (None: nothing is written)."""
    resume: bool = False
    """Continue from ``out_dir/checkpoint.pt``."""
    eval_every: int | None = None
    """Agent steps between evaluations (None: none)."""
    eval_episodes: int = 10
    """Games per evaluation."""
    checkpoint_every: int | None = None
    """Agent steps between resume points."""
    max_minutes: float | None = None
    """Stop after this much training time (evaluations excluded)."""
    solve_score: float | None = None
    """Stop at the first evaluation whose mean reaches this (algorithms that support it)."""
    save_buffer: bool = True
    """Off-policy agents: keep the replay memory in resume points."""
    progress: bool = True
    """Show a progress bar."""


class Prepared(NamedTuple):
    """An agent made for a :class:`TrainRequest`, and the loop that trains it."""

    agent: Any
    """The new agent (its ``device`` says where it trains)."""
    train: Callable[[], TrainResult]
    """Runs the training loop to its end."""


Checkpointer = Callable[..., dict[str, Any]]
"""A loop's ``checkpoint(resume_point=False)``: the agent's payload, with the loop's state in
a resume point."""


def progress_bar(total: int, description: str, enabled: bool = True, initial: int = 0) -> Any:
    """A ``tqdm.auto`` bar (a widget in notebooks, text in a terminal) counting steps."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=description,
        unit="step",
        disable=not enabled,
        dynamic_ncols=True,
        mininterval=0.5,
    )


class Run:
    """The files, schedule, progress bar and live plot of one training run.

    The loops (:func:`~rlcourse.training.train_dqn`, :func:`~rlcourse.training.train_a2c`,
    :func:`~rlcourse.training.train_reinforce`) go on while :meth:`running`, and call
    :meth:`log_episode`, :meth:`evaluation_due` / :meth:`evaluate`, :meth:`checkpoint_due` /
    :meth:`save_resume_point` and :meth:`end`; everything a run writes is written here.
    ``out_dir=None``: nothing is written (a notebook's quick run). ``max_minutes``: the run
    stops after this much training time (evaluations excluded; earlier sessions of a resumed
    run count). ``solve_score``: it stops at the first evaluation whose mean reaches it.
    """

    def __init__(
        self,
        *,
        algo: str,
        env_id: str,
        env_options: dict[str, Any] | None,
        config: Any,
        total_steps: int,
        out_dir: str | Path | None = None,
        resume: bool = False,
        eval_every: int | None = None,
        eval_episodes: int = 10,
        checkpoint_every: int | None = None,
        progress: bool = True,
        live_plot: bool = False,
        live_metrics: tuple[str, ...] = ("episode_return", "loss"),
        metrics_window: int = 100,
        max_minutes: float | None = None,
        solve_score: float | None = None,
    ) -> None:
        self.algo, self.env_id = algo, env_id
        self.max_minutes = max_minutes
        self.solve_score = solve_score
        self.solved_at: int | None = None
        self.env_options = dict(env_options or {})
        self.total_steps = check_positive_int("total_steps", total_steps)
        self.eval_every = _optional_count("eval_every", eval_every)
        self.eval_episodes = check_positive_int("eval_episodes", eval_episodes)
        self.checkpoint_every = _optional_count("checkpoint_every", checkpoint_every)
        self.out = Path(out_dir) if out_dir is not None else None
        if resume and self.out is None:
            raise ValueError("resume=True needs out_dir: the run directory to resume from")
        if self.out is not None:
            check_run_directory(self.out)
        self.resume_payload: dict[str, Any] | None = None
        if resume:
            self.resume_payload = self._load_resume_point(config)
        elif self.out is not None:
            for name in ("log.csv", "checkpoint.pt"):  # a new run: a new log, no stale resume point
                (self.out / name).unlink(missing_ok=True)
        if self.out is not None:
            try:
                self.out.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise RunDirectoryError(
                    f"cannot create the run directory {self.out} ({error.strerror or error}): "
                    "choose another --out"
                ) from None
            remove_stale_temporaries(self.out)
            with atomic_write(self.out / "config.json") as temporary:
                Path(temporary).write_text(
                    json.dumps(
                        {
                            "algo": algo,
                            "env_id": env_id,
                            "env_options": self.env_options,
                            "total_steps": total_steps,
                            "config": asdict(config),
                        },
                        indent=2,
                        default=list,
                    )
                    + "\n"
                )
        self.metrics = MetricLogger(
            self.out / "log.csv" if self.out else None, LOG_COLUMNS, window=metrics_window
        )
        state = (self.resume_payload or {}).get("resume", {}).get("run", {})
        steps = int((self.resume_payload or {}).get("steps", 0))
        if self.resume_payload is not None:
            self.metrics.resume(steps)
            self.metrics.load_episode_state(state["episode_metrics"])
        self.episodes = int(state.get("episodes", 0))
        self.wall_seconds = float(state.get("wall_seconds", 0.0))
        self.best = state.get("best")
        self.live = LivePlot(list(live_metrics)) if live_plot else None
        self.bar = progress_bar(total_steps, f"{algo.upper()} {env_id}", progress, initial=steps)
        self.interrupted = False
        self._clock: float | None = time.perf_counter()

    # resume --------------------------------------------------------------------------------

    def _load_resume_point(self, config: Any) -> dict[str, Any]:
        assert self.out is not None
        path = self.out / "checkpoint.pt"
        if not path.exists():
            raise CheckpointError(
                f"nothing to resume in {self.out}: no checkpoint.pt (drop --resume to start)"
            )
        payload = load_checkpoint(path, expect={"algo": self.algo, "env_id": self.env_id})
        if "resume" not in payload:
            raise CheckpointError(f"{path} holds weights only, not a resume point")
        saved, given = payload["config"], _plain(asdict(config))
        differ = sorted(k for k in given if k != "extra" and _plain(saved.get(k)) != given[k])
        if differ:
            raise CheckpointError(
                f"{path} was trained with other hyperparameters ("
                + ", ".join(f"{k}={saved.get(k)!r} here {given[k]!r}" for k in differ)
                + "): resume with the same options, or start a new run in another directory"
            )
        if payload["env_options"] != _plain(self.env_options):
            raise CheckpointError(
                f"{path} was trained with env options {payload['env_options']}, not "
                f"{self.env_options}: resume with the same options"
            )
        return payload

    def run_state(self) -> dict[str, Any]:
        """The harness's part of a resume point."""
        return {
            "episodes": self.episodes,
            "wall_seconds": self.training_time(),
            "best": self.best,
            "episode_metrics": self.metrics.episode_state(),
        }

    # the schedule ----------------------------------------------------------------------------

    @staticmethod
    def _crossed(every: int | None, before: int, now: int) -> bool:
        return every is not None and now // every > before // every

    def evaluation_due(self, before: int, now: int) -> bool:
        """Has the step count crossed a multiple of ``eval_every`` (from ``before`` to ``now``)?"""
        return self._crossed(self.eval_every, before, now)

    def checkpoint_due(self, before: int, now: int) -> bool:
        return self.out is not None and self._crossed(self.checkpoint_every, before, now)

    # what the loops report ---------------------------------------------------------------------

    def training_time(self) -> float:
        """Seconds of training so far (earlier sessions included, evaluations excluded)."""
        if self._clock is None:  # paused
            return self.wall_seconds
        return self.wall_seconds + time.perf_counter() - self._clock

    def pause_clock(self) -> None:
        """Stop counting training time (an evaluation starts)."""
        self.wall_seconds = self.training_time()
        self._clock = None

    def resume_clock(self) -> None:
        self._clock = time.perf_counter()

    def log_episode(self, step: int, **values: Any) -> dict[str, Any]:
        """A finished training episode: a CSV row, the live plot, the progress bar."""
        self.episodes += 1
        row = self.metrics.log_episode(
            step, episode=self.episodes, wall_seconds=self.training_time(), **values
        )
        if self.live:
            self.live.add(step, **{k: row.get(k) for k in self.live.metrics})
        returns = self.metrics.history["episode_return"][-10:]
        self.bar.set_postfix(ret=f"{np.mean(returns):.1f}", refresh=False)
        return row

    def out_of_time(self) -> bool:
        """Has the run trained for ``max_minutes``?"""
        return self.max_minutes is not None and self.training_time() >= self.max_minutes * 60

    def running(self, steps: int) -> bool:
        """Should the loop go on, ``steps`` agent steps into the run? Not once the step budget
        or the time budget is spent, Ctrl-C was pressed, or ``solve_score`` was reached."""
        return (
            steps < self.total_steps
            and not self.interrupted
            and not self.out_of_time()
            and self.solved_at is None
        )

    def evaluate(
        self, step: int, play: Callable[[], np.ndarray], best_checkpoint: Checkpointer
    ) -> np.ndarray:
        """An evaluation, its clock paused: ``play()`` gives the scores, which are logged
        (:meth:`log_evaluation`) and compared with ``solve_score``."""
        self.pause_clock()
        scores = play()
        self.log_evaluation(step, scores, best_checkpoint)
        self.resume_clock()
        if self.solve_score is not None and scores.mean() >= self.solve_score:
            self.solved_at = step
        return scores

    def end(self, agent: Any, checkpoint: Checkpointer) -> TrainResult:
        """The run's last act: a resume point if Ctrl-C stopped it, else ``final.pt``; the
        final picture; the :class:`TrainResult`."""
        if self.interrupted:
            self.save_resume_point(checkpoint(resume_point=True))
        self.pause_clock()
        self.finish(None if self.interrupted else checkpoint())
        return TrainResult(
            agent,
            self.metrics.evaluations,
            self.solved_at,
            self.metrics,
            self.interrupted,
            self.wall_seconds,
        )

    def log_evaluation(self, step: int, scores: np.ndarray, best_checkpoint: Any) -> bool:
        """An evaluation's scores: a CSV row, and ``best.pt`` (``best_checkpoint()`` makes
        its payload) when the mean is the best so far. Returns whether it was."""
        mean, std = float(np.mean(scores)), float(np.std(scores))
        better = self.best is None or mean > self.best
        if better:
            self.best = mean
            if self.out is not None:
                export_checkpoint(best_checkpoint(), self.out / "best.pt", half=False)
        self.metrics.log_evaluation(
            step, mean, std, episode=self.episodes, wall_seconds=self.training_time()
        )
        self.bar.set_postfix(eval=f"{mean:.1f}")
        return better

    def advance(self, steps: int) -> None:
        self.bar.update(steps)

    def save_resume_point(self, payload: dict[str, Any]) -> None:
        """Write ``checkpoint.pt`` (atomically) and redraw ``metrics.png``."""
        if self.out is None:
            return
        save_checkpoint(self.out / "checkpoint.pt", payload)
        plot_metrics(self.metrics, self.out / "metrics.png", title=self._title())

    def finish(self, final_payload: dict[str, Any] | None) -> None:
        """Close the bar, draw the final picture, write ``final.pt`` (weights only)."""
        self.bar.close()
        if self.live:
            self.live.draw()
        if self.out is not None and final_payload is not None:
            export_checkpoint(final_payload, self.out / "final.pt", half=False)
            plot_metrics(self.metrics, self.out / "metrics.png", title=self._title())

    def _title(self) -> str:
        return f"{self.algo.upper()} {self.env_id}"

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """Ctrl-C sets :attr:`interrupted` instead of raising: the loop finishes its step,
        writes a resume point and returns. (Only in the main thread, where signals arrive.)"""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            self.interrupted = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def _optional_count(name: str, value: int | None) -> int | None:
    return None if value is None else check_positive_int(name, value)


def _plain(value: Any) -> Any:
    """Tuples as lists, as a checkpoint gives them back."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


RUN_FILES = ("config.json", "log.csv", "checkpoint.pt", "best.pt", "final.pt", "metrics.png")
"""What a run directory holds."""


def check_run_directory(out: Path) -> None:
    """Fail before training, not after, when the run directory cannot be one."""
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise RunDirectoryError(
                    f"cannot use {out} as a run directory: {parent} is a file; choose another --out"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise RunDirectoryError(
                    f"cannot use {out} as a run directory: {parent} is not writable; choose "
                    "another --out"
                )
            break
    if out.exists() and not out.is_dir():
        raise RunDirectoryError(f"{out} is a file, not a run directory: choose another --out")


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Delete what saves killed mid-write left (``.checkpoint.pt.*.tmp``, ...): the files
    they were writing are intact, the temporaries are garbage."""
    stale = [
        path
        for path in out.iterdir()
        if path.is_file() and any(path.name.startswith(f".{name}.") for name in RUN_FILES)
    ]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
