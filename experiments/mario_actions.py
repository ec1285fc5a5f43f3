"""Why Mario Bros. (ALE) is hard for DQN: what gives points, and what simple policies score.

Arcade Mario Bros. is one screen: pests walk along the platforms from both sides; Mario
flips one by bumping the platform under it (a jump, FIRE) and kicks it off by touching it.
This script plays whole games (all lives, real points, as the course's evaluation) and
prints, for each action set:

* random play: mean +- std score and the standard error of the mean (a 20-game mean moves by
  +-150 points from one set of games to the next: compare rows by their errors), game
  length, and every reward value seen with its count;
* each constant action (a policy that always presses one button), to show the degenerate
  policies a Q-network can collapse to (e.g. NOOP: Mario stands still, safe, scoring 0);
* right_only with the jump drawn more or less often, or pressed every k-th step: no simple
  rhythm beats the coin toss, so points come from jumping at the right moments;
* random actions each held k steps (what ``DQNConfig.explore_repeat`` explores with), on
  the sets with both directions.

    python experiments/mario_actions.py --games 100 --out bench/results/mario_actions.md

Seeds start at 777,100: never used to train or select an agent.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import time
from pathlib import Path

import numpy as np

from rlcourse.envs import ACTION_SETS, make_env_for
from rlcourse.files import atomic_write

SETS: dict[str, list[str] | None] = {
    "right_only": list(ACTION_SETS["right_only"]),
    "left_only": ["LEFT", "LEFTFIRE"],
    "both ways": ["RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"],
    "jumps only": ["FIRE", "RIGHTFIRE", "LEFTFIRE"],
    "walk_and_fire": list(ACTION_SETS["walk_and_fire"]),
    "all 18": None,
}
# right_only played with RIGHTFIRE (a jump) drawn with these chances, and every k-th step.
JUMP_CHANCES = (0.25, 0.5, 0.75)
JUMP_PERIODS = (2, 4, 8, 16)
# Random actions held this many steps each, on these sets.
HOLDS = (4, 10)
HELD_SETS = ("walk_and_fire", "both ways")


def play(env, choose, games: int, seed: int, max_steps: int):
    """Scores, lengths and reward values of ``games`` whole games of ``choose(rng) -> action``."""
    rng = np.random.default_rng(seed)
    scores, lengths, rewards = [], [], collections.Counter()
    for game in range(games):
        env.reset(seed=seed + game)
        total, steps, done = 0.0, 0, False
        while not done and steps < max_steps:
            _, reward, terminated, truncated, _ = env.step(choose(rng))
            if reward:
                rewards[float(reward)] += 1
            total += float(reward)
            steps += 1
            done = terminated or truncated
        scores.append(total)
        lengths.append(steps)
    return np.array(scores), np.array(lengths), rewards


def row(policy: str, actions: str, scores, lengths, rewards) -> str:
    """One table row of a policy's games (what :func:`play` returns), printed as it comes."""
    seen = ", ".join(f"{value:g} x{count}" for value, count in sorted(rewards.items()))
    error = scores.std(ddof=1) / np.sqrt(len(scores)) if len(scores) > 1 else float("nan")
    text = (
        f"| {policy} | {actions} | {scores.mean():.1f} +- {scores.std():.1f} | {error:.1f} "
        f"| {lengths.mean():.0f} | {seen or 'none'} |"
    )
    print(text, flush=True)
    return text


def every(period: int):
    """A policy of right_only that jumps (action 1) on every ``period``-th step."""
    ticks = itertools.count(1)
    return lambda rng: int(next(ticks) % period == 0)


def held(n_actions: int, hold: int):
    """Random play that draws one of ``n_actions`` and presses it ``hold`` steps in a row."""
    ticks = itertools.count()
    current = [0]

    def choose(rng: np.random.Generator) -> int:
        if next(ticks) % hold == 0:
            current[0] = int(rng.integers(n_actions))
        return current[0]

    return choose


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=100, help="games per policy")
    parser.add_argument("--seed", type=int, default=777_100, help="seed of the first game")
    parser.add_argument("--max-steps", type=int, default=27_000, help="agent steps per game")
    parser.add_argument("--out", type=Path, help="write the table here too (Markdown)")
    args = parser.parse_args(argv)

    lines = [
        f"Mario Bros. (ALE/MarioBros-v5), whole games, frame skip 4, seeds {args.seed}+, "
        f"at most {args.max_steps} agent steps a game",
        "",
        "| policy | actions | score (mean +- std) | standard error | agent steps a game "
        "| rewards seen |",
        "|---|---|---|---|---|---|",
    ]
    start = time.perf_counter()
    for name, actions in SETS.items():
        options = {} if actions is None else {"actions": actions}
        env = make_env_for("ALE/MarioBros-v5", training=False, **options)
        n = int(env.action_space.n)
        played = play(
            env, lambda rng, n=n: int(rng.integers(n)), args.games, args.seed, args.max_steps
        )
        lines.append(row("random", f"{name} ({n})", *played))
        if name == "walk_and_fire":
            for index, action in enumerate(actions):
                played = play(
                    env, lambda rng, a=index: a, min(args.games, 5), args.seed, args.max_steps
                )
                lines.append(row(f"always {action}", name, *played))
        if name in HELD_SETS:
            for hold in HOLDS:
                played = play(env, held(n, hold), args.games, args.seed, args.max_steps)
                lines.append(row(f"random, each held {hold} steps", f"{name} ({n})", *played))
        env.close()
    env = make_env_for("ALE/MarioBros-v5", training=False, actions=SETS["right_only"])
    policies = {
        f"RIGHTFIRE with chance {p:g}": (lambda rng, p=p: int(rng.random() < p))
        for p in JUMP_CHANCES
    }
    for period in JUMP_PERIODS:
        policies[f"RIGHTFIRE once every {period} steps"] = every(period)
    for name, choose in policies.items():
        played = play(env, choose, args.games, args.seed, args.max_steps)
        lines.append(row(name, "right_only", *played))
    env.close()
    text = "\n".join(lines) + "\n"
    # The time goes to the console only: the table holds scores, which do not depend on load.
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.out:
        with atomic_write(args.out) as temporary:
            Path(temporary).write_text(text)
    return text


if __name__ == "__main__":
    main()
