"""Recurrent advantage actor-critic (A2C): config, loss pieces, agent.

The pieces of lesson 09, in the order the notebook builds them: the loss pieces
(:func:`n_step_returns`, :func:`advantages`, :func:`value_loss`, :func:`policy_loss`,
:func:`entropy`), put together by :func:`train_on_rollout` on a
:class:`~rlcourse.rollouts.Rollout` of parallel games, and the :class:`A2C` agent that
holds the network and its optimizer. The loop is :func:`rlcourse.training.train_a2c`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rlcourse.agents.base import ActorCriticAgent
from rlcourse.agents.reinforce import entropy, log_prob_of_actions
from rlcourse.config import (
    FLOAT32_MAX,
    RunNotes,
    check_number,
    check_positive_int,
    config_from_dict,
)
from rlcourse.envs import KUNGFU_CROP, AtariGamesConfig
from rlcourse.errors import check_finite_loss
from rlcourse.networks import ActorCritic, RecurrentActorCritic, build_network, network_spec
from rlcourse.rollouts import Rollout


@dataclass
class A2CConfig(AtariGamesConfig, RunNotes):
    """Everything a training run depends on (saved in each checkpoint as a plain dict). The
    games' fields and their checks are :class:`~rlcourse.envs.AtariGamesConfig`'s; lesson 09
    plays 42x42 crops of Kung-Fu Master's playing field, one frame at a time."""

    # The games: AtariGamesConfig's fields, with lesson 09's defaults.
    size: int = 42
    frame_stack: int = 1
    """Frames per observation; 1 leaves all memory to the LSTM."""
    vectorization: str = "sync"
    """``"sync"`` (games stepped in this process, one by one), ``"async"`` (one process per
    game) or ``"ale"`` (ALE games stepped together in C++ threads by ale-py's
    ``AtariVectorEnv``: rollouts 1.33x and training 1.21x faster than ``"sync"`` in one
    measurement on an idle 2-core machine, docs/benchmarks.md;
    a resumed run restarts its games)."""
    crop: tuple[int, ...] = KUNGFU_CROP
    """Borders cut from the screen before the resize: top, bottom, left, right (Kung-Fu
    Master's playing field by default; 0 0 0 0 keeps the whole screen)."""

    # The learner.
    n_games: int = 16
    """Games played in parallel by the :class:`~rlcourse.rollouts.ParallelGames` (the batch size
    of a rollout)."""
    rollout_length: int = 10
    """Steps per game in one rollout: the ``n`` of the n-step returns, and how far back
    the LSTM's gradient flows (truncated backpropagation through time)."""
    gamma: float = 0.99
    """Discount factor."""
    lr: float = 7e-4
    """Adam learning rate."""
    lr_decay_steps: int = 0
    """If > 0, the learning rate falls linearly from ``lr`` to 0 over this many agent steps
    (A2C/PPO's Atari schedule: big steps early, fine ones late); 0 keeps it constant."""
    adam_eps: float = 1e-5
    """Adam's epsilon (the A2C/PPO literature's 1e-5 rather than PyTorch's 1e-8)."""
    entropy_coef: float = 0.001
    """Weight of the entropy bonus: larger keeps the policy exploring longer (with 0.01, the
    usual A2C value, one Kung-Fu run's entropy stayed near 1.9 nats and its scores near
    6,000; one seed, and a different learning rate: docs/results.md, lesson 09)."""
    value_coef: float = 0.5
    """Weight of the value (critic) loss against the policy term."""
    max_grad_norm: float = 0.5
    """Gradients are clipped to this global L2 norm."""
    reward_scale: float = 0.01
    """Rewards are multiplied by this before learning (Kung-Fu gives 100s of points)."""
    hidden_size: int = 128
    """Size of the LSTM memory (and of the dense layer before it)."""
    seed: int = 0
    """Seeds the network's initialisation, the games and the action sampling."""

    def __post_init__(self) -> None:
        super().__post_init__()  # the games' fields
        for name in ("n_games", "rollout_length", "hidden_size"):
            check_positive_int(f"A2CConfig.{name}", getattr(self, name))
        check_number("A2CConfig.lr_decay_steps", self.lr_decay_steps, integer=True, low=0)
        check_number("A2CConfig.gamma", self.gamma, low=0, high=1)
        for name in ("lr", "adam_eps", "max_grad_norm", "reward_scale"):
            value = getattr(self, name)
            check_number(f"A2CConfig.{name}", value, low=0, low_open=True, high=FLOAT32_MAX)
        for name in ("entropy_coef", "value_coef"):
            check_number(f"A2CConfig.{name}", getattr(self, name), low=0)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> A2CConfig:
        """The inverse of ``dataclasses.asdict`` (unknown keys are an error). Checkpoints
        written before PPO got its own agent name ``epochs`` and ``clip_range``: with one
        epoch they trained A2C and load as such; with more, they were PPO runs."""
        values = dict(values)
        epochs = values.pop("epochs", 1)
        values.pop("clip_range", None)
        if epochs != 1:
            raise ValueError(
                f"this A2C config has epochs={epochs}: it was trained with PPO's clipped update, "
                "which is now its own algorithm (rlcourse train ppo)"
            )
        return config_from_dict(cls, values)


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
    return -(log_prob_of_actions(logits, actions) * advantage.detach()).mean()


def unroll(agent: ActorCritic, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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


def rollout_returns(rollout: Rollout, last_value: torch.Tensor, config: A2CConfig) -> torch.Tensor:
    """The n-step returns ``[B, T]`` of ``rollout``'s scaled rewards, bootstrapped from
    ``last_value`` after the rollout and, for a game cut by a time limit, from the value of
    its last observation (``rollout.truncation_values``)."""
    rewards = torch.from_numpy(rollout.rewards) * config.reward_scale
    # A truncated game's return goes on: fold gamma * V(last obs) into its last reward.
    rewards = rewards + config.gamma * torch.from_numpy(rollout.truncation_values)
    alive = torch.from_numpy(rollout.alive)
    return n_step_returns(rewards, alive, last_value.detach(), config.gamma)


def _step_on_losses(
    agent: RecurrentActorCritic,
    optimizer: torch.optim.Optimizer,
    p_loss: torch.Tensor,
    v_loss: torch.Tensor,
    h: torch.Tensor,
    config: A2CConfig,
) -> dict[str, float]:
    """One clipped gradient step on ``p_loss + value_coef * v_loss - entropy_coef * h``;
    returns the loss pieces and the grad norm (before clipping)."""
    loss = p_loss + config.value_coef * v_loss - config.entropy_coef * h
    check_finite_loss(loss.item())
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
    logits, values, last_value = unroll(agent, rollout)
    returns = rollout_returns(rollout, last_value, config)
    advantage = advantages(returns, values)
    v_loss = value_loss(values, returns)
    p_loss = policy_loss(logits, torch.from_numpy(rollout.actions), advantage)
    return _step_on_losses(agent, optimizer, p_loss, v_loss, entropy(logits), config)


# --- the agent -----------------------------------------------------------------------------


class A2C(ActorCriticAgent):
    """A recurrent actor-critic and its optimizer (the network is seeded by ``config.seed``).
    How it plays, its learning-rate schedule and its checkpoints are
    :class:`~rlcourse.agents.base.ActorCriticAgent`'s, shared with PPO.

    >>> agent = A2C((1, 42, 42), n_actions=14, config=A2CConfig(seed=0))
    >>> agent.policy().act_batch(torch.zeros(1, 1, 42, 42, dtype=torch.uint8).numpy(), [0])
    array([...])
    """

    algo = "a2c"

    def __init__(
        self, obs_shape: tuple[int, ...], n_actions: int, config: A2CConfig | None = None
    ) -> None:
        self.config: A2CConfig = config or A2CConfig()
        self.network_spec = network_spec(
            "RecurrentActorCritic",
            obs_shape=tuple(obs_shape),
            n_actions=int(n_actions),
            hidden_size=self.config.hidden_size,
        )
        # Seeded weights; torch's global generator is left as it was.
        self.network: RecurrentActorCritic = build_network(
            self.network_spec, copies=4, seed=self.config.seed
        )  # type: ignore[assignment]
        # Channels-last conv weights: the update runs ~1.3x faster on a CPU for these small
        # 3x3 stride-2 convs (bench/a2c_update.py); the values are the same up to rounding.
        self.network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=self.config.lr, eps=self.config.adam_eps
        )
        self.steps = 0  # agent steps, summed over the games
        self.updates = 0

    def update(self, rollout: Rollout) -> dict[str, float]:
        """Learn from ``rollout``: one A2C step (:func:`train_on_rollout`); PPO, which reuses
        a rollout for several, is :class:`rlcourse.agents.ppo.PPO`."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        stats = train_on_rollout(self.network, self.optimizer, rollout, self.config)
        self.steps += int(rollout.actions.size)
        self.updates += 1
        return stats
