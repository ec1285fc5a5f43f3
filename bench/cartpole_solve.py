"""Wall time to solve CartPole-v1: the course's DQN vs Stable-Baselines3's DQN (RL-Zoo).

    python bench/cartpole_solve.py [--seeds 0 1 ... 19] [--max-steps 50000] [--no-sb3]
    python bench/cartpole_solve.py --seeds 0 1 2 3 4 --out   # rows to bench/results/
    python bench/cartpole_solve.py --seeds 5 6 7 8 9 --out --append   # more seeds, same file
    python bench/cartpole_solve.py --summary                 # the file's rows, summarized
    python bench/cartpole_solve.py --summary A.csv B.csv     # several files' rows together
    python bench/cartpole_solve.py --no-sb3 --set double=false --label "course, no double"
    python bench/cartpole_solve.py --no-sb3 --baseline --set n_step=3   # both, alternating

For each seed, in the same run and alternating (so both see the same machine load):

* the course's DQN with ``cartpole_config()`` (``rlcourse.agents.dqn``), changed by any
  ``--set KEY=VALUE`` (a ``DQNConfig`` field, the value in JSON: ``double=false``,
  ``hidden_sizes=[256,256]``, ``max_grad_norm=null``; a bare word is a string);
* SB3's DQN with the RL-Zoo CartPole-v1 hyperparameters (``hyperparams/dqn.yml``).

Every ``--eval-every`` steps a 10-episode greedy evaluation runs (same seeds for both, its
time excluded); the first evaluation with mean >= 475 counts as solved. One torch thread
each. Steps to solve are deterministic for a seed; wall times move with the machine's load
(its 1-minute load average is recorded with each run).

The summary gives, per contender, the interquartile mean (IQM) of steps and of wall time to
solve with 95% stratified-bootstrap intervals (``rlcourse.stats``; a seed that never solved
counts as infinitely slow), and the ratios course / SB3 with theirs. Targets
(docs/benchmarks.md), each met only if its whole interval is on the right side: the course
solves >= 95% of its seeds (19 of 20) within 50k steps; its IQM wall time to solve is
<= 0.5x SB3's. The default 20 seeds take ~8 minutes on an idle machine; ``--out`` and
``--append`` let them run in parts.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import time
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from rlcourse.agents.dqn import DQN, cartpole_config
from rlcourse.envs import make_env
from rlcourse.evaluation import EVAL_SEED, evaluate  # the course's loop and SB3's callback
from rlcourse.stats import Estimate, bootstrap_ci, ratio_ci, unsolved_as_inf
from rlcourse.training import train_dqn

SOLVED = 475.0
FINAL_SEED = 20_000  # the final 10-episode score: games neither run selected on
COURSE, SB3 = "course DQN", "SB3 DQN (RL-Zoo)"
SOLVED_SHARE = 0.95  # of the course's seeds: 19 of 20
RATIO_TARGET = 0.5  # the course's IQM wall time to solve / SB3's, whole interval
STATS_SEED = 0  # seeds the bootstrap: the same rows always print the same intervals
DEFAULT_CSV = Path(__file__).parent / "results" / "cartpole_solve.csv"
CSV_FIELDS = [
    "contender",
    "seed",
    "solved_at",
    "steps",
    "wall_seconds",
    "final_score",
    "load_average",
    "settings",
]

# rl-baselines3-zoo, hyperparams/dqn.yml, CartPole-v1
ZOO = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
    "policy_kwargs": {"net_arch": [256, 256]},
}


class Run(NamedTuple):
    solved_at: int | None
    steps: int  # env steps trained (to solve, or all of them)
    wall_seconds: float  # to solve (or to the end, if never solved), evaluations excluded
    final_score: float


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``["double=false", "hidden_sizes=[256,256]", "loss=mse"]`` -> config overrides."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            settings[key] = json.loads(text)
        except json.JSONDecodeError:
            settings[key] = text  # a bare word: a string (loss=mse)
    cartpole_config(**settings)  # unknown fields and bad values fail here, before any run
    return settings


def run_course(
    seed: int,
    max_steps: int,
    eval_every: int,
    episodes: int,
    settings: dict[str, Any] | None = None,
) -> Run:
    env, eval_env = make_env("CartPole-v1"), make_env("CartPole-v1")
    config = cartpole_config(**{**(settings or {}), "seed": seed, "device": "cpu"})
    agent = DQN(env.observation_space, env.action_space, config)
    result = train_dqn(
        agent,
        env,
        max_steps,
        eval_env=eval_env,
        eval_every=eval_every,
        eval_episodes=episodes,
        solve_score=SOLVED,
        progress=False,
    )
    final = evaluate(agent.policy(), eval_env, 10, seed=FINAL_SEED).mean()
    return Run(result.solved_at_step, agent.steps, result.wall_seconds, float(final))


def run_sb3(seed: int, max_steps: int, eval_every: int, episodes: int) -> Run:
    from stable_baselines3 import DQN as SB3DQN  # noqa: N811
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger

    eval_env = make_env("CartPole-v1")
    model = SB3DQN("MlpPolicy", make_env("CartPole-v1"), seed=seed, device="cpu", verbose=0, **ZOO)

    def greedy(obs: np.ndarray) -> int:
        return int(model.predict(obs, deterministic=True)[0])

    class EvalUntilSolved(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.eval_seconds = 0.0
            self.solved_at: int | None = None

        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            start = time.perf_counter()
            score = evaluate(greedy, eval_env, episodes, seed=EVAL_SEED).mean()
            self.eval_seconds += time.perf_counter() - start
            if score >= SOLVED:
                self.solved_at = self.num_timesteps
                return False
            return True

    callback = EvalUntilSolved()
    model.set_logger(Logger(None, []))  # SB3's default logger leaves an empty temp folder
    start = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=callback)
    wall = time.perf_counter() - start - callback.eval_seconds
    final = evaluate(greedy, eval_env, 10, seed=FINAL_SEED).mean()
    return Run(callback.solved_at, model.num_timesteps, wall, float(final))


class Summary(NamedTuple):
    """One contender's runs in numbers."""

    runs: int
    solved: int
    steps: Estimate  # IQM steps to solve (unsolved: inf)
    seconds: Estimate  # IQM wall seconds to solve (unsolved: inf)
    ms_per_step: Estimate  # IQM training milliseconds per env step (every run)


def _rng(*names: str) -> np.random.Generator:
    """The bootstrap's generator for an estimate about ``names``: the same rows print the same
    intervals whatever else a summary holds."""
    return np.random.default_rng([STATS_SEED, *(zlib.crc32(name.encode()) for name in names)])


def summarize(runs: list[Run], rng: np.random.Generator) -> Summary:
    solved = [r.solved_at is not None for r in runs]
    steps, seconds = _to_solve(runs, "solved_at"), _to_solve(runs, "wall_seconds")
    cost = [1000 * r.wall_seconds / max(r.steps, 1) for r in runs]
    return Summary(
        len(runs),
        sum(solved),
        bootstrap_ci(steps, rng=rng),
        bootstrap_ci(seconds, rng=rng, unit=" s"),
        bootstrap_ci(cost, rng=rng, unit=" ms"),
    )


def report(runs: dict[str, list[Run]], max_steps: int) -> tuple[list[str], dict[str, bool]]:
    """The summary's lines, and each target's verdict (met only if the whole interval is on
    the right side). The first contender is the course's; SB3's, if it ran, is the peer."""
    lines, verdicts = [], {}
    summaries = {
        name: summarize(found, _rng(name)) for name, found in runs.items() if len(found) >= 2
    }
    for name, s in summaries.items():
        lines.append(
            f"  {name}: solved {s.solved}/{s.runs}; steps to solve {s.steps}; "
            f"wall time to solve {s.seconds}; training time per step {s.ms_per_step}"
        )
    if not summaries:
        return ["  fewer than 2 runs a contender: no interval"], {}
    course = next(iter(summaries))
    ours = summaries[course]
    need = math.ceil(SOLVED_SHARE * ours.runs)
    verdicts["solved"] = ours.solved >= need
    lines.append(
        f"  {course}: solved {ours.solved} of {ours.runs} within {max_steps:,} steps "
        f"(target >= {need} of {ours.runs}: {'met' if verdicts['solved'] else 'NOT met'})"
    )
    # Each other contender against SB3 (the target is the course's), then each variant of
    # the course (--set) against the course's own settings.
    pairs = [(name, SB3) for name in summaries if SB3 in summaries and name != SB3]
    pairs += [(name, course) for name in summaries if name not in (course, SB3)]
    for name, peer in pairs:
        rng = _rng(name, peer)
        ratios = {
            what: ratio_ci(_to_solve(runs[name], field), _to_solve(runs[peer], field), rng=rng)
            for what, field in (("steps", "solved_at"), ("wall time", "wall_seconds"))
        }
        judged = name == course and peer == SB3
        met = ratios["wall time"].at_most(RATIO_TARGET)
        if judged:
            verdicts["ratio"] = met
        lines.append(
            f"  {name} / {peer}: steps to solve {ratios['steps']}; wall time to solve "
            f"{ratios['wall time']}"
            + (
                f" (target <= {RATIO_TARGET}x, whole interval: {'met' if met else 'NOT met'})"
                if judged
                else ""
            )
        )
    return lines, verdicts


def _to_solve(runs: list[Run], field: str) -> np.ndarray:
    """Steps or seconds to solve; a run that never solved counts as infinitely slow."""
    return unsolved_as_inf([getattr(r, field) if r.solved_at else None for r in runs])


def read_rows(path: Path, runs: dict[str, list[Run]] | None = None) -> dict[str, list[Run]]:
    """The runs of a CSV written by ``--out``, by contender (added to ``runs`` if given)."""
    runs = {} if runs is None else runs
    with path.open() as file:
        for row in csv.DictReader(file):
            runs.setdefault(row["contender"], []).append(
                Run(
                    int(row["solved_at"]) if row["solved_at"] else None,
                    int(row["steps"]),
                    float(row["wall_seconds"]),
                    float(row["final_score"]),
                )
            )
    return runs


def write_rows(path: Path, rows: list[dict[str, Any]], append: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (append and path.exists())
    with path.open("w" if fresh else "a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_FIELDS)
        if fresh:
            writer.writeheader()
        writer.writerows(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(20)))
    parser.add_argument("--max-steps", type=int, default=50_000)
    parser.add_argument("--eval-every", type=int, default=1_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--no-sb3", action="store_true", help="the course's DQN only")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="change cartpole_config(): a DQNConfig field and a JSON value (double=false)",
    )
    parser.add_argument("--label", help=f"the course contender's name (default {COURSE!r})")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="with --set: also run cartpole_config() unchanged, alternating on the same seeds",
    )
    parser.add_argument(
        "--out",
        nargs="?",
        const=str(DEFAULT_CSV),
        default=None,
        help=f"write the runs as CSV rows (default path: {DEFAULT_CSV})",
    )
    parser.add_argument(
        "--append", action="store_true", help="add to --out's rows; the summary covers them all"
    )
    parser.add_argument(
        "--summary",
        nargs="*",
        metavar="CSV",
        help="summarize these CSVs' rows together (default: --out's) without running anything",
    )
    args = parser.parse_args(argv)
    if args.summary == [] and args.out is None:
        args.out = str(DEFAULT_CSV)
    if args.summary == []:
        args.summary = [args.out]
    try:
        args.settings = parse_settings(args.set)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    if args.label is None:
        changed = ", ".join(f"{k}={json.dumps(v)}" for k, v in args.settings.items())
        args.label = f"{COURSE} ({changed})" if changed else COURSE
    if args.max_steps < 1 or args.eval_every < 1 or args.eval_episodes < 1:
        parser.error(
            f"--max-steps, --eval-every and --eval-episodes must be >= 1, got "
            f"{args.max_steps}, {args.eval_every}, {args.eval_episodes}"
        )
    return args


def main(argv: list[str] | None = None) -> dict[str, list[Run]]:
    args = parse_args(argv)
    if args.summary:
        runs: dict[str, list[Run]] = {}
        for path in args.summary:
            read_rows(Path(path), runs)
    else:
        torch.set_num_threads(1)
        runs = read_rows(Path(args.out)) if args.append and Path(args.out).exists() else {}
        rows = []
        # name -> the course's settings (None: SB3), run in this order for every seed
        contenders: dict[str, dict[str, Any] | None] = {}
        if args.baseline and args.settings:
            contenders[COURSE] = {}
        contenders[args.label] = args.settings
        if not args.no_sb3:
            contenders[SB3] = None
        for seed in args.seeds:
            for name, settings in contenders.items():
                if settings is None:
                    run = run_sb3(seed, args.max_steps, args.eval_every, args.eval_episodes)
                else:
                    run = run_course(
                        seed, args.max_steps, args.eval_every, args.eval_episodes, settings
                    )
                runs.setdefault(name, []).append(run)
                load = os.getloadavg()[0]
                rows.append(
                    {
                        "contender": name,
                        "seed": seed,
                        "solved_at": run.solved_at or "",
                        "steps": run.steps,
                        "wall_seconds": f"{run.wall_seconds:.2f}",
                        "final_score": f"{run.final_score:.1f}",
                        "load_average": f"{load:.2f}",
                        "settings": json.dumps(ZOO if settings is None else settings),
                    }
                )
                solved = f"solved at {run.solved_at:>6}" if run.solved_at else "not solved     "
                print(
                    f"seed {seed:2d}  {name:18s} {solved}  {run.wall_seconds:6.1f} s  "
                    f"final 10-episode score {run.final_score:5.1f}  load {load:.2f}",
                    flush=True,
                )
        if args.out:
            write_rows(Path(args.out), rows, args.append)
    counts = ", ".join(f"{len(found)} {name}" for name, found in runs.items())
    print(
        f"\nCartPole-v1 ({counts} runs), up to {args.max_steps:,} steps, evaluation every "
        f"{args.eval_every:,} steps (time excluded); IQM [95% stratified-bootstrap interval]; "
        "a seed that never solved counts as infinitely slow"
    )
    lines, _ = report(runs, args.max_steps)
    print("\n".join(lines))
    return runs


if __name__ == "__main__":
    main()
