"""Recurrent advantage actor-critic (A2C) on Kung-Fu Master, with games played in parallel.

The pieces of lesson 06, in the order the notebook builds them:

* :func:`make_kungfu_env`: the game cropped to its playing field, gray, 42x42;
* :class:`EnvPool`: ``n`` games in a Gymnasium vector env, one LSTM memory per game,
  ``interact(n_steps)`` returns a :class:`Rollout` of ``[batch, time]`` arrays;
* the loss pieces: :func:`n_step_returns`, :func:`advantages`, :func:`value_loss`,
  :func:`policy_loss`, :func:`entropy`, put together by :func:`train_on_rollout`;
* :func:`evaluate` (whole games, real scores), checkpoints, and :func:`train`, the loop
  behind the command line::

    python -m rlcourse.agents.a2c train --total-steps 3000000 --max-minutes 30 \\
        --out runs/a2c_kungfu
    python -m rlcourse.agents.a2c evaluate rlcourse/pretrained/a2c_kungfu.pt --games 20
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from rlcourse.envs import make_atari_env
from rlcourse.networks import Memory, RecurrentActorCritic
from rlcourse.training import (
    CheckpointError,
    CSVLogger,
    config_from_dict,
    field_docs,
    load_checkpoint,
    save_checkpoint,
)
from rlcourse.wrappers import EpisodicLife

ENV_ID = "ALE/KungFuMaster-v5"
CHECKPOINT_FORMAT = "rlcourse-a2c/1"
PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained" / "a2c_kungfu.pt"
"""The checkpoint shipped with the package (the notebook shows its video)."""


# --- the environment ---------------------------------------------------------------------


def make_kungfu_env(
    *,
    size: int = 42,
    frame_stack: int = 1,
    frame_skip: int = 4,
    noop_max: int = 30,
    repeat_action_probability: float = 0.0,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
    episodic_life: bool = False,
    env_id: str = ENV_ID,
) -> gym.Env:
    """Kung-Fu Master as the recurrent agent sees it: uint8 ``(frame_stack, size, size)``.

    Gray frames straight from the ALE -> :class:`~rlcourse.wrappers.NoopReset` ->
    :class:`~rlcourse.wrappers.MaxAndSkip` -> ``Crop(top=60, bottom=30, left=15)`` (the
    ``[60:-30, 15:]`` of the classic notebook: no score bar, no floor) ->
    :class:`~rlcourse.wrappers.ProcessFrame84` at ``size`` -> :class:`FrameStack`
    (``frame_stack=1`` keeps a single-frame channel axis: the LSTM is the memory).
    Rewards are the game's own (100, 200, ... points). With ``episodic_life`` (training
    only) a lost life ends the episode (:class:`~rlcourse.wrappers.EpisodicLife`); without
    it an episode is a whole game of 4 lives, as evaluation must play it.

    >>> env = make_kungfu_env()
    >>> env.observation_space, env.action_space
    (Box(0, 255, (1, 42, 42), uint8), Discrete(14))
    """
    return make_atari_env(
        env_id,
        frame_skip=frame_skip,
        noop_max=noop_max,
        episodic_life=episodic_life,
        clip_rewards=False,
        fire_reset=False,
        crop=(60, 30, 15, 0),
        screen_size=size,
        frame_stack=frame_stack,
        repeat_action_probability=repeat_action_probability,
        render_mode=render_mode,
        max_episode_steps=max_episode_steps,
    )


# --- configuration -----------------------------------------------------------------------


@dataclass
class A2CConfig:
    """Everything a training run depends on (saved in each checkpoint as a plain dict)."""

    n_games: int = 16
    """Games played in parallel by the :class:`EnvPool` (the batch size of a rollout)."""
    rollout_length: int = 10
    """Steps per game in one rollout: the ``n`` of the n-step returns, and how far back
    the LSTM's gradient flows (truncated backpropagation through time)."""
    gamma: float = 0.99
    """Discount factor."""
    learning_rate: float = 7e-4
    """Adam's step size."""
    adam_eps: float = 1e-5
    """Adam's epsilon (the A2C/PPO literature's 1e-5 rather than PyTorch's 1e-8)."""
    entropy_coef: float = 0.001
    """Weight of the entropy bonus: larger keeps the policy exploring longer (0.01, the
    usual A2C value, kept Kung-Fu's policy near-random: entropy ~1.9 nats, scores ~6,000)."""
    value_coef: float = 0.5
    """Weight of the value (critic) loss against the policy term."""
    max_grad_norm: float = 0.5
    """Gradients are clipped to this global L2 norm."""
    reward_scale: float = 0.01
    """Rewards are multiplied by this before learning (Kung-Fu gives 100s of points)."""
    hidden_size: int = 128
    """Size of the LSTM memory (and of the dense layer before it)."""
    size: int = 42
    """Observations are ``size x size`` gray images."""
    frame_stack: int = 1
    """Frames per observation; 1 leaves all memory to the LSTM."""
    frame_skip: int = 4
    """Each action is repeated this many emulator frames."""
    noop_max: int = 30
    """Games start after 1..noop_max NOOPs, so no two start alike."""
    repeat_action_probability: float = 0.0
    """Sticky actions (0.25 in Machado et al. 2018); 0 as in the DQN papers."""
    episodic_life: bool = True
    """Training only: a lost life ends the episode (no return after it, memory reset).
    Evaluation always plays whole games."""
    vectorization: str = "sync"
    """``"sync"`` (games stepped in this process) or ``"async"`` (one process per game)."""
    seed: int = 0
    """Seeds the network's initialisation, the games and the action sampling."""

    def __post_init__(self) -> None:
        for name in ("n_games", "rollout_length", "hidden_size", "size", "frame_stack"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        for name in ("learning_rate", "max_grad_norm", "reward_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.vectorization not in ("sync", "async"):
            raise ValueError(f"vectorization must be 'sync' or 'async', got {self.vectorization!r}")

    def make_env(self, render_mode: str | None = None, training: bool = False) -> gym.Env:
        """One game with this config's preprocessing: a whole game (all lives) for
        evaluation, or as the pool plays it in training (lives end episodes if
        ``episodic_life``)."""
        return make_kungfu_env(
            size=self.size,
            frame_stack=self.frame_stack,
            frame_skip=self.frame_skip,
            noop_max=self.noop_max,
            repeat_action_probability=self.repeat_action_probability,
            render_mode=render_mode,
            episodic_life=training and self.episodic_life,
        )

    def make_training_env(self) -> gym.Env:
        """One game as the pool plays it in training."""
        return self.make_env(training=True)

    def make_agent(self, n_actions: int = 14) -> RecurrentActorCritic:
        """A freshly initialised network for this config's observations."""
        return RecurrentActorCritic(
            (self.frame_stack, self.size, self.size), n_actions, hidden_size=self.hidden_size
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> A2CConfig:
        """The inverse of ``dataclasses.asdict`` (unknown keys are an error)."""
        return config_from_dict(cls, values)


# --- rollouts from parallel games --------------------------------------------------------


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


def _as_env_fn(make_env: Callable[[], gym.Env]) -> Callable[[], gym.Env]:
    if not callable(make_env):
        raise TypeError(
            f"make_env must be a function that makes one env (e.g. make_kungfu_env), "
            f"got {make_env!r}"
        )
    return make_env


class EnvPool:
    """``n_parallel_games`` games played by one recurrent agent, one memory per game.

    The games live in a Gymnasium vector env with ``autoreset_mode=SAME_STEP``: when a game
    ends, the step returns its real last reward and ``terminated``/``truncated`` flags, and
    the observation is already the first one of the next game (the last one of the old
    game is in ``info["final_obs"]``, used to bootstrap a truncated game). With Gymnasium's
    default ``NEXT_STEP`` mode, the step after the end would be a dummy one instead.

    The memories are kept between :meth:`interact` calls; a game's memory is zeroed when its
    game ends, and only that game's.

    >>> config = A2CConfig(n_games=2)
    >>> pool = EnvPool(config.make_agent(), config.make_env, 2, seed=0)
    >>> rollout = pool.interact(5)
    >>> rollout.observations.shape, rollout.actions.shape, rollout.alive.shape
    ((2, 5, 1, 42, 42), (2, 5), (2, 5))
    >>> pool.close()
    """

    def __init__(
        self,
        agent: RecurrentActorCritic,
        make_env: Callable[[], gym.Env],
        n_parallel_games: int,
        *,
        seed: int = 0,
        vectorization: str = "sync",
    ) -> None:
        if isinstance(n_parallel_games, bool) or not isinstance(n_parallel_games, int):
            raise TypeError(f"n_parallel_games must be an int, got {n_parallel_games!r}")
        if n_parallel_games < 1:
            raise ValueError(f"n_parallel_games must be >= 1, got {n_parallel_games}")
        env_fn = _as_env_fn(make_env)
        vector_class = {"sync": SyncVectorEnv, "async": AsyncVectorEnv}.get(vectorization)
        if vector_class is None:
            raise ValueError(f"vectorization must be 'sync' or 'async', got {vectorization!r}")
        self.agent = agent
        self.n_games = n_parallel_games
        self.envs = vector_class(
            [env_fn] * n_parallel_games, autoreset_mode=AutoresetMode.SAME_STEP
        )
        shape = tuple(self.envs.single_observation_space.shape or ())
        obs_shape = getattr(agent, "obs_shape", None)
        if obs_shape is not None and shape != tuple(obs_shape):
            self.envs.close()
            raise ValueError(
                f"the games give observations of shape {shape} but the agent was built for "
                f"{tuple(obs_shape)}: make the agent with the same size/frame_stack"
            )
        # With EpisodicLife an episode is a life: scores are summed up to the real game over.
        if isinstance(self.envs, SyncVectorEnv):
            self._lives_end_episodes = _has_wrapper(self.envs.envs[0], EpisodicLife)
        else:
            probe = env_fn()
            self._lives_end_episodes = _has_wrapper(probe, EpisodicLife)
            probe.close()
        self.generator = torch.Generator().manual_seed(seed)
        self.observations, _ = self.envs.reset(seed=seed)
        self.memory: Memory = agent.initial_memory(n_parallel_games)
        self.episode_returns = np.zeros(n_parallel_games)
        self.episode_lengths = np.zeros(n_parallel_games, dtype=np.int64)
        self.finished_returns: list[float] = []
        """Scores of the games finished so far, in order of their end (whole games, also
        when lives end the training episodes)."""
        self.finished_lengths: list[int] = []
        """Agent steps of those games."""
        self.total_steps = 0
        """Agent steps played, summed over the games."""

    def _act(self, observations: np.ndarray) -> tuple[Memory, np.ndarray]:
        memory, logits, _ = self.agent(torch.from_numpy(observations), self.memory)
        probs = torch.softmax(logits, dim=-1)
        actions = torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)
        return memory, actions.numpy()

    @torch.no_grad()
    def interact(self, n_steps: int) -> Rollout:
        """Play ``n_steps`` steps in every game; return them as a :class:`Rollout`."""
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
        batch = self.n_games
        observations = np.empty((batch, n_steps, *self.observations.shape[1:]), np.uint8)
        actions = np.empty((batch, n_steps), np.int64)
        rewards = np.empty((batch, n_steps), np.float32)
        terminated = np.empty((batch, n_steps), bool)
        truncated = np.empty((batch, n_steps), bool)
        truncation_values = np.zeros((batch, n_steps), np.float32)
        initial_memory = (self.memory[0].clone(), self.memory[1].clone())
        for t in range(n_steps):
            observations[:, t] = self.observations
            memory, step_actions = self._act(self.observations)
            next_obs, step_rewards, step_terminated, step_truncated, info = self.envs.step(
                step_actions
            )
            actions[:, t] = step_actions
            rewards[:, t] = step_rewards
            terminated[:, t] = step_terminated
            truncated[:, t] = step_truncated
            if step_truncated.any():
                truncation_values[:, t] = self._truncation_values(memory, step_truncated, info)
            ended = step_terminated | step_truncated
            self._count(step_rewards, ended, self._game_over(ended, step_truncated, info))
            if ended.any():
                keep = torch.from_numpy(~ended).to(memory[0].dtype).unsqueeze(-1)
                memory = (memory[0] * keep, memory[1] * keep)
            self.memory = memory
            self.observations = next_obs
        return Rollout(
            observations,
            actions,
            rewards,
            terminated,
            truncated,
            truncation_values,
            self.observations.copy(),
            initial_memory,
        )

    def _truncation_values(
        self, memory: Memory, truncated: np.ndarray, info: dict[str, Any]
    ) -> np.ndarray:
        # V(last observation of the cut game), with that game's memory before the reset.
        values = np.zeros(self.n_games, np.float32)
        index = np.flatnonzero(truncated)
        final = np.stack([np.asarray(info["final_obs"][i]) for i in index])
        state = (memory[0][index], memory[1][index])
        _, _, value = self.agent(torch.from_numpy(final), state)
        values[index] = value.numpy()
        return values

    def _game_over(
        self, ended: np.ndarray, truncated: np.ndarray, info: dict[str, Any]
    ) -> np.ndarray:
        if not self._lives_end_episodes or not ended.any():
            return ended
        lives = np.asarray(info["final_info"]["lives"])  # SAME_STEP: the ended step's info
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

    def close(self) -> None:
        self.envs.close()


# --- the actor-critic objective ----------------------------------------------------------


def n_step_returns(
    rewards: torch.Tensor, alive: torch.Tensor, last_values: torch.Tensor, gamma: float
) -> torch.Tensor:
    """Discounted returns ``G_t = r_t + gamma * alive_t * G_{t+1}``, with ``G_T = V(s_T)``.

    ``rewards`` and ``alive`` are ``[B, T]``, ``last_values`` is ``[B]`` (the value of the
    observation after the rollout). Where a game ended (``alive`` False) the sum restarts:
    nothing after the end belongs to that game's return.

    >>> n_step_returns(torch.tensor([[1.0, 1.0]]), torch.tensor([[True, True]]),
    ...                torch.tensor([10.0]), gamma=0.5)
    tensor([[4., 6.]])
    """
    if rewards.dim() != 2 or alive.shape != rewards.shape:
        raise ValueError(
            f"rewards and alive must both be [batch, time], got {tuple(rewards.shape)} "
            f"and {tuple(alive.shape)}"
        )
    if last_values.shape != rewards.shape[:1]:
        raise ValueError(
            f"last_values must be [batch] = {tuple(rewards.shape[:1])}, "
            f"got {tuple(last_values.shape)}"
        )
    returns = torch.empty_like(rewards)
    running = last_values
    for t in reversed(range(rewards.shape[1])):
        running = rewards[:, t] + gamma * alive[:, t].to(rewards.dtype) * running
        returns[:, t] = running
    return returns


def advantages(returns: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``A_t = G_t - V(s_t)``, detached: the policy gradient must not move the critic.

    >>> advantages(torch.tensor([3.0, 1.0]), torch.tensor([1.0, 1.0], requires_grad=True))
    tensor([2., 0.])
    """
    return (returns - values).detach()


def value_loss(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the critic, ``mean((G_t - V(s_t))^2)``, the target detached.

    >>> value_loss(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.0]))
    tensor(2.)
    """
    return ((returns.detach() - values) ** 2).mean()


def policy_loss(
    logits: torch.Tensor, actions: torch.Tensor, advantage: torch.Tensor
) -> torch.Tensor:
    """The policy-gradient term ``-mean(log pi(a_t | s_t) * A_t)``.

    ``logits`` is ``[..., n_actions]``, ``actions`` and ``advantage`` are ``[...]``.

    >>> policy_loss(torch.zeros(1, 2), torch.tensor([0]), torch.tensor([1.0]))
    tensor(0.6931)
    """
    log_probs = torch.log_softmax(logits, dim=-1)
    taken = log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    return -(taken * advantage.detach()).mean()


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy of the policies, ``mean(-sum_a pi(a) log pi(a))``, in nats.

    >>> entropy(torch.zeros(3, 4))   # uniform over 4 actions: log(4)
    tensor(1.3863)
    """
    log_probs = torch.log_softmax(logits, dim=-1)
    return -(log_probs.exp() * log_probs).sum(-1).mean()


def replay(
    agent: RecurrentActorCritic, rollout: Rollout
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the agent over the rollout again, with gradients, from its initial memory.

    Returns logits ``[B, T, A]``, values ``[B, T]`` and the value of the observations
    after the rollout ``[B]``. The memory is zeroed after a game's end, as while playing.
    """
    observations = torch.from_numpy(rollout.observations)
    alive = torch.from_numpy(rollout.alive).to(torch.float32).unsqueeze(-1)
    memory = rollout.initial_memory
    all_logits, all_values = [], []
    for t in range(observations.shape[1]):
        (h, c), logits, value = agent(observations[:, t], memory)
        memory = (h * alive[:, t], c * alive[:, t])
        all_logits.append(logits)
        all_values.append(value)
    _, _, last_value = agent(torch.from_numpy(rollout.next_observations), memory)
    return torch.stack(all_logits, 1), torch.stack(all_values, 1), last_value


def train_on_rollout(
    agent: RecurrentActorCritic,
    optimizer: torch.optim.Optimizer,
    rollout: Rollout,
    config: A2CConfig,
) -> dict[str, float]:
    """One gradient step of A2C on ``rollout``; returns the loss pieces and the grad norm.

    ``loss = policy_loss + value_coef * value_loss - entropy_coef * entropy``, with
    n-step returns bootstrapped from the value after the rollout (and, for a game cut by a
    time limit, from the value of its last observation).
    """
    logits, values, last_value = replay(agent, rollout)
    rewards = torch.from_numpy(rollout.rewards) * config.reward_scale
    # A truncated game's return goes on: fold gamma * V(last obs) into its last reward.
    rewards = rewards + config.gamma * torch.from_numpy(rollout.truncation_values)
    alive = torch.from_numpy(rollout.alive)
    returns = n_step_returns(rewards, alive, last_value.detach(), config.gamma)
    advantage = advantages(returns, values)
    v_loss = value_loss(values, returns)
    p_loss = policy_loss(logits, torch.from_numpy(rollout.actions), advantage)
    h = entropy(logits)
    loss = p_loss + config.value_coef * v_loss - config.entropy_coef * h
    optimizer.zero_grad()
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
    optimizer.step()
    return {
        "loss": loss.item(),
        "policy_loss": p_loss.item(),
        "value_loss": v_loss.item(),
        "entropy": h.item(),
        "grad_norm": grad_norm.item(),
    }


# --- playing whole games -----------------------------------------------------------------


class RecurrentPolicy:
    """``policy(obs) -> action`` for one game at a time, carrying the LSTM memory.

    For :func:`rlcourse.video.record_episode`. Call :meth:`reset` between games.
    """

    def __init__(self, agent: RecurrentActorCritic, greedy: bool = False, seed: int = 0) -> None:
        self.agent = agent
        self.greedy = greedy
        self.generator = torch.Generator().manual_seed(seed)
        self.reset()

    def reset(self) -> None:
        self.memory = self.agent.initial_memory(1)

    @torch.no_grad()
    def __call__(self, observation: np.ndarray) -> int:
        obs = torch.from_numpy(np.asarray(observation)[None])
        self.memory, logits, _ = self.agent(obs, self.memory)
        if self.greedy:
            return int(logits.argmax(-1))
        return int(torch.multinomial(torch.softmax(logits, -1), 1, generator=self.generator))


@torch.no_grad()
def evaluate(
    agent: RecurrentActorCritic,
    make_env: Callable[[], gym.Env],
    n_games: int,
    *,
    seed: int = 10_000,
    max_steps: int = 20_000,
    greedy: bool = False,
) -> np.ndarray:
    """Scores of ``n_games`` whole games played side by side (a batched forward per step).

    Game ``i`` starts from ``reset(seed=seed + i)``; actions are sampled from the policy
    (``greedy=False``, with a generator seeded by ``seed``) or its most likely action.
    A game still running after ``max_steps`` agent steps counts with its score so far.
    """
    if isinstance(n_games, bool) or not isinstance(n_games, int) or n_games < 1:
        raise ValueError(f"n_games must be a positive int, got {n_games!r}")
    envs = [_as_env_fn(make_env)() for _ in range(n_games)]
    generator = torch.Generator().manual_seed(seed)
    observations = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    memory = agent.initial_memory(n_games)
    scores = np.zeros(n_games)
    playing = np.ones(n_games, bool)
    for _ in range(max_steps):
        index = np.flatnonzero(playing)
        if index.size == 0:
            break
        state = (memory[0][index], memory[1][index])
        state, logits, _ = agent(torch.from_numpy(observations[index]), state)
        memory[0][index], memory[1][index] = state
        if greedy:
            actions = logits.argmax(-1)
        else:
            actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
        for i, action in zip(index, actions.view(-1).tolist(), strict=True):
            obs, reward, terminated, truncated, _ = envs[i].step(action)
            observations[i] = obs
            scores[i] += float(reward)
            playing[i] = not (terminated or truncated)
    for env in envs:
        env.close()
    return scores


# --- checkpoints -------------------------------------------------------------------------


def checkpoint_payload(
    agent: RecurrentActorCritic,
    config: A2CConfig,
    steps: int,
    optimizer: torch.optim.Optimizer | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What a checkpoint holds: weights, the config as a plain dict, the step count."""
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "algo": "a2c",
        "env_id": ENV_ID,
        "obs_shape": list(agent.obs_shape),
        "n_actions": agent.n_actions,
        "config": asdict(config),
        "steps": int(steps),
        "state_dict": agent.state_dict(),
        **extra,
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    return payload


def load_agent(
    path: str | os.PathLike = PRETRAINED,
) -> tuple[RecurrentActorCritic, A2CConfig, dict[str, Any]]:
    """Load a checkpoint into a fresh network: ``(agent, config, payload)``.

    Raises :class:`~rlcourse.training.CheckpointError` for a corrupt file, a checkpoint of
    another algorithm or game, or weights that do not fit the network the config describes.
    """
    payload = load_checkpoint(path, expect={"format": CHECKPOINT_FORMAT, "env_id": ENV_ID})
    try:
        config = A2CConfig.from_dict(dict(payload["config"]))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has no usable A2C config: {error}") from None
    agent = config.make_agent(int(payload.get("n_actions", 14)))
    state = {key: value.float() for key, value in payload["state_dict"].items()}
    try:
        agent.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        raise CheckpointError(
            f"{path} holds weights for another network shape than "
            f"obs_shape={agent.obs_shape}, hidden_size={config.hidden_size}: "
            f"{' '.join(first[1:3]) if len(first) > 1 else first[0]}"
        ) from None
    agent.eval()
    return agent, config, payload


def export_checkpoint(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Write a small, weights-only copy of a checkpoint (fp16 weights, no optimizer)."""
    payload = load_checkpoint(source, expect={"format": CHECKPOINT_FORMAT})
    payload.pop("optimizer", None)
    payload["state_dict"] = {k: v.half() for k, v in payload["state_dict"].items()}
    return save_checkpoint(target, payload)


# --- the training loop -------------------------------------------------------------------

LOG_FIELDS = [
    "wall_s",
    "train_s",
    "steps",
    "steps_per_s",
    "eval_score",
    "eval_std",
    "train_score",
    "entropy",
    "policy_loss",
    "value_loss",
    "grad_norm",
]


def train(
    config: A2CConfig,
    out: str | os.PathLike,
    *,
    total_steps: int,
    max_minutes: float = math.inf,
    eval_every_s: float = 120.0,
    eval_games: int = 8,
    eval_max_steps: int = 20_000,
    threads: int | None = None,
    resume: bool = True,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train until ``total_steps`` agent steps or ``max_minutes`` of training, whichever first.

    Every ``eval_every_s`` seconds: evaluate on ``eval_games`` whole games, append a row to
    ``out/log.csv``, save ``out/last.pt`` (and ``out/best.pt`` when the score is the best
    so far). With ``resume`` a run restarts from ``out/last.pt`` where one exists. Minutes
    count training time (evaluation excluded, logged separately as wall time).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(config.seed)  # the network's initialisation
    agent = config.make_agent()
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=config.adam_eps)
    logger = CSVLogger(out / "log.csv", LOG_FIELDS)
    steps, train_s, wall_offset, best = 0, 0.0, 0.0, -math.inf
    if resume and (out / "last.pt").exists():
        payload = load_checkpoint(out / "last.pt", expect={"format": CHECKPOINT_FORMAT})
        if A2CConfig.from_dict(dict(payload["config"])) != config:
            raise CheckpointError(
                f"{out / 'last.pt'} was trained with another config {payload['config']}: "
                "use another --out or the same options"
            )
        agent.load_state_dict(payload["state_dict"])
        optimizer.load_state_dict(payload["optimizer"])
        steps, train_s = payload["steps"], payload["train_s"]
        wall_offset, best = payload["wall_s"], payload["best_score"]
        logger.truncate_after(steps, step_field="steps")
        if not quiet:
            print(f"resumed from {out / 'last.pt'} at {steps} steps")
    pool = EnvPool(
        agent,
        config.make_training_env,
        config.n_games,
        seed=config.seed + steps,
        vectorization=config.vectorization,
    )
    start = time.perf_counter()
    sums: dict[str, float] = {}
    updates = 0
    last_eval = time.perf_counter()
    last_row_steps, last_row_train_s = steps, train_s
    try:
        while True:
            tick = time.perf_counter()
            rollout = pool.interact(config.rollout_length)
            stats = train_on_rollout(agent, optimizer, rollout, config)
            train_s += time.perf_counter() - tick
            steps += rollout.actions.size
            updates += 1
            for key, value in stats.items():
                sums[key] = sums.get(key, 0.0) + value
            done = steps >= total_steps or train_s >= max_minutes * 60
            if not done and time.perf_counter() - last_eval < eval_every_s:
                continue
            scores = evaluate(
                agent, config.make_env, eval_games, seed=10_000 + steps, max_steps=eval_max_steps
            )
            recent = pool.finished_returns[-20:]
            row = {
                "wall_s": wall_offset + time.perf_counter() - start,
                "train_s": train_s,
                "steps": steps,
                "steps_per_s": (steps - last_row_steps) / max(train_s - last_row_train_s, 1e-9),
                "eval_score": float(scores.mean()),
                "eval_std": float(scores.std()),
                "train_score": float(np.mean(recent)) if recent else None,
                **{key: sums[key] / updates for key in sums},
            }
            row.pop("loss", None)
            logger.write(**row)
            last_row_steps, last_row_train_s = steps, train_s
            sums, updates = {}, 0
            extra = {
                "train_s": train_s,
                "wall_s": row["wall_s"],
                "eval_score": row["eval_score"],
            }
            if row["eval_score"] > best:
                best = row["eval_score"]
                save_checkpoint(out / "best.pt", checkpoint_payload(agent, config, steps, **extra))
            extra["best_score"] = best
            save_checkpoint(
                out / "last.pt", checkpoint_payload(agent, config, steps, optimizer, **extra)
            )
            if not quiet:
                print(
                    f"{row['wall_s'] / 60:6.1f} min  train {train_s / 60:5.1f} min  "
                    f"{steps:>9,} steps  {row['steps_per_s']:5.0f} steps/s  "
                    f"eval {row['eval_score']:8.0f} ± {row['eval_std']:6.0f}  "
                    f"train {row['train_score'] or 0:8.0f}  entropy {row['entropy']:.2f}",
                    flush=True,
                )
            last_eval = time.perf_counter()
            if done:
                break
    finally:
        pool.close()
    return {"steps": steps, "train_s": train_s, "best_score": best}


# --- plotting the log --------------------------------------------------------------------


def plot_log(
    csv_paths: str | os.PathLike | Sequence[str | os.PathLike],
    png_path: str | os.PathLike,
    labels: Sequence[str] | None = None,
    target: float = 10_000,
    budget_minutes: float | None = 30,
) -> Path:
    """Evaluation score vs training minutes and vs agent steps, and the entropy, as a PNG.

    One curve per training log (``log.csv`` of :func:`train`), labelled with ``labels``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlcourse.training import read_csv

    if isinstance(csv_paths, (str, os.PathLike)):
        csv_paths = [csv_paths]
    labels = list(labels) if labels else [Path(p).parent.name for p in csv_paths]
    if len(labels) != len(csv_paths):
        raise ValueError(f"{len(csv_paths)} logs but {len(labels)} labels")
    figure, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for index, (csv_path, label) in enumerate(zip(csv_paths, labels, strict=True)):
        log = read_csv(csv_path)
        if not log:
            raise ValueError(f"{csv_path} has no rows yet")
        color = f"C{index}"
        minutes = log["train_s"] / 60
        for ax, x in ((axes[0], minutes), (axes[1], log["steps"] / 1e6)):
            low, high = log["eval_score"] - log["eval_std"], log["eval_score"] + log["eval_std"]
            ax.plot(x, log["eval_score"], marker="o", ms=3, color=color, label=label)
            ax.fill_between(x, low, high, color=color, alpha=0.15)
        axes[2].plot(minutes, log["entropy"], color=color)
    for ax, xlabel in (
        (axes[0], "training minutes (evaluations excluded)"),
        (axes[1], "agent steps, millions (x4 emulator frames)"),
    ):
        ax.axhline(target, color="gray", ls="--", lw=1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("evaluation score (mean ± std)")
        ax.grid(alpha=0.3)
    if budget_minutes:
        axes[0].axvline(budget_minutes, color="gray", ls=":", lw=1)
    axes[0].legend(fontsize=8, loc="upper left")
    axes[2].axhline(math.log(14), color="gray", ls="--", lw=1, label="uniform: log 14")
    axes[2].set_xlabel("training minutes")
    axes[2].set_ylabel("policy entropy (nats)")
    axes[2].legend(fontsize=8, loc="upper right")
    axes[2].grid(alpha=0.3)
    figure.suptitle(
        "Recurrent A2C on Kung-Fu Master, 2 shared CPU cores "
        f"(dashed: {target:,.0f} points; dotted: {budget_minutes or 0:g} minutes)"
    )
    figure.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=72)
    plt.close(figure)
    return png_path


# --- command line ------------------------------------------------------------------------


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = A2CConfig()
    for field in fields(A2CConfig):
        default = getattr(defaults, field.name)
        doc = (_FIELD_DOCS.get(field.name) or "").replace("%", "%%")
        option = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(
                option, action=argparse.BooleanOptionalAction, default=default, help=doc
            )
            continue
        parser.add_argument(
            option, type=type(default), default=default, help=f"{doc} (default: {default})"
        )


_FIELD_DOCS = field_docs(A2CConfig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m rlcourse.agents.a2c",
        description="Recurrent A2C on Kung-Fu Master: train, evaluate, plot, export.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser(
        "train",
        help="train (resumes from OUT/last.pt)",
        description="Train; every --eval-every seconds log a CSV row and save checkpoints.",
    )
    train_parser.add_argument("--out", required=True, help="output directory (log.csv, *.pt)")
    train_parser.add_argument(
        "--total-steps", type=int, required=True, help="agent steps to train for (all games)"
    )
    train_parser.add_argument(
        "--max-minutes", type=float, default=math.inf, help="stop after this much training time"
    )
    train_parser.add_argument(
        "--eval-every", type=float, default=120.0, help="seconds between evaluations (default 120)"
    )
    train_parser.add_argument(
        "--eval-games", type=int, default=8, help="games per evaluation (default 8)"
    )
    train_parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared 2-core machine more threads only wait)",
    )
    train_parser.add_argument(
        "--no-resume", action="store_true", help="refuse to resume: start afresh (OUT must be new)"
    )
    _config_arguments(train_parser)

    eval_parser = commands.add_parser("evaluate", help="score a checkpoint on whole games")
    eval_parser.add_argument("checkpoint", nargs="?", default=str(PRETRAINED), help="a .pt file")
    eval_parser.add_argument("--games", type=int, default=20, help="games (default 20)")
    eval_parser.add_argument("--seed", type=int, default=10_000, help="first game's seed")
    eval_parser.add_argument("--greedy", action="store_true", help="most likely actions")

    plot_parser = commands.add_parser("plot", help="PNG of score vs minutes and steps")
    plot_parser.add_argument("csv", nargs="+", help="training logs (OUT/log.csv)")
    plot_parser.add_argument("--png", required=True, help="the PNG to write")
    plot_parser.add_argument("--labels", nargs="+", help="one label per log (default: dir name)")

    export_parser = commands.add_parser("export", help="small fp16 weights-only checkpoint")
    export_parser.add_argument("source", help="a checkpoint, e.g. runs/a2c_kungfu/best.pt")
    export_parser.add_argument("target", help="where to write it")

    args = parser.parse_args(argv)
    if args.command == "train":
        config = A2CConfig(**{f.name: getattr(args, f.name) for f in fields(A2CConfig)})
        if args.no_resume and (Path(args.out) / "last.pt").exists():
            parser.error(f"{args.out} already holds a run; drop --no-resume to continue it")
        result = train(
            config,
            args.out,
            total_steps=args.total_steps,
            max_minutes=args.max_minutes,
            eval_every_s=args.eval_every,
            eval_games=args.eval_games,
            threads=args.threads,
        )
        print(f"done: {result}")
    elif args.command == "evaluate":
        agent, config, payload = load_agent(args.checkpoint)
        scores = evaluate(agent, config.make_env, args.games, seed=args.seed, greedy=args.greedy)
        print(
            f"{args.checkpoint} ({payload['steps']:,} steps): mean {scores.mean():.0f} "
            f"± {scores.std():.0f} over {args.games} games, min {scores.min():.0f}, "
            f"max {scores.max():.0f}"
        )
    elif args.command == "plot":
        print(plot_log(args.csv, args.png, labels=args.labels))
    elif args.command == "export":
        print(export_checkpoint(args.source, args.target))


if __name__ == "__main__":
    main()
