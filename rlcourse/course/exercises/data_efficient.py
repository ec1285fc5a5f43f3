"""Checks for lesson 07 (data-efficient DQN): the dueling head's Q-values, the n-step return
cut at episode ends, and DrQ's random shift.

The references are the package's own functions (:func:`rlcourse.networks.dueling_q_values`,
:func:`rlcourse.buffers.n_step_return`, :func:`rlcourse.augmentation.random_shift`), called
as the student's: same name, same signature. A random shift has many correct answers (any
draw of offsets), so its cases compare properties — shape, dtype, each image its input moved
by at most ``pad`` pixels with the edge repeated, one offset per image — never the exact
pixels. Hints are words, never code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlcourse.augmentation import random_shift
from rlcourse.buffers import n_step_return
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
    return torch.as_tensor(f(values, advantages)).detach()


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
                value_or_gradient(lambda v: f(v, _ADVANTAGES).sum(), _VALUES, "gradient"),
                value_or_gradient(lambda a: (f(_VALUES, a) * a).sum(), _ADVANTAGES, "gradient"),
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


# --- n_step_return -----------------------------------------------------------------------

_REWARDS = np.array(
    [
        [1.0, 2.0, 4.0, 8.0],
        [1.0, 2.0, 4.0, 8.0],
        [3.0, 100.0, 100.0, 100.0],
        [1.0, 1.0, 1.0, 1.0],
        [-1.0, 0.5, 2.0, -4.0],
    ]
)
_NO_ENDS = np.zeros(_REWARDS.shape, dtype=bool)


def _ends(*rows: str) -> np.ndarray:
    """Rows of ends written as strings: 'x' ends the chain there, '.' does not."""
    return np.array([[c == "x" for c in row] for row in rows])


def _as_pair(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """The returns and the step counts as float arrays, whatever container they came in."""
    returns, steps = result
    return _float_array(returns), _float_array(steps)


def _float_array(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def check_n_step_return(student_function: Any) -> Any:
    """Check ``n_step_return(rewards, ends, gamma) -> (returns, k)``."""
    inside = _ends("....", ".x..", "x...", "...x", "..x.")
    cases = [
        Case(
            "no episode ends: all n rewards, discounted",
            lambda f: _as_pair(f(_REWARDS, _NO_ENDS, 0.5)),
            rule="without an end a row sums all its n rewards, the j-th (from 0) weighted by "
            "gamma to the power j, and k is n",
        ),
        Case(
            "episodes that end inside the n steps",
            lambda f: _as_pair(f(_REWARDS, inside, 0.5)),
            rule="a row stops at its first end: the reward of the transition that ended the "
            "episode counts, the rewards after it (another episode) do not, and k counts the "
            "rewards summed",
        ),
        Case(
            "an end at the first step",
            lambda f: _as_pair(f(_REWARDS, _ends(*["x..."] * 5), 0.9)),
            rule="a row whose first transition ends the episode is that reward alone, k = 1",
        ),
        Case(
            "gamma = 1 and gamma = 0",
            lambda f: (_as_pair(f(_REWARDS, inside, 1.0)), _as_pair(f(_REWARDS, inside, 0.0))),
            rule="with gamma = 1 the counted rewards are simply added; with gamma = 0 only "
            "the first reward remains (k still counts the steps up to the first end)",
        ),
        Case(
            "one row, two steps",
            lambda f: _as_pair(f(np.array([[2.0, 3.0]]), np.array([[False, False]]), 0.9)),
            rule="any batch size and any n work, here one row of n = 2",
        ),
    ]
    return check_exercise(
        "n_step_return",
        student_function,
        n_step_return,
        cases,
        hint="for each row, walk along its n steps: add the reward times the current "
        "discount, multiply the discount by gamma, and stop right after a step whose end "
        "flag is set (that step's reward still counts). k is how many rewards you added. "
        "Returns and k are two arrays of one number per row.",
        pointer="the n-step target equation in section 2 and its table of example rows (the "
        "second row: an episode that ends inside the window)",
    )


# --- random_shift ------------------------------------------------------------------------


def _images(batch: int, channels: int = 4, size: int = 12, seed: int = 0) -> torch.Tensor:
    """uint8 images of distinct random content (so each move has one explanation)."""
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.integers(0, 256, (batch, channels, size, size), dtype=np.uint8))


def _moved(image: torch.Tensor, dy: int, dx: int, edge: bool) -> torch.Tensor:
    """``image`` (channels, H, W) moved by (dy, dx): the pixel at (i, j) comes from
    (i + dy, j + dx), the edge pixels repeated (``edge``) or zeros shifted in."""
    height, width = image.shape[-2:]
    rows = torch.arange(height) + dy
    cols = torch.arange(width) + dx
    moved = image[:, rows.clamp(0, height - 1)][:, :, cols.clamp(0, width - 1)]
    if not edge:
        moved = moved.clone()
        moved[:, (rows < 0) | (rows >= height)] = 0
        moved[:, :, (cols < 0) | (cols >= width)] = 0
    return moved


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
    moves: list[Any] = []
    shifted = shifted.detach().cpu().to(images.dtype)
    offsets = [(dy, dx) for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)]
    for image, output in zip(images, shifted, strict=True):
        move: Any = next((o for o in offsets if torch.equal(_moved(image, *o, True), output)), None)
        if move is None and any(torch.equal(_moved(image, *o, False), output) for o in offsets):
            move = "zeros"
        moves.append(move)
    report["moves"] = moves
    return report


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
    if variety:
        moves = got["moves"]
        rows, cols = {m[0] for m in moves}, {m[1] for m in moves}
        if len(set(moves)) == 1:
            return f"all {len(moves)} images moved by the same {moves[0]}: draw an offset per image"
        for axis, seen in (("rows", rows), ("columns", cols)):
            if seen != set(range(-pad, pad + 1)):
                return (
                    f"over {len(moves)} images the moves along the {axis} were "
                    f"{sorted(seen)}, expected every value from {-pad} to {pad}"
                )
    return None


def _shift_case(
    name: str, images: torch.Tensor, pad: int, rule: str, variety: bool = False
) -> Case:
    def run(f: Any) -> dict[str, Any]:
        rng = np.random.default_rng(7)
        return _report(images, f(images.clone(), pad, rng), pad)

    def compare(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
        return _compare_shifts(expected, got, pad, variety)

    return Case(name, run, rule=rule, compare=compare)


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
            "200 images, pad 2: every move happens",
            _images(200, channels=1, size=8, seed=3),
            2,
            rule="each image gets its own random offset, and over many images every move "
            "from -pad to +pad occurs along both axes",
            variety=True,
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
        "original size at a random corner, drawn from rng for each image: a corner anywhere "
        "from 0 to 2 * pad, both included. Replicate padding may not accept uint8: work in "
        "float and convert back, or build the crop with clamped indices instead.",
        pointer="exercise 3's description in section 3 (pad, then crop at a corner from 0 to "
        "2 * pad), and the docs of torch.nn.functional.pad (mode 'replicate') or of "
        "Generator.integers (its high end is excluded)",
    )
