"""Lesson 02's checks, the holes closed for issue #37: cases whose parameters made two
different rules agree. (The checks' other tests are in test_exercises.py.)"""

import cv2
import gymnasium as gym
import numpy as np
import pytest
from exercise_helpers import assert_no_answer_code

from rlcourse import wrappers
from rlcourse.course.exercises import check_frame_stack, check_max_and_skip, check_process_frame84
from rlcourse.course.exercises.core import PASSED, WRONG

# --- MaxAndSkip: the cases stepped with action 0 (NOOP) only ---------------------------------


class MaxAndSkipActionOnce(gym.Wrapper):
    """Plays the action on the first frame of the repeat, then NOOPs: with NOOP as every
    step's action (the old cases) it played exactly what the right wrapper plays."""

    def __init__(self, env, skip=4):
        super().__init__(env)
        self.skip = skip

    def step(self, action):
        frames, total = [], 0.0
        for i in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action if i == 0 else 0)
            frames.append(obs)
            total += reward
            if terminated or truncated:
                break
        return np.max(np.stack(frames[-2:]), axis=0), total, terminated, truncated, info


class MaxAndSkipPoolsEveryFrame(MaxAndSkipActionOnce):
    """Pools every frame of the repeat, not the last two."""

    def step(self, action):
        frames, total = [], 0.0
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            frames.append(obs)
            total += reward
            if terminated or truncated:
                break
        return np.max(np.stack(frames), axis=0), total, terminated, truncated, info


class MaxAndSkipIndexed(gym.Wrapper):
    """Correct: a buffer of the whole repeat, pooled by index, the action passed each time."""

    def __init__(self, env, skip=4):
        super().__init__(env)
        self.skip = skip

    def step(self, action):
        played, total = [], 0.0
        while len(played) < self.skip:
            obs, reward, terminated, truncated, info = self.env.step(action)
            played.append(obs)
            total += float(reward)
            if terminated or truncated:
                break
        pooled = played[-1] if len(played) == 1 else np.maximum(played[-2], played[-1])
        return pooled, total, terminated, truncated, info


def test_max_and_skip_the_action_is_repeated_on_every_frame(capsys):
    assert check_max_and_skip(MaxAndSkipActionOnce) is wrappers.MaxAndSkip
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "'skip=4, three steps'" in out, out
    assert "played the actions [1, 0, 0, 0]" in out and "every frame of the repeat" in out
    assert_no_answer_code(out, wrappers.MaxAndSkip)


def test_max_and_skip_pooling_every_frame_is_named(capsys):
    assert check_max_and_skip(MaxAndSkipPoolsEveryFrame) is wrappers.MaxAndSkip
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "returned the maximum of frames 2 to 4" in out, out


def test_max_and_skip_correct_code_with_the_varied_actions_passes(capsys):
    assert check_max_and_skip(MaxAndSkipIndexed) is MaxAndSkipIndexed
    assert capsys.readouterr().out.startswith(PASSED)


# --- process_frame84 -------------------------------------------------------------------------


def process_frame84_bicubic(frame, size=84):
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_CUBIC)


def test_process_frame84_bicubic_is_named(capsys):
    assert check_process_frame84(process_frame84_bicubic) is wrappers.process_frame84
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "bicubic interpolation" in out, out


# --- FrameStack: the reward, flags and info were never looked at ---------------------------


class FrameStackDeque(gym.Wrapper):
    """Correct: a deque, a fresh array per observation, everything else passed on."""

    def __init__(self, env, k=4):
        super().__init__(env)
        self.k = k
        shape = (k, *env.observation_space.shape)
        self.observation_space = gym.spaces.Box(0, 255, shape, np.uint8)
        self.frames = None

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        from collections import deque

        self.frames = deque([obs] * self.k, maxlen=self.k)
        return np.array(self.frames), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.append(obs)
        return np.array(self.frames), reward, terminated, truncated, info


class FrameStackNeverEnds(FrameStackDeque):
    """Reports every step as not terminated (the flag is not passed on)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, False, truncated, info


class FrameStackMergesFlags(FrameStackDeque):
    """Reports an end of any kind as terminated, the old Gym's done."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated or truncated, False, info


class FrameStackDropsInfo(FrameStackDeque):
    def reset(self, *, seed=None, options=None):
        obs, _ = super().reset(seed=seed, options=options)
        return obs, {}


class FrameStackZeroReward(FrameStackDeque):
    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, 0.0, terminated, truncated, info


def test_frame_stack_correct_code_passes(capsys):
    assert check_frame_stack(FrameStackDeque) is FrameStackDeque
    assert capsys.readouterr().out.startswith(PASSED)


@pytest.mark.parametrize(
    ("buggy", "says"),
    [
        (FrameStackNeverEnds, "terminated=False (expected True)"),
        (FrameStackDropsInfo, "info['frame']=None (expected 0)"),
        (FrameStackZeroReward, "reward=0.0 (expected 1.0)"),
    ],
    ids=["flag-dropped", "info-dropped", "reward-dropped"],
)
def test_frame_stack_passes_on_the_games_reward_flags_and_info(capsys, buggy, says):
    assert check_frame_stack(buggy) is wrappers.FrameStack
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "passed on unchanged" in out and says in out, out
    assert_no_answer_code(out, wrappers.FrameStack)


def test_frame_stack_merged_flags_are_caught(capsys):
    check_frame_stack(FrameStackMergesFlags)
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "'an episode cut by a time limit" in out, out
    assert "terminated=True (expected False), truncated=False (expected True)" in out
