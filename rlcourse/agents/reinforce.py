"""REINFORCE (Williams 1992): the policy gradient from whole episodes, with a baseline.

The pieces of lesson 08, in the order the notebook builds them: the log-probability of the
actions taken (:func:`log_prob_of_actions`), the return that follows each step
(:func:`rlcourse.returns.reward_to_go`, lesson 01's exercise, imported here), the loss whose
gradient is the policy gradient (:func:`policy_gradient_loss`) and the entropy bonus
(:func:`entropy`), put together by :func:`train_on_episodes` on a batch of finished
:class:`Episode` s, and the :class:`Reinforce` agent that holds the network and its
optimizer. The loop is :func:`rlcourse.training.train_reinforce`.

The estimator, for a batch of ``N`` steps from whole episodes::

    grad J  ~  1/N sum_t  grad log pi(a_t | s_t) * (G_t - b(s_t))

with ``G_t`` the discounted reward-to-go and ``b`` a baseline that does not depend on the
action (none, the batch's mean return, or a learned ``V(s)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import numpy as np
import torch

from rlcourse.agents.base import TrainedAgent
from rlcourse.config import (
    FLOAT32_MAX,
    RunNotes,
    check_number,
    check_positive_int,
    config_from_dict,
)
from rlcourse.errors import check_finite_loss
from rlcourse.networks import MLPPolicy, build_network, network_spec
from rlcourse.policies import CategoricalPolicy
from rlcourse.returns import reward_to_go

BASELINES = ("none", "mean", "value")
"""The baselines ``b(s_t)`` subtracted from the returns: none, the batch's mean return, a
learned state value."""


@dataclass
class ReinforceConfig(RunNotes):
    """Everything a REINFORCE run depends on (saved in each checkpoint as a plain dict).

    The defaults solve CartPole-v1 (see ``bench/reinforce_cartpole.py``)."""

    episodes_per_update: int = 10
    """Whole episodes played with the current policy before each gradient step (the batch:
    more episodes, a less noisy gradient, fewer updates)."""
    gamma: float = 0.99
    """Discount factor of the returns."""
    lr: float = 5e-3
    """Adam learning rate of the policy network."""
    value_lr: float = 1e-2
    """Adam learning rate of the value network (``baseline="value"`` only)."""
    hidden_sizes: tuple[int, ...] = (64,)
    """Hidden layer sizes of the policy MLP (tanh), and of the value MLP if there is one."""
    baseline: str = "value"
    """What is subtracted from the returns: ``none``, ``mean`` (the batch's mean return) or
    ``value`` (a learned V(s), trained on the same returns by least squares)."""
    reward_to_go: bool = True
    """Weight each step by the return that follows it (true) or by the whole episode's
    return, the same for every step (false: the textbook estimator, noisier)."""
    normalize_returns: bool = True
    """Divide the weights ``G_t - b`` by their standard deviation over the batch: a step
    size that does not depend on the scale of the rewards (it does not centre them, so it
    adds no baseline of its own)."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus: larger keeps the policy exploring longer."""
    max_grad_norm: float | None = None
    """Clip the gradients to this global L2 norm (none: no clipping)."""
    seed: int = 0
    """Seeds the network's initialisation, the episodes and the action sampling."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(self.hidden_sizes)
        check_positive_int("ReinforceConfig.episodes_per_update", self.episodes_per_update)
        check_number("ReinforceConfig.gamma", self.gamma, low=0, high=1)
        for name in ("lr", "value_lr"):
            value = getattr(self, name)
            check_number(f"ReinforceConfig.{name}", value, low=0, low_open=True, high=FLOAT32_MAX)
        check_number("ReinforceConfig.entropy_coef", self.entropy_coef, low=0)
        if self.max_grad_norm is not None:
            check_number("ReinforceConfig.max_grad_norm", self.max_grad_norm, low=0, low_open=True)
        if not self.hidden_sizes:
            raise ValueError("ReinforceConfig.hidden_sizes must name at least one layer size")
        for size in self.hidden_sizes:
            check_positive_int("ReinforceConfig.hidden_sizes[i]", size)
        if self.baseline not in BASELINES:
            raise ValueError(
                f"ReinforceConfig.baseline must be one of {', '.join(BASELINES)}, "
                f"got {self.baseline!r}"
            )
        for name in ("reward_to_go", "normalize_returns"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(
                    f"ReinforceConfig.{name} must be true or false, got {getattr(self, name)!r}"
                )

    def env_options(self) -> dict[str, Any]:
        """How this config's env is made beyond its id: nothing (saved in checkpoints)."""
        return {}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReinforceConfig:
        """The inverse of ``dataclasses.asdict`` (unknown keys are an error)."""
        return config_from_dict(cls, values)


class Episode(NamedTuple):
    """One finished episode, as the loop played it."""

    observations: np.ndarray
    """``[T, obs_dim]`` float32: the observation before each action."""
    actions: np.ndarray
    """``[T]`` int64."""
    rewards: np.ndarray
    """``[T]`` float32."""
    truncated: bool
    """True if a time limit cut it (its tail is missing from the returns: see
    :func:`reward_to_go`)."""


# --- the policy-gradient objective ---------------------------------------------------------


def log_prob_of_actions(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``log pi(a_t | s_t)`` of the actions taken: ``[N, n_actions]`` logits and ``[N]``
    actions give ``[N]`` log-probabilities (from ``log_softmax``: stable for unlikely ones).

    >>> log_prob_of_actions(torch.zeros(2, 4), torch.tensor([0, 3]))
    tensor([-1.3863, -1.3863])
    """
    if logits.dim() < 1 or actions.shape != logits.shape[:-1]:
        raise ValueError(
            f"actions must have the logits' shape without the last axis: logits "
            f"{tuple(logits.shape)} and actions {tuple(actions.shape)}"
        )
    log_probs = torch.log_softmax(logits, dim=-1)
    return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def policy_gradient_loss(
    log_probs: torch.Tensor, returns: torch.Tensor, baseline: torch.Tensor | float | None = None
) -> torch.Tensor:
    """``-mean(log pi(a_t | s_t) * (G_t - b_t))``: minimising it climbs the policy gradient.

    The weights ``G_t - b_t`` are constants for the gradient (detached): only the
    log-probabilities carry it. ``baseline``: None (no baseline), a number, or ``[N]``.

    >>> policy_gradient_loss(torch.tensor([-1.0, -2.0]), torch.tensor([3.0, 1.0]), 1.0)
    tensor(1.)
    """
    if returns.shape != log_probs.shape:
        raise ValueError(
            f"log_probs and returns must have the same shape, got {tuple(log_probs.shape)} "
            f"and {tuple(returns.shape)}"
        )
    weights = returns if baseline is None else returns - baseline
    return -(log_probs * weights.detach()).mean()


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy of the policies, ``mean(-sum_a pi(a) log pi(a))``, in nats.

    >>> entropy(torch.zeros(3, 4))   # uniform over 4 actions: log(4)
    tensor(1.3863)
    """
    log_probs = torch.log_softmax(logits, dim=-1)
    return -(log_probs.exp() * log_probs).sum(-1).mean()


# --- one update from a batch of episodes ---------------------------------------------------


def episode_returns(episodes: Sequence[Episode], gamma: float, to_go: bool) -> torch.Tensor:
    """The weight of every step of the batch, ``[N]``: its reward-to-go (``to_go``) or its
    episode's whole discounted return."""
    parts = []
    for episode in episodes:
        returns = reward_to_go(torch.as_tensor(episode.rewards, dtype=torch.float32), gamma)
        parts.append(returns if to_go else returns[:1].expand_as(returns))
    return torch.cat(parts)


def batch_tensors(episodes: Sequence[Episode]) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's observations ``[N, obs_dim]`` and actions ``[N]``, episode after episode."""
    if not episodes:
        raise ValueError("a REINFORCE update needs at least one finished episode")
    observations = torch.from_numpy(np.concatenate([e.observations for e in episodes]))
    actions = torch.from_numpy(np.concatenate([e.actions for e in episodes]))
    return observations, actions


def surrogate_loss(
    network: MLPPolicy, episodes: Sequence[Episode], config: ReinforceConfig
) -> dict[str, torch.Tensor]:
    """The loss pieces on a batch (``policy_loss``, ``value_loss``, ``entropy``, ``loss``):
    what :func:`train_on_episodes` minimises, and whose gradient the lesson measures."""
    observations, actions = batch_tensors(episodes)
    returns = episode_returns(episodes, config.gamma, config.reward_to_go)
    logits = network(observations)
    log_probs = log_prob_of_actions(logits, actions)
    baseline: torch.Tensor | None = None
    value_loss = torch.zeros(())
    if config.baseline == "mean":
        baseline = returns.mean()
    elif config.baseline == "value":
        values = network.value_of(observations)
        value_loss = ((returns - values) ** 2).mean()
        baseline = values.detach()
    scale = torch.ones(())
    if config.normalize_returns and returns.numel() > 1:
        weights = returns if baseline is None else returns - baseline
        scale = weights.std() + 1e-8
    p_loss = policy_gradient_loss(
        log_probs, returns / scale, None if baseline is None else baseline / scale
    )
    h = entropy(logits)
    loss = p_loss + value_loss - config.entropy_coef * h
    return {"loss": loss, "policy_loss": p_loss, "value_loss": value_loss, "entropy": h}


def train_on_episodes(
    network: MLPPolicy,
    optimizer: torch.optim.Optimizer,
    episodes: Sequence[Episode],
    config: ReinforceConfig,
) -> dict[str, float]:
    """One gradient step of REINFORCE on a batch of whole episodes; returns the loss
    pieces and the gradient's norm (before clipping).

    ``loss = policy_gradient_loss + value_loss - entropy_coef * entropy``; the value loss
    (baseline ``value`` only) is the mean squared error of ``V(s_t)`` against ``G_t``, on a
    network of its own with its own learning rate.
    """
    pieces = surrogate_loss(network, episodes, config)
    check_finite_loss(pieces["loss"].item())
    optimizer.zero_grad()
    pieces["loss"].backward()
    limit = config.max_grad_norm if config.max_grad_norm is not None else float("inf")
    grad_norm = torch.nn.utils.clip_grad_norm_(network.policy.parameters(), limit)
    optimizer.step()
    stats = {key: value.item() for key, value in pieces.items()}
    stats["grad_norm"] = grad_norm.item()
    return stats


def policy_gradient_estimate(
    network: MLPPolicy, episodes: Sequence[Episode], config: ReinforceConfig
) -> torch.Tensor:
    """The policy gradient estimated from one batch, as a flat vector over the policy's
    parameters (the network is not changed): what the lesson's variance study samples."""
    network.zero_grad()
    surrogate_loss(network, episodes, config)["policy_loss"].backward()
    gradient = torch.cat(
        [-cast(torch.Tensor, p.grad).flatten() for p in network.policy.parameters()]
    )
    network.zero_grad()
    return gradient


# --- the agent -------------------------------------------------------------------------------


class Reinforce(TrainedAgent):
    """A softmax policy network (and value network for ``baseline="value"``), its optimizer
    and the generator that samples its actions in training (all seeded by ``config.seed``).
    Its checkpoints are :class:`~rlcourse.agents.base.TrainedAgent`'s, shared with A2C and PPO.

    >>> agent = Reinforce(obs_dim=4, n_actions=2, config=ReinforceConfig(seed=0))
    >>> agent.act(np.zeros(4, np.float32)) in (0, 1)
    True
    """

    algo = "reinforce"

    def __init__(self, obs_dim: int, n_actions: int, config: ReinforceConfig | None = None) -> None:
        self.config: ReinforceConfig = config or ReinforceConfig()
        self.network_spec = network_spec(
            "MLPPolicy",
            obs_dim=int(obs_dim),
            n_actions=int(n_actions),
            hidden_sizes=self.config.hidden_sizes,
            value=self.config.baseline == "value",
        )
        # Seeded weights; torch's global generator is left as it was.
        self.network: MLPPolicy = build_network(self.network_spec, copies=4, seed=self.config.seed)  # type: ignore[assignment]
        groups: list[dict[str, Any]] = [
            {"params": list(self.network.policy.parameters()), "lr": self.config.lr}
        ]
        if self.network.value is not None:
            groups.append(
                {"params": list(self.network.value.parameters()), "lr": self.config.value_lr}
            )
        self.optimizer = torch.optim.Adam(groups)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.steps = 0
        self.updates = 0

    @torch.no_grad()
    def act(self, observation: np.ndarray) -> int:
        """An action sampled from ``pi(. | observation)`` (the training generator's draw)."""
        logits = self.network(torch.as_tensor(observation).unsqueeze(0))
        probs = torch.softmax(logits[0], -1)
        return int(torch.multinomial(probs, 1, generator=self.generator))

    def update(self, episodes: Sequence[Episode]) -> dict[str, float]:
        """One gradient step on a batch of finished episodes (:func:`train_on_episodes`)."""
        stats = train_on_episodes(self.network, self.optimizer, episodes, self.config)
        self.steps += sum(len(e.actions) for e in episodes)
        self.updates += 1
        return stats

    def policy(self, greedy: bool = False, seed: int = 0) -> CategoricalPolicy:
        """The network as a policy (sampling, the evaluation rule; ``greedy``: argmax)."""
        return CategoricalPolicy(self.network, greedy=greedy, seed=seed)

    def rng_states(self) -> dict[str, Any]:
        """Every checkpoint keeps the sampling generator: a resumed run draws the same actions."""
        return {"sampling": self.generator.get_state()}

    def restore_extras(self, payload: dict[str, Any]) -> None:
        """The sampling generator as :meth:`rng_states` saved it."""
        self.generator.set_state(payload["rng"]["sampling"].clone())
