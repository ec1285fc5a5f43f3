"""Checks for lesson 08 (REINFORCE): the log-probability of the actions taken, the
entropy, and the whole update from a batch of finished episodes.

Each ``check_*`` runs the student's code and the reference (the package's own function in
:mod:`rlcourse.agents.reinforce`) on small cases. :func:`check_train_on_episodes` runs one
update of a tiny policy network on hand-made episodes and compares how it moved the weights:
the weights ``G_t - b`` are constants for the gradient (a learned baseline that receives the
policy's gradient is the classic bug), and the step must make good actions more likely. The
reward-to-go is lesson 01's exercise; the loss is written inside the update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rlcourse.agents.reinforce import (
    Episode,
    ReinforceConfig,
    entropy,
    log_prob_of_actions,
    train_on_episodes,
)
from rlcourse.course.exercises.core import (
    Case,
    check_exercise,
    compare_weight_moves,
    seeded_global_rngs,
    value_or_gradient,
)
from rlcourse.networks import MLPPolicy


def _tensor(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- log-probability of the actions taken --------------------------------------------------


def _log_probs(
    fn: Callable[..., torch.Tensor], seed: int, n: int, n_actions: int, item: str = "value"
) -> Any:
    logits = _tensor(seed, n, n_actions).requires_grad_()
    actions = torch.randint(0, n_actions, (n,), generator=torch.Generator().manual_seed(seed))
    result = fn(logits, actions)
    if item == "value":
        return result
    result.sum().backward()
    return logits.grad


def check_log_prob_of_actions(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``log_prob_of_actions(logits [N, A], actions [N]) -> [N]``."""
    cases = [
        Case(
            "uniform logits over 4 actions",
            lambda f: f(torch.zeros(4, 4), torch.tensor([0, 3, 1, 1])),
            rule="the result is one log-probability per step, shape [N]: log(1/4) = -1.386 "
            "for a uniform policy over 4 actions (a log-probability, not a probability, "
            "and not one per action)",
        ),
        Case(
            "two steps, six actions: which log-probability is picked",
            lambda f: f(torch.arange(12.0).view(2, 6), torch.tensor([5, 0])),
            rule="step i's log-probability comes from row i of the logits alone: a softmax "
            "over that row (the action axis, the last one), then its entry actions[i]",
        ),
        Case(
            "five steps, three actions, random logits",
            lambda f: _log_probs(f, 0, 5, 3),
            rule="each step's log-probability is the one of the action taken at that step",
        ),
        Case(
            "gradients with respect to the logits",
            lambda f: _log_probs(f, 1, 4, 3, "gradient"),
            rule="the gradient reaches the logits (nothing detached)",
        ),
        Case(
            "a very unlikely action taken (logits 200 apart)",
            lambda f: f(torch.tensor([[200.0, 0.0], [0.0, 1.0]]), torch.tensor([1, 0])),
            rule="the log-probability of a very unlikely action is a large negative number, "
            "not minus infinity: compute log-probabilities from the logits directly (the "
            "log of a probability that rounded to 0 is minus infinity)",
        ),
        Case(
            "a single step",
            lambda f: f(torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([2])),
            rule="one step gives one log-probability, shape [1], not a bare number: remove "
            "only the axis that picking the action left",
        ),
    ]
    return check_exercise(
        "log_prob_of_actions",
        student_fn,
        log_prob_of_actions,
        cases,
        hint="turn the logits into log-probabilities over the action axis in one stable "
        "operation, then keep, for each step, only the entry of the action it took.",
        pointer="the log pi(a_t | s_t) in the policy-gradient box of section 2, and "
        "torch.log_softmax and torch.gather in PyTorch's documentation",
    )


# --- entropy -------------------------------------------------------------------------------


def check_entropy(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``entropy(logits [N, A]) -> scalar``: the mean entropy of the policies, nats."""
    cases = [
        Case(
            "three uniform policies over 4 actions",
            lambda f: value_or_gradient(f, torch.zeros(3, 4)),
            rule="the result is the mean over the steps of each policy's entropy, a positive "
            "number: log(4) = 1.386 nats for a uniform policy over 4 actions",
        ),
        Case(
            "random logits, 5 steps, 3 actions",
            lambda f: value_or_gradient(f, _tensor(0, 5, 3)),
            rule="each policy's entropy is minus the sum over the actions (the last axis) of "
            "probability times log-probability; then the mean over the steps",
        ),
        Case(
            "gradients with respect to random logits",
            lambda f: value_or_gradient(f, _tensor(1, 4, 3), "gradient"),
            rule="the entropy's gradient reaches the logits (nothing detached)",
        ),
        Case(
            "a nearly certain policy (logits 200 apart)",
            lambda f: value_or_gradient(f, torch.tensor([[200.0, 0.0, 0.0], [0.0, 1.0, 2.0]])),
            rule="a nearly certain policy has an entropy near 0, not nan: compute the "
            "log-probabilities from the logits directly (the log of a probability that "
            "rounded to 0 is minus infinity, and 0 times minus infinity is nan)",
        ),
    ]
    return check_exercise(
        "entropy",
        student_fn,
        entropy,
        cases,
        hint="get each policy's log-probabilities from the logits in one stable operation, "
        "and the probabilities from them; a policy's entropy is minus the sum over the "
        "actions of probability times log-probability; then average over the steps.",
        pointer="the entropy bonus H in section 5, and torch.log_softmax in PyTorch's "
        "documentation",
    )


# --- the update ----------------------------------------------------------------------------

_OBS_DIM, _N_ACTIONS = 3, 3


def _episodes(seed: int, lengths: tuple[int, ...], zero_rewards: bool = False) -> list[Episode]:
    """Hand-made finished episodes of the given lengths: random observations and actions,
    rewards from 0 to 3 (all 0 with ``zero_rewards``)."""
    rng = np.random.default_rng(seed)
    episodes = []
    for length in lengths:
        rewards = rng.integers(0, 4, length).astype(np.float32)
        episodes.append(
            Episode(
                observations=rng.normal(size=(length, _OBS_DIM)).astype(np.float32),
                actions=rng.integers(0, _N_ACTIONS, length).astype(np.int64),
                rewards=np.zeros_like(rewards) if zero_rewards else rewards,
                truncated=False,
            )
        )
    return episodes


def _moves(before: dict[str, torch.Tensor], network: MLPPolicy) -> dict[str, torch.Tensor]:
    after = network.state_dict()
    moves = {
        "how the policy's weights moved": torch.cat(
            [(after[k] - before[k]).flatten() for k in after if k.startswith("policy.")]
        )
    }
    if network.value is not None:
        moves["how the value network's weights moved"] = torch.cat(
            [(after[k] - before[k]).flatten() for k in after if k.startswith("value.")]
        )
    return moves


class _Moves(dict):
    """What an update case compares: weight changes printed by their range, not in full."""

    def __repr__(self) -> str:
        parts = []
        for key, value in self.items():
            if isinstance(value, torch.Tensor):
                text = f"from {value.min().item():.4g} to {value.max().item():.4g}"
            elif isinstance(value, float):
                text = f"{value:.6g}"
            else:
                text = repr(value)
            parts.append(f"{key}: {text}")
        return "{" + "; ".join(parts) + "}"


def _update(fn: Callable[..., Any], case: str) -> _Moves:
    """One call of ``train_on_episodes`` on a crafted case; what the case compares."""
    options: dict[str, Any] = {
        "gamma": 0.9,
        "baseline": "none",
        "normalize_returns": False,
        "entropy_coef": 0.0,
        "hidden_sizes": (4,),
    }
    lengths: tuple[int, ...] = (4, 2, 5)
    seed, zero_rewards, stale = 0, False, False
    keys: tuple[str, ...] = ("policy_loss",)
    if case == "whole return":
        options["reward_to_go"] = False
        seed = 1
    elif case == "mean":
        options["baseline"] = "mean"
        lengths, seed = (3, 6, 1), 2
    elif case == "value":
        options["baseline"] = "value"
        seed, keys = 3, ("policy_loss", "value_loss")
    elif case == "normalized":
        options.update(baseline="value", normalize_returns=True)
        lengths, seed = (5, 3, 2), 4
    elif case == "entropy":
        options["entropy_coef"] = 1.0
        seed, zero_rewards, keys = 5, True, ("entropy", "loss")
    elif case == "update":
        options.update(
            baseline="mean", normalize_returns=True, entropy_coef=0.1, max_grad_norm=0.05
        )
        lengths, seed, stale, keys = (3, 4), 6, True, ("loss", "grad_norm")
    config = ReinforceConfig(**options)
    with seeded_global_rngs(seed):
        network = MLPPolicy(_OBS_DIM, _N_ACTIONS, (4,), value=config.baseline == "value")
    episodes = _episodes(seed, lengths, zero_rewards)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.5)
    if stale:  # what an earlier update left in .grad
        for parameter in network.parameters():
            parameter.grad = torch.ones_like(parameter)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    observations = torch.from_numpy(np.concatenate([e.observations for e in episodes]))
    with torch.no_grad():
        entropy_before = entropy(network(observations)).item()
    stats = fn(network, optimizer, episodes, config)
    report = _Moves({key: stats[key] for key in keys})
    if case == "entropy":
        with torch.no_grad():
            entropy_after = entropy(network(observations)).item()
        report["the update raised the policy's entropy"] = bool(entropy_after > entropy_before)
    report.update(_moves(before, network))
    return report


def check_train_on_episodes(student_fn: Callable[..., Any]) -> Any:
    """Check ``train_on_episodes(network, optimizer, episodes, config) -> stats``.

    Each case runs one update of a tiny ``MLPPolicy`` (3 inputs, 3 actions, 4 hidden units)
    with plain SGD on hand-made finished episodes of different lengths, and compares the
    returned numbers and how the update moved the weights.
    """
    cases = [
        Case(
            "three episodes of 4, 2 and 5 steps, gamma = 0.9, no baseline",
            lambda f: _update(f, "reward to go"),
            rule="each step is weighted by its own return from that step on (lesson 01's "
            "reward-to-go, computed episode by episode: no return runs past its episode's "
            "end); the policy term is minus the mean over all the batch's steps of "
            "log-probability times weight (the mean, not the sum), so that one step of the "
            "optimizer makes the actions followed by more reward more likely",
        ),
        Case(
            "the whole return at every step (config.reward_to_go false)",
            lambda f: _update(f, "whole return"),
            rule="with config.reward_to_go false every step of an episode is weighted by "
            "the episode's whole discounted return (its first step's)",
        ),
        Case(
            "the batch's mean return as the baseline, episodes of 3, 6 and 1 steps",
            lambda f: _update(f, "mean"),
            rule="baseline 'mean' subtracts the mean of all the batch's step returns (one "
            "number, not a mean per episode) from each step's return",
        ),
        Case(
            "a learned value as the baseline",
            lambda f: _update(f, "value"),
            rule="baseline 'value' subtracts V(s_t) (network.value_of) as a constant: no "
            "gradient of the policy term reaches the value network; the value network "
            "learns from value_loss, the mean squared error of V(s_t) against the returns, "
            "added to the loss",
        ),
        Case(
            "normalised weights with a learned value as the baseline",
            lambda f: _update(f, "normalized"),
            rule="with config.normalize_returns the weights G_t - b are divided by their own "
            "standard deviation over the batch (of G_t - b, not of G_t; plus 1e-8), and not "
            "centred again: the baseline and the returns are divided by the same number",
        ),
        Case(
            "every reward 0 (no policy term), entropy_coef = 1",
            lambda f: _update(f, "entropy"),
            rule="the entropy bonus is subtracted from the loss, entropy_coef times the mean "
            "entropy of the batch's policies, so that minimising the loss raises the entropy",
        ),
        Case(
            "a whole update: stale gradients in .grad, a small max_grad_norm",
            lambda f: _update(f, "update"),
            rule="one update: the old gradients are cleared, the total loss back-propagated, "
            "the policy network's gradient clipped to config.max_grad_norm (grad_norm "
            "reported before clipping), then the optimizer steps",
        ),
    ]
    return check_exercise(
        "train_on_episodes",
        student_fn,
        train_on_episodes,
        [Case(c.name, c.run, c.rule, compare_weight_moves) for c in cases],
        hint="put the batch's steps together, episode after episode; weight each step by "
        "its return (per episode), minus the baseline the config names, treated as a "
        "constant, scaled if the config asks; build the loss from the log-probabilities "
        "of the actions taken and the entropy, with the sign that climbs the objective; "
        "then one clean optimizer step.",
        pointer="the loss L(theta) at the end of section 5, the baseline equation of section "
        "4, ReinforceConfig's fields, torch.Tensor.detach and "
        "torch.nn.utils.clip_grad_norm_ in PyTorch's documentation",
    )
