"""Policies: what plays a game, for evaluation and videos (no training machinery).

Every policy here plays one game with ``policy(obs) -> action`` or several side by side with
``policy.act_batch(observations, games)``; ``policy.reset(n_games)`` starts new games and
``policy.reset_game(i)`` restarts game ``i``. A feed-forward policy keeps no state, so its
resets do nothing; a recurrent one zeroes its memory. ``reset_on_life_loss`` says whether
its memory is also zeroed when a life is lost (as it was in training with
``episodic_life``): :func:`rlcourse.evaluation.evaluate` follows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn


class CheckpointInfo(NamedTuple):
    """What a checkpoint says about the agent in it."""

    algo: str
    env_id: str
    env_options: dict[str, Any]
    config: dict[str, Any]
    steps: int
    path: str

    @classmethod
    def from_payload(cls, payload: dict[str, Any], path: str | Path = "") -> CheckpointInfo:
        return cls(
            payload["algo"], payload["env_id"], dict(payload["env_options"]),
            dict(payload["config"]), int(payload["steps"]), str(path),
        )  # fmt: skip


class QPolicy:
    """Epsilon-greedy on a Q-network (``epsilon=0``: greedy).

    >>> from rlcourse.networks import MLPQNetwork
    >>> policy = QPolicy(MLPQNetwork(4, 2), epsilon=0.0)
    >>> policy(np.zeros(4, np.float32)) in (0, 1)
    True
    """

    reset_on_life_loss = False

    def __init__(
        self,
        network: nn.Module,
        epsilon: float = 0.0,
        seed: int = 0,
        checkpoint: CheckpointInfo | None = None,
    ) -> None:
        from rlcourse.config import check_number

        self.network = network
        self.epsilon = check_number("epsilon", epsilon, low=0, high=1)
        self.rng = np.random.default_rng(seed)
        self.checkpoint = checkpoint

    def reseed(self, seed: int) -> None:
        """Restart the exploration draws from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def reset(self, n_games: int = 1) -> None:
        """Nothing to forget: a Q-network looks only at the current observation."""

    def reset_game(self, game: int) -> None:
        """Nothing to forget."""

    @torch.no_grad()
    def q_values(self, observations: np.ndarray) -> np.ndarray:
        """``(batch, n_actions)`` Q-values of a batch of observations."""
        device = next(self.network.parameters()).device
        return self.network(torch.as_tensor(np.asarray(observations), device=device)).cpu().numpy()

    def act_batch(self, observations: np.ndarray, games: Sequence[int]) -> np.ndarray:
        return self.choose_batch(self.q_values(observations))

    def choose_batch(self, q_values: np.ndarray) -> np.ndarray:
        """One epsilon-greedy action per row of ``q_values`` (the draws in the rows' order)."""
        return np.array([self.choose(q) for q in q_values], dtype=np.int64)

    @property
    def n_actions(self) -> int:
        return int(self.network.n_actions)

    def __call__(self, observation: Any) -> int:
        return self.choose(self.q_values(np.asarray(observation)[None])[0])

    def choose(self, q_values: np.ndarray) -> int:
        """The epsilon-greedy action given one observation's ``q_values``."""
        if self.epsilon > 0 and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_actions))
        return int(np.asarray(q_values).argmax())


class RecurrentPolicy:
    """An actor-critic with memory: samples from its policy (or takes the most likely action
    with ``greedy=True``), one LSTM memory per game.

    >>> from rlcourse.networks import RecurrentActorCritic
    >>> policy = RecurrentPolicy(RecurrentActorCritic((1, 42, 42), 14), seed=0)
    >>> policy.reset(2)
    >>> policy.act_batch(np.zeros((2, 1, 42, 42), np.uint8), [0, 1]).shape
    (2,)
    """

    def __init__(
        self,
        network: nn.Module,
        greedy: bool = False,
        seed: int = 0,
        reset_on_life_loss: bool = False,
        checkpoint: CheckpointInfo | None = None,
    ) -> None:
        self.network = network
        self.greedy = greedy
        self.reset_on_life_loss = reset_on_life_loss
        self.generator = torch.Generator().manual_seed(seed)
        self.checkpoint = checkpoint
        self.reset()

    def reseed(self, seed: int) -> None:
        """Restart the action sampling from ``seed``."""
        self.generator.manual_seed(seed)

    def reset(self, n_games: int = 1) -> None:
        """Empty memories for ``n_games`` new games."""
        self.memory = self.network.initial_memory(n_games)

    def reset_game(self, game: int) -> None:
        """Forget what game ``game`` remembered (a new game, or a lost life)."""
        self.memory[0][game] = 0.0
        self.memory[1][game] = 0.0

    @torch.no_grad()
    def act_batch(self, observations: np.ndarray, games: Sequence[int]) -> np.ndarray:
        index = torch.as_tensor(np.asarray(games, dtype=np.int64))
        state = (self.memory[0][index], self.memory[1][index])
        (h, c), logits, _ = self.network(torch.from_numpy(np.asarray(observations)), state)
        self.memory[0][index], self.memory[1][index] = h, c
        if self.greedy:
            return logits.argmax(-1).numpy()
        probs = torch.softmax(logits, -1)
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(-1).numpy()

    def __call__(self, observation: Any) -> int:
        return int(self.act_batch(np.asarray(observation)[None], [0])[0])


class CategoricalPolicy:
    """A feed-forward policy network's softmax: samples an action from ``pi(. | s)`` (or takes
    the most likely one with ``greedy=True``). No memory: resets do nothing.

    >>> from rlcourse.networks import MLPPolicy
    >>> policy = CategoricalPolicy(MLPPolicy(4, 2), seed=0)
    >>> policy(np.zeros(4, np.float32)) in (0, 1)
    True
    """

    reset_on_life_loss = False

    def __init__(
        self,
        network: nn.Module,
        greedy: bool = False,
        seed: int = 0,
        checkpoint: CheckpointInfo | None = None,
    ) -> None:
        self.network = network
        self.greedy = greedy
        self.generator = torch.Generator().manual_seed(seed)
        self.checkpoint = checkpoint

    def reseed(self, seed: int) -> None:
        """Restart the action sampling from ``seed``."""
        self.generator.manual_seed(seed)

    def reset(self, n_games: int = 1) -> None:
        """Nothing to forget: the policy looks only at the current observation."""

    def reset_game(self, game: int) -> None:
        """Nothing to forget."""

    @torch.no_grad()
    def act_batch(self, observations: np.ndarray, games: Sequence[int]) -> np.ndarray:
        logits = self.network(torch.as_tensor(np.asarray(observations)))
        if self.greedy:
            return logits.argmax(-1).numpy()
        probs = torch.softmax(logits, -1)
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(-1).numpy()

    def __call__(self, observation: Any) -> int:
        return int(self.act_batch(np.asarray(observation)[None], [0])[0])


class RandomPolicy:
    """Uniformly random actions of an action space, from its own generator: the baseline
    every score is compared with (same games, same action set)."""

    reset_on_life_loss = False

    def __init__(self, action_space: gym.spaces.Discrete, seed: int = 0) -> None:
        if not isinstance(action_space, gym.spaces.Discrete):
            raise TypeError(f"RandomPolicy needs a Discrete action space, got {action_space}")
        self.n_actions = int(action_space.n)
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        """Restart the draws from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def reset(self, n_games: int = 1) -> None:
        """No memory."""

    def reset_game(self, game: int) -> None:
        """No memory."""

    def act_batch(self, observations: np.ndarray, games: Sequence[int]) -> np.ndarray:
        return self.rng.integers(self.n_actions, size=len(games))

    def __call__(self, observation: Any) -> int:
        return int(self.rng.integers(self.n_actions))


def policy_for(
    network: nn.Module, info: CheckpointInfo
) -> QPolicy | RecurrentPolicy | CategoricalPolicy:
    """The policy a checkpoint's algorithm plays with: greedy for DQN (pass ``epsilon`` to
    :class:`QPolicy` for the evaluation protocol's 0.05), sampling for A2C, with the memory
    zeroed at lost lives when training did so, and sampling for REINFORCE: the stochastic
    policy is what REINFORCE learns and what its gradient is about (argmax would score a
    policy it never trained), and it is the actor-critics' rule too."""
    if info.algo == "dqn":
        return QPolicy(network, epsilon=0.0, checkpoint=info)
    if info.algo == "a2c":
        lives = bool(info.config.get("episodic_life", False))
        return RecurrentPolicy(network, reset_on_life_loss=lives, checkpoint=info)
    if info.algo == "reinforce":
        return CategoricalPolicy(network, checkpoint=info)
    raise ValueError(f"no policy for algorithm {info.algo!r}")
