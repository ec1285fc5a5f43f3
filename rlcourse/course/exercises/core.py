"""The machinery behind every ``check_*`` function: run cases, compare, print a verdict.

A check runs the student's code and the reference (the package's own function) on the same
small cases and prints one of three verdicts:

- **passed**: every case matches; the student's code is returned and used from then on;
- **not attempted yet**: the code still raises ``NotImplementedError``;
- **wrong**: the first failing case, the property of a correct answer it breaks, and what
  the student's code returned. Hints come in tiers and never show code: the first wrong
  try names the case and the property; later tries add a pointer (the equation or the API
  to look at). :func:`show_solution` prints the package's code, for a student who asks.

In the last two the reference is returned instead, so the rest of the notebook still runs.
Re-running a check cell on its own after that would check the reference against itself: a
check given the package's own code says so instead of printing "passed".
"""

from __future__ import annotations

import math
import random
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

PASSED = "✅ PASSED"
NOT_ATTEMPTED = "📝 NOT ATTEMPTED YET"
WRONG = "❌ WRONG"


@dataclass(frozen=True)
class Case:
    """One small test case of an exercise."""

    name: str
    """What the case is about, shown to the student when it fails."""
    run: Callable[[Any], Any]
    """Applies an implementation (function or class) to the case; returns what to compare."""
    rule: str = ""
    """The property of a correct answer this case tests, in words (never code): shown at
    the first wrong try, e.g. "a transition that ended by termination must not bootstrap"."""
    compare: Callable[[Any, Any], str | None] | None = None
    """``compare(expected, got) -> difference or None``; default :func:`describe_difference`
    (for tolerances: rounding of legitimate image pipelines, sampling noise)."""


ATTEMPTS: dict[str, int] = {}
"""Wrong tries so far, per exercise title (this kernel's): the hints grow with them."""


class ReturnedNone(Exception):
    """The student's function returned None (a missing ``return``)."""


def _guard_none(student: Any) -> Any:
    """A function that raises :class:`ReturnedNone` instead of returning None."""
    if isinstance(student, type) or not callable(student):
        return student

    def guarded(*args: Any, **kwargs: Any) -> Any:
        result = student(*args, **kwargs)
        if result is None:
            raise ReturnedNone()
        return result

    return guarded


def show_solution(reference: Any) -> None:
    """Print the package's code for an exercise: for a student who wants to see it."""
    import inspect

    print(inspect.getsource(reference))


def _to_numpy(value: Any) -> Any:
    if type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    return value


def _short(value: Any) -> str:
    value = _to_numpy(value)
    if isinstance(value, np.ndarray) and value.size > 12:
        return f"array of shape {value.shape}, dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _scalar(value: Any) -> str:
    item = value.item() if hasattr(value, "item") else value
    return f"{item:.6g}" if isinstance(item, float) else repr(item)


def describe_difference(expected: Any, got: Any, where: str = "") -> str | None:
    """None if ``got`` matches ``expected``, else a one-line description of the difference.

    Arrays must have the same shape and (for integers) the same values; floats are compared
    with a relative tolerance of 1e-5. Tuples, lists and dicts are compared item by item.

    >>> describe_difference((1.0, np.zeros(3)), (1.0, np.ones(3)))
    'at [1]: 3 of 3 values differ, first at (0,): expected 0, got 1'
    """
    expected, got = _to_numpy(expected), _to_numpy(got)
    label = f"at {where}: " if where else ""
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        expected_array, got_array = np.asarray(expected), np.asarray(got)
        if expected_array.shape != got_array.shape:
            return f"{label}shape {got_array.shape}, expected {expected_array.shape}"
        if expected_array.dtype.kind in "fc" or got_array.dtype.kind in "fc":
            same = np.isclose(got_array, expected_array, rtol=1e-5, atol=1e-6, equal_nan=True)
        else:
            same = got_array == expected_array
        if np.all(same):
            return None
        first = tuple(int(i) for i in np.argwhere(~same)[0])
        return (
            f"{label}{int((~same).sum())} of {same.size} values differ, first at {first}: "
            f"expected {_scalar(expected_array[first])}, got {_scalar(got_array[first])}"
        )
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{label}expected {len(expected)} items {_short(expected)}, got {_short(got)}"
        for index, (e, g) in enumerate(zip(expected, got, strict=True)):
            difference = describe_difference(e, g, f"{where}[{index}]")
            if difference:
                return difference
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"{label}expected {_short(expected)}, got {_short(got)}"
        for key in expected:
            difference = describe_difference(expected[key], got[key], f"{where}[{key!r}]")
            if difference:
                return difference
        return None
    if isinstance(expected, (bool, np.bool_)):
        if isinstance(got, (bool, np.bool_)) and bool(got) == bool(expected):
            return None
        return f"{label}expected {bool(expected)}, got {_short(got)}"
    if isinstance(expected, (int, float, np.number)) and isinstance(got, (int, float, np.number)):
        if math.isclose(float(got), float(expected), rel_tol=1e-5, abs_tol=1e-6):
            return None
        return f"{label}expected {float(expected):g}, got {float(got):g}"
    return None if got == expected else f"{label}expected {_short(expected)}, got {_short(got)}"


_PACKAGE_ROOT = Path(__file__).resolve().parents[3]
"""The folder that holds the ``rlcourse`` package: its files are named from there."""
_CHECKS = Path(__file__).resolve().parent


def _is_notebook_cell(filename: str) -> bool:
    """IPython compiles each cell to a file named ``<ipython-input-...>`` or, with
    ipykernel >= 6, ``.../ipykernel_<pid>/<hash>.py``."""
    return filename.startswith("<") or "ipykernel_" in filename


def _whose(filename: str) -> tuple[str, bool]:
    """Who wrote the file of a traceback line, in words, and whether it is the student.

    >>> _whose(str(_CHECKS / "dqn.py"))
    ('the check (rlcourse/course/exercises/dqn.py)', False)
    >>> _whose("/tmp/ipykernel_42/3141.py")
    ('your cell', True)
    """
    if _is_notebook_cell(filename):
        return "your cell", True
    path = Path(filename).resolve()
    if path.is_relative_to(_CHECKS):
        return f"the check ({path.relative_to(_PACKAGE_ROOT).as_posix()})", False
    if path.is_relative_to(_PACKAGE_ROOT / "rlcourse"):
        return f"the package ({path.relative_to(_PACKAGE_ROOT).as_posix()})", False
    for folder in sorted({Path(entry).resolve() for entry in sys.path if entry}, key=str):
        if folder.name in ("site-packages", "dist-packages") and path.is_relative_to(folder):
            inside = path.relative_to(folder)
            return f"{inside.parts[0]} ({inside.as_posix()})", False
    if path.is_relative_to(Path(traceback.__file__).resolve().parent):
        return f"Python's library ({path.name})", False
    return f"your code ({path.name})", True


def _error_line(error: BaseException) -> str:
    """The error and where it happened, naming whose file each quoted line is in: a student
    who reads "line 3" must know whether to look in their cell, the package or torch.
    The line raising the error is quoted; if it is not the student's, the student's last
    line on the way there is quoted too."""
    frames = traceback.extract_tb(error.__traceback__)
    text = f"{type(error).__name__}: {error}"
    if not frames:
        return text
    last = frames[-1]
    who, mine = _whose(last.filename)
    text += f"\n    raised in {who}, line {last.lineno}: {last.line}"
    if not mine:
        for frame in reversed(frames[:-1]):
            who, mine = _whose(frame.filename)
            if mine:
                text += f"\n    called from {who}, line {frame.lineno}: {frame.line}"
                break
    return text


def check_exercise(
    title: str,
    student: Any,
    reference: Any,
    cases: Sequence[Case],
    hint: str,
    pointer: str = "",
    returns_none: bool = False,
) -> Any:
    """Run ``cases`` on ``student`` and ``reference``; print the verdict; return what to use.

    ``hint``: what to think about, in words, shown with every wrong verdict; ``pointer``:
    where to look (an equation, an API), added from the second wrong try on. Neither may
    contain answer code. ``returns_none``: the exercise's function returns nothing (a
    method that changes its object), so None is not a forgotten ``return``.
    """
    using_reference = "The package's version is used from here on, so the notebook runs on."
    if student is reference:
        print(
            f"{NOT_ATTEMPTED}: {title}. This is already the package's own code, not yours: "
            "re-run your code cell first, then this one."
        )
        return reference
    if student is None:
        print(f"{NOT_ATTEMPTED}: {title}. {using_reference}")
        return reference
    guarded = student if returns_none else _guard_none(student)
    for case in cases:
        expected = case.run(reference)
        try:
            got = case.run(guarded)
        except NotImplementedError:
            print(
                f"{NOT_ATTEMPTED}: {title}.\n  Fill in the code marked '# YOUR CODE HERE', "
                f"then re-run that cell and this one. {using_reference}"
            )
            return reference
        except ReturnedNone:
            problem = "your function returned None: is its `return` line missing?"
            _wrong(title, case, problem, hint, pointer, using_reference)
            return reference
        except Exception as error:  # a student's bug of any kind: report it, carry on
            problem = f"running your code raised\n    {_error_line(error)}"
            _wrong(title, case, problem, hint, pointer, using_reference)
            return reference
        difference = (case.compare or describe_difference)(expected, got)
        if difference:
            problem = f"{difference}\n    your code returned: {_short(got)}"
            _wrong(title, case, problem, hint, pointer, using_reference)
            return reference
    ATTEMPTS.pop(title, None)
    print(f"{PASSED}: {title} ({len(cases)} cases). Your code is used from here on.")
    return student


def _wrong(title: str, case: Case, problem: str, hint: str, pointer: str, fallback: str) -> None:
    tries = ATTEMPTS[title] = ATTEMPTS.get(title, 0) + 1
    lines = [f"{WRONG}: {title}, on the case '{case.name}'"]
    if case.rule:
        lines.append(f"  A correct answer must satisfy: {case.rule}.")
    lines.append(f"  {problem}")
    lines.append(f"  Hint: {hint}")
    if tries >= 2 and pointer:
        lines.append(f"  Look at: {pointer}")
    elif pointer:
        lines.append("  (Run this check again after your next try for a pointer to look at.)")
    lines.append(f"  {fallback}")
    print("\n".join(lines))


def value_or_gradient(fn: Callable[[Any], Any], inputs: Any, item: str = "value") -> Any:
    """What a check compares for a function of a tensor: ``fn(inputs)`` (``item="value"``),
    or the gradient of that scalar with respect to ``inputs`` (``item="gradient"``), e.g.
    to tell an entropy written with the right sign from one that only looks right."""
    inputs = inputs.clone().requires_grad_()
    value = fn(inputs)
    if item == "value":
        return value
    value.backward()
    return inputs.grad


def compare_weight_moves(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
    """:func:`describe_difference` for a dict of what an update did, with the weight changes
    (tensors of more than one value) compared relative to their size: legitimate code
    differs in rounding."""
    if not isinstance(got, dict) or set(got) != set(expected):
        return describe_difference(expected, got)
    for key, value in expected.items():
        if _is_torch_tensor(value) and value.numel() > 1:
            want = value.detach().cpu().numpy()
            have = np.asarray(_to_numpy(got[key]))
            scale = float(np.abs(want).max()) or 1.0
            if have.shape != want.shape:
                return f"at [{key!r}]: shape {have.shape}, expected {want.shape}"
            if not np.allclose(have, want, rtol=1e-3, atol=1e-4 * scale):
                index = int(np.argmax(np.abs(have - want)))
                return (
                    f"at [{key!r}]: the weights moved differently, e.g. by "
                    f"{have.flat[index]:.3g} instead of {want.flat[index]:.3g}"
                )
            continue
        difference = describe_difference(value, got[key], repr(key))
        if difference:
            return difference
    return None


def _is_torch_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "numel")


# --- the generator given, and no other ---------------------------------------------------


@contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator, Python's ``random`` and torch's with ``seed`` for the
    block, then put back their states as they were: a check runs the student's code twice
    with the same generator given and different global states, so code that draws from a
    global generator instead of the one it is given gives different draws."""
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    with torch.random.fork_rng(devices=[]):
        np.random.seed(seed)  # noqa: NPY002 (on purpose: the state is put back below)
        random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)  # noqa: NPY002
            random.setstate(python_state)


def compare_reproducible(
    what: str,
    calls: str,
    elsewhere: str = "NumPy's global np.random, Python's random module, or a generator made "
    "inside your code?",
) -> Callable[[Any, Any], str | None]:
    """A ``Case.compare`` for ``{"same": ..., "other": ...}``: whether the same generator
    state given twice drew the same (``same``), and another seed drew otherwise (``other``).
    ``elsewhere``: where such code may draw from instead, said when ``same`` fails."""

    def compare(expected: Any, got: Any) -> str | None:
        if not isinstance(got, dict):
            return str(got)
        if not got["same"]:
            return (
                f"two generators made with the same seed gave different {what} over {calls}: "
                f"some draws do not come from the generator you are given ({elsewhere})"
            )
        if not got["other"]:
            return (
                f"generators of two different seeds gave the same {what} over {calls}: the "
                "draws do not come from the generator you are given (a generator with a "
                "fixed seed made inside your code?)"
            )
        return None

    return compare
