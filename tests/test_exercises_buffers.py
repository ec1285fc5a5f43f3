"""Lesson 02's checks accept correct code (the package's ReplayBuffer, the notebook's solution
and one in another style) and catch the typical mistakes, naming the case that shows them."""

import numpy as np
import pytest

from rlcourse.buffers import ReplayBuffer, ReplaySample
from rlcourse.course.exercises.buffers import (
    check_replay_add,
    check_replay_sample,
    check_stack_frames,
)
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG


class StudentBuffer:
    """The notebook's ReplayBuffer, solved."""

    def __init__(self, capacity, obs_shape, *, rng, obs_dtype=np.float32):
        self.capacity = capacity
        self.rng = rng
        self.obs = np.zeros((capacity, *obs_shape), obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), obs_dtype)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, bool)
        self.truncated = np.zeros(capacity, bool)
        self.cursor = 0
        self.size = 0

    def __len__(self):
        return self.size

    def add(self, obs, action, reward, next_obs, terminated, truncated):
        i = self.cursor
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i], self.truncated[i] = next_obs, terminated, truncated
        self.cursor = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size):
        idx = self.rng.integers(0, len(self), size=batch_size)
        return (self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                self.terminated[idx], self.truncated[idx])  # fmt: skip


class CountingBuffer:
    """Correct, in another style: counts every add, one dict of arrays, a ReplaySample out."""

    def __init__(self, capacity, obs_shape, *, rng, obs_dtype=np.float32):
        self.capacity, self.rng, self.added = capacity, rng, 0
        self.fields = {
            "obs": np.zeros((capacity, *obs_shape), obs_dtype),
            "actions": np.zeros(capacity, np.int64),
            "rewards": np.zeros(capacity, np.float32),
            "next_obs": np.zeros((capacity, *obs_shape), obs_dtype),
            "terminated": np.zeros(capacity, bool),
            "truncated": np.zeros(capacity, bool),
        }
        for name, array in self.fields.items():
            setattr(self, name, array)

    def __len__(self):
        return min(self.added, self.capacity)

    def add(self, obs, action, reward, next_obs, terminated, truncated):
        transition = (obs, action, reward, next_obs, terminated, truncated)
        for array, value in zip(self.fields.values(), transition, strict=True):
            array[self.added % self.capacity] = value
        self.added += 1

    def sample(self, batch_size):
        idx = self.rng.integers(len(self), size=batch_size)
        return ReplaySample(*(array[idx] for array in self.fields.values()))


class AddWithoutModulo(StudentBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated):
        super().add(obs, action, reward, next_obs, terminated, truncated)
        self.cursor = self.size  # runs off the end once full


class AddSizeUncapped(StudentBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated):
        size = self.size
        super().add(obs, action, reward, next_obs, terminated, truncated)
        self.size = size + 1


class AddForgetsTruncated(StudentBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated):
        super().add(obs, action, reward, next_obs, terminated, False)


class AddNotAttempted(StudentBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated):
        raise NotImplementedError()


class SampleWholeCapacity(StudentBuffer):
    def sample(self, batch_size):
        idx = self.rng.integers(0, self.capacity, size=batch_size)  # empty slots too
        return (self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                self.terminated[idx], self.truncated[idx])  # fmt: skip


class SampleIndicesPerField(StudentBuffer):
    def sample(self, batch_size):
        fields = (self.obs, self.actions, self.rewards, self.next_obs, self.terminated,
                  self.truncated)  # fmt: skip
        return tuple(f[self.rng.integers(0, len(self), size=batch_size)] for f in fields)


class SampleNeverTheNewest(StudentBuffer):
    def sample(self, batch_size):
        idx = self.rng.integers(0, len(self) - 1, size=batch_size)
        return (self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                self.terminated[idx], self.truncated[idx])  # fmt: skip


class SampleWithoutReplacement(StudentBuffer):
    """Correct too (just slower): the check must not insist on one way to draw."""

    def sample(self, batch_size):
        idx = self.rng.choice(len(self), size=batch_size, replace=False)
        return (self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                self.terminated[idx], self.truncated[idx])  # fmt: skip


def stack_frames_loop(frames, episode_start, i, k):
    start = i
    while start > i - k + 1 and not episode_start[start]:
        start -= 1
    return frames[[max(j, start) for j in range(i - k + 1, i + 1)]]


def stack_frames_no_padding(frames, episode_start, i, k):
    return frames[i - k + 1 : i + 1]


def stack_frames_first_start(frames, episode_start, i, k):
    window = np.arange(i - k + 1, i + 1)
    inside = np.flatnonzero(episode_start[np.maximum(window, 0)] & (window >= 0))
    start = window[inside[0]] if inside.size else window[0]  # the first start, not the last
    return frames[np.maximum(window, start)]


def stack_frames_zero_padding(frames, episode_start, i, k):
    stack = stack_frames_loop(frames, episode_start, i, k).copy()
    start = i
    while start > i - k + 1 and not episode_start[start]:
        start -= 1
    stack[: k - (i - start + 1)] = 0
    return stack


def stack_frames_shifted_window(frames, episode_start, i, k):
    return stack_frames_loop(frames, episode_start, i - 1, k)


def stack_frames_not_attempted(frames, episode_start, i, k):
    raise NotImplementedError()


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_replay_add, ReplayBuffer),
        (check_replay_add, StudentBuffer),
        (check_replay_add, CountingBuffer),
        (check_replay_sample, ReplayBuffer),
        (check_replay_sample, StudentBuffer),
        (check_replay_sample, CountingBuffer),
        (check_replay_sample, SampleWithoutReplacement),
        (check_stack_frames, stack_frames_loop),
    ],
)
def test_lesson02_checks_pass_correct_code(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


@pytest.mark.parametrize(
    ("check", "buggy", "case", "detail"),
    [
        (check_replay_add, AddWithoutModulo, "12 transitions into capacity 5", "IndexError"),
        (check_replay_add, AddSizeUncapped, "12 transitions", "['len(buffer)']: expected 5"),
        (check_replay_add, AddForgetsTruncated, "5 transitions fill", "['truncated']"),
        (check_replay_sample, SampleWholeCapacity, "capacity 10, 4 stored", "one transition"),
        (check_replay_sample, SampleIndicesPerField, "capacity 10", "one transition"),
        (check_replay_sample, SampleNeverTheNewest, "capacity 10", "every stored transition"),
        (check_stack_frames, stack_frames_no_padding, "i=0", "shape (0, 2, 2)"),
        (check_stack_frames, stack_frames_first_start, "i=7", "expected 6, got 5"),
        (check_stack_frames, stack_frames_zero_padding, "i=7", "expected 6, got 0"),
        (check_stack_frames, stack_frames_shifted_window, "i=4", "expected 1, got 0"),
    ],
)
def test_lesson02_checks_catch_typical_mistakes(capsys, check, buggy, case, detail):
    result = check(buggy)
    out = capsys.readouterr().out
    assert result is not buggy
    assert out.startswith(WRONG) and f"case '{case}" in out and detail in out
    assert "Hint:" in out and "reference" in out


@pytest.mark.parametrize(
    ("check", "stub"),
    [
        (check_replay_add, AddNotAttempted),
        (check_stack_frames, stack_frames_not_attempted),
    ],
)
def test_lesson02_checks_report_not_attempted(capsys, check, stub):
    assert check(stub) is not stub
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


def test_sample_check_falls_back_to_the_reference_class(capsys):
    class NotAttempted(StudentBuffer):
        def sample(self, batch_size):
            raise NotImplementedError()

    assert check_replay_sample(NotAttempted) is ReplayBuffer
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)
