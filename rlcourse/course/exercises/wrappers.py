"""Checks for lesson 02 (Atari wrappers): MaxAndSkip.step, process_frame84, FrameStack.

The references are the package's own (:mod:`rlcourse.wrappers`), used as the student's: same
names, same signatures. The cases play :class:`rlcourse.toy_envs.FrameCounterEnv`, whose
frames tell which frame of which episode they are, so a wrong answer is described in the
lesson's words ("the maximum of frames 3 and 4", "frame 2 of the previous episode") rather
than as pixel values.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from rlcourse import wrappers
from rlcourse.course.exercises.core import Case, check_exercise
from rlcourse.toy_envs import FrameCounterEnv, frame_at

# --- MaxAndSkip ---------------------------------------------------------------------------


def _describe_pooled(obs: Any, env: FrameCounterEnv) -> str:
    """What ``obs`` is, in frames of the current episode: "frame 4", "max of frames 3 and 4"."""
    obs = np.asarray(obs)
    offset = 1000 * env.resets
    if obs.shape != env.shape:
        return f"an array of shape {obs.shape} (a frame is {env.shape})"
    frames = [frame_at(offset + t, env.shape) for t in range(env.t + 1)]
    last = env.t
    if last > 0 and np.array_equal(obs, np.maximum(frames[last - 1], frames[last])):
        return f"the maximum of frames {last - 1} and {last}"
    for s in range(last - 2, max(last - 8, -1), -1):  # more than two frames pooled
        if np.array_equal(obs, np.max(np.stack(frames[s:]), axis=0)):
            return f"the maximum of frames {s} to {last}"
    for t in range(env.t, -1, -1):
        frame = frames[t]
        if t > 0 and np.array_equal(obs, np.maximum(frames[t - 1], frame)):
            return f"the maximum of frames {t - 1} and {t}"
        if np.array_equal(obs, frame):
            return f"frame {t}"
    for t in range(env.t, 1, -1):
        for s in range(t - 2, max(t - 6, -1), -1):
            pooled = np.maximum(frame_at(offset + s, env.shape), frame_at(offset + t, env.shape))
            if np.array_equal(obs, pooled):
                return f"the maximum of frames {s} and {t}"
    return "not a frame of this episode, nor the maximum of two of its frames"


def _play_skip(wrapper_class: Any, env_kwargs: dict, n_steps: int, skip: int) -> list[dict]:
    """One record per step: frames played so far, the actions the game got, reward, flags,
    what the observation is. The steps' actions differ (none is NOOP, 0), so a repeat that
    plays anything but the step's action shows."""
    env = wrapper_class(FrameCounterEnv(**env_kwargs), skip=skip)
    env.reset(seed=0)
    records = []
    for number in range(n_steps):
        bare = env.unwrapped
        before = len(bare.actions)
        obs, reward, terminated, truncated, _ = env.step(1 + number % 3)
        record = {
            "frames played": bare.t,
            "actions": [int(a) for a in bare.actions[before:]],
            "reward": float(reward),
            "terminated": bool(terminated),
            "truncated": bool(truncated),
        }
        # At an early end (fewer than two frames of the repeat left) the observation is a
        # matter of convention: it is not compared there.
        if not (terminated or truncated) or bare.t % skip == 0:
            record["observation"] = _describe_pooled(obs, bare)
        records.append(record)
        if terminated or truncated:
            break
    return records


def _compare_steps(expected: list[dict], got: list[dict]) -> str | None:
    for number, (e, g) in enumerate(zip(expected, got, strict=False), start=1):
        if g["frames played"] != e["frames played"]:
            played = f"after step {number} the game had played {g['frames played']} frames"
            if g["frames played"] > e["frames played"] and (e["terminated"] or e["truncated"]):
                return (
                    f"{played}, expected {e['frames played']}: the game went on after the "
                    "episode had ended"
                )
            return f"{played}, expected {e['frames played']}"
        if g["actions"] != e["actions"]:
            return (
                f"step {number} played the actions {g['actions']} on the game's frames, "
                f"expected {e['actions']}: the step's action on every frame of the repeat"
            )
        for flag in ("terminated", "truncated"):
            if g[flag] != e[flag]:
                return f"step {number} returned {flag}={g[flag]}, expected {e[flag]}"
        if not np.isclose(g["reward"], e["reward"]):
            return (
                f"step {number} returned the reward {g['reward']:g}, expected "
                f"{e['reward']:g}: the sum of the rewards of the frames it played"
            )
        if "observation" in e and g.get("observation") != e["observation"]:
            return (
                f"step {number} returned {g.get('observation')} as its observation, "
                f"expected {e['observation']}"
            )
    if len(got) != len(expected):
        ended = "ended" if len(got) < len(expected) else "did not end"
        return f"the episode {ended} after {len(got)} steps, expected {len(expected)}"
    return None


def check_max_and_skip(student_class: Any) -> Any:
    """Check a ``MaxAndSkip`` wrapper class (its ``step``) against the course's."""
    small = {"shape": (6, 5), "episode_length": 100}

    def case(name: str, rule: str, env_kwargs: dict, n_steps: int, skip: int) -> Case:
        return Case(name, lambda c: _play_skip(c, env_kwargs, n_steps, skip), rule, _compare_steps)

    cases = [
        case(
            "skip=4, three steps",
            "each step plays its action on 4 frames in a row, returns the sum of the 4 "
            "rewards and the pixel-wise maximum of the last two frames of the repeat",
            small,
            3,
            4,
        ),
        case(
            "skip=2, five steps",
            "the number of repeats is the wrapper's skip, not a fixed 4",
            small,
            5,
            2,
        ),
        case(
            "episode ends on the last frame of a repeat",
            "an episode that ends on the last frame of a repeat is reported as terminated, "
            "with the usual pooled observation",
            {"shape": (6, 5), "episode_length": 8},
            3,
            4,
        ),
        case(
            "episode ends in the middle of a repeat",
            "the repeat stops as soon as the episode ends: no frame is played after the end, "
            "and only the frames played count in the reward",
            {"shape": (6, 5), "episode_length": 6},
            3,
            4,
        ),
        case(
            "truncation ends the repeat",
            "a truncation (a time limit) also stops the repeat, and is reported as truncated, "
            "not terminated",
            {"shape": (6, 5), "truncate_at": 5},
            3,
            4,
        ),
    ]
    return check_exercise(
        "MaxAndSkip.step",
        student_class,
        wrappers.MaxAndSkip,
        cases,
        hint="repeat the action at most skip times; add up every reward; leave the loop as "
        "soon as the game reports that the episode ended (either flag); remember the last two "
        "frames and return their pixel-wise maximum.",
        pointer="section 2 of this lesson (frame skipping and max-pooling), and Gymnasium's "
        "Env.step (its five return values: terminated and truncated are separate)",
    )


# --- process_frame84 ----------------------------------------------------------------------

MAX_PIXEL_DIFFERENCE = 2
"""Legitimate pipelines (gray by hand with 0.299/0.587/0.114, rounded or truncated; resizing
before converting to gray) are within 1 grey level of OpenCV's; the real mistakes are off by
tens on the cases' frames."""
MAX_MEAN_DIFFERENCE = 1.0


def _gray(frame: np.ndarray, code: int = cv2.COLOR_RGB2GRAY) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), code)


def _known_mistakes(frame: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """What the typical mistakes return for ``frame``, by the mistake's description."""
    gray = _gray(frame)
    area = cv2.INTER_AREA
    return {
        "the colours were read in OpenCV's BGR order; the ALE gives RGB frames": cv2.resize(
            _gray(frame, cv2.COLOR_BGR2GRAY), (size, size), interpolation=area
        ),
        "the frame was resized with bilinear interpolation (OpenCV's default); shrinking "
        "needs area interpolation, which averages the pixels each output pixel covers": cv2.resize(
            gray, (size, size), interpolation=cv2.INTER_LINEAR
        ),
        "the frame was resized with nearest-neighbour interpolation; shrinking needs area "
        "interpolation, which averages the pixels each output pixel covers": cv2.resize(
            gray, (size, size), interpolation=cv2.INTER_NEAREST
        ),
        "the frame was resized with bicubic interpolation; shrinking needs area "
        "interpolation, which averages the pixels each output pixel covers": cv2.resize(
            gray, (size, size), interpolation=cv2.INTER_CUBIC
        ),
        "the frame is transposed (rows and columns swapped): the ALE's frames are "
        "(height, width, channels)": cv2.resize(gray, (size, size), interpolation=area).T,
        "one colour channel was kept instead of a gray conversion that weighs all "
        "three": cv2.resize(np.ascontiguousarray(frame[..., 0]), (size, size), interpolation=area),
        "the three channels were averaged with equal weights; gray weighs green most, then "
        "red, then blue": cv2.resize(
            frame.mean(axis=-1).astype(np.uint8), (size, size), interpolation=area
        ),
    }


def _close_enough(expected: np.ndarray, got: np.ndarray) -> bool:
    difference = np.abs(expected.astype(np.int64) - got.astype(np.int64))
    return bool(
        difference.max() <= MAX_PIXEL_DIFFERENCE and difference.mean() <= MAX_MEAN_DIFFERENCE
    )


def _compare_frames(frame: np.ndarray, size: int) -> Any:
    def compare(expected: Any, got: Any) -> str | None:
        if type(got).__module__.startswith("torch"):
            return f"a torch tensor, expected a NumPy array ({size}, {size}) of uint8"
        got = np.asarray(got)
        if got.shape != expected.shape:
            message = f"shape {got.shape}, expected {expected.shape}"
            if got.shape == (84, 84) and size != 84:
                return f"{message}: the size argument was not used"
            if got.ndim == 3:
                return f"{message}: a gray frame has no channel axis"
            if got.shape[:2] == frame.shape[:2]:
                return f"{message}: the frame was not resized"
            return message
        if got.dtype != np.uint8:
            return (
                f"dtype {got.dtype}, expected uint8 (gray levels 0 to 255, one byte "
                "each, as the replay buffer stores them)"
            )
        if _close_enough(expected, got):
            return None
        difference = np.abs(expected.astype(np.int64) - got.astype(np.int64))
        message = (
            f"{int((difference > MAX_PIXEL_DIFFERENCE).sum())} of {difference.size} "
            f"pixels differ by more than {MAX_PIXEL_DIFFERENCE} grey levels (up to "
            f"{int(difference.max())})"
        )
        for mistake, result in _known_mistakes(frame, size).items():
            if _close_enough(result, got):
                return f"{message}: {mistake}"
        return message

    return compare


def check_process_frame84(student_function: Any) -> Any:
    """Check a ``process_frame84(frame, size=84) -> (size, size) uint8`` function.

    Rounding differences of legitimate pipelines pass: every pixel within
    ``MAX_PIXEL_DIFFERENCE`` grey levels of the reference, on average within
    ``MAX_MEAN_DIFFERENCE``.
    """
    random_frame = np.random.default_rng(0).integers(0, 256, (210, 160, 3), dtype=np.uint8)
    gradient = np.ascontiguousarray(
        np.broadcast_to(np.arange(160, dtype=np.uint8)[None, :, None], (210, 160, 3))
    )
    red = np.tile(np.array([255, 0, 0], np.uint8), (210, 160, 1))
    tolerance = (
        f"every pixel within {MAX_PIXEL_DIFFERENCE} grey levels of the right answer "
        "(rounding may differ)"
    )

    def case(name: str, rule: str, frame: np.ndarray, size: int = 84) -> Case:
        def run(f: Any) -> Any:  # the default size is 84: only other sizes are passed
            return f(frame.copy()) if size == 84 else f(frame.copy(), size=size)

        return Case(name, run, f"{rule}; {tolerance}", _compare_frames(frame, size))

    cases = [
        case(
            "a horizontal gradient",
            "the result is a (size, size) uint8 gray image, dark on the left and bright on "
            "the right like the frame",
            gradient,
        ),
        case(
            "pure red frame",
            "gray weighs the red, green and blue channels of an RGB frame differently "
            "(red counts about 0.3)",
            red,
        ),
        case(
            "random RGB frame",
            "each output pixel is the average of the gray pixels it covers",
            random_frame,
        ),
        case(
            "size=42 (lesson 09's frames)",
            "the side of the output square is the size argument",
            random_frame,
            42,
        ),
    ]
    return check_exercise(
        "process_frame84",
        student_function,
        wrappers.process_frame84,
        cases,
        hint="two steps: convert the RGB frame to one gray channel, then shrink it to a square "
        "of side size with the interpolation that averages the pixels each output pixel "
        "covers; keep the result as unsigned bytes.",
        pointer="section 3 of this lesson, and OpenCV's documentation of cvtColor (the RGB to "
        "gray conversion code) and resize (its dsize is width then height; the interpolation "
        "flags)",
    )


# --- FrameStack ---------------------------------------------------------------------------


def _describe_stack(obs: Any, env: FrameCounterEnv) -> Any:
    """The frames in a stack, oldest first: "frame 3", "frame 2 of the previous episode"."""
    obs = np.asarray(obs)
    if obs.ndim != len(env.shape) + 1 or obs.shape[1:] != env.shape:
        return f"an array of shape {obs.shape}"
    names = []
    for slot in obs:
        name = "a blank frame" if not slot.any() else "not a frame of the game"
        for episode, label in ((env.resets, ""), (env.resets - 1, " of the previous episode")):
            for t in range(env.t + 10):
                if np.array_equal(slot, frame_at(t + 1000 * episode, env.shape)):
                    name = f"frame {t}{label}"
                    break
            else:
                continue
            break
        names.append(name)
    return names


def _play_stack(
    wrapper_class: Any, k: int, steps: tuple[int, ...], ends: dict | None = None
) -> list:
    """Reset, then the given numbers of steps, each block after a reset; one record per
    returned observation: the frames it holds when returned, whether it later changed, and
    what came with it (the reward, the flags, the frame number the game's info gave)."""
    env = wrapper_class(FrameCounterEnv(shape=(3, 3), **(ends or {})), k=k)
    returned, records = [], []

    def keep(obs: Any, *rest: Any) -> None:
        *outcome, info = rest
        passed = [float(outcome[0]), bool(outcome[1]), bool(outcome[2])] if outcome else []
        frame = info.get("frame") if isinstance(info, dict) else f"a {type(info).__name__}"
        records.append(
            {"frames": _describe_stack(obs, env.unwrapped), "passed on": [*passed, frame]}
        )
        returned.append((obs, np.array(obs, copy=True)))

    for block, n_steps in enumerate(steps):
        keep(*env.reset(seed=0 if block == 0 else None))
        for _ in range(n_steps):
            keep(*env.step(0))
    for record, (obs, copy) in zip(records, returned, strict=True):
        record["changed by later steps"] = not np.array_equal(np.asarray(obs), copy)
    return records


def _compare_stacks(expected: list[dict], got: list[dict]) -> str | None:
    moments, steps, resets = [], 0, 0
    for e in expected:  # the reference's stacks end in frame 0 right after a reset
        steps = 0 if e["frames"][-1] == "frame 0" else steps + 1
        resets += steps == 0
        moments.append(
            f"at step {steps} after reset {resets}" if steps else f"right after reset {resets}"
        )
    for moment, e, g in zip(moments, expected, got, strict=True):
        frames = g["frames"]
        if frames != e["frames"]:
            message = f"{moment}: your stack holds {frames}, expected {e['frames']}"
            if isinstance(frames, str):
                return f"{moment}: {frames}, expected {len(e['frames'])} frames stacked"
            if frames == e["frames"][::-1]:
                return f"{message}: the frames are newest first, the stack goes oldest first"
            if any("previous episode" in name for name in frames):
                return f"{message}: frames of the previous episode are left after the reset"
            if "a blank frame" in frames:
                return f"{message}: blank frames where the first frame should be repeated"
            return message
    for moment, e, g in zip(moments, expected, got, strict=True):
        if g["passed on"] != e["passed on"]:
            names = ["reward", "terminated", "truncated", "info['frame']"][-len(e["passed on"]) :]
            wrong = [
                f"{name}={got_value!r} (expected {value!r})"
                for name, value, got_value in zip(
                    names, e["passed on"], g["passed on"], strict=True
                )
                if got_value != value
            ]
            return (
                f"{moment}: {', '.join(wrong)}: the stack changes the observation only; the "
                "reward, the two flags and the info are the game's, passed on unchanged"
            )
    for moment, e, g in zip(moments, expected, got, strict=True):
        if g["changed by later steps"] and not e["changed by later steps"]:
            return (
                f"the observation returned {moment} changed during later steps: the "
                "caller (a replay buffer) keeps every observation it gets"
            )
    return None


def check_frame_stack(student_class: Any) -> Any:
    """Check a ``FrameStack`` wrapper class (its ``reset`` and ``step``)."""

    def case(
        name: str, rule: str, k: int, steps: tuple[int, ...], ends: dict | None = None
    ) -> Case:
        return Case(name, lambda c: _play_stack(c, k, steps, ends), rule, _compare_stacks)

    cases = [
        case(
            "k=4, reset then five steps",
            "an observation holds the k most recent frames, oldest first; right after a "
            "reset the first frame fills every slot; an observation once returned never "
            "changes",
            4,
            (5,),
        ),
        case("k=2", "the number of frames stacked is the wrapper's k", 2, (3,)),
        case(
            "a second reset pads with the new first frame",
            "a reset starts the stack afresh: every slot holds the new episode's first "
            "frame, none of the previous episode's",
            3,
            (2, 1),
        ),
        case(
            "an episode that ends at its third step (terminated), then a reset",
            "the stack changes the observation only: the reward, terminated, truncated and "
            "the info are the game's, passed on unchanged by step and reset",
            2,
            (3, 1),
            {"episode_length": 3},
        ),
        case(
            "an episode cut by a time limit at its second step (truncated)",
            "the stack changes the observation only: a truncation is passed on as "
            "truncated, not terminated",
            2,
            (2, 1),
            {"truncate_at": 2},
        ),
    ]
    return check_exercise(
        "FrameStack",
        student_class,
        wrappers.FrameStack,
        cases,
        hint="at a reset, every one of the k slots gets the first frame; at each step the "
        "oldest frame leaves, the others move one slot towards the front and the new frame "
        "takes the last slot; hand out an array of your own that you will not change later, and "
        "pass the game's reward, flags and info on as they came.",
        pointer="section 4 of this lesson (padding after a reset, a copy of the stack), and "
        "Gymnasium's FrameStackObservation documentation (its padding with the reset frame)",
    )
