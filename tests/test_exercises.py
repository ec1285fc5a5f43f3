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

    def student(x):
        return x + 1

    assert (
        check_exercise(
            "doubling",
            student,
            reference,
            RULED,
            hint="add it to itself",
            pointer="the definition of doubling",
        )
        is reference
    )
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "case 'a positive number'" in out
    assert "A correct answer must satisfy: doubling 3 gives 6." in out
    assert "expected 6, got 4" in out and "your code returned: 4" in out
    assert "Hint: add it to itself" in out and "package's version is used" in out
    assert "Look at" not in out  # the pointer comes with the second wrong try


def test_hints_come_in_tiers(capsys):

    def student(x):
        return x + 1

    for _ in range(2):
        check_exercise(
            "doubling",
            student,
            reference,
            RULED,
            hint="add it to itself",
            pointer="the definition of doubling",
        )
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


def _cell_function(source: str, name: str, cell: str = "/tmp/ipykernel_7/1234.py"):
    """A function defined in a notebook cell: IPython names the cell's code this way."""
    import linecache

    linecache.cache[cell] = (len(source), None, source.splitlines(True), cell)
    namespace: dict = {"torch": torch, "np": np}
    exec(compile(source, cell, "exec"), namespace)
    return namespace[name]


def test_an_error_in_torch_names_torch_and_the_students_cell_line(capsys):
    student = _cell_function(
        "def student(x):\n    layer = torch.nn.Linear(3, 2)\n    return layer(torch.ones(4))\n",
        "student",
    )
    check_exercise("doubling", student, reference, CASES, hint="x + x")
    out = capsys.readouterr().out
    assert "raised in torch (torch/" in out
    assert "called from your cell, line 3: return layer(torch.ones(4))" in out
    assert "/tmp/" not in out and str(Path.home()) not in out


def test_an_error_in_the_students_own_line_names_their_cell(capsys):
    student = _cell_function("def student(x):\n    y = x\n    return x / missing\n", "student")
    check_exercise("doubling", student, reference, CASES, hint="x + x")
    out = capsys.readouterr().out
    assert "raised in your cell, line 3: return x / missing" in out
    assert "called from" not in out


def test_an_error_in_the_package_names_the_package_file(capsys):
    from rlcourse import stats

    student = _cell_function("def student(x):\n    return stats.iqm([])\n", "student")
    student.__globals__["stats"] = stats
    check_exercise("doubling", student, reference, CASES, hint="x + x")
    out = capsys.readouterr().out
    assert "raised in the package (rlcourse/stats.py)" in out or "raised in numpy" in out
    assert "called from your cell, line 2: return stats.iqm([])" in out


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


# --- lesson 02 checks: correct answers in other styles pass; the typical mistakes are caught
# with a message that names them, and no check prints answer code --------------------------

from exercise_helpers import assert_no_answer_code  # noqa: E402


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


class MaxAndSkipTwoSlots(gym.Wrapper):
    """Correct, as Stable-Baselines3 writes it: two preallocated slots for the last two frames
    (at an early end it pools with a stale slot: a convention the check does not judge)."""

    def __init__(self, env, skip=4):
        super().__init__(env)
        self.skip = skip
        self.slots = np.zeros((2, *env.observation_space.shape), np.uint8)

    def step(self, action):
        total = 0.0
        for i in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            if i == self.skip - 2:
                self.slots[0] = obs
            if i == self.skip - 1:
                self.slots[1] = obs
            total += float(reward)
            if terminated or truncated:
                self.slots[1] = obs
                break
        return self.slots.max(axis=0), total, terminated, truncated, info


class MaxAndSkipDeque(gym.Wrapper):
    """Correct: the notebook's skeleton with a deque of length 2 and a while loop."""

    def __init__(self, env, skip=4):
        super().__init__(env)
        self.skip = skip

    def step(self, action):
        last_two, total, done, i = deque(maxlen=2), 0.0, False, 0
        while i < self.skip and not done:
            obs, reward, terminated, truncated, info = self.env.step(action)
            last_two.append(obs)
            total, done, i = total + reward, terminated or truncated, i + 1
        return np.max(np.stack(last_two), axis=0), total, terminated, truncated, info


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


class MaxAndSkipLastReward(MaxAndSkipStudent):
    """Keeps the last reward instead of the sum."""

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, float(self.unwrapped.t), terminated, truncated, info


class MaxAndSkipOnlyTerminated(MaxAndSkipNoStop):
    """Stops on terminated but not on truncated."""

    def step(self, action):
        total, frames = 0.0, []
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += reward
            frames.append(obs)
            if terminated:
                break
        return np.maximum(frames[-2], frames[-1]), total, terminated, truncated, info


class MaxAndSkipFixedFour(MaxAndSkipStudent):
    """Repeats 4 times whatever skip is."""

    def __init__(self, env, skip=4):
        super().__init__(env, skip=4)


def process_frame84_student(frame, size=84):
    """Correct, in another style: the gray conversion and resize as two named steps."""
    gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, dsize=(size, size), interpolation=cv2.INTER_AREA).astype(np.uint8)


def process_frame84_by_hand(frame, size=84):
    """Correct: gray by hand with the luma weights, truncated to bytes (off by 1 at most)."""
    gray = (frame @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


def process_frame84_by_hand_rounded(frame, size=84):
    gray = np.round(frame[..., 0] * 0.299 + frame[..., 1] * 0.587 + frame[..., 2] * 0.114)
    return cv2.resize(gray.astype(np.uint8), (size, size), interpolation=cv2.INTER_AREA)


def process_frame84_resize_first(frame, size=84):
    """Correct: resize the colour frame, then convert to gray."""
    small = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def process_frame84_bgr(frame, size=84):
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


def process_frame84_bilinear(frame, size=84):
    return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (size, size))


def process_frame84_red_channel(frame, size=84):
    return cv2.resize(
        np.ascontiguousarray(frame[..., 0]), (size, size), interpolation=cv2.INTER_AREA
    )


def process_frame84_ignores_size(frame, size=84):
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (84, 84), interpolation=cv2.INTER_AREA)


def process_frame84_float(frame, size=84):
    return process_frame84_student(frame, size).astype(np.float32)


def process_frame84_scaled(frame, size=84):
    return process_frame84_student(frame, size) / 255.0


def process_frame84_transposed(frame, size=84):
    return process_frame84_student(frame, size).T


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


class FrameStackList(gym.Wrapper):
    """Correct: a Python list of frames, a new array by concatenation at each call."""

    def __init__(self, env, k=4):
        super().__init__(env)
        self.k, self.frames = k, []

    def _observation(self):
        return np.concatenate([frame[None] for frame in self.frames])

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.frames = [obs for _ in range(self.k)]
        return self._observation(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames = [*self.frames[1:], obs]
        return self._observation(), reward, terminated, truncated, info


class FrameStackRoll(gym.Wrapper):
    """Correct: np.roll makes a new array, the new frame goes last."""

    def __init__(self, env, k=4):
        super().__init__(env)
        self.k = k
        self.frames = np.zeros((k, *env.observation_space.shape), np.uint8)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.frames = np.repeat(obs[None], self.k, axis=0)
        return self.frames, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames = np.roll(self.frames, -1, axis=0)
        self.frames[-1] = obs
        return self.frames, reward, terminated, truncated, info


class FrameStackNoCopy(wrappers.FrameStack):
    def step(self, action):
        obs, *rest = super().step(action)
        return self._frames, *rest


class FrameStackPadsWithZeros(FrameStackStudent):
    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.frames.extend([np.zeros_like(obs)] * (self.k - 1) + [obs])
        return np.stack(self.frames), info


class FrameStackNewestFirst(FrameStackStudent):
    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return obs[::-1], info

    def step(self, action):
        obs, *rest = super().step(action)
        return obs[::-1], *rest


class FrameStackNotRefilled(FrameStackStudent):
    """Fills the slots only at the first reset; later resets just append."""

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.frames.extend([obs] * (self.k if not self.frames else 1))
        return np.stack(self.frames), info


class FrameStackFixedFour(FrameStackStudent):
    def __init__(self, env, k=4):
        super().__init__(env, k=4)


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_max_and_skip, MaxAndSkipStudent),
        (check_max_and_skip, MaxAndSkipTwoSlots),
        (check_max_and_skip, MaxAndSkipDeque),
        (check_max_and_skip, type("Copy", (wrappers.MaxAndSkip,), {})),
        (check_process_frame84, process_frame84_student),
        (check_process_frame84, process_frame84_by_hand),
        (check_process_frame84, process_frame84_by_hand_rounded),
        (check_process_frame84, process_frame84_resize_first),
        (check_process_frame84, lambda *a, **k: wrappers.process_frame84(*a, **k)),
        (check_frame_stack, FrameStackStudent),
        (check_frame_stack, FrameStackList),
        (check_frame_stack, FrameStackRoll),
        (check_frame_stack, type("Copy", (wrappers.FrameStack,), {})),
    ],
)
def test_wrapper_checks_pass_correct_code(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


WRAPPER_MISTAKES = [
    (
        check_max_and_skip,
        MaxAndSkipNoStop,
        "episode ends in the middle of a repeat",
        "no frame is played after the end",
        "the game went on after the episode had ended",
    ),
    (
        check_max_and_skip,
        MaxAndSkipLastFrameOnly,
        "skip=4, three steps",
        "pixel-wise maximum",
        "returned frame 4 as its observation, expected the maximum of frames 3 and 4",
    ),
    (
        check_max_and_skip,
        MaxAndSkipLastReward,
        "skip=4, three steps",
        "the sum of the 4 rewards",
        "the reward 4, expected 10: the sum of the rewards",
    ),
    (
        check_max_and_skip,
        MaxAndSkipOnlyTerminated,
        "truncation ends the repeat",
        "a truncation (a time limit) also stops the repeat",
        "the game went on after the episode",
    ),
    (
        check_max_and_skip,
        MaxAndSkipFixedFour,
        "skip=2, five steps",
        "the wrapper's skip",
        "had played 4 frames, expected 2",
    ),
    (
        check_process_frame84,
        process_frame84_bgr,
        "pure red frame",
        "red counts about 0.3",
        "BGR order",
    ),
    (
        check_process_frame84,
        process_frame84_bilinear,
        "random RGB frame",
        "average of the gray pixels it covers",
        "bilinear interpolation",
    ),
    (
        check_process_frame84,
        process_frame84_red_channel,
        "pure red frame",
        "weighs the red",
        "one colour channel was kept",
    ),
    (
        check_process_frame84,
        process_frame84_ignores_size,
        "size=42",
        "is the size argument",
        "the size argument was not used",
    ),
    (
        check_process_frame84,
        process_frame_old_signature,
        "size=42",
        "is the size argument",
        "unexpected keyword argument 'size'",
    ),
    (
        check_process_frame84,
        process_frame84_float,
        "a horizontal gradient",
        "uint8",
        "dtype float32, expected uint8",
    ),
    (
        check_process_frame84,
        process_frame84_scaled,
        "a horizontal gradient",
        "uint8",
        "dtype float64, expected uint8",
    ),
    (
        check_process_frame84,
        process_frame84_transposed,
        "a horizontal gradient",
        "dark on the left",
        "the frame is transposed",
    ),
    (
        check_frame_stack,
        FrameStackNoCopy,
        "k=4, reset then five steps",
        "never changes",
        "changed during later steps",
    ),
    (
        check_frame_stack,
        FrameStackPadsWithZeros,
        "k=4, reset then five steps",
        "the first frame fills every slot",
        "blank frames where the first frame should be repeated",
    ),
    (
        check_frame_stack,
        FrameStackNewestFirst,
        "k=4, reset then five steps",
        "oldest first",
        "the frames are newest first",
    ),
    (
        check_frame_stack,
        FrameStackNotRefilled,
        "a second reset pads with the new first frame",
        "none of the previous episode's",
        "frames of the previous episode are left after the reset",
    ),
    (check_frame_stack, FrameStackFixedFour, "k=2", "the wrapper's k", "your stack holds"),
]


@pytest.mark.parametrize(("check", "buggy", "case", "rule", "detail"), WRAPPER_MISTAKES)
def test_wrapper_checks_catch_typical_mistakes(capsys, check, buggy, case, rule, detail):
    result = check(buggy)
    out = capsys.readouterr().out
    assert result is not buggy
    assert out.startswith(WRONG) and f"case '{case}" in out
    assert "A correct answer must satisfy: " in out and rule in out.split("\n")[1]
    assert detail in out
    assert "Hint:" in out and "Look at" not in out
    check(buggy)  # the second wrong try adds the pointer
    second = capsys.readouterr().out
    assert "Look at: section" in second
    reference = check(None)
    capsys.readouterr()
    assert_no_answer_code(out + second, reference)


def test_wrapper_checks_rerun_on_the_package_code_does_not_pass(capsys):
    for check in (check_max_and_skip, check_process_frame84, check_frame_stack):
        reference = check(None)
        assert check(reference) is reference
        assert "re-run your code cell first" in capsys.readouterr().out


# --- the notebooks' exercises are the package's functions --------------------------------

ROOT = Path(__file__).resolve().parents[1]
LESSON_ONLY = {"stack_frames", "dqn_loop"}  # helpers the package has no function of its own for


def _exercises(path):
    """``(name, exercise cell source, check function)`` of each exercise of a notebook."""
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    for i, source in enumerate(code):
        if "### BEGIN SOLUTION" not in source:
            continue
        match = re.search(
            r"^from (\S+) import (check_\w+)\n+(\w+) = \2\(\3\)", code[i + 1], re.MULTILINE
        )
        assert match, f"no `x = check_x(x)` cell after {source[:60]!r}"
        module, check, name = match.groups()
        yield name, source, getattr(importlib.import_module(module), check)


def _parameters(node, namespace):
    """A def's parameters as ``name -> (kind, default)``, defaults evaluated."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults))
    defaults += [eval(ast.unparse(d), namespace) for d in args.defaults]  # noqa: S307
    kw_defaults = [
        inspect.Parameter.empty if d is None else eval(ast.unparse(d), namespace)  # noqa: S307
        for d in args.kw_defaults
    ]
    kinds = [(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in positional]
    kinds += [(a, inspect.Parameter.KEYWORD_ONLY) for a in args.kwonlyargs]
    return {
        arg.arg: (kind, default)
        for (arg, kind), default in zip(kinds, defaults + kw_defaults, strict=True)
        if arg.arg != "self"
    }


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
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
            if key not in ours and parameter.kind not in (
                parameter.VAR_KEYWORD,
                parameter.VAR_POSITIONAL,
            ):
                assert parameter.default is not parameter.empty, f"{name}: {key} is required"
