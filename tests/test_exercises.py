import cv2
import gymnasium as gym
import numpy as np
import pytest

from rlcourse import wrappers
from rlcourse.exercises import (
    Case,
    check_exercise,
    check_frame_stack,
    check_max_and_skip,
    check_process_frame,
    describe_difference,
)
from rlcourse.exercises.core import NOT_ATTEMPTED, PASSED, WRONG


def reference(x):
    return 2 * x


CASES = [
    Case("a positive number", lambda f: f(3)),
    Case("zero", lambda f: f(0)),
    Case("an array", lambda f: f(np.arange(3.0))),
]


def test_passed_returns_the_students_code(capsys):
    def student(x):
        return x + x

    assert check_exercise("doubling", student, reference, CASES, hint="x + x") is student
    out = capsys.readouterr().out
    assert out.startswith(PASSED) and "doubling" in out and "3 cases" in out


def test_not_attempted_returns_the_reference(capsys):
    def student(x):
        # YOUR CODE HERE
        raise NotImplementedError()

    assert check_exercise("doubling", student, reference, CASES, hint="x + x") is reference
    out = capsys.readouterr().out
    assert out.startswith(NOT_ATTEMPTED) and "# YOUR CODE HERE" in out and "reference" in out


def test_wrong_names_the_case_expected_got_and_hint(capsys):
    def student(x):
        return x + 1 if np.ndim(x) == 0 else 2 * x

    assert check_exercise("doubling", student, reference, CASES, hint="x + x") is reference
    out = capsys.readouterr().out
    assert out.startswith(WRONG)
    assert "case 'a positive number'" in out
    assert "expected: 6" in out and "got:      4" in out
    assert "Hint: x + x" in out and "reference" in out


def test_a_crash_is_reported_as_wrong_with_the_error_line(capsys):
    def student(x):
        return x / undefined_name  # noqa: F821

    assert check_exercise("doubling", student, reference, CASES, hint="x + x") is reference
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "NameError" in out and "undefined_name" in out


def test_describe_difference():
    assert describe_difference(np.zeros((2, 2)), np.zeros((2, 2))) is None
    assert describe_difference(1.0, 1.0 + 1e-9) is None
    assert "shape (2, 3), expected (2, 2)" in describe_difference(
        np.zeros((2, 2)), np.zeros((2, 3))
    )
    assert describe_difference([1, 2], [1]).startswith("expected 2 items")
    assert describe_difference({"a": 1}, {"a": 2}) == "at ['a']: expected 1, got 2"
    assert describe_difference(True, 1) == "expected True, got 1"
    assert describe_difference(np.array([1, 2], np.uint8), np.array([1, 3])) == (
        "1 of 2 values differ, first at (1,): expected 2, got 3"
    )


# --- lesson 01 checks accept the reference and catch typical mistakes -------------------


class MaxAndSkipNoStop(gym.Wrapper):
    """Forgets to stop when the episode ends."""

    def __init__(self, env, skip=4):
        super().__init__(env)
        self.skip = skip

    def step(self, action):
        total, frames = 0.0, []
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += reward
            frames.append(obs)
        return np.max(np.stack(frames[-2:]), axis=0), total, terminated, truncated, info


class MaxAndSkipLastFrameOnly(MaxAndSkipNoStop):
    """No max-pooling."""

    def step(self, action):
        total = 0.0
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += reward
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class FrameStackNoCopy(wrappers.FrameStack):
    def step(self, action):
        obs, *rest = super().step(action)
        return self._frames, *rest


def test_lesson01_checks_pass_the_reference(capsys):
    assert check_max_and_skip(wrappers.MaxAndSkip) is wrappers.MaxAndSkip
    assert check_process_frame(wrappers.process_frame84) is wrappers.process_frame84
    assert check_frame_stack(wrappers.FrameStack) is wrappers.FrameStack
    assert capsys.readouterr().out.count(PASSED) == 3


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_max_and_skip, MaxAndSkipNoStop, "episode ends in the middle of a repeat"),
        (check_max_and_skip, MaxAndSkipLastFrameOnly, "skip=4, three steps"),
        (check_process_frame, lambda f: cv2.resize(f[..., 0], (84, 84)), "a horizontal gradient"),
        (
            check_process_frame,
            lambda f: cv2.resize(
                cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (84, 84), interpolation=cv2.INTER_AREA
            ),
            "random RGB frame",
        ),
        (check_frame_stack, FrameStackNoCopy, "k=4, reset then five steps"),
    ],
)
def test_lesson01_checks_catch_typical_mistakes(capsys, check, buggy, case):
    result = check(buggy)
    out = capsys.readouterr().out
    assert result is not buggy
    assert out.startswith(WRONG) and f"case '{case}" in out
