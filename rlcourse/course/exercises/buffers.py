"""Checks for lesson 03 (replay buffers): a ring buffer's ``add`` and ``sample``, and
rebuilding a frame stack from single frames.

The buffer's reference is the package's own :class:`rlcourse.buffers.ReplayBuffer`: the
notebook's ``ReplayBuffer`` has its name, constructor and public arrays (``obs``,
``actions``, ``rewards``, ``next_obs``, ``terminated``, ``truncated``, ``rng``, ``len()``).
:func:`stack_frames` is a lesson-only helper (the package rebuilds whole batches of stacks
inside :class:`rlcourse.buffers.AtariReplayBuffer`), so its reference lives here.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from rlcourse.buffers import ReplayBuffer
from rlcourse.course.exercises.core import (
    Case,
    check_exercise,
    compare_reproducible,
    seeded_global_rngs,
)

_OBS_SHAPE = (2,)


def _transition(t: int) -> tuple:
    """Transition number ``t`` (1, 2, ...): each field tells which transition it is from."""
    obs = np.full(_OBS_SHAPE, t, np.float32)
    next_obs = np.full(_OBS_SHAPE, t + 0.5, np.float32)
    return obs, t % 3, float(10 * t), next_obs, t % 4 == 3, t % 5 == 4


def _filled(buffer_class: Any, capacity: int, n: int, seed: int = 0) -> Any:
    """A buffer of ``capacity`` after adding transitions 1 .. n, its generator seeded with
    ``seed``."""
    buffer = buffer_class(capacity, _OBS_SHAPE, rng=np.random.default_rng(seed))
    for t in range(1, n + 1):
        obs, action, reward, next_obs, terminated, truncated = _transition(t)
        buffer.add(obs, action, reward, next_obs, terminated=terminated, truncated=truncated)
    return buffer


_FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated", "truncated")


def _identify(rows: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows of the six fields: the transition number each row holds (by its obs), whether
    the row was never written (every field zero), and whether all its fields agree."""
    obs, actions, rewards, next_obs, terminated, truncated = (np.asarray(f) for f in rows)
    n = len(obs)
    flat_obs, flat_next = obs.reshape(n, -1), next_obs.reshape(n, -1)
    t = flat_obs[:, 0].astype(np.float64)
    whole = (t == np.round(t)) & np.all(flat_obs == flat_obs[:, :1], axis=1) & (t >= 1)
    t = np.where(whole, np.round(t), 0).astype(np.int64)
    columns = [flat_obs, flat_next] + [
        np.asarray(f).reshape(n, -1) for f in (actions, rewards, terminated, truncated)
    ]
    empty = ~np.any([c.any(axis=1) for c in columns], axis=0)
    agree = (
        whole
        & np.all(flat_next == (t + 0.5)[:, None], axis=1)
        & (np.asarray(actions).reshape(n) == t % 3)
        & (np.asarray(rewards).reshape(n) == 10 * t)
        & (np.asarray(terminated).reshape(n).astype(bool) == (t % 4 == 3))
        & (np.asarray(truncated).reshape(n).astype(bool) == (t % 5 == 4))
    )
    return t, empty & ~agree, agree


def _describe_row(buffer: Any, row: int) -> str:
    fields = tuple(np.asarray(getattr(buffer, name))[row : row + 1] for name in _FIELDS)
    t, empty, agree = (x[0] for x in _identify(fields))
    if agree:
        return f"#{t}"
    if empty:
        return "empty"
    wrong = [
        name
        for name, value, right in zip(_FIELDS, fields, _transition(max(t, 1)), strict=True)
        if not np.array_equal(np.asarray(value).reshape(np.shape(right)), right)
    ]
    return f"#{t} with wrong {', '.join(wrong)}" if t else "not a transition that was added"


def _after_adds(buffer_class: Any, capacity: int, n: int) -> dict[str, Any]:
    buffer = _filled(buffer_class, capacity, n)
    filled = min(n, capacity)  # rows never written are not looked at: they may hold anything
    return {"len(buffer)": len(buffer), "rows": [_describe_row(buffer, r) for r in range(filled)]}


def _compare_adds(capacity: int, n: int) -> Any:
    def compare(expected: dict, got: dict) -> str | None:
        after = f"after {n} adds into a buffer of capacity {capacity}"
        if got["len(buffer)"] != expected["len(buffer)"]:
            size, right = got["len(buffer)"], expected["len(buffer)"]
            message = f"len(buffer) is {size} {after}, expected {right}"
            if got["len(buffer)"] > capacity:
                message += ": a buffer never holds more than its capacity"
            return message
        for row, (e, g) in enumerate(zip(expected["rows"], got["rows"], strict=True)):
            if g == e:
                continue
            layout = (
                f"(rows 0 to {len(got['rows']) - 1} hold {got['rows']}, expected "
                f"{expected['rows']})"
            )
            if g == "empty":
                return f"{after}, row {row} was never written, expected {e} there {layout}"
            if g.startswith("#") and " " not in g:
                return (
                    f"{after}, row {row} holds transition {g}, expected {e}: the new "
                    f"transition went to the wrong row {layout}"
                )
            return f"{after}, row {row} holds {g}, expected transition {e} {layout}"
        return None

    return compare


def check_replay_add(student_class: Any) -> Any:
    """Check a ring buffer class's ``add`` (and ``len``) against ``ReplayBuffer``'s.

    Transition number t is stored with obs t, reward 10 t, ...: the check looks at which
    transition each row holds, and only at the rows that must be filled.
    """

    def case(name: str, rule: str, capacity: int, n: int) -> Case:
        return Case(name, lambda c: _after_adds(c, capacity, n), rule, _compare_adds(capacity, n))

    cases = [
        case(
            "3 transitions into capacity 5",
            "the k-th transition added goes to row k-1, all six fields in the same row, and "
            "len() counts the transitions stored",
            5,
            3,
        ),
        case(
            "5 transitions fill capacity 5 exactly",
            "the last row is used too before the buffer wraps around",
            5,
            5,
        ),
        case(
            "12 transitions into capacity 5 (the oldest are overwritten)",
            "once full, each new transition overwrites the oldest one, row after row from "
            "row 0 again, and len() stays at the capacity",
            5,
            12,
        ),
        case("capacity 1", "a buffer of capacity 1 holds the newest transition only", 1, 3),
    ]
    return check_exercise(
        "ReplayBuffer.add",
        student_class,
        ReplayBuffer,
        cases,
        hint="write every field of the transition into the row the cursor points at; then "
        "move the cursor one row on, back to row 0 after the last row; the size grows by one "
        "per add until it reaches the capacity, then stays there.",
        pointer="section 2 of this lesson (the NumPy ring buffer: the cursor, the wrap-around, "
        "the size), and Python's modulo operator for the wrap-around",
        returns_none=True,
    )


BATCHES = 2000
"""Batches drawn per sampling case: the draw frequencies are compared with uniform within
``FREQUENCY_TOLERANCE`` (over at least 6,000 draws, more than 5 standard deviations)."""
FREQUENCY_TOLERANCE = 0.03


def _sample_behaviour(buffer_class: Any, capacity: int, n: int, batch_size: int) -> dict:
    """What any correct ``sample`` does, whatever random numbers it draws."""
    buffer = _filled(buffer_class, capacity, n)
    oldest = max(n - capacity, 0) + 1
    shapes: tuple = ()
    batches = []
    for _ in range(BATCHES):
        batch = tuple(np.asarray(x) for x in buffer.sample(batch_size))
        shapes = tuple(x.shape for x in batch)
        if len(batch) != 6 or len({s[:1] for s in shapes}) != 1:
            break
        batches.append(batch)
    reordered = False
    if len(batches) == BATCHES:  # every field of every batch: one row per drawn transition
        rows = tuple(np.concatenate(f) for f in zip(*batches, strict=True))
        t, is_empty, agree = _identify(rows)
        if not agree.all():  # are the fields right, but returned in another order?
            reordered = any(
                _identify((rows[a], rows[b], rows[c], rows[d], rows[e], rows[f]))[2].all()
                for a, d in itertools.permutations((0, 3))
                for b, c, e, f in itertools.permutations((1, 2, 4, 5))
            )
    else:
        t = is_empty = agree = np.zeros(0, bool)
    empty, mixed = int(is_empty.sum()), int((~agree & ~is_empty).sum())
    good = agree & (t <= n)
    overwritten = int((good & (t < oldest)).sum())
    counts = np.bincount(t[good & (t >= oldest)].astype(np.int64), minlength=n + 1)
    stored = range(oldest, n + 1)
    draws = counts.sum()
    frequencies = counts[oldest:] / max(draws, 1)
    return {
        "shapes": shapes,
        "rows never added (empty slots)": empty,
        "rows mixing fields of different transitions": mixed,
        "fields returned in another order": reordered,
        "rows of overwritten transitions": overwritten,
        "stored transitions never drawn": [f"#{t}" for t in stored if counts[t] == 0],
        "draw frequency of each stored transition": dict(
            zip([f"#{t}" for t in stored], np.round(frequencies, 3).tolist(), strict=True)
        ),
    }


def _compare_samples(capacity: int, n: int, batch_size: int) -> Any:
    def compare(expected: dict, got: dict) -> str | None:
        stored = min(n, capacity)
        setting = f"with {stored} transitions stored in a buffer of capacity {capacity}"
        if got["shapes"] != expected["shapes"]:
            return (
                f"sample({batch_size}) returned fields of shapes {got['shapes']}, "
                f"expected {expected['shapes']} (obs, actions, rewards, next_obs, "
                "terminated, truncated: one row per drawn transition)"
            )
        total = BATCHES * batch_size
        if got["rows never added (empty slots)"]:
            return (
                f"{setting}, sample returned transitions that were never added (empty "
                f"slots): {got['rows never added (empty slots)']} of {total} rows drawn"
            )
        if got["fields returned in another order"]:
            return (
                f"sample({batch_size}) returned the right rows, but its fields in another "
                "order than obs, actions, rewards, next_obs, terminated, truncated"
            )
        if got["rows mixing fields of different transitions"]:
            return (
                f"{setting}, {got['rows mixing fields of different transitions']} of "
                f"{total} rows drawn mix fields of different transitions (for instance the "
                "obs of one with the reward of another)"
            )
        if got["rows of overwritten transitions"]:
            return (
                f"{setting}, sample returned transitions that were already overwritten: "
                f"{got['rows of overwritten transitions']} of {total} rows drawn"
            )
        if got["stored transitions never drawn"]:
            return (
                f"{setting}, transitions {got['stored transitions never drawn']} were "
                f"stored but never drawn in {total} draws"
            )
        uniform = 1 / stored
        for name, frequency in got["draw frequency of each stored transition"].items():
            if abs(frequency - uniform) > FREQUENCY_TOLERANCE:
                return (
                    f"{setting}, transition {name} was drawn {frequency:.1%} of the time, "
                    f"expected {uniform:.1%} (uniform over the stored ones, tolerance "
                    f"{FREQUENCY_TOLERANCE:.0%} over {total} draws)"
                )
        return None

    return compare


_REPLAY_BATCHES = 20


def _batches_drawn(buffer_class: Any, seed: int, global_seed: int) -> list[tuple]:
    """``_REPLAY_BATCHES`` batches of 4 from a buffer holding 7 transitions whose generator
    is seeded with ``seed``, the global generators seeded with ``global_seed``."""
    with seeded_global_rngs(global_seed):
        buffer = _filled(buffer_class, 10, 7, seed)
        return [
            tuple(np.array(field) for field in buffer.sample(4)) for _ in range(_REPLAY_BATCHES)
        ]


def _same_batches(a: list[tuple], b: list[tuple]) -> bool:
    return all(
        len(x) == len(y) and all(np.array_equal(u, v) for u, v in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True)
    )


def _reproducible(buffer_class: Any) -> dict[str, bool]:
    first = _batches_drawn(buffer_class, seed=7, global_seed=1)
    return {
        "same": _same_batches(first, _batches_drawn(buffer_class, seed=7, global_seed=2)),
        "other": not _same_batches(first, _batches_drawn(buffer_class, seed=8, global_seed=1)),
    }


def check_replay_sample(student_class: Any) -> Any:
    """Check a ring buffer class's ``sample``: uniform over what is stored, rows intact.

    A correct ``sample`` may draw any random numbers: the check looks at what any correct
    one does (only stored transitions, each row one transition, every stored transition
    drawn about equally often, within ``FREQUENCY_TOLERANCE``, and every draw from the
    buffer's own generator: the same generator state gives the same batches).
    """

    def case(name: str, rule: str, capacity: int, n: int, batch_size: int) -> Case:
        return Case(
            name,
            lambda c: _sample_behaviour(c, capacity, n, batch_size),
            rule,
            _compare_samples(capacity, n, batch_size),
        )

    rule_stored = (
        "a batch draws only from the rows filled so far, each stored transition "
        "equally likely, and all six fields of a row come from the same transition"
    )
    cases = [
        case("capacity 10, 4 stored, batches of 3", rule_stored, 10, 4, 3),
        case(
            "capacity 6 after 15 adds (wrapped around), batches of 4",
            "once the buffer has wrapped around, every row holds a stored transition, wherever "
            "the cursor is, and each is drawn equally often",
            6,
            15,
            4,
        ),
        case(
            "a batch as big as the buffer",
            "draws are with replacement and uniform, whatever the batch size",
            5,
            5,
            5,
        ),
        Case(
            "the buffer's generator decides the batch",
            _reproducible,
            rule="the row numbers are drawn from the buffer's own generator self.rng (the one "
            "it was made with), and from nothing else: two buffers holding the same "
            "transitions, with generators in the same state, give the same batches",
            compare=compare_reproducible("batches", f"{_REPLAY_BATCHES} batches"),
        ),
    ]
    return check_exercise(
        "ReplayBuffer.sample",
        student_class,
        ReplayBuffer,
        cases,
        hint="draw the batch's row numbers once, uniformly among the filled rows only (len() "
        "of them), from the buffer's own generator self.rng and no other; then take those "
        "same rows from every field, in the order obs, actions, rewards, next_obs, "
        "terminated, truncated.",
        pointer="section 1 of this lesson (replay draws uniformly from the stored "
        "transitions), and NumPy's Generator.integers (its upper bound is excluded) and "
        "integer-array indexing",
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


# Frame j is full of the value 10 + j (so a blank frame is told apart); episodes are frames
# 0-4, 5 (one frame), 6-12.
_FRAMES = np.broadcast_to(10 + np.arange(13, dtype=np.uint8)[:, None, None], (13, 2, 2)).copy()
_STARTS = np.isin(np.arange(13), [0, 5, 6])


def _frame_numbers(stack: Any) -> Any:
    """The frame numbers of a stack, oldest first ("blank" for zeros), or its shape."""
    stack = np.asarray(stack)
    if stack.ndim != 3 or stack.shape[1:] != _FRAMES.shape[1:]:
        return f"an array of shape {stack.shape}"
    names: list = []
    for frame in stack:
        value = frame.flat[0]
        if not np.all(frame == value):
            names.append("not a stored frame")
        elif value == 0:
            names.append("blank")
        elif 10 <= value < 10 + len(_FRAMES) and value == int(value):
            names.append(int(value) - 10)
        else:
            names.append("not a stored frame")
    return names


def _compare_stack(i: int, k: int) -> Any:
    start = max(j for j in range(i + 1) if _STARTS[j])  # the episode frame i is in

    def compare(expected: list, got: Any) -> str | None:
        if got == expected:
            return None
        if isinstance(got, str):
            return f"{got}, expected {k} frames of shape {_FRAMES.shape[1:]}"
        message = f"the stack holds frames {got}, expected {expected}"
        if len(got) != len(expected):
            return f"{message}: a stack has k={k} frames"
        if got == expected[::-1]:
            return f"{message}: newest first, but a stack goes oldest first"
        numbers = [j for j in got if isinstance(j, int)]
        if any(j > i for j in numbers):
            return f"{message}: frame {max(numbers)} comes after frame i={i}, the newest"
        if i not in numbers:
            return f"{message}: the newest frame must be frame i={i}"
        if any(j < start for j in numbers):
            return (
                f"{message}: frame {min(numbers)} belongs to an earlier episode (this one "
                f"starts at frame {start})"
            )
        if "blank" in got:
            return f"{message}: blank frames where the episode's first frame should repeat"
        return message

    return compare


def check_stack_frames(student_function: Any) -> Any:
    """Check a ``stack_frames(frames, episode_start, i, k)`` function (one stack)."""

    def stack(name: str, rule: str, i: int, k: int = 4) -> Case:
        return Case(
            name,
            lambda f: _frame_numbers(f(_FRAMES.copy(), _STARTS.copy(), i, k)),
            rule,
            _compare_stack(i, k),
        )

    inside = "inside an episode the stack is the k frames ending at frame i, oldest first"
    padded = (
        "a stack never reaches back past the latest episode start at or before i: the "
        "start frame is repeated in the slots before it"
    )
    cases = [
        stack("i=4, k=4: inside an episode, no padding", inside, 4),
        stack("i=0: the very first frame", "the first frame of all is repeated k times", 0),
        stack("i=7: second frame of an episode, after a one-frame episode", padded, 7),
        stack(
            "i=8: two episode starts (5 and 6) in the window",
            "with several episode starts in the window, the latest one counts",
            8,
        ),
        stack("i=5: a one-frame episode", padded, 5),
        stack("i=12, k=4: the newest frame", inside, 12),
        stack("i=6, k=2", "the stack has k frames, whatever k is", 6, k=2),
        stack("i=3, k=1", "with k=1 the stack is frame i alone", 3, k=1),
    ]
    return check_exercise(
        "stack_frames",
        student_function,
        stack_frames,
        cases,
        hint="the stack ends with frame i and goes back k-1 frames, oldest first; walk back "
        "from i looking for the latest episode start (at most k-1 frames back); every slot "
        "that would reach before that start gets the start frame instead.",
        pointer="section 4 of this lesson (the diagram of the stacks at a1 and a4), and how "
        "lesson 02's FrameStack pads after a reset",
    )
