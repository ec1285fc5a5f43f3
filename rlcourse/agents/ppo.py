"""Proximal policy optimization with generalized advantage estimation (Schulman et al. 2017,
2016): config, the pieces, the agent.

A2C (lesson 09) takes one gradient step per rollout and throws the rollout away. PPO reuses
it: ``epochs`` passes over the rollout, each in ``minibatches`` gradient steps, with a
clipped objective that stops pushing an action's probability once it has moved more than
``clip_range`` away from the policy that played. The pieces of lesson 10, in the order the
notebook builds them: generalized advantage estimation (:func:`gae`), the clipped surrogate
(:func:`clipped_surrogate`), the value loss clipped the same way (:func:`value_loss`), and
the update over minibatch epochs (:func:`ppo_update`). The agent is :class:`PPO`; it trains
on the on-policy loop it shares with A2C (:func:`rlcourse.training.train_on_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rlcourse.agents.a2c import unroll
from rlcourse.agents.base import ActorCriticAgent
from rlcourse.agents.reinforce import entropy, log_prob_of_actions
from rlcourse.config import (
    FLOAT32_MAX,
    RunNotes,
    check_number,
    check_positive_int,
    config_from_dict,
)
from rlcourse.envs import AtariGamesConfig
from rlcourse.errors import check_finite_loss
from rlcourse.networks import ActorCritic, RecurrentActorCritic, build_network, network_spec
from rlcourse.rollouts import Rollout


@dataclass
class PPOConfig(AtariGamesConfig, RunNotes):
    """Everything a PPO run depends on (saved in each checkpoint as a plain dict). The
    defaults are CleanRL's ``ppo_atari.py`` (the Atari settings of the PPO paper); the games'
    fields and their checks are :class:`~rlcourse.envs.AtariGamesConfig`'s."""

    n_games: int = 8
    """Games played in parallel (the rollout's batch)."""
    rollout_length: int = 128
    """Steps per game in one rollout: a rollout holds ``n_games * rollout_length`` steps."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 is the one-step TD advantage (low variance, biased by the critic),
    1 the Monte Carlo return minus the value (unbiased, noisy)."""
    lr: float = 2.5e-4
    """Adam learning rate."""
    lr_decay_steps: int = 0
    """If > 0, the learning rate falls linearly from ``lr`` to 0 over this many agent steps
    (PPO's Atari schedule: set it to the run's --total-steps); 0 keeps it constant."""
    adam_eps: float = 1e-5
    """Adam's epsilon (PPO's 1e-5 rather than PyTorch's 1e-8)."""
    epochs: int = 4
    """Passes over each rollout."""
    minibatches: int = 4
    """Gradient steps per pass: the rollout is split into this many shuffled minibatches
    (of steps; of whole games for the recurrent network)."""
    clip_range: float = 0.1
    """The probability ratio new/old policy is clipped to ``[1 - clip_range, 1 + clip_range]``."""
    clip_value: bool = True
    """Clip the value's change the same way (PPO's implementations do; the paper does not)."""
    normalize_advantages: bool = True
    """Scale each minibatch's advantages to mean 0 and std 1."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus."""
    value_coef: float = 0.5
    """Weight of the value loss against the policy term."""
    max_grad_norm: float = 0.5
    """Gradients are clipped to this global L2 norm."""
    recurrent: bool = False
    """Use lesson 09's recurrent network (42x42 crops, one frame, an LSTM) instead of the
    feed-forward Nature CNN on stacked frames; set --size 42 --frame-stack 1 with it."""
    hidden_size: int = 512
    """Width of the layer before the heads (the LSTM's size with ``recurrent``)."""
    clip_rewards: bool = True
    """Training only: rewards clipped to their sign, as in the PPO paper's Atari runs."""
    seed: int = 0
    """Seeds the network's initialisation, the games, the action sampling and the shuffles."""

    def __post_init__(self) -> None:
        super().__post_init__()  # the games' fields
        for name in ("n_games", "rollout_length", "epochs", "minibatches", "hidden_size"):
            check_positive_int(f"PPOConfig.{name}", getattr(self, name))
        check_number("PPOConfig.lr_decay_steps", self.lr_decay_steps, integer=True, low=0)
        for name in ("gamma", "gae_lambda"):
            check_number(f"PPOConfig.{name}", getattr(self, name), low=0, high=1)
        for name in ("lr", "adam_eps", "max_grad_norm", "clip_range"):
            value = getattr(self, name)
            check_number(f"PPOConfig.{name}", value, low=0, low_open=True, high=FLOAT32_MAX)
        for name in ("entropy_coef", "value_coef"):
            check_number(f"PPOConfig.{name}", getattr(self, name), low=0)
        units = self.n_games if self.recurrent else self.n_games * self.rollout_length
        if self.minibatches > units:
            what = "games" if self.recurrent else "steps in a rollout"
            raise ValueError(
                f"PPOConfig.minibatches={self.minibatches} exceeds the {units} {what}: "
                "use fewer minibatches"
            )

    def env_options(self) -> dict[str, Any]:
        """How this config's games are made (:meth:`AtariGamesConfig.env_options
        <rlcourse.envs.AtariGamesConfig.env_options>`), rewards clipped when ``clip_rewards``."""
        return {**super().env_options(), "clip_rewards": self.clip_rewards}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PPOConfig:
        """The inverse of ``dataclasses.asdict`` (unknown keys are an error)."""
        return config_from_dict(cls, values)


# --- the pieces (each one an exercise in lesson 10) -----------------------------------------


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    last_values: torch.Tensor,
    alive: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """Generalized advantage estimates ``[B, T]`` (Schulman et al. 2016):
    ``A_t = delta_t + gamma * lam * alive_t * A_{t+1}`` with the TD error
    ``delta_t = r_t + gamma * alive_t * V(s_{t+1}) - V(s_t)``.

    ``rewards``, ``values`` and ``alive`` are ``[B, T]``; ``last_values`` ``[B]`` is the value
    after the rollout. Where a game ended (``alive`` False) nothing after it counts: no
    bootstrap, and the sum restarts. ``lam=0`` gives the one-step TD errors, ``lam=1`` the
    discounted return minus the value.

    >>> rewards, values = torch.tensor([[1.0, 1.0]]), torch.tensor([[0.5, 0.5]])
    >>> alive = torch.tensor([[True, True]])
    >>> gae(rewards, values, torch.tensor([2.0]), alive, gamma=1.0, lam=1.0)  # G_t - V(s_t)
    tensor([[3.5000, 2.5000]])
    >>> gae(rewards, values, torch.tensor([2.0]), alive, gamma=1.0, lam=0.0)  # TD errors
    tensor([[1.0000, 2.5000]])
    """
    if rewards.dim() != 2 or values.shape != rewards.shape or alive.shape != rewards.shape:
        raise ValueError(
            f"rewards, values and alive must all be [batch, time], got {tuple(rewards.shape)}, "
            f"{tuple(values.shape)} and {tuple(alive.shape)}"
        )
    if last_values.shape != rewards.shape[:1]:
        raise ValueError(
            f"last_values must be [batch] = {tuple(rewards.shape[:1])}, "
            f"got {tuple(last_values.shape)}"
        )
    live = alive.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    following = torch.zeros_like(last_values)  # A_{t+1}
    next_values = last_values
    for t in reversed(range(rewards.shape[1])):
        # A game that ended at step t has no future: no bootstrap, no advantage carried back.
        delta = rewards[:, t] + gamma * live[:, t] * next_values - values[:, t]
        following = delta + gamma * lam * live[:, t] * following
        advantages[:, t] = following
        next_values = values[:, t]
    return advantages


def clipped_surrogate(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip_range: float,
) -> torch.Tensor:
    """PPO's clipped policy loss, ``-mean(min(ratio * A, clip(ratio, 1 - c, 1 + c) * A))``
    with ``ratio = pi(a|s) / pi_old(a|s) = exp(log_probs - old_log_probs)``.

    While the policy is the one that played (ratio 1) its gradient is A2C's; once a step has
    moved an action's probability more than ``c`` in the advantage's direction, that sample
    earns no further gradient; moves against the advantage are never clipped.

    >>> old = torch.log(torch.tensor([0.5, 0.5]))
    >>> new = torch.log(torch.tensor([0.8, 0.8]))  # ratio 1.6
    >>> clipped_surrogate(new, old, torch.tensor([1.0, -1.0]), clip_range=0.2)  # -(1.2 - 1.6)/2
    tensor(0.2000)
    """
    ratio = torch.exp(log_probs - old_log_probs)
    advantages = advantages.detach()
    clipped = ratio.clamp(1.0 - clip_range, 1.0 + clip_range) * advantages
    return -torch.min(ratio * advantages, clipped).mean()


def value_loss(
    values: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor | None = None,
    clip_range: float | None = None,
) -> torch.Tensor:
    """Half the mean squared error of the critic against the returns; with ``old_values``
    and ``clip_range``, the larger of the errors of the new value and of the new value kept
    within ``clip_range`` of the old one (so a minibatch cannot move the critic far either).

    >>> value_loss(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.0]))
    tensor(1.)
    >>> value_loss(torch.tensor([3.0]), torch.tensor([3.0]), torch.tensor([1.0]), clip_range=0.5)
    tensor(1.1250)
    """
    returns = returns.detach()
    errors = (values - returns) ** 2
    if old_values is not None and clip_range is not None:
        old_values = old_values.detach()
        kept = old_values + (values - old_values).clamp(-clip_range, clip_range)
        errors = torch.max(errors, (kept - returns) ** 2)
    return 0.5 * errors.mean()


# --- the update over minibatch epochs --------------------------------------------------------


def rollout_targets(
    network: ActorCritic, rollout: Rollout, config: PPOConfig
) -> dict[str, torch.Tensor]:
    """What the policy that played says about the rollout, fixed for all the epochs:
    log-probabilities of the actions, values, GAE advantages and returns, all ``[B, T]``."""
    with torch.no_grad():
        logits, values, last_value = unroll(network, rollout)
        actions = torch.from_numpy(rollout.actions)
        # A game cut by a time limit goes on: fold gamma * V(its last obs) into its reward.
        rewards = torch.from_numpy(rollout.rewards + config.gamma * rollout.truncation_values)
        alive = torch.from_numpy(rollout.alive)
        advantages = gae(rewards, values, last_value, alive, config.gamma, config.gae_lambda)
    return {
        "actions": actions,
        "log_probs": log_prob_of_actions(logits, actions),
        "values": values,
        "advantages": advantages,
        "returns": advantages + values,  # the lambda-return: the critic's target
    }


def _minibatch_games(rollout: Rollout, games: torch.Tensor) -> Rollout:
    """The rollout of some of its games (a recurrent network's minibatch)."""
    index = games.numpy()
    h, c = rollout.initial_memory
    return rollout._replace(
        observations=rollout.observations[index],
        actions=rollout.actions[index],
        rewards=rollout.rewards[index],
        terminated=rollout.terminated[index],
        truncated=rollout.truncated[index],
        truncation_values=rollout.truncation_values[index],
        next_observations=rollout.next_observations[index],
        initial_memory=(h[games], c[games]),
    )


def minibatch_units(network: ActorCritic, rollout: Rollout) -> int:
    """What a rollout's minibatches are made of: its steps (``B * T``) for a feed-forward
    network, its games (``B``) for a recurrent one (the LSTM needs each game's sequence)."""
    n_games, n_steps = rollout.actions.shape
    return n_games if isinstance(network, RecurrentActorCritic) else n_games * n_steps


def forward_minibatch(
    network: ActorCritic, rollout: Rollout, units: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The network's logits and values, with gradients, for some of a rollout's
    :func:`minibatch_units`; returns ``(logits [N, A], values [N], index [N])`` where
    ``index`` locates each row in the rollout's flattened ``[B * T]`` arrays (as
    :func:`rollout_targets`' tensors flattened)."""
    n_games, n_steps = rollout.actions.shape
    if isinstance(network, RecurrentActorCritic):  # whole games, replayed from their memory
        games = units.sort().values
        logits, values, _ = unroll(network, _minibatch_games(rollout, games))
        index = (games[:, None] * n_steps + torch.arange(n_steps)).flatten()
        return logits.flatten(0, 1), values.flatten(0, 1), index
    observations = torch.from_numpy(
        rollout.observations.reshape(-1, *rollout.observations.shape[2:])
    )
    empty = network.initial_memory(len(units))
    _, logits, values = network(observations[units], empty)
    return logits, values, units


def ppo_update(
    network: ActorCritic,
    optimizer: torch.optim.Optimizer,
    rollout: Rollout,
    config: PPOConfig,
    generator: torch.Generator,
) -> dict[str, float]:
    """Learn from one rollout: ``config.epochs`` passes, each a shuffle (drawn from
    ``generator``) of the rollout's :func:`minibatch_units` into ``config.minibatches``
    minibatches, and one clipped gradient step on each. The targets (old log-probabilities,
    values, advantages, returns) come from the policy that played, before any step. Returns
    the loss pieces averaged over the steps, with the gradient norm (before clipping), the
    approximate KL divergence from the policy that played and the fraction of clipped
    ratios."""
    targets = {
        key: value.flatten() for key, value in rollout_targets(network, rollout, config).items()
    }
    units = minibatch_units(network, rollout)
    totals: dict[str, float] = {}
    steps = 0
    for _ in range(config.epochs):
        for minibatch in torch.randperm(units, generator=generator).chunk(config.minibatches):
            logits, values, index = forward_minibatch(network, rollout, minibatch)
            advantages = targets["advantages"][index]
            if config.normalize_advantages and len(advantages) > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            log_probs = log_prob_of_actions(logits, targets["actions"][index])
            old_log_probs = targets["log_probs"][index]
            p_loss = clipped_surrogate(log_probs, old_log_probs, advantages, config.clip_range)
            old_values = targets["values"][index] if config.clip_value else None
            clip = config.clip_range if config.clip_value else None
            v_loss = value_loss(values, targets["returns"][index], old_values, clip)
            h = entropy(logits)
            loss = p_loss + config.value_coef * v_loss - config.entropy_coef * h
            check_finite_loss(loss.item())
            optimizer.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(network.parameters(), config.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                ratio = torch.exp(log_probs - old_log_probs)
                step = {
                    "loss": loss.item(),
                    "policy_loss": p_loss.item(),
                    "value_loss": v_loss.item(),
                    "entropy": h.item(),
                    "grad_norm": grad_norm.item(),
                    # The k3 estimator of KL(old || new) (Schulman's note): >= 0, low variance.
                    "approx_kl": ((ratio - 1) - ratio.log()).mean().item(),
                    "clip_fraction": ((ratio - 1).abs() > config.clip_range).float().mean().item(),
                }
            for key, value in step.items():
                totals[key] = totals.get(key, 0.0) + value
            steps += 1
    return {key: value / steps for key, value in totals.items()}


# --- the agent -------------------------------------------------------------------------------


class PPO(ActorCriticAgent):
    """An actor-critic (feed-forward by default, recurrent as an option), its optimizer and
    the generator of its minibatch shuffles (all seeded by ``config.seed``). How it plays,
    its learning-rate schedule and its checkpoints are
    :class:`~rlcourse.agents.base.ActorCriticAgent`'s, shared with A2C.

    >>> agent = PPO((4, 84, 84), n_actions=14, config=PPOConfig(seed=0))
    >>> agent.policy().act_batch(torch.zeros(1, 4, 84, 84, dtype=torch.uint8).numpy(), [0])
    array([...])
    """

    algo = "ppo"

    def __init__(
        self, obs_shape: tuple[int, ...], n_actions: int, config: PPOConfig | None = None
    ) -> None:
        self.config: PPOConfig = config or PPOConfig()
        c = self.config
        if c.recurrent:
            self.network_spec = network_spec(
                "RecurrentActorCritic",
                obs_shape=tuple(obs_shape),
                n_actions=int(n_actions),
                hidden_size=c.hidden_size,
            )
        else:
            self.network_spec = network_spec(
                "NatureActorCritic",
                obs_shape=tuple(obs_shape),
                n_actions=int(n_actions),
                hidden_size=c.hidden_size,
            )
        # Seeded weights; torch's global generator is left as it was.
        self.network: ActorCritic = build_network(self.network_spec, copies=4, seed=c.seed)  # type: ignore[assignment]
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=c.lr, eps=c.adam_eps)
        self.generator = torch.Generator().manual_seed(c.seed)
        self.steps = 0  # agent steps, summed over the games
        self.updates = 0

    def update(self, rollout: Rollout) -> dict[str, float]:
        """Learn from ``rollout`` (:func:`ppo_update`)."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        stats = ppo_update(self.network, self.optimizer, rollout, self.config, self.generator)
        self.steps += int(rollout.actions.size)
        self.updates += 1
        return stats

    def resume_extras(self) -> dict[str, Any]:
        """A resume point goes on with the same minibatch shuffles."""
        return {"shuffles": self.generator.get_state()}

    def restore_extras(self, payload: dict[str, Any]) -> None:
        """The shuffles' generator as :meth:`resume_extras` saved it."""
        self.generator.set_state(payload["resume"]["shuffles"])
