"""Tabular RL (lesson 01): returns, Bellman backups and value iteration against values known
by hand, Q-learning and SARSA on CliffWalking (Sutton and Barto's example 6.6), terminated vs
truncated, reproducibility, and bad input."""

import gymnasium as gym
import numpy as np
import pytest

from rlcourse.agents.tabular import (
    CLIFF_WALKING_ACTIONS,
    FROZEN_LAKE_ACTIONS,
    action_values,
    bellman_backup,
    epsilon_greedy,
    greedy_path,
    greedy_policy,
    q_learning_update,
    sarsa_update,
    tabular_policy,
    train_tabular,
    value_iteration,
)
from rlcourse.evaluation import TEST_SEED, evaluate
from rlcourse.returns import reward_to_go

CLIFF = "CliffWalking-v1" if "CliffWalking-v1" in gym.registry else "CliffWalking-v0"
TAXI = "Taxi-v4" if "Taxi-v4" in gym.registry else "Taxi-v3"

# A corridor 0 - 1 - 2 - 3 (goal, +1, terminal); action 0 = left, 1 = right.
CORRIDOR = {
    s: {0: [(1.0, max(s - 1, 0), 0.0, False)], 1: [(1.0, s + 1, 1.0 if s == 2 else 0.0, s == 2)]}
    for s in range(3)
}
CORRIDOR[3] = {0: [(1.0, 3, 0.0, True)], 1: [(1.0, 3, 0.0, True)]}


def test_reward_to_go_on_numpy_by_hand():
    # lesson 01 uses the returns of every step on lists and NumPy arrays (G_0 first)
    assert reward_to_go([1.0, 2.0, 3.0], 0.5).tolist() == pytest.approx([2.75, 3.5, 3.0])
    assert reward_to_go(np.array([0, 0, 0, 1.0]), 0.9)[0] == pytest.approx(0.729)
    assert reward_to_go([-1.0] * 13, 1.0)[0] == -13.0
    assert reward_to_go([], 0.9).shape == (0,)
    assert reward_to_go([1, 2], 1.0).dtype == np.float64


def test_value_iteration_on_a_corridor_matches_the_values_by_hand():
    result = value_iteration(CORRIDOR, gamma=0.9)
    # From state s the goal is 3 - s steps away; its +1 is discounted 2 - s times.
    np.testing.assert_allclose(result.values, [0.81, 0.9, 1.0, 0.0])
    assert greedy_policy(result.q)[:3].tolist() == [1, 1, 1]
    assert result.history[0].tolist() == [0.0] * 4  # from zeros, one sweep per step of look-ahead
    assert result.sweeps == 4


def test_value_iteration_on_frozen_lake():
    deterministic = gym.make("FrozenLake-v1", is_slippery=False).unwrapped.P
    result = value_iteration(deterministic, gamma=0.9)
    # The shortest way from the start to the goal is 6 steps: the reward is discounted 5 times.
    assert result.values[0] == pytest.approx(0.9**5)
    holes_and_goal = [5, 7, 11, 12, 15]
    assert np.all(result.values[holes_and_goal] == 0)
    # Walking the greedy policy reaches the goal in 6 steps.
    env = gym.make("FrozenLake-v1", is_slippery=False)
    path = greedy_path(env, result.q, seed=0)
    assert path[-1] == 15 and len(path) - 1 == 6

    slippery = gym.make("FrozenLake-v1", is_slippery=True).unwrapped.P
    result = value_iteration(slippery, gamma=0.99, tol=1e-10)
    # A fixed point of the Bellman optimality equation...
    backed_up = [bellman_backup(result.values, slippery, s, 0.99) for s in range(16)]
    np.testing.assert_allclose(backed_up, result.values, atol=1e-8)
    # ... with the known optimal values of the slippery 4x4 lake (gamma = 0.99).
    assert result.values[0] == pytest.approx(0.542, abs=1e-3)
    assert result.values[14] == pytest.approx(0.862, abs=1e-3)
    # The famous cautious first move: left (into the wall), which can only slip down or stay.
    assert greedy_policy(result.q)[0] == 0


def test_greedy_policy_of_frozen_lake_wins_when_evaluated():
    env = gym.make("FrozenLake-v1", is_slippery=True)
    q = value_iteration(env.unwrapped.P, gamma=0.99).q
    wins = evaluate(tabular_policy(q), env, episodes=200, seed=TEST_SEED)
    assert 0.6 < wins.mean() < 0.9  # the optimal success rate is about 0.74 (gamma -> 1)


def test_action_values_look_one_step_ahead():
    q = action_values(np.array([0.0, 0.0, 5.0, 0.0]), CORRIDOR, gamma=0.5)
    assert q[1].tolist() == [0.0, 2.5] and q[2].tolist() == [0.0, 1.0]


def test_epsilon_greedy_breaks_ties_at_random_and_explores():
    rng = np.random.default_rng(0)
    draws = [epsilon_greedy(np.array([1.0, 1.0, 0.0]), 0.0, rng) for _ in range(2000)]
    counts = np.bincount(draws, minlength=3)
    assert counts[2] == 0 and abs(counts[0] - counts[1]) < 200
    draws = [epsilon_greedy(np.array([0.0, 1.0, 0.0]), 0.3, rng) for _ in range(3000)]
    assert np.mean(np.array(draws) == 1) == pytest.approx(0.7 + 0.1, abs=0.04)
    assert all(isinstance(a, int) for a in draws[:10])


def test_updates_bootstrap_unless_terminated():
    q = np.zeros((3, 2))
    q[1] = [4.0, 2.0]
    error = q_learning_update(
        q, 0, 0, reward=1.0, next_state=1, terminated=False, alpha=0.5, gamma=0.5
    )
    assert error == 3.0 and q[0, 0] == 1.5  # target 1 + 0.5 * 4
    # Terminated: no future. (A truncated transition is passed as terminated=False: it
    # bootstraps like the one above.)
    q[0, 0] = 0.0
    assert q_learning_update(q, 0, 0, 1.0, 1, terminated=True, alpha=0.5, gamma=0.5) == 1.0
    # SARSA bootstraps from the action taken next, not the best one.
    q[0, 0] = 0.0
    assert (
        sarsa_update(q, 0, 0, 1.0, 1, next_action=1, terminated=False, alpha=1.0, gamma=0.5) == 2.0
    )
    assert sarsa_update(q, 0, 0, 1.0, 1, 1, terminated=True, alpha=1.0, gamma=0.5) == -1.0


class _TruncatedCorridor(gym.Env):
    """Two states; moving right from 0 pays 1 and is truncated by a time limit (1 step)."""

    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        return 1, 1.0, False, True, {}


def test_training_bootstraps_through_truncation():
    """A time limit is not the end of the world: the loop ends the episode but the update
    still bootstraps from the next state's (here: prefilled) value."""
    q = np.array([[0.0], [10.0]])
    train_tabular(_TruncatedCorridor(), episodes=1, alpha=1.0, gamma=0.5, epsilon=0.0, q=q)
    assert q[0, 0] == 1.0 + 0.5 * 10.0


def test_cliff_walking_q_learning_finds_the_optimal_path_sarsa_a_safer_one():
    env = gym.make(CLIFF)
    q_run = train_tabular(env, "q_learning", 500, alpha=0.5, gamma=1.0, epsilon=0.1, seed=0)
    sarsa_run = train_tabular(env, "sarsa", 500, alpha=0.5, gamma=1.0, epsilon=0.1, seed=0)
    q_path, sarsa_path = greedy_path(env, q_run.q), greedy_path(env, sarsa_run.q)
    assert q_path[-1] == sarsa_path[-1] == 47  # both reach the goal
    # Q-learning: the optimal path along the cliff edge, 13 steps, return -13.
    assert len(q_path) - 1 == 13
    assert evaluate(tabular_policy(q_run.q), env, episodes=1, seed=0)[0] == -13
    # SARSA: a longer path, away from the cliff's edge (row 2 is the edge).
    assert len(sarsa_path) - 1 > 13
    assert not any(36 < s < 47 for s in sarsa_path)
    edge = [s for s in sarsa_path if 24 < s < 35]  # row 2, above the cliff
    assert len(edge) <= 2, f"SARSA's path walks along the edge: {sarsa_path}"
    # While exploring, SARSA's episodes pay more than Q-learning's (it falls less often).
    assert sarsa_run.returns[-200:].mean() > q_run.returns[-200:].mean()


def test_q_learning_learns_taxi_and_runs_are_reproducible():
    env = gym.make(TAXI)
    first = train_tabular(env, "q_learning", 1500, alpha=0.5, gamma=0.99, epsilon=0.1, seed=3)
    again = train_tabular(env, "q_learning", 1500, alpha=0.5, gamma=0.99, epsilon=0.1, seed=3)
    np.testing.assert_array_equal(first.q, again.q)
    np.testing.assert_array_equal(first.returns, again.returns)
    assert first.returns[:50].mean() < -100 < first.returns[-100:].mean()
    scores = evaluate(tabular_policy(first.q), env, episodes=20, seed=TEST_SEED)
    assert scores.mean() > 5  # every passenger delivered, in a few steps


def test_action_names_cover_the_grid_directions():
    assert sorted(FROZEN_LAKE_ACTIONS) == sorted(CLIFF_WALKING_ACTIONS)
    env = gym.make("FrozenLake-v1", is_slippery=False)
    env.reset(seed=0)
    assert env.step(FROZEN_LAKE_ACTIONS.index("right"))[0] == 1
    env = gym.make(CLIFF)
    env.reset(seed=0)
    assert env.step(CLIFF_WALKING_ACTIONS.index("up"))[0] == 24


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: reward_to_go([1.0], 1.5), ValueError, "gamma must be in [0, 1], got 1.5"),
        (lambda: reward_to_go([1.0], "0.9"), TypeError, "gamma must be a number"),
        (lambda: reward_to_go(np.ones((2, 3)), 0.9), ValueError, "one episode's rewards"),
        (
            lambda: bellman_backup(np.zeros(4), CORRIDOR, 7, 0.9),
            ValueError,
            "state must be in [0, 3], got 7",
        ),
        (
            lambda: bellman_backup([0.0] * 4, CORRIDOR, 0, 0.9),
            TypeError,
            "values must be a NumPy array, got list",
        ),
        (lambda: value_iteration(CORRIDOR, 0.9, tol=0), ValueError, "tol must be > 0, got 0"),
        (lambda: value_iteration([], 0.9), TypeError, "got list"),
        (
            lambda: value_iteration({0: {0: [(1.0, 0, 1.0, False)]}}, 1.0, max_sweeps=5),
            RuntimeError,
            "did not converge in 5 sweeps",
        ),
        (
            lambda: epsilon_greedy(np.zeros(3), -0.1, np.random.default_rng(0)),
            ValueError,
            "epsilon must be in [0, 1], got -0.1",
        ),
        (
            lambda: q_learning_update(np.zeros((2, 2)), 0, 2, 0.0, 1, False, 0.5, 0.9),
            ValueError,
            "action must be in [0, 1], got 2",
        ),
        (
            lambda: q_learning_update(np.zeros((2, 2)), 0, 0, 0.0, 1, False, 0.0, 0.9),
            ValueError,
            "alpha must be in (0, 1], got 0.0",
        ),
        (
            lambda: q_learning_update(np.zeros((2, 2), dtype=int), 0, 0, 0.0, 1, False, 0.5, 0.9),
            ValueError,
            "q must be a 2-D float array",
        ),
        (
            lambda: sarsa_update(np.zeros((2, 2)), 0, 0, 0.0, 1, 5, False, 0.5, 0.9),
            ValueError,
            "next_action must be in [0, 1], got 5",
        ),
        (
            lambda: train_tabular(gym.make(CLIFF), "expected_sarsa"),
            ValueError,
            "method must be one of ('q_learning', 'sarsa'), got 'expected_sarsa'",
        ),
        (
            lambda: train_tabular(gym.make(CLIFF), episodes=0),
            ValueError,
            "episodes must be >= 1, got 0",
        ),
        (lambda: train_tabular(gym.make("CartPole-v1")), TypeError, "needs Discrete"),
        (
            lambda: train_tabular(gym.make(CLIFF), q=np.zeros((4, 4))),
            ValueError,
            "q must have shape (48, 4), got (4, 4)",
        ),
        (
            lambda: greedy_path(gym.make(CLIFF), np.zeros((48, 4)), max_steps=0),
            ValueError,
            "max_steps must be >= 1, got 0",
        ),
    ],
)
def test_bad_input_is_refused_with_the_value(call, error, words):
    with pytest.raises(error) as raised:
        call()
    assert words in str(raised.value)


def test_grid_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlcourse.plots import plot_grid_path, plot_grid_values

    env = gym.make("FrozenLake-v1", is_slippery=True)
    result = value_iteration(env.unwrapped.P, gamma=0.99)
    desc = env.unwrapped.desc.reshape(-1)
    figure = plot_grid_values(
        result.values,
        (4, 4),
        greedy_policy(result.q),
        cell_labels=desc,
        no_arrow=np.isin(desc, [b"H", b"G"]),
        path=tmp_path / "values.png",
    )
    assert (tmp_path / "values.png").stat().st_size > 0
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "0.54" in texts and "S" in texts  # the start's value, the map's letters
    assert (
        len(figure.axes[0].patches)
        + len([c for c in figure.axes[0].get_children() if type(c).__name__ == "Annotation"])
        >= 11
    )  # an arrow on each of the 11 cells that are not a hole or the goal
    _, ax = plt.subplots()
    assert plot_grid_values(np.zeros(4), (2, 2), ax=ax) is ax.figure
    figure = plot_grid_path(
        {"a": [36, 24, 25], "b": [36, 37]}, (4, 12), shade=np.arange(48) > 40, shade_label="cliff"
    )
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert labels == ["cliff", "a (2 steps)", "b (1 step)"]
    with pytest.raises(ValueError, match="leaves the 2x2 grid"):
        plot_grid_path({"a": [0, 9]}, (2, 2))
    with pytest.raises(ValueError, match="a 2x2 grid has 4 cells, got 5"):
        plot_grid_values(np.zeros(5), (2, 2))
    with pytest.raises(ValueError, match="actions must be directions"):
        plot_grid_values(np.zeros(4), (2, 2), policy=[0, 0, 0, 0], actions=("north",) * 4)
