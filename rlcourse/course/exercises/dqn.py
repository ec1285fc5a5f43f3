"""Checks for lesson 03 (DQN): the epsilon schedule, epsilon-greedy, the TD target."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlcourse.agents import dqn
from rlcourse.exercises.core import Case, check_exercise
from rlcourse.training import linear_schedule


def _reference_schedule(step: int, start: float = 1.0, end: float = 0.05,
                        decay_steps: int = 10_000) -> float:  # fmt: skip
    return linear_schedule(start, end, decay_steps, step)


def check_epsilon_schedule(student_function: Any) -> Any:
    """Check ``epsilon_schedule(step, start, end, decay_steps) -> float``."""
    cases = [
        Case("step 0 is the start", lambda f: f(0, 1.0, 0.05, 10_000)),
        Case("half-way", lambda f: f(5_000, 1.0, 0.05, 10_000)),
        Case("the end of the decay", lambda f: f(10_000, 1.0, 0.05, 10_000)),
        Case("long after the decay it stays at the end", lambda f: f(123_456, 1.0, 0.05, 10_000)),
        Case("another range", lambda f: [f(t, 0.5, 0.1, 100) for t in (0, 25, 99, 100)]),
    ]
    return check_exercise(
        "epsilon_schedule",
        student_function,
        _reference_schedule,
        cases,
        hint="start + (end - start) * step / decay_steps while step < decay_steps, then end "
        "(min(step / decay_steps, 1.0) does both).",
    )


def _frequencies(policy: Any, q_values: list[float], epsilon: float, draws: int = 4000) -> Any:
    rng = np.random.default_rng(0)
    actions = [policy(np.array(q_values), epsilon, rng) for _ in range(draws)]
    if not all(isinstance(a, (int, np.integer)) for a in actions):
        return f"actions of type {type(actions[0]).__name__}, expected int"
    counts = np.bincount(np.asarray(actions, dtype=np.int64), minlength=len(q_values))
    # Rounded to 0.1: the two policies draw different random numbers, frequencies agree.
    return np.round(counts / draws, 1)


def check_epsilon_greedy(student_function: Any) -> Any:
    """Check ``epsilon_greedy(q_values, epsilon, rng) -> int`` by its action frequencies."""
    cases = [
        Case("epsilon = 0 is greedy", lambda f: _frequencies(f, [0.0, 2.0, 1.0], 0.0)),
        Case("epsilon = 1 is uniform", lambda f: _frequencies(f, [0.0, 2.0, 1.0, 5.0], 1.0)),
        Case(
            "epsilon = 0.3: 70% greedy + 30% uniform over 3 actions",
            lambda f: _frequencies(f, [0.0, 2.0, 1.0], 0.3),
        ),
        Case("negative Q-values", lambda f: _frequencies(f, [-3.0, -1.0, -2.0], 0.0)),
    ]
    return check_exercise(
        "epsilon_greedy",
        student_function,
        dqn.epsilon_greedy,
        cases,
        hint="if rng.random() < epsilon: return int(rng.integers(len(q_values))); "
        "else return int(np.argmax(q_values)). Random actions include the greedy one.",
    )


def _reference_td_target(rewards: Any, next_q_values: Any, terminated: Any, truncated: Any,
                         gamma: float) -> Any:  # fmt: skip
    return dqn.td_target(rewards, next_q_values, terminated, gamma)


def check_td_target(student_function: Any) -> Any:
    """Check ``td_target(rewards, next_q_values, terminated, truncated, gamma) -> Tensor``."""
    rewards = torch.tensor([1.0, 0.0, -1.0, 2.0])
    next_q = torch.tensor([[0.5, 1.5], [2.0, -1.0], [0.0, 0.0], [3.0, 4.0]])
    none = torch.zeros(4, dtype=torch.bool)
    cases = [
        Case("no episode ended", lambda f: f(rewards, next_q, none, none, 0.99)),
        Case(
            "episodes terminated: no bootstrap",
            lambda f: f(rewards, next_q, torch.tensor([True, False, True, False]), none, 0.9),
        ),
        Case(
            "a truncated episode still bootstraps",
            lambda f: f(rewards, next_q, none, torch.tensor([False, True, False, True]), 0.9),
        ),
        Case("gamma = 0", lambda f: f(rewards, next_q, none, none, 0.0)),
    ]
    return check_exercise(
        "td_target",
        student_function,
        _reference_td_target,
        cases,
        hint="rewards + gamma * (1 - terminated.float()) * next_q_values.max(dim=1).values; "
        "`truncated` must not cut the bootstrap (a time limit is not the end of the world).",
    )
