"""Overestimation on a real game: a trained DQN agent's predictions against what it obtained.

While an evaluation plays (:func:`rlcourse.evaluation.evaluate_checkpoint`, or
:func:`rlcourse.episodes.play_games` directly), :class:`ValueBiasRecorder`, an ``on_step``
hook, reads ``Q(s_t, a_t)`` of each action the agent took and the rewards that followed;
:meth:`ValueBiasRecorder.result` puts each prediction next to the discounted return that
followed it (van Hasselt et al. 2016, Fig. 3, in small). The agent plays as it would
anyway: the same draws, the same games, the same scores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from rlcourse.config import check_number, check_positive_int
from rlcourse.envs import atari_options, is_atari
from rlcourse.episodes import TEST_SEED, Step, evaluate_batched
from rlcourse.errors import WrongAgentError
from rlcourse.evaluation import evaluate_checkpoint
from rlcourse.policies import QPolicy
from rlcourse.registry import load_policy


class ValueBias(NamedTuple):
    """A trained DQN agent's predictions against what it obtained, step by step
    (:func:`measure_value_bias`)."""

    predicted: np.ndarray
    """``Q(s_t, a_t)`` of the action taken, at every step whose return is known."""
    obtained: np.ndarray
    """The discounted return that followed each of those steps, in the rewards the agent was
    trained on (clipped when its training clipped them), up to the end of the life (when a
    lost life ended its training episodes) or of the game."""
    gamma: float
    """The agent's discount factor."""
    games: int
    """Games played."""

    @property
    def overestimate(self) -> float:
        """Mean of predicted minus obtained: > 0 when the agent expects more than it gets."""
        return float((self.predicted - self.obtained).mean())

    def __str__(self) -> str:
        return (
            f"predicted Q {self.predicted.mean():.3f}, discounted return obtained "
            f"{self.obtained.mean():.3f}: overestimate {self.overestimate:+.3f} "
            f"(mean over {len(self.predicted):,} steps of {self.games} "
            f"game{'s' if self.games != 1 else ''})"
        )


def discounted_returns(rewards: np.ndarray, ends: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = r_t + gamma * G_{t+1}``, restarting after every step where ``ends`` is True.

    >>> ends = np.array([False, True, False, True])
    >>> discounted_returns(np.array([1.0, 0.0, 1.0, 1.0]), ends, gamma=0.5).tolist()
    [1.0, 0.0, 1.5, 1.0]
    """
    returns = np.zeros(len(rewards))
    following = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        following = float(rewards[t]) + gamma * (0.0 if ends[t] else following)
        returns[t] = following
    return returns


class ValueBiasRecorder:
    """An ``on_step`` hook that records, game by game, ``Q(s_t, a_t)`` of each action a
    :class:`~rlcourse.policies.QPolicy` took (read from its network, a batch of observations
    at a time) and what followed: rewards clipped to their sign with ``clip_rewards``, a
    lost life ending the return with ``lives_end_returns``. :meth:`result` then gives the
    :class:`ValueBias`.
    """

    def __init__(
        self,
        policy: QPolicy,
        games: int,
        *,
        gamma: float,
        clip_rewards: bool = False,
        lives_end_returns: bool = False,
        batch_size: int = 256,
    ) -> None:
        if not isinstance(policy, QPolicy):
            algo = getattr(getattr(policy, "checkpoint", None), "algo", type(policy).__name__)
            raise WrongAgentError(
                f"the value bias reads Q-values: it needs a DQN checkpoint, and this one "
                f"holds a {str(algo).upper()} agent"
            )
        self.policy = policy
        self.games = check_positive_int("games", games)
        self.gamma = check_number("gamma", gamma, low=0, high=1)
        self.clip_rewards, self.lives_end_returns = clip_rewards, lives_end_returns
        self.batch_size = check_positive_int("batch_size", batch_size)
        self._q: list[list[float]] = [[] for _ in range(games)]
        self._rewards: list[list[float]] = [[] for _ in range(games)]
        self._ends: list[list[bool]] = [[] for _ in range(games)]
        self._over = np.zeros(games, bool)
        self._pending: list[tuple[int, Any, int]] = []

    @classmethod
    def for_checkpoint(cls, policy: QPolicy, games: int) -> ValueBiasRecorder:
        """Returns counted the way the checkpoint's training counted them: its ``gamma``, and
        for Atari games rewards clipped and a lost life ending the return when its training
        did so."""
        info = policy.checkpoint
        if info is None or not isinstance(policy, QPolicy):
            return cls(policy, games, gamma=1.0)  # refused with the reason
        rules = {}
        if is_atari(info.env_id):
            training = atari_options(info.env_options, training=True)
            rules = {
                "clip_rewards": training["clip_rewards"],
                "lives_end_returns": training["episodic_life"],
            }
        return cls(policy, games, gamma=float(info.config["gamma"]), **rules)

    def __call__(self, game: int, step: Step) -> None:
        """``on_step``: the Q-value of the action taken, and what it gave."""
        self._pending.append((game, step.observation, int(step.action)))
        if len(self._pending) >= self.batch_size:
            self._read_q_values()
        reward = float(np.sign(step.reward)) if self.clip_rewards else float(step.reward)
        self._rewards[game].append(reward)
        life_ends_return = step.lost_life and self.lives_end_returns
        self._ends[game].append(bool(step.terminated or life_ends_return))
        self._over[game] = step.terminated

    def _read_q_values(self) -> None:
        if not self._pending:
            return
        q_values = self.policy.q_values(np.stack([obs for _, obs, _ in self._pending]))
        for (game, _, action), q in zip(self._pending, q_values, strict=True):
            self._q[game].append(float(q[action]))
        self._pending.clear()

    def result(self) -> ValueBias:
        """Predictions against returns, over the steps whose return is known: the last life
        of a game that did not end (cut by a step or time limit) is left out."""
        self._read_q_values()
        predicted: list[float] = []
        obtained: list[float] = []
        for game in range(self.games):
            ends = np.array(self._ends[game], bool)
            known = len(ends)
            if known and not self._over[game] and not ends[-1]:  # a return cut short: unknown
                known = int(np.flatnonzero(ends).max()) + 1 if ends.any() else 0
            returns = discounted_returns(np.array(self._rewards[game]), ends, self.gamma)
            predicted += self._q[game][:known]
            obtained += returns[:known].tolist()
        if not predicted:
            raise ValueError(
                f"no step with a known return in {self.games} games: every game "
                "was cut by a step limit before a life or the game ended; raise "
                "max_steps"
            )
        return ValueBias(np.array(predicted), np.array(obtained), self.gamma, self.games)


def value_bias(
    policy: QPolicy,
    make_env: Callable[[], gym.Env],
    episodes: int,
    seed: int,
    *,
    gamma: float,
    clip_rewards: bool = False,
    lives_end_returns: bool = False,
    max_steps: int | None = None,
) -> ValueBias:
    """Play ``episodes`` whole games of ``make_env()`` seeded ``seed``, ``seed + 1``, ... side
    by side (:func:`~rlcourse.episodes.evaluate_batched`) with a
    :class:`~rlcourse.policies.QPolicy` and put ``Q(s_t, a_t)`` next to the discounted return
    that followed (:class:`ValueBiasRecorder`)."""
    recorder = ValueBiasRecorder(
        policy,
        episodes,
        gamma=gamma,
        clip_rewards=clip_rewards,
        lives_end_returns=lives_end_returns,
    )
    evaluate_batched(policy, make_env, episodes, seed, max_steps=max_steps, on_step=recorder)
    return recorder.result()


def measure_value_bias(
    checkpoint: str | os.PathLike | QPolicy,
    episodes: int = 10,
    seed: int = TEST_SEED,
    *,
    epsilon: float = 0.05,
    max_steps: int | None = None,
) -> ValueBias:
    """Overestimation on the agent's own game: the games
    :func:`~rlcourse.evaluation.evaluate_checkpoint` plays (the same seeds, epsilon and
    draws), with ``Q(s_t, a_t)`` of each action taken put next to the discounted return that
    followed, counted the way the agent's training counted it
    (:meth:`ValueBiasRecorder.for_checkpoint`).

    ``checkpoint``: a DQN checkpoint's path, or a policy from
    :func:`rlcourse.registry.load_policy`.
    """
    is_path = isinstance(checkpoint, str | os.PathLike)
    policy: Any = load_policy(checkpoint) if is_path else checkpoint  # type: ignore[arg-type]
    recorder = ValueBiasRecorder.for_checkpoint(policy, episodes)
    evaluate_checkpoint(
        policy, episodes, seed, epsilon=epsilon, max_steps=max_steps, on_step=recorder
    )
    return recorder.result()
