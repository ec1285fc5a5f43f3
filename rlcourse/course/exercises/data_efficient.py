"""Checks for lesson 07 (data-efficient DQN): the dueling head's Q-values, the n-step chain
of a replay sample cut at episode ends, and DrQ's random shift.

The references are the package's own functions (:func:`rlcourse.networks.dueling_q_values`,
:func:`rlcourse.buffers.n_step_chain`, :func:`rlcourse.augmentation.random_shift`), called
as the student's: same name, same signature. The n-step chain is checked by behaviour on
hand-made rings (terminations and truncations inside a chain, the ring's wrap, the newest
transition, n = 1). A random shift has many correct answers (any draw of offsets), so its
cases compare properties — shape, dtype, each image its input moved by at most ``pad``
pixels with the edge repeated, one offset per image, every (dy, dx) pair about equally
often, the draws taken from the ``rng`` given — never the exact pixels. Hints are words,
never code.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import torch

from rlcourse.augmentation import random_shift
from rlcourse.buffers import n_step_chain
from rlcourse.course.exercises.core import (
    Case,
    check_exercise,
    describe_difference,
    value_or_gradient,
)
from rlcourse.networks import dueling_q_values

# --- dueling_q_values --------------------------------------------------------------------

_VALUES = torch.tensor([[1.0], [-2.0], [0.5]])
_ADVANTAGES = torch.tensor([[3.0, 5.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0], [2.0, -4.0, 7.0, 3.0]])


def _q_values(f: Any, values: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """Q-values from copies of the inputs: an answer that changes them in place (correct, if
    unusual) must not change the cases that follow, nor the next check's."""
    return torch.as_tensor(f(values.clone(), advantages.clone())).detach()


def check_dueling_q_values(student_function: Any) -> Any:
    """Check ``dueling_q_values(values, advantages) -> Tensor``."""
    cases = [
        Case(
            "a batch of 3 states, 4 actions",
            lambda f: _q_values(f, _VALUES, _ADVANTAGES),
            rule="Q(s, a) is the state's value plus the action's advantage minus the mean of "
            "that state's advantages over its actions: a (batch, n_actions) tensor",
        ),
        Case(
            "one state, one action",
            lambda f: _q_values(f, torch.tensor([[2.5]]), torch.tensor([[9.0]])),
            rule="with a single action its advantage is its own mean: Q equals the value",
        ),
        Case(
            "the mean is over the actions of each state, not over the batch",
            lambda f: _q_values(f, _VALUES[:2], _ADVANTAGES[:2, :2] * 10),
            rule="each state subtracts the mean of its own advantages (a mean over the "
            "actions, one per row), so the mean of each row of Q is that row's value",
        ),
        Case(
            "the gradient reaches both streams",
            lambda f: (
                value_or_gradient(
                    lambda v: f(v.clone(), _ADVANTAGES.clone()).sum(), _VALUES, "gradient"
                ),
                value_or_gradient(
                    lambda a: (f(_VALUES.clone(), a.clone()) * a).sum(), _ADVANTAGES, "gradient"
                ),
            ),
            rule="both the value and the advantages are learned through Q: nothing may be detached",
        ),
    ]
    return check_exercise(
        "dueling_q_values",
        student_function,
        dueling_q_values,
        cases,
        hint="one line of tensor arithmetic: the value (one column) broadcasts over the "
        "actions; the mean of the advantages is taken along the actions' dimension and must "
        "keep that dimension (size 1) to broadcast back over the row.",
        pointer="the dueling equation in section 1, and the keepdim argument of Tensor.mean",
    )


# --- n_step_chain ------------------------------------------------------------------------


def _ring(flags: str, cursor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A hand-made ``ReplayBuffer`` ring, one character a row: '.' a plain transition, 'T'
    one that terminated its episode, 'U' one that was truncated. Row ``i`` has the reward
    ``i + 1`` (so every sum tells which rows it took); ``cursor`` the row written next."""
    rewards = np.arange(1, len(flags) + 1, dtype=np.float32)
    terminated = np.array([c == "T" for c in flags])
    truncated = np.array([c == "U" for c in flags])
    return rewards, terminated, truncated, cursor


def _chains(
    f: Any,
    ring: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    starts: list[int],
    n: int,
    gamma: float,
) -> list[np.ndarray]:
    """The student's outputs as arrays (the returns and discounts as floats, the rows as
    they came), on copies of the ring."""
    rewards, terminated, truncated, cursor = ring
    result = f(
        rewards.copy(), terminated.copy(), truncated.copy(), cursor, np.array(starts), n, gamma
    )
    if not isinstance(result, (tuple, list)):
        result = [result]
    arrays = [_float_array(item) for item in result[:2]]
    for rows in result[2:]:
        if isinstance(rows, torch.Tensor):
            rows = rows.detach().cpu().numpy()
        arrays.append(np.asarray(rows))
    return arrays


def _float_array(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def _compare_chains(expected: Any, got: Any) -> str | None:
    """The first output that differs, named."""
    if len(got) != len(expected):
        return f"expected 3 arrays (returns, discounts, last), got {len(got)}"
    if got[2].dtype.kind not in "iu":
        return (
            f"last must hold row numbers as integers (to index next_obs with), got dtype "
            f"{got[2].dtype}"
        )
    for name, e, g in zip(("returns", "discounts", "last"), expected, got, strict=True):
        difference = describe_difference(e, g, name)
        if difference:
            return difference
    return None


def check_n_step_chain(student_function: Any) -> Any:
    """Check ``n_step_chain(rewards, terminated, truncated, cursor, starts, n, gamma) ->
    (returns, discounts, last)`` on hand-made rings."""

    def case(
        name: str, flags: str, cursor: int, starts: list[int], n: int, gamma: float, rule: str
    ) -> Case:
        ring = _ring(flags, cursor)
        return Case(
            name,
            lambda f: _chains(f, ring, starts, n, gamma),
            rule=rule,
            compare=_compare_chains,
        )

    cases = [
        case(
            "no episode ends: n = 3 in a memory of 8 rows, 7 filled",
            "........",
            7,
            [0, 3, 2],
            3,
            0.5,
            rule="a chain with no end in it takes n transitions, the j-th (from 0) weighted "
            "by gamma to the power j; it bootstraps with gamma to the power n from the "
            "next_obs of its last row",
        ),
        case(
            "a termination inside the chain",
            "..T.....",
            8 - 1,
            [0, 1, 2, 3],
            4,
            0.5,
            rule="a chain stops after the transition that terminated its episode (its reward "
            "counts, the next episode's rewards never do), and a terminated chain does not "
            "bootstrap: its discount is 0",
        ),
        case(
            "a truncation inside the chain",
            ".U......",
            7,
            [0, 1, 2],
            4,
            0.5,
            rule="a truncated episode ends the chain too (its reward counts, the next "
            "episode's do not), but the state it reached still has a value: the discount "
            "is gamma to the power k, where k counts the chain's transitions",
        ),
        case(
            "a termination at the chain's n-th transition",
            "....T...",
            7,
            [2, 1],
            3,
            0.9,
            rule="a chain whose last allowed transition terminated does not bootstrap either",
        ),
        case(
            "a full ring: chains run past its last row into row 0",
            "..U...",
            2,
            [4, 5, 3, 0],
            3,
            0.9,
            rule="the rows form a ring: after row capacity - 1 comes row 0, and row cursor - 1 "
            "holds the newest transition, where every chain stops (the row at the cursor "
            "is the oldest, another episode)",
        ),
        case(
            "chains that reach the newest transition",
            "........",
            5,
            [2, 3, 4],
            4,
            0.9,
            rule="a chain stops after the newest transition (row cursor - 1): the memory "
            "does not know the future yet, so it bootstraps from there with gamma to the "
            "power k",
        ),
        case(
            "n = 1: one-step transitions",
            ".TU.....",
            6,
            [0, 1, 2, 3],
            1,
            0.9,
            rule="with n = 1 each chain is its start's transition: its reward, the discount "
            "gamma (0 if it terminated) and its own row",
        ),
        case(
            "gamma = 1 and the cursor at row 0",
            "...T..",
            0,
            [4, 2, 0],
            4,
            1.0,
            rule="with the cursor at row 0 the newest transition is in the last row",
        ),
    ]
    return check_exercise(
        "n_step_chain",
        student_function,
        n_step_chain,
        cases,
        hint="for each start, walk forward through the rows (wrapping around the ring) at "
        "most n times: add the row's reward times the current discount, multiply the "
        "discount by gamma, and stop after a row that terminated, was truncated, or is the "
        "newest. The bootstrap's discount is what the running discount is after the last "
        "row, unless that row terminated; last is that row's index.",
        pointer="the n-step target equation in section 2 and the ring of lesson 03 (the row "
        "cursor - 1 is the newest; the rows wrap modulo capacity)",
    )


# --- random_shift ------------------------------------------------------------------------


def _images(batch: int, channels: int = 4, size: int = 12, seed: int = 0) -> torch.Tensor:
    """uint8 images of distinct random content (so each move has one explanation)."""
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.integers(0, 256, (batch, channels, size, size), dtype=np.uint8))


def _moved(images: torch.Tensor, dy: int, dx: int, edge: bool) -> torch.Tensor:
    """``images`` (..., H, W) moved by (dy, dx): the pixel at (i, j) comes from
    (i + dy, j + dx), the edge pixels repeated (``edge``) or zeros shifted in."""
    height, width = images.shape[-2:]
    rows = torch.arange(height) + dy
    cols = torch.arange(width) + dx
    moved = images[..., rows.clamp(0, height - 1), :][..., cols.clamp(0, width - 1)]
    if not edge:
        moved = moved.clone()
        moved[..., (rows < 0) | (rows >= height), :] = 0
        moved[..., (cols < 0) | (cols >= width)] = 0
    return moved


def _moves(images: torch.Tensor, output: torch.Tensor, pad: int, edge: bool) -> list[Any]:
    """For each image, the first move (dy, dx) by at most ``pad`` pixels that turns it into
    its output (edge pixels repeated, or zeros shifted in), or None."""
    found: list[Any] = [None] * len(images)
    for dy in range(-pad, pad + 1):
        for dx in range(-pad, pad + 1):
            same = (_moved(images, dy, dx, edge) == output).flatten(1).all(1)
            for index in torch.nonzero(same).flatten().tolist():
                if found[index] is None:
                    found[index] = (dy, dx)
    return found


def _report(images: torch.Tensor, shifted: Any, pad: int) -> dict[str, Any]:
    """What a correct shift must satisfy, read off the output: its shape and dtype, and
    for each image the move (dy, dx) that explains it ('zeros': a move with zeros shifted
    in; None: no move by at most ``pad`` pixels)."""
    if not isinstance(shifted, torch.Tensor):
        return {"type": type(shifted).__name__}
    report: dict[str, Any] = {
        "type": "Tensor",
        "shape": tuple(shifted.shape),
        "dtype": str(shifted.dtype),
    }
    if shifted.shape != images.shape:
        return report
    shifted = shifted.detach().cpu().to(images.dtype)
    moves = _moves(images, shifted, pad, edge=True)
    if None in moves:
        with_zeros = _moves(images, shifted, pad, edge=False)
        moves = [
            "zeros" if move is None and zeros is not None else move
            for move, zeros in zip(moves, with_zeros, strict=True)
        ]
    report["moves"] = moves
    return report


def _chi_square_limit(degrees: int, z: float = 4.75) -> float:
    """The chi-square value a uniform draw exceeds with probability about 1e-6 (z = 4.75
    standard deviations; Wilson and Hilferty's approximation)."""
    spread = 2 / (9 * degrees)
    return float(degrees * (1 - spread + z * math.sqrt(spread)) ** 3)


def _variety(moves: list[Any], pad: int) -> str | None:
    """None if the (dy, dx) pairs look uniform over all (2 pad + 1)^2 of them, else why not."""
    if len(set(moves)) == 1:
        return f"all {len(moves)} images moved by the same {moves[0]}: draw an offset per image"
    pairs = [(dy, dx) for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)]
    counts = Counter(moves)
    missing = [pair for pair in pairs if counts[pair] == 0]
    if missing:
        return (
            f"over {len(moves)} images only {len(pairs) - len(missing)} of the {len(pairs)} "
            f"moves (dy, dx) occurred, never for example {missing[0]}: the row and the column "
            "offsets must be drawn independently, each from -pad to pad"
        )
    expected = len(moves) / len(pairs)
    chi_square = sum((counts[pair] - expected) ** 2 / expected for pair in pairs)
    if chi_square > _chi_square_limit(len(pairs) - 1):
        common, rare = max(pairs, key=counts.__getitem__), min(pairs, key=counts.__getitem__)
        return (
            f"over {len(moves)} images the move {common} came {counts[common]} times and "
            f"{rare} {counts[rare]} times (about {expected:.0f} each expected): every move "
            "(dy, dx) must be equally likely"
        )
    return None


def _compare_shifts(
    expected: dict[str, Any], got: dict[str, Any], pad: int, variety: bool
) -> str | None:
    """A difference in words, or None: the properties, not the exact draws."""
    if got["type"] != "Tensor":
        return f"expected a torch.Tensor, got a {got['type']}"
    for key in ("shape", "dtype"):
        difference = describe_difference(expected[key], got[key], key)
        if difference:
            return difference
    for index, move in enumerate(got["moves"]):
        if move == "zeros":
            return (
                f"image {index} is its input moved, but with zeros shifted in at the border "
                "instead of the edge pixels repeated"
            )
        if move is None:
            return (
                f"image {index} is not its input moved by at most {pad} pixels in each "
                "direction with the edge pixels repeated, all its channels together"
            )
    return _variety(got["moves"], pad) if variety else None


def _shift_case(
    name: str, images: torch.Tensor, pad: int, rule: str, variety: bool = False
) -> Case:
    def run(f: Any) -> dict[str, Any]:
        rng = np.random.default_rng(7)
        return _report(images, f(images.clone(), pad, rng), pad)

    def compare(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
        return _compare_shifts(expected, got, pad, variety)

    return Case(name, run, rule=rule, compare=compare)


def _same_draws(f: Any, images: torch.Tensor, pad: int) -> dict[str, bool]:
    """Whether two generators in the same state give the same shifts, and generators of
    other seeds other shifts."""

    def shift(seed: int) -> torch.Tensor:
        return torch.as_tensor(f(images.clone(), pad, np.random.default_rng(seed))).cpu()

    first, again, other = shift(11), shift(11), shift(12)
    return {
        "same state, same shifts": bool(torch.equal(first, again)),
        "other seed, other shifts": not torch.equal(first, other),
    }


def _compare_draws(expected: dict[str, bool], got: dict[str, bool]) -> str | None:
    if not got["same state, same shifts"]:
        return (
            "two generators in the same state gave different shifts: draw the offsets from "
            "the rng given (not from NumPy's or torch's global generator, nor a new one)"
        )
    if not got["other seed, other shifts"]:
        return (
            "generators of two different seeds gave the same shifts: draw the offsets from "
            "the rng given, not from a generator of a fixed seed"
        )
    return None


def check_random_shift(student_function: Any) -> Any:
    """Check ``random_shift(images, pad, rng) -> Tensor``: properties of the output, since
    any draw of the offsets is a correct answer."""
    cases = [
        _shift_case(
            "one stack of 4 frames, pad 2",
            _images(1),
            2,
            rule="the output has the input's shape and dtype (uint8 stays uint8), and is the "
            "input moved by at most pad pixels up or down and left or right, all 4 frames by "
            "the same move, the pixels that come in at a border repeating the edge",
        ),
        _shift_case(
            "a batch of 8 stacks, pad 1",
            _images(8, seed=1),
            1,
            rule="each image of the batch is moved on its own, by at most pad pixels",
        ),
        _shift_case(
            "pad 0 leaves the images as they are",
            _images(3, seed=2),
            0,
            rule="with pad = 0 every image comes back unchanged",
        ),
        _shift_case(
            "800 images, pad 2: every move (dy, dx) happens, equally often",
            _images(800, channels=1, size=8, seed=3),
            2,
            rule="each image gets its own random move, the row and the column offsets drawn "
            "independently: over many images each of the 25 moves (dy, dx) from (-pad, -pad) "
            "to (pad, pad) occurs, about equally often",
            variety=True,
        ),
        Case(
            "the offsets come from the rng given",
            lambda f: _same_draws(f, _images(16, seed=5), 2),
            rule="every draw comes from the generator passed as rng: two generators in the "
            "same state give the same shifts, two of different seeds different ones",
            compare=_compare_draws,
        ),
        _shift_case(
            "non-square images, pad 4",
            _images(4, seed=4)[..., :10],
            4,
            rule="images need not be square: height and width are kept each",
        ),
    ]
    return check_exercise(
        "random_shift",
        student_function,
        random_shift,
        cases,
        hint="pad each image by repeating its border pixels pad times on every side (the "
        "padded image is 2 * pad larger in height and width), then cut out a window of the "
        "original size at a random corner, drawn from rng for each image: a row and a column "
        "each anywhere from 0 to 2 * pad, both included, drawn separately. Replicate padding "
        "may not accept uint8: work in float and convert back, or build the crop with "
        "clamped indices instead.",
        pointer="exercise 3's description in section 3 (pad, then crop at a corner from 0 to "
        "2 * pad), and the docs of torch.nn.functional.pad (mode 'replicate') or of "
        "Generator.integers (its high end is excluded)",
    )
