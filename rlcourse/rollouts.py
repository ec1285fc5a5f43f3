"""Parallel games for on-policy learning: :func:`collect_rollout` plays ``n`` steps of them with
one recurrent memory per game (lesson 09's exercise), :class:`ParallelGames` keeps them going
between rollouts, a :class:`Rollout` holds what happened.

The games live in a Gymnasium vector env whose autoreset is off: the pool resets each game
that ended itself, with a seed of its own (``seed``, ``seed + 1``, ... in order), so every
game can be replayed from its seed and actions (:class:`~rlcourse.resume.ResumableGame`):
this is what makes a resumed run exact. With ``vectorization="ale"`` the games are stepped
in C++ threads (:class:`~rlcourse.atari_vector.AtariVectorGames`), faster; their
emulators cannot be replayed one by one, so a resumed run restarts the unfinished games.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from rlcourse.atari_vector import AtariVectorGames
from rlcourse.config import check_positive_int
from rlcourse.envs import GameSpec, is_atari
from rlcourse.networks import ActorCritic, Memory
from rlcourse.resume import ResumableGame
from rlcourse.wrappers import EpisodicLife


class Rollout(NamedTuple):
    """``n_steps`` steps of ``B`` games; arrays are ``[batch, time, ...]``.

    Step ``t`` of game ``b``: the agent saw ``observations[b, t]``, played
    ``actions[b, t]``, got ``rewards[b, t]``; ``alive[b, t]`` is False when that step
    ended the episode (the game; or a life, with ``EpisodicLife``): the next observation is
    then the first of the next episode, and the memory was zeroed before it.
    """

    observations: np.ndarray
    """uint8 ``[B, T, C, H, W]``: what the agent saw before acting."""
    actions: np.ndarray
    """int64 ``[B, T]``."""
    rewards: np.ndarray
    """float32 ``[B, T]``: the game's points (not scaled)."""
    terminated: np.ndarray
    """bool ``[B, T]``: the game ended (game over): nothing follows, no bootstrap."""
    truncated: np.ndarray
    """bool ``[B, T]``: a time limit cut the game: its return goes on, bootstrap from
    ``truncation_values``."""
    truncation_values: np.ndarray
    """float32 ``[B, T]``: the value of the last observation of a truncated game (0 elsewhere)."""
    next_observations: np.ndarray
    """uint8 ``[B, C, H, W]``: the observations after the last step (bootstrap from these)."""
    initial_memory: Memory
    """The LSTM state ``(h, c)`` each ``[B, hidden]`` before step 0 (training replays the
    rollout from it)."""

    @property
    def alive(self) -> np.ndarray:
        """bool ``[B, T]``: the game goes on after this step."""
        return ~(self.terminated | self.truncated)


def _has_wrapper(env: gym.Env, wrapper: type) -> bool:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, wrapper):
            return True
        env = env.env
    return False


class GameStepper(Protocol):
    """Parallel games stepped together, a finished game restarted in the same step (what
    Gymnasium's vector envs do with ``autoreset_mode=AutoresetMode.SAME_STEP``)."""

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """``(observations, rewards, terminated, truncated, info)`` for ``[B]`` actions; where
        a game ended its observation is the next game's first and ``info["final_obs"][b]``
        its last one."""
        ...


@torch.no_grad()
def collect_rollout(
    network: ActorCritic,
    games: GameStepper,
    observations: np.ndarray,
    memory: Memory,
    n_steps: int,
    generator: torch.Generator,
) -> tuple[Rollout, Memory]:
    """Play ``n_steps`` steps of ``B`` games with a recurrent policy, one memory per game.

    ``observations`` ``[B, ...]`` (uint8) and ``memory`` ``(h, c)``, each ``[B, hidden]``,
    are where the games stand; actions are sampled from the policy with ``generator``.
    After a step that ended a game (terminated or truncated) that game's memory, and only
    its, is zeroed before the next step: the next game starts blank. A truncated game's
    ``truncation_values`` entry is the critic's value of its last observation
    (``info["final_obs"]``), from its memory before the reset. No gradient is recorded
    (training replays the rollout). Returns the rollout and the memory after its last step
    (the games go on from ``rollout.next_observations`` and it).
    """
    batch = observations.shape[0]
    stored_obs = np.empty((batch, n_steps, *observations.shape[1:]), np.uint8)
    actions = np.empty((batch, n_steps), np.int64)
    rewards = np.empty((batch, n_steps), np.float32)
    terminated = np.empty((batch, n_steps), bool)
    truncated = np.empty((batch, n_steps), bool)
    truncation_values = np.zeros((batch, n_steps), np.float32)
    initial_memory = (memory[0].clone(), memory[1].clone())
    for t in range(n_steps):
        stored_obs[:, t] = observations
        memory, logits, _ = network(torch.from_numpy(observations), memory)
        probs = torch.softmax(logits, dim=-1)
        step_actions = torch.multinomial(probs, 1, generator=generator).squeeze(-1).numpy()
        observations, step_rewards, step_terminated, step_truncated, info = games.step(step_actions)
        actions[:, t] = step_actions
        rewards[:, t] = step_rewards
        terminated[:, t] = step_terminated
        truncated[:, t] = step_truncated
        if truncated[:, t].any():
            # V(last observation of the cut game), with its memory before the reset.
            index = np.flatnonzero(truncated[:, t])
            last = torch.from_numpy(np.stack(list(info["final_obs"][index])))
            _, _, value = network(last, (memory[0][index], memory[1][index]))
            truncation_values[index, t] = value.numpy()
        ended = terminated[:, t] | truncated[:, t]
        if ended.any():
            keep = torch.from_numpy(~ended).to(memory[0].dtype).unsqueeze(-1)
            memory = (memory[0] * keep, memory[1] * keep)
    rollout = Rollout(
        stored_obs,
        actions,
        rewards,
        terminated,
        truncated,
        truncation_values,
        np.array(observations, dtype=np.uint8),
        initial_memory,
    )
    return rollout, memory


class _SameStepGames:
    """A :class:`ParallelGames`' games as a :class:`GameStepper`: the pool counts the scores
    and restarts each finished game itself, with a seed of its own."""

    def __init__(self, pool: ParallelGames) -> None:
        self.pool = pool

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        return self.pool._step_games(actions)


class _ReplayableEnvFn:
    """A picklable ``() -> ResumableGame(make_env())`` for the vector env's workers."""

    def __init__(self, make_env: Callable[[], gym.Env]) -> None:
        if not callable(make_env):
            raise TypeError(
                f"make_env must be a function that makes one env (e.g. make_kungfu_env), "
                f"got {make_env!r}"
            )
        self.make_env = make_env

    def __call__(self) -> ResumableGame:
        return ResumableGame(self.make_env())


class ParallelGames:
    """``n_parallel_games`` games played by one recurrent network, one memory per game.

    When a game ends, the step returns its real last reward, ``terminated``/``truncated``
    flags and last observation (used to bootstrap a truncated game); the pool then resets
    that game and zeroes its memory, and only its. Memories are kept between
    :meth:`interact` calls.

    >>> from rlcourse.envs import make_kungfu_env
    >>> from rlcourse.networks import RecurrentActorCritic
    >>> pool = ParallelGames(RecurrentActorCritic((1, 42, 42), 14), make_kungfu_env, 2, seed=0)
    >>> rollout = pool.interact(5)
    >>> rollout.observations.shape, rollout.actions.shape, rollout.alive.shape
    ((2, 5, 1, 42, 42), (2, 5), (2, 5))
    >>> pool.close()
    """

    def __init__(
        self,
        network: ActorCritic,
        make_env: Callable[[], gym.Env],
        n_parallel_games: int,
        *,
        seed: int = 0,
        vectorization: str = "sync",
        env_threads: int = 2,
    ) -> None:
        n_parallel_games = check_positive_int("n_parallel_games", n_parallel_games)
        self.network = network
        self.n_games = n_parallel_games
        self.envs: Any
        if vectorization == "ale":
            if not isinstance(make_env, GameSpec) or not is_atari(make_env.env_id):
                raise ValueError(
                    f"vectorization='ale' steps ALE games in C++: make_env must be a "
                    f"GameSpec of an ALE game, e.g. GameSpec('ALE/KungFuMaster-v5', "
                    f"training=True), got {make_env!r}"
                )
            self.envs = AtariVectorGames(
                make_env.env_id,
                n_parallel_games,
                training=make_env.training,
                threads=env_threads,
                **make_env.options,
            )
        elif vectorization in ("sync", "async"):
            vector_class = SyncVectorEnv if vectorization == "sync" else AsyncVectorEnv
            self.envs = vector_class(
                [_ReplayableEnvFn(make_env)] * n_parallel_games,
                autoreset_mode=AutoresetMode.DISABLED,
            )
        else:
            raise ValueError(
                f"vectorization must be 'sync', 'async' or 'ale', got {vectorization!r}"
            )
        self.restorable = vectorization != "ale"
        """Whether :meth:`restore` replays the unfinished games exactly."""
        shape = tuple(self.envs.single_observation_space.shape or ())
        obs_shape = getattr(network, "obs_shape", None)
        if obs_shape is not None and shape != tuple(obs_shape):
            self.envs.close()
            raise ValueError(
                f"the games give observations of shape {shape} but the network was built for "
                f"{tuple(obs_shape)}: make the network with the same size/frame_stack"
            )
        # With EpisodicLife an episode is a life: scores are summed up to the real game over.
        if self.restorable:
            probe = make_env()
            self._lives_end_episodes = _has_wrapper(probe, EpisodicLife)
            probe.close()
        else:
            self._lives_end_episodes = self.envs.episodic_life
        self.generator = torch.Generator().manual_seed(seed)
        self.next_seed = seed + n_parallel_games
        """Seed of the next game to start (games are seeded in the order they start)."""
        self.observations, _ = self.envs.reset(seed=seed)
        self.memory: Memory = network.initial_memory(n_parallel_games)
        self.episode_returns = np.zeros(n_parallel_games)
        self.episode_lengths = np.zeros(n_parallel_games, dtype=np.int64)
        self.finished_returns: list[float] = []
        """Scores of the games finished so far, in order of their end (whole games, also
        when lives end the training episodes)."""
        self.finished_lengths: list[int] = []
        """Agent steps of those games."""
        self.total_steps = 0
        """Agent steps played, summed over the games."""

    def interact(self, n_steps: int) -> Rollout:
        """Play ``n_steps`` steps in every game; return them as a :class:`Rollout`."""
        n_steps = check_positive_int("n_steps", n_steps)
        rollout, self.memory = collect_rollout(
            self.network,
            _SameStepGames(self),
            self.observations,
            self.memory,
            n_steps,
            self.generator,
        )
        self.observations = rollout.next_observations.copy()
        return rollout

    def _step_games(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every game, ended games restarted (:class:`_SameStepGames`)."""
        next_obs, rewards, terminated, truncated, info = self.envs.step(actions)
        ended = np.asarray(terminated) | np.asarray(truncated)
        self._count(rewards, ended, self._game_over(ended, truncated, info))
        final_obs = np.empty(self.n_games, dtype=object)
        for i in np.flatnonzero(ended):
            final_obs[i] = next_obs[i]
        if ended.any():
            next_obs = self._reset_games(ended)
        info = {**info, "final_obs": final_obs, "_final_obs": ended}
        return next_obs, rewards, terminated, truncated, info

    def _reset_games(self, ended: np.ndarray) -> np.ndarray:
        seeds: list[int | None] = [None] * self.n_games
        for i in np.flatnonzero(ended):
            seeds[i] = self.next_seed
            self.next_seed += 1
        observations, _ = self.envs.reset(seed=seeds, options={"reset_mask": ended})
        return observations

    def _game_over(
        self, ended: np.ndarray, truncated: np.ndarray, info: dict[str, Any]
    ) -> np.ndarray:
        if not self._lives_end_episodes or not ended.any():
            return ended
        lives = np.asarray(info["lives"])
        return ended & ((lives <= 0) | truncated)

    def _count(self, rewards: np.ndarray, ended: np.ndarray, game_over: np.ndarray) -> None:
        self.episode_returns += rewards
        self.episode_lengths += 1
        self.total_steps += self.n_games
        for i in np.flatnonzero(game_over):
            self.finished_returns.append(float(self.episode_returns[i]))
            self.finished_lengths.append(int(self.episode_lengths[i]))
            self.episode_returns[i] = 0.0
            self.episode_lengths[i] = 0

    # resume ------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly: memories, generator, the games' logs."""
        return {
            "memory": [self.memory[0].clone(), self.memory[1].clone()],
            "generator": self.generator.get_state(),
            "games": list(self.envs.call("game_log")) if self.restorable else None,
            "next_seed": self.next_seed,
            "episode_returns": self.episode_returns.copy(),
            "episode_lengths": self.episode_lengths.copy(),
            "finished_returns": list(self.finished_returns),
            "finished_lengths": list(self.finished_lengths),
            "total_steps": self.total_steps,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Replay every game to where :meth:`state` left it, and restore the rest.

        Games that cannot be replayed (``vectorization="ale"``, or a state saved by such a
        pool) start afresh with the next seeds and empty memories; their unfinished scores
        are dropped."""
        games = state["games"]
        if games is not None and len(games) != self.n_games:
            raise ValueError(f"the saved pool had {len(games)} games, this one {self.n_games}")
        self.generator.set_state(state["generator"])
        self.next_seed = int(state["next_seed"])
        if games is not None and self.restorable:
            self.envs.set_attr("pending_log", list(games))
            results = self.envs.call("restore_pending")
            self.observations = np.stack([np.asarray(obs) for obs, _ in results])
            self.memory = (state["memory"][0].clone(), state["memory"][1].clone())
            self.episode_returns = np.asarray(state["episode_returns"], dtype=np.float64).copy()
            self.episode_lengths = np.asarray(state["episode_lengths"], dtype=np.int64).copy()
        else:
            seeds = list(range(self.next_seed, self.next_seed + self.n_games))
            self.next_seed += self.n_games
            self.observations, _ = self.envs.reset(seed=seeds)
            self.memory = self.network.initial_memory(self.n_games)
            self.episode_returns = np.zeros(self.n_games)
            self.episode_lengths = np.zeros(self.n_games, dtype=np.int64)
        self.finished_returns = [float(x) for x in state["finished_returns"]]
        self.finished_lengths = [int(x) for x in state["finished_lengths"]]
        self.total_steps = int(state["total_steps"])

    def close(self) -> None:
        self.envs.close()
