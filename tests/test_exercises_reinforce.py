"""Lesson 08's checks: correct answers written in other styles pass; the typical mistakes
are caught, with the rule that points at them, and no check prints answer code."""

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from exercise_helpers import assert_no_answer_code

from rlcourse.agents import reinforce
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.reinforce import (
    check_entropy,
    check_log_prob_of_actions,
    check_policy_gradient_loss,
    check_reward_to_go,
)

# --- correct answers in other styles ---------------------------------------------------------


def log_prob_with_categorical(logits, actions):
    return torch.distributions.Categorical(logits=logits).log_prob(actions)


def log_prob_with_one_hot(logits, actions):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return (log_probs * F.one_hot(actions, logits.shape[1])).sum(dim=1)


def log_prob_with_indexing(logits, actions):
    return F.log_softmax(logits, dim=-1)[torch.arange(len(actions)), actions]


def reward_to_go_with_python_floats(rewards, gamma):
    out, g = [], 0.0
    for r in reversed(rewards.tolist()):
        g = r + gamma * g
        out.append(g)
    return torch.tensor(out[::-1])


def reward_to_go_with_a_matrix(rewards, gamma):
    """G = M r with M[t, k] = gamma^(k - t) for k >= t."""
    n = len(rewards)
    steps = torch.arange(n)
    power = (steps[None, :] - steps[:, None]).clamp(min=0).double()
    matrix = torch.where(steps[None, :] >= steps[:, None], gamma**power, 0.0)
    return (matrix @ rewards.double()).float()


def reward_to_go_with_flip_and_cumsum(rewards, gamma):
    """Cumulative sums of discounted rewards, flipped (fine for gamma > 0)."""
    if gamma == 0:
        return rewards.clone()
    discounts = gamma ** torch.arange(len(rewards), dtype=torch.float64)
    tail = torch.flip(torch.cumsum(torch.flip(rewards * discounts, [0]), 0), [0])
    return (tail / discounts).float()


def loss_with_with_no_grad(log_probs, returns, baseline=None):
    with torch.no_grad():
        weights = returns - (0.0 if baseline is None else baseline)
    return -torch.mean(log_probs * weights)


def loss_as_dot_product(log_probs, returns, baseline=None):
    if baseline is not None:
        returns = returns - baseline
    return -(log_probs @ returns.detach()) / log_probs.numel()


def entropy_with_categorical(logits):
    return torch.distributions.Categorical(logits=logits).entropy().mean()


def entropy_with_logsumexp(logits):
    probs = torch.softmax(logits, -1)
    return (torch.logsumexp(logits, -1) - (probs * logits).sum(-1)).mean()


def _wrapped(function):
    """The package's own code, as a student's re-typed copy would be (another object)."""
    return lambda *args, **kwargs: function(*args, **kwargs)


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_log_prob_of_actions, _wrapped(reinforce.log_prob_of_actions)),
        (check_log_prob_of_actions, log_prob_with_categorical),
        (check_log_prob_of_actions, log_prob_with_one_hot),
        (check_log_prob_of_actions, log_prob_with_indexing),
        (check_reward_to_go, _wrapped(reinforce.reward_to_go)),
        (check_reward_to_go, reward_to_go_with_python_floats),
        (check_reward_to_go, reward_to_go_with_a_matrix),
        (check_reward_to_go, reward_to_go_with_flip_and_cumsum),
        (check_policy_gradient_loss, _wrapped(reinforce.policy_gradient_loss)),
        (check_policy_gradient_loss, loss_with_with_no_grad),
        (check_policy_gradient_loss, loss_as_dot_product),
        (check_entropy, _wrapped(reinforce.entropy)),
        (check_entropy, entropy_with_categorical),
        (check_entropy, entropy_with_logsumexp),
    ],
)
def test_reinforce_checks_pass_correct_code_in_other_styles(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


@pytest.mark.parametrize(
    ("check", "reference"),
    [
        (check_log_prob_of_actions, reinforce.log_prob_of_actions),
        (check_reward_to_go, reinforce.reward_to_go),
        (check_policy_gradient_loss, reinforce.policy_gradient_loss),
        (check_entropy, reinforce.entropy),
    ],
)
def test_reinforce_checks_on_the_package_itself_or_unfilled_code(capsys, check, reference):
    assert check(reference) is reference  # a re-run check cell: not a "passed"
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)

    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    assert check(unfilled) is reference
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


# --- typical mistakes ------------------------------------------------------------------------


def _reward_to_go_forwards(rewards, gamma):
    out, g = [], 0.0
    for r in rewards.tolist():
        g = r + gamma * g
        out.append(g)
    return torch.tensor(out)


def _total_return_everywhere(rewards, gamma):
    total = reinforce.reward_to_go(rewards, gamma)[0]
    return total.expand_as(rewards).clone()


def _discounted_from_the_start(rewards, gamma):
    """gamma^k with k counted from the episode's start, not from step t."""
    discounted = rewards * gamma ** torch.arange(len(rewards), dtype=torch.float32)
    return torch.flip(torch.cumsum(torch.flip(discounted, [0]), 0), [0])


def _own_reward_discounted(rewards, gamma):
    out, g = [], 0.0
    for r in reversed(rewards.tolist()):
        g = gamma * (r + g)
        out.append(g)
    return torch.tensor(out[::-1])


def _taken(logits, actions):
    return torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def _weights(returns, baseline):
    return returns if baseline is None else returns - baseline


def _entropy_per_policy(logits):
    return -(torch.softmax(logits, -1) * torch.log_softmax(logits, -1)).sum(-1)


MISTAKES = [
    # (check, mistaken answer, the words of the rule that must point at it)
    (
        check_log_prob_of_actions,
        lambda logits, actions: torch.log_softmax(logits, -1),
        "one log-probability per step",
    ),
    (
        check_log_prob_of_actions,
        lambda logits, actions: torch.softmax(logits, -1).gather(1, actions[:, None])[:, 0],
        "a log-probability, not a probability",
    ),
    (
        check_log_prob_of_actions,
        lambda logits, actions: (
            torch.log(torch.softmax(logits, -1)).gather(1, actions[:, None]).squeeze(1)
        ),
        "not minus infinity",
    ),
    (
        check_log_prob_of_actions,
        lambda logits, actions: torch.log_softmax(logits, -1)[actions, torch.arange(len(actions))],
        "row i of the logits alone",
    ),
    (
        check_log_prob_of_actions,
        lambda logits, actions: torch.log_softmax(logits, 0).gather(1, actions[:, None])[:, 0],
        "row i of the logits alone",
    ),
    (
        check_log_prob_of_actions,
        lambda logits, actions: _taken(logits.detach(), actions),
        "reaches the logits",
    ),
    (check_reward_to_go, _reward_to_go_forwards, "not the rewards before it"),
    (check_reward_to_go, _total_return_everywhere, "not the whole episode's return"),
    (check_reward_to_go, _discounted_from_the_start, "once per step it lies after t"),
    (check_reward_to_go, _own_reward_discounted, "once per step it lies after t"),
    (
        check_policy_gradient_loss,
        lambda lp, g, b=None: (lp * _weights(g, b).detach()).mean(),
        "minus the mean",
    ),
    (
        check_policy_gradient_loss,
        lambda lp, g, b=None: -(lp * _weights(g, b).detach()).sum(),
        "the mean, not the sum",
    ),
    (
        check_policy_gradient_loss,
        lambda lp, g, b=None: -(lp * (g if b is None else g + b)).mean(),
        "subtracted",
    ),
    (
        check_policy_gradient_loss,
        lambda lp, g, b=None: -(lp * _weights(g, b)).mean(),
        "no gradient of this loss flows",
    ),
    (
        check_policy_gradient_loss,
        lambda lp, g, b: -(lp * _weights(g, b).detach()).mean(),
        "the baseline is optional",
    ),
    (
        check_policy_gradient_loss,
        lambda lp, g, b=None: -(lp.detach() * _weights(g, b)).mean(),
        "no gradient of this loss",
    ),
    (check_entropy, lambda logits: -_entropy_per_policy(logits).mean(), "a positive number"),
    (check_entropy, lambda logits: _entropy_per_policy(logits).sum(), "the mean over the steps"),
    (
        check_entropy,
        lambda logits: (
            -(torch.softmax(logits, -1) * torch.log(torch.softmax(logits, -1))).sum(-1).mean()
        ),
        "not nan",
    ),
    (
        check_entropy,
        lambda logits: -(torch.softmax(logits, -1) ** 2).sum(-1).mean(),
        "a positive number",
    ),
    (
        check_entropy,
        lambda logits: _entropy_per_policy(logits.detach()).mean().requires_grad_(),
        "gradient reaches the logits",
    ),
]


@pytest.mark.parametrize(("check", "mistake", "rule_words"), MISTAKES)
def test_reinforce_checks_catch_the_typical_mistakes(capsys, check, mistake, rule_words):
    reference = {
        check_log_prob_of_actions: reinforce.log_prob_of_actions,
        check_reward_to_go: reinforce.reward_to_go,
        check_policy_gradient_loss: reinforce.policy_gradient_loss,
        check_entropy: reinforce.entropy,
    }[check]
    assert check(mistake) is reference
    printed = capsys.readouterr().out
    assert printed.startswith(WRONG), printed
    assert rule_words in " ".join(printed.split()), printed
    assert_no_answer_code(printed, reference)
    # A second wrong try adds a pointer (and still no code).
    check(mistake)
    again = capsys.readouterr().out
    assert "Look at:" in again
    assert_no_answer_code(again, reference)
