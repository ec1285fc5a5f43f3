"""DrQ's random shift: shape, dtype and device kept; content moved as np.pad + crop would."""

import numpy as np
import pytest
import torch

from rlcourse.augmentation import random_shift


def _by_hand(images, pad, rng):
    """Edge-padded, then cropped at offsets drawn the way random_shift draws them."""
    offsets = rng.integers(0, 2 * pad + 1, size=(len(images), 2))
    padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
    height, width = images.shape[2:]
    return np.stack(
        [padded[b, :, dy : dy + height, dx : dx + width] for b, (dy, dx) in enumerate(offsets)]
    )


@pytest.mark.parametrize("pad", [1, 4])
def test_random_shift_is_edge_padding_then_a_random_crop(pad):
    images = np.random.default_rng(0).integers(0, 256, (16, 4, 21, 13), dtype=np.uint8)
    shifted = random_shift(torch.as_tensor(images), pad, np.random.default_rng(7))
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    np.testing.assert_array_equal(shifted.numpy(), _by_hand(images, pad, np.random.default_rng(7)))


def test_random_shift_moves_content_by_every_offset_and_keeps_channels_together():
    images = torch.arange(9 * 9, dtype=torch.float32).reshape(1, 1, 9, 9).repeat(2000, 3, 1, 1)
    shifted = random_shift(images, 2, np.random.default_rng(1))
    # the centre pixel (value 40 = row 4, column 4) now shows the pixel (4 + dy, 4 + dx)
    centre = shifted[:, :, 4, 4]
    assert torch.equal(centre[:, 0], centre[:, 1]) and torch.equal(centre[:, 0], centre[:, 2])
    moves = {(int(v) // 9 - 4, int(v) % 9 - 4) for v in centre[:, 0]}
    assert moves == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    assert images.dtype == shifted.dtype and shifted.device == images.device


def test_random_shift_of_zero_is_the_identity():
    images = torch.zeros(2, 4, 8, 8, dtype=torch.uint8)
    assert random_shift(images, 0, np.random.default_rng(0)) is images


@pytest.mark.parametrize(
    "images, pad, message",
    [
        (torch.zeros(4, 84, 84), 4, r"\(batch, channels, height, width\), got \(4, 84, 84\)"),
        (np.zeros((1, 4, 84, 84)), 4, r"got \(1, 4, 84, 84\)"),
        (torch.zeros(1, 4, 84, 84), -1, "pad must be >= 0, got -1"),
    ],
)
def test_random_shift_bad_input(images, pad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        random_shift(images, pad, np.random.default_rng(0))
