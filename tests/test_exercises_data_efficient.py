"""Lesson 07's checks (dueling Q-values, the n-step chain of a replay sample, random shift):
correct answers in other styles pass (a random shift with any draw of offsets among them);
the typical mistakes are caught, with the case and the rule that point at them; no check
prints answer code."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from exercise_helpers import assert_no_answer_code

from rlcourse.augmentation import random_shift
from rlcourse.buffers import n_step_chain
from rlcourse.course.exercises import data_efficient
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.data_efficient import (
    check_dueling_q_values,
    check_n_step_chain,
    check_random_shift,
)
from rlcourse.networks import dueling_q_values

# --- dueling_q_values ----------------------------------------------------------------------


def _dueling_last_dim(values, advantages):
    return values + (advantages - advantages.mean(dim=-1, keepdim=True))


def _dueling_unsqueezed(values, advantages):
    mean = torch.mean(advantages, 1).unsqueeze(1)
    return values.expand_as(advantages) + advantages - mean


def _dueling_without_the_mean(values, advantages):
    return values + advantages


def _dueling_mean_over_the_batch(values, advantages):
    return values + advantages - advantages.mean(dim=0, keepdim=True)


def _dueling_value_detached(values, advantages):
    return values.detach() + advantages - advantages.mean(dim=1, keepdim=True)


def _dueling_in_place(values, advantages):
    """Correct, but changes its input: the check's cases must not change with it."""
    advantages -= advantages.mean(dim=1, keepdim=True)
    return values + advantages


def _dueling_max(values, advantages):
    return values + advantages - advantages.max(dim=1, keepdim=True).values


def _dueling_global_mean(values, advantages):
    return values + advantages - advantages.mean()


def _dueling_divided_by_the_batch_size(values, advantages):
    return values + advantages - advantages.sum(dim=1, keepdim=True) / advantages.shape[0]


def _dueling_mean_detached(values, advantages):
    return values + advantages - advantages.mean(dim=1, keepdim=True).detach()


@pytest.mark.parametrize("correct", [_dueling_last_dim, _dueling_unsqueezed, _dueling_in_place])
def test_dueling_check_passes_correct_code_in_other_styles(capsys, correct):
    assert check_dueling_q_values(correct) is correct
    assert PASSED in capsys.readouterr().out


def test_an_answer_that_changes_its_inputs_leaves_the_cases_as_they_were(capsys):
    values, advantages = data_efficient._VALUES.clone(), data_efficient._ADVANTAGES.clone()
    check_dueling_q_values(_dueling_in_place)
    assert torch.equal(data_efficient._VALUES, values)
    assert torch.equal(data_efficient._ADVANTAGES, advantages)
    # Were the advantages left at mean 0, leaving the mean out would then pass.
    assert check_dueling_q_values(_dueling_without_the_mean) is dueling_q_values
    assert WRONG in capsys.readouterr().out


# --- n_step_chain: correct answers -------------------------------------------------------


def _walk(rewards, terminated, truncated, newest, starts, n, gamma):
    """Each start's chain by a loop; ``newest``: the row where every chain stops (None:
    none, a mistake)."""
    capacity = len(rewards)
    returns, discounts, last = [], [], []
    for start in starts:
        total, discount = 0.0, 1.0
        for j in range(n):
            row = (start + j) % capacity
            total += discount * rewards[row]
            discount *= gamma
            if terminated[row] or truncated[row] or row == newest:
                break
        returns.append(total)
        discounts.append(0.0 if terminated[row] else discount)
        last.append(row)
    return np.array(returns), np.array(discounts), np.array(last)


def _chain_by_loop(rewards, terminated, truncated, cursor, starts, n, gamma):
    newest = (cursor - 1) % len(rewards)
    return _walk(rewards, terminated, truncated, newest, starts, n, gamma)


def _chain_in_torch(rewards, terminated, truncated, cursor, starts, n, gamma):
    """Counts the rows left before the newest, then masks with a cumulative product."""
    capacity = len(rewards)
    starts = torch.as_tensor(starts)
    rows = (starts[:, None] + torch.arange(n)) % capacity
    until_newest = (cursor - 1 - starts) % capacity + 1  # rows up to the newest, included
    stop = torch.as_tensor(terminated | truncated)[rows]
    before = torch.ones_like(stop)
    before[:, 1:] = torch.cumprod(~stop[:, :-1], dim=1).bool()
    counted = before & (torch.arange(n) < until_newest[:, None])
    k = counted.sum(dim=1)
    powers = gamma ** torch.arange(n, dtype=torch.float64)
    returns = (torch.as_tensor(rewards, dtype=torch.float64)[rows] * counted * powers).sum(1)
    last = rows[torch.arange(len(starts)), k - 1]
    discounts = torch.where(torch.as_tensor(terminated)[last], 0.0, gamma ** k.double())
    return returns, discounts, last


def _chain_recursive(rewards, terminated, truncated, cursor, starts, n, gamma):
    """One start at a time, by recursion: a chain is its first reward plus gamma times the
    chain of the next row, unless it must stop here."""
    capacity = len(rewards)

    def chain(row, left):
        stop = terminated[row] or truncated[row] or row == (cursor - 1) % capacity
        if stop or left == 1:
            return float(rewards[row]), (0.0 if terminated[row] else gamma), row
        total, discount, last = chain((row + 1) % capacity, left - 1)
        return rewards[row] + gamma * total, gamma * discount, last

    results = [chain(int(start), n) for start in starts]
    return tuple(np.array(column) for column in zip(*results, strict=True))


@pytest.mark.parametrize("correct", [_chain_by_loop, _chain_in_torch, _chain_recursive])
def test_n_step_chain_check_passes_correct_code_in_other_styles(capsys, correct):
    assert check_n_step_chain(correct) is correct
    assert PASSED in capsys.readouterr().out


def test_the_package_samples_its_n_step_transitions_with_n_step_chain():
    from rlcourse.buffers import ReplayBuffer

    memory = ReplayBuffer(6, obs_shape=(1,), rng=np.random.default_rng(0))
    for t in range(9):  # wraps; terminated after 5, truncated after 7
        memory.add([t], 0, float(t), [t + 1], terminated=t == 5, truncated=t == 7)
    batch, discounts = memory.sample_n_step(6, 3, 0.5)
    starts = (batch.obs[:, 0].astype(int)) % 6
    returns, bootstrap, last = _chain_by_loop(
        memory.rewards, memory.terminated, memory.truncated, 9 % 6, starts, 3, 0.5
    )
    np.testing.assert_allclose(batch.rewards, returns)
    np.testing.assert_allclose(discounts, bootstrap)
    np.testing.assert_array_equal(batch.next_obs[:, 0], memory.next_obs[last, 0])


# --- n_step_chain: mistakes ----------------------------------------------------------------


def _bootstraps_after_termination(rewards, terminated, truncated, cursor, starts, n, gamma):
    returns, discounts, last = _chain_by_loop(
        rewards, terminated, truncated, cursor, starts, n, gamma
    )
    k = (last - np.asarray(starts)) % len(rewards) + 1
    return returns, gamma**k, last


def _truncation_without_bootstrap(rewards, terminated, truncated, cursor, starts, n, gamma):
    """Treats a truncation as a termination."""
    return _chain_by_loop(rewards, terminated | truncated, truncated, cursor, starts, n, gamma)


def _discount_one_power_short(rewards, terminated, truncated, cursor, starts, n, gamma):
    returns, discounts, last = _chain_by_loop(
        rewards, terminated, truncated, cursor, starts, n, gamma
    )
    k = (last - np.asarray(starts)) % len(rewards) + 1
    return returns, np.where(discounts == 0, 0.0, gamma ** (k - 1.0)), last


def _ignores_the_wrap(rewards, terminated, truncated, cursor, starts, n, gamma):
    """Rows start + j without the modulo: past the last row there is none."""
    rows = np.asarray(starts)[:, None] + np.arange(n)
    ends = terminated[rows] | truncated[rows] | (rows == cursor - 1)
    counted = np.cumsum(ends, axis=1) - ends == 0
    k = counted.sum(axis=1)
    last = rows[np.arange(len(starts)), k - 1]
    returns = (np.where(counted, rewards[rows], 0.0) * gamma ** np.arange(n)).sum(axis=1)
    return returns, np.where(terminated[last], 0.0, gamma**k), last


def _crosses_into_the_next_episode(rewards, terminated, truncated, cursor, starts, n, gamma):
    """Stops only at the newest row, and drops the bootstrap if any row terminated."""
    nothing = np.zeros_like(terminated)
    returns, discounts, last = _chain_by_loop(rewards, nothing, nothing, cursor, starts, n, gamma)
    capacity = len(rewards)
    for i, start in enumerate(starts):
        rows = [(start + j) % capacity for j in range((last[i] - start) % capacity + 1)]
        if terminated[rows].any():
            discounts[i] = 0.0
    return returns, discounts, last


def _runs_past_the_newest(rewards, terminated, truncated, cursor, starts, n, gamma):
    """Ignores the cursor: a chain runs on into the oldest rows (or rows never written)."""
    return _walk(rewards, terminated, truncated, None, starts, n, gamma)


def _newest_at_the_cursor(rewards, terminated, truncated, cursor, starts, n, gamma):
    return _walk(rewards, terminated, truncated, cursor, starts, n, gamma)


def _last_one_row_on(rewards, terminated, truncated, cursor, starts, n, gamma):
    returns, discounts, last = _chain_by_loop(
        rewards, terminated, truncated, cursor, starts, n, gamma
    )
    return returns, discounts, (last + 1) % len(rewards)


def _termination_checked_before_the_last_step(
    rewards, terminated, truncated, cursor, starts, n, gamma
):
    """Looks at the termination flags of the first n - 1 rows only, for the bootstrap."""
    returns, discounts, last = _chain_by_loop(
        rewards, terminated, truncated, cursor, starts, n, gamma
    )
    k = (last - np.asarray(starts)) % len(rewards) + 1
    at_n = k == n
    discounts[at_n] = gamma**n
    return returns, discounts, last


def _rows_as_floats(rewards, terminated, truncated, cursor, starts, n, gamma):
    returns, discounts, last = _chain_by_loop(
        rewards, terminated, truncated, cursor, starts, n, gamma
    )
    return returns, discounts, last.astype(float)


def _two_arrays(rewards, terminated, truncated, cursor, starts, n, gamma):
    return _chain_by_loop(rewards, terminated, truncated, cursor, starts, n, gamma)[:2]


# --- random_shift: correct answers (other draws than the package's) ----------------------


def _shift_with_f_pad(images, pad, rng):
    """Replicate padding in float (it takes no uint8), one crop per image."""
    if pad == 0:
        return images
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    out = torch.empty_like(images)
    for i in range(len(images)):
        y, x = rng.integers(0, 2 * pad + 1, size=2)
        out[i] = padded[i, :, y : y + height, x : x + width].to(images.dtype)
    return out


def _shift_with_numpy(images, pad, rng):
    array = images.numpy()
    padded = np.pad(array, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
    height, width = array.shape[-2:]
    crops = []
    for image in padded:
        x = rng.integers(2 * pad + 1)
        y = rng.integers(2 * pad + 1)
        crops.append(image[:, y : y + height, x : x + width])
    return torch.from_numpy(np.stack(crops))


# --- random_shift: mistakes ----------------------------------------------------------------


def _zero_padding(images, pad, rng):
    padded = F.pad(images, (pad, pad, pad, pad))  # constant 0 padding accepts uint8
    height, width = images.shape[-2:]
    out = torch.empty_like(images)
    for i in range(len(images)):
        y, x = rng.integers(0, 2 * pad + 1, size=2)
        out[i] = padded[i, :, y : y + height, x : x + width]
    return out


def _one_offset_for_the_batch(images, pad, rng):
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    y, x = rng.integers(0, 2 * pad + 1, size=2)
    return padded[:, :, y : y + height, x : x + width].to(images.dtype)


def _high_end_excluded(images, pad, rng):
    """rng.integers(0, 2 * pad) never draws the last corner: no move by +pad."""
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    out = torch.empty_like(images)
    for i in range(len(images)):
        y, x = rng.integers(0, max(2 * pad, 1), size=2)
        out[i] = padded[i, :, y : y + height, x : x + width].to(images.dtype)
    return out


def _channels_apart(images, pad, rng):
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    out = torch.empty_like(images)
    for i in range(len(images)):
        for c in range(images.shape[1]):
            y, x = rng.integers(0, 2 * pad + 1, size=2)
            out[i, c] = padded[i, c, y : y + height, x : x + width].to(images.dtype)
    return out


def _one_draw_for_both_axes(images, pad, rng):
    """The same offset for rows and columns: only the 2 * pad + 1 diagonal moves."""
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    out = torch.empty_like(images)
    for i in range(len(images)):
        y = x = rng.integers(0, 2 * pad + 1)
        out[i] = padded[i, :, y : y + height, x : x + width].to(images.dtype)
    return out


def _clamped_offsets(images, pad, rng):
    """Offsets drawn one too wide and clamped: the border moves come twice as often."""
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    out = torch.empty_like(images)
    for i in range(len(images)):
        y, x = np.clip(rng.integers(-1, 2 * pad + 2, size=2), 0, 2 * pad)
        out[i] = padded[i, :, y : y + height, x : x + width].to(images.dtype)
    return out


def _global_numpy_generator(images, pad, rng):
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    out = torch.empty_like(images)
    for i in range(len(images)):
        y, x = np.random.randint(0, 2 * pad + 1, size=2)  # noqa: NPY002 (the mistake)
        out[i] = padded[i, :, y : y + height, x : x + width].to(images.dtype)
    return out


def _torch_global_generator(images, pad, rng):
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    offsets = torch.randint(0, 2 * pad + 1, (len(images), 2))
    out = torch.empty_like(images)
    for i, (y, x) in enumerate(offsets.tolist()):
        out[i] = padded[i, :, y : y + height, x : x + width].to(images.dtype)
    return out


def _generator_of_a_fixed_seed(images, pad, rng):
    return _shift_with_f_pad(images, pad, np.random.default_rng(0))


def _float_output(images, pad, rng):
    return _shift_with_f_pad(images, pad, rng).float()


def _empty_slice_at_pad_zero(images, pad, rng):
    """Crops the padded image back with [pad:-pad] when the offset is the centre: an empty
    slice when pad is 0."""
    shifted = _shift_with_f_pad(images, max(pad, 1), rng)
    return shifted[..., pad:-pad, pad:-pad] if pad == 0 else _shift_with_f_pad(images, pad, rng)


@pytest.mark.parametrize("correct", [_shift_with_f_pad, _shift_with_numpy])
def test_random_shift_check_passes_any_correct_draw(capsys, correct):
    assert check_random_shift(correct) is correct
    assert PASSED in capsys.readouterr().out


_DUELING = (check_dueling_q_values, dueling_q_values)
_N_STEP = (check_n_step_chain, n_step_chain)
_SHIFT = (check_random_shift, random_shift)


@pytest.mark.parametrize(
    ("exercise", "mistake", "words"),
    [
        (_DUELING, _dueling_without_the_mean, "minus the mean of that state's advantages"),
        (_DUELING, _dueling_mean_over_the_batch, "minus the mean of that state's advantages"),
        (_DUELING, _dueling_value_detached, "nothing may be detached"),
        (_DUELING, _dueling_max, "minus the mean of that state's advantages"),
        (_DUELING, _dueling_global_mean, "minus the mean of that state's advantages"),
        (_DUELING, _dueling_divided_by_the_batch_size, "minus the mean of that state's"),
        (_DUELING, _dueling_mean_detached, "nothing may be detached"),
        (_N_STEP, _bootstraps_after_termination, "a terminated chain does not bootstrap"),
        (_N_STEP, _truncation_without_bootstrap, "the state it reached still has a value"),
        (_N_STEP, _discount_one_power_short, "gamma to the power n"),
        (_N_STEP, _ignores_the_wrap, "after row capacity - 1 comes row 0"),
        (_N_STEP, _crosses_into_the_next_episode, "the next episode's rewards never do"),
        (_N_STEP, _runs_past_the_newest, "row cursor - 1"),
        (_N_STEP, _newest_at_the_cursor, "row cursor - 1"),
        (_N_STEP, _last_one_row_on, "next_obs of its last row"),
        (_N_STEP, _termination_checked_before_the_last_step, "last allowed transition"),
        (_N_STEP, _rows_as_floats, "last must hold row numbers as integers"),
        (_N_STEP, _two_arrays, "expected 3 arrays (returns, discounts, last), got 2"),
        (_SHIFT, _zero_padding, "zeros shifted in at the border"),
        (_SHIFT, _one_offset_for_the_batch, "all 800 images moved by the same"),
        (_SHIFT, _high_end_excluded, "of the 25 moves (dy, dx) occurred"),
        (_SHIFT, _one_draw_for_both_axes, "only 5 of the 25 moves (dy, dx) occurred"),
        (_SHIFT, _clamped_offsets, "must be equally likely"),
        (_SHIFT, _global_numpy_generator, "draw the offsets from the rng given"),
        (_SHIFT, _torch_global_generator, "draw the offsets from the rng given"),
        (_SHIFT, _generator_of_a_fixed_seed, "not from a generator of a fixed seed"),
        (_SHIFT, _channels_apart, "all 4 frames by the same move"),
        (_SHIFT, _float_output, "uint8 stays uint8"),
        (_SHIFT, _empty_slice_at_pad_zero, "with pad = 0 every image comes back unchanged"),
    ],
)
def test_checks_catch_typical_mistakes(capsys, exercise, mistake, words):
    check, reference = exercise
    assert check(mistake) is reference
    printed = capsys.readouterr().out
    assert WRONG in printed and words in printed
    assert_no_answer_code(printed, reference)


@pytest.mark.parametrize("exercise", [_DUELING, _N_STEP, _SHIFT])
def test_checks_of_unfilled_code_or_the_package_itself_say_not_attempted(capsys, exercise):
    check, reference = exercise

    def unfilled(*args):
        raise NotImplementedError()

    assert check(unfilled) is reference
    assert check(reference) is reference
    printed = capsys.readouterr().out
    assert printed.count(NOT_ATTEMPTED) == 2 and "not yours" in printed
