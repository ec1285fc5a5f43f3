"""Lesson 08's checks: correct answers written in other styles pass; the typical mistakes
are caught, with the rule that points at them, and no check prints answer code."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from exercise_helpers import assert_no_answer_code

from rlcourse.agents import reinforce
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.reinforce import (
    check_entropy,
    check_log_prob_of_actions,
    check_train_on_episodes,
)

# --- correct answers in other styles ---------------------------------------------------------


def log_prob_with_categorical(logits, actions):
    return torch.distributions.Categorical(logits=logits).log_prob(actions)


def log_prob_with_one_hot(logits, actions):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return (log_probs * F.one_hot(actions, logits.shape[1])).sum(dim=1)


def log_prob_with_indexing(logits, actions):
    return F.log_softmax(logits, dim=-1)[torch.arange(len(actions)), actions]


def entropy_with_categorical(logits):
    return torch.distributions.Categorical(logits=logits).entropy().mean()


def entropy_with_logsumexp(logits):
    probs = torch.softmax(logits, -1)
    return (torch.logsumexp(logits, -1) - (probs * logits).sum(-1)).mean()


def make_update(bug=None):
    """A train_on_episodes written differently from the package's (episode by episode with
    Python floats, Categorical, F.mse_loss, grads set to None), with one typical mistake."""

    def update(network, optimizer, episodes, config):
        returns = []
        for episode in episodes:
            g, tail = 0.0, []
            for r in reversed(episode.rewards.tolist()):
                g = r + config.gamma * g
                tail.append(g)
            tail = tail[::-1]
            if bug == "whole return at every step" or not config.reward_to_go:
                tail = [tail[0]] * len(tail)
            returns += tail
        if bug == "returns run across episode ends":
            g, returns = 0.0, []
            rewards = np.concatenate([e.rewards for e in episodes]).tolist()
            for r in reversed(rewards):
                g = r + config.gamma * g
                returns.append(g)
            returns = returns[::-1]
        returns = torch.tensor(returns)
        obs = torch.as_tensor(np.concatenate([e.observations for e in episodes]))
        actions = torch.as_tensor(np.concatenate([e.actions for e in episodes]))
        logits = network(obs)
        dist = torch.distributions.Categorical(logits=logits)
        log_probs = dist.log_prob(actions)
        v_loss = torch.tensor(0.0)
        baseline = torch.zeros_like(returns)
        if config.baseline == "mean":
            if bug == "mean of each episode":
                parts, start = [], 0
                for episode in episodes:
                    n = len(episode.rewards)
                    parts.append(returns[start : start + n].mean().expand(n))
                    start += n
                baseline = torch.cat(parts)
            else:
                baseline = returns.mean().expand_as(returns)
        elif config.baseline == "value":
            values = network.value_of(obs)
            v_loss = F.mse_loss(values, returns)
            baseline = values if bug == "baseline not detached" else values.detach()
        weights = returns - baseline
        if config.normalize_returns and len(returns) > 1:
            if bug == "std of the returns":
                weights = weights / (returns.std() + 1e-8)
            else:
                weights = weights / (weights.detach().std() + 1e-8)
        if bug == "sum":
            p_loss = -(log_probs * weights).sum()
        elif bug == "sign":
            p_loss = (log_probs * weights).mean()
        else:
            p_loss = -(log_probs * weights).mean()
        h = dist.entropy().mean()
        sign = 1.0 if bug == "entropy sign" else -1.0
        loss = p_loss + v_loss + sign * config.entropy_coef * h
        if bug != "no zero_grad":
            for parameter in network.parameters():
                parameter.grad = None
        loss.backward()
        limit = config.max_grad_norm or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(list(network.policy.parameters()), limit)
        optimizer.step()
        return {
            "loss": loss.item(),
            "policy_loss": p_loss.item(),
            "value_loss": v_loss.item(),
            "entropy": h.item(),
            "grad_norm": float(norm),
        }

    return update


def update_with_package_pieces(network, optimizer, episodes, config):
    """The package's helpers (lesson 01's reward_to_go, log_prob_of_actions, entropy)."""
    parts = []
    for episode in episodes:
        g = reinforce.reward_to_go(torch.from_numpy(episode.rewards), config.gamma)
        parts.append(g if config.reward_to_go else torch.full_like(g, float(g[0])))
    returns = torch.cat(parts)
    obs, actions = reinforce.batch_tensors(episodes)
    logits = network(obs)
    value_loss = torch.zeros(())
    if config.baseline == "none":
        advantage = returns
    elif config.baseline == "mean":
        advantage = returns - returns.mean()
    else:
        values = network.value_of(obs)
        value_loss = ((values - returns) ** 2).mean()
        advantage = returns - values.detach()
    if config.normalize_returns and advantage.numel() > 1:
        advantage = advantage / (advantage.std() + 1e-8)
    policy_loss = -torch.mean(reinforce.log_prob_of_actions(logits, actions) * advantage)
    h = reinforce.entropy(logits)
    loss = policy_loss + value_loss - config.entropy_coef * h
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(
        network.policy.parameters(),
        float("inf") if config.max_grad_norm is None else config.max_grad_norm,
    )
    optimizer.step()
    return {
        "loss": loss.item(),
        "policy_loss": policy_loss.item(),
        "value_loss": value_loss.item(),
        "entropy": h.item(),
        "grad_norm": norm.item(),
    }


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
        (check_entropy, _wrapped(reinforce.entropy)),
        (check_entropy, entropy_with_categorical),
        (check_entropy, entropy_with_logsumexp),
        (check_train_on_episodes, _wrapped(reinforce.train_on_episodes)),
        (check_train_on_episodes, make_update()),
        (check_train_on_episodes, update_with_package_pieces),
    ],
)
def test_reinforce_checks_pass_correct_code_in_other_styles(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


@pytest.mark.parametrize(
    ("check", "reference"),
    [
        (check_log_prob_of_actions, reinforce.log_prob_of_actions),
        (check_entropy, reinforce.entropy),
        (check_train_on_episodes, reinforce.train_on_episodes),
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


def _taken(logits, actions):
    return torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)


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
    (
        check_log_prob_of_actions,
        lambda logits, actions: torch.log_softmax(logits, -1).gather(1, actions[:, None]).squeeze(),
        "not a bare number",
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
    (check_train_on_episodes, make_update("whole return at every step"), "its own return"),
    (check_train_on_episodes, make_update("returns run across episode ends"), "past its episode"),
    (check_train_on_episodes, make_update("sign"), "minus the mean"),
    (check_train_on_episodes, make_update("sum"), "the mean, not the sum"),
    (check_train_on_episodes, make_update("mean of each episode"), "not a mean per episode"),
    (check_train_on_episodes, make_update("baseline not detached"), "as a constant"),
    (check_train_on_episodes, make_update("std of the returns"), "not of G_t"),
    (check_train_on_episodes, make_update("entropy sign"), "raises the entropy"),
    (check_train_on_episodes, make_update("no zero_grad"), "old gradients are cleared"),
]


@pytest.mark.parametrize(("check", "mistake", "rule_words"), MISTAKES)
def test_reinforce_checks_catch_the_typical_mistakes(capsys, check, mistake, rule_words):
    reference = {
        check_log_prob_of_actions: reinforce.log_prob_of_actions,
        check_entropy: reinforce.entropy,
        check_train_on_episodes: reinforce.train_on_episodes,
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
