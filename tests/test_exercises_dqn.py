import numpy as np
import pytest
import torch

from rlcourse.agents.dqn import epsilon_greedy, td_target
from rlcourse.exercises.core import PASSED, WRONG
from rlcourse.exercises.dqn import check_epsilon_greedy, check_epsilon_schedule, check_td_target
from rlcourse.training import linear_schedule


def test_references_pass(capsys):
    def schedule(step, start, end, decay_steps):
        return linear_schedule(start, end, decay_steps, step)

    def target(rewards, next_q, terminated, truncated, gamma):
        return td_target(rewards, next_q, terminated, gamma)

    assert check_epsilon_schedule(schedule) is schedule
    assert check_epsilon_greedy(epsilon_greedy) is epsilon_greedy
    assert check_td_target(target) is target
    assert capsys.readouterr().out.count(PASSED) == 3


def _greedy_only(q_values, epsilon, rng):
    return int(np.argmax(q_values))


def _explores_among_others_only(q_values, epsilon, rng):
    best = int(np.argmax(q_values))
    if rng.random() < epsilon:
        return int(rng.choice([a for a in range(len(q_values)) if a != best]))
    return best


def _returns_numpy_array(q_values, epsilon, rng):
    return np.argmax(q_values, keepdims=True)


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_epsilon_schedule, lambda s, a, b, d: a + (b - a) * s / d, "long after the decay"),
        (check_epsilon_schedule, lambda s, a, b, d: max(b, a - s / d), "half-way"),
        (check_epsilon_greedy, _greedy_only, "epsilon = 1 is uniform"),
        (check_epsilon_greedy, _explores_among_others_only, "epsilon = 1 is uniform"),
        (check_epsilon_greedy, _returns_numpy_array, "epsilon = 0 is greedy"),
        (
            check_td_target,
            lambda r, q, te, tr, g: td_target(r, q, te | tr, g),
            "a truncated episode still bootstraps",
        ),
        (
            check_td_target,
            lambda r, q, te, tr, g: r + g * q.max(dim=1).values,
            "episodes terminated: no bootstrap",
        ),
        (
            check_td_target,
            lambda r, q, te, tr, g: r + g * (1 - te.float()) * q.mean(dim=1),
            "no episode ended",
        ),
    ],
)
def test_checks_catch_typical_mistakes(capsys, check, buggy, case):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and f"case '{case}" in out


def test_td_target_reference_dtype():
    out = td_target(torch.ones(2), torch.zeros(2, 3), torch.tensor([True, False]), 0.9)
    assert out.dtype == torch.float32
