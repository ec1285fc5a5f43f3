import gymnasium as gym
import numpy as np
import pytest

from rlcourse.envs import (
    UnknownEnvError,
    check_env_id,
    env_for_checkpoint,
    is_atari,
    list_atari_games,
    make_atari_env,
    make_env,
    make_env_for,
    make_kungfu_env,
)
from rlcourse.wrappers import ClipReward, EpisodicLife, FireReset


def test_make_env_cartpole_uses_the_gymnasium_1_api():
    env = make_env("CartPole-v1")
    obs, info = env.reset(seed=0)
    assert obs.shape == (4,) and isinstance(info, dict)
    assert len(env.step(0)) == 5


def test_make_env_ale_defaults_no_frameskip_no_sticky_actions():
    env = make_env("ALE/MsPacman-v5")
    assert env.unwrapped._frameskip == 1
    # Deterministic: the same actions from the same seed give the same frames.
    runs = []
    for _ in range(2):
        env.reset(seed=3)
        runs.append([env.step(a % 9)[0] for a in range(50)][-1])
    assert np.array_equal(*runs)


def test_sticky_actions_are_a_visible_argument():
    env = make_env("ALE/MsPacman-v5", repeat_action_probability=0.25)
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("bad_id", "suggestion"),
    [
        ("ALE/MsPacmn-v5", "'ALE/MsPacman-v5'"),
        ("CartPole-v2", "'CartPole-v1'"),
        ("cartpole-v1", "'CartPole-v1'"),
        ("MsPacman-v5", "'ALE/MsPacman-v5'"),
    ],
)
def test_unknown_ids_list_close_matches(bad_id, suggestion):
    with pytest.raises(UnknownEnvError, match=f"Unknown environment id '{bad_id}'.*{suggestion}"):
        make_env(bad_id)


def test_removed_classic_ids_say_what_replaced_them():
    with pytest.raises(UnknownEnvError, match="removed.*'ALE/KungFuMaster-v5'"):
        check_env_id("KungFuMasterDeterministic-v0")


def test_unknown_env_error_is_a_value_error_and_type_is_checked():
    assert issubclass(UnknownEnvError, ValueError)
    with pytest.raises(TypeError, match="env id must be a str"):
        check_env_id(42)


def test_ale_only_arguments_are_refused_for_other_envs():
    with pytest.raises(TypeError, match="repeat_action_probability only apply to ALE games"):
        make_env("CartPole-v1", repeat_action_probability=0.25)


def test_make_atari_env_refuses_non_atari_ids():
    with pytest.raises(ValueError, match="'CartPole-v1' is not an ALE game.*make_env"):
        make_atari_env("CartPole-v1")


def test_atari_helpers():
    assert is_atari("ALE/Breakout-v5") and not is_atari("CartPole-v1")
    games = list_atari_games()
    assert "ALE/MsPacman-v5" in games and "ALE/MarioBros-v5" in games
    assert all(name.startswith("ALE/") and "-ram" not in name for name in games)


def _wrapper_types(env: gym.Env) -> list[type]:
    types = []
    while isinstance(env, gym.Wrapper):
        types.append(type(env))
        env = env.env
    return types


def test_fire_reset_is_added_only_for_games_that_need_it():
    assert FireReset in _wrapper_types(make_atari_env("ALE/Breakout-v5"))
    assert FireReset not in _wrapper_types(make_atari_env("ALE/MsPacman-v5"))


@pytest.mark.parametrize("game", ["ALE/MsPacman-v5", "ALE/Breakout-v5", "ALE/Pong-v5"])
def test_make_atari_env_observations_match_the_space(game):
    env = make_atari_env(game)
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    rng = np.random.default_rng(0)
    for _ in range(30):
        obs, reward, terminated, truncated, _ = env.step(rng.integers(env.action_space.n))
        assert obs in env.observation_space
        assert reward in (-1.0, 0.0, 1.0)


def test_make_atari_env_options_change_the_observation():
    env = make_atari_env("ALE/MsPacman-v5", frame_stack=2, screen_size=64, scale=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 64, 64) and obs.dtype == np.float32 and obs.max() <= 1.0
    assert obs in env.observation_space


def test_reduced_mario_action_sets():
    env = make_atari_env("ALE/MarioBros-v5", actions="right_only")
    assert env.action_space == gym.spaces.Discrete(2)
    assert env.get_action_meanings() == ["RIGHT", "RIGHTFIRE"]
    raw = make_env("ALE/MarioBros-v5", actions=["NOOP", "LEFT"])
    raw.reset(seed=0)
    assert raw.action(1) == raw.unwrapped.get_action_meanings().index("LEFT")
    with pytest.raises(ValueError, match=r"actions \['JUMP'\] are not in this game's set"):
        make_env("ALE/MarioBros-v5", actions=["JUMP"])
    with pytest.raises(ValueError, match="one of the presets"):
        make_env("ALE/MarioBros-v5", actions="fast")


def test_nes_super_mario_needs_its_package():
    try:
        import gym_super_mario_bros  # noqa: F401
    except ImportError:
        from rlcourse.envs import MissingDependencyError

        with pytest.raises(MissingDependencyError, match=r"pip install 'gym-super-mario-bros>=9'"):
            make_env("SuperMarioBros-1-1-v0")
    else:  # pragma: no cover - needs Python >= 3.13 and the package
        env = make_env("SuperMarioBros-1-1-v0")
        obs, _ = env.reset(seed=0)
        assert obs.ndim == 3


def test_kungfu_env_is_cropped_gray_42x42():
    env = make_kungfu_env()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1, 42, 42) and obs.dtype == np.uint8
    assert obs in env.observation_space
    stacked = make_kungfu_env(frame_stack=4, screen_size=32)
    assert stacked.observation_space.shape == (4, 32, 32)
    assert env.unwrapped.get_action_meanings()[0] == "NOOP" and env.action_space.n == 14
    assert FireReset not in _wrapper_types(env) and EpisodicLife not in _wrapper_types(env)
    assert EpisodicLife in _wrapper_types(make_kungfu_env(episodic_life=True))
    assert ClipReward not in _wrapper_types(env)  # the game's points: 100, 200, ...


@pytest.mark.parametrize("training", [True, False])
def test_make_env_for_atari_clips_and_cuts_lives_only_in_training(training):
    env = make_env_for("ALE/Breakout-v5", training=training)
    assert (EpisodicLife in _wrapper_types(env)) == training
    assert (ClipReward in _wrapper_types(env)) == training
    assert env.observation_space.shape == (4, 84, 84)
    kept = make_env_for("ALE/Breakout-v5", training=training, episodic_life=False)
    assert EpisodicLife not in _wrapper_types(kept)


def test_make_env_for_other_ids_and_options():
    assert make_env_for("CartPole-v1", training=True).observation_space.shape == (4,)
    mario = make_env_for("ALE/MarioBros-v5", training=False, actions="right_only")
    assert mario.action_space.n == 2
    with pytest.raises(TypeError, match="positional argument"):
        make_env_for("CartPole-v1", True)  # keyword-only: make_env_for(id, training=...)


def test_env_for_checkpoint_uses_the_saved_id_and_options():
    payload = {"env_id": "ALE/MarioBros-v5", "env_options": {"actions": "right_only"}}
    assert env_for_checkpoint(payload).action_space.n == 2
    assert EpisodicLife not in _wrapper_types(env_for_checkpoint(payload))
    assert EpisodicLife in _wrapper_types(env_for_checkpoint(payload, training=True))
    from rlcourse.pretrained import path
    from rlcourse.registry import load_policy

    policy = load_policy(path("dqn_cartpole.pt"))
    assert env_for_checkpoint(policy).spec.id == "CartPole-v1"
    assert env_for_checkpoint(policy.checkpoint).spec.id == "CartPole-v1"
