"""Training speed of the course's DQN against Stable-Baselines3's DQN, on Ms. Pac-Man, on CPU.

    python bench/atari_dqn_speed.py [--steps 4000] [--rounds 5] [--threads 2] [--out [CSV]]
    python bench/atari_dqn_speed.py --quick      # a smoke run of seconds, numbers meaningless

Measured: agent steps per second of *training* (act, env step, store, and every 4th step
one gradient step on 32 transitions), timed over ``--steps`` agent steps after learning
has started, torch on ``--threads`` CPU threads; and the peak resident memory of each.
Contenders, in the same run, interleaved round by round (course, SB3, course, SB3, ...;
a busy moment of the machine hits both), each run in a fresh subprocess of this script
(``--worker``) so that its peak RSS (``ru_maxrss``) is its own:

  (a) ``rlcourse.agents.dqn``: ``DQN`` + ``train_dqn()``, replay in ``AtariReplayBuffer``
      (one 84x84 frame per slot, stacks rebuilt at sample time);
  (b) ``stable_baselines3.DQN("CnnPolicy")``, ``learn()``, SB3's ``ReplayBuffer``
      (``obs`` and ``next_obs`` stored as full (4, 84, 84) stacks; ``--sb3-optimize-memory``
      stores one stack per transition).

Both train on the course's training env, ``make_env_for("ALE/MsPacman-v5", training=True)``
(noop reset, skip 4 + max, episodic life, FIRE reset, 84x84 gray, clipped rewards,
4 frames), with ``atari_config()``'s hyperparameters: Adam lr 1e-4 (both torch's default
betas and eps 1e-8: SB3's DQN passes no optimizer kwargs), batch 32, gamma 0.99, one
gradient step every 4 agent steps, hard target update every 2,000 steps, Huber loss,
gradient norm clipped to 10, vanilla (not double, not dueling) targets, the same Nature
CNN layers (both divide the uint8 pixels by 255 in the forward pass), the same replay
capacity. Both use the seed of the round. Timing starts at ``learning_starts`` (an
untimed warm-up before it), and the worker checks that both took exactly ``steps / 4``
gradient steps in the timed window.

What SB3 adds around the env (it is given the plain Gymnasium env and wraps it itself):
``Monitor`` (episode statistics) and ``DummyVecEnv`` (a batch of one; auto-reset). No
``VecTransposeImage``: (4, 84, 84) is channels-first by SB3's rule (smallest axis first);
the worker asserts it. Per step SB3 copies the 28 KB observation a few times (into the
VecEnv buffer, ``deepcopy`` out of it and again in ``_store_transition``, into its replay
arrays); that is part of what is measured, as is the course's own loop (``train_dqn`` with
no output directory and no progress bar).

Differences that remain (none changes the work per step):
  * exploration: both go linearly from epsilon 1 to ``--epsilon`` (default: the config's
    ``epsilon_end``, 0.01) over the ``learning_starts`` warm-up, not over 250k steps, so
    the timed window runs at a constant, equal epsilon, where long runs spend most of
    their steps. One greedy forward pass per step costs both the same, which makes the
    ratio conservative. In the warm-up SB3 acts uniformly at random (its rule); the
    course follows its schedule;
  * SB3 trains when ``num_timesteps > learning_starts``, the course at ``>=``: both
    count ``steps / 4`` updates in the window (checked);
  * the course seeds each episode's reset (``seed + episode``), SB3 only the first;
  * ``--sb3-optimize-memory`` needs ``handle_timeout_termination=False`` (SB3's rule):
    SB3 then treats time-limit truncations as terminal. Off by default (SB3's default).

Memory: the default ``--capacity 20000 --learning-starts 20000`` fills the replay memory
during the warm-up, so when timing begins both buffers are full and the timed steps
overwrite the oldest slots, as in a long run: the peak RSS then counts the real storage
(NumPy's ``zeros`` are lazy, so a half-empty buffer would count only its touched pages).
20k instead of ``atari_config``'s 200k: SB3 stores 56 KB a transition, 11 GB at 200k,
more than this machine should give it. The table also projects both buffers to 200k from
their bytes per transition. The course's capacity counts frame slots, so its full buffer
holds slightly fewer transitions (each episode's first frames take slots): the table
shows both fills. Peak RSS includes Python, torch and the ALE (both workers import
``rlcourse.envs`` for the env; that adds ~2 MiB to SB3's).

Target (docs/benchmarks.md): course / SB3 >= 1.5x in median steps/s, judged by the whole
95% bootstrap interval of the ratio (``rlcourse.stats.ratio_ci``, each side's rounds
resampled on their own): met only if the interval's low end is >= 1.5x; fewer than 5
rounds are not judged. With ``--out`` the
per-run rows go to a CSV (default ``bench/results/atari_dqn_speed.csv``).

Caveats: wall-clock time on a shared machine; run it with both cores otherwise idle
(nothing else training). A full run (defaults: 5 rounds) should take 12-16 minutes on 2 free cores
(estimated from per-step CPU costs: a gradient step ~50 ms on one thread, acting ~1 ms,
the env ~0.4 ms; a run is ~5 s of start-up, 10-20 s of warm-up and ~1 min timed). CPU only.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlcourse.stats import Estimate, ratio_ci

IMPLEMENTATIONS = {"course": "rlcourse DQN", "sb3": "SB3 DQN CnnPolicy"}
TARGET = 1.5
MIN_ROUNDS = 5
"""Fewer rounds than this give an interval too coarse to judge the target by."""
DEFAULT_CSV = Path(__file__).parent / "results" / "atari_dqn_speed.csv"
CSV_FIELDS = [
    "round",
    "implementation",
    "game",
    "threads",
    "steps",
    "learning_starts",
    "capacity",
    "epsilon",
    "seed",
    "seconds",
    "steps_per_s",
    "updates",
    "warmup_seconds",
    "setup_rss_mib",
    "peak_rss_mib",
    "buffer_transitions",
    "buffer_capacity",
    "buffer_mib",
    "buffer_bytes_per_slot",
]
MIB = 2**20


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def course_worker(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from rlcourse.agents.dqn import DQN, atari_config
    from rlcourse.envs import make_env_for
    from rlcourse.training import train_dqn

    torch.set_num_threads(args.threads)
    env = make_env_for(args.game, training=True)
    config = atari_config(
        buffer_size=args.capacity,
        learning_starts=args.learning_starts,
        epsilon_start=1.0,
        epsilon_end=args.epsilon,
        exploration_steps=args.learning_starts,
        seed=args.seed,
        device="cpu",
    )
    agent = DQN(env.observation_space, env.action_space, config)
    setup_rss = peak_rss_mib()
    start = time.perf_counter()
    train_dqn(agent, env, args.learning_starts, progress=False)  # warm-up, untimed
    warmup = time.perf_counter() - start
    updates_before = agent.updates
    start = time.perf_counter()
    train_dqn(agent, env, args.learning_starts + args.steps, progress=False)
    seconds = time.perf_counter() - start
    buffer = agent.buffer
    return {
        "seconds": seconds,
        "updates": agent.updates - updates_before,
        "warmup_seconds": warmup,
        "setup_rss_mib": setup_rss,
        "peak_rss_mib": peak_rss_mib(),
        "buffer_transitions": len(buffer),
        "buffer_capacity": buffer.capacity,
        "buffer_mib": buffer.nbytes / MIB,
        "buffer_bytes_per_slot": buffer.nbytes / buffer.capacity,
        "version": f"torch {torch.__version__}",
    }


def sb3_worker(args: argparse.Namespace) -> dict[str, Any]:
    import stable_baselines3
    import torch
    from stable_baselines3 import DQN as SB3DQN  # noqa: N811
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.vec_env import VecTransposeImage

    from rlcourse.agents.dqn import atari_config
    from rlcourse.envs import make_env_for

    class WindowTimer(BaseCallback):
        """Times ``learn()`` from the first rollout at ``learning_starts`` to its end."""

        def __init__(self, start_at: int) -> None:
            super().__init__()
            self.start_at = start_at
            self.start: float | None = None
            self.end = 0.0
            self.updates_before = 0

        def _on_rollout_start(self) -> None:
            # Rollouts are train_freq steps long, so one begins exactly at start_at.
            if self.start is None and self.model.num_timesteps == self.start_at:
                self.updates_before = self.model._n_updates
                self.start = time.perf_counter()

        def _on_step(self) -> bool:
            return True

        def _on_training_end(self) -> None:
            self.end = time.perf_counter()

    torch.set_num_threads(args.threads)
    c = atari_config()
    if c.loss != "huber" or c.double or c.dueling or c.tau != 1.0:
        raise SystemExit("atari_config() changed: SB3's DQN is Huber, vanilla, hard update")
    env = make_env_for(args.game, training=True)
    total = args.learning_starts + args.steps
    model = SB3DQN(
        "CnnPolicy",
        env,
        learning_rate=c.lr,
        buffer_size=args.capacity,
        learning_starts=args.learning_starts,
        batch_size=c.batch_size,
        tau=c.tau,
        gamma=c.gamma,
        train_freq=c.train_frequency,
        gradient_steps=c.gradient_steps,
        target_update_interval=c.target_update_interval,
        # Epsilon reaches its end value at learning_starts, as in the course worker.
        exploration_fraction=args.learning_starts / total,
        exploration_initial_eps=1.0,
        exploration_final_eps=args.epsilon,
        max_grad_norm=c.max_grad_norm,
        optimize_memory_usage=args.sb3_optimize_memory,
        replay_buffer_kwargs=(
            {"handle_timeout_termination": False} if args.sb3_optimize_memory else None
        ),
        seed=args.seed,
        device="cpu",
        verbose=0,
    )
    vec_env = model.get_env()
    assert not isinstance(vec_env, VecTransposeImage), "SB3 transposed the frames"
    setup_rss = peak_rss_mib()
    timer = WindowTimer(args.learning_starts)
    model.set_logger(Logger(None, []))  # SB3's default logger leaves an empty temp folder
    start = time.perf_counter()
    model.learn(total, callback=timer)
    if timer.start is None:
        raise RuntimeError("no rollout began at learning_starts: use multiples of 4")
    buffer = model.replay_buffer
    arrays = [buffer.observations, buffer.actions, buffer.rewards, buffer.dones, buffer.timeouts]
    if not buffer.optimize_memory_usage:
        arrays.append(buffer.next_observations)
    nbytes = sum(array.nbytes for array in arrays)
    return {
        "seconds": timer.end - timer.start,
        "updates": model._n_updates - timer.updates_before,
        "warmup_seconds": timer.start - start,
        "setup_rss_mib": setup_rss,
        "peak_rss_mib": peak_rss_mib(),
        "buffer_transitions": buffer.size(),
        "buffer_capacity": buffer.buffer_size,
        "buffer_mib": nbytes / MIB,
        "buffer_bytes_per_slot": nbytes / buffer.buffer_size,
        "version": f"stable-baselines3 {stable_baselines3.__version__}",
    }


def run_worker(impl: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One training run in a fresh Python process; its result is the last stdout line."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        impl,
        "--game",
        args.game,
        "--steps",
        str(args.steps),
        "--threads",
        str(args.threads),
        "--learning-starts",
        str(args.learning_starts),
        "--capacity",
        str(args.capacity),
        "--epsilon",
        str(args.epsilon),
        "--seed",
        str(seed),
    ]
    if args.sb3_optimize_memory:
        command.append("--sb3-optimize-memory")
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    expected = args.steps // 4
    if result["updates"] != expected:
        raise RuntimeError(f"{impl} took {result['updates']} updates, expected {expected}")
    result["steps_per_s"] = args.steps / result["seconds"]
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="ALE/MsPacman-v5")
    parser.add_argument("--steps", type=int, default=4000, help="timed agent steps per run")
    parser.add_argument(
        "--rounds", type=int, default=MIN_ROUNDS, help="interleaved rounds (median, interval)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--capacity", type=int, default=20_000, help="replay capacity")
    parser.add_argument(
        "--learning-starts",
        type=int,
        default=None,
        help="untimed warm-up steps before the first update (default: --capacity, a full "
        "replay memory when timing starts)",
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=None,
        help="exploration rate in the timed window (default: atari_config().epsilon_end)",
    )
    parser.add_argument("--seed", type=int, default=0, help="round r uses seed + r")
    parser.add_argument(
        "--sb3-optimize-memory",
        action="store_true",
        help="SB3 ReplayBuffer(optimize_memory_usage=True): one stack per transition",
    )
    parser.add_argument(
        "--out",
        nargs="?",
        const=str(DEFAULT_CSV),
        default=None,
        help=f"write the per-run rows as CSV (default path: {DEFAULT_CSV})",
    )
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--worker", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds, args.capacity, args.learning_starts = 64, 1, 256, 64
    if args.learning_starts is None:
        args.learning_starts = args.capacity
    if args.epsilon is None:
        from rlcourse.agents.dqn import atari_config

        args.epsilon = atari_config().epsilon_end
    # Multiples of train_freq, so that both take exactly steps / 4 updates in the window.
    if args.steps <= 0 or args.steps % 4 or args.learning_starts % 4:
        parser.error("--steps and --learning-starts must be positive multiples of 4")
    if args.learning_starts < 32:
        parser.error("--learning-starts must be at least the batch size, 32")
    if args.rounds < 1 or args.threads < 1 or args.capacity < 32:
        parser.error("--rounds and --threads must be >= 1, --capacity >= 32")
    if not 0 <= args.epsilon <= 1:
        parser.error("--epsilon must be in [0, 1]")
    return args


def report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> None:
    rates = {impl: [r["steps_per_s"] for r in runs] for impl, runs in results.items()}
    medians = {impl: statistics.median(values) for impl, values in rates.items()}
    peaks = {
        impl: statistics.median(r["peak_rss_mib"] for r in runs) for impl, runs in results.items()
    }
    versions = ", ".join(runs[0]["version"] for runs in results.values())
    print(
        f"{args.game}: training agent steps/s after learning starts, median of {args.rounds} "
        f"round(s) of {args.steps:,} steps; CPU, torch {args.threads} thread(s); {versions}"
    )
    print(
        f"  replay capacity {args.capacity:,}, learning_starts {args.learning_starts:,} "
        f"(untimed warm-up), epsilon {args.epsilon} in the timed window, SB3 "
        f"optimize_memory_usage={args.sb3_optimize_memory}"
    )
    header = (
        f"  {'':20s} {'steps/s':>8s} {'(range)':>13s} {'peak RSS':>10s} "
        f"{'after setup':>11s} {'replay memory':>14s} {'filled':>16s}"
    )
    print(header)
    for impl, runs in results.items():
        last = runs[-1]
        spread = f"({min(rates[impl]):.0f}..{max(rates[impl]):.0f})"
        setup = statistics.median(r["setup_rss_mib"] for r in runs)
        filled = f"{last['buffer_transitions']:,}/{last['buffer_capacity']:,}"
        print(
            f"  {IMPLEMENTATIONS[impl]:20s} {medians[impl]:8.1f} {spread:>13s} "
            f"{peaks[impl]:6.0f} MiB {setup:7.0f} MiB {last['buffer_mib']:10.0f} MiB "
            f"{filled:>16s}"
        )
    # Rounds are runs: each side resampled on its own. With fewer than 5 rounds the
    # interval is too coarse to judge by, so the verdict says so.
    ratio = ratio_ci(rates["course"], rates["sb3"], np.median, rng=args.seed, unit="x")
    ratio = Estimate(ratio.value, ratio.low, ratio.high, "median ratio", "x")
    if args.rounds < MIN_ROUNDS:
        verdict = f"not judged: fewer than {MIN_ROUNDS} rounds"
    elif ratio.at_least(TARGET):
        verdict = "met"
    elif ratio.high < TARGET:
        verdict = "NOT met"
    else:
        verdict = "not settled: the interval straddles it"
    print(f"  course / SB3 steps/s: {ratio}  (target >= {TARGET}x, whole interval: {verdict})")
    print(f"  {'peak RSS SB3 / course':32s} {peaks['sb3'] / peaks['course']:6.2f}x")
    full = 200_000  # atari_config().buffer_size
    projected = ", ".join(
        f"{IMPLEMENTATIONS[impl]} {runs[-1]['buffer_bytes_per_slot'] * full / 2**30:.1f} GiB"
        for impl, runs in results.items()
    )
    print(f"  replay memory at atari_config's {full:,} (bytes per slot x {full:,}): {projected}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker = course_worker if args.worker == "course" else sb3_worker
        print(json.dumps(worker(args)), flush=True)
        return
    results: dict[str, list[dict[str, Any]]] = {impl: [] for impl in IMPLEMENTATIONS}
    rows: list[dict[str, Any]] = []
    for round_index in range(args.rounds):
        seed = args.seed + round_index
        for impl in IMPLEMENTATIONS:
            result = run_worker(impl, args, seed)
            results[impl].append(result)
            print(
                f"round {round_index + 1}/{args.rounds} {IMPLEMENTATIONS[impl]:20s} "
                f"{result['steps_per_s']:7.1f} steps/s, peak RSS {result['peak_rss_mib']:.0f} MiB "
                f"(warm-up {result['warmup_seconds']:.0f} s, timed {result['seconds']:.0f} s)",
                flush=True,
            )
            rows.append(
                {
                    "round": round_index + 1,
                    "implementation": impl,
                    "game": args.game,
                    "threads": args.threads,
                    "steps": args.steps,
                    "learning_starts": args.learning_starts,
                    "capacity": args.capacity,
                    "epsilon": args.epsilon,
                    "seed": seed,
                    **{key: result[key] for key in CSV_FIELDS if key in result},
                }
            )
    report(args, results)
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=CSV_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({key: row[key] for key in CSV_FIELDS})
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
