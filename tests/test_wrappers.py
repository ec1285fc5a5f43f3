import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from rlcourse.envs import make_atari_env, make_env
from rlcourse.toy_envs import FrameCounterEnv, frame_at
from rlcourse.wrappers import (
    ClipReward,
    Crop,
    EpisodicLife,
    FireReset,
    FrameStack,
    ImageToPyTorch,
    MaxAndSkip,
    NoopReset,
    ProcessFrame84,
    ScaledFloatFrame,
    process_frame84,
)

WRAPPER_CASES = {
    "MaxAndSkip": (lambda e: MaxAndSkip(e, skip=4), (210, 160, 3)),
    "ProcessFrame84 rgb": (ProcessFrame84, (210, 160, 3)),
    "ProcessFrame84 gray": (ProcessFrame84, (210, 160)),
    "ProcessFrame84 gray+channel": (ProcessFrame84, (210, 160, 1)),
    "FrameStack": (lambda e: FrameStack(e, k=4), (84, 84)),
    "FrameStack zero": (lambda e: FrameStack(e, k=3, padding="zero"), (2, 5, 5)),
    "ImageToPyTorch": (ImageToPyTorch, (210, 160, 3)),
    "ScaledFloatFrame": (ScaledFloatFrame, (84, 84)),
    "Crop": (lambda e: Crop(e, top=60, bottom=30, left=15), (210, 160, 3)),
    "NoopReset": (NoopReset, (84, 84)),
    "FireReset": (FireReset, (84, 84)),
    "EpisodicLife": (EpisodicLife, (84, 84)),
    "ClipReward": (ClipReward, (84, 84)),
}


@pytest.mark.parametrize("name", list(WRAPPER_CASES))
def test_observation_space_matches_observations(name):
    make_wrapper, shape = WRAPPER_CASES[name]
    env = make_wrapper(FrameCounterEnv(shape=shape, episode_length=50, life_length=7))
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space, (obs.shape, obs.dtype, env.observation_space)
    for _ in range(20):
        obs, _, terminated, truncated, _ = env.step(0)
        assert obs in env.observation_space
        if terminated or truncated:
            env.reset()


def test_real_game_observations_match_each_space():
    env = make_env("ALE/KungFuMaster-v5")
    for wrapper in (
        lambda e: Crop(e, top=60, bottom=30, left=15),
        ProcessFrame84,
        lambda e: FrameStack(e, 4),
        ScaledFloatFrame,
    ):
        env = wrapper(env)
        obs, _ = env.reset(seed=0)
        assert obs in env.observation_space
        assert env.step(0)[0] in env.observation_space
    assert env.observation_space.shape == (4, 84, 84)


# --- MaxAndSkip -------------------------------------------------------------------------


def test_max_and_skip_sums_rewards_and_pools_the_last_two_frames():
    env = MaxAndSkip(FrameCounterEnv(shape=(6, 5)), skip=4)
    env.reset(seed=0)
    offset = 1000  # FrameCounterEnv shifts each episode's frames by 1000 * resets
    obs, reward, terminated, truncated, info = env.step(2)
    assert reward == 1 + 2 + 3 + 4
    assert info["frame"] == 4 and env.unwrapped.actions == [2, 2, 2, 2]
    expected = np.maximum(frame_at(offset + 3, (6, 5)), frame_at(offset + 4, (6, 5)))
    assert np.array_equal(obs, expected)
    assert not np.array_equal(obs, frame_at(offset + 4, (6, 5)))  # pooling is visible


def test_max_and_skip_stops_at_termination_inside_a_repeat():
    env = MaxAndSkip(FrameCounterEnv(shape=(6, 5), episode_length=6), skip=4)
    env.reset(seed=0)
    env.step(0)
    obs, reward, terminated, truncated, _ = env.step(0)
    assert (reward, terminated, truncated) == (5 + 6, True, False)
    assert env.unwrapped.t == 6, "a finished game must not be stepped again"
    # frames 5 and 6 are not the last two of the 4-frame window: the final frame alone.
    assert np.array_equal(obs, frame_at(1000 + 6, (6, 5)))


def test_max_and_skip_stops_at_truncation_and_keeps_flags_apart():
    env = MaxAndSkip(FrameCounterEnv(shape=(6, 5), truncate_at=3), skip=4)
    env.reset(seed=0)
    _, reward, terminated, truncated, _ = env.step(0)
    assert (reward, terminated, truncated) == (6.0, False, True)


def test_max_and_skip_of_one_is_the_plain_env():
    env = MaxAndSkip(FrameCounterEnv(shape=(6, 5)), skip=1)
    env.reset(seed=0)
    obs, reward, *_ = env.step(0)
    assert reward == 1.0 and np.array_equal(obs, frame_at(1001, (6, 5)))


@pytest.mark.parametrize("game", ["ALE/Breakout-v5", "ALE/MsPacman-v5"])
def test_emulator_fast_path_equals_the_plain_path(game):
    fast = MaxAndSkip(make_env(game, obs_type="grayscale"), skip=4)
    plain = MaxAndSkip(make_env(game, obs_type="grayscale"), skip=4)
    plain._ale_env = None  # force frame-by-frame env.step calls
    assert fast._ale_env is not None
    rng = np.random.default_rng(0)
    fast.reset(seed=1)
    plain.reset(seed=1)
    episodes = 0
    for _ in range(1500 if "Breakout" in game else 800):
        action = rng.integers(fast.action_space.n)
        a, b = fast.step(action), plain.step(action)
        assert np.array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
        assert a[4]["lives"] == b[4]["lives"]
        if a[2] or a[3]:
            episodes += 1
            fast.reset()
            plain.reset()
    if "Breakout" in game:
        assert episodes >= 2, "the comparison should cover episode ends"


def test_fast_path_is_off_when_a_wrapper_below_needs_every_frame():
    env = MaxAndSkip(make_env("ALE/Pong-v5", max_episode_steps=100), skip=4)
    assert env._ale_env is None  # a TimeLimit counts frames
    env.reset(seed=0)
    steps = 0
    while not env.step(0)[3]:
        steps += 1
    assert steps == 24  # 100 frames / 4, truncated on the 25th step


# --- resets, lives, rewards ---------------------------------------------------------------


def test_noop_reset_plays_a_seeded_random_number_of_noops():
    counts = []
    for seed in range(8):
        env = NoopReset(FrameCounterEnv(shape=(4, 4)), noop_max=30)
        _, info = env.reset(seed=seed)
        assert set(env.unwrapped.actions) == {0}
        assert 1 <= info["frame"] <= 30
        counts.append(info["frame"])
        again = NoopReset(FrameCounterEnv(shape=(4, 4)), noop_max=30)
        assert again.reset(seed=seed)[1]["frame"] == info["frame"]
    assert len(set(counts)) > 1


def test_noop_reset_resets_again_when_the_noops_end_the_game():
    env = NoopReset(FrameCounterEnv(shape=(4, 4), episode_length=1), noop_max=30)
    _, info = env.reset(seed=0)
    # Every NOOP ends this game, and each time a fresh one starts: never a finished game back.
    assert info["frame"] == 0 and env.unwrapped.resets > 1


def test_noop_reset_needs_noop_first():
    env = make_env("ALE/MsPacman-v5")
    env.unwrapped.get_action_meanings = lambda: ["UP", "NOOP"]
    with pytest.raises(ValueError, match="action 0 to be NOOP"):
        NoopReset(env)


def test_fire_reset_presses_fire_and_refuses_games_without_it():
    env = FireReset(FrameCounterEnv(shape=(4, 4)))
    env.reset(seed=0)
    assert env.unwrapped.actions == [1, 2]
    with pytest.raises(ValueError, match=r"action 1 to be FIRE.*\['NOOP', 'UP'"):
        FireReset(make_env("ALE/MsPacman-v5"))


def test_fire_reset_starts_breakout():
    env = FireReset(make_env("ALE/Breakout-v5"))
    obs, _ = env.reset(seed=0)
    # After FIRE the ball is in play: the screen changes without any further input.
    later = obs
    for _ in range(60):
        later = env.step(0)[0]
    assert not np.array_equal(obs, later)


def test_episodic_life_ends_an_episode_per_life_but_resets_only_at_game_over():
    env = EpisodicLife(FrameCounterEnv(shape=(4, 4), life_length=3, lives=2))
    env.reset(seed=0)
    flags = [env.step(0)[2] for _ in range(3)]
    assert flags == [False, False, True]
    _, info = env.reset()
    assert env.unwrapped.resets == 1 and info["lives"] == 1 and info["frame"] == 4
    flags = [env.step(0)[2] for _ in range(2)]
    assert flags == [False, True]  # frame 6: last life lost, game over
    env.reset()
    assert env.unwrapped.resets == 2


def test_episodic_life_on_a_real_game():
    env = EpisodicLife(MaxAndSkip(make_env("ALE/MsPacman-v5"), skip=4))
    _, info = env.reset(seed=0)
    lives = info["lives"]
    rng = np.random.default_rng(0)
    for _ in range(3000):
        _, _, terminated, truncated, info = env.step(rng.integers(9))
        if terminated:
            break
    assert terminated and 0 < info["lives"] < lives
    frame_number = info["episode_frame_number"]
    _, info = env.reset()
    assert info["episode_frame_number"] > frame_number, "a lost life must not restart the game"


def test_clip_reward_keeps_the_sign():
    env = ClipReward(FrameCounterEnv(shape=(4, 4)))
    assert [env.reward(r) for r in (-7.5, 0.0, 200.0)] == [-1.0, 0.0, 1.0]


# --- the other observation wrappers ------------------------------------------------------


def test_frame_stack_returns_copies_and_pads():
    env = FrameStack(FrameCounterEnv(shape=(2, 2)), k=3)
    first, _ = env.reset(seed=0)
    first_copy = first.copy()
    second = env.step(0)[0]
    assert np.array_equal(first, first_copy), "returned stacks must not change afterwards"
    assert np.array_equal(second[:2], first[1:]) and np.array_equal(second[0], second[1])
    zero = FrameStack(FrameCounterEnv(shape=(2, 2)), k=3, padding="zero")
    obs, _ = zero.reset(seed=0)
    assert not obs[:2].any() and obs[2].any()


def test_process_frame84_uses_gray_and_inter_area():
    import cv2

    frame = np.random.default_rng(0).integers(0, 256, (210, 160, 3), dtype=np.uint8)
    expected = cv2.resize(
        cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (84, 84), interpolation=cv2.INTER_AREA
    )
    assert np.array_equal(process_frame84(frame), expected)


def test_image_to_pytorch_scaled_float_and_crop_values():
    env = FrameCounterEnv(shape=(210, 160, 3))
    raw, _ = env.reset(seed=0)
    assert np.array_equal(ImageToPyTorch(env).observation(raw), raw.transpose(2, 0, 1))
    scaled = ScaledFloatFrame(FrameCounterEnv(shape=(4, 4))).observation(raw[:4, :4, 0])
    assert scaled.dtype == np.float32 and np.allclose(scaled * 255, raw[:4, :4, 0])
    assert np.array_equal(Crop(env, top=60, bottom=30, left=15).observation(raw), raw[60:-30, 15:])


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda e: MaxAndSkip(e, skip=0), ValueError, "skip must be >= 1, got 0"),
        (lambda e: MaxAndSkip(e, skip=2.5), TypeError, r"skip must be an int, got 2.5"),
        (lambda e: FrameStack(e, k=0), ValueError, "k must be >= 1, got 0"),
        (lambda e: FrameStack(e, padding="edge"), ValueError, "padding must be 'reset' or 'zero'"),
        (lambda e: ProcessFrame84(e, size=-1), ValueError, "size must be >= 1, got -1"),
        (lambda e: Crop(e, top=200, bottom=20), ValueError, "leaves nothing of a 210x160 frame"),
        (lambda e: Crop(e, left=-1), ValueError, "left must be >= 0, got -1"),
        (lambda e: NoopReset(e, noop_max=-3), ValueError, "noop_max must be >= 0, got -3"),
        (ImageToPyTorch, ValueError, r"expects \(H, W, C\) frames, got shape \(210, 160\)"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(FrameCounterEnv(shape=(210, 160)))


def test_image_wrappers_refuse_vector_observations():
    with pytest.raises(TypeError, match="needs image observations.*Box"):
        ProcessFrame84(gym.make("CartPole-v1"))
    with pytest.raises(TypeError, match="needs uint8 Box observations"):
        ScaledFloatFrame(gym.make("CartPole-v1"))


# --- agreement with Gymnasium's own preprocessing ------------------------------------------


@pytest.mark.parametrize(
    ("game", "seed"), [("ALE/MsPacman-v5", 0), ("ALE/Breakout-v5", 1), ("ALE/Breakout-v5", 2)]
)
def test_standard_stack_agrees_with_gymnasium_atari_preprocessing(game, seed):
    """Same seed, same actions: identical frames, rewards and flags.

    The one documented difference: when an episode ends in the middle of a 4-frame repeat,
    Gymnasium's AtariPreprocessing does not grab the final screen (it returns stale
    buffers) while ours returns the final frame. So the last observation of an episode may
    differ; every other one must be identical.
    """
    ours = make_atari_env(game, episodic_life=False, clip_rewards=False, fire_reset=False)
    theirs = FrameStackObservation(AtariPreprocessing(make_env(game), noop_max=30), 4)
    a, _ = ours.reset(seed=seed)
    b, _ = theirs.reset(seed=seed)
    assert np.array_equal(a, b)
    rng = np.random.default_rng(seed)
    compared = terminal_differences = episodes = 0
    for _ in range(1200):
        action = rng.integers(ours.action_space.n)
        a, ra, ta, tra, _ = ours.step(action)
        b, rb, tb, trb, _ = theirs.step(action)
        assert (ra, ta, tra) == (rb, tb, trb)
        if ta or tra:
            episodes += 1
            terminal_differences += int(not np.array_equal(a, b))
            # only the newest frame may differ
            assert np.array_equal(a[:-1], b[:-1])
            a, _ = ours.reset(seed=seed + 100 * episodes)
            b, _ = theirs.reset(seed=seed + 100 * episodes)
        else:
            compared += 1
        assert np.array_equal(a, b)
    assert compared > 500
    if "Breakout" in game:
        assert episodes >= 1
    assert terminal_differences <= episodes
