"""Lesson 03's checks accept correct code written in other styles and catch the typical
mistakes, with a message that names each one; no check prints answer code."""

import numpy as np
import pytest
import torch
from exercise_helpers import assert_no_answer_code

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
        return (
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.terminated[idx],
            self.truncated[idx],
        )


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


class EmptyArraysBuffer(StudentBuffer):
    """Correct: allocates with np.empty (rows never written hold whatever was in memory)."""

    def __init__(self, capacity, obs_shape, *, rng, obs_dtype=np.float32):
        super().__init__(capacity, obs_shape, rng=rng, obs_dtype=obs_dtype)
        for name in ("obs", "next_obs", "actions", "rewards", "terminated", "truncated"):
            array = getattr(self, name)
            garbage = np.empty_like(array)
            garbage.view(np.uint8)[...] = 0x5A  # what np.empty may leave there, made sure
            setattr(self, name, garbage)


class LoopSampleBuffer(StudentBuffer):
    """Correct: draws one index at a time and builds the batch row by row."""

    def sample(self, batch_size):
        rows = [int(self.rng.integers(self.size)) for _ in range(batch_size)]
        fields = (
            self.obs,
            self.actions,
            self.rewards,
            self.next_obs,
            self.terminated,
            self.truncated,
        )
        return tuple(np.array([field[i] for i in rows]) for field in fields)


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


class AddCursorMovedFirst(StudentBuffer):
    """Off by one: moves the cursor before writing, so row 0 waits for the wrap-around."""

    def add(self, obs, action, reward, next_obs, terminated, truncated):
        self.cursor = (self.cursor + 1) % self.capacity
        i = self.cursor
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i], self.truncated[i] = next_obs, terminated, truncated
        self.size = min(self.size + 1, self.capacity)


class AddWrapsOneEarly(StudentBuffer):
    """Off by one: wraps around after capacity - 1 rows, never using the last one."""

    def add(self, obs, action, reward, next_obs, terminated, truncated):
        super().add(obs, action, reward, next_obs, terminated, truncated)
        self.cursor = 0 if self.cursor >= self.capacity - 1 else self.cursor


class AddNotAttempted(StudentBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated):
        raise NotImplementedError()


def _sample_rows(buffer, idx):
    return (
        buffer.obs[idx],
        buffer.actions[idx],
        buffer.rewards[idx],
        buffer.next_obs[idx],
        buffer.terminated[idx],
        buffer.truncated[idx],
    )


class SampleWholeCapacity(StudentBuffer):
    def sample(self, batch_size):
        return _sample_rows(self, self.rng.integers(0, self.capacity, size=batch_size))


class SampleIndicesPerField(StudentBuffer):
    def sample(self, batch_size):
        fields = (
            self.obs,
            self.actions,
            self.rewards,
            self.next_obs,
            self.terminated,
            self.truncated,
        )
        return tuple(f[self.rng.integers(0, len(self), size=batch_size)] for f in fields)


class SampleNeverTheNewest(StudentBuffer):
    def sample(self, batch_size):
        return _sample_rows(self, self.rng.integers(0, len(self) - 1, size=batch_size))


class SampleBelowTheCursor(StudentBuffer):
    """Draws below the cursor: right until the buffer wraps around."""

    def sample(self, batch_size):
        return _sample_rows(self, self.rng.integers(0, self.cursor, size=batch_size))


class SampleModuloCapacity(StudentBuffer):
    """Folds draws over the whole capacity onto the stored rows: not uniform."""

    def sample(self, batch_size):
        return _sample_rows(self, self.rng.integers(0, self.capacity, size=batch_size) % len(self))


class SampleFieldsSwapped(StudentBuffer):
    def sample(self, batch_size):
        obs, actions, rewards, next_obs, terminated, truncated = super().sample(batch_size)
        return obs, rewards, actions, next_obs, terminated, truncated


class SampleFromNumpysGlobalGenerator(StudentBuffer):
    """Uniform over the stored rows, but drawn with np.random, not the buffer's self.rng."""

    def sample(self, batch_size):
        return _sample_rows(self, np.random.randint(0, len(self), size=batch_size))  # noqa: NPY002


class SampleWithTorch(StudentBuffer):
    """Uniform over the stored rows, drawn with torch's global generator."""

    def sample(self, batch_size):
        return _sample_rows(self, torch.randint(0, len(self), (batch_size,)).numpy())


class SampleIgnoringTheGivenGenerator(StudentBuffer):
    """Makes a generator of its own with a fixed seed instead of keeping the one given."""

    def __init__(self, capacity, obs_shape, *, rng, obs_dtype=np.float32):
        super().__init__(capacity, obs_shape, rng=np.random.default_rng(0), obs_dtype=obs_dtype)


class SampleShuffledThenCut(StudentBuffer):
    """Correct, drawing otherwise: a permutation, then integers, both from self.rng."""

    def sample(self, batch_size):
        order = self.rng.permutation(len(self))
        return _sample_rows(self, order[self.rng.integers(0, len(self), size=batch_size)])


class SampleWithoutReplacement(StudentBuffer):
    """Correct too (just slower): the check must not insist on one way to draw."""

    def sample(self, batch_size):
        return _sample_rows(self, self.rng.choice(len(self), size=batch_size, replace=False))


def stack_frames_backwards(frames, episode_start, i, k):
    """Correct: walks back from i, repeating the episode's first frame once it is reached."""
    stack, j = [], i
    for _ in range(k):
        stack.append(frames[j])
        if j > 0 and not episode_start[j]:
            j -= 1
    return np.stack(stack[::-1])


def stack_frames_vectorised(frames, episode_start, i, k):
    """Correct: the latest start in the window with flatnonzero, then np.maximum."""
    window = np.arange(i - k + 1, i + 1)
    starts = np.flatnonzero(episode_start[: i + 1])
    start = max(starts[-1] if starts.size else 0, i - k + 1)
    return frames[np.maximum(window, start)]


def stack_frames_no_padding(frames, episode_start, i, k):
    return frames[i - k + 1 : i + 1]


def stack_frames_first_start(frames, episode_start, i, k):
    window = np.arange(i - k + 1, i + 1)
    inside = np.flatnonzero(episode_start[np.maximum(window, 0)] & (window >= 0))
    start = window[inside[0]] if inside.size else window[0]  # the first start, not the last
    return frames[np.maximum(window, start)]


def stack_frames_zero_padding(frames, episode_start, i, k):
    stack = stack_frames_backwards(frames, episode_start, i, k).copy()
    start = i
    while start > i - k + 1 and not episode_start[start]:
        start -= 1
    stack[: k - (i - start + 1)] = 0
    return stack


def stack_frames_shifted_window(frames, episode_start, i, k):
    return stack_frames_backwards(frames, episode_start, i - 1, k)


def stack_frames_newest_first(frames, episode_start, i, k):
    return stack_frames_backwards(frames, episode_start, i, k)[::-1]


def stack_frames_not_attempted(frames, episode_start, i, k):
    raise NotImplementedError()


class Copy(ReplayBuffer):
    """The package's code, under another name (the package's own object gets "re-run")."""


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_replay_add, Copy),
        (check_replay_add, StudentBuffer),
        (check_replay_add, CountingBuffer),
        (check_replay_add, EmptyArraysBuffer),
        (check_replay_sample, Copy),
        (check_replay_sample, StudentBuffer),
        (check_replay_sample, CountingBuffer),
        (check_replay_sample, LoopSampleBuffer),
        (check_replay_sample, SampleWithoutReplacement),
        (check_replay_sample, SampleShuffledThenCut),
        (check_replay_sample, EmptyArraysBuffer),
        (check_stack_frames, stack_frames_backwards),
        (check_stack_frames, stack_frames_vectorised),
    ],
)
def test_replay_buffer_checks_pass_correct_code(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


MISTAKES = [
    (
        check_replay_add,
        AddWithoutModulo,
        "12 transitions into capacity 5",
        "from row 0 again",
        "IndexError",
    ),
    (
        check_replay_add,
        AddSizeUncapped,
        "12 transitions",
        "len() stays at the capacity",
        "len(buffer) is 12 after 12 adds into a buffer of capacity 5, expected 5: a buffer never "
        "holds more than its capacity",
    ),
    (
        check_replay_add,
        AddForgetsTruncated,
        "5 transitions fill",
        "the last row is used too",
        "row 3 holds #4 with wrong truncated",
    ),
    (
        check_replay_add,
        AddCursorMovedFirst,
        "3 transitions into capacity 5",
        "the k-th transition added goes to row k-1",
        "row 0 was never written, expected #1 there",
    ),
    (
        check_replay_add,
        AddWrapsOneEarly,
        "5 transitions fill capacity 5 exactly",
        "the last row is used too",
        "row 0 holds transition #5, expected #1: the new transition went to the wrong row",
    ),
    (
        check_replay_sample,
        SampleWholeCapacity,
        "capacity 10, 4 stored",
        "only from the rows filled so far",
        "sample returned transitions that were never added (empty slots)",
    ),
    (
        check_replay_sample,
        SampleIndicesPerField,
        "capacity 10",
        "from the same transition",
        "mix fields of different transitions",
    ),
    (
        check_replay_sample,
        SampleFieldsSwapped,
        "capacity 10",
        "from the same transition",
        "returned the right rows, but its fields in another order",
    ),
    (
        check_replay_sample,
        SampleNeverTheNewest,
        "capacity 10",
        "each stored transition equally",
        "transitions ['#4'] were stored but never drawn",
    ),
    (
        check_replay_sample,
        SampleBelowTheCursor,
        "capacity 6 after 15 adds",
        "wherever the cursor",
        "were stored but never drawn",
    ),
    (
        check_replay_sample,
        SampleModuloCapacity,
        "capacity 10",
        "each stored transition equally",
        "expected 25.0% (uniform over the stored ones, tolerance 3%",
    ),
    (
        check_replay_sample,
        SampleFromNumpysGlobalGenerator,
        "the buffer's generator decides the batch",
        "from the buffer's own generator self.rng",
        "gave different batches over 20 batches: some draws do not come from the generator",
    ),
    (
        check_replay_sample,
        SampleWithTorch,
        "the buffer's generator decides the batch",
        "and from nothing else",
        "two generators made with the same seed gave different batches",
    ),
    (
        check_replay_sample,
        SampleIgnoringTheGivenGenerator,
        "the buffer's generator decides the batch",
        "generators in the same state",
        "generators of two different seeds gave the same batches",
    ),
    (
        check_stack_frames,
        stack_frames_no_padding,
        "i=0",
        "the first frame of all is repeated",
        "the stack holds frames [], expected [0, 0, 0, 0]",
    ),
    (
        check_stack_frames,
        stack_frames_first_start,
        "i=7",
        "never reaches back past the latest",
        "frame 5 belongs to an earlier episode (this one starts at frame 6)",
    ),
    (
        check_stack_frames,
        stack_frames_zero_padding,
        "i=0",
        "repeated k times",
        "blank frames where the episode's first frame should repeat",
    ),
    (
        check_stack_frames,
        stack_frames_shifted_window,
        "i=4",
        "ending at frame i",
        "the newest frame must be frame i=4",
    ),
    (
        check_stack_frames,
        stack_frames_newest_first,
        "i=4",
        "oldest first",
        "newest first, but a stack goes oldest first",
    ),
]


@pytest.mark.parametrize(("check", "buggy", "case", "rule", "detail"), MISTAKES)
def test_replay_buffer_checks_catch_typical_mistakes(capsys, check, buggy, case, rule, detail):
    result = check(buggy)
    out = capsys.readouterr().out
    assert result is not buggy
    assert out.startswith(WRONG) and f"case '{case}" in out
    assert rule in out.split("\n")[1] and detail in out
    assert "Hint:" in out and "package's version is used" in out and "Look at" not in out
    check(buggy)
    second = capsys.readouterr().out
    assert "Look at: section" in second
    reference = check(None)
    capsys.readouterr()
    assert_no_answer_code(out + second, reference)


@pytest.mark.parametrize(
    ("check", "stub"),
    [
        (check_replay_add, AddNotAttempted),
        (check_stack_frames, stack_frames_not_attempted),
    ],
)
def test_replay_buffer_checks_report_not_attempted(capsys, check, stub):
    assert check(stub) is not stub
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


def test_sample_check_falls_back_to_the_reference_class(capsys):
    class NotAttempted(StudentBuffer):
        def sample(self, batch_size):
            raise NotImplementedError()

    assert check_replay_sample(NotAttempted) is ReplayBuffer
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


def test_replay_buffer_checks_rerun_on_the_package_code_does_not_pass(capsys):
    for check in (check_replay_add, check_replay_sample, check_stack_frames):
        reference = check(None)
        assert check(reference) is reference
        assert "re-run your code cell first" in capsys.readouterr().out
