"""Checks for lesson 03 (DQN): the epsilon schedule, epsilon-greedy, the TD target.

The references are the package's own functions (:mod:`rlcourse.agents.dqn`), called as the
student's: same name, same signature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlcourse.agents.dqn import epsilon_greedy, linear_schedule, td_target
from rlcourse.course.exercises.core import Case, check_exercise


def check_linear_schedule(student_function: Any) -> Any:
    """Check ``linear_schedule(start, end, duration, step) -> float``."""
    cases = [
        Case("step 0 is the start", lambda f: f(1.0, 0.05, 10_000, 0)),
        Case("half-way", lambda f: f(1.0, 0.05, 10_000, 5_000)),
        Case("the end of the decay", lambda f: f(1.0, 0.05, 10_000, 10_000)),
        Case("long after the decay it stays at the end", lambda f: f(1.0, 0.05, 10_000, 123_456)),
        Case("another range", lambda f: [f(0.5, 0.1, 100, t) for t in (0, 25, 99, 100)]),
        Case("a rising schedule (end > start)", lambda f: [f(0.0, 1.0, 10, t) for t in (0, 3, 20)]),
    ]
    return check_exercise(
        "linear_schedule",
        student_function,
        linear_schedule,
        cases,
        hint="start + (end - start) * step / duration while step < duration, then end "
        "(min(step / duration, 1.0) does both). Mind the order: (start, end, duration, step).",
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
        epsilon_greedy,
        cases,
        hint="if rng.random() < epsilon: return int(rng.integers(len(q_values))); "
        "else return int(np.argmax(q_values)). Random actions include the greedy one.",
    )


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
        Case(
            "terminated and truncated transitions in one batch",
            lambda f: f(rewards, next_q, torch.tensor([True, True, False, False]),
                        torch.tensor([False, True, True, False]), 0.5),
        ),  # fmt: skip
        Case("gamma = 0", lambda f: f(rewards, next_q, none, none, 0.0)),
    ]
    return check_exercise(
        "td_target",
        student_function,
        td_target,
        cases,
        hint="rewards + gamma * (1 - terminated.float()) * next_q_values.max(dim=1).values; "
        "`truncated` must not cut the bootstrap (a time limit is not the end of the world).",
    )
