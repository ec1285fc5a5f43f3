"""``rlcourse``: long trainings and videos from the command line (GPU when present).

    rlcourse train dqn --env CartPole-v1 --total-steps 50000 --seed 0 --out runs/cartpole
    rlcourse watch runs/cartpole/checkpoint.pt --video cartpole.mp4

``rlcourse train dqn --help`` lists every hyperparameter with its documentation.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from rlcourse.agents.dqn import DQNConfig
from rlcourse.training import field_docs


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _parse_optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def add_config_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--option`` per dataclass field, documented with the field's docstring."""
    docs = field_docs(cls)
    group = parser.add_argument_group(f"{cls.__name__} (defaults depend on the env: see --preset)")
    for item in dataclasses.fields(cls):
        if item.name in ("extra", "seed"):
            continue
        flag = "--" + item.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": item.name, "default": None, "help": docs.get(item.name)}
        annotation = str(item.type)
        if annotation == "bool":
            kwargs.update(type=_parse_bool, metavar="BOOL")
        elif annotation == "int":
            kwargs.update(type=int, metavar="N")
        elif annotation == "float":
            kwargs.update(type=float, metavar="X")
        elif annotation == "float | None":
            kwargs.update(type=_parse_optional_float, metavar="X|none")
        elif annotation.startswith("tuple[int"):
            kwargs.update(type=int, nargs="+", metavar="N")
        else:
            kwargs.update(type=str, metavar="TEXT")
        group.add_argument(flag, **kwargs)


PRESETS = ("cartpole", "atari")


def preset_config(name: str) -> DQNConfig:
    from rlcourse.agents import dqn

    return dqn.PRESETS[name]()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlcourse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train an agent")
    algos = train.add_subparsers(dest="algo", required=True, metavar="ALGO")
    dqn = algos.add_parser(
        "dqn",
        help="DQN / Double DQN",
        description="Train DQN (or Double DQN with --double true). Writes OUT/config.json, "
        "OUT/log.csv, OUT/checkpoint.pt (the resume point, at an episode end every "
        "--checkpoint-every steps) and OUT/final.pt (the final weights, for `rlcourse watch`).",
    )
    dqn.add_argument("--env", required=True, help="env id: CartPole-v1, ALE/MsPacman-v5, ...")
    dqn.add_argument("--total-steps", type=int, required=True, help="env steps to train for")
    dqn.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    dqn.add_argument("--out", type=Path, required=True, help="output directory")
    dqn.add_argument("--preset", choices=PRESETS, default=None,
                     help="hyperparameter preset (default: chosen from the env)")  # fmt: skip
    dqn.add_argument("--eval-every", type=int, default=5000, help="steps between evaluations")
    dqn.add_argument("--eval-episodes", type=int, default=10, help="greedy episodes per evaluation")
    dqn.add_argument("--solve-score", type=float, default=None,
                     help="stop at the first evaluation whose mean reaches this")  # fmt: skip
    dqn.add_argument("--checkpoint-every", type=int, default=10_000,
                     help="steps between checkpoints (taken at episode ends)")  # fmt: skip
    dqn.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    dqn.add_argument("--no-buffer-in-checkpoint", action="store_true",
                     help="leave the replay memory out of checkpoints (smaller files; "
                          "a resumed run then refills it)")  # fmt: skip
    dqn.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    dqn.add_argument(
        "--actions", default=None,
        help="reduced action set of an ALE game: 'right' (RIGHT, RIGHTFIRE: the Mario "
        "tutorial's), 'simple', or comma-separated action names, e.g. NOOP,FIRE,LEFT",
    )  # fmt: skip
    dqn.add_argument(
        "--export", type=Path, default=None, help="also write the final weights to this file"
    )
    add_config_options(dqn, DQNConfig)

    watch = commands.add_parser(
        "watch", help="play a checkpoint greedily and save a video",
        description="Play greedy episodes with a trained agent, print the scores, and record "
        "the first one to an MP4.",
    )  # fmt: skip
    watch.add_argument("checkpoint", type=Path,
                       help="final.pt or checkpoint.pt written by `rlcourse train`")  # fmt: skip
    watch.add_argument("--video", type=Path, default=None, help="MP4 file to write")
    watch.add_argument("--episodes", type=int, default=1, help="episodes to play (default 1)")
    watch.add_argument("--max-steps", type=int, default=10_000, help="step limit per episode")
    watch.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    return parser


def _config_from_args(args: argparse.Namespace) -> DQNConfig:
    from rlcourse.agents.dqn import default_preset

    preset = args.preset or default_preset(args.env)
    values = preset_config(preset).to_dict()
    for item in dataclasses.fields(DQNConfig):
        given = getattr(args, item.name, None)
        if given is not None and item.name not in ("seed", "extra"):
            values[item.name] = tuple(given) if isinstance(given, list) else given
    values["seed"] = args.seed
    values["extra"] = {"command": " ".join(["rlcourse", *sys.argv[1:]]), "preset": preset}
    return DQNConfig.from_dict(values)


def run_train_dqn(args: argparse.Namespace) -> int:
    import json

    import torch

    from rlcourse.agents.dqn import DQN, export_weights, make_env_for, train

    if args.threads:
        torch.set_num_threads(args.threads)
    config = _config_from_args(args)
    env_options = {}
    if args.actions:
        env_options["actions"] = args.actions if "," not in args.actions else [
            name.strip() for name in args.actions.split(",")
        ]  # fmt: skip
    env = make_env_for(args.env, training=True, **env_options)
    eval_env = make_env_for(args.env, training=False, **env_options)
    agent = DQN(env.observation_space, env.action_space, config)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    print(f"Training DQN on {args.env} for {args.total_steps} steps on {agent.device} "
          f"-> {args.out}")  # fmt: skip
    result = train(
        agent, env, args.total_steps, env_id=args.env, eval_env=eval_env,
        eval_every=args.eval_every, eval_episodes=args.eval_episodes,
        solve_score=args.solve_score, out_dir=args.out, checkpoint_every=args.checkpoint_every,
        resume=args.resume, save_buffer=not args.no_buffer_in_checkpoint,
        env_options=env_options,
    )  # fmt: skip
    evaluations = result.state.evaluations
    if evaluations:
        step, mean, std = evaluations[-1]
        print(f"last evaluation at step {step}: {mean:.1f} +- {std:.1f}")
    if result.solved_at_step is not None:
        print(f"solved (>= {args.solve_score}) at step {result.solved_at_step}")
    if args.export:
        export_weights(agent, args.export, env_id=args.env, env_options=env_options)
        print(f"exported weights to {args.export}")
    print(f"final weights: {args.out / 'final.pt'} (rlcourse watch {args.out / 'final.pt'})")
    print(f"resume point: {args.out / 'checkpoint.pt'}; log: {args.out / 'log.csv'}")
    return 0


def run_watch(args: argparse.Namespace) -> int:
    from rlcourse.agents.dqn import env_for_checkpoint, load_agent
    from rlcourse.training import load_checkpoint
    from rlcourse.video import record_episode

    if args.episodes <= 0:
        raise ValueError(f"--episodes must be positive, got {args.episodes}")
    payload = load_checkpoint(args.checkpoint, expect={"algo": "dqn"})
    env = env_for_checkpoint(payload, render_mode="rgb_array")
    agent, _ = load_agent(args.checkpoint, env)
    for episode in range(args.episodes):
        if episode == 0 and args.video:
            rec = record_episode(env, agent.greedy, args.video, args.max_steps,
                                 seed=args.seed)  # fmt: skip
            score, steps = rec.episode_return, rec.steps
        else:
            from rlcourse.training import evaluate

            score, steps = float(evaluate(agent.greedy, env, 1, args.seed + episode,
                                          args.max_steps)[0]), None  # fmt: skip
        suffix = f" ({steps} steps)" if steps is not None else ""
        print(f"episode {episode}: score {score:.1f}{suffix}")
    if args.video:
        print(f"video: {args.video}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from rlcourse.envs import UnknownEnvError
    from rlcourse.training import CheckpointError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return run_train_dqn(args)
        return run_watch(args)
    except (UnknownEnvError, CheckpointError, ValueError, TypeError) as error:
        # A clear one-line error, not a traceback, for mistakes a user can fix.
        print(f"rlcourse: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlcourse: interrupted (the last checkpoint is intact; --resume continues)",
              file=sys.stderr)  # fmt: skip
        return 130


if __name__ == "__main__":
    sys.exit(main())
