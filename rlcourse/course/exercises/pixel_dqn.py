"""Checks for lesson 04 (pixel DQN): the CNN's output size, the preprocessing pipeline's
order, and what the evaluation env changes.

The two env checks compare behaviour, not code: the student's env and the reference play the
same seeded game with the same actions and must show the same frames, rewards and episode
ends. Any order of wrappers that behaves the same passes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rlcourse.exercises.core import Case, check_exercise
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

    first_obs: np.ndarray
    frame_sums: np.ndarray
    rewards: np.ndarray
    episode_ends: np.ndarray
    lives_at_ends: np.ndarray


def _rollout(env: Any, steps: int = 400, seed: int = 3) -> Rollout:
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
    return Rollout(first, np.array(sums), np.array(rewards), np.array(ends), np.array(lives))


def _episode_ends(env: Any) -> tuple[np.ndarray, np.ndarray]:
    rollout = _rollout(env)
    return rollout.episode_ends, rollout.lives_at_ends


def _describe_env(env: Any) -> Any:
    if not hasattr(env, "step") or not hasattr(env, "observation_space"):
        return f"a {type(env).__name__}, not a Gymnasium env"
    space = env.observation_space
    env.close()
    return (tuple(space.shape), str(space.dtype))


def _env_cases(what: str) -> list[Case]:
    # Most telling first: a missing wrapper shows in episode ends or rewards before frames.
    return [
        Case(f"the {what} env's observation space (shape, dtype)",
             lambda f: _describe_env(f(GAME))),
        Case("the first observation after reset(seed=3): 4 stacked 84x84 frames",
             lambda f: _rollout(f(GAME), steps=1).first_obs),
        Case("the steps at which episodes end, and the lives left then",
             lambda f: _episode_ends(f(GAME))),
        Case("the rewards over 400 steps", lambda f: _rollout(f(GAME)).rewards),
        Case("the frames over 400 steps (sum of each stacked observation)",
             lambda f: _rollout(f(GAME)).frame_sums),
    ]  # fmt: skip


def _reference_env(training: bool) -> Any:
    from rlcourse.agents.dqn import make_env_for

    return lambda env_id: make_env_for(env_id, training=training)


def check_training_env(student_function: Any) -> Any:
    """Check ``make_training_env(env_id) -> env``: the DQN training pipeline, in order."""
    return check_exercise(
        "make_training_env",
        student_function,
        _reference_env(training=True),
        _env_cases("training"),
        hint="from the inside out: make_env(env_id, obs_type='grayscale') -> "
        "NoopReset(noop_max=30) -> MaxAndSkip(skip=4) -> EpisodicLife -> ProcessFrame84 -> "
        "ClipReward -> FrameStack(k=4). Skip before stacking (the stack holds every 4th "
        "frame, max-pooled over the last two), and stack last, on the 84x84 frames.",
    )


def check_evaluation_env(student_function: Any) -> Any:
    """Check ``make_evaluation_env(env_id) -> env``: the same frames, the real game."""
    return check_exercise(
        "make_evaluation_env",
        student_function,
        _reference_env(training=False),
        _env_cases("evaluation"),
        hint="keep the frame pipeline (gray screen, noop starts, skip 4 with max-pooling, "
        "84x84, 4 frames) and drop EpisodicLife and ClipReward: an evaluation plays the whole game "
        "(all lives) and reports its real score. make_atari_env(env_id, episodic_life=False, "
        "clip_rewards=False) does exactly that.",
    )
