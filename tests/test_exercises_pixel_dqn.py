import pytest

from rlcourse.agents.dqn import make_env_for
from rlcourse.envs import make_atari_env, make_env
from rlcourse.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.exercises.pixel_dqn import (
    check_conv_output_size,
    check_evaluation_env,
    check_training_env,
)
from rlcourse.networks import conv_output_size
from rlcourse.wrappers import (
    ClipReward,
    EpisodicLife,
    FrameStack,
    MaxAndSkip,
    NoopReset,
    ProcessFrame84,
)


def _by_hand(env_id, life=True, clip=True):
    """The training pipeline written out, wrapper by wrapper, as a student would."""
    env = NoopReset(make_env(env_id, obs_type="grayscale"), noop_max=30)
    env = MaxAndSkip(env, skip=4)
    if life:
        env = EpisodicLife(env)
    env = ProcessFrame84(env)
    if clip:
        env = ClipReward(env)
    return FrameStack(env, k=4)


def _clip_first(env_id):  # same behaviour, another order: must pass
    env = MaxAndSkip(NoopReset(make_env(env_id, obs_type="grayscale"), noop_max=30), skip=4)
    return FrameStack(ProcessFrame84(ClipReward(EpisodicLife(env))), k=4)


def _stack_before_skip(env_id):
    env = FrameStack(
        ProcessFrame84(NoopReset(make_env(env_id, obs_type="grayscale"), noop_max=30)), k=4
    )
    return ClipReward(EpisodicLife(MaxAndSkip(env, skip=4)))


def test_references_and_equivalent_orders_pass(capsys):
    assert check_conv_output_size(conv_output_size) is conv_output_size
    assert check_training_env(_by_hand) is _by_hand
    assert check_training_env(_clip_first) is _clip_first
    evaluation = lambda env_id: _by_hand(env_id, life=False, clip=False)  # noqa: E731
    assert check_evaluation_env(evaluation) is evaluation
    assert capsys.readouterr().out.count(PASSED) == 4


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_conv_output_size, lambda n, k, s: n // s, "first layer"),
        (check_conv_output_size, lambda n, k, s: (n - k) / s + 1, "does not divide evenly"),
        (check_training_env, _stack_before_skip, "frames"),
        (check_training_env, lambda e: _by_hand(e, life=False), "episodes end"),
        (check_training_env, lambda e: _by_hand(e, clip=False), "rewards"),
        (check_training_env, lambda e: make_env_for(e, training=False), "episodes end"),
        (check_evaluation_env, lambda e: make_env_for(e, training=True), "rewards"),
        (check_evaluation_env, lambda e: make_atari_env(e, clip_rewards=False), "episodes end"),
        (check_evaluation_env, lambda e: make_env(e), "observation space"),
    ],
)
def test_bugs_are_caught_with_the_case_that_shows_them(check, buggy, case, capsys):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    assert WRONG in out and case in out and "Hint:" in out


def test_unfilled_exercise_is_not_attempted(capsys):
    def unfilled(*args):
        raise NotImplementedError()

    check_training_env(unfilled)
    assert NOT_ATTEMPTED in capsys.readouterr().out
