"""The course's evaluation protocol, written once (``docs/evaluation.md``).

* an evaluation plays whole episodes; for Atari games the env is made with
  ``training=False``: whole games (no episodic life), real scores (no reward clipping);
* episode ``i`` starts from ``env.reset(seed=seed + i)``: the same seed, the same games;
* a policy with memory starts every episode with an empty one; if its training zeroed the
  memory at each lost life (``policy.reset_on_life_loss``), evaluation does the same. A lost
  life never ends the episode: the score is the whole game's;
* a game still running after ``max_steps`` agent steps counts with its score so far.

Training runs evaluate on seeds from :data:`EVAL_SEED` (checkpoint selection); reported
scores use other, fresh seeds: ``rlcourse evaluate CHECKPOINT --seed S`` with S from
:data:`TEST_SEED` by default. Every game is played by the one episode runner,
:func:`rlcourse.episodes.play_games`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from rlcourse.config import check_number
from rlcourse.envs import env_for_checkpoint, is_nes_mario
from rlcourse.episodes import (
    EVAL_SEED,
    TEST_SEED,
    Step,
    StepHook,
    evaluate,
    evaluate_batched,
    lost_life,
)
from rlcourse.policies import Policy, QPolicy, RandomPolicy
from rlcourse.registry import load_policy

__all__ = [
    "EVAL_SEED",
    "TEST_SEED",
    "CheckpointScores",
    "InfoMaxima",
    "Step",
    "evaluate",
    "evaluate_batched",
    "evaluate_checkpoint",
    "format_progress",
    "format_score",
    "lost_life",
]


def format_score(scores: Sequence[float] | np.ndarray, unit: str = "games") -> str:
    """``"MEAN +- STD over N games"``, the form every score of the course is printed in.

    >>> format_score([10.0, 20.0])
    '15.0 +- 5.0 over 2 games'
    """
    scores = np.asarray(scores, dtype=np.float64)
    return f"{scores.mean():.1f} +- {scores.std():.1f} over {len(scores)} {unit}"


class InfoMaxima:
    """The largest value each of ``keys`` took in a game's step infos, game by game: an
    ``on_step`` for :func:`evaluate_batched`. Games whose infos never had a key get NaN.

    >>> maxima = InfoMaxima(("x_pos", "flag_get"), games=2)
    >>> for game, x_pos in [(0, 40), (0, 300), (0, 120), (1, 90)]:
    ...     maxima(game, Step(0.0, False, False, False, {"x_pos": x_pos, "flag_get": False}))
    >>> maxima.values["x_pos"].tolist(), maxima.values["flag_get"].tolist()
    ([300.0, 90.0], [0.0, 0.0])
    """

    def __init__(self, keys: Sequence[str], games: int) -> None:
        self.values = {key: np.full(games, np.nan) for key in keys}

    def __call__(self, game: int, step: Step) -> None:
        for key, values in self.values.items():
            if key in step.info:
                values[game] = np.fmax(values[game], float(np.asarray(step.info[key])))


PROGRESS_KEYS = {"nes_mario": ("x_pos", "flag_get")}
"""Step-info keys that say how far an agent got, by game family: NES Super Mario's
``x_pos`` (the distance reached, in pixels from the stage's start) and ``flag_get`` (1 once
the flag is reached)."""


Progress = dict[str, np.ndarray] | None


class CheckpointScores(NamedTuple):
    """What :func:`evaluate_checkpoint` measured."""

    scores: np.ndarray
    """The agent's score in each game."""
    random_scores: np.ndarray | None
    """Random play's score in the same games with the same actions (``vs_random``)."""
    rule: str
    """How the agent chose its actions, in words."""
    progress: dict[str, np.ndarray] | None = None
    """For games where a score is not the whole story (:data:`PROGRESS_KEYS`: NES Super
    Mario), each game's maximum of those step-info values (``x_pos``: distance reached,
    ``flag_get``: 1 if the flag was reached), else None."""
    random_progress: dict[str, np.ndarray] | None = None
    """The same for random play (``vs_random``)."""


def format_progress(progress: dict[str, np.ndarray]) -> str:
    """``progress`` of :class:`CheckpointScores` in words.

    >>> format_progress({"x_pos": np.array([300.0, 900.0]), "flag_get": np.array([0.0, 1.0])})
    'distance reached (x_pos): 600.0 +- 300.0 over 2 games, furthest 900; flags: 1 of 2'
    """
    parts = []
    if "x_pos" in progress:
        x_pos = progress["x_pos"]
        parts.append(
            f"distance reached (x_pos): {format_score(x_pos)}, furthest {np.nanmax(x_pos):.0f}"
        )
    if "flag_get" in progress:
        flags = progress["flag_get"]
        parts.append(f"flags: {int(np.nansum(flags > 0))} of {len(flags)}")
    return "; ".join(parts)


def evaluate_checkpoint(
    checkpoint: str | os.PathLike | Policy,
    episodes: int = 20,
    seed: int = TEST_SEED,
    *,
    epsilon: float = 0.05,
    max_steps: int | None = None,
    vs_random: bool = False,
    on_step: StepHook | None = None,
) -> CheckpointScores:
    """The course's evaluation protocol, written once: ``rlcourse evaluate`` and the lessons
    both call it, so a lesson's quoted score is the command's.

    ``episodes`` whole games (the checkpoint's env with ``training=False``) seeded ``seed``,
    ``seed + 1``, ...; a DQN agent plays epsilon-greedy (``epsilon``, 0.05 as in the Nature
    paper), an actor-critic or REINFORCE agent samples from its policy (what it learned);
    the draws restart from ``seed``. With ``vs_random``, random play on the same games with
    the same action set. For NES Super Mario the distance reached and the flags too
    (``progress``). ``on_step(game, step)`` sees every :class:`~rlcourse.episodes.Step` of
    the agent's games (not random play's), e.g. to split them into lives or to read the
    agent's Q-values (:class:`~rlcourse.value_bias.ValueBiasRecorder`).
    ``checkpoint``: a path, or a policy from :func:`rlcourse.registry.load_policy`.
    """
    check_number("epsilon", epsilon, low=0, high=1)
    is_path = isinstance(checkpoint, str | os.PathLike)
    policy: Any = load_policy(checkpoint) if is_path else checkpoint  # type: ignore[arg-type]
    policy.reseed(seed)  # the same call, the same games and the same draws
    if isinstance(policy, QPolicy):
        policy.epsilon = epsilon
        rule = f"epsilon {epsilon:g}"
    else:
        rule = "actions sampled from the policy"

    def make_env() -> gym.Env:
        return env_for_checkpoint(policy)

    keys = PROGRESS_KEYS["nes_mario"] if is_nes_mario(policy.checkpoint.env_id) else ()

    def play(player: Any, hook: StepHook | None) -> tuple[np.ndarray, Progress]:
        maxima = InfoMaxima(keys, episodes)
        hooks = [h for h in ((maxima if keys else None), hook) if h is not None]

        def each_hook(game: int, step: Step) -> None:
            for h in hooks:
                h(game, step)

        scores = evaluate_batched(
            player,
            make_env,
            episodes,
            seed,
            max_steps=max_steps,
            on_step=each_hook if hooks else None,
        )
        return scores, maxima.values if keys else None

    scores, progress = play(policy, on_step)
    random_scores = random_progress = None
    if vs_random:
        random_player = RandomPolicy(make_env().action_space, seed=seed)
        random_scores, random_progress = play(random_player, None)
    return CheckpointScores(scores, random_scores, rule, progress, random_progress)
