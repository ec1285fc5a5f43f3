"""ParallelGames: parallel games for on-policy learning, their rollouts, and exact resume."""

import numpy as np
import pytest
import torch

from rlcourse.envs import make_kungfu_env
from rlcourse.networks import RecurrentActorCritic
from rlcourse.rollouts import ParallelGames, Rollout
from rlcourse.toy_envs import FrameCounterEnv, frame_at
from rlcourse.wrappers import EpisodicLife, FrameStack

SHAPE = (1, 16, 16)


def toy_game(episode_length=100, truncate_at=None):
    return FrameStack(
        FrameCounterEnv(shape=SHAPE[1:], episode_length=episode_length, truncate_at=truncate_at),
        k=1,
    )


def games(*lengths, truncate_at=None):
    """make_env for the pool: the i-th call makes a game ending after lengths[i] steps (the
    pool makes one more game, to look at its wrappers: it gets 100)."""
    made = iter(lengths)
    return lambda: toy_game(next(made, 100), truncate_at)


def toy_agent(seed=0):
    torch.manual_seed(seed)
    return RecurrentActorCritic(SHAPE, n_actions=4, hidden_size=8, channels=4)


def test_pool_shapes_and_dtypes():
    pool = ParallelGames(toy_agent(), games(100, 100, 100), 3, seed=0)
    rollout = pool.interact(4)
    assert isinstance(rollout, Rollout)
    assert rollout.observations.shape == (3, 4, *SHAPE) and rollout.observations.dtype == np.uint8
    for name in ("actions", "rewards", "terminated", "truncated", "truncation_values"):
        assert getattr(rollout, name).shape == (3, 4), name
    assert rollout.actions.dtype == np.int64 and rollout.rewards.dtype == np.float32
    assert rollout.terminated.dtype == bool and rollout.truncation_values.dtype == np.float32
    assert rollout.next_observations.shape == (3, *SHAPE)
    assert rollout.initial_memory[0].shape == rollout.initial_memory[1].shape == (3, 8)
    assert rollout.alive.all() and pool.total_steps == 12
    pool.close()


def test_pool_zeros_only_a_finished_games_memory():
    agent = toy_agent()
    pool = ParallelGames(agent, games(3, 100), 2, seed=0)
    rollout = pool.interact(3)  # game 0 ends on its 3rd step, game 1 plays on
    assert rollout.terminated.tolist() == [[False, False, True], [False, False, False]]
    h, c = pool.memory
    assert torch.all(h[0] == 0) and torch.all(c[0] == 0)
    # game 1's memory is what the agent computes from its three observations
    memory = agent.initial_memory(1)
    with torch.no_grad():
        for t in range(3):
            memory, _, _ = agent(torch.from_numpy(rollout.observations[1:2, t]), memory)
    assert torch.allclose(h[1], memory[0][0]) and torch.allclose(c[1], memory[1][0])
    assert torch.any(h[1] != 0)
    pool.close()


def test_pool_keeps_memory_between_calls():
    pool = ParallelGames(toy_agent(), games(100, 100), 2, seed=0)
    pool.interact(2)
    kept = (pool.memory[0].clone(), pool.memory[1].clone())
    second = pool.interact(2)
    assert torch.equal(second.initial_memory[0], kept[0])
    assert torch.equal(second.initial_memory[1], kept[1])
    assert torch.any(kept[0] != 0)
    pool.close()


def test_pool_reseeds_an_ended_game_after_its_real_last_step():
    # Autoreset is off: no dummy step after the end (Gymnasium's NEXT_STEP mode); step 2 is
    # game 0's real last step, step 3 the first of its next game, which the pool seeds.
    pool = ParallelGames(toy_agent(), games(3, 100), 2, seed=5)
    rollout = pool.interact(5)
    assert rollout.rewards[0].tolist() == [1.0, 2.0, 3.0, 1.0, 2.0]
    assert rollout.terminated[0].tolist() == [False, False, True, False, False]
    frames = [
        frame_at(t + 1000 * resets, SHAPE[1:])
        for resets, t in [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
    ]
    for t, frame in enumerate(frames):
        assert np.array_equal(rollout.observations[0, t, 0], frame), t
    assert pool.finished_returns == [6.0] and pool.finished_lengths == [3]
    assert pool.total_steps == 10
    # games are seeded in the order they start: 5 and 6, then game 0's second game 7
    logs = pool.state()["games"]
    assert [log["seed"] for log in logs] == [7, 6] and pool.next_seed == 8
    assert len(logs[0]["events"]) == 2 and len(logs[1]["events"]) == 5  # actions since
    pool.close()


def test_pool_bootstraps_a_truncated_game_from_its_last_observation():
    agent = toy_agent()
    pool = ParallelGames(agent, games(100, 100, truncate_at=2), 2, seed=0)
    rollout = pool.interact(2)
    assert rollout.truncated[:, 1].all() and not rollout.terminated.any()
    assert not rollout.alive[:, 1].any()
    memory = agent.initial_memory(1)
    with torch.no_grad():
        for t in range(2):
            memory, _, _ = agent(torch.from_numpy(rollout.observations[:1, t]), memory)
        last = torch.from_numpy(frame_at(1000 + 2, SHAPE[1:])[None, None])
        _, _, value = agent(last, memory)
    assert rollout.truncation_values[0, 1] == pytest.approx(value.item(), rel=1e-5)
    assert rollout.truncation_values[:, 0].tolist() == [0.0, 0.0]
    pool.close()


def test_pool_sampling_is_seeded():
    def actions(seed):
        pool = ParallelGames(toy_agent(), games(100, 100), 2, seed=seed)
        result = pool.interact(6).actions
        pool.close()
        return result

    assert np.array_equal(actions(1), actions(1))
    assert not np.array_equal(actions(1), actions(2))


def test_pool_with_episodic_life_scores_whole_games():
    def make():
        game = FrameCounterEnv(shape=SHAPE[1:], episode_length=100, life_length=2, lives=2)
        return FrameStack(EpisodicLife(game), k=1)

    pool = ParallelGames(toy_agent(), make, 1, seed=0)
    rollout = pool.interact(3)
    # life 1: steps 1, 2 (ends the episode); EpisodicLife's reset plays frame 3 itself;
    # life 2: step 4 ends the game. One game, scored 1 + 2 + 4.
    assert rollout.terminated[0].tolist() == [False, True, True]
    assert rollout.rewards[0].tolist() == [1.0, 2.0, 4.0]
    assert torch.all(pool.memory[0] == 0)
    assert pool.finished_returns == [7.0] and pool.finished_lengths == [3]
    pool.close()


def test_pool_on_async_vector_env_behaves_the_same():
    pool = ParallelGames(toy_agent(), lambda: toy_game(3), 2, seed=0, vectorization="async")
    rollout = pool.interact(4)
    assert rollout.rewards.tolist() == [[1.0, 2.0, 3.0, 1.0]] * 2
    assert rollout.terminated[:, 2].all() and not rollout.terminated[:, 3].any()
    assert pool.finished_returns == [6.0, 6.0]
    pool.close()


def test_pool_errors():
    with pytest.raises(ValueError, match="n_parallel_games must be >= 1, got 0"):
        ParallelGames(toy_agent(), games(), 0)
    with pytest.raises(TypeError, match="make_env must be a function"):
        ParallelGames(toy_agent(), toy_game(), 2)
    with pytest.raises(ValueError, match=r"built for \(1, 42, 42\)"):
        ParallelGames(RecurrentActorCritic((1, 42, 42), 4), games(100), 1)
    with pytest.raises(ValueError, match="vectorization must be 'sync', 'async' or 'ale'"):
        ParallelGames(toy_agent(), games(100), 1, vectorization="threads")
    pool = ParallelGames(toy_agent(), games(100), 1)
    with pytest.raises(ValueError, match="n_steps must be >= 1, got 0"):
        pool.interact(0)
    with pytest.raises(ValueError, match="the saved pool had 1 games, this one 2"):
        ParallelGames(toy_agent(), games(100, 100), 2).restore(pool.state())
    pool.close()


def _same_rollouts(a, b):
    for name in Rollout._fields:
        x, y = getattr(a, name), getattr(b, name)
        if name == "initial_memory":
            assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]), name
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


def test_state_and_restore_give_identical_next_rollouts_on_kung_fu():
    torch.manual_seed(0)
    network = RecurrentActorCritic((1, 42, 42), 14)
    make = lambda: make_kungfu_env(episodic_life=True)  # noqa: E731
    pool = ParallelGames(network, make, 2, seed=0)
    pool.interact(5)
    state = pool.state()
    expected = pool.interact(5)
    assert expected.observations.shape == (2, 5, 1, 42, 42) and expected.actions.shape == (2, 5)
    # a pool seeded otherwise, whose games are elsewhere, continues exactly after restore()
    other = ParallelGames(network, make, 2, seed=99)
    other.interact(3)
    other.restore(state)
    _same_rollouts(other.interact(5), expected)
    assert other.total_steps == pool.total_steps == 20
    assert other.next_seed == pool.next_seed
    np.testing.assert_array_equal(other.episode_returns, pool.episode_returns)
    _same_rollouts(other.interact(5), pool.interact(5))  # and goes on alike
    pool.close()
    other.close()


def test_restore_of_a_game_that_ended_and_restarted():
    pool = ParallelGames(toy_agent(), games(3, 4), 2, seed=0)
    pool.interact(5)  # both games ended once and restarted with seeds 2 and 3
    state = pool.state()
    expected = pool.interact(4)
    other = ParallelGames(toy_agent(), games(3, 4), 2, seed=0)
    other.restore(state)
    _same_rollouts(other.interact(4), expected)
    assert other.finished_returns == pool.finished_returns
    pool.close()
    other.close()
