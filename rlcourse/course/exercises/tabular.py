"""Checks for lesson 01 (MDPs, returns and Q-learning): the return from every step of an
episode, one Bellman backup, tabular epsilon-greedy and the Q-learning update.

The references are the package's own functions (:func:`rlcourse.returns.reward_to_go`, the
rest in :mod:`rlcourse.agents.tabular`), called as the student's: same name, same signature.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlcourse.agents.tabular import bellman_backup, epsilon_greedy, q_learning_update
from rlcourse.course.exercises.core import (
    Case,
    check_exercise,
    compare_reproducible,
    seeded_global_rngs,
)
from rlcourse.returns import reward_to_go

# --- reward_to_go (the return from every step) --------------------------------------------


def _returns_and_input(f: Any, rewards: np.ndarray, gamma: float) -> tuple[Any, np.ndarray]:
    """What the function returned, and the rewards array as the call left it."""
    given = rewards.copy()
    return f(given, gamma), given


def check_reward_to_go(student_function: Any) -> Any:
    """Check ``reward_to_go(rewards, gamma) -> array of G_t``, one return per step."""
    cases = [
        Case(
            "a single reward",
            lambda f: f([5.0], 0.9),
            rule="one return per step: an array as long as the rewards, its last entry the "
            "last reward alone",
        ),
        Case(
            "three rewards",
            lambda f: f([1.0, 2.0, 3.0], 0.5),
            rule="the return of step t is its own reward plus gamma times the return of step "
            "t + 1: each step's return counts its own reward fully and discounts the later "
            "ones by how far they are from it (not from the episode's start)",
        ),
        Case(
            "FrozenLake: one reward at the end",
            lambda f: f([0.0, 0.0, 0.0, 1.0], 0.9),
            rule="a reward k steps after step t is discounted k times in the return of step t; "
            "entry 0 is the episode's discounted return",
        ),
        Case(
            "gamma = 1: sums to the end",
            lambda f: f([-1.0] * 13, 1.0),
            rule="with gamma = 1 each step's return is the sum of the rewards from that step "
            "to the end",
        ),
        Case(
            "gamma = 0: each step its own reward",
            lambda f: f([2.0, 5.0, 7.0], 0.0),
            rule="with gamma = 0 each step's return is its own reward",
        ),
        Case(
            "integer rewards",
            lambda f: f(np.array([1, 0, 2]), 0.5),
            rule="the returns are floats, also when the rewards are integers",
        ),
        Case(
            "rewards in a NumPy array, left as they were",
            lambda f: _returns_and_input(f, np.array([1.0, -1.0, 2.0, 0.5]), 0.9),
            rule="the rewards may come as a list or as a NumPy array, and the function "
            "leaves the array it was given unchanged",
        ),
        Case(
            "an episode without rewards",
            lambda f: f([], 0.9),
            rule="an episode without rewards has no returns: an empty array",
        ),
    ]
    return check_exercise(
        "reward_to_go",
        student_function,
        reward_to_go,
        cases,
        hint="walk backwards from the last step, keeping the return of the step after: a "
        "step's return is its reward plus gamma times that. Keep every step's return, in a "
        "new array of floats as long as the rewards.",
        pointer="the recursive form of the return in section 2 of this lesson",
    )


# --- bellman_backup ---------------------------------------------------------------------------

_MODEL = {
    0: {0: [(1.0, 1, 0.0, False)], 1: [(0.8, 2, 1.0, False), (0.2, 0, 0.0, False)]},
    1: {0: [(1.0, 3, 10.0, True)], 1: [(1.0, 2, -1.0, False)]},
    2: {0: [(0.25, 3, 8.0, True), (0.75, 1, 0.0, False)], 1: [(1.0, 0, 0.5, False)]},
    3: {0: [(1.0, 3, 0.0, True)], 1: [(1.0, 3, 0.0, True)]},
}
"""A four-state model written like a toy-text env's ``P``; state 3 is terminal. Its value
in the value tables below is large on purpose: bootstrapping from it shows."""


def _frozen_lake_model() -> Any:
    return gym.make("FrozenLake-v1", is_slippery=True).unwrapped.P  # type: ignore[attr-defined]


def check_bellman_backup(student_function: Any) -> Any:
    """Check ``bellman_backup(values, transitions, state, gamma) -> float``."""
    values = np.array([1.0, 2.0, 4.0, 100.0])
    lake_values = np.random.default_rng(0).uniform(0, 1, size=16)
    cases = [
        Case(
            "a deterministic move is the best",
            lambda f: f(np.array([0.0, 9.0, 1.0, 100.0]), _MODEL, 0, 0.9),
            rule="the value of an action is the reward plus gamma times the value of the "
            "state it leads to",
        ),
        Case(
            "outcomes weighted by their probabilities",
            lambda f: f(values, _MODEL, 0, 0.9),
            rule="an action with several outcomes is worth the probability-weighted sum of "
            "(reward + gamma times the next state's value) over its outcomes",
        ),
        Case(
            "a move that ends the episode",
            lambda f: f(values, _MODEL, 1, 0.9),
            rule="an outcome that terminates the episode adds its reward only: there is no "
            "future after it, whatever value the table holds for its next state",
        ),
        Case(
            "terminal and non-terminal outcomes of one action",
            lambda f: f(np.array([1.0, 2.0, 0.0, 100.0]), _MODEL, 2, 0.9),
            rule="the terminated flag is per outcome: only the outcomes that end the "
            "episode lose their bootstrap",
        ),
        Case(
            "the best action, not the average",
            lambda f: f(np.array([9.0, 0.0, 0.0, 0.0]), _MODEL, 2, 0.5),
            rule="the backup is the largest value over the actions, not their mean or sum",
        ),
        Case(
            "gamma = 0",
            lambda f: f(values, _MODEL, 0, 0.0),
            rule="with gamma = 0 an action is worth its expected immediate reward",
        ),
        Case(
            "FrozenLake's own model, next to the goal",
            lambda f: f(lake_values, _frozen_lake_model(), 14, 0.99),
            rule="the same backup on a toy-text env's model env.unwrapped.P (slippery "
            "FrozenLake: three outcomes per action)",
        ),
    ]
    return check_exercise(
        "bellman_backup",
        student_function,
        bellman_backup,
        cases,
        hint="for each action of the state, add up over its outcomes the probability times "
        "(reward plus gamma times the next state's value, that last part only if the "
        "outcome did not terminate); the backup is the best of these action values.",
        pointer="the Bellman optimality equation for V* in section 3 of this lesson; "
        "transitions[state] maps each action to its list of (probability, next_state, "
        "reward, terminated)",
    )


# --- epsilon_greedy -----------------------------------------------------------------------

_DRAWS = 3000
_SIGMAS = 5


def _frequencies(policy: Any, q_row: list[float], epsilon: float) -> Any:
    """How often each action came out of ``_DRAWS`` calls (rounded to 0.001 for reading)."""
    rng = np.random.default_rng(0)
    actions = [policy(np.array(q_row), epsilon, rng) for _ in range(_DRAWS)]
    if not all(isinstance(a, (int, np.integer)) for a in actions):
        return f"actions of type {type(actions[0]).__name__}, expected an int"
    if any(not 0 <= a < len(q_row) for a in actions):
        return f"an action outside 0..{len(q_row) - 1}"
    counts = np.bincount(np.asarray(actions, dtype=np.int64), minlength=len(q_row))
    return np.round(counts / _DRAWS, 3)


def _true_distribution(q_row: list[float], epsilon: float) -> np.ndarray:
    q = np.asarray(q_row)
    best = q == q.max()
    return np.full(len(q), epsilon / len(q)) + (1.0 - epsilon) * best / best.sum()


def _fmt(values: Any) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def _distribution_case(name: str, q_row: list[float], epsilon: float, rule: str) -> Case:
    probs = _true_distribution(q_row, epsilon)
    tolerance = _SIGMAS * np.sqrt(probs * (1 - probs) / _DRAWS) + 0.001  # 0.001: the rounding

    def compare(expected: Any, got: Any) -> str | None:
        if isinstance(got, str):
            return got
        if np.all(np.abs(got - probs) <= tolerance):
            return None
        return (
            f"action frequencies over {_DRAWS} draws: got {_fmt(got)}, expected the true "
            f"probabilities {_fmt(probs)} within {_SIGMAS} standard errors "
            f"(+- {_fmt(tolerance)})"
        )

    return Case(name, lambda f: _frequencies(f, q_row, epsilon), rule=rule, compare=compare)


_REPLAY_CALLS = 200


def _actions_drawn(policy: Any, seed: int, global_seed: int) -> list[int]:
    """The actions of ``_REPLAY_CALLS`` calls given a generator seeded with ``seed``, the
    global generators seeded with ``global_seed``: exploring and tied calls both draw."""
    rows = ([1.0, 3.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0], [2.0, 1.0, 0.0, -1.0])
    with seeded_global_rngs(global_seed):
        rng = np.random.default_rng(seed)
        return [int(policy(np.array(rows[i % 3]), 0.5, rng)) for i in range(_REPLAY_CALLS)]


def _reproducible(policy: Any) -> dict[str, bool]:
    first = _actions_drawn(policy, seed=7, global_seed=1)
    return {
        "same": first == _actions_drawn(policy, seed=7, global_seed=2),
        "other": first != _actions_drawn(policy, seed=8, global_seed=1),
    }


def check_epsilon_greedy(student_function: Any) -> Any:
    """Check ``epsilon_greedy(q_row, epsilon, rng) -> int`` by its action frequencies,
    compared with the true distribution (any correct way to draw passes), and by where its
    draws come from: the same generator state twice gives the same actions (any order of
    draws passes, as long as all come from ``rng``)."""
    cases = [
        _distribution_case(
            "epsilon = 0 is greedy",
            [0.0, 2.0, 1.0, -1.0],
            0.0,
            "with epsilon = 0 the action is always the one with the largest Q-value",
        ),
        _distribution_case(
            "epsilon = 1 is uniform",
            [0.0, 2.0, 1.0, 5.0],
            1.0,
            "with epsilon = 1 every action, the greedy one included, is equally likely",
        ),
        _distribution_case(
            "epsilon = 0.3 over 4 actions",
            [0.0, 2.0, 1.0, 0.5],
            0.3,
            "with probability epsilon the action is uniformly random (it may "
            "be the greedy one too), otherwise it is the greedy action",
        ),
        _distribution_case(
            "negative Q-values",
            [-3.0, -1.0, -2.0, -5.0],
            0.0,
            "the greedy action is the largest Q-value, also when all are negative",
        ),
        _distribution_case(
            "two actions tied for the best",
            [1.0, 3.0, 3.0, 0.0],
            0.0,
            "ties between the largest Q-values are broken at random: each "
            "tied action is equally likely (not always the first one)",
        ),
        _distribution_case(
            "a fresh table: all four tied",
            [0.0, 0.0, 0.0, 0.0],
            0.1,
            "when every action is tied (a table that starts at zeros) every "
            "action is equally likely, even with a small epsilon",
        ),
        Case(
            "the generator given decides every draw",
            _reproducible,
            rule="every random draw (the coin, the random action, the choice among tied "
            "actions) comes from the generator rng given, and from nothing else: the same "
            "generator state gives the same actions, whatever the rest of the program drew",
            compare=compare_reproducible("actions", f"{_REPLAY_CALLS} calls"),
        ),
    ]
    return check_exercise(
        "epsilon_greedy",
        student_function,
        epsilon_greedy,
        cases,
        hint="flip a biased coin with the generator rng you are given, and draw from it "
        "alone: heads (probability epsilon) picks any action at random, the greedy one "
        "included; tails picks an action of largest Q-value, at random among them if "
        "several share the largest value. Return a plain Python int.",
        pointer="section 5 of this lesson, and numpy's Generator methods random, integers "
        "and choice, and numpy's flatnonzero",
    )


# --- q_learning_update ----------------------------------------------------------------------


def _table() -> np.ndarray:
    q = np.zeros((4, 3))
    q[0] = [0.5, 1.0, -1.0]
    q[1] = [2.0, -4.0, 6.0]  # state 1's best action (2) is not the one taken in state 0 (1)
    q[2] = [-3.0, -2.0, -2.5]
    q[3] = [50.0, 50.0, 50.0]  # the largest values of the table, in another state
    return q


def _update(
    f: Any,
    state: int,
    action: int,
    reward: float,
    next_state: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> tuple[float | np.ndarray, np.ndarray]:
    """What the update returned and the table it left behind."""
    q = _table()
    returned = f(q, state, action, reward, next_state, terminated, alpha, gamma)
    if isinstance(returned, np.ndarray) and returned.ndim > 0:
        return returned, q  # a table where a number was expected: shown as is
    return float(returned), q


def check_q_learning_update(student_function: Any) -> Any:
    """Check ``q_learning_update(q, state, action, reward, next_state, terminated, alpha,
    gamma) -> TD error`` (and the table it changes in place)."""
    cases = [
        Case(
            "one update",
            lambda f: _update(f, 0, 1, 1.0, 1, False, 0.5, 0.9),
            rule="the TD target is the reward plus gamma times the largest Q-value of the "
            "next state (over its actions, whichever action was taken now); the function "
            "returns the TD error (target minus the old Q(s, a)) and moves Q(s, a) by "
            "alpha times that error, in the table it was given",
        ),
        Case(
            "only Q(s, a) changes",
            lambda f: _update(f, 2, 0, -1.0, 0, False, 0.1, 0.99),
            rule="one update changes one entry of the table, Q(state, action), and no other",
        ),
        Case(
            "a terminated transition does not bootstrap",
            lambda f: _update(f, 1, 2, 10.0, 3, True, 0.5, 0.9),
            rule="when the episode terminated the target is the reward alone: the next "
            "state has no future, whatever the table holds for it",
        ),
        Case(
            "negative next values",
            lambda f: _update(f, 0, 0, 0.0, 2, False, 0.5, 1.0),
            rule="the largest Q-value of the next state may be negative: it still counts",
        ),
        Case(
            "alpha = 1 replaces the estimate",
            lambda f: _update(f, 0, 2, 2.0, 1, False, 1.0, 0.5),
            rule="with alpha = 1 the new Q(s, a) is the TD target itself",
        ),
        Case(
            "gamma = 0",
            lambda f: _update(f, 2, 1, 3.0, 1, False, 0.5, 0.0),
            rule="with gamma = 0 the target is the reward alone",
        ),
    ]
    return check_exercise(
        "q_learning_update",
        student_function,
        q_learning_update,
        cases,
        hint="compute the target from the reward and the best value of the next state's "
        "row (no next-state part if terminated), the error as target minus the current "
        "estimate, then move the estimate a fraction alpha of the way towards the target. "
        "Change the table you were given (no copy) and return the error you computed "
        "before the change.",
        pointer="the Q-learning update equation in section 5 of this lesson",
    )
