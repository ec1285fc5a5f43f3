"""Checks for lesson 02 (replay buffers): a ring buffer's ``add`` and ``sample``, and
rebuilding a frame stack from single frames.

The buffer's reference is the package's own :class:`rlcourse.buffers.ReplayBuffer`: the
notebook's ``ReplayBuffer`` has its name, constructor and public arrays (``obs``,
``actions``, ``rewards``, ``next_obs``, ``terminated``, ``truncated``, ``rng``, ``len()``).
:func:`stack_frames` is a lesson-only helper (the package rebuilds whole batches of stacks
inside :class:`rlcourse.buffers.AtariReplayBuffer`), so its reference lives here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcourse.buffers import ReplayBuffer
from rlcourse.course.exercises.core import Case, check_exercise

_OBS_SHAPE = (2,)


def _filled(buffer_class: Any, capacity: int, n: int) -> Any:
    """A buffer of ``capacity`` after adding transitions t = 0 .. n-1, each telling its t."""
    buffer = buffer_class(capacity, _OBS_SHAPE, rng=np.random.default_rng(0))
    for t in range(n):
        buffer.add(
            np.full(_OBS_SHAPE, t, np.float32),
            t % 3,
            float(t),
            np.full(_OBS_SHAPE, t + 1, np.float32),
            terminated=t % 4 == 3,
            truncated=t % 5 == 4,
        )
    return buffer


def _after_adds(buffer_class: Any, capacity: int, n: int) -> dict[str, Any]:
    buffer = _filled(buffer_class, capacity, n)
    return {
        "len(buffer)": len(buffer),
        "obs": buffer.obs,
        "actions": buffer.actions,
        "rewards": buffer.rewards,
        "next_obs": buffer.next_obs,
        "terminated": buffer.terminated,
        "truncated": buffer.truncated,
    }


def check_replay_add(student_class: Any) -> Any:
    """Check a ring buffer class's ``add`` (and ``len``) against ``ReplayBuffer``'s."""
    cases = [
        Case("3 transitions into capacity 5", lambda c: _after_adds(c, 5, 3)),
        Case("5 transitions fill capacity 5 exactly", lambda c: _after_adds(c, 5, 5)),
        Case(
            "12 transitions into capacity 5 (the oldest are overwritten)",
            lambda c: _after_adds(c, 5, 12),
        ),
        Case("capacity 1", lambda c: _after_adds(c, 1, 3)),
    ]
    return check_exercise(
        "ReplayBuffer.add",
        student_class,
        ReplayBuffer,
        cases,
        hint="write each field at index self.cursor, then move on with "
        "self.cursor = (self.cursor + 1) % self.capacity and let self.size grow up to "
        "self.capacity (never beyond).",
    )


def _sample_behaviour(buffer_class: Any, capacity: int, n: int, batch_size: int) -> dict:
    """What any correct ``sample`` does, whatever random numbers it draws."""
    buffer = _filled(buffer_class, capacity, n)
    stored = set(range(max(n - capacity, 0), n))
    seen: set[int] = set()
    one_transition = True
    shapes: tuple = ()
    for _ in range(300):
        obs, actions, rewards, next_obs, terminated, truncated = buffer.sample(batch_size)
        shapes = tuple(np.shape(x) for x in (obs, actions, rewards, next_obs, terminated,
                                             truncated))  # fmt: skip
        t = np.asarray(obs)[:, 0].astype(int)
        one_transition &= bool(
            np.array_equal(np.asarray(next_obs)[:, 0], t + 1)
            and np.array_equal(actions, t % 3)
            and np.array_equal(rewards, t.astype(np.float32))
            and np.array_equal(terminated, t % 4 == 3)
            and np.array_equal(truncated, t % 5 == 4)
        )
        seen.update(t.tolist())
    return {
        "shapes (obs, actions, rewards, next_obs, terminated, truncated)": shapes,
        "each row's fields come from one transition": one_transition,
        "only stored transitions are drawn": seen <= stored,
        "every stored transition can be drawn": seen >= stored,
    }


def check_replay_sample(student_class: Any) -> Any:
    """Check a ring buffer class's ``sample``: uniform over what is stored, rows intact."""
    cases = [
        Case("capacity 10, 4 stored, batches of 3", lambda c: _sample_behaviour(c, 10, 4, 3)),
        Case(
            "capacity 6 after 15 adds (wrapped around), batches of 4",
            lambda c: _sample_behaviour(c, 6, 15, 4),
        ),
        Case("a batch as big as the buffer", lambda c: _sample_behaviour(c, 5, 5, 5)),
    ]
    return check_exercise(
        "ReplayBuffer.sample",
        student_class,
        ReplayBuffer,
        cases,
        hint="draw the indices once, idx = self.rng.integers(0, len(self), size=batch_size) "
        "(only the filled slots), and index every array with the same idx.",
    )


def stack_frames(frames: np.ndarray, episode_start: np.ndarray, i: int, k: int = 4) -> Any:
    """The ``k`` frames (oldest first) of the observation whose newest frame is ``frames[i]``.

    Slots before the latest episode start at or before ``i`` hold another episode: the
    start frame is repeated instead, as :class:`rlcourse.wrappers.FrameStack` pads. (The
    lesson's reference; ``AtariReplayBuffer`` does the same for a whole batch at once.)

    >>> starts = np.array([True, False, False, True, False, False, False])
    >>> stack_frames(np.arange(7), starts, 4).tolist()
    [3, 3, 3, 4]
    >>> stack_frames(np.arange(7), starts, 6).tolist()
    [3, 4, 5, 6]
    """
    start = i
    while start > i - k + 1 and not episode_start[start]:
        start -= 1
    return frames[[max(j, start) for j in range(i - k + 1, i + 1)]]


# Frame j is full of the value j; episodes are frames 0-4, 5 (one frame), 6-12.
_FRAMES = np.broadcast_to(np.arange(13, dtype=np.uint8)[:, None, None], (13, 2, 2)).copy()
_STARTS = np.isin(np.arange(13), [0, 5, 6])


def check_stack_frames(student_function: Any) -> Any:
    """Check a ``stack_frames(frames, episode_start, i, k)`` function (one stack)."""

    def stack(i: int, k: int = 4) -> Any:
        return lambda f: f(_FRAMES.copy(), _STARTS.copy(), i, k)

    cases = [
        Case("i=4, k=4: inside an episode, no padding", stack(4)),
        Case("i=0: the very first frame", stack(0)),
        Case("i=7: second frame of an episode, after a one-frame episode", stack(7)),
        Case("i=8: two episode starts (5 and 6) in the window", stack(8)),
        Case("i=5: a one-frame episode", stack(5)),
        Case("i=12, k=4: the newest frame", stack(12)),
        Case("i=6, k=2", stack(6, k=2)),
        Case("i=3, k=1", stack(3, k=1)),
    ]
    return check_exercise(
        "stack_frames",
        student_function,
        stack_frames,
        cases,
        hint="the stack is frames[i-k+1 .. i], but it must not reach back past the latest "
        "episode start at or before i: find that start s (walk back from i, at most k-1 "
        "steps) and use index max(j, s) for each j, i.e. repeat the start frame.",
    )
