"""The one evaluation protocol: seeds, memory resets, lost lives, step limits, discounting."""

import gymnasium as gym
import numpy as np
import pytest

from rlcourse.evaluation import EVAL_SEED, TEST_SEED, evaluate, evaluate_batched, format_score
from rlcourse.networks import MLPQNetwork
from rlcourse.policies import QPolicy, RandomPolicy
from rlcourse.toy_envs import FrameCounterEnv


class CountingPolicy:
    """Plays NOOP and records every reset: a stand-in for a policy with memory."""

    def __init__(self, reset_on_life_loss=False):
        self.reset_on_life_loss = reset_on_life_loss
        self.resets = []  # n_games of each reset()
        self.game_resets = []  # (game, steps played by then) of each reset_game()
        self.steps = 0

    def reset(self, n_games=1):
        self.resets.append(n_games)
        self.steps = 0

    def reset_game(self, game):
        self.game_resets.append((game, self.steps))

    def __call__(self, obs):
        self.steps += 1
        return 0

    def act_batch(self, observations, games):
        self.steps += 1
        return np.zeros(len(games), np.int64)


class SeedLog(FrameCounterEnv):
    """FrameCounterEnv that remembers the seed of every reset."""

    def __init__(self, **kwargs):
        super().__init__(shape=(2, 2), **kwargs)
        self.seeds = []

    def reset(self, *, seed=None, options=None):
        self.seeds.append(seed)
        return super().reset(seed=seed, options=options)


def test_episodes_are_seeded_seed_plus_i_and_score_whole_games():
    env = SeedLog(episode_length=10, life_length=3, lives=5)  # lives lost at 3, 6, 9
    scores = evaluate(CountingPolicy(), env, 3, seed=40)
    assert env.seeds == [40, 41, 42]
    assert scores.tolist() == [55.0] * 3  # 1 + 2 + ... + 10: lost lives never end a game
    assert EVAL_SEED != TEST_SEED
    env = SeedLog(episode_length=2)
    evaluate(CountingPolicy(), env, 2)
    assert env.seeds == [EVAL_SEED, EVAL_SEED + 1]


def test_a_policy_is_reset_at_every_episode_start():
    policy = CountingPolicy()
    env = SeedLog(episode_length=4)
    evaluate(policy, env, 3, seed=0)
    assert policy.resets == [1, 1, 1] and env.resets == 3
    assert policy.game_resets == []  # no lives in this game: nothing else


@pytest.mark.parametrize("reset_on_life_loss", [False, True])
def test_memory_is_reset_at_a_lost_life_only_when_training_did(reset_on_life_loss):
    policy = CountingPolicy(reset_on_life_loss)
    env = SeedLog(episode_length=10, life_length=3, lives=5)
    evaluate(policy, env, 2, seed=0)
    assert policy.resets == [1, 1]
    if reset_on_life_loss:  # after the steps that lost a life, in each episode
        assert policy.game_resets == [(0, 3), (0, 6), (0, 9)] * 2
    else:
        assert policy.game_resets == []


def test_max_steps_cuts_an_episode_and_counts_its_score_so_far():
    env = SeedLog(episode_length=100)
    scores = evaluate(CountingPolicy(), env, 2, seed=0, max_steps=4)
    assert scores.tolist() == [10.0, 10.0]  # 1 + 2 + 3 + 4
    assert len(env.actions) == 8 and env.seeds == [0, 1]


def test_gamma_discounts_every_reward():
    env = SeedLog(episode_length=3)
    scores = evaluate(CountingPolicy(), env, 2, seed=0, gamma=0.5)
    assert scores.tolist() == [1 + 0.5 * 2 + 0.25 * 3] * 2
    assert evaluate(CountingPolicy(), env, 1, seed=0, gamma=1.0).tolist() == [6.0]


def test_a_plain_function_is_a_policy_too():
    env = SeedLog(episode_length=3)
    assert evaluate(lambda obs: 1, env, 1, seed=0).tolist() == [6.0]
    assert env.actions == [1, 1, 1]


def test_bad_episode_counts():
    with pytest.raises(ValueError, match="episodes must be >= 1, got 0"):
        evaluate(CountingPolicy(), SeedLog(), 0)
    with pytest.raises(TypeError, match=r"episodes must be an int, got 2.0 \(float\)"):
        evaluate_batched(CountingPolicy(), SeedLog, 2.0)
    with pytest.raises(TypeError, match="make_env must be a function that makes one env"):
        evaluate_batched(CountingPolicy(), SeedLog(), 2)


def test_batched_evaluation_gives_the_same_scores_for_a_deterministic_policy():
    policy = QPolicy(MLPQNetwork(4, 2, hidden_sizes=(8,)), epsilon=0.0)
    make_env = lambda: gym.make("CartPole-v1")  # noqa: E731
    one_by_one = evaluate(policy, make_env(), 4, seed=7)
    side_by_side = evaluate_batched(policy, make_env, 4, seed=7)
    np.testing.assert_array_equal(one_by_one, side_by_side)
    assert len(set(one_by_one.tolist())) > 1  # the seeds give different games
    cut = evaluate(policy, make_env(), 4, seed=7, max_steps=5)
    np.testing.assert_array_equal(cut, evaluate_batched(policy, make_env, 4, seed=7, max_steps=5))
    assert (cut <= 5).all()


def test_batched_evaluation_resets_memories_and_follows_the_life_rule():
    for reset_on_life_loss in (False, True):
        policy = CountingPolicy(reset_on_life_loss)
        made = []

        def make_env(made=made):
            made.append(SeedLog(episode_length=10, life_length=4, lives=5))
            return made[-1]

        scores = evaluate_batched(policy, make_env, 3, seed=20, max_steps=None)
        assert scores.tolist() == [55.0] * 3
        assert policy.resets == [3]  # one reset for all the games
        assert [env.seeds for env in made] == [[20], [21], [22]]
        # games lose lives at steps 4 and 8, side by side
        expected = [(game, step) for step in (4, 8) for game in range(3)]
        assert policy.game_resets == (expected if reset_on_life_loss else [])


def test_random_policy_is_reproducible_and_scores_are_formatted():
    env = gym.make("CartPole-v1")
    a = evaluate(RandomPolicy(env.action_space, seed=3), env, 3, seed=0)
    b = evaluate(RandomPolicy(env.action_space, seed=3), env, 3, seed=0)
    np.testing.assert_array_equal(a, b)
    assert format_score([10.0, 20.0, 30.0]) == "20.0 +- 8.2 over 3 games"
    assert format_score([1.0], unit="episodes") == "1.0 +- 0.0 over 1 episodes"


def test_evaluate_checkpoint_is_what_the_command_line_prints(capsys):
    from rlcourse import pretrained
    from rlcourse.cli import main
    from rlcourse.evaluation import evaluate_checkpoint, format_score

    path = pretrained.path("dqn_cartpole.pt")
    first = evaluate_checkpoint(path, episodes=3, seed=7, max_steps=60, vs_random=True)
    again = evaluate_checkpoint(path, episodes=3, seed=7, max_steps=60, vs_random=True)
    np.testing.assert_array_equal(first.scores, again.scores)  # the draws restart from seed
    assert first.rule == "epsilon 0.05"
    assert (
        main(
            [
                "evaluate",
                str(path),
                "--episodes",
                "3",
                "--seed",
                "7",
                "--max-steps",
                "60",
                "--vs-random",
            ]
        )
        == 0
    )
    *_, random_line, score_line = capsys.readouterr().out.splitlines()
    assert score_line == f"score: {format_score(first.scores)}"
    assert random_line == f"random: {format_score(first.random_scores)}"


def test_evaluate_checkpoint_shows_each_step_of_the_agents_games_to_on_step():
    from rlcourse import pretrained
    from rlcourse.evaluation import evaluate_checkpoint

    path = pretrained.path("dqn_cartpole.pt")
    seen = np.zeros(3)
    steps = []

    def on_step(game, step):
        seen[game] += step.reward
        steps.append(step)

    plain = evaluate_checkpoint(path, episodes=3, seed=7, max_steps=60)
    hooked = evaluate_checkpoint(
        path, episodes=3, seed=7, max_steps=60, vs_random=True, on_step=on_step
    )
    np.testing.assert_array_equal(hooked.scores, plain.scores)  # watching changes nothing
    np.testing.assert_array_equal(seen, hooked.scores)  # the agent's games, not random play's
    assert len(steps) == 3 * 60 and not any(step.terminated for step in steps)


class Walker(FrameCounterEnv):
    """FrameCounterEnv whose infos say how far it got: x_pos goes up, then back down."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        info = dict(info, x_pos=min(self.t, 10 - self.t) * (1 + self.seed_value))
        return obs, reward, terminated, truncated, info

    def reset(self, *, seed=None, options=None):
        self.seed_value = seed
        return super().reset(seed=seed, options=options)


def test_batched_evaluation_shows_every_step_info_to_on_step():
    from rlcourse.evaluation import InfoMaxima

    maxima = InfoMaxima(("x_pos", "flag_get"), games=3)
    evaluate_batched(
        CountingPolicy(), lambda: Walker(shape=(2, 2), episode_length=8), 3, seed=0, on_step=maxima
    )
    # Peaks at step 5 (5 * (1 + seed)); a key never seen stays NaN.
    np.testing.assert_array_equal(maxima.values["x_pos"], [5.0, 10.0, 15.0])
    assert np.isnan(maxima.values["flag_get"]).all()


def test_on_step_sees_each_steps_reward_end_and_lost_life():
    from rlcourse.evaluation import Step

    seen: list[tuple[int, Step]] = []
    make_env = lambda: FrameCounterEnv(shape=(2, 2), episode_length=4, life_length=2, lives=5)  # noqa: E731
    evaluate_batched(
        CountingPolicy(), make_env, 2, seed=0, on_step=lambda game, step: seen.append((game, step))
    )
    assert [game for game, _ in seen] == [0, 1] * 4
    steps = [step for game, step in seen if game == 0]
    assert [step.reward for step in steps] == [1.0, 2.0, 3.0, 4.0]
    assert [step.lost_life for step in steps] == [False, True, False, True]
    assert [step.terminated for step in steps] == [False, False, False, True]
    assert not any(step.truncated for step in steps) and "lives" in steps[0].info
