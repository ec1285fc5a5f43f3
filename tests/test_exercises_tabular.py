"""Lesson 01's checks: correct answers in other styles pass; the typical mistakes are caught,
with a message naming the property they break; no check prints answer code."""

import numpy as np
import pytest
from exercise_helpers import assert_no_answer_code

from rlcourse.agents.tabular import (
    bellman_backup,
    discounted_return,
    epsilon_greedy,
    q_learning_update,
)
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.tabular import (
    check_bellman_backup,
    check_discounted_return,
    check_epsilon_greedy,
    check_q_learning_update,
)

# --- correct answers written differently from the package -----------------------------------


def _return_with_powers(rewards, gamma):
    total = 0.0
    for k, reward in enumerate(rewards):
        total += gamma**k * reward
    return total


def _return_with_numpy(rewards, gamma):
    rewards = np.asarray(rewards, dtype=float)
    return float(np.sum(rewards * gamma ** np.arange(len(rewards))))


def _return_backwards(rewards, gamma):
    g = 0
    for reward in rewards[::-1]:
        g = reward + gamma * g
    return g


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
    (check_discounted_return, _return_with_powers),
    (check_discounted_return, _return_with_numpy),
    (check_discounted_return, _return_backwards),
    (check_discounted_return, lambda *a: discounted_return(*a)),
    (check_bellman_backup, _backup_with_list_comprehensions),
    (check_bellman_backup, _backup_with_loops_and_numpy),
    (check_bellman_backup, lambda *a: bellman_backup(*a)),
    (check_epsilon_greedy, _greedy_with_choice_of_ties),
    (check_epsilon_greedy, _greedy_with_probabilities),
    (check_epsilon_greedy, _greedy_random_argmax_by_shuffling),
    (check_epsilon_greedy, lambda *a: epsilon_greedy(*a)),
    (check_q_learning_update, _update_in_two_lines),
    (check_q_learning_update, _update_with_branches),
    (check_q_learning_update, lambda *a: q_learning_update(*a)),
]


@pytest.mark.parametrize(("check", "correct"), CORRECT)
def test_correct_code_passes(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


# --- typical mistakes -------------------------------------------------------------------------


def _return_off_by_one_power(rewards, gamma):
    return sum(gamma ** (k + 1) * r for k, r in enumerate(rewards))


def _return_reversed_powers(rewards, gamma):
    n = len(rewards)
    return sum(gamma ** (n - 1 - k) * r for k, r in enumerate(rewards))


def _return_undiscounted(rewards, gamma):
    return float(sum(rewards))


def _return_list(rewards, gamma):
    return [gamma**k * r for k, r in enumerate(rewards)]


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
        check_discounted_return,
        _return_off_by_one_power,
        "a single reward",
        "the first reward counts fully",
        discounted_return,
    ),
    (
        check_discounted_return,
        _return_reversed_powers,
        "three rewards",
        "the later a reward, the less it counts",
        discounted_return,
    ),
    (
        check_discounted_return,
        _return_undiscounted,
        "three rewards",
        "multiplied by gamma to the power k",
        discounted_return,
    ),
    (check_discounted_return, _return_list, "a single reward", "expected 5", discounted_return),
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
        (check_discounted_return, discounted_return),
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
