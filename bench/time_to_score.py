"""Time to score: Ms. Pac-Man after the same wall time of training, the course's DQN vs SB3's.

    python bench/time_to_score.py [--minutes 30] [--seeds 0 1 2] [--out]
    python bench/time_to_score.py --seeds 1 2 --out --append   # more seeds, another day
    python bench/time_to_score.py --quick        # a smoke run of ~1 minute, numbers meaningless
    python bench/time_to_score.py --summary      # the CSV's rows, summarized (no training)

Steps per second cannot say which course trains better (both spend most of a step in the
same CNN update), so this measures what a student gets: the score after ``--minutes`` of
training wall time. For each seed the two contenders train *side by side* (two
subprocesses started together, torch on one thread each, one core each of the 2), so a busy
moment of the machine hits both; then each plays ``--eval-episodes`` whole games with the
course's evaluation protocol (``evaluate_batched``: real scores, no episodic life, epsilon
0.05, games seeded ``--eval-seed``, ``--eval-seed + 1``, ... never used in training).

  (a) course: ``rlcourse.agents.dqn.DQN`` + ``train_dqn(max_minutes=...)`` with the options
      of the data-efficient lesson: Double DQN, dueling head, 10-step returns, random-shift
      augmentation (pad 4), one gradient step every 2 agent steps, target network copied every
      2 agent steps (DrQ(eps)'s schedule);
  (b) SB3: ``stable_baselines3.DQN("CnnPolicy")`` with RL Zoo's Atari hyperparameters
      (buffer 100k, lr 1e-4, batch 32, train_freq 4, target update every 1,000 steps, final
      epsilon 0.01), stopped by a callback after the same wall time.

What is set equal because it depends on the time budget (the Zoo's values are for 10M
steps: 100k steps of warm-up and 1M of exploration would leave SB3 random after 30
minutes): both start learning after 1,600 steps and decay epsilon from 1 to 0.01 over the
first 5,000. Both train on the course's training env, ``make_env_for(GAME, training=True)``
(noop reset, skip 4 + max, episodic life, FIRE reset, 84x84 gray, clipped rewards, 4
frames), replay capacity 100k, seed of the round. The clock of each starts when its
training loop starts (after imports and env creation).

Target (docs/benchmarks.md): the course's score >= 1.5x SB3's, met only if the whole 95%
interval of the ratio is at or above 1.5x. A seed is a run, its score the mean of its games;
the summary gives each side's interquartile mean (IQM) over seeds and the ratio of the IQMs,
with 95% bootstrap intervals (``rlcourse.stats``): with 3 seeds the IQM is their mean and
the interval is wide. With ``--out`` the rows go to ``bench/results/time_to_score.csv``. A
full run (3 seeds x 30 min side by side, then the evaluations) takes ~1 h 40 min; run it
with both cores otherwise idle.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlcourse.stats import bootstrap_ci, ratio_ci

GAME = "ALE/MsPacman-v5"
IMPLEMENTATIONS = {
    "course": "rlcourse DQN (data-efficient options)",
    "sb3": "SB3 DQN CnnPolicy (RL Zoo Atari)",
}
TARGET = 1.5
STATS_SEED = 0  # the bootstrap's generator: the same rows always print the same intervals
DEFAULT_CSV = Path(__file__).parent / "results" / "time_to_score.csv"
CSV_FIELDS = [
    "seed",
    "implementation",
    "minutes",
    "train_seconds",
    "steps",
    "updates",
    "eval_episodes",
    "eval_seed",
    "eval_mean",
    "eval_std",
    "scores",
]
# Shared by both contenders (see the docstring).
BUFFER_SIZE = 100_000
LEARNING_STARTS = 1_600
EXPLORATION_STEPS = 5_000
EPSILON_END = 0.01
LR = 1e-4
BATCH_SIZE = 32


def course_config(seed: int) -> Any:
    from rlcourse.agents.dqn import atari_config

    return atari_config(
        double=True,
        dueling=True,
        n_step=10,
        random_shift=4,
        train_frequency=2,
        gradient_steps=1,
        target_update_interval=2,
        lr=LR,
        batch_size=BATCH_SIZE,
        buffer_size=BUFFER_SIZE,
        learning_starts=LEARNING_STARTS,
        exploration_steps=EXPLORATION_STEPS,
        epsilon_end=EPSILON_END,
        seed=seed,
        device="cpu",
    )


def evaluate_q_network(network: Any, args: argparse.Namespace) -> list[float]:
    """The course's protocol for any network mapping uint8 stacks to Q-values."""
    from rlcourse.envs import make_env_for
    from rlcourse.evaluation import evaluate_batched
    from rlcourse.policies import QPolicy

    policy = QPolicy(network, epsilon=0.05, seed=args.eval_seed)

    def make_env() -> Any:
        return make_env_for(args.game, training=False)

    scores = evaluate_batched(policy, make_env, args.eval_episodes, args.eval_seed)
    return [float(score) for score in scores]


def course_worker(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from rlcourse.agents.dqn import DQN
    from rlcourse.envs import make_env_for
    from rlcourse.training import train_dqn

    torch.set_num_threads(1)
    env = make_env_for(args.game, training=True)
    agent = DQN(env.observation_space, env.action_space, course_config(args.seed))
    result = train_dqn(agent, env, 10**8, max_minutes=args.minutes, progress=False)
    return {
        "train_seconds": result.wall_seconds,
        "steps": agent.steps,
        "updates": agent.updates,
        "scores": evaluate_q_network(agent.q.eval(), args),
    }


def sb3_worker(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from stable_baselines3 import DQN as SB3DQN  # noqa: N811
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger

    from rlcourse.envs import make_env_for

    class StopAfter(BaseCallback):
        """Ends ``learn()`` once ``seconds`` of wall time have passed since it began."""

        def __init__(self, seconds: float) -> None:
            super().__init__()
            self.seconds = seconds
            self.start = 0.0

        def _on_training_start(self) -> None:
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            return time.perf_counter() - self.start < self.seconds

    class QNetwork(torch.nn.Module):
        """SB3's Q-network as the course's policies expect it (uint8 in, Q-values out)."""

        def __init__(self, q_net: torch.nn.Module, n_actions: int) -> None:
            super().__init__()
            self.q_net = q_net
            self.n_actions = n_actions

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            return self.q_net(observations)  # SB3 scales uint8 images by 1/255 itself

    torch.set_num_threads(1)
    env = make_env_for(args.game, training=True)
    total = 10**8
    model = SB3DQN(
        "CnnPolicy",
        env,
        buffer_size=BUFFER_SIZE,
        learning_rate=LR,
        batch_size=BATCH_SIZE,
        learning_starts=LEARNING_STARTS,
        target_update_interval=1_000,
        train_freq=4,
        gradient_steps=1,
        exploration_fraction=EXPLORATION_STEPS / total,
        exploration_final_eps=EPSILON_END,
        optimize_memory_usage=False,
        seed=args.seed,
        device="cpu",
        verbose=0,
    )
    stopper = StopAfter(args.minutes * 60)
    model.set_logger(Logger(None, []))  # SB3's default logger leaves an empty temp folder
    model.learn(total, callback=stopper)
    seconds = time.perf_counter() - stopper.start
    network = QNetwork(model.q_net, int(env.action_space.n)).eval()
    return {
        "train_seconds": seconds,
        "steps": model.num_timesteps,
        "updates": model._n_updates,
        "scores": evaluate_q_network(network, args),
    }


def report(
    rows: list[dict[str, Any]], game: str, minutes: float, eval_episodes: int
) -> tuple[list[str], dict[str, bool]]:
    """The summary's lines and the target's verdict. A seed is a run: its score is the mean
    of its ``eval_episodes`` games; the IQM over seeds and the ratio course / SB3 come with
    95% bootstrap intervals, and the target (>= 1.5x) is met only if the ratio's whole
    interval is at or above it. One seed has no interval: the target is then not judged."""
    scores = {
        impl: [float(r["eval_mean"]) for r in rows if r["implementation"] == impl]
        for impl in IMPLEMENTATIONS
    }
    seeds = min(len(found) for found in scores.values())
    lines = [
        f"{game}, {minutes:g} min of training each, side by side on one core each, "
        f"{seeds} seed(s); a seed's score is the mean of its {eval_episodes} games; "
        "IQM over seeds [95% bootstrap interval]:"
    ]
    if seeds < 2:
        for impl, found in scores.items():
            lines.append(f"  {IMPLEMENTATIONS[impl]:38s} {statistics.fmean(found):8.1f}")
        lines.append(f"  one seed: no interval, the target (>= {TARGET}x) is not judged")
        return lines, {}
    rng = np.random.default_rng(STATS_SEED)
    for impl, found in scores.items():
        lines.append(f"  {IMPLEMENTATIONS[impl]:38s} {bootstrap_ci(found, rng=rng)}")
    ratio = ratio_ci(scores["course"], scores["sb3"], rng=rng)
    met = ratio.at_least(TARGET)
    lines.append(
        f"  course / SB3: {ratio} (target >= {TARGET}x, whole interval: "
        f"{'met' if met else 'NOT met'})"
    )
    return lines, {"ratio": met}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default=GAME)
    parser.add_argument("--minutes", type=float, default=30.0, help="training wall time each")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument(
        "--eval-seed",
        type=int,
        default=70_000,
        help="first evaluation game seed (never used in training)",
    )
    parser.add_argument(
        "--out",
        nargs="?",
        const=str(DEFAULT_CSV),
        default=None,
        help=f"write the per-run rows as CSV (default path: {DEFAULT_CSV})",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add to the rows already in --out (seeds run in separate "
        "sittings); the summary covers them all",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="summarize --out's rows (default path if not given) without training",
    )
    parser.add_argument("--quick", action="store_true", help="~1 minute smoke run")
    parser.add_argument("--worker", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.seeds, args.eval_episodes = 0.3, args.seeds[:1], 2
    if args.minutes <= 0 or args.eval_episodes < 1:
        parser.error(
            f"--minutes must be > 0 and --eval-episodes >= 1, got {args.minutes}, "
            f"{args.eval_episodes}"
        )
    return args


def start_worker(impl: str, args: argparse.Namespace, seed: int) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        impl,
        "--seed",
        str(seed),
        "--game",
        args.game,
        "--minutes",
        str(args.minutes),
        "--eval-episodes",
        str(args.eval_episodes),
        "--eval-seed",
        str(args.eval_seed),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker = course_worker if args.worker == "course" else sb3_worker
        print(json.dumps(worker(args)), flush=True)
        return
    if args.summary and args.out is None:
        args.out = str(DEFAULT_CSV)
    rows: list[dict[str, Any]] = []
    if (args.append or args.summary) and args.out and Path(args.out).exists():
        with Path(args.out).open() as file:
            rows = [{**row, "eval_mean": float(row["eval_mean"])} for row in csv.DictReader(file)]
    for seed in [] if args.summary else args.seeds:
        workers = {impl: start_worker(impl, args, seed) for impl in IMPLEMENTATIONS}
        for impl, process in workers.items():
            stdout, _ = process.communicate()
            if process.returncode:
                raise SystemExit(f"the {impl} worker failed (exit {process.returncode})")
            result = json.loads(stdout.strip().splitlines()[-1])
            scores = result.pop("scores")
            row = {
                "seed": seed,
                "implementation": impl,
                "minutes": args.minutes,
                **result,
                "eval_episodes": args.eval_episodes,
                "eval_seed": args.eval_seed,
                "eval_mean": statistics.fmean(scores),
                "eval_std": statistics.pstdev(scores),
                "scores": " ".join(f"{score:g}" for score in scores),
            }
            rows.append(row)
            print(
                f"seed {seed} {IMPLEMENTATIONS[impl]:38s} {row['steps']:7,} steps "
                f"({row['updates']:,} updates) in {row['train_seconds'] / 60:.1f} min: "
                f"{row['eval_mean']:7.1f} +- {row['eval_std']:.1f} over {args.eval_episodes} games",
                flush=True,
            )
    if rows:  # the rows say how they were run (--summary, --append)
        args.minutes, args.eval_episodes = float(rows[0]["minutes"]), int(rows[0]["eval_episodes"])
    lines, _ = report(rows, args.game, args.minutes, args.eval_episodes)
    print("\n".join(lines))
    if args.out and not args.summary:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows({key: row[key] for key in CSV_FIELDS} for row in rows)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
