"""Exact resume: a game is its seed and the actions played since.

Saving an emulator's memory, every wrapper's buffers and every random generator would tie
checkpoints to each env's internals. Deterministic envs need less: the seed of the game and
what was done since reproduce all of it. :class:`ResumableGame` keeps that log, and
replays it on a fresh env.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

_RESET = -1  # a reset without a seed, in a game's event log (actions are >= 0)


class ResumableGame(gym.Wrapper):
    """Remember how the current game was reached, so that it can be reached again.

    It logs the seed of the last seeded *real* reset and every action and reset since.
    :meth:`restore` plays that log on a freshly made env of the same kind: with deterministic
    envs (ALE games, CartPole, ...) the env, its wrappers and their random generators end up
    exactly where they were. A reset that :class:`~rlcourse.wrappers.EpisodicLife` turns
    into "carry on after a lost life" is not real: the log goes on through it.

    >>> env = ResumableGame(gym.make("CartPole-v1"))
    >>> _ = env.reset(seed=3)
    >>> for action in (0, 1, 1):
    ...     obs, *_ = env.step(action)
    >>> again = ResumableGame(gym.make("CartPole-v1"))
    >>> bool((again.restore(env.game_log())[0] == obs).all())
    True
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._seed: int | None = None
        self._events: list[int] = []
        self.pending_log: dict[str, Any] | None = None
        """A log to :meth:`restore_pending` (vector envs pass one per game this way)."""

    def _next_reset_is_real(self) -> bool:
        try:
            return bool(self.env.get_wrapper_attr("game_over"))
        except AttributeError:
            return True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is not None and self._next_reset_is_real():
            self._seed, self._events = int(seed), []
        else:
            self._events.append(_RESET)
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        self._events.append(int(action))
        return self.env.step(action)

    def game_log(self) -> dict[str, Any]:
        """The seed and the events since: what :meth:`restore` needs."""
        if self._seed is None:
            raise RuntimeError("this game was never reset with a seed: it cannot be replayed")
        return {"seed": self._seed, "events": np.asarray(self._events, dtype=np.int64)}

    def restore(self, log: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Reset with the log's seed and replay its events; return the last observation and
        info (of the last step or reset)."""
        events = np.asarray(log["events"]).tolist()
        # A game in progress (a pool's, already reset) must really restart: tell the
        # wrappers that pretend to reset after a lost life that the game is over.
        env = self.env
        while isinstance(env, gym.Wrapper):
            if "game_over" in vars(env):
                env.game_over = True  # type: ignore[attr-defined]
            env = env.env
        obs, info = self.reset(seed=int(log["seed"]))
        for event in events:
            if event == _RESET:
                obs, info = self.reset()
            else:
                obs, _, _, _, info = self.step(event)
        return obs, info

    def restore_pending(self) -> tuple[Any, dict[str, Any]]:
        """:meth:`restore` the :attr:`pending_log` (set through a vector env's ``set_attr``)."""
        if self.pending_log is None:
            raise RuntimeError("no pending_log to replay")
        log, self.pending_log = self.pending_log, None
        return self.restore(log)
