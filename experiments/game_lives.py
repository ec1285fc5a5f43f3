"""How an agent's games go, life by life: steps and points of each life, and the rewards.

A score says how much, not how: a Kung-Fu Master agent can score 9,000 by beating floor 1
quickly (its boss and time bonus give thousands of points at once) or by knocking down
enemies one by one until they get it. This script plays a checkpoint's games with the
course's evaluation protocol (``rlcourse evaluate``'s function: its env, seeds and draws,
so the scores are the command's) and prints, for each game, the agent steps and the points
of each life, then how long lives last and which reward values the agent collected (the
game's real points, never clipped).

    python experiments/game_lives.py rlcourse/pretrained/a2c_kungfu.pt --games 20 --seed 60000

Games without lives count as one life.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rlcourse.evaluation import TEST_SEED, Step, evaluate_checkpoint, format_score


class Life(NamedTuple):
    """One life of one game."""

    steps: int
    """Agent steps it lasted."""
    points: float
    """Points scored in it."""


class Games(NamedTuple):
    """What :func:`play_games` saw."""

    scores: np.ndarray
    """Each game's score (``rlcourse evaluate``'s)."""
    lives: list[list[Life]]
    """Each game's lives, in order (the last one ends with the game or its step limit)."""
    rewards: Counter
    """How often each non-zero reward value was collected, over all games."""


def play_games(
    checkpoint: str | Path, games: int, seed: int = TEST_SEED, max_steps: int | None = None
) -> Games:
    """Play ``games`` games of ``checkpoint`` with ``rlcourse evaluate``'s protocol
    (:func:`~rlcourse.evaluation.evaluate_checkpoint`) and split them into lives."""
    lives: list[list[Life]] = [[] for _ in range(games)]
    running = [[0, 0.0] for _ in range(games)]
    rewards: Counter = Counter()

    def on_step(game: int, step: Step) -> None:
        life = running[game]
        life[0] += 1
        life[1] += step.reward
        if step.reward:
            rewards[step.reward] += 1
        if step.lost_life or step.terminated or step.truncated:
            lives[game].append(Life(life[0], life[1]))
            running[game] = [0, 0.0]

    scores = evaluate_checkpoint(
        checkpoint, games, seed, max_steps=max_steps, on_step=on_step
    ).scores
    for game, (steps, points) in enumerate(running):
        if steps:  # cut by max_steps: the life in progress
            lives[game].append(Life(steps, points))
    return Games(scores, lives, rewards)


def report(result: Games) -> str:
    """The games as Markdown: one row per game, then lives' lengths and the rewards."""
    lines = ["| game | score | lives: steps (points) |", "|---|---|---|"]
    for game, (score, lives) in enumerate(zip(result.scores, result.lives, strict=True)):
        cells = ", ".join(f"{life.steps} ({life.points:,.0f})" for life in lives)
        lines.append(f"| {game} | {score:,.0f} | {cells} |")
    steps = np.array([life.steps for lives in result.lives for life in lives])
    points = np.array([life.points for lives in result.lives for life in lives])
    lines += [
        "",
        f"score: {format_score(result.scores)}",
        f"lives: {steps.size}; steps a life: median {np.median(steps):,.0f} "
        f"(min {steps.min():,}, max {steps.max():,}); points a life: median "
        f"{np.median(points):,.0f} (max {points.max():,.0f})",
        "rewards collected (value x times): "
        + (
            ", ".join(f"{value:,g} x {count:,}" for value, count in sorted(result.rewards.items()))
            or "none"
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a .pt file written by rlcourse")
    parser.add_argument("--games", type=int, default=20)
    parser.add_argument("--seed", type=int, default=TEST_SEED, help="first game's seed")
    parser.add_argument("--max-steps", type=int, default=None, help="step limit per game")
    args = parser.parse_args()
    if args.games < 1:
        parser.error(f"--games must be at least 1, got {args.games}")
    print(report(play_games(args.checkpoint, args.games, args.seed, args.max_steps)))


if __name__ == "__main__":
    main()
