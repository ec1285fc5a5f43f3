"""Lesson 07's checks (dueling Q-values, n-step return, random shift): correct answers in
other styles pass (a random shift with any draw of offsets among them); the typical mistakes
are caught, with the case and the rule that point at them; no check prints answer code."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from exercise_helpers import assert_no_answer_code

from rlcourse.augmentation import random_shift
from rlcourse.buffers import n_step_return
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.data_efficient import (
    check_dueling_q_values,
    check_n_step_return,
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


@pytest.mark.parametrize("correct", [_dueling_last_dim, _dueling_unsqueezed])
def test_dueling_check_passes_correct_code_in_other_styles(capsys, correct):
    assert check_dueling_q_values(correct) is correct
    assert PASSED in capsys.readouterr().out


# --- n_step_return: correct answers ------------------------------------------------------


def _n_step_by_loop(rewards, ends, gamma):
    returns, steps = [], []
    for row_rewards, row_ends in zip(rewards, ends, strict=True):
        total, discount, k = 0.0, 1.0, 0
        for reward, end in zip(row_rewards, row_ends, strict=True):
            total += discount * reward
            discount *= gamma
            k += 1
            if end:
                break
        returns.append(total)
        steps.append(k)
    return np.array(returns), np.array(steps)


def _n_step_in_torch(rewards, ends, gamma):
    rewards, ends = torch.as_tensor(rewards), torch.as_tensor(ends)
    alive = torch.ones_like(ends)
    alive[:, 1:] = torch.cumprod(~ends[:, :-1], dim=1).bool()
    powers = gamma ** torch.arange(rewards.shape[1], dtype=torch.float64)
    return (rewards * alive * powers).sum(1), alive.sum(1)


def _n_step_first_end(rewards, ends, gamma):
    n = rewards.shape[1]
    first_end = np.where(ends.any(axis=1), ends.argmax(axis=1), n - 1)
    k = first_end + 1
    mask = np.arange(n) < k[:, None]
    return (rewards * mask * gamma ** np.arange(n)).sum(axis=1), k


# --- n_step_return: mistakes -------------------------------------------------------------


def _ignores_ends(rewards, ends, gamma):
    return _n_step_by_loop(rewards, np.zeros_like(ends), gamma)


def _drops_the_last_reward(rewards, ends, gamma):
    """Stops before the step that ended the episode."""
    returns, steps = _n_step_by_loop(rewards, ends, gamma)
    for i, row in enumerate(ends):
        if row.any() and row.argmax() < len(row) - 1:
            returns[i] -= gamma ** row.argmax() * rewards[i, row.argmax()]
    return returns, steps


def _k_is_the_index(rewards, ends, gamma):
    returns, steps = _n_step_by_loop(rewards, ends, gamma)
    return returns, steps - 1


def _discount_from_gamma(rewards, ends, gamma):
    returns, steps = _n_step_by_loop(rewards, ends, gamma)
    return returns * gamma, steps


def _only_the_returns(rewards, ends, gamma):
    return _n_step_by_loop(rewards, ends, gamma)[0]


@pytest.mark.parametrize("correct", [_n_step_by_loop, _n_step_in_torch, _n_step_first_end])
def test_n_step_return_check_passes_correct_code_in_other_styles(capsys, correct):
    assert check_n_step_return(correct) is correct
    assert PASSED in capsys.readouterr().out


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
_N_STEP = (check_n_step_return, n_step_return)
_SHIFT = (check_random_shift, random_shift)


@pytest.mark.parametrize(
    ("exercise", "mistake", "words"),
    [
        (_DUELING, _dueling_without_the_mean, "minus the mean of that state's advantages"),
        (_DUELING, _dueling_mean_over_the_batch, "minus the mean of that state's advantages"),
        (_DUELING, _dueling_value_detached, "nothing may be detached"),
        (_N_STEP, _ignores_ends, "a row stops at its first end"),
        (
            _N_STEP,
            _drops_the_last_reward,
            "the reward of the transition that ended the episode counts",
        ),
        (_N_STEP, _k_is_the_index, "k is n"),
        (_N_STEP, _discount_from_gamma, "gamma to the power j"),
        (_N_STEP, _only_the_returns, "your code raised"),
        (_SHIFT, _zero_padding, "zeros shifted in at the border"),
        (_SHIFT, _one_offset_for_the_batch, "all 200 images moved by the same"),
        (_SHIFT, _high_end_excluded, "expected every value from -2 to 2"),
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
