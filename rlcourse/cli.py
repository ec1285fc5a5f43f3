"""``rlcourse``: one command line for every algorithm of the course.

    rlcourse train dqn --env CartPole-v1 --total-steps 50000 --seed 0 --out runs/cartpole
    rlcourse train a2c --env ALE/KungFuMaster-v5 --total-steps 3000000 --out runs/kungfu
    rlcourse train reinforce --env CartPole-v1 --total-steps 400000 --out runs/reinforce
    rlcourse evaluate runs/cartpole/final.pt --episodes 20 --seed 50000 --vs-random
    rlcourse watch runs/cartpole/final.pt --video cartpole.mp4
    rlcourse export runs/kungfu/best.pt kungfu.pt
    rlcourse plot runs/cartpole
    rlcourse study overestimation

``rlcourse train ALGO --help`` lists every hyperparameter with its documentation. The same
flags mean the same thing for every algorithm; steps are agent steps everywhere.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from rlcourse.checkpoints import export_checkpoint
from rlcourse.config import add_config_options, check_number, options_to_values
from rlcourse.envs import check_env_id, env_for_checkpoint
from rlcourse.errors import RLCourseError, UsageError
from rlcourse.evaluation import (
    TEST_SEED,
    evaluate,
    evaluate_checkpoint,
    format_progress,
    format_score,
)
from rlcourse.metrics import MetricLogger
from rlcourse.plots import plot_metrics
from rlcourse.registry import ALGORITHMS, Algorithm, load_policy
from rlcourse.studies import overestimation
from rlcourse.training.harness import (
    RUN_FILES,
    TrainRequest,
    check_run_directory,
    is_run_directory,
)
from rlcourse.value_bias import ValueBiasRecorder
from rlcourse.video import record_episode


@contextmanager
def user_input(what: str = "") -> Iterator[None]:
    """Turn ValueError/TypeError raised while *reading the user's request* into a
    :class:`UsageError`; everywhere else they are bugs and keep their traceback."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise UsageError(f"{what}{error}") from None


def check_output_file(flag: str, path: Path, suffix: str) -> None:
    """Before any work: ``path`` can be written (a file name with ``suffix``, in a folder
    that exists or can be made in a writable one)."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; name a {suffix} file")
    if path.suffix.lower() != suffix:
        raise UsageError(f"{flag} {path}: name a {suffix} file")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{flag} {path}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UsageError(f"{flag} {path}: {parent} is not writable")
            return


MAX_THREADS = 1024
"""More torch threads than any machine the course runs on has cores."""
SEED_RANGE = (0, 2**32 - 1)
"""Seeds the games and generators accept."""


def check_seed(flag: str, seed: int) -> int:
    """A seed every game and generator accepts, or an error that names the option."""
    return check_number(flag, seed, integer=True, low=SEED_RANGE[0], high=SEED_RANGE[1])


def check_not_kept(flag: str, path: Path, inputs: tuple[Path, ...] = (), own: str = "") -> None:
    """An output never names an input of the same command, nor a file of a run (its
    checkpoint, log, weights, config) other than ``own``, the one this command writes."""
    if not path.exists():
        return
    for source in inputs:
        if source.exists() and path.samefile(source):
            raise UsageError(f"{flag} {path} is this command's input: name another file")
    if path.name in RUN_FILES and path.name != own and is_run_directory(path.parent):
        raise UsageError(
            f"{flag} {path} is the {path.name} of the run in {path.parent}: name another file"
        )


@contextmanager
def writing(flag: str, path: Path) -> Iterator[None]:
    """A write the checks could not foresee (a pseudo file system, a full disk) fails with
    a message, and the atomic write leaves nothing behind."""
    try:
        yield
    except OSError as error:
        raise UsageError(f"cannot write {flag} {path}: {error.strerror or error}") from None


def _train_options(parser: argparse.ArgumentParser, algorithm: Algorithm) -> None:
    """The options of ``rlcourse train ALGO``: the same for every algorithm, then those its
    registry entry asks for, then its hyperparameters."""
    env_help = "env id: CartPole-v1, ALE/MsPacman-v5, ..."
    if algorithm.default_env:
        parser.add_argument(
            "--env",
            default=algorithm.default_env,
            help=f"{env_help} (default: {algorithm.default_env})",
        )
    else:
        parser.add_argument("--env", required=True, help=env_help)
    parser.add_argument(
        "--total-steps",
        type=int,
        required=True,
        help="agent steps to train for (summed over parallel games)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument(
        "--eval-every",
        type=int,
        default=None,
        help="agent steps between evaluations (default: none)",
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=10, help="games per evaluation (default 10)"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=10_000,
        help="agent steps between resume points (default 10000)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop after this much training time (evaluations excluded)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (1 is best on a shared 2-core machine)",
    )
    parser.add_argument(
        "--export", type=Path, default=None, help="also write the final weights (fp16) to this file"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    if algorithm.presets:
        parser.add_argument(
            "--preset",
            choices=sorted(algorithm.presets),
            default=None,
            help="hyperparameter preset (default: chosen from the env)",
        )
    if algorithm.solve_score:
        parser.add_argument(
            "--solve-score",
            type=float,
            default=None,
            help="stop at the first evaluation whose mean reaches this",
        )
    if algorithm.replay_memory:
        parser.add_argument(
            "--no-buffer-in-checkpoint",
            action="store_true",
            help="leave the replay memory out of resume points (smaller files; the resumed "
            "run is then not exact: it refills --learning-starts transitions before it "
            "learns again)",
        )
    if algorithm.action_sets:
        parser.add_argument(
            "--actions",
            default=None,
            help="reduced action set of an ALE game: a name from rlcourse.envs.ACTION_SETS "
            "(right_only, walk_and_fire) or comma-separated action names, e.g. NOOP,FIRE,LEFT",
        )
    defaults = "the preset's" if algorithm.presets else "the config's"
    add_config_options(
        parser, algorithm.config, f"{algorithm.name.upper()} hyperparameters (defaults: {defaults})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlcourse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    names = ", ".join(name.upper() for name in ALGORITHMS)
    train = commands.add_parser("train", help=f"train an agent ({names})")
    algos = train.add_subparsers(dest="algo", required=True, metavar="ALGO")
    for algorithm in ALGORITHMS.values():
        sub = algos.add_parser(
            algorithm.name,
            help=algorithm.summary,
            description=f"{algorithm.description} Writes OUT/config.json, OUT/log.csv, "
            "OUT/checkpoint.pt (resume point), OUT/best.pt, OUT/final.pt, OUT/metrics.png.",
        )
        _train_options(sub, algorithm)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a checkpoint on whole games (the course's protocol)",
        description="Play whole games (real scores: no episodic life, no reward clipping) "
        "with seeds S, S+1, ...; the last line is 'score: MEAN +- STD over N games'.",
    )
    evaluate.add_argument("checkpoint", type=Path, help="a .pt file written by rlcourse")
    evaluate.add_argument("--episodes", type=int, default=20, help="games (default 20)")
    evaluate.add_argument(
        "--seed",
        type=int,
        default=TEST_SEED,
        help=f"first game's seed (default {TEST_SEED}: never used in "
        "training or checkpoint selection)",
    )
    evaluate.add_argument(
        "--epsilon",
        type=float,
        default=0.05,
        help="DQN agents: random action probability (default 0.05, as the "
        "Nature paper); A2C and REINFORCE sample from their "
        "policy",
    )
    evaluate.add_argument(
        "--vs-random",
        action="store_true",
        help="also score random play on the same games and actions",
    )
    evaluate.add_argument("--max-steps", type=int, default=None, help="step limit per game")
    evaluate.add_argument(
        "--value-bias",
        action="store_true",
        help="DQN agents: also measure overestimation, the mean Q(s, a) "
        "predicted against the discounted return obtained, on the "
        "same games",
    )

    watch = commands.add_parser(
        "watch",
        help="play a checkpoint and save a video",
        description="Play games with a trained agent (DQN: greedy; A2C, REINFORCE: their "
        "policy), print the scores, and record the first one to an MP4.",
    )
    watch.add_argument("checkpoint", type=Path, help="final.pt, best.pt or checkpoint.pt")
    watch.add_argument("--video", type=Path, default=None, help="MP4 file to write")
    watch.add_argument("--episodes", type=int, default=1, help="games to play (default 1)")
    watch.add_argument("--max-steps", type=int, default=10_000, help="step limit per game")
    watch.add_argument("--seed", type=int, default=0, help="seed of the first game")

    export = commands.add_parser("export", help="small weights-only copy of a checkpoint")
    export.add_argument("source", type=Path, help="e.g. runs/kungfu/best.pt")
    export.add_argument("target", type=Path, help="where to write it")
    export.add_argument(
        "--fp32",
        action="store_true",
        help="keep fp32 weights (default fp16: half the size, but rounded weights can change "
        "close choices, so an fp16 copy may score differently from the run: evaluate the file "
        "you ship)",
    )

    plot = commands.add_parser("plot", help="draw a run's curves from its log.csv")
    plot.add_argument("run_dir", type=Path, help="a run directory (holds log.csv)")
    plot.add_argument("--png", type=Path, default=None, help="default: RUN_DIR/metrics.png")

    study = commands.add_parser("study", help="small experiments of the course")
    studies = study.add_subparsers(dest="study", required=True, metavar="STUDY")
    over = studies.add_parser("overestimation", help=overestimation.DESCRIPTION)
    overestimation.add_arguments(over)
    return parser


# --- train --------------------------------------------------------------------------------


def _env_options(args: argparse.Namespace) -> dict[str, Any]:
    actions = getattr(args, "actions", None)
    if not actions:
        return {}
    return {"actions": actions if "," not in actions else [a.strip() for a in actions.split(",")]}


def run_train(args: argparse.Namespace) -> int:
    algorithm = ALGORITHMS[args.algo]
    with user_input():
        check_env_id(args.env)
        for name in ("total_steps", "eval_episodes", "checkpoint_every"):
            check_number(f"--{name.replace('_', '-')}", getattr(args, name), integer=True, low=1)
        if args.eval_every is not None:
            check_number("--eval-every", args.eval_every, integer=True, low=1)
        if args.max_minutes is not None:
            check_number("--max-minutes", args.max_minutes, low=0, low_open=True)
        check_seed("--seed", args.seed)
        if args.threads is not None:
            check_number("--threads", args.threads, integer=True, low=1, high=MAX_THREADS)
        if args.export is not None:
            check_output_file("--export", args.export, ".pt")
            check_not_kept("--export", args.export)
            if args.export.resolve().parent == args.out.resolve() and args.export.name in RUN_FILES:
                raise UsageError(f"--export {args.export} is a file of this run: name another file")
        values = options_to_values(args, algorithm.config)
        values["seed"] = args.seed
        preset = getattr(args, "preset", None)
        if algorithm.presets:
            preset = preset or (
                algorithm.default_preset(args.env) if algorithm.default_preset else None
            )
            values.setdefault("device", "auto")
        config: Any = algorithm.make_config(args.env, values, preset)
        # Every run records the command that made it (with DQN's preset): a finished run
        # says how to make it again, and studies read it from the checkpoint.
        config.extra = {"command": shlex.join(["rlcourse", *args.argv])}
        if algorithm.presets:
            config.extra["preset"] = preset
        check_run_directory(args.out)
        if not args.resume and (args.out / "checkpoint.pt").exists():
            raise ValueError(
                f"{args.out} already holds a run: add --resume to continue it, or choose "
                "another --out"
            )
        if not args.resume and (args.out / "final.pt").exists():
            raise ValueError(
                f"{args.out} already holds a finished run (final.pt): choose another --out"
            )
    if args.threads:
        torch.set_num_threads(args.threads)
    request = TrainRequest(
        env_id=args.env,
        config=config,
        total_steps=args.total_steps,
        env_options=_env_options(args),
        out_dir=args.out,
        resume=args.resume,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        checkpoint_every=args.checkpoint_every,
        max_minutes=args.max_minutes,
        solve_score=getattr(args, "solve_score", None),
        save_buffer=not getattr(args, "no_buffer_in_checkpoint", False),
        progress=not args.no_progress,
    )
    with user_input():
        prepared = algorithm.prepare(request)
    agent = prepared.agent
    device = getattr(agent, "device", "cpu")
    print(
        f"Training {args.algo.upper()} on {args.env} for {args.total_steps} steps on {device} "
        f"-> {args.out}"
    )
    result = prepared.train()
    if result.solved_at_step is not None:
        print(f"solved (>= {request.solve_score}) at step {result.solved_at_step}")
    if result.evaluations:
        step, mean, std = result.evaluations[-1]
        print(f"last evaluation at step {step}: {mean:.1f} +- {std:.1f}")
    if result.interrupted:
        signum = result.stop_signal or signal.SIGINT
        print(
            f"stopped by {signal.Signals(signum).name} at step {agent.steps}: resume point "
            f"{args.out / 'checkpoint.pt'} (the same command with --resume continues)"
        )
        return 128 + int(signum)
    if args.export:
        with writing("--export", args.export):
            export_checkpoint(args.out / "final.pt", args.export)
        print(f"exported weights to {args.export}")
    print(f"final weights: {args.out / 'final.pt'}; log: {args.out / 'log.csv'}")
    return 0


# --- evaluate, watch, export, plot ----------------------------------------------------------


def run_evaluate(args: argparse.Namespace) -> int:
    with user_input():
        check_number("--episodes", args.episodes, integer=True, low=1)
        check_number("--epsilon", args.epsilon, low=0, high=1)
        check_seed("--seed", args.seed)
        check_seed("--seed + --episodes", args.seed + args.episodes - 1)
        if args.max_steps is not None:
            check_number("--max-steps", args.max_steps, integer=True, low=1)
    policy = load_policy(args.checkpoint)
    info = policy.checkpoint
    recorder = ValueBiasRecorder.for_checkpoint(policy, args.episodes) if args.value_bias else None
    result = evaluate_checkpoint(
        policy,
        args.episodes,
        args.seed,
        epsilon=args.epsilon,
        max_steps=args.max_steps,
        vs_random=args.vs_random,
        on_step=recorder,
    )
    print(
        f"{args.checkpoint}: {info.algo.upper()} on {info.env_id} ({info.steps:,} steps), "
        f"{args.episodes} whole games from seed {args.seed}, {result.rule}"
    )
    if result.random_scores is not None:
        print(f"random: {format_score(result.random_scores)}")
        if result.random_progress is not None:
            print(f"random: {format_progress(result.random_progress)}")
    if result.progress is not None:
        print(f"agent: {format_progress(result.progress)}")
    if recorder is not None:
        print(f"value bias: {recorder.result()}")
    print(f"score: {format_score(result.scores)}")
    return 0


def run_watch(args: argparse.Namespace) -> int:
    with user_input():
        check_number("--episodes", args.episodes, integer=True, low=1)
        check_number("--max-steps", args.max_steps, integer=True, low=1)
        check_seed("--seed", args.seed)
        check_seed("--seed + --episodes", args.seed + args.episodes - 1)
        if args.video is not None:
            check_output_file("--video", args.video, ".mp4")
            check_not_kept("--video", args.video, (args.checkpoint,))
    policy = load_policy(args.checkpoint)
    env = env_for_checkpoint(policy, render_mode="rgb_array")
    for episode in range(args.episodes):
        if episode == 0 and args.video:
            with writing("--video", args.video):
                recording = record_episode(env, policy, args.video, args.max_steps, seed=args.seed)
            score, steps = recording.episode_return, f" ({recording.steps} steps)"
        else:
            scores = evaluate(policy, env, 1, args.seed + episode, max_steps=args.max_steps)
            score, steps = float(scores[0]), ""
        print(f"game {episode}: score {score:.1f}{steps}")
    if args.video:
        print(f"video: {args.video}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    check_output_file("export", args.target, ".pt")
    check_not_kept("export", args.target, (args.source,))
    load_policy(args.source)  # refuse what cannot be played before copying it
    with writing("export", args.target):
        path = export_checkpoint(args.source, args.target, half=not args.fp32)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    log = args.run_dir / "log.csv"
    if not log.is_file():
        raise UsageError(f"no log.csv in {args.run_dir}: name a run directory")
    with user_input(f"{log}: "):
        metrics = MetricLogger.from_csv(log)
    png = args.png or args.run_dir / "metrics.png"
    check_output_file("--png", png, ".png")
    check_not_kept("--png", png, (log,), own="metrics.png")
    with writing("--png", png):
        plot_metrics(metrics, png, title=str(args.run_dir))
    print(f"wrote {png}")
    return 0


def run_study(args: argparse.Namespace) -> int:
    with user_input():
        config = overestimation.study_config_from_args(args)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out} is a file: name a folder for the CSV and PNG")
        check_run_directory(out)  # a folder that exists or can be made, writable
    overestimation.run_from_args(args, config)
    return 0


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "watch": run_watch,
    "export": run_export,
    "plot": run_plot,
    "study": run_study,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded in the run's config: the command that made it
    try:
        return COMMANDS[args.command](args)
    except RLCourseError as error:
        # A clear one-line error for mistakes a user can fix; bugs keep their traceback.
        print(f"rlcourse: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside a training loop (which saves and returns)
        print("rlcourse: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
