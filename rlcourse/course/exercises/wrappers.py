"""Checks for lesson 01 (Atari wrappers): MaxAndSkip.step, process_frame84, FrameStack.

The references are the package's own (:mod:`rlcourse.wrappers`), used as the student's: same
names, same signatures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcourse import wrappers
from rlcourse.course.exercises.core import Case, check_exercise
from rlcourse.toy_envs import FrameCounterEnv


def _play(wrapper_class: Any, env_kwargs: dict, n_steps: int, **wrapper_kwargs: Any) -> list:
    env = wrapper_class(FrameCounterEnv(**env_kwargs), **wrapper_kwargs)
    obs, _ = env.reset(seed=0)
    outputs: list = [obs]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, _ = env.step(0)
        outputs.append((obs, float(reward), bool(terminated), bool(truncated)))
        if terminated or truncated:
            break
    return outputs


def _skip_ending_mid_repeat(wrapper_class: Any) -> tuple:
    # The observation at an early end is a matter of convention: compare what is not.
    env = wrapper_class(FrameCounterEnv(shape=(6, 5), episode_length=6), skip=4)
    env.reset(seed=0)
    env.step(0)
    _, reward, terminated, truncated, _ = env.step(0)
    return float(reward), bool(terminated), bool(truncated), env.unwrapped.t


def check_max_and_skip(student_class: Any) -> Any:
    """Check a ``MaxAndSkip`` wrapper class (its ``step``) against the course's."""
    small = {"shape": (6, 5), "episode_length": 100}
    cases = [
        Case("skip=4, three steps", lambda c: _play(c, small, 3, skip=4)),
        Case("skip=2, five steps", lambda c: _play(c, small, 5, skip=2)),
        Case(
            "episode ends on the last frame of a repeat",
            lambda c: _play(c, {"shape": (6, 5), "episode_length": 8}, 3, skip=4),
        ),
        Case(
            "episode ends in the middle of a repeat (rewards, flags, frames played)",
            _skip_ending_mid_repeat,
        ),
        Case(
            "truncation ends the repeat",
            lambda c: _play(c, {"shape": (6, 5), "truncate_at": 5}, 2, skip=4)[1:2],
        ),
    ]
    return check_exercise(
        "MaxAndSkip.step",
        student_class,
        wrappers.MaxAndSkip,
        cases,
        hint="call self.env.step(action) up to `skip` times, add up the rewards, stop as soon "
        "as terminated or truncated, and return np.maximum of the last two frames.",
    )


def check_process_frame84(student_function: Any) -> Any:
    """Check a ``process_frame84(frame, size=84) -> (size, size) uint8`` function."""
    random_frame = np.random.default_rng(0).integers(0, 256, (210, 160, 3), dtype=np.uint8)
    gradient = np.broadcast_to(np.arange(160, dtype=np.uint8)[None, :, None], (210, 160, 3))
    cases = [
        Case("a horizontal gradient", lambda f: f(np.ascontiguousarray(gradient))),
        Case("random RGB frame", lambda f: f(random_frame)),
        Case(
            "pure red frame",
            lambda f: f(np.tile(np.array([255, 0, 0], np.uint8), (210, 160, 1))),
        ),
        Case("size=42 (lesson 06's frames)", lambda f: f(random_frame, size=42)),
    ]
    return check_exercise(
        "process_frame84",
        student_function,
        wrappers.process_frame84,
        cases,
        hint="cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) first, then "
        "cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA); the result is uint8 "
        "(size, size).",
    )


def _stack_with_second_reset(wrapper_class: Any) -> list:
    env = wrapper_class(FrameCounterEnv(shape=(3, 3)), k=3)
    outputs = [env.reset(seed=0)[0], env.step(0)[0], env.step(0)[0]]
    outputs += [env.reset()[0], env.step(0)[0]]
    return outputs


def check_frame_stack(student_class: Any) -> Any:
    """Check a ``FrameStack`` wrapper class (its ``reset`` and ``step``)."""
    cases = [
        Case("k=4, reset then five steps", lambda c: _play(c, {"shape": (4, 4)}, 5, k=4)),
        Case("k=2", lambda c: _play(c, {"shape": (4, 4)}, 3, k=2)),
        Case("a second reset pads with the new first frame", _stack_with_second_reset),
    ]
    return check_exercise(
        "FrameStack",
        student_class,
        wrappers.FrameStack,
        cases,
        hint="after reset, fill all k slots with the first frame; on each step drop the oldest "
        "(self.frames[:-1] = self.frames[1:]), put the new frame last, and return a copy.",
    )
