"""Checks for lesson 06 (recurrent A2C): the forward step and the pieces of the loss.

Each ``check_*`` runs the student's code and the reference in :mod:`rlcourse.agents.a2c`
(:mod:`rlcourse.networks` for the forward step) on small cases. Besides the values, the
cases compare which tensors gradients reach: a missing ``.detach()`` is the classic A2C bug.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from rlcourse.agents.a2c import advantages, entropy, n_step_returns, policy_loss, value_loss
from rlcourse.course.exercises.core import Case, check_exercise
from rlcourse.networks import RecurrentActorCritic


def _cases_tensor(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- the forward step --------------------------------------------------------------------


def _forward(agent_class: Any, obs_shape: tuple[int, int, int], n_steps: int, seed: int) -> Any:
    torch.manual_seed(seed)
    reference = RecurrentActorCritic(obs_shape, n_actions=5, hidden_size=16)
    agent = agent_class(obs_shape, n_actions=5, hidden_size=16)
    agent.load_state_dict(reference.state_dict())
    generator = torch.Generator().manual_seed(seed)
    memory = (
        torch.randn(3, 16, generator=generator) * 0.5,
        torch.randn(3, 16, generator=generator) * 0.5,
    )
    outputs = []
    with torch.no_grad():
        for _ in range(n_steps):
            obs = torch.randint(0, 256, (3, *obs_shape), generator=generator, dtype=torch.uint8)
            memory, logits, value = agent(obs, memory)
            outputs.append((memory[0], memory[1], logits, value))
    return outputs


def check_forward_step(student_class: Any) -> Any:
    """Check a ``RecurrentActorCritic`` class's ``forward(observation, memory)``.

    The class must build the same layers as :class:`rlcourse.networks.RecurrentActorCritic`
    (``conv0``, ``conv1``, ``conv2``, ``dense``, ``lstm``, ``logits``, ``value``) and take
    ``(obs_shape, n_actions, hidden_size)``: the check loads the same weights into both.
    """
    cases = [
        Case(
            "one step from a given memory, 42x42 frames", lambda c: _forward(c, (1, 42, 42), 1, 0)
        ),
        Case("three steps, the memory carried along", lambda c: _forward(c, (1, 42, 42), 3, 1)),
        Case("two stacked frames per observation", lambda c: _forward(c, (2, 42, 42), 2, 2)),
    ]
    return check_exercise(
        "RecurrentActorCritic.forward",
        student_class,
        RecurrentActorCritic,
        cases,
        hint="scale uint8 frames to [0, 1] (x / 255); conv0 -> relu -> conv1 -> relu -> conv2 "
        "-> relu -> flatten -> dense -> relu -> (h, c) = lstm(x, memory); logits and value "
        "from h; value.squeeze(-1) so it is [batch]. Return ((h, c), logits, value).",
    )


# --- n-step returns ----------------------------------------------------------------------


def _returns(fn: Callable[..., torch.Tensor], batch: int, time: int, ends: list, gamma: float):
    rewards = torch.arange(1, batch * time + 1, dtype=torch.float32).view(batch, time)
    alive = torch.ones(batch, time, dtype=torch.bool)
    for b, t in ends:
        alive[b, t] = False
    last_values = torch.linspace(10.0, 20.0, batch)
    return fn(rewards, alive, last_values, gamma)


def check_n_step_returns(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``n_step_returns(rewards, alive, last_values, gamma) -> returns [B, T]``."""
    cases = [
        Case("one game, no end: bootstrap from last_values", lambda f: _returns(f, 1, 4, [], 0.9)),
        Case("a game ends mid-rollout", lambda f: _returns(f, 1, 5, [(0, 2)], 0.5)),
        Case("a game ends on the last step", lambda f: _returns(f, 2, 3, [(1, 2)], 0.9)),
        Case("three games, gamma = 1", lambda f: _returns(f, 3, 4, [(0, 0), (2, 1)], 1.0)),
    ]
    return check_exercise(
        "n-step returns",
        student_fn,
        n_step_returns,
        cases,
        hint="go backwards in time from G = last_values: G = rewards[:, t] + gamma * "
        "alive[:, t] * G (alive as a float); store G in returns[:, t].",
    )


# --- advantage ---------------------------------------------------------------------------


def _advantage(fn: Callable[..., torch.Tensor], seed: int, shape: tuple[int, ...]) -> Any:
    returns = _cases_tensor(seed, *shape)
    values = _cases_tensor(seed + 1, *shape).requires_grad_()
    advantage = fn(returns, values)
    return advantage, advantage.requires_grad


def check_advantages(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``advantages(returns, values) -> A`` (values and detachment)."""
    cases = [
        Case("[batch, time] returns and values", lambda f: _advantage(f, 0, (2, 3))),
        Case("a single game", lambda f: _advantage(f, 2, (1, 5))),
    ]
    return check_exercise(
        "the advantage",
        student_fn,
        advantages,
        cases,
        hint="A = returns - values, then .detach(): the policy term must not train the critic "
        "(the second item compared is A.requires_grad, which must be False).",
    )


# --- value loss --------------------------------------------------------------------------


def _value_loss(fn: Callable[..., torch.Tensor], seed: int, shape: tuple[int, ...]) -> Any:
    values = _cases_tensor(seed, *shape).requires_grad_()
    returns = _cases_tensor(seed + 1, *shape).requires_grad_()
    loss = fn(values, returns)
    loss.backward()
    return loss, values.grad, returns.grad is None


def check_value_loss(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``value_loss(values, returns) -> scalar`` (value, gradient, detached target)."""
    cases = [
        Case("[batch, time] values and returns", lambda f: _value_loss(f, 0, (2, 3))),
        Case("one game, five steps", lambda f: _value_loss(f, 5, (1, 5))),
    ]
    return check_exercise(
        "the value loss",
        student_fn,
        value_loss,
        cases,
        hint="the mean (not the sum) of (returns.detach() - values) ** 2; the target is "
        "detached, so no gradient reaches `returns` (the third item compared).",
    )


# --- policy term -------------------------------------------------------------------------


def _policy(fn: Callable[..., torch.Tensor], seed: int, batch: int, time: int) -> Any:
    logits = _cases_tensor(seed, batch, time, 4).requires_grad_()
    generator = torch.Generator().manual_seed(seed)
    actions = torch.randint(0, 4, (batch, time), generator=generator)
    advantage = _cases_tensor(seed + 1, batch, time).requires_grad_()
    loss = fn(logits, actions, advantage)
    loss.backward()
    return loss, logits.grad, advantage.grad is None


def check_policy_loss(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``policy_loss(logits, actions, advantage) -> scalar`` (value and gradient)."""
    cases = [
        Case("two games, three steps, four actions", lambda f: _policy(f, 0, 2, 3)),
        Case("one game, six steps", lambda f: _policy(f, 3, 1, 6)),
    ]
    return check_exercise(
        "the policy term",
        student_fn,
        policy_loss,
        cases,
        hint="log_probs = log_softmax(logits, -1); pick the actions' log-probabilities with "
        "log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1); the loss is MINUS the mean "
        "of log_prob * advantage.detach() (we minimise it).",
    )


# --- entropy -----------------------------------------------------------------------------


def _entropy(fn: Callable[..., torch.Tensor], logits: torch.Tensor) -> Any:
    logits = logits.clone().requires_grad_()
    value = fn(logits)
    value.backward()
    return value, logits.grad


def check_entropy(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``entropy(logits) -> scalar``: the mean entropy of the policies, in nats."""
    cases = [
        Case("uniform policy over 4 actions (log 4)", lambda f: _entropy(f, torch.zeros(3, 4))),
        Case(
            "random [batch, time, actions] logits", lambda f: _entropy(f, _cases_tensor(0, 2, 3, 5))
        ),
        Case(
            "a nearly certain policy",
            lambda f: _entropy(f, torch.tensor([[200.0, 0.0, 0.0], [0.0, 1.0, 2.0]])),
        ),
    ]
    return check_exercise(
        "the entropy",
        student_fn,
        entropy,
        cases,
        hint="with log_probs = log_softmax(logits, -1) (stable even for large logits) and "
        "probs = log_probs.exp(): -(probs * log_probs).sum(-1), then .mean() over games "
        "and steps.",
    )
