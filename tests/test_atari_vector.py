"""AtariVectorGames (ale-py's C++ AtariVectorEnv seen as make_env_for sees one game) and the
ParallelGames and A2C options built on it."""

import numpy as np
import pytest
import torch

from rlcourse.agents.a2c import A2C, A2CConfig
from rlcourse.atari_vector import AtariVectorGames, rom_name
from rlcourse.envs import KUNGFU_CROP, GameSpec, make_env_for
from rlcourse.networks import RecurrentActorCritic
from rlcourse.rollouts import ParallelGames

KUNGFU = "ALE/KungFuMaster-v5"
LESSON_OPTIONS = A2CConfig().env_options()  # 42x42 crops, 1 frame, real rewards, lives end


def play_both(env_id, options, seeds, steps, action_seed=0):
    """Step AtariVectorGames and make_env_for games with the same actions; yield both."""
    games = AtariVectorGames(env_id, len(seeds), training=True, **options)
    envs = [make_env_for(env_id, training=True, **options) for _ in seeds]
    obs, _ = games.reset(seed=list(seeds))
    yield obs, [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)], None
    rng = np.random.default_rng(action_seed)
    for _ in range(steps):
        actions = rng.integers(0, games.single_action_space.n, len(seeds))
        step = games.step(actions)
        yield step, [env.step(int(a)) for env, a in zip(envs, actions, strict=True)], actions
    games.close()


@pytest.mark.parametrize(
    ("env_id", "options"),
    [
        (KUNGFU, {**LESSON_OPTIONS, "noop_max": 0, "episodic_life": False}),
        ("ALE/MsPacman-v5", {"noop_max": 0, "episodic_life": False, "clip_rewards": True}),
    ],
)
def test_frames_rewards_and_ends_equal_the_gymnasium_games(env_id, options):
    # Without no-op starts both are deterministic: the same actions give the same frames
    # (crop, INTER_AREA resize, max-pool, stack), rewards and flags, step for step.
    steps = 0
    for ours, theirs, actions in play_both(env_id, options, seeds=(3, 4), steps=400):
        if actions is None:
            for i in range(2):
                np.testing.assert_array_equal(ours[i], theirs[i])
            continue
        obs, rewards, terminated, truncated, _ = ours
        for i in range(2):
            np.testing.assert_array_equal(obs[i], theirs[i][0])
            assert rewards[i] == theirs[i][1]
            assert terminated[i] == theirs[i][2] and truncated[i] == theirs[i][3]
        steps += 1
    assert steps == 400


def test_observation_space_matches_make_env_for():
    games = AtariVectorGames("ALE/MsPacman-v5", 2)
    reference = make_env_for("ALE/MsPacman-v5", training=True)
    assert games.single_observation_space == reference.observation_space
    assert games.single_action_space.n == 9
    obs, info = games.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    assert (obs[:, 0] == obs[:, 3]).all()  # the stack is padded with the first frame
    games.close()


def test_a_lost_life_ends_the_episode_but_not_the_game():
    games = AtariVectorGames(KUNGFU, 2, training=True, **LESSON_OPTIONS)
    games.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        _, _, terminated, truncated, info = games.step(rng.integers(0, 14, 2))
        if terminated.any():
            break
    game = int(np.flatnonzero(terminated)[0])
    assert info["lives"][game] == 3 and not truncated[game]  # 4 lives -> 3: not game over
    _, info = games.reset(seed=[100, 101], options={"reset_mask": terminated})
    assert info["lives"][game] == 3  # a masked reset after a lost life did not restart it
    _, _, _, _, info = games.step(np.zeros(2, np.int64))
    assert info["lives"][game] == 3
    games.close()


def test_game_over_restarts_only_the_masked_games_with_their_seeds():
    options = {**LESSON_OPTIONS, "episodic_life": False}
    games = AtariVectorGames(KUNGFU, 2, training=True, **options)
    reference = make_env_for(KUNGFU, training=True, **options)
    obs, _ = games.reset(seed=[5, 6])
    rng = np.random.default_rng(1)
    over = np.zeros(2, bool)
    while not over.any():
        obs, _, terminated, truncated, info = games.step(rng.integers(0, 14, 2))
        over = terminated | truncated
    other = int(np.flatnonzero(~over)[0]) if not over.all() else None
    kept = obs[other].copy() if other is not None else None
    obs, info = games.reset(seed=[77, 77], options={"reset_mask": over})
    for game in np.flatnonzero(over):
        # the restarted game is the game of its seed (no-op starts drawn from it too)
        first_again = AtariVectorGames(KUNGFU, 1, training=True, **options).reset(seed=[77])[0]
        np.testing.assert_array_equal(obs[game], first_again[0])
        assert info["lives"][game] == 4
    if other is not None:
        np.testing.assert_array_equal(obs[other], kept)
    reference.close()
    games.close()


def test_training_options_are_off_for_evaluation():
    games = AtariVectorGames(KUNGFU, 1, training=False, episodic_life=True, clip_rewards=True)
    assert not games.episodic_life and not games.clip_rewards
    games.close()


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="cannot apply the options \\['actions'\\]"):
        AtariVectorGames(KUNGFU, 2, actions="right_only")
    with pytest.raises(ValueError, match="not an ALE game"):
        rom_name("CartPole-v1")
    with pytest.raises(ValueError, match="n_games"):
        AtariVectorGames(KUNGFU, 0)
    with pytest.raises(ValueError, match="leaves nothing"):
        AtariVectorGames(KUNGFU, 1, crop=(200, 20, 0, 0))
    assert rom_name("ALE/SpaceInvaders-v5") == "space_invaders"


# --- ParallelGames(vectorization="ale") ---------------------------------------------------------


def kungfu_pool(n=4, seed=0, vectorization="ale"):
    torch.manual_seed(0)
    network = RecurrentActorCritic((1, 42, 42), 14)
    spec = GameSpec(KUNGFU, training=True, options=LESSON_OPTIONS)
    return ParallelGames(network, spec, n, seed=seed, vectorization=vectorization)


def test_pool_on_ale_games_gives_rollouts_like_the_gymnasium_pool():
    ale, sync = kungfu_pool(vectorization="ale"), kungfu_pool(vectorization="sync")
    a, s = ale.interact(10), sync.interact(10)
    assert a.observations.shape == s.observations.shape == (4, 10, 1, 42, 42)
    assert a.actions.shape == (4, 10) and a.alive.all()
    assert ale._lives_end_episodes and sync._lives_end_episodes
    ale.close()
    sync.close()


def test_pool_on_ale_games_counts_whole_games_and_zeroes_memory_at_lost_lives():
    pool = kungfu_pool(n=4)
    ended_lives = 0
    while len(pool.finished_returns) < 1:
        rollout = pool.interact(50)
        ended_lives += int((~rollout.alive).sum())
        h, _ = pool.memory
        for game in np.flatnonzero(~rollout.alive[:, -1]):
            assert torch.all(h[game] == 0)
    # a game has 4 lives: at least 4 ends of episodes for one finished game
    assert ended_lives >= 4
    assert pool.finished_returns[0] >= 0 and pool.finished_lengths[0] > 100
    pool.close()


def test_pool_on_ale_games_resumes_with_fresh_games():
    pool = kungfu_pool(n=2)
    pool.interact(20)
    state = pool.state()
    assert state["games"] is None and state["next_seed"] == 2
    other = kungfu_pool(n=2, seed=0)
    other.restore(state)
    assert other.next_seed == 4 and other.total_steps == 40
    assert torch.all(other.memory[0] == 0) and (other.episode_returns == 0).all()
    rollout = other.interact(5)
    assert rollout.observations.shape == (2, 5, 1, 42, 42)
    pool.close()
    other.close()


def test_pool_ale_needs_a_game_spec_of_an_ale_game():
    network = RecurrentActorCritic((1, 42, 42), 14)
    with pytest.raises(ValueError, match="make_env must be a GameSpec of an ALE game"):
        ParallelGames(network, lambda: make_env_for(KUNGFU, training=True), 2, vectorization="ale")
    with pytest.raises(ValueError, match="make_env must be a GameSpec of an ALE game"):
        ParallelGames(network, GameSpec("CartPole-v1", training=True), 2, vectorization="ale")


# --- A2C's learning-rate schedule ---------------------------------------------------------


def test_learning_rate_decays_linearly_to_zero():
    agent = A2C((1, 42, 42), 14, A2CConfig(lr=1e-3, lr_decay_steps=1000))
    assert agent.learning_rate() == pytest.approx(1e-3)
    agent.steps = 250
    assert agent.learning_rate() == pytest.approx(7.5e-4)
    agent.steps = 5000
    assert agent.learning_rate() == 0.0
    constant = A2C((1, 42, 42), 14, A2CConfig(lr=1e-3))
    constant.steps = 10**9
    assert constant.learning_rate() == pytest.approx(1e-3)


def test_update_uses_the_scheduled_rate():
    agent = A2C((1, 42, 42), 14, A2CConfig(lr=1e-3, lr_decay_steps=80, n_games=2))
    pool = ParallelGames(
        agent.network, GameSpec(KUNGFU, training=True, options=agent.config.env_options()), 2
    )
    agent.update(pool.interact(10))  # steps 0 -> 20: this update used lr(0)
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    agent.update(pool.interact(10))
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 20 / 80))
    pool.close()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lr_decay_steps": -1}, "lr_decay_steps"),
        ({"env_threads": 0}, "env_threads"),
        ({"vectorization": "threads"}, "'sync', 'async' or 'ale'"),
    ],
)
def test_config_rejects_bad_values(values, message):
    with pytest.raises((ValueError, TypeError), match=message):
        A2CConfig(**values)


def test_old_configs_without_the_new_fields_still_load():
    new = ("lr_decay_steps", "env_threads")
    values = {k: v for k, v in A2CConfig().__dict__.items() if k not in new}
    config = A2CConfig.from_dict(values)
    assert config.lr_decay_steps == 0 and config.env_threads == 2
    assert config.crop == KUNGFU_CROP
    # Configs saved while A2C had PPO's clipped option: one epoch was A2C, more were PPO.
    assert A2CConfig.from_dict({**values, "epochs": 1, "clip_range": 0.1}) == config
    with pytest.raises(ValueError, match="epochs=4: it was trained with PPO's clipped update"):
        A2CConfig.from_dict({**values, "epochs": 4, "clip_range": 0.1})
