"""Record episodes to MP4 and show them inline, with no display and no xvfb.

Frames come from ``env.render()`` with ``render_mode="rgb_array"``; imageio-ffmpeg (which
ships its own ffmpeg) encodes them as H.264 + yuv420p, the one MP4 flavour every browser
plays. :func:`show_video` embeds the file as base64, so the video plays in Colab, in
JupyterLab and in a saved notebook alike.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from rlcourse.config import check_number, check_positive_int
from rlcourse.episodes import play_games
from rlcourse.files import atomic_write


class Recording(NamedTuple):
    """What :func:`record_episode` wrote and saw."""

    path: Path
    """The MP4 file."""
    frames: int
    """Frames in the video: one after reset plus one per step."""
    episode_return: float
    """Sum of the rewards the env gave (clipped, if the env clips them)."""
    steps: int
    """Agent steps played."""
    terminated: bool
    """The episode ended (rather than hitting ``max_steps`` or truncation)."""


def _even(frame: np.ndarray) -> np.ndarray:
    # yuv420p stores colour at half resolution: width and height must be even.
    height, width = frame.shape[:2]
    pad = ((0, height % 2), (0, width % 2)) + ((0, 0),) * (frame.ndim - 2)
    return np.pad(frame, pad, mode="edge") if height % 2 or width % 2 else frame


def _as_rgb(frame: Any) -> np.ndarray:
    array = np.asarray(frame)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(
            f"video frames must be (H, W) gray or (H, W, 3) RGB images, got shape {array.shape}"
        )
    if array.dtype != np.uint8:
        raise TypeError(
            f"video frames must be uint8 (0..255), got {array.dtype}; "
            "multiply [0, 1] floats by 255 and cast"
        )
    return np.ascontiguousarray(array[..., :3])


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float = 30) -> int:
    """Write frames to an H.264/yuv420p MP4 at ``path``; return how many were written.

    The file appears only when complete (written to a temporary name, then renamed), so an
    interrupted recording never leaves a broken video behind.
    """
    import imageio.v2 as imageio

    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"videos are written as MP4: give a path ending in .mp4, got {path}")
    check_number("fps", fps, low=0, low_open=True)
    count = 0
    with atomic_write(path, suffix=".mp4") as temporary:
        writer = imageio.get_writer(
            temporary,
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,  # keep 210x160 as is: no rescaling to a multiple of 16
            quality=None,
            ffmpeg_params=["-crf", "18", "-movflags", "+faststart"],
            ffmpeg_log_level="quiet",  # a failure is raised as one line (WriteError)
        )
        try:
            for frame in frames:
                writer.append_data(_even(_as_rgb(frame)))
                count += 1
        finally:
            # Close even on error (imageio's `with` does not): ffmpeg must be done with the
            # temporary file before it is removed, or it writes it back afterwards.
            writer.close()
        if count == 0:
            raise ValueError("no frames to write: the video would be empty")
    return count


def record_episode(
    env: gym.Env,
    policy: Callable[[Any], Any],
    path: str | os.PathLike,
    max_steps: int = 10_000,
    *,
    seed: int | None = None,
    fps: float | None = None,
) -> Recording:
    """Play one episode with ``policy(obs) -> action`` and save what ``env.render()`` shows.

    ``env`` must be made with ``render_mode="rgb_array"``. The video has one frame after
    the reset and one per step, at ``fps`` (default: the env's ``render_fps`` metadata).

    >>> from rlcourse.envs import make_env
    >>> env = make_env("CartPole-v1", render_mode="rgb_array")
    >>> rec = record_episode(env, lambda obs: 0, "/tmp/rlcourse-doctest.mp4", seed=0)
    >>> rec.frames == rec.steps + 1, rec.terminated
    (True, True)
    >>> rec.path.unlink()
    """
    check_positive_int("max_steps", max_steps)
    if env.render_mode != "rgb_array":
        raise ValueError(
            f"record_episode needs an env made with render_mode='rgb_array', "
            f"this one has render_mode={env.render_mode!r}: "
            "e.g. make_atari_env('ALE/MsPacman-v5', render_mode='rgb_array')"
        )
    fps = fps or env.metadata.get("render_fps") or 30
    frames: list[Any] = []
    # The evaluation's game, by the same runner (memory empty at the start, zeroed at lost
    # lives if training did so), with a frame after the reset and after every step.
    games = play_games(
        policy,
        [env],
        [seed],
        batched=False,
        max_steps=max_steps,
        on_reset=lambda game: frames.append(env.render()),
        on_step=lambda game, step: frames.append(env.render()),
    )
    episode_return, steps = float(games.returns[0]), int(games.steps[0])
    terminated = bool(games.terminated[0])
    count = write_video(frames, path, fps=fps)
    return Recording(Path(path), count, episode_return, steps, bool(terminated))


def read_video(path: str | os.PathLike) -> np.ndarray:
    """Decode an MP4 back to a ``(frames, H, W, 3)`` uint8 array (for tests and plots)."""
    import imageio.v2 as imageio

    with imageio.get_reader(os.fspath(path), format="FFMPEG") as reader:
        return np.stack([np.asarray(frame) for frame in reader])  # type: ignore[attr-defined]


def video_html(path: str | os.PathLike, width: int | None = None) -> str:
    """The ``<video>`` tag with the MP4 inlined as a base64 data URL."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no video at {path}: record one first, e.g. record_episode(env, policy, '{path}')"
        )
    data = path.read_bytes()
    if not data:
        raise ValueError(f"{path} is empty: the recording did not finish")
    encoded = base64.b64encode(data).decode("ascii")
    size = f' width="{int(width)}"' if width else ""
    return (
        f"<video{size} controls autoplay loop muted playsinline>"
        f'<source src="data:video/mp4;base64,{encoded}" type="video/mp4">'
        "Your browser cannot play this MP4 video.</video>"
    )


def show_video(path: str | os.PathLike, width: int | None = 320) -> Any:
    """Show an MP4 inline in a notebook (returns an ``IPython.display.HTML``)."""
    from IPython.display import HTML

    return HTML(video_html(path, width=width))


def show_frames(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 15) -> Any:
    """Write frames (e.g. processed 84x84 observations) to ``path`` and show them inline."""
    write_video(frames, path, fps=fps)
    return show_video(path)
