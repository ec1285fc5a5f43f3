"""Wall time to solve CartPole-v1 with the course's REINFORCE (lesson 08's agent).

    python bench/reinforce_cartpole.py [--seeds 0 1 ... 19] [--max-minutes 3] [--with-dqn]
    python bench/reinforce_cartpole.py --seeds 10 11 12 --append   # more seeds, same files
    python bench/reinforce_cartpole.py --summary    # the CSV's rows, summarized again

For each seed, ``ReinforceConfig()`` (the CartPole defaults) trains through
:func:`rlcourse.training.train_reinforce`, one torch thread, for at most ``--max-steps``
steps (the lesson's full budget) or ``--max-minutes`` of training. Every ``--eval-every``
steps the policy plays 10 episodes with the course's evaluation rule for REINFORCE (actions
sampled from the policy, seeds from ``EVAL_SEED``; evaluation time excluded); the first
evaluation with mean >= 475 counts as solved, and training stops there. Then the solved
policy plays 10 fresh episodes (``evaluate_checkpoint``, seeds from ``TEST_SEED``): the
score it would show with ``rlcourse evaluate``.

Peer: Stable-Baselines3 has no REINFORCE. ``--with-dqn`` runs the course's own CartPole DQN
(bench/cartpole_solve.py) on the same seeds, alternating, as a reference under the same
load; it is off by default (it doubles the run time).

The summary gives the interquartile mean (IQM) of steps and of training time to solve with
95% stratified-bootstrap intervals (``rlcourse.stats``; a seed not solved in time counts as
infinitely slow), and with ``--with-dqn`` the ratio REINFORCE / DQN with its interval.
Target (docs/benchmarks.md): solved within 3 minutes of training on >= 80% of the seeds (16
of the default 20). Writes ``bench/results/reinforce_cartpole.csv`` and ``.md`` (all the
CSV's rows; ``--append`` adds to them); the machine's load average is recorded with each
seed (these machines are shared). The default 20 seeds take ~20 minutes (twice that with
``--with-dqn``).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from cartpole_solve import run_course  # the DQN benchmark's own runner (bench/ is on sys.path)

from rlcourse.agents.reinforce import Reinforce, ReinforceConfig
from rlcourse.checkpoints import CheckpointInfo, build_policy_network
from rlcourse.envs import make_env
from rlcourse.evaluation import TEST_SEED, evaluate_checkpoint
from rlcourse.registry import algorithm
from rlcourse.stats import bootstrap_ci, ratio_ci, unsolved_as_inf
from rlcourse.training import train_reinforce

SOLVED = 475.0
SOLVED_SHARE = 0.8  # of the seeds, each within --max-minutes of training
STATS_SEED = 0  # the bootstrap's generator: the same rows always print the same intervals
REINFORCE, DQN = "course REINFORCE", "course DQN"
RESULTS = Path(__file__).parent / "results"
COLUMNS = [
    "agent",
    "seed",
    "solved",
    "steps",
    "train_seconds",
    "wall_seconds",
    "test_score",
    "load_average",
]


def run_reinforce(seed: int, max_steps: int, max_minutes: float, eval_every: int) -> dict:
    agent = Reinforce(4, 2, ReinforceConfig(seed=seed))
    start = time.perf_counter()
    result = train_reinforce(
        agent,
        make_env("CartPole-v1"),
        max_steps,
        env_id="CartPole-v1",
        eval_every=eval_every,
        eval_episodes=10,
        solve_score=SOLVED,
        max_minutes=max_minutes,
        progress=False,
    )
    wall = time.perf_counter() - start
    policy_payload = agent.checkpoint("CartPole-v1")
    network = build_policy_network(policy_payload).eval()
    policy = algorithm("reinforce").policy(network, CheckpointInfo.from_payload(policy_payload))
    test = evaluate_checkpoint(policy, 10, TEST_SEED).scores.mean()
    return {
        "agent": REINFORCE,
        "seed": seed,
        "solved": result.solved_at_step is not None,
        "steps": result.solved_at_step or agent.steps,
        "train_seconds": result.wall_seconds,
        "wall_seconds": wall,
        "test_score": float(test),
    }


def run_dqn(seed: int, max_steps: int, max_minutes: float, eval_every: int) -> dict:
    start = time.perf_counter()
    run = run_course(seed, 50_000, 1_000, 10)
    return {
        "agent": DQN,
        "seed": seed,
        "solved": run.solved_at is not None,
        "steps": run.solved_at or 50_000,
        "train_seconds": run.wall_seconds,
        "wall_seconds": time.perf_counter() - start,
        "test_score": run.final_score,
    }


def in_time(row: dict[str, Any], max_minutes: float) -> bool:
    return bool(row["solved"]) and float(row["train_seconds"]) <= max_minutes * 60


def report(rows: list[dict[str, Any]], max_minutes: float) -> tuple[list[str], dict[str, bool]]:
    """The summary's lines and the target's verdict. A seed not solved within
    ``max_minutes`` counts as infinitely slow."""
    rng = np.random.default_rng(STATS_SEED)
    lines: list[str] = []
    verdicts: dict[str, bool] = {}
    samples = {}
    for agent in (REINFORCE, DQN):
        found = [r for r in rows if r["agent"] == agent]
        if not found:
            continue
        solved = [in_time(r, max_minutes) for r in found]
        steps = unsolved_as_inf(
            [int(r["steps"]) if ok else None for r, ok in zip(found, solved, strict=True)]
        )
        seconds = unsolved_as_inf(
            [float(r["train_seconds"]) if ok else None for r, ok in zip(found, solved, strict=True)]
        )
        samples[agent] = seconds
        if len(found) < 2:
            lines.append(f"  {agent}: {sum(solved)} of 1 seed solved (an interval needs 2)")
            continue
        lines.append(
            f"  {agent}: solved {sum(solved)}/{len(found)}; steps to solve "
            f"{bootstrap_ci(steps, rng=rng)}; training time to solve "
            f"{bootstrap_ci(seconds, rng=rng, unit=' s')}"
        )
    ours = [r for r in rows if r["agent"] == REINFORCE]
    if ours:
        count = sum(in_time(r, max_minutes) for r in ours)
        need = math.ceil(SOLVED_SHARE * len(ours))
        verdicts["solved"] = count >= need
        lines.append(
            f"  REINFORCE solved within {max_minutes * 60:.0f} s of training on {count} of "
            f"{len(ours)} seeds (target >= {need} of {len(ours)}: "
            f"{'met' if verdicts['solved'] else 'NOT met'})"
        )
    if all(len(samples.get(agent, [])) >= 2 for agent in (REINFORCE, DQN)):
        ratio = ratio_ci(samples[REINFORCE], samples[DQN], rng=rng)
        lines.append(
            f"  training time to solve, REINFORCE / DQN: {ratio} (no target: DQN needs "
            "several times fewer env steps, REINFORCE's steps are cheaper)"
        )
    return lines, verdicts


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open() as file:
        return [
            {**row, "solved": row["solved"] == "True", "seed": int(row["seed"])}
            for row in csv.DictReader(file)
        ]


def write_results(path: Path, rows: list[dict[str, Any]], summary: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: (f"{v:.1f}" if isinstance(v, float) and k != "load_average" else v)
                    for k, v in row.items()
                }
            )
    table = [
        "| agent | seed | solved | steps | train s | wall s (with evals) | test score "
        "(10 fresh episodes) | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        table.append(
            f"| {r['agent']} | {r['seed']} | {'yes' if r['solved'] else 'no'} | {r['steps']} | "
            f"{float(r['train_seconds']):.1f} | {float(r['wall_seconds']):.1f} | "
            f"{float(r['test_score']):.1f} | {float(r['load_average']):.2f} |"
        )
    with_dqn = any(r["agent"] == DQN for r in rows)
    path.with_suffix(".md").write_text(
        "# REINFORCE solves CartPole-v1\n\n`python bench/reinforce_cartpole.py`: solved = the "
        "first 10-episode evaluation (actions sampled from the policy) with mean >= 475; "
        "train s excludes evaluation time. Peer: SB3 has no REINFORCE"
        + (
            "; the course's DQN ran alternately on the same seeds."
            if with_dqn
            else " (run with --with-dqn for the course's DQN on the same seeds)."
        )
        + " The machine is shared: its 1-minute load average is recorded per seed "
        "(2 cores). Summary: IQM [95% stratified-bootstrap interval], a seed not solved in "
        "time counting as infinitely slow.\n\n"
        + "\n".join(table)
        + "\n\n"
        + "\n".join(summary)
        + "\n"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(20)))
    parser.add_argument("--max-steps", type=int, default=400_000)
    parser.add_argument("--max-minutes", type=float, default=3.0)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--with-dqn", action="store_true", help="the course's DQN as a peer")
    parser.add_argument("--out", type=Path, default=RESULTS / "reinforce_cartpole.csv")
    parser.add_argument(
        "--append", action="store_true", help="add to --out's rows; the summary covers them all"
    )
    parser.add_argument(
        "--summary", action="store_true", help="summarize --out's rows without running anything"
    )
    args = parser.parse_args(argv)
    if args.max_steps < 1 or args.max_minutes <= 0 or args.eval_every < 1:
        parser.error(
            f"--max-steps and --eval-every must be >= 1 and --max-minutes > 0, got "
            f"{args.max_steps}, {args.eval_every}, {args.max_minutes}"
        )
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    rows = read_rows(args.out) if (args.append or args.summary) and args.out.exists() else []
    runners = {REINFORCE: run_reinforce}
    if args.with_dqn:
        runners[DQN] = run_dqn
    if not args.summary:
        torch.set_num_threads(1)
        for seed in args.seeds:
            for runner in runners.values():
                load = os.getloadavg()[0]
                row = runner(seed, args.max_steps, args.max_minutes, args.eval_every)
                row["load_average"] = round((load + os.getloadavg()[0]) / 2, 2)
                rows.append(row)
                print(
                    f"seed {seed}  {row['agent']:17s} "
                    f"{'solved' if row['solved'] else 'NOT solved'} at {row['steps']:>7} steps  "
                    f"train {row['train_seconds']:6.1f} s (with evaluations "
                    f"{row['wall_seconds']:6.1f} s)  test score {row['test_score']:5.1f}  "
                    f"load {row['load_average']:.2f}",
                    flush=True,
                )
    lines, _ = report(rows, args.max_minutes)
    summary = [
        f"CartPole-v1, REINFORCE (ReinforceConfig() defaults, 1 torch thread), "
        f"{sum(r['agent'] == REINFORCE for r in rows)} seeds; IQM [95% stratified-bootstrap "
        "interval]:",
        *lines,
    ]
    print("\n".join(summary))
    if not args.summary:
        write_results(args.out, rows, summary)
    return rows


if __name__ == "__main__":
    main()
