"""Checks for lesson 08 (REINFORCE): the log-probability of the actions taken, the
reward-to-go, the policy-gradient loss with a baseline, and the entropy.

Each ``check_*`` runs the student's code and the reference (the package's own function in
:mod:`rlcourse.agents.reinforce`) on small cases. Besides values, the cases look at where
gradients go: the weights ``G_t - b`` are constants for the gradient (a baseline that
receives the policy's gradient is the classic bug), and the loss's gradient must point the
way that makes good actions more likely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch

from rlcourse.agents.reinforce import (
    entropy,
    log_prob_of_actions,
    policy_gradient_loss,
    reward_to_go,
)
from rlcourse.course.exercises.core import Case, check_exercise, value_or_gradient


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


# --- reward-to-go --------------------------------------------------------------------------


def check_reward_to_go(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``reward_to_go(rewards [T], gamma) -> returns [T]`` (one episode)."""
    cases = [
        Case(
            "rewards 1, 2, 3, 4 with gamma = 1",
            lambda f: f(torch.tensor([1.0, 2.0, 3.0, 4.0]), 1.0),
            rule="each step's return counts only the rewards from that step on (10, 9, 7, 4), "
            "not the rewards before it, and not the whole episode's return at every step",
        ),
        Case(
            "three rewards of 1, gamma = 0.5",
            lambda f: f(torch.tensor([1.0, 1.0, 1.0]), 0.5),
            rule="G_t adds the reward of step t and the rewards after it, each discounted "
            "once per step it lies after t: 1.75, 1.5, 1 here",
        ),
        Case(
            "rewards 0, 0, 0, 10 with gamma = 0.9",
            lambda f: f(torch.tensor([0.0, 0.0, 0.0, 10.0]), 0.9),
            rule="a reward k steps ahead is discounted by gamma to the power k: the first "
            "step's return here is 10 x 0.9^3 = 7.29, the last step's own reward is not "
            "discounted",
        ),
        Case(
            "one step",
            lambda f: f(torch.tensor([2.5]), 0.99),
            rule="the last step's return is its own reward",
        ),
        Case(
            "twelve random rewards, gamma = 0.8",
            lambda f: f(_tensor(3, 12), 0.8),
            rule="the result has one return per step, shape [T], in the order of the steps",
        ),
        Case(
            "gamma = 0",
            lambda f: f(torch.tensor([1.0, -2.0, 3.0]), 0.0),
            rule="with gamma = 0 each step's return is its own reward",
        ),
    ]
    return check_exercise(
        "reward_to_go",
        student_fn,
        reward_to_go,
        cases,
        hint="the last step's return is known first (its reward), and each earlier step's "
        "return is its reward plus gamma times the next step's return: walk through the "
        "episode backwards, keeping a running sum.",
        pointer="the reward-to-go equation in section 3 (G_t from G_t+1), and the docstring "
        "of rlcourse.agents.reinforce.reward_to_go",
    )


# --- the loss ------------------------------------------------------------------------------


def _loss(
    fn: Callable[..., torch.Tensor], seed: int, n: int, baseline: str, item: str = "value"
) -> Any:
    log_probs = (-torch.rand(n, generator=torch.Generator().manual_seed(seed)) * 2).requires_grad_()
    returns = _tensor(seed + 1, n).abs() * 10
    b: Any = None
    if baseline == "number":
        b = float(returns.mean())
    elif baseline == "tensor":
        b = (_tensor(seed + 2, n) + float(returns.mean())).requires_grad_()
    loss = fn(log_probs, returns, b) if baseline != "omitted" else fn(log_probs, returns)
    if item == "value":
        return loss
    loss.backward()
    if item == "baseline is a constant":
        return b.grad is None or bool(torch.all(b.grad == 0))
    return log_probs.grad


def _direction(fn: Callable[..., torch.Tensor]) -> Any:
    """One step of gradient descent on the loss: does the good action get more likely?"""
    logits = torch.zeros(2, 2, requires_grad=True)
    actions = torch.tensor([0, 1])
    returns = torch.tensor([10.0, 0.0])  # action 0 was followed by more reward
    log_probs = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    fn(log_probs, returns, torch.tensor([5.0, 5.0])).backward()
    with torch.no_grad():
        after = torch.softmax(logits - 0.1 * cast(torch.Tensor, logits.grad), -1)
    return {
        "gradient descent makes the action with the higher return more likely": bool(
            after[0, 0] > 0.5
        ),
        "and the one with the lower return less likely": bool(after[1, 1] < 0.5),
    }


def check_policy_gradient_loss(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``policy_gradient_loss(log_probs [N], returns [N], baseline=None) -> scalar``."""
    cases = [
        Case(
            "no baseline: the loss's value",
            lambda f: _loss(f, 0, 6, "none"),
            rule="without a baseline the loss is minus the mean, over the steps, of each "
            "step's log-probability times its return (the mean, not the sum)",
        ),
        Case(
            "the baseline argument left out",
            lambda f: _loss(f, 0, 6, "omitted"),
            rule="the baseline is optional: left out, it means no baseline",
        ),
        Case(
            "a baseline given as a number",
            lambda f: _loss(f, 1, 5, "number"),
            rule="the baseline is subtracted from the returns (G_t - b), not added",
        ),
        Case(
            "a baseline per step (a tensor), the loss's value",
            lambda f: _loss(f, 2, 7, "tensor"),
            rule="each step's weight is its own return minus its own baseline",
        ),
        Case(
            "gradients: the baseline is a constant",
            lambda f: _loss(f, 3, 5, "tensor", "baseline is a constant"),
            rule="no gradient of this loss flows into the baseline (a learned value would "
            "otherwise be trained by the policy's loss): the weights G_t - b are constants",
        ),
        Case(
            "gradients with respect to the log-probabilities",
            lambda f: _loss(f, 4, 5, "tensor", "gradient"),
            rule="the gradient reaches the log-probabilities, each weighted by minus its "
            "step's G_t - b over the number of steps",
        ),
        Case(
            "the direction of one gradient-descent step",
            _direction,
            rule="minimising the loss (gradient descent, as every PyTorch optimizer does) "
            "must make actions with a return above the baseline more likely: the loss is "
            "minus the objective J",
        ),
    ]
    return check_exercise(
        "policy_gradient_loss",
        student_fn,
        policy_gradient_loss,
        cases,
        hint="weight each step's log-probability by its return minus the baseline (if "
        "there is one), with those weights treated as constants; average over the steps, "
        "with the sign that makes minimising the loss climb the objective.",
        pointer="the policy-gradient box of section 2 and the baseline equation of section "
        "4, and torch.Tensor.detach in PyTorch's documentation",
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
