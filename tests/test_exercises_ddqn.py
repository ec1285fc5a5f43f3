"""Lesson 05's checks: the package's own functions pass, so do correct answers in other
styles; the typical mistakes are caught, naming the case that shows them."""

import math
import warnings

import numpy as np
import pytest
import torch

from rlcourse.agents.dqn import double_dqn_target, td_target, update_target_network
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.ddqn import (
    check_double_dqn_target,
    check_moving_average,
    check_update_target_network,
)
from rlcourse.metrics import moving_average


def _student_double(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    best = next_q_online.argmax(dim=1, keepdim=True)
    value = next_q_target.gather(1, best).squeeze(1)
    return rewards + gamma * (1 - terminated.float()) * value


def _double_by_indexing(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    rows = torch.arange(len(rewards))
    value = next_q_target[rows, next_q_online.argmax(1)]
    return torch.where(terminated, rewards, rewards + gamma * value)


def _student_update(target, online, tau):
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.copy_(tau * o + (1 - tau) * t)


def _update_via_state_dict(target, online, tau):
    online_state = online.state_dict()
    target.load_state_dict(
        {k: (1 - tau) * v + tau * online_state[k] for k, v in target.state_dict().items()}
    )


def _student_average(values, window=100):
    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        return np.array([np.nanmean(values[max(0, i - window + 1) : i + 1])
                         for i in range(len(values))])  # fmt: skip


def _list_average(values, window=100):
    averages = []  # a list of floats, not an array: fine too
    for i in range(len(values)):
        recent = [v for v in values[max(0, i - window + 1) : i + 1] if not math.isnan(v)]
        averages.append(sum(recent) / len(recent) if recent else math.nan)
    return averages


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_double_dqn_target, double_dqn_target),
        (check_double_dqn_target, _student_double),
        (check_double_dqn_target, _double_by_indexing),
        (check_update_target_network, update_target_network),
        (check_update_target_network, _student_update),
        (check_update_target_network, _update_via_state_dict),
        (check_moving_average, moving_average),
        (check_moving_average, _student_average),
        (check_moving_average, _list_average),
    ],
)
def test_correct_code_passes(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


def _dqn_target(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    return td_target(rewards, next_q_target, terminated, truncated, gamma)


def _online_rates_too(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    return td_target(rewards, next_q_online, terminated, truncated, gamma)


def _masks_truncated_too(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    return _student_double(rewards, next_q_online, next_q_target, terminated | truncated,
                           truncated, gamma)  # fmt: skip


def _double_without_truncated(rewards, next_q_online, next_q_target, terminated, gamma):
    """The lesson's former signature, without ``truncated``."""
    return _student_double(rewards, next_q_online, next_q_target, terminated, None, gamma)


def _swapped_tau(target, online, tau):
    _student_update(target, online, 1 - tau)


def _moves_online(target, online, tau):
    _student_update(online, target, tau)


def _plain_mean(values, window=100):
    values = np.asarray(values, dtype=float)
    return np.array([values[max(0, i - window + 1) : i + 1].mean() for i in range(len(values))])


def _no_default_window(values, window):
    return _student_average(values, window)


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_double_dqn_target, _dqn_target, "the online net picks a'"),
        (check_double_dqn_target, _online_rates_too, "the online net picks a'"),
        (check_double_dqn_target, _masks_truncated_too, "a truncated transition still"),
        (check_double_dqn_target, _double_without_truncated, "the online net picks a'"),
        (check_update_target_network, _swapped_tau, "hard update"),
        (check_update_target_network, _moves_online, "hard update"),
        (check_moving_average, _plain_mean, "NaN"),
        (check_moving_average, lambda v, w=100: np.convolve(v, np.ones(w) / w, "valid"),
         "window 2"),
        (check_moving_average, _no_default_window, "the default window"),
    ],
)
def test_bugs_are_caught_with_the_case_that_shows_them(check, buggy, case, capsys):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and case in out and "Hint:" in out


def test_the_old_signature_is_reported_as_an_error(capsys):
    check_double_dqn_target(_double_without_truncated)
    assert "TypeError" in capsys.readouterr().out


def test_unfilled_exercises_are_not_attempted_and_fall_back_to_the_package(capsys):
    def unfilled(*args):
        raise NotImplementedError()

    assert check_double_dqn_target(unfilled) is double_dqn_target
    assert check_update_target_network(unfilled) is update_target_network
    assert check_moving_average(unfilled) is moving_average
    assert capsys.readouterr().out.count(NOT_ATTEMPTED) == 3
