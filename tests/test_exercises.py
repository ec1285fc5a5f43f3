import ast
import importlib
import inspect
import re
from collections import deque
from pathlib import Path

import cv2
import gymnasium as gym
import nbformat
import numpy as np
import pytest
import torch

from rlcourse import wrappers
from rlcourse.course.exercises import (
    Case,
    check_exercise,
    check_frame_stack,
    check_max_and_skip,
    check_process_frame84,
    describe_difference,
)
from rlcourse.course.exercises.core import ATTEMPTS, NOT_ATTEMPTED, PASSED, WRONG, show_solution


def reference(x):
    return 2 * x


CASES = [
    Case("a positive number", lambda f: f(3)),
    Case("zero", lambda f: f(0)),
    Case("an array", lambda f: f(np.arange(3.0))),
]


def test_passed_returns_the_students_code(capsys):
    def student(x):
        return x + x

    assert check_exercise("doubling", student, reference, CASES, hint="x + x") is student
    out = capsys.readouterr().out
    assert out.startswith(PASSED) and "doubling" in out and "3 cases" in out


def test_not_attempted_returns_the_reference(capsys):
    def student(x):
        # YOUR CODE HERE
        raise NotImplementedError()

    assert check_exercise("doubling", student, reference, CASES, hint="x + x") is reference
    out = capsys.readouterr().out
    assert out.startswith(NOT_ATTEMPTED) and "# YOUR CODE HERE" in out
    assert "package's version is used" in out


RULED = [Case("a positive number", lambda f: f(3), rule="doubling 3 gives 6")]


def test_wrong_names_the_case_the_rule_what_came_back_and_the_hint(capsys):
    ATTEMPTS.clear()

    def student(x):
        return x + 1

    assert check_exercise("doubling", student, reference, RULED, hint="add it to itself",
                          pointer="the definition of doubling") is reference  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "case 'a positive number'" in out
    assert "A correct answer must satisfy: doubling 3 gives 6." in out
    assert "expected 6, got 4" in out and "your code returned: 4" in out
    assert "Hint: add it to itself" in out and "package's version is used" in out
    assert "Look at" not in out  # the pointer comes with the second wrong try


def test_hints_come_in_tiers(capsys):
    ATTEMPTS.clear()

    def student(x):
        return x + 1

    for _ in range(2):
        check_exercise("doubling", student, reference, RULED, hint="add it to itself",
                       pointer="the definition of doubling")  # fmt: skip
    first, second = capsys.readouterr().out.split(WRONG)[1:]
    assert "Look at" not in first and "Look at: the definition of doubling" in second
    check_exercise("doubling", lambda x: x + x, reference, RULED, hint="h", pointer="p")
    assert capsys.readouterr().out.startswith(PASSED)
    assert "doubling" not in ATTEMPTS  # a pass starts the tiers again


def test_a_missing_return_is_named(capsys):
    def student(x):
        x + x  # noqa: B018

    check_exercise("doubling", student, reference, CASES, hint="x + x")
    assert "your function returned None: is its `return` line missing?" in capsys.readouterr().out


def test_rerunning_a_check_on_the_package_code_does_not_say_passed(capsys):
    # After a wrong verdict the name is bound to the package's code; a re-run check cell
    # must not call that the student's success.
    assert check_exercise("doubling", reference, reference, CASES, hint="x + x") is reference
    out = capsys.readouterr().out
    assert out.startswith(NOT_ATTEMPTED) and "re-run your code cell first" in out


def test_a_crash_is_reported_as_wrong_with_the_error_line(capsys):
    def student(x):
        return x / undefined_name  # noqa: F821

    assert check_exercise("doubling", student, reference, CASES, hint="x + x") is reference
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "NameError" in out and "undefined_name" in out


def test_show_solution_prints_the_package_code(capsys):
    show_solution(reference)
    assert "return 2 * x" in capsys.readouterr().out


def test_describe_difference():
    assert describe_difference(np.zeros((2, 2)), np.zeros((2, 2))) is None
    assert describe_difference(1.0, 1.0 + 1e-9) is None
    assert "shape (2, 3), expected (2, 2)" in describe_difference(
        np.zeros((2, 2)), np.zeros((2, 3))
    )
    assert describe_difference([1, 2], [1]).startswith("expected 2 items")
    assert describe_difference({"a": 1}, {"a": 2}) == "at ['a']: expected 1, got 2"
    assert describe_difference(True, 1) == "expected True, got 1"
    assert describe_difference(np.array([1, 2], np.uint8), np.array([1, 3])) == (
        "1 of 2 values differ, first at (1,): expected 2, got 3"
    )


# --- lesson 01 checks: the package's own code passes, so does a correct answer in another
# style; the typical mistakes are caught ---------------------------------------------------


class MaxAndSkipStudent(gym.Wrapper):
    """Correct, in another style: keeps every frame of the repeat, pools the last two."""

    def __init__(self, env, skip=4):
        super().__init__(env)
        self.skip = skip

    def step(self, action):
        frames, total = [], 0.0
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            frames.append(obs)
            total += reward
            if terminated or truncated:
                break
        pooled = np.maximum(frames[-2], frames[-1]) if len(frames) > 1 else frames[-1]
        return pooled, total, terminated, truncated, info


class MaxAndSkipNoStop(gym.Wrapper):
    """Forgets to stop when the episode ends."""

    def __init__(self, env, skip=4):
        super().__init__(env)
        self.skip = skip

    def step(self, action):
        total, frames = 0.0, []
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += reward
            frames.append(obs)
        return np.max(np.stack(frames[-2:]), axis=0), total, terminated, truncated, info


class MaxAndSkipLastFrameOnly(MaxAndSkipNoStop):
    """No max-pooling."""

    def step(self, action):
        total = 0.0
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += reward
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


def process_frame84_student(frame, size=84):
    """Correct, in another style: the gray conversion and resize as two named steps."""
    gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, dsize=(size, size), interpolation=cv2.INTER_AREA).astype(np.uint8)


def process_frame84_ignores_size(frame, size=84):
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (84, 84), interpolation=cv2.INTER_AREA)


def process_frame_old_signature(frame):
    """The lesson's former ``process_frame(frame)``: no ``size``."""
    return process_frame84_student(frame)


class FrameStackStudent(gym.Wrapper):
    """Correct, in another style: a deque of frames, stacked on each call."""

    def __init__(self, env, k=4):
        super().__init__(env)
        self.k = k
        self.frames = deque(maxlen=k)
        shape = (k, *env.observation_space.shape)
        self.observation_space = gym.spaces.Box(0, 255, shape, np.uint8)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.frames.extend([obs] * self.k)
        return np.stack(self.frames), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.append(obs)
        return np.stack(self.frames), reward, terminated, truncated, info


class FrameStackNoCopy(wrappers.FrameStack):
    def step(self, action):
        obs, *rest = super().step(action)
        return self._frames, *rest


class FrameStackPadsWithZeros(FrameStackStudent):
    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.frames.extend([np.zeros_like(obs)] * (self.k - 1) + [obs])
        return np.stack(self.frames), info


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_max_and_skip, wrappers.MaxAndSkip),
        (check_max_and_skip, MaxAndSkipStudent),
        (check_process_frame84, wrappers.process_frame84),
        (check_process_frame84, process_frame84_student),
        (check_frame_stack, wrappers.FrameStack),
        (check_frame_stack, FrameStackStudent),
    ],
)
def test_lesson01_checks_pass_correct_code(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_max_and_skip, MaxAndSkipNoStop, "episode ends in the middle of a repeat"),
        (check_max_and_skip, MaxAndSkipLastFrameOnly, "skip=4, three steps"),
        (
            check_process_frame84,
            lambda f, size=84: cv2.resize(f[..., 0], (size, size)),
            "a horizontal gradient",
        ),
        (
            check_process_frame84,
            lambda f, size=84: cv2.resize(
                cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (size, size), interpolation=cv2.INTER_AREA
            ),
            "random RGB frame",
        ),
        (check_process_frame84, process_frame84_ignores_size, "size=42"),
        (check_process_frame84, process_frame_old_signature, "size=42"),
        (check_frame_stack, FrameStackNoCopy, "k=4, reset then five steps"),
        (check_frame_stack, FrameStackPadsWithZeros, "k=4, reset then five steps"),
    ],
)
def test_lesson01_checks_catch_typical_mistakes(capsys, check, buggy, case):
    result = check(buggy)
    out = capsys.readouterr().out
    assert result is not buggy
    assert out.startswith(WRONG) and f"case '{case}" in out


# --- the notebooks' exercises are the package's functions --------------------------------

ROOT = Path(__file__).resolve().parents[1]
LESSON_ONLY = {"stack_frames"}  # helpers the package has no function of its own for


def _exercises(path):
    """``(name, exercise cell source, check function)`` of each exercise of a notebook."""
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    for i, source in enumerate(code):
        if "### BEGIN SOLUTION" not in source:
            continue
        match = re.search(r"^from (\S+) import (check_\w+)\n+(\w+) = \2\(\3\)", code[i + 1],
                          re.MULTILINE)  # fmt: skip
        assert match, f"no `x = check_x(x)` cell after {source[:60]!r}"
        module, check, name = match.groups()
        yield name, source, getattr(importlib.import_module(module), check)


def _parameters(node, namespace):
    """A def's parameters as ``name -> (kind, default)``, defaults evaluated."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults))
    defaults += [eval(ast.unparse(d), namespace) for d in args.defaults]  # noqa: S307
    kw_defaults = [inspect.Parameter.empty if d is None else eval(ast.unparse(d), namespace)  # noqa: S307
                   for d in args.kw_defaults]  # fmt: skip
    kinds = [(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in positional]
    kinds += [(a, inspect.Parameter.KEYWORD_ONLY) for a in args.kwonlyargs]
    return {
        arg.arg: (kind, default)
        for (arg, kind), default in zip(kinds, defaults + kw_defaults, strict=True)
        if arg.arg != "self"
    }


@pytest.mark.parametrize(
    "path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name
)
def test_notebook_exercises_are_the_package_functions(path, capsys):
    """Each exercise has the name of the function (or class) its check compares it with, the
    package's own, and a signature the package's accepts the same way: the same positional
    parameters in the same order, keyword ones with the same defaults; parameters the lesson
    leaves out have defaults."""
    namespace = {"np": np, "torch": torch}
    for name, source, check in _exercises(path):
        reference = check(None)  # not attempted: the check hands back its reference
        capsys.readouterr()
        if name in LESSON_ONLY:
            assert reference.__module__.startswith("rlcourse.course"), name
            continue
        assert reference.__module__.startswith("rlcourse.") and not (
            reference.__module__.startswith("rlcourse.course")
        ), f"{name}: the check's reference {reference} is not the package's"
        assert reference.__name__ == name, f"{path.name}: exercise {name}, package {reference}"
        (node,) = [n for n in ast.parse(source).body if getattr(n, "name", None) == name]
        if isinstance(node, ast.ClassDef):
            inits = [n for n in node.body if getattr(n, "name", None) == "__init__"]
            if not inits:  # a cell that adds a method to the class of an earlier one
                continue
            node, target = inits[0], reference.__init__
        else:
            target = reference
        ours = _parameters(node, namespace)
        theirs = {k: p for k, p in inspect.signature(target).parameters.items() if k != "self"}
        assert list(ours) == [k for k in theirs if k in ours], f"{name}: parameter order"
        for key, (kind, default) in ours.items():
            assert key in theirs, f"{name}: the package's has no parameter {key!r}"
            assert theirs[key].kind == kind, f"{name}({key}): {kind} vs {theirs[key].kind}"
            assert theirs[key].default == default, f"{name}({key}): default {default!r}"
        positional = [k for k, p in theirs.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
        assert positional[: len([k for k in ours if k in positional])] == [
            k for k in ours if k in positional
        ], f"{name}: positional parameters"
        for key, parameter in theirs.items():
            if key not in ours and parameter.kind not in (parameter.VAR_KEYWORD,
                                                          parameter.VAR_POSITIONAL):  # fmt: skip
                assert parameter.default is not parameter.empty, f"{name}: {key} is required"
