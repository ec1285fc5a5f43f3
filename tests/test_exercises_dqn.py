"""Lesson 03's checks: the package's own functions pass, so do correct answers in other
styles; the typical mistakes are caught, naming the case that shows them."""

import numpy as np
import pytest
import torch

from rlcourse.agents.dqn import epsilon_greedy, linear_schedule, td_target
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.dqn import (
    check_epsilon_greedy,
    check_linear_schedule,
    check_td_target,
)


def _schedule_interp(start, end, duration, step):
    return float(np.interp(step, [0, duration], [start, end]))


def _schedule_branches(start, end, duration, step):
    if step >= duration:
        return end
    return start - (start - end) * step / duration


def _greedy_with_choice(q_values, epsilon, rng):
    if rng.uniform() < epsilon:
        return int(rng.choice(len(q_values)))
    return int(q_values.argmax())


def _target_with_where(rewards, next_q_values, terminated, truncated, gamma):
    bootstrap = gamma * next_q_values.amax(dim=1)
    return rewards + torch.where(terminated, torch.zeros_like(bootstrap), bootstrap)


def _target_with_logical_not(rewards, next_q_values, terminated, truncated, gamma):
    return rewards + gamma * next_q_values.max(1)[0] * (~terminated)


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_linear_schedule, linear_schedule),
        (check_linear_schedule, _schedule_interp),
        (check_linear_schedule, _schedule_branches),
        (check_epsilon_greedy, epsilon_greedy),
        (check_epsilon_greedy, _greedy_with_choice),
        (check_td_target, td_target),
        (check_td_target, _target_with_where),
        (check_td_target, _target_with_logical_not),
    ],
)
def test_correct_code_passes(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


def _schedule_step_first(step, start, end, duration):
    """The lesson's former ``epsilon_schedule(step, start, end, decay_steps)`` order."""
    return linear_schedule(start, end, duration, step)


def _greedy_only(q_values, epsilon, rng):
    return int(np.argmax(q_values))


def _explores_among_others_only(q_values, epsilon, rng):
    best = int(np.argmax(q_values))
    if rng.random() < epsilon:
        return int(rng.choice([a for a in range(len(q_values)) if a != best]))
    return best


def _returns_numpy_array(q_values, epsilon, rng):
    return np.argmax(q_values, keepdims=True)


def _masks_truncated_too(rewards, next_q_values, terminated, truncated, gamma):
    done = terminated | truncated  # old Gym's `done`
    return rewards + gamma * (1.0 - done.float()) * next_q_values.max(dim=1).values


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_linear_schedule, lambda a, b, d, s: a + (b - a) * s / d, "long after the decay"),
        (check_linear_schedule, lambda a, b, d, s: max(b, a - s / d), "half-way"),
        (check_linear_schedule, lambda a, b, d, s: max(b, a + (b - a) * s / d), "a rising"),
        (check_linear_schedule, _schedule_step_first, "step 0 is the start"),
        (check_epsilon_greedy, _greedy_only, "epsilon = 1 is uniform"),
        (check_epsilon_greedy, _explores_among_others_only, "epsilon = 1 is uniform"),
        (check_epsilon_greedy, _returns_numpy_array, "epsilon = 0 is greedy"),
        (check_td_target, _masks_truncated_too, "a truncated episode still bootstraps"),
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
        (
            check_td_target,
            lambda r, q, te, tr, g: r + g * (1 - te.float()) * q.max(dim=1).values.sum(),
            "no episode ended",
        ),
    ],
)
def test_checks_catch_typical_mistakes(capsys, check, buggy, case):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and f"case '{case}" in out and "Hint:" in out


def test_the_truncation_mistake_is_explained(capsys):
    check_td_target(_masks_truncated_too)
    out = capsys.readouterr().out
    assert "`truncated` must not cut the bootstrap" in out


def test_unfilled_exercises_are_not_attempted_and_fall_back_to_the_package(capsys):
    def unfilled(*args):
        raise NotImplementedError()

    assert check_linear_schedule(unfilled) is linear_schedule
    assert check_epsilon_greedy(unfilled) is epsilon_greedy
    assert check_td_target(unfilled) is td_target
    assert capsys.readouterr().out.count(NOT_ATTEMPTED) == 3
