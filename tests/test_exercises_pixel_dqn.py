"""Lesson 04's checks: the package's own functions pass, so do other correct answers
(wrappers written out by hand, another order that behaves the same); the typical mistakes
are caught, naming the case that shows them."""

import pytest

from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.pixel_dqn import (
    check_conv_output_size,
    check_make_atari_env,
    check_make_env_for,
)
from rlcourse.envs import make_atari_env, make_env, make_env_for
from rlcourse.networks import conv_output_size
from rlcourse.wrappers import (
    ClipReward,
    EpisodicLife,
    FrameStack,
    MaxAndSkip,
    NoopReset,
    ProcessFrame84,
)


def _by_hand(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    """The pipeline written out, wrapper by wrapper, as a student would."""
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = MaxAndSkip(NoopReset(env, noop_max=30), skip=4)
    if episodic_life:
        env = EpisodicLife(env)
    env = ProcessFrame84(env)
    if clip_rewards:
        env = ClipReward(env)
    return FrameStack(env, k=4)


def _clip_first(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    """Another order that behaves the same: must pass."""
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = MaxAndSkip(NoopReset(env, noop_max=30), skip=4)
    env = ClipReward(env) if clip_rewards else env
    env = EpisodicLife(env) if episodic_life else env
    return FrameStack(ProcessFrame84(env), k=4)


def _env_for_by_hand(env_id, *, training, render_mode=None):
    return _by_hand(env_id, episodic_life=training, clip_rewards=training,
                    render_mode=render_mode)  # fmt: skip


def _conv_by_counting(size, kernel, stride):
    return len(range(0, size - kernel + 1, stride))


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_conv_output_size, conv_output_size),
        (check_conv_output_size, _conv_by_counting),
        (check_make_atari_env, make_atari_env),
        (check_make_atari_env, _by_hand),
        (check_make_atari_env, _clip_first),
        (check_make_env_for, make_env_for),
        (check_make_env_for, _env_for_by_hand),
    ],
)
def test_correct_code_passes(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


def _stack_before_skip(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = FrameStack(ProcessFrame84(NoopReset(env, noop_max=30)), k=4)
    return ClipReward(EpisodicLife(MaxAndSkip(env, skip=4)))


def _aids_always_on(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    return _by_hand(env_id, render_mode=render_mode)


def _flags_swapped(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    return _by_hand(env_id, episodic_life=clip_rewards, clip_rewards=episodic_life,
                    render_mode=render_mode)  # fmt: skip


def _ignores_render_mode(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    return _by_hand(env_id, episodic_life=episodic_life, clip_rewards=clip_rewards)


def _training_env_only(env_id):
    """The lesson's former ``make_training_env(env_id)``."""
    return make_atari_env(env_id)


def _env_for_inverted(env_id, *, training, render_mode=None):
    return make_env_for(env_id, training=not training, render_mode=render_mode)


def _env_for_keeps_clipping(env_id, *, training, render_mode=None):
    return make_atari_env(env_id, episodic_life=training, render_mode=render_mode)


def _env_for_keeps_lives(env_id, *, training, render_mode=None):
    return make_atari_env(env_id, clip_rewards=training, render_mode=render_mode)


def _env_for_raw_game(env_id, *, training, render_mode=None):
    return make_env(env_id, render_mode=render_mode)


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_conv_output_size, lambda n, k, s: n // s, "first layer"),
        (check_conv_output_size, lambda n, k, s: (n - k) / s + 1, "does not divide evenly"),
        (check_make_atari_env, _stack_before_skip, "frames"),
        (check_make_atari_env, lambda e, **kw: _by_hand(e, episodic_life=False), "episodes end"),
        (check_make_atari_env, lambda e, **kw: _by_hand(e, clip_rewards=False), "rewards"),
        (check_make_atari_env, _aids_always_on, "episodic_life=False"),
        (check_make_atari_env, _flags_swapped, "episodic_life=False"),
        (check_make_atari_env, _ignores_render_mode, "render_mode='rgb_array'"),
        (check_make_atari_env, _training_env_only, "episodic_life=False"),
        (check_make_env_for, _env_for_inverted, "training=True"),
        (check_make_env_for, _env_for_keeps_clipping, "training=False: the rewards"),
        (check_make_env_for, _env_for_keeps_lives, "training=False: the steps"),
        (check_make_env_for, _env_for_raw_game, "training=True"),
    ],
)
def test_bugs_are_caught_with_the_case_that_shows_them(check, buggy, case, capsys):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and case in out and "Hint:" in out


def test_unfilled_exercises_are_not_attempted_and_fall_back_to_the_package(capsys):
    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    assert check_make_atari_env(unfilled) is make_atari_env
    assert check_make_env_for(unfilled) is make_env_for
    assert capsys.readouterr().out.count(NOT_ATTEMPTED) == 2
