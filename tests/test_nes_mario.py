"""NES Super Mario Bros.: the optional gym-super-mario-bros adapter (make_mario_env).

The package needs Python >= 3.13: on the course's usual Python the tests check the
missing-package error and everything decided before the package is needed; the tests that
play the game are skipped unless the package is installed.
"""

import importlib.util
import re

import gymnasium as gym
import numpy as np
import pytest

from rlcourse.envs import (
    NES_MARIO_ACTIONS,
    MissingDependencyError,
    is_nes_mario,
    make_env,
    make_mario_env,
)
from rlcourse.toy_envs import FrameCounterEnv, frame_at
from rlcourse.wrappers import CopyFrames, MaxAndSkip

HAS_PACKAGE = importlib.util.find_spec("gym_super_mario_bros") is not None
STAGE = "SuperMarioBros-1-1-v0"


@pytest.fixture(scope="module")
def mario():
    """The package's module; skips the test where it is not installed."""
    return pytest.importorskip(
        "gym_super_mario_bros",
        reason="NES Super Mario needs gym-super-mario-bros >= 9 (Python >= 3.13)",
    )


class ScreenBufferEnv(FrameCounterEnv):
    """Like nes-py: every frame is drawn into one array, and that array is handed out."""

    def __init__(self, **kwargs):
        super().__init__(render_mode="rgb_array", **kwargs)
        self.screen = np.zeros(self.shape, np.uint8)

    def _obs(self):
        self.screen[...] = super()._obs()
        return self.screen

    def render(self):
        return self.screen


# --- everywhere: no package needed ------------------------------------------------------


@pytest.mark.parametrize(
    "env_id",
    [
        STAGE,
        "SuperMarioBros-v0",
        "SuperMarioBros1-1-v0",
        "SuperMarioBros2-A-1-v0",
        "SuperMarioBros2USA-7-2-v0",
        "SuperMarioBros3-1-1-v0",
        "SuperMarioBrosRandomStages-v0",
    ],
)
def test_is_nes_mario_knows_the_package_ids(env_id):
    assert is_nes_mario(env_id)


@pytest.mark.parametrize("env_id", ["ALE/MarioBros-v5", "CartPole-v1", "SuperMarioBros", "Mario"])
def test_is_nes_mario_refuses_other_ids(env_id):
    assert not is_nes_mario(env_id)


def test_is_nes_mario_checks_the_type():
    with pytest.raises(TypeError, match="got 11"):
        is_nes_mario(11)


@pytest.mark.skipif(HAS_PACKAGE, reason="gym-super-mario-bros is installed")
def test_without_the_package_the_error_says_what_to_install():
    for make in (make_mario_env, make_env):
        with pytest.raises(MissingDependencyError, match=r"pip install 'gym-super-mario-bros>=9'"):
            make(STAGE)
    with pytest.raises(MissingDependencyError, match="ALE/MarioBros-v5"):
        make_mario_env(STAGE, actions="simple_movement")
    assert issubclass(MissingDependencyError, ImportError)


def test_make_mario_env_refuses_other_games():
    with pytest.raises(ValueError, match=r"'ALE/MarioBros-v5' is not NES .* make_atari_env"):
        make_mario_env("ALE/MarioBros-v5")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"actions": "fast"},
            ValueError,
            r"actions='fast'.*presets \['complex_movement', 'right_only', 'simple_movement'\]",
        ),
        ({"actions": []}, ValueError, r"non-empty list of button combinations, got \[\]"),
        ({"actions": [["right", "jump"]]}, ValueError, r"\['right', 'jump'\] is not a comb"),
        ({"actions": ["right", "right A", "A right"]}, ValueError, "distinct button combin"),
        ({"actions": [3]}, TypeError, "got 3"),
        ({"frame_skip": 0}, ValueError, "frame_skip must be >= 1, got 0"),
        ({"frame_stack": 2.5}, TypeError, r"frame_stack must be an int, got 2.5"),
    ],
)
def test_bad_arguments_are_refused_before_the_package_is_needed(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_mario_env(STAGE, **kwargs)


def test_the_tutorial_action_set_is_right_and_right_jump():
    assert NES_MARIO_ACTIONS["right_only"] == (("right",), ("right", "A"))
    names = ("right_only", "simple_movement", "complex_movement")
    assert [len(NES_MARIO_ACTIONS[name]) for name in names] == [2, 7, 12]


@pytest.mark.skipif(HAS_PACKAGE, reason="the tests below play the package's game")
def test_a_nes_action_set_reaches_the_joypad(monkeypatch):
    # Without the package (CI): stand-ins for it and for nes-py's JoypadSpace, so that
    # make_env's refusal of ALE-only options is checked to let a NES action set through.
    import sys
    import types

    class JoypadSpace(gym.Wrapper):
        def __init__(self, env, actions):
            super().__init__(env)
            self.buttons = actions

    package = types.ModuleType("gym_super_mario_bros")
    package.make = lambda **kwargs: ScreenBufferEnv()
    wrappers = types.ModuleType("nes_py.wrappers")
    wrappers.JoypadSpace = JoypadSpace
    monkeypatch.setitem(sys.modules, "gym_super_mario_bros", package)
    monkeypatch.setitem(sys.modules, "nes_py", types.ModuleType("nes_py"))
    monkeypatch.setitem(sys.modules, "nes_py.wrappers", wrappers)
    spec = gym.envs.registration.EnvSpec(STAGE, entry_point="gym_super_mario_bros:make")
    monkeypatch.setitem(gym.registry, STAGE, spec)
    env = make_env(STAGE, actions="right_only")
    assert isinstance(env, JoypadSpace) and isinstance(env.env, CopyFrames)
    assert env.buttons == [list(combo) for combo in NES_MARIO_ACTIONS["right_only"]]
    with pytest.raises(TypeError, match="only apply to ALE games"):
        make_env(STAGE, frameskip=4)


def test_copy_frames_lets_max_and_skip_pool_a_shared_screen_buffer():
    shape = (4, 6)
    pooled = np.maximum(frame_at(1003, shape), frame_at(1004, shape))  # frames 3, 4 of game 1
    shared = MaxAndSkip(ScreenBufferEnv(shape=shape), skip=4)
    shared.reset(seed=0)
    assert not np.array_equal(shared.step(0)[0], pooled)  # both "frames" are the last one
    copied = MaxAndSkip(CopyFrames(ScreenBufferEnv(shape=shape)), skip=4)
    copied.reset(seed=0)
    np.testing.assert_array_equal(copied.step(0)[0], pooled)


def test_copy_frames_copies_observations_and_rendered_frames():
    env = CopyFrames(ScreenBufferEnv(shape=(4, 6)))
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 6), np.uint8)
    first, _ = env.reset(seed=0)
    frame = env.render()
    second, *_ = env.step(0)
    assert first in env.observation_space and second in env.observation_space
    assert not np.shares_memory(first, second) and not np.array_equal(first, second)
    assert not np.shares_memory(frame, env.render())


# --- with gym-super-mario-bros (Python >= 3.13) ---------------------------------------


def test_make_mario_env_observations_match_the_space(mario):
    env = make_mario_env(STAGE)
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert env.action_space == gym.spaces.Discrete(2)
    assert env.get_wrapper_attr("get_action_meanings")() == ["right", "right A"]
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space and info["x_pos"] > 0
    x_start, rewards = info["x_pos"], []
    for _ in range(8):  # running right: Mario meets the first Goomba later than this
        obs, reward, terminated, truncated, info = env.step(0)
        assert obs in env.observation_space
        assert type(terminated) is bool and type(truncated) is bool
        assert not (terminated or truncated)
        rewards.append(float(reward))
    assert sum(rewards) > 0 and info["x_pos"] > x_start  # the package rewards moving right
    assert not np.array_equal(obs[0], obs[-1])
    env.close()


def test_action_presets_are_the_package_sets(mario):
    from gym_super_mario_bros.actions import COMPLEX_MOVEMENT, SIMPLE_MOVEMENT

    assert [list(combo) for combo in NES_MARIO_ACTIONS["simple_movement"]] == SIMPLE_MOVEMENT
    assert [list(combo) for combo in NES_MARIO_ACTIONS["complex_movement"]] == COMPLEX_MOVEMENT
    env = make_env(STAGE, actions="simple_movement")
    assert env.action_space == gym.spaces.Discrete(7)
    assert make_env(STAGE).action_space == gym.spaces.Discrete(256)  # the raw controller byte
    env.close()


def test_raw_frames_and_renders_are_copies_and_truncation_counts_frames(mario):
    env = make_env(STAGE, render_mode="rgb_array", actions=["right", ["right", "A", "B"]])
    assert env.observation_space == gym.spaces.Box(0, 255, (240, 256, 3), np.uint8)
    first, _ = env.reset(seed=0)
    frame = env.render()
    second, *_ = env.step(1)
    assert frame.shape == (240, 256, 3)
    assert not np.shares_memory(first, second) and not np.shares_memory(frame, env.render())
    env.close()
    short = make_mario_env(STAGE, actions="simple_movement", max_episode_steps=8)
    short.reset(seed=0)
    assert short.step(1)[2:4] == (False, False)
    assert short.step(1)[2:4] == (False, True)  # 2 steps of 4 frames
    short.close()


def test_env_for_nes_ids_is_the_tutorial_pipeline():
    from rlcourse.envs import make_env_for

    if not HAS_PACKAGE:
        with pytest.raises(MissingDependencyError, match="gym-super-mario-bros"):
            make_env_for("SuperMarioBros-1-1-v0", training=True)
        return
    env = make_env_for("SuperMarioBros-1-1-v0", training=True)  # pragma: no cover
    assert env.observation_space.shape == (4, 84, 84) and env.action_space.n == 2


def test_nes_ids_train_with_the_pixel_preset():
    from rlcourse.agents.dqn import default_preset

    assert default_preset("SuperMarioBros-1-1-v0") == "atari"
    assert default_preset("ALE/MarioBros-v5") == "atari"
    assert default_preset("CartPole-v1") == "cartpole"


def test_evaluate_reports_how_far_mario_got_and_the_flags(mario, tmp_path, capsys):
    from rlcourse.cli import main
    from rlcourse.evaluation import evaluate_checkpoint

    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "dqn",
                "--env",
                STAGE,
                "--actions",
                "right_only",
                "--total-steps",
                "40",
                "--learning-starts",
                "20",
                "--batch-size",
                "4",
                "--buffer-size",
                "100",
                "--no-progress",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    result = evaluate_checkpoint(str(run / "final.pt"), episodes=2, max_steps=60, vs_random=True)
    for progress in (result.progress, result.random_progress):
        assert sorted(progress) == ["flag_get", "x_pos"]
        assert (progress["x_pos"] >= 40).all()  # stage 1-1 starts at x_pos 40
        assert (progress["flag_get"] == 0).all()
    capsys.readouterr()
    argv = ["evaluate", str(run / "final.pt"), "--episodes", "2", "--max-steps", "60"]
    assert main([*argv, "--vs-random"]) == 0
    out = capsys.readouterr().out
    for who in ("random", "agent"):
        assert re.search(
            who + r": distance reached \(x_pos\): [\d.]+ \+- [\d.]+ over 2 games, "
            r"furthest \d+; flags: 0 of 2",
            out,
        ), out


def test_the_shipped_agent_runs_further_right_than_random_play(mario):
    # rlcourse/pretrained/ddqn_nes_mario.pt on 2 short test games (its 20-game scores ship in
    # ddqn_nes_mario_scores.csv: tests/test_experiment_nes_mario.py).
    from rlcourse import pretrained
    from rlcourse.evaluation import TEST_SEED, evaluate_checkpoint

    result = evaluate_checkpoint(
        pretrained.path("ddqn_nes_mario.pt"),
        episodes=2,
        seed=TEST_SEED,
        max_steps=150,
        vs_random=True,
    )
    assert result.progress["x_pos"].mean() > result.random_progress["x_pos"].mean()
