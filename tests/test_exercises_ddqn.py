import warnings

import numpy as np
import pytest
import torch

from rlcourse.agents.dqn import td_target, update_target_network
from rlcourse.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.exercises.ddqn import (
    check_double_dqn_target,
    check_moving_average,
    check_update_target,
)


def _student_double(rewards, next_q_online, next_q_target, terminated, gamma):
    best = next_q_online.argmax(dim=1, keepdim=True)
    value = next_q_target.gather(1, best).squeeze(1)
    return rewards + gamma * (1 - terminated.float()) * value


def _student_update(target, online, tau):
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.copy_(tau * o + (1 - tau) * t)


def _student_average(values, window):
    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        return np.array([np.nanmean(values[max(0, i - window + 1) : i + 1])
                         for i in range(len(values))])  # fmt: skip


def test_student_style_solutions_pass(capsys):
    assert check_double_dqn_target(_student_double) is _student_double
    assert check_update_target(_student_update) is _student_update
    assert check_update_target(update_target_network) is update_target_network
    assert check_moving_average(_student_average) is _student_average
    assert capsys.readouterr().out.count(PASSED) == 4


def _dqn_target(rewards, next_q_online, next_q_target, terminated, gamma):
    return td_target(rewards, next_q_target, terminated, gamma)


def _online_rates_too(rewards, next_q_online, next_q_target, terminated, gamma):
    return td_target(rewards, next_q_online, terminated, gamma)


def _swapped_tau(target, online, tau):
    _student_update(target, online, 1 - tau)


def _moves_online(target, online, tau):
    _student_update(online, target, tau)


def _plain_mean(values, window):
    values = np.asarray(values, dtype=float)
    return np.array([values[max(0, i - window + 1) : i + 1].mean() for i in range(len(values))])


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_double_dqn_target, _dqn_target, "the online net picks a'"),
        (check_double_dqn_target, _online_rates_too, "the online net picks a'"),
        (check_update_target, _swapped_tau, "hard update"),
        (check_update_target, _moves_online, "hard update"),
        (check_moving_average, _plain_mean, "NaN"),
        (check_moving_average, lambda v, w: np.convolve(v, np.ones(w) / w, "valid"), "window 2"),
    ],
)
def test_bugs_are_caught_with_the_case_that_shows_them(check, buggy, case, capsys):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    assert WRONG in out and case in out and "Hint:" in out


def test_unfilled_exercise_is_not_attempted(capsys):
    def unfilled(*args):
        raise NotImplementedError()

    for check in (check_double_dqn_target, check_update_target, check_moving_average):
        check(unfilled)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED) == 3
