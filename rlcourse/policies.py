"""Policies: what plays a game, for evaluation and videos (no training machinery).

Every policy here is a :class:`Policy`: it plays one game with ``policy(obs) -> action`` or
several side by side with ``policy.act_batch(observations, games)``; ``policy.reset(n_games)``
starts new games and ``policy.reset_game(i)`` restarts game ``i``. A feed-forward policy
keeps no state, so its resets do nothing; a recurrent one zeroes its memory.
``reset_on_life_loss`` says whether its memory is also zeroed when a life is lost (as it was
in training with ``episodic_life``): the episode runner (:mod:`rlcourse.episodes`) follows
it. Epsilon-greedy, the value-based agents' rule, is written once here
(:func:`epsilon_greedy`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcourse.checkpoints import CheckpointInfo
from rlcourse.config import check_number

Games = Sequence[int] | np.ndarray
"""Which games a batch's rows belong to."""


@runtime_checkable
class Policy(Protocol):
    """What plays a game (as Stable-Baselines3's ``PolicyPredictor``): everything
    :func:`rlcourse.episodes.play_games` and the lessons call on a player."""

    reset_on_life_loss: bool
    """Whether the memory is zeroed at a lost life (as training did)."""

    def __call__(self, observation: Any) -> Any:
        """The action for one game's observation."""
        ...

    def act_batch(self, observations: np.ndarray, games: Games) -> np.ndarray:
        """One action per row of ``observations``; row ``i`` is game ``games[i]``."""
        ...

    def reset(self, n_games: int = 1) -> None:
        """Start ``n_games`` new games (a recurrent policy empties its memories)."""
        ...

    def reset_game(self, game: int) -> None:
        """Restart game ``game`` (a new game, or a lost life)."""
        ...

    def reseed(self, seed: int) -> None:
        """Restart the policy's random draws from ``seed``."""
        ...


# --- epsilon-greedy, once ---------------------------------------------------------------------


def explore(epsilon: float, n_actions: int, rng: np.random.Generator) -> int | None:
    """With probability ``epsilon`` a uniformly random action (the greedy one included),
    else None: act greedily. Draws from ``rng`` only (no global random state).

    >>> rng = np.random.default_rng(0)
    >>> explore(0.0, 4, rng) is None, explore(1.0, 4, rng) in range(4)
    (True, True)
    """
    if rng.random() < epsilon:
        return int(rng.integers(n_actions))
    return None


def greedy_action(q_values: np.ndarray, rng: np.random.Generator | None = None) -> int:
    """The action of largest value; with ``rng``, ties are broken at random (a table that
    starts at zeros has every action tied, and always picking the first would explore only
    by chance), else the first wins (a network's values are never exactly tied).

    >>> greedy_action(np.array([0.0, 3.0, 3.0])), greedy_action(np.array([1.0, 0.0]))
    (1, 0)
    """
    q_values = np.asarray(q_values)
    if rng is None:
        return int(np.argmax(q_values))
    best = np.flatnonzero(q_values == q_values.max())
    if len(best) == 0:  # NaN values: nothing equals the max
        return int(np.argmax(q_values))
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


def epsilon_greedy(
    q_values: np.ndarray | Callable[[], np.ndarray],
    epsilon: float,
    rng: np.random.Generator,
    *,
    n_actions: int | None = None,
    random_ties: bool = False,
) -> int:
    """A random action with probability ``epsilon``, else the greedy one.

    ``q_values`` may be a function that computes them: it is called only when the action is
    greedy, so exploring costs no forward pass (give ``n_actions`` then).
    ``random_ties``: break ties between greedy actions at random (tabular methods).

    >>> epsilon_greedy(np.array([0.0, 2.0, 1.0]), 0.0, np.random.default_rng(0))
    1
    """
    if callable(q_values):
        if n_actions is None:
            raise TypeError("epsilon_greedy with a function for q_values needs n_actions")
    else:
        n_actions = len(q_values)
    action = explore(epsilon, n_actions, rng)
    if action is not None:
        return action
    values = q_values() if callable(q_values) else q_values
    return greedy_action(values, rng if random_ties else None)


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
        self.network: Any = network  # a Q-network (it has n_actions)
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

    def act_batch(self, observations: np.ndarray, games: Games) -> np.ndarray:
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
        if self.epsilon == 0:  # greedy play draws nothing
            return greedy_action(q_values)
        return epsilon_greedy(q_values, self.epsilon, self.rng)

    @classmethod
    def for_checkpoint(cls, network: nn.Module, info: CheckpointInfo) -> QPolicy:
        """A DQN checkpoint plays greedily (the evaluation protocol sets its epsilon)."""
        return cls(network, epsilon=0.0, checkpoint=info)


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
        self.network: Any = network  # a recurrent actor-critic (initial_memory)
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
    def act_batch(self, observations: np.ndarray, games: Games) -> np.ndarray:
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

    @classmethod
    def for_checkpoint(cls, network: nn.Module, info: CheckpointInfo) -> RecurrentPolicy:
        """An actor-critic samples from its policy, its memory zeroed at lost lives when its
        training did so."""
        lives = bool(info.config.get("episodic_life", False))
        return cls(network, reset_on_life_loss=lives, checkpoint=info)


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
    def act_batch(self, observations: np.ndarray, games: Games) -> np.ndarray:
        logits = self.network(torch.as_tensor(np.asarray(observations)))
        if self.greedy:
            return logits.argmax(-1).numpy()
        probs = torch.softmax(logits, -1)
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(-1).numpy()

    def __call__(self, observation: Any) -> int:
        return int(self.act_batch(np.asarray(observation)[None], [0])[0])

    @classmethod
    def for_checkpoint(cls, network: nn.Module, info: CheckpointInfo) -> CategoricalPolicy:
        """REINFORCE samples from its policy: the stochastic policy is what it learns and
        what its gradient is about (argmax would score a policy it never trained)."""
        return cls(network, checkpoint=info)


class RandomPolicy:
    """Uniformly random actions of an action space, from its own generator: the baseline
    every score is compared with (same games, same action set)."""

    reset_on_life_loss = False

    def __init__(self, action_space: gym.Space[Any], seed: int = 0) -> None:
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

    def act_batch(self, observations: np.ndarray, games: Games) -> np.ndarray:
        return self.rng.integers(self.n_actions, size=len(games))

    def __call__(self, observation: Any) -> int:
        return int(self.rng.integers(self.n_actions))
