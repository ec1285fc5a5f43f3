"""Checks for lesson 04 (pixel DQN): the CNN's output size, the preprocessing pipeline's
order, and what the evaluation env changes.

The references are the package's own functions (:func:`rlcourse.networks.conv_output_size`,
:func:`rlcourse.envs.make_atari_env`, :func:`rlcourse.envs.make_env_for`), called as the
student's. The two env checks compare behaviour, not code: the student's env and the
reference play the same seeded game with the same actions and must show the same frames,
rewards and episode ends. Any order of wrappers that behaves the same passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from rlcourse.course.exercises.core import Case, check_exercise
from rlcourse.envs import make_atari_env, make_env_for
from rlcourse.networks import conv_output_size

GAME = "ALE/MsPacman-v5"


def _nature_flat_size(f: Any) -> Any:
    side = 84
    for kernel, stride in ((8, 4), (4, 2), (3, 1)):
        side = f(side, kernel, stride)
    return 64 * side * side


def check_conv_output_size(student_function: Any) -> Any:
    """Check ``conv_output_size(size, kernel, stride) -> int`` (no padding)."""
    cases = [
        Case("the Nature CNN's first layer: 84, kernel 8, stride 4", lambda f: f(84, 8, 4)),
        Case("second layer: 20, kernel 4, stride 2", lambda f: f(20, 4, 2)),
        Case("third layer: 9, kernel 3, stride 1", lambda f: f(9, 3, 1)),
        Case("a stride that does not divide evenly: 10, kernel 3, stride 2", lambda f: f(10, 3, 2)),
        Case("kernel as large as the input: one position", lambda f: f(7, 7, 3)),
        Case("the flattened size 64 x 7 x 7 after the three layers", _nature_flat_size),
    ]
    return check_exercise(
        "conv_output_size",
        student_function,
        conv_output_size,
        cases,
        hint="the kernel fits at positions 0, stride, 2*stride, ... up to size - kernel: "
        "(size - kernel) // stride + 1 (integer division: a partial step does not count).",
    )


class Rollout(NamedTuple):
    """What an env showed over a fixed sequence of actions."""

    space: Any
    first_obs: Any
    frame_sums: Any
    rewards: Any
    episode_ends: Any
    lives_at_ends: Any


def _rollout(env: Any, steps: int = 400, seed: int = 3) -> Rollout:
    if not hasattr(env, "step") or not hasattr(env, "observation_space"):
        return Rollout(f"a {type(env).__name__}, not a Gymnasium env", *[None] * 5)
    space = (tuple(env.observation_space.shape), str(env.observation_space.dtype))
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=steps)
    obs, _ = env.reset(seed=seed)
    first = np.asarray(obs)
    sums, rewards, ends, lives = [], [], [], []
    for t, action in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(int(action))
        sums.append(int(np.asarray(obs, dtype=np.int64).sum()))
        rewards.append(float(reward))
        if terminated or truncated:
            ends.append(t)
            lives.append(int(info.get("lives", -1)))
            obs, _ = env.reset()
    env.close()
    return Rollout(space, first, np.array(sums), np.array(rewards), np.array(ends),
                   np.array(lives))  # fmt: skip


def _player(make: Callable[[Any], Any]) -> Callable[[Any], Rollout]:
    """``play(f)``: the rollout of the env ``make(f)``, played once per implementation ``f``
    however many cases look at it (an Atari rollout takes a good fraction of a second)."""
    played: dict[Any, Rollout] = {}

    def play(f: Any) -> Rollout:
        if f not in played:
            played[f] = _rollout(make(f))
        return played[f]

    return play


def _first_render_shape(env: Any) -> Any:
    env.reset(seed=0)
    frame = env.render()
    env.close()
    return None if frame is None else np.shape(frame)


def _env_cases(make: Callable[[Any], Any], what: str) -> list[Case]:
    """Cases that play ``make(f)``: the env an implementation ``f`` makes for ``what``."""
    play = _player(make)
    # Most telling first: a missing wrapper shows in episode ends or rewards before frames.
    return [
        Case(f"{what}: the observation space (shape, dtype)", lambda f: play(f).space),
        Case(f"{what}: the first observation after reset(seed=3), 4 stacked 84x84 frames",
             lambda f: play(f).first_obs),
        Case(f"{what}: the steps at which episodes end, and the lives left then",
             lambda f: (play(f).episode_ends, play(f).lives_at_ends)),
        Case(f"{what}: the rewards over 400 steps", lambda f: play(f).rewards),
        Case(f"{what}: the frames over 400 steps (sum of each stacked observation)",
             lambda f: play(f).frame_sums),
    ]  # fmt: skip


def _outcome_cases(make: Callable[[Any], Any], what: str) -> list[Case]:
    """The episode ends and rewards of ``make(f)``: what the training aids change."""
    play = _player(make)
    return [
        Case(f"{what}: the steps at which episodes end, and the lives left then",
             lambda f: (play(f).episode_ends, play(f).lives_at_ends)),
        Case(f"{what}: the rewards over 400 steps", lambda f: play(f).rewards),
    ]  # fmt: skip


def check_make_atari_env(student_function: Any) -> Any:
    """Check ``make_atari_env(env_id, *, episodic_life=True, clip_rewards=True,
    render_mode=None) -> env``: the DQN papers' pipeline, in order, with its training aids."""
    cases = [
        *_env_cases(lambda f: f(GAME), f"make_atari_env({GAME!r})"),
        *_outcome_cases(lambda f: f(GAME, episodic_life=False), "episodic_life=False"),
        *_outcome_cases(lambda f: f(GAME, clip_rewards=False), "clip_rewards=False"),
        Case("render_mode='rgb_array': the frame render() shows",
             lambda f: _first_render_shape(f(GAME, render_mode="rgb_array"))),
    ]  # fmt: skip
    return check_exercise(
        "make_atari_env",
        student_function,
        make_atari_env,
        cases,
        hint="from the inside out: make_env(env_id, obs_type='grayscale') -> "
        "NoopReset(noop_max=30) -> MaxAndSkip(skip=4) -> EpisodicLife (if episodic_life) -> "
        "ProcessFrame84 -> ClipReward (if clip_rewards) -> FrameStack(k=4). Skip before "
        "stacking (the stack holds every 4th frame, max-pooled over the last two), and stack "
        "last, on the 84x84 frames.",
    )


def check_make_env_for(student_function: Any) -> Any:
    """Check ``make_env_for(env_id, *, training, render_mode=None) -> env`` on an ALE game:
    the training aids in training only, the same frames in both."""
    cases = [
        *_outcome_cases(lambda f: f(GAME, training=True), "training=True"),
        *_env_cases(lambda f: f(GAME, training=False), "training=False"),
        Case("training=False, render_mode='rgb_array': the frame render() shows",
             lambda f: _first_render_shape(f(GAME, training=False, render_mode="rgb_array"))),
    ]  # fmt: skip
    return check_exercise(
        "make_env_for",
        student_function,
        make_env_for,
        cases,
        hint="keep the frame pipeline (gray screen, noop starts, skip 4 with max-pooling, "
        "84x84, 4 frames) and keep EpisodicLife and ClipReward for training only: an "
        "evaluation plays the whole game (all lives) and reports its real score. "
        "make_atari_env(env_id, episodic_life=training, clip_rewards=training, "
        "render_mode=render_mode) does exactly that.",
    )
