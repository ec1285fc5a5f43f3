"""An ablation: runs that add one idea at a time, their curves and their final scores.

Lesson 07 builds data-efficient DQN idea by idea and shows what each one buys, same game,
same 100k agent steps, same seed (``bench/dqn_100k_ablation.py`` trains the runs and
writes the two CSV files this module reads; both ship in :mod:`rlcourse.pretrained`):

- the log: one row per training episode, ``variant, step, episode_return, wall_seconds``;
  with an ``eval_mean`` column when the runs' evaluations during training are kept as well
  (one row per evaluation, its ``episode_return`` empty; ``plot_ablation(...,
  curves="evaluations")`` draws them, for methods whose training returns measure different
  things, e.g. clipped against raw rewards);
- the scores: one row per variant, ``variant, label, steps, minutes, mean, std, scores,
  command`` (``scores``: every evaluation game's score, space-separated).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from rlcourse.episodes import TEST_SEED
from rlcourse.evaluation import evaluate_checkpoint
from rlcourse.files import atomic_write
from rlcourse.metrics import moving_average, read_csv
from rlcourse.plots import finish_figure
from rlcourse.registry import load_policy
from rlcourse.stats import bootstrap_ci, difference_ci, iqm
from rlcourse.value_bias import ValueBiasRecorder

LOG_FIELDS = ("variant", "step", "episode_return", "wall_seconds")
EVAL_FIELD = "eval_mean"
# A variant's evaluations during training: these columns of its run's log.
EVAL_COLUMNS = ("step", "wall_seconds", EVAL_FIELD)
# Seeds a configuration needs before its interval over seeds, or a comparison, is given.
MIN_SEEDS = 3
SCORE_FIELDS = ("variant", "label", "steps", "minutes", "mean", "std", "scores", "command")


@dataclass
class Variant:
    """One run of an ablation."""

    name: str
    """Short name, e.g. 'nstep'."""
    label: str
    """What it adds, for figures, e.g. '+ 10-step returns'."""
    steps: int
    """Agent steps it trained for."""
    minutes: float
    """Training wall time, minutes."""
    scores: np.ndarray
    """The evaluation games' scores."""
    command: str
    """The command that trained it."""
    log: dict[str, np.ndarray] = field(default_factory=dict)
    """Training episodes: ``step``, ``episode_return``, ``wall_seconds`` columns (empty for
    a baseline that does not train, such as random play)."""
    value_bias: Any = None
    """The overestimation measured in the same evaluation games
    (:class:`~rlcourse.value_bias.ValueBias`), when asked for (``evaluate_run``)."""
    evaluations: dict[str, np.ndarray] = field(default_factory=dict)
    """The evaluations during training: ``step``, ``wall_seconds`` (training time so far)
    and ``eval_mean`` (the mean score of its games) columns; empty when not kept."""


def _write_rows(path: str | os.PathLike, header: Sequence[str], rows: Any) -> None:
    with atomic_write(path, suffix=".csv") as temporary, open(temporary, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_ablation(
    variants: Sequence[Variant], log_path: str | os.PathLike, scores_path: str | os.PathLike
) -> None:
    """Write the two CSV files (atomically); the log has an ``eval_mean`` column only when a
    variant keeps its evaluations."""
    with_evaluations = any(v.evaluations for v in variants)
    rows = []
    for v in variants:
        episodes = zip(*(v.log.get(name, ()) for name in LOG_FIELDS[1:]), strict=True)
        rows += [
            [v.name, int(step), f"{episode_return:g}", f"{wall:.1f}"] + [""] * with_evaluations
            for step, episode_return, wall in episodes
        ]
        evaluations = zip(*(v.evaluations.get(name, ()) for name in EVAL_COLUMNS), strict=True)
        rows += [
            [v.name, int(step), "", f"{wall:.1f}", f"{mean:g}"] for step, wall, mean in evaluations
        ]
    _write_rows(log_path, LOG_FIELDS + (EVAL_FIELD,) * with_evaluations, rows)
    _write_rows(
        scores_path,
        SCORE_FIELDS,
        (
            [
                v.name,
                v.label,
                v.steps,
                f"{v.minutes:.1f}",
                f"{v.scores.mean():.1f}",
                f"{v.scores.std():.1f}",
                " ".join(f"{s:g}" for s in v.scores),
                v.command,
            ]
            for v in variants
        ),
    )


def _read_rows(
    path: str | os.PathLike, fields: Sequence[str], optional: Sequence[str] = ()
) -> list[dict[str, str]]:
    with Path(path).open() as file:
        reader = csv.DictReader(file)
        header = tuple(reader.fieldnames or ())
        if header not in (tuple(fields), tuple(fields) + tuple(optional)):
            raise ValueError(
                f"{path} is not an ablation file: its columns are {list(header)}, expected "
                f"{list(fields)}" + (f" (and optionally {list(optional)})" if optional else "")
            )
        return list(reader)


def read_ablation(log_path: str | os.PathLike, scores_path: str | os.PathLike) -> list[Variant]:
    """The variants of an ablation, in the scores file's order, each with its log."""
    rows = _read_rows(log_path, LOG_FIELDS, optional=(EVAL_FIELD,))
    variants = []
    for row in _read_rows(scores_path, SCORE_FIELDS):
        mine = [r for r in rows if r["variant"] == row["variant"] and r["episode_return"]]
        log = {name: np.array([float(r[name]) for r in mine]) for name in LOG_FIELDS[1:]}
        tested = [r for r in rows if r["variant"] == row["variant"] and r.get(EVAL_FIELD)]
        evaluations = {name: np.array([float(r[name]) for r in tested]) for name in EVAL_COLUMNS}
        variants.append(
            Variant(
                row["variant"],
                row["label"],
                int(row["steps"]),
                float(row["minutes"]),
                np.array([float(s) for s in row["scores"].split()]),
                row["command"],
                log,
                evaluations=evaluations if tested else {},
            )
        )
    return variants


def recorded_command(run: str | os.PathLike, config: dict[str, Any]) -> str:
    """The command a run was made with, from its checkpoint's ``config``: its ``--out``
    relative to the run's parent folder (no machine path), ``--resume`` dropped (resuming is
    exact, so the run is what the plain command makes)."""
    run = Path(run)
    made_by = config.get("extra", {}).get("command", "").replace(" --resume", "")
    return re.sub(r"--out \S+", f"--out {run.parent.name}/{run.name}", made_by)


def evaluate_run(
    run: str | os.PathLike,
    name: str,
    label: str,
    *,
    episodes: int = 20,
    vs_random: bool = False,
    value_bias: bool = False,
) -> list[Variant]:
    """A finished run directory (``rlcourse train ... --out run``) as a :class:`Variant`:
    its ``final.pt`` scored with the course's protocol on the test games, its training
    episodes and evaluations from ``log.csv``, the command it was made with (its ``--out``
    relative to the run's parent folder, ``--resume`` dropped: resuming is exact). With
    ``vs_random``, random play on the same games comes first, as a variant named ``random``.
    With ``value_bias`` (DQN runs), the overestimation read while the agent plays those
    games."""
    run = Path(run)
    final = run / "final.pt"
    if not final.exists():
        raise FileNotFoundError(
            f"{final} is missing: the run has not finished (train it, or resume it with --resume)"
        )
    agent = load_policy(final, device="cpu")
    recorder = ValueBiasRecorder.for_checkpoint(agent, episodes) if value_bias else None
    result = evaluate_checkpoint(
        agent, episodes=episodes, seed=TEST_SEED, vs_random=vs_random, on_step=recorder
    )
    table = read_csv(run / "log.csv")
    logged = np.isfinite(table["episode_return"])
    log = {key: table[key][logged] for key in LOG_FIELDS[1:]}
    tested = np.isfinite(table.get(EVAL_FIELD, np.full(len(logged), np.nan)))
    evaluations = {key: table[key][tested] for key in EVAL_COLUMNS}
    made_by = recorded_command(run, agent.checkpoint.config)
    minutes = float(log["wall_seconds"][-1]) / 60 if len(log["wall_seconds"]) else 0.0
    variants = [
        Variant(
            name,
            label,
            agent.checkpoint.steps,
            minutes,
            result.scores,
            made_by,
            log,
            recorder.result() if recorder else None,
            evaluations if tested.any() else {},
        )
    ]
    if vs_random:
        variants.insert(
            0,
            Variant(
                "random",
                "random play",
                0,
                0.0,
                cast(np.ndarray, result.random_scores),
                "random actions, the same games",
            ),
        )
    return variants


def summary(variants: Sequence[Variant]) -> str:
    """A table: each variant's score over its evaluation games, steps and minutes."""
    width = max(len(v.label) for v in variants)
    lines = [f"{'variant':<{width}}  {'score (mean +- std)':>22}  {'steps':>7}  {'minutes':>7}"]
    for v in variants:
        score = f"{v.scores.mean():.1f} +- {v.scores.std():.1f} ({len(v.scores)})"
        lines.append(f"{v.label:<{width}}  {score:>22}  {v.steps:>7,}  {v.minutes:>7.0f}")
    return "\n".join(lines)


def game_intervals(variants: Sequence[Variant], rng: int = 0) -> str:
    """Each variant's score as an IQM over its evaluation games with a 95% bootstrap interval
    over the games (:func:`rlcourse.stats.bootstrap_ci`), and its best game. One run is one
    seed: the interval covers the luck of the games, not of the seed, so it cannot say that
    one variant beats another (:func:`seed_intervals` needs 3 seeds or more)."""
    width = max(len(v.label) for v in variants)
    lines = [f"{'variant':<{width}}  IQM of its games [95% CI over the games]  best game"]
    for v in variants:
        estimate = bootstrap_ci(v.scores, rng=rng)
        lines.append(f"{v.label:<{width}}  {estimate!s:<40}  {v.scores.max():,.0f}")
    return "\n".join(lines)


def seed_intervals(groups: Mapping[str, Sequence[Variant]], rng: int = 0) -> str:
    """Runs of the same configuration with different seeds, each group told with
    :mod:`rlcourse.stats`: with 3 seeds or more, the IQM over seeds x games (the runs played the
    same evaluation games) and its 95% stratified-bootstrap interval; with fewer, each seed's
    IQM and a line saying that they are too few to give an interval or to compare."""
    lines = []
    for name, runs in groups.items():
        each = ", ".join(f"{iqm(run.scores):,.0f}" for run in runs)
        if len(runs) < MIN_SEEDS:
            lines.append(
                f"{name}: {len(runs)} seed{'s' if len(runs) != 1 else ''} (IQM of each: {each}): "
                "fewer than 3, no interval over seeds and no comparison"
            )
            continue
        table = np.stack([run.scores for run in runs])  # (seeds, games)
        lines.append(f"{name}: {len(runs)} seeds: {bootstrap_ci(table, rng=rng)} (each: {each})")
    return "\n".join(lines)


def seed_difference(
    first: Sequence[Variant], second: Sequence[Variant], names: tuple[str, str], rng: int = 0
) -> str:
    """``first`` minus ``second`` (runs of two configurations, e.g. two methods, on the same
    evaluation games): the IQM difference over seeds x games with its 95% interval
    (:func:`rlcourse.stats.difference_ci`), only when each side has 3 seeds or more."""
    if min(len(first), len(second)) < MIN_SEEDS:
        return f"{names[0]} against {names[1]}: fewer than 3 runs of one of them, no comparison"
    a, b = (np.stack([run.scores for run in runs]) for runs in (first, second))  # (seeds, games)
    return f"{names[0]} minus {names[1]}: {difference_ci(a, b, rng=rng)}"


def plot_ablation(
    variants: Sequence[Variant],
    path: str | os.PathLike | None = None,
    *,
    baselines: Mapping[str, float] | None = None,
    window: int = 50,
    title: str | None = None,
    curves: Literal["training", "evaluations"] = "training",
) -> Any:
    """Left: each variant's training return (mean of the last ``window`` episodes) against
    agent steps; with ``curves="evaluations"``, its evaluations during training against
    training minutes instead (for methods whose training returns measure different things,
    or whose steps cost different times). Right: its final score over the evaluation games
    (mean, std as an error bar, each game a dot), with ``baselines`` (name -> score) as
    dashed lines. Saved (atomically) to ``path`` when given; returns the figure."""
    import matplotlib.pyplot as plt

    if not variants:
        raise ValueError("plot_ablation needs at least one variant")
    if curves not in ("training", "evaluations"):
        raise ValueError(f"curves must be 'training' or 'evaluations', got {curves!r}")
    if curves == "evaluations" and not any(v.evaluations for v in variants):
        raise ValueError("curves='evaluations' needs variants that kept their evaluations")
    by_minutes = curves == "evaluations"
    figure, (left, bars) = plt.subplots(1, 2, figsize=(11, 4), width_ratios=(1.3, 1))
    rng = np.random.default_rng(0)  # the dots' horizontal jitter only
    for index, v in enumerate(variants):
        color = f"C{index}"
        if by_minutes and v.evaluations:
            left.plot(
                v.evaluations["wall_seconds"] / 60,
                v.evaluations[EVAL_FIELD],
                "o-",
                markersize=3,
                color=color,
                label=v.label,
            )
        elif not by_minutes and len(v.log.get("step", [])):
            left.plot(
                v.log["step"] / 1e3,
                moving_average(v.log["episode_return"], window),
                color=color,
                label=v.label,
            )
        bars.bar(index, v.scores.mean(), yerr=v.scores.std(), color=color, alpha=0.6, capsize=3)
        bars.scatter(
            index + rng.uniform(-0.25, 0.25, len(v.scores)),
            v.scores,
            s=6,
            color="black",
            alpha=0.6,
            zorder=3,
        )
    if by_minutes:
        left.set_xlabel("training minutes (evaluations excluded)")
        left.set_ylabel("evaluation during training (mean score)")
    else:
        left.set_xlabel("agent steps, thousands")
        left.set_ylabel(f"training return (life, clipped), last {window}")
    left.grid(alpha=0.3)
    left.legend(fontsize=8, loc="upper left")
    for index, (name, score) in enumerate((baselines or {}).items()):
        bars.axhline(score, color="gray", ls=["--", ":", "-."][index % 3], lw=1, label=name)
    bars.set_xticks(
        range(len(variants)), [v.label for v in variants], rotation=20, ha="right", fontsize=8
    )
    bars.set_ylabel("score (mean ± std; dots: games)")
    bars.grid(alpha=0.3, axis="y")
    if baselines:
        bars.legend(fontsize=8, loc="upper left")
    return finish_figure(figure, title, path, dpi=72)
