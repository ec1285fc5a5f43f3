"""Tabular reinforcement learning on Gymnasium's toy-text games (lesson 01).

Everything here works on a table: one value per state (``V``, shape ``(n_states,)``) or one
per state and action (``Q``, shape ``(n_states, n_actions)``). The pieces, in the lesson's
order:

* the returns ``G_t = r_{t+1} + gamma G_{t+1}`` of an episode's steps are
  :func:`rlcourse.returns.reward_to_go` (lesson 01's first exercise, also lesson 08's);
* :func:`bellman_backup`, :func:`action_values`, :func:`value_iteration`,
  :func:`greedy_policy`: planning with a known model, the toy-text envs'
  ``env.unwrapped.P[s][a] = [(p, s', r, terminated), ...]``;
* :func:`epsilon_greedy`, :func:`q_learning_update`, :func:`sarsa_update`,
  :func:`train_tabular`: learning from experience, without the model.

``terminated`` (the episode really ended: no future, no bootstrap) and ``truncated`` (a time
limit cut it: the next state still has a future, so the update bootstraps) are kept apart,
as in every agent of the course. Random draws come from an explicit
``np.random.Generator``; nothing touches NumPy's global random state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from rlcourse import policies
from rlcourse.config import check_number, check_positive_int

Transitions = Mapping[int, Mapping[int, Sequence[tuple[float, int, float, bool]]]]
"""A toy-text env's model, ``env.unwrapped.P``: ``P[s][a]`` lists the outcomes of action
``a`` in state ``s`` as ``(probability, next_state, reward, terminated)``."""

FROZEN_LAKE_ACTIONS = ("left", "down", "right", "up")
"""FrozenLake's actions 0..3 as directions on the grid (for arrows)."""
CLIFF_WALKING_ACTIONS = ("up", "right", "down", "left")
"""CliffWalking's actions 0..3 as directions on the grid (for arrows)."""

METHODS = ("q_learning", "sarsa")


def _check_gamma(gamma: object) -> float:
    return float(check_number("gamma", gamma, low=0, high=1))


def _check_table(name: str, table: object, ndim: int) -> np.ndarray:
    if not isinstance(table, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(table).__name__}")
    if table.ndim != ndim or table.dtype.kind != "f":
        raise ValueError(
            f"{name} must be a {ndim}-D float array, got shape {table.shape}, dtype {table.dtype}"
        )
    return table


def _check_index(name: str, value: object, size: int) -> int:
    return int(check_number(name, value, integer=True, low=0, high=size - 1))


def _backup_terms(
    values: np.ndarray, outcomes: Sequence[tuple[float, int, float, bool]], gamma: float
) -> float:
    """``sum p (r + gamma V(s') [not terminated])`` over one action's outcomes."""
    return float(
        sum(p * (r + (0.0 if done else gamma * values[s2])) for p, s2, r, done in outcomes)
    )


def bellman_backup(values: np.ndarray, transitions: Transitions, state: int, gamma: float) -> float:
    """One Bellman optimality backup of ``V(state)``:
    ``max_a sum_{s'} p(s'|s,a) (r + gamma V(s') [not terminated])``.

    ``transitions`` is a toy-text env's model, ``env.unwrapped.P``. A move that terminates
    the episode has no future: its next state's value is not added.

    >>> P = {0: {0: [(1.0, 1, 0.0, False)], 1: [(0.5, 0, 1.0, False), (0.5, 1, 2.0, True)]},
    ...      1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]}}
    >>> bellman_backup(np.array([0.0, 10.0]), P, state=0, gamma=0.9)
    9.0
    """
    values = _check_table("values", values, 1)
    gamma = _check_gamma(gamma)
    state = _check_index("state", state, len(values))
    return max(_backup_terms(values, outcomes, gamma) for outcomes in transitions[state].values())


def action_values(values: np.ndarray, transitions: Transitions, gamma: float) -> np.ndarray:
    """``Q(s, a) = sum_{s'} p(s'|s,a) (r + gamma V(s') [not terminated])`` for every state
    and action: the one-step look-ahead a greedy policy picks from.

    >>> P = {0: {0: [(1.0, 1, 0.0, False)], 1: [(1.0, 0, 1.0, True)]},
    ...      1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]}}
    >>> action_values(np.array([0.0, 5.0]), P, gamma=0.5)
    array([[2.5, 1. ],
           [0. , 0. ]])
    """
    values = _check_table("values", values, 1)
    gamma = _check_gamma(gamma)
    n_actions = len(transitions[0])
    q = np.zeros((len(values), n_actions))
    for state in range(len(values)):
        for action in range(n_actions):
            q[state, action] = _backup_terms(values, transitions[state][action], gamma)
    return q


class ValueIterationResult(NamedTuple):
    """What :func:`value_iteration` computed."""

    values: np.ndarray
    """``V*(s)``, shape ``(n_states,)``, within ``tol`` of the fixed point."""
    q: np.ndarray
    """``Q*(s, a)`` from ``values`` (:func:`action_values`), shape ``(n_states, n_actions)``."""
    sweeps: int
    """Sweeps over all states until the largest change was below ``tol``."""
    history: list[np.ndarray]
    """The values after each sweep (``history[0]``: all zeros, before the first)."""


def value_iteration(
    transitions: Transitions, gamma: float, tol: float = 1e-8, max_sweeps: int = 10_000
) -> ValueIterationResult:
    """Apply :func:`bellman_backup` to every state, sweep after sweep, from ``V = 0``,
    until no value moves by more than ``tol``. Each sweep backs up from the previous
    sweep's values (a synchronous update: ``history`` shows the values spreading out).

    >>> P = {0: {0: [(1.0, 1, 0.0, False)], 1: [(1.0, 0, 0.0, False)]},
    ...      1: {0: [(1.0, 2, 1.0, True)], 1: [(1.0, 0, 0.0, False)]},
    ...      2: {0: [(1.0, 2, 0.0, True)], 1: [(1.0, 2, 0.0, True)]}}
    >>> result = value_iteration(P, gamma=0.9)
    >>> result.values.tolist(), result.sweeps
    ([0.9, 1.0, 0.0], 3)
    """
    gamma = _check_gamma(gamma)
    tol = check_number("tol", tol, low=0, low_open=True)
    max_sweeps = check_positive_int("max_sweeps", max_sweeps)
    if not isinstance(transitions, Mapping) or not transitions:
        raise TypeError(
            f"transitions must be a toy-text model env.unwrapped.P (a dict), got "
            f"{type(transitions).__name__}"
        )
    values = np.zeros(len(transitions))
    history = [values.copy()]
    for sweep in range(1, max_sweeps + 1):
        new = np.array([bellman_backup(values, transitions, s, gamma) for s in range(len(values))])
        delta = float(np.max(np.abs(new - values)))
        values = new
        history.append(values.copy())
        if delta < tol:
            return ValueIterationResult(
                values, action_values(values, transitions, gamma), sweep, history
            )
    raise RuntimeError(
        f"value iteration did not converge in {max_sweeps} sweeps (last change {delta:g}); "
        "with gamma = 1 it may never: use gamma < 1 or raise max_sweeps"
    )


def greedy_policy(q: np.ndarray) -> np.ndarray:
    """The greedy action of each state, ``argmax_a Q(s, a)`` (ties: the lowest action).

    >>> greedy_policy(np.array([[0.0, 1.0], [2.0, 2.0]])).tolist()
    [1, 0]
    """
    q = _check_table("q", q, 2)
    return np.argmax(q, axis=1)


def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """An action for one state, from its row of Q-values ``q_row``: with probability
    ``epsilon`` a uniformly random action (the greedy one included), otherwise a greedy
    one. Ties between greedy actions are broken at random: a table that starts at zeros
    has every action tied, and always picking the first would explore only by chance.

    >>> rng = np.random.default_rng(0)
    >>> epsilon_greedy(np.array([0.0, 3.0, 1.0]), epsilon=0.0, rng=rng)
    1
    >>> sorted({epsilon_greedy(np.array([2.0, 2.0, 0.0]), 0.0, rng) for _ in range(50)})
    [0, 1]
    """
    epsilon = check_number("epsilon", epsilon, low=0, high=1)
    return _epsilon_greedy(np.asarray(q_row), epsilon, rng)


def _epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """:func:`epsilon_greedy` without the argument checks (the training loop's)."""
    return policies.epsilon_greedy(q_row, epsilon, rng, random_ties=True)


def _td_update(q: np.ndarray, state: int, action: int, target: float, alpha: float) -> float:
    error = target - q[state, action]
    q[state, action] += alpha * error
    return float(error)


def _check_update(
    q: object, state: object, action: object, next_state: object, alpha: object, gamma: object
) -> tuple[np.ndarray, int, int, int, float, float]:
    q = _check_table("q", q, 2)
    n_states, n_actions = q.shape
    return (
        q,
        _check_index("state", state, n_states),
        _check_index("action", action, n_actions),
        _check_index("next_state", next_state, n_states),
        check_number("alpha", alpha, low=0, high=1, low_open=True),
        _check_gamma(gamma),
    )


def q_learning_update(
    q: np.ndarray,
    state: int,
    action: int,
    reward: float,
    next_state: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    """One Q-learning step on the table ``q`` (in place); returns the TD error.

    ``Q(s,a) += alpha (r + gamma max_a' Q(s',a') [not terminated] - Q(s,a))``. Only
    ``terminated`` removes the bootstrap: a transition cut by a time limit (truncated) is
    updated like any other, since its next state still has a future.

    >>> q = np.zeros((2, 2)); q[1] = [1.0, 3.0]
    >>> q_learning_update(q, 0, 1, reward=1.0, next_state=1, terminated=False, alpha=0.5,
    ...                   gamma=0.9)
    3.7
    >>> float(q[0, 1])
    1.85
    """
    q, state, action, next_state, alpha, gamma = _check_update(
        q, state, action, next_state, alpha, gamma
    )
    return _q_learning_update(q, state, action, float(reward), next_state, terminated, alpha, gamma)


def _q_learning_update(
    q: np.ndarray,
    state: int,
    action: int,
    reward: float,
    next_state: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    future = 0.0 if terminated else gamma * float(np.max(q[next_state]))
    return _td_update(q, state, action, reward + future, alpha)


def sarsa_update(
    q: np.ndarray,
    state: int,
    action: int,
    reward: float,
    next_state: int,
    next_action: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    """One SARSA step on the table ``q`` (in place); returns the TD error.

    Like :func:`q_learning_update`, but the target uses the action the agent *will take*
    in the next state, ``Q(s', a')``, not the best one: SARSA learns the value of the
    policy it follows, exploration included (on-policy).

    >>> q = np.zeros((2, 2)); q[1] = [1.0, 3.0]
    >>> sarsa_update(q, 0, 1, reward=1.0, next_state=1, next_action=0, terminated=False,
    ...              alpha=0.5, gamma=0.9)
    1.9
    """
    q, state, action, next_state, alpha, gamma = _check_update(
        q, state, action, next_state, alpha, gamma
    )
    next_action = _check_index("next_action", next_action, q.shape[1])
    return _sarsa_update(
        q, state, action, float(reward), next_state, next_action, terminated, alpha, gamma
    )


def _sarsa_update(
    q: np.ndarray,
    state: int,
    action: int,
    reward: float,
    next_state: int,
    next_action: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    future = 0.0 if terminated else gamma * float(q[next_state, next_action])
    return _td_update(q, state, action, reward + future, alpha)


class TabularResult(NamedTuple):
    """What :func:`train_tabular` learned and saw."""

    q: np.ndarray
    """The learned Q table, shape ``(n_states, n_actions)``."""
    returns: np.ndarray
    """The (undiscounted) sum of rewards of each training episode, exploration included."""
    lengths: np.ndarray
    """The steps of each training episode."""


def train_tabular(
    env: gym.Env,
    method: str = "q_learning",
    episodes: int = 500,
    *,
    alpha: float = 0.5,
    gamma: float = 1.0,
    epsilon: float = 0.1,
    seed: int = 0,
    q: np.ndarray | None = None,
) -> TabularResult:
    """Train a Q table with Q-learning (``method="q_learning"``, off-policy) or SARSA
    (``"sarsa"``, on-policy) and a constant-``epsilon`` epsilon-greedy behaviour.

    ``env`` must have discrete observations and actions (the toy-text games). The first
    episode starts from ``env.reset(seed=seed)``, the exploration draws from
    ``np.random.default_rng(seed)``: the same seed, the same run. ``q``: a table to go on
    training (changed in place); default zeros.

    >>> env = gym.make("FrozenLake-v1", is_slippery=False)
    >>> result = train_tabular(env, episodes=200, alpha=0.5, gamma=0.9, epsilon=0.2, seed=0)
    >>> result.q.shape, len(result.returns), greedy_policy(result.q)[0] in (1, 2)
    ((16, 4), 200, True)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    episodes = check_positive_int("episodes", episodes)
    check_number("alpha", alpha, low=0, high=1, low_open=True)
    gamma = _check_gamma(gamma)
    epsilon = check_number("epsilon", epsilon, low=0, high=1)
    seed = check_number("seed", seed, integer=True, low=0)
    spaces = (env.observation_space, env.action_space)
    if not all(isinstance(space, gym.spaces.Discrete) for space in spaces):
        raise TypeError(f"train_tabular needs Discrete observations and actions, got {spaces}")
    n_states = int(env.observation_space.n)  # type: ignore[attr-defined]
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    if q is None:
        q = np.zeros((n_states, n_actions))
    elif _check_table("q", q, 2).shape != (n_states, n_actions):
        raise ValueError(f"q must have shape {(n_states, n_actions)}, got {q.shape}")
    # The arguments are checked once, above: the loop calls the unchecked versions of
    # epsilon_greedy, q_learning_update and sarsa_update (the same code, faster).
    rng = np.random.default_rng(seed)
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    for episode in range(episodes):
        state, _ = env.reset(seed=seed if episode == 0 else None)
        action = _epsilon_greedy(q[state], epsilon, rng) if method == "sarsa" else 0
        done = False
        while not done:
            if method == "q_learning":  # the behaviour: epsilon-greedy on the current table
                action = _epsilon_greedy(q[state], epsilon, rng)
            next_state, reward, terminated, truncated, _ = env.step(action)
            if method == "q_learning":
                _q_learning_update(
                    q, state, action, float(reward), next_state, terminated, alpha, gamma
                )
            else:  # SARSA needs the action it will take next before its update
                next_action = 0 if terminated else _epsilon_greedy(q[next_state], epsilon, rng)
                _sarsa_update(
                    q,
                    state,
                    action,
                    float(reward),
                    next_state,
                    next_action,
                    terminated,
                    alpha,
                    gamma,
                )
                action = next_action
            returns[episode] += float(reward)
            lengths[episode] += 1
            done = terminated or truncated  # both end the episode; only one ends the future
            state = next_state
    return TabularResult(q, returns, lengths)


def tabular_policy(q: np.ndarray) -> Callable[[Any], int]:
    """The greedy policy of a Q table as ``policy(obs) -> action`` (ties: the lowest
    action), for :func:`rlcourse.evaluation.evaluate` and :func:`rlcourse.video.record_episode`.

    >>> tabular_policy(np.array([[0.0, 1.0], [5.0, 2.0]]))(1)
    0
    """
    table = _check_table("q", q, 2).copy()

    def policy(obs: Any) -> int:
        return int(np.argmax(table[int(obs)]))

    return policy


def greedy_path(
    env: gym.Env, q: np.ndarray, seed: int | None = None, max_steps: int = 100
) -> list[int]:
    """The states a greedy policy of ``q`` visits in one episode, the first one included
    (at most ``max_steps`` steps: a greedy policy may walk in circles)."""
    max_steps = check_positive_int("max_steps", max_steps)
    policy = tabular_policy(q)
    state, _ = env.reset(seed=seed)
    path = [int(state)]
    for _ in range(max_steps):
        state, _, terminated, truncated, _ = env.step(policy(state))
        path.append(int(state))
        if terminated or truncated:
            break
    return path
