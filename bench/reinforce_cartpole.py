"""Wall time to solve CartPole-v1 with the course's REINFORCE (lesson 08's agent).

    python bench/reinforce_cartpole.py [--seeds 0 1 2 3 4] [--max-minutes 3] [--with-dqn]

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
load; it is off by default (it doubles the run time). Target (docs/benchmarks.md): solved
on >= 4 of 5 seeds, each within 3 minutes. Writes ``bench/results/reinforce_cartpole.csv`` and
``.md``; the machine's load average is recorded with each seed (these machines are shared).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from rlcourse.agents.reinforce import Reinforce, ReinforceConfig
from rlcourse.envs import make_env
from rlcourse.evaluation import TEST_SEED, evaluate_checkpoint
from rlcourse.training import train_reinforce

SOLVED = 475.0
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
    from rlcourse.checkpoints import CheckpointInfo, build_policy_network
    from rlcourse.policies import policy_for

    network = build_policy_network(policy_payload).eval()
    policy = policy_for(network, CheckpointInfo.from_payload(policy_payload))
    test = evaluate_checkpoint(policy, 10, TEST_SEED).scores.mean()
    return {
        "agent": "course REINFORCE",
        "seed": seed,
        "solved": result.solved_at_step is not None,
        "steps": result.solved_at_step or agent.steps,
        "train_seconds": result.wall_seconds,
        "wall_seconds": wall,
        "test_score": float(test),
    }


def run_dqn(seed: int, max_steps: int, max_minutes: float, eval_every: int) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from cartpole_solve import run_course  # the DQN benchmark's own runner

    start = time.perf_counter()
    run = run_course(seed, 50_000, 1_000, 10)
    return {
        "agent": "course DQN",
        "seed": seed,
        "solved": run.solved_at is not None,
        "steps": run.solved_at or 50_000,
        "train_seconds": run.wall_seconds,
        "wall_seconds": time.perf_counter() - start,
        "test_score": run.final_score,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-steps", type=int, default=400_000)
    parser.add_argument("--max-minutes", type=float, default=3.0)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--with-dqn", action="store_true", help="the course's DQN as a peer")
    parser.add_argument("--out", type=Path, default=RESULTS / "reinforce_cartpole.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runners = {"course REINFORCE": run_reinforce}
    if args.with_dqn:
        runners["course DQN"] = run_dqn
    rows = []
    for seed in args.seeds:
        for runner in runners.values():
            load = os.getloadavg()[0]
            row = runner(seed, args.max_steps, args.max_minutes, args.eval_every)
            row["load_average"] = round((load + os.getloadavg()[0]) / 2, 2)
            rows.append(row)
            print(
                f"seed {seed}  {row['agent']:17s} "
                f"{'solved' if row['solved'] else 'NOT solved'} at {row['steps']:>7} steps  "
                f"train {row['train_seconds']:6.1f} s (with evaluations {row['wall_seconds']:6.1f}"
                f" s)  test score {row['test_score']:5.1f}  load {row['load_average']:.2f}",
                flush=True,
            )
    ours = [r for r in rows if r["agent"] == "course REINFORCE"]
    in_time = [r for r in ours if r["solved"] and r["train_seconds"] <= args.max_minutes * 60]
    slowest = max((r["train_seconds"] for r in in_time), default=float("nan"))
    summary = (
        f"REINFORCE on CartPole-v1 (ReinforceConfig() defaults, 1 torch thread): solved on "
        f"{len(in_time)} of {len(ours)} seeds, each within {slowest:.0f} s of training "
        f"(target: >= 4 of 5 within {args.max_minutes * 60:.0f} s: "
        f"{'met' if len(in_time) >= 0.8 * len(ours) else 'NOT met'})"
    )
    peers = [r for r in rows if r["agent"] == "course DQN"]
    if peers:

        def median_time(results: list[dict]) -> float:
            return statistics.median(
                r["train_seconds"] if r["solved"] else float("inf") for r in results
            )

        summary += (
            f"\nMedian training time to solve: REINFORCE {median_time(ours):.1f} s, the "
            f"course's DQN {median_time(peers):.1f} s (ratio "
            f"{median_time(ours) / median_time(peers):.2f}x; DQN needs ~6x fewer env steps, "
            "REINFORCE's steps are cheaper)"
        )
    print(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as file:
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
            f"{r['train_seconds']:.1f} | {r['wall_seconds']:.1f} | {r['test_score']:.1f} | "
            f"{r['load_average']:.2f} |"
        )
    args.out.with_suffix(".md").write_text(
        "# REINFORCE solves CartPole-v1\n\n`python bench/reinforce_cartpole.py`: solved = the "
        "first 10-episode evaluation (actions sampled from the policy) with mean >= 475; "
        "train s excludes evaluation time. Peer: SB3 has no REINFORCE"
        + (
            "; the course's DQN ran alternately on the same seeds."
            if args.with_dqn
            else " (run with --with-dqn for the course's DQN on the same seeds)."
        )
        + " The machine is shared: its 1-minute load average is recorded per seed "
        "(2 cores).\n\n" + "\n".join(table) + f"\n\n{summary}\n"
    )
    return rows


if __name__ == "__main__":
    main()
