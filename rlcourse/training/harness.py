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

import csv
import errno
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

import numpy as np
import torch

try:  # POSIX: a lock the system releases when the process dies
    import fcntl
except ImportError:  # Windows: no lock
    fcntl = None  # type: ignore[assignment]

from rlcourse.checkpoints import (
    CheckpointError,
    export_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from rlcourse.config import check_positive_int
from rlcourse.errors import RunDirectoryError, RunLockedError, TrainingDivergedError
from rlcourse.files import atomic_write, write_failure
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
    stop_signal: int | None = None
    """The signal that stopped the run (Ctrl-C's SIGINT, SIGTERM, SIGHUP), if one did."""


class LoopOptions(TypedDict):
    """The keyword arguments of a training loop that a :class:`TrainRequest` sets the same way
    for every loop (:meth:`TrainRequest.loop_options`); each is that request's field."""

    env_id: str
    eval_every: int | None
    eval_episodes: int
    out_dir: Path | None
    checkpoint_every: int | None
    resume: bool
    max_minutes: float | None
    progress: bool


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

    def loop_options(self) -> LoopOptions:
        """The keyword arguments every training loop (``train_dqn``, ``train_reinforce``,
        ``train_on_policy``) takes from a request: the env id, the evaluation and resume-point
        schedule, the run directory, the time budget and the progress bar. What only some
        loops take (``solve_score``, ``save_buffer``, the env options) is passed by name.

        >>> TrainRequest("CartPole-v1", None, 1000, eval_every=500).loop_options()["eval_every"]
        500
        """
        return LoopOptions(
            env_id=self.env_id,
            eval_every=self.eval_every,
            eval_episodes=self.eval_episodes,
            out_dir=self.out_dir,
            checkpoint_every=self.checkpoint_every,
            resume=self.resume,
            max_minutes=self.max_minutes,
            progress=self.progress,
        )


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
        self.resume_payload: dict[str, Any] | None = None
        self._lock: RunLock | None = None
        if self.out is not None:
            self._open_run_directory(self.out, resume, config)
        self.metrics = MetricLogger(
            self.out / "log.csv" if self.out else None, LOG_COLUMNS, window=metrics_window
        )
        saved: dict[str, Any] = self.resume_payload or {}
        state = saved.get("resume", {}).get("run", {})
        steps = int(saved.get("steps", 0))
        if self.resume_payload is not None:
            self.metrics.resume(steps)
            self.metrics.load_episode_state(state["episode_metrics"])
        self.episodes = int(state.get("episodes", 0))
        self.wall_seconds = float(state.get("wall_seconds", 0.0))
        self.best = state.get("best")
        self.live = LivePlot(list(live_metrics)) if live_plot else None
        self.bar = progress_bar(total_steps, f"{algo.upper()} {env_id}", progress, initial=steps)
        self.interrupted = False
        self.stop_signal: int | None = None
        self._clock: float | None = time.perf_counter()

    def _open_run_directory(self, out: Path, resume: bool, config: Any) -> None:
        """Lock ``out`` and check it before anything is written: a resume point to resume
        that the run would not shorten, and a log it can continue; or, for a new run, nothing
        that another program wrote. Then ``config.json``. A failure leaves ``out`` as it was."""
        check_run_directory(out)
        created = not out.exists()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunDirectoryError(
                f"cannot create the run directory {out} ({error.strerror or error}): "
                "choose another --out"
            ) from None
        if not created:  # refuse what can be refused before the lock file is made
            self._check_directory(out, resume)
        had_lock_file = (out / LOCK_FILE).exists()
        try:
            self._lock = RunLock(out)
            remove_stale_temporaries(out)
            self._check_directory(out, resume)  # again: now no other run can change it
            if resume:
                self.resume_payload = self._load_resume_point(config)
                self._check_not_shortened(out, int(self.resume_payload["steps"]))
            else:
                clear_for_new_run(out)
            with atomic_write(out / "config.json") as temporary:
                Path(temporary).write_text(
                    json.dumps(
                        {
                            "algo": self.algo,
                            "env_id": self.env_id,
                            "env_options": self.env_options,
                            "total_steps": self.total_steps,
                            "config": asdict(config),
                        },
                        indent=2,
                        default=list,
                    )
                    + "\n"
                )
        except BaseException:
            self.close()
            if not had_lock_file:  # leave the directory as it was found
                (out / LOCK_FILE).unlink(missing_ok=True)
            if created:
                _remove_if_empty(out)
            raise

    def _check_directory(self, out: Path, resume: bool) -> None:
        """Read-only and quick: ``out`` holds a resume point and a log the run can continue,
        or (a new run) no files that another program wrote."""
        if resume:
            if not (out / "checkpoint.pt").exists():
                raise CheckpointError(
                    f"nothing to resume in {out}: no checkpoint.pt (drop --resume to start)"
                )
            check_run_log(out / "log.csv")
        else:
            check_new_run_directory(out)

    def _check_not_shortened(self, out: Path, resume_step: int) -> None:
        """``--resume`` continues a run; it never cuts one short (which would replace its
        final weights by earlier ones and drop its log after the resume point)."""
        finished = out / "final.pt"
        end = resume_step
        if finished.exists():
            end = max(end, int(load_checkpoint(finished)["steps"]))
        if self.total_steps < end:
            raise RunDirectoryError(
                f"{out} holds a run at step {end:,}: --total-steps {self.total_steps:,} would "
                f"shorten it; give --total-steps >= {end:,} to continue it, or use another --out"
            )

    def close(self) -> None:
        """Let other runs write the run directory again (the loops call it at their end; a
        run abandoned without it keeps its lock until the process ends, or this process's
        next run in that directory takes it over)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

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
            self.stop_signal,
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
        if not weights_are_finite(payload["weights"]):
            raise TrainingDivergedError(
                "training diverged: the weights are no longer finite numbers (a learning rate "
                "too large?); the resume point was not overwritten"
            )
        save_checkpoint(self.out / "checkpoint.pt", payload)
        plot_metrics(self.metrics, self.out / "metrics.png", title=self._title())

    def finish(self, final_payload: dict[str, Any] | None) -> None:
        """Close the bar, draw the final picture, write ``final.pt`` (weights only), and
        unlock the run directory."""
        self.bar.close()
        if self.live:
            self.live.draw()
        if self.out is not None and final_payload is not None:
            export_checkpoint(final_payload, self.out / "final.pt", half=False)
            plot_metrics(self.metrics, self.out / "metrics.png", title=self._title())
        self.close()

    def _title(self) -> str:
        return f"{self.algo.upper()} {self.env_id}"

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """Ctrl-C, SIGTERM (what ``kill``, ``timeout``, schedulers and Colab send) and SIGHUP
        (a closed terminal) set :attr:`interrupted` instead of ending the process: the loop
        finishes its step, writes a resume point and returns (:attr:`stop_signal` says which
        signal; signals arrive only in the main thread). On leaving, the run directory is
        unlocked; a diverged loss says where the last resume point is."""
        previous: dict[int, Any] = {}

        def handler(signum: int, frame: Any) -> None:
            self.interrupted = True
            self.stop_signal = signum

        try:
            if threading.current_thread() is threading.main_thread():
                for signum in STOP_SIGNALS:
                    previous[signum] = signal.signal(signum, handler)
            yield
        except TrainingDivergedError as error:
            resume_point = self.out / "checkpoint.pt" if self.out is not None else None
            if resume_point is None or not resume_point.exists():
                raise
            raise TrainingDivergedError(
                f"{error}; the last resume point, {resume_point}, is intact"
            ) from None
        finally:
            for signum, handler_before in previous.items():
                signal.signal(signum, handler_before)
            self.close()


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


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that stop a run with a resume point."""

LOCK_FILE = ".rlcourse.lock"
"""The file a run holds a lock on while it writes its directory (it names the run's pid)."""


class RunLock:
    """An exclusive lock on a run directory while a run writes it: ``flock`` on its lock file,
    which names the run's pid (the system releases the lock when the process dies, so a
    killed run leaves no stale lock); the file is removed when the run lets go.

    Within one process a new lock on a directory takes over the one an earlier run there
    still holds (a notebook cell run again after an error): the lock keeps other processes
    out, not the process's own next run.
    """

    _held: dict[Path, RunLock] = {}
    """This process's locks, by run directory."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_FILE
        self._fd: int | None = None
        key = out.resolve()
        earlier = RunLock._held.pop(key, None)
        if earlier is not None and earlier._fd is not None:
            self._fd, earlier._fd = earlier._fd, None  # taken over, still locked
            RunLock._held[key] = self
            return
        for _ in range(10):  # a file removed by a run that just ended: open the new one
            fd = self._open(out)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            except OSError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunLockedError(
                    f"{out} is being written by another run (pid {holder}): wait for it to "
                    "end, or choose another --out"
                ) from None
            if same:
                break
            os.close(fd)
        else:
            raise RunLockedError(f"{out}: its lock file keeps changing; choose another --out")
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as error:
            os.close(fd)
            raise write_failure(self.path, error) from None
        self._fd = fd
        RunLock._held[key] = self

    def _open(self, out: Path) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise write_failure(self.path, error) from None
            raise RunDirectoryError(
                f"cannot use {out} as a run directory ({error.strerror or error}): "
                "choose another --out"
            ) from None

    def release(self) -> None:
        if self._fd is not None:
            RunLock._held.pop(self.path.parent.resolve(), None)
            self.path.unlink(missing_ok=True)  # while still held: no one else can have it
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def weights_are_finite(weights: dict[str, Any]) -> bool:
    """Whether every floating-point tensor of a state dict holds finite numbers only."""
    return all(
        bool(torch.isfinite(value).all())
        for value in weights.values()
        if isinstance(value, torch.Tensor) and value.is_floating_point()
    )


def check_run_log(log: Path) -> None:
    """A resumed run appends to ``log``: it must be a CSV log of a run (or absent)."""
    if not log.exists():
        return
    if not log.is_file():
        raise RunDirectoryError(f"{log} is not a file: move it away to resume the run")
    try:
        with log.open(newline="") as file:
            header = next(csv.reader(file), [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RunDirectoryError(
            f"{log} cannot be read as a run's log ({type(error).__name__}): move it away, or "
            "start the run again in another --out"
        ) from None
    if header != list(LOG_COLUMNS):
        raise RunDirectoryError(
            f"{log} has columns {header[:4]}{'...' if len(header) > 4 else ''}, not a run's "
            f"log: move it away, or start the run again in another --out"
        )


def is_run_directory(path: Path) -> bool:
    """Whether ``path`` is a run directory: it holds the ``config.json`` a run writes."""
    return _is_run_config(path / "config.json")


def _is_run_config(path: Path) -> bool:
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(config, dict) and {"algo", "env_id", "total_steps", "config"} <= set(config)


def check_new_run_directory(out: Path) -> None:
    """A new run may start in ``out``: it holds no run files, or those of an earlier run
    (its ``config.json`` says so), never files that another program wrote."""
    present = [name for name in RUN_FILES if (out / name).exists()]
    if not present:
        return
    if not _is_run_config(out / "config.json"):
        raise RunDirectoryError(
            f"{out} holds {', '.join(present)}, which no rlcourse run wrote (no run's "
            "config.json): choose another --out, or move those files away"
        )
    log = out / "log.csv"
    if log.exists():
        check_run_log(log)
    for name in present:
        if (out / name).is_dir():
            raise RunDirectoryError(
                f"{out / name} is a directory: move it away, or choose another --out"
            )


def clear_for_new_run(out: Path) -> None:
    """Make ``out`` ready for a new run: the files of an earlier run there (one that never
    reached a resume point, or one the Python API runs again) are removed, so that no
    ``best.pt`` or log of another run stays beside the new one's; files that no run wrote
    are refused, never overwritten (:func:`check_new_run_directory`)."""
    check_new_run_directory(out)
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)


def _remove_if_empty(out: Path) -> None:
    """Remove a run directory this run created and left empty (but for its lock file)."""
    try:
        (out / LOCK_FILE).unlink(missing_ok=True)
        out.rmdir()
    except OSError:
        pass
