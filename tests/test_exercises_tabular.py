"""Lesson 01's checks: correct answers in other styles pass; the typical mistakes are caught,
with a message naming the property they break; no check prints answer code."""

import random

import numpy as np
import pytest
from exercise_helpers import assert_no_answer_code

from rlcourse.agents.tabular import bellman_backup, epsilon_greedy, q_learning_update
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.tabular import (
    check_bellman_backup,
    check_epsilon_greedy,
    check_q_learning_update,
    check_reward_to_go,
)
from rlcourse.returns import reward_to_go

# --- correct answers written differently from the package -----------------------------------


def _returns_with_powers(rewards, gamma):
    """Each step's sum of discounted later rewards, written out (quadratic, but correct)."""
    n = len(rewards)
    return np.array([sum(gamma**k * rewards[t + k] for k in range(n - t)) for t in range(n)])


def _returns_backwards_into_a_list(rewards, gamma):
    returns, g = [], 0.0
    for reward in reversed(list(rewards)):
        g = reward + gamma * g
        returns.append(g)
    return returns[::-1]


def _returns_with_a_discount_matrix(rewards, gamma):
    rewards = np.asarray(rewards, dtype=float)
    t = np.arange(len(rewards))
    powers = np.where(t[None, :] >= t[:, None], gamma ** np.maximum(t[None, :] - t[:, None], 0), 0)
    return powers @ rewards


def _backup_with_list_comprehensions(values, transitions, state, gamma):
    return max(
        sum(p * (r + gamma * values[s2] * (not done)) for p, s2, r, done in outcomes)
        for outcomes in transitions[state].values()
    )


def _backup_with_loops_and_numpy(values, transitions, state, gamma):
    action_values = []
    for action in sorted(transitions[state]):
        total = 0.0
        for prob, next_state, reward, terminated in transitions[state][action]:
            if terminated:
                total += prob * reward
            else:
                total += prob * (reward + gamma * values[next_state])
        action_values.append(total)
    return np.max(action_values)


def _greedy_with_choice_of_ties(q_row, epsilon, rng):
    if rng.random() < epsilon:
        return int(rng.choice(len(q_row)))
    return int(rng.choice(np.where(q_row == np.max(q_row))[0]))


def _greedy_with_probabilities(q_row, epsilon, rng):
    best = (q_row == q_row.max()).astype(float)
    probs = epsilon / len(q_row) + (1 - epsilon) * best / best.sum()
    return int(rng.choice(len(q_row), p=probs))


def _greedy_random_argmax_by_shuffling(q_row, epsilon, rng):
    order = rng.permutation(len(q_row))  # drawn before the coin
    if rng.uniform() < epsilon:
        return int(rng.integers(0, len(q_row)))
    return int(order[np.argmax(q_row[order])])


def _greedy_ties_drawn_before_the_coin(q_row, epsilon, rng):
    """Draws in another order than the package (a tie-break drawn on every call, then the
    coin, then a uniform action with choice): any order passes, as long as all is from rng."""
    tie_break = rng.choice(np.flatnonzero(q_row == q_row.max()))
    explore = rng.random() < epsilon
    return int(rng.choice(len(q_row))) if explore else int(tie_break)


def _update_in_two_lines(q, state, action, reward, next_state, terminated, alpha, gamma):
    error = reward + gamma * q[next_state].max() * (1 - terminated) - q[state, action]
    q[state, action] = q[state, action] + alpha * error
    return error


def _update_with_branches(q, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward
    if not terminated:
        target += gamma * np.max(q[next_state, :])
    old = q[state][action]
    q[state][action] = (1 - alpha) * old + alpha * target
    return target - old


CORRECT = [
    (check_reward_to_go, _returns_with_powers),
    (check_reward_to_go, _returns_backwards_into_a_list),
    (check_reward_to_go, _returns_with_a_discount_matrix),
    (check_reward_to_go, lambda *a: reward_to_go(*a)),
    (check_bellman_backup, _backup_with_list_comprehensions),
    (check_bellman_backup, _backup_with_loops_and_numpy),
    (check_bellman_backup, lambda *a: bellman_backup(*a)),
    (check_epsilon_greedy, _greedy_with_choice_of_ties),
    (check_epsilon_greedy, _greedy_with_probabilities),
    (check_epsilon_greedy, _greedy_random_argmax_by_shuffling),
    (check_epsilon_greedy, lambda *a: epsilon_greedy(*a)),
    (check_epsilon_greedy, _greedy_ties_drawn_before_the_coin),
    (check_q_learning_update, _update_in_two_lines),
    (check_q_learning_update, _update_with_branches),
    (check_q_learning_update, lambda *a: q_learning_update(*a)),
]


@pytest.mark.parametrize(("check", "correct"), CORRECT)
def test_correct_code_passes(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


# --- typical mistakes -------------------------------------------------------------------------


def _return_of_the_episode_only(rewards, gamma):
    """Lesson 01's former exercise: one number, the episode's discounted return."""
    return float(sum(gamma**k * r for k, r in enumerate(rewards)))


def _returns_discounted_from_the_start(rewards, gamma):
    """Each step's later rewards, discounted by their distance from step 0, not step t."""
    rewards = np.asarray(rewards, dtype=float)
    discounted = rewards * gamma ** np.arange(len(rewards))
    return np.cumsum(discounted[::-1])[::-1]


def _returns_left_backwards(rewards, gamma):
    """Walks backwards but forgets to turn the list around."""
    returns, g = [], 0.0
    for reward in reversed(list(rewards)):
        g = reward + gamma * g
        returns.append(g)
    return np.array(returns)


def _returns_of_what_came_before(rewards, gamma):
    """Accumulates forwards: the discounted sum of the rewards up to step t."""
    returns, g = [], 0.0
    for reward in rewards:
        g = gamma * g + reward
        returns.append(g)
    return np.array(returns)


def _returns_in_an_integer_array(rewards, gamma):
    """Fills np.zeros_like(rewards): integer rewards give an integer array."""
    rewards = np.asarray(rewards)
    returns = np.zeros_like(rewards)
    g = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * g
        returns[t] = g
    return returns


def _returns_written_over_the_rewards(rewards, gamma):
    """Overwrites the array it was given (the caller's rewards are lost)."""
    rewards = np.asarray(rewards, dtype=float)
    for t in range(len(rewards) - 2, -1, -1):
        rewards[t] += gamma * rewards[t + 1]
    return rewards


def _backup(
    no_terminal_mask=False,
    no_probability=False,
    mean_over_actions=False,
    whole_action_terminal=False,
):
    def backup(values, transitions, state, gamma):
        action_values = []
        for outcomes in transitions[state].values():
            any_terminal = any(done for *_, done in outcomes)
            total = 0.0
            for p, s2, r, done in outcomes:
                ends = any_terminal if whole_action_terminal else done
                future = 0.0 if ends and not no_terminal_mask else gamma * values[s2]
                total += (1.0 if no_probability else p) * (r + future)
            action_values.append(total)
        return float(np.mean(action_values) if mean_over_actions else max(action_values))

    return backup


def _greedy_only(q_row, epsilon, rng):
    return int(np.argmax(q_row))


def _greedy_first_of_ties(q_row, epsilon, rng):
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    return int(np.argmax(q_row))


def _explores_with_probability_one_minus_epsilon(q_row, epsilon, rng):
    if rng.random() < 1 - epsilon:
        return int(rng.integers(len(q_row)))
    return int(np.argmax(q_row))


def _explores_among_others_only(q_row, epsilon, rng):
    best = int(np.argmax(q_row))
    if rng.random() < epsilon:
        return int(rng.choice([a for a in range(len(q_row)) if a != best]))
    return best


def _returns_numpy_array(q_row, epsilon, rng):
    return np.argmax(q_row, keepdims=True)


def _greedy_from_numpys_global_generator(q_row, epsilon, rng):
    """Right frequencies, but every draw from np.random instead of the rng given."""
    if np.random.random() < epsilon:  # noqa: NPY002 (the mistake under test)
        return int(np.random.randint(len(q_row)))  # noqa: NPY002
    return int(np.random.choice(np.flatnonzero(q_row == q_row.max())))  # noqa: NPY002


def _greedy_ties_from_the_global_generator(q_row, epsilon, rng):
    """The coin from rng, but the ties broken with np.random."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    return int(np.random.choice(np.flatnonzero(q_row == q_row.max())))  # noqa: NPY002


def _greedy_with_pythons_random(q_row, epsilon, rng):
    if random.random() < epsilon:
        return random.randrange(len(q_row))
    return random.choice(np.flatnonzero(q_row == q_row.max()).tolist())


def _greedy_with_its_own_seeded_generator(q_row, epsilon, rng):
    """A generator of its own, with a fixed seed, made once (the rng given is ignored)."""
    own = _OWN_GENERATOR
    if own.random() < epsilon:
        return int(own.integers(len(q_row)))
    return int(own.choice(np.flatnonzero(q_row == q_row.max())))


_OWN_GENERATOR = np.random.default_rng(0)


def _update(
    bootstrap_terminal=False,
    taken_action=False,
    whole_table_max=False,
    no_alpha=False,
    returns_new_value=False,
    copy=False,
    error_after_update=False,
):
    def update(q, state, action, reward, next_state, terminated, alpha, gamma):
        table = q.copy() if copy else q
        if whole_table_max:
            best = table.max()
        elif taken_action:
            best = table[next_state, action]
        else:
            best = table[next_state].max()
        ends = terminated and not bootstrap_terminal
        target = reward + (0.0 if ends else gamma * best)
        error = target - table[state, action]
        table[state, action] += (1.0 if no_alpha else alpha) * error
        if returns_new_value:
            return table[state, action]
        if error_after_update:
            return target - table[state, action]
        return error

    return update


MISTAKES = [
    # (check, buggy, case named, words of the broken property, the reference)
    (
        check_reward_to_go,
        _return_of_the_episode_only,
        "a single reward",
        "one return per step",
        reward_to_go,
    ),
    (
        check_reward_to_go,
        _returns_discounted_from_the_start,
        "three rewards",
        "not from the episode's start",
        reward_to_go,
    ),
    (
        check_reward_to_go,
        _returns_left_backwards,
        "three rewards",
        "plus gamma times the return of step t + 1",
        reward_to_go,
    ),
    (
        check_reward_to_go,
        _returns_of_what_came_before,
        "three rewards",
        "plus gamma times the return of step t + 1",
        reward_to_go,
    ),
    (
        check_reward_to_go,
        _returns_in_an_integer_array,
        "integer rewards",
        "the returns are floats",
        reward_to_go,
    ),
    (
        check_reward_to_go,
        _returns_written_over_the_rewards,
        "rewards in a NumPy array, left as they were",
        "leaves the array it was given unchanged",
        reward_to_go,
    ),
    (
        check_bellman_backup,
        _backup(no_terminal_mask=True),
        "a move that ends the episode",
        "there is no future after it",
        bellman_backup,
    ),
    (
        check_bellman_backup,
        _backup(whole_action_terminal=True),
        "terminal and non-terminal outcomes of one action",
        "the terminated flag is per outcome",
        bellman_backup,
    ),
    (
        check_bellman_backup,
        _backup(no_probability=True),
        "outcomes weighted by their probabilities",
        "probability-weighted sum",
        bellman_backup,
    ),
    (
        check_bellman_backup,
        _backup(mean_over_actions=True),
        "a deterministic move is the best",
        "the reward plus gamma times the value",
        bellman_backup,
    ),
    (
        check_epsilon_greedy,
        _greedy_only,
        "epsilon = 1 is uniform",
        "equally likely",
        epsilon_greedy,
    ),
    (
        check_epsilon_greedy,
        _greedy_first_of_ties,
        "two actions tied for the best",
        "broken at random",
        epsilon_greedy,
    ),
    (
        check_epsilon_greedy,
        _explores_with_probability_one_minus_epsilon,
        "epsilon = 0 is greedy",
        "always the one with the largest Q-value",
        epsilon_greedy,
    ),
    (
        check_epsilon_greedy,
        _explores_among_others_only,
        "epsilon = 1 is uniform",
        "the greedy one included",
        epsilon_greedy,
    ),
    (
        check_epsilon_greedy,
        _returns_numpy_array,
        "epsilon = 0 is greedy",
        "expected an int",
        epsilon_greedy,
    ),
    (
        check_epsilon_greedy,
        _greedy_from_numpys_global_generator,
        "the generator given decides every draw",
        "comes from the generator rng given",
        epsilon_greedy,
    ),
    (
        check_epsilon_greedy,
        _greedy_ties_from_the_global_generator,
        "the generator given decides every draw",
        "do not come from the generator you are given",
        epsilon_greedy,
    ),
    (
        check_epsilon_greedy,
        _greedy_with_pythons_random,
        "the generator given decides every draw",
        "Python's random module",
        epsilon_greedy,
    ),
    (
        check_epsilon_greedy,
        _greedy_with_its_own_seeded_generator,
        "the generator given decides every draw",
        "gave different actions",
        epsilon_greedy,
    ),
    (
        check_q_learning_update,
        _update(bootstrap_terminal=True),
        "a terminated transition does not bootstrap",
        "the target is the reward alone",
        q_learning_update,
    ),
    (
        check_q_learning_update,
        _update(taken_action=True),
        "one update",
        "whichever action was taken now",
        q_learning_update,
    ),
    (
        check_q_learning_update,
        _update(whole_table_max=True),
        "one update",
        "largest Q-value of the next state",
        q_learning_update,
    ),
    (
        check_q_learning_update,
        _update(no_alpha=True),
        "one update",
        "alpha times that error",
        q_learning_update,
    ),
    (
        check_q_learning_update,
        _update(returns_new_value=True),
        "one update",
        "returns the TD error",
        q_learning_update,
    ),
    (
        check_q_learning_update,
        _update(copy=True),
        "one update",
        "in the table it was given",
        q_learning_update,
    ),
    (
        check_q_learning_update,
        _update(error_after_update=True),
        "one update",
        "returns the TD error",
        q_learning_update,
    ),
]


@pytest.mark.parametrize(("check", "buggy", "case", "words", "reference"), MISTAKES)
def test_checks_catch_typical_mistakes(capsys, check, buggy, case, words, reference):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    assert out.startswith(WRONG), out
    assert f"case '{case}" in out, out
    assert words in out, out
    assert "A correct answer must satisfy:" in out and "Hint:" in out
    assert_no_answer_code(out, reference)


def test_a_missing_return_is_named(capsys):
    def no_return(q, state, action, reward, next_state, terminated, alpha, gamma):
        q[state, action] += 0.0

    check_q_learning_update(no_return)
    assert "is its `return` line missing?" in capsys.readouterr().out


def test_epsilon_greedy_check_leaves_the_global_generators_as_they_were(capsys):
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    numpy_before, python_before = np.random.random(), random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    check_epsilon_greedy(_greedy_with_choice_of_ties)  # seeds them, then puts them back
    assert np.random.random() == numpy_before  # noqa: NPY002
    assert random.random() == python_before


def test_reward_to_go_is_the_package_function_lesson_08_imports():
    from rlcourse.agents import reinforce

    assert reinforce.reward_to_go is reward_to_go


def test_epsilon_greedy_reports_the_tied_distribution(capsys):
    check_epsilon_greedy(_greedy_first_of_ties)
    out = capsys.readouterr().out
    assert "expected the true probabilities [0.000, 0.500, 0.500, 0.000]" in out


def test_a_second_wrong_try_adds_the_pointer(capsys):
    buggy = _backup(no_terminal_mask=True)
    check_bellman_backup(buggy)
    assert "Look at:" not in capsys.readouterr().out
    check_bellman_backup(buggy)
    out = capsys.readouterr().out
    assert "Look at:" in out and "Bellman optimality equation" in out
    assert_no_answer_code(out, bellman_backup)


@pytest.mark.parametrize(
    ("check", "reference"),
    [
        (check_reward_to_go, reward_to_go),
        (check_bellman_backup, bellman_backup),
        (check_epsilon_greedy, epsilon_greedy),
        (check_q_learning_update, q_learning_update),
    ],
)
def test_unfilled_or_rerun_exercises_fall_back_to_the_reference(capsys, check, reference):
    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    assert check(unfilled) is reference
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)
    assert check(reference) is reference  # a check cell re-run on its own
    assert "re-run your code cell first" in capsys.readouterr().out
