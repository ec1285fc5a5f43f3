import base64
import re

import numpy as np
import pytest

from rlcourse.envs import make_atari_env, make_env
from rlcourse.toy_envs import FrameCounterEnv
from rlcourse.video import read_video, record_episode, show_video, video_html, write_video


def _codec(path) -> tuple[str, str]:
    import imageio_ffmpeg

    info = next(imageio_ffmpeg.read_frames(str(path)))
    return info["codec"], info["pix_fmt"]


def test_record_episode_writes_h264_frames_that_match_the_render(tmp_path):
    env = make_atari_env("ALE/MsPacman-v5", render_mode="rgb_array")
    rendered = []
    rng = np.random.default_rng(0)

    def policy(obs):
        rendered.append(env.render())  # the frame the recorder grabbed before this step
        return rng.integers(env.action_space.n)

    rec = record_episode(env, policy, tmp_path / "pacman.mp4", max_steps=60, seed=0)
    rendered.append(env.render())
    assert rec.steps == 60 and rec.frames == 61 and not rec.terminated
    video = read_video(rec.path)
    assert video.shape == (61, 210, 160, 3), "no rescaling to a multiple of 16"
    codec, pix_fmt = _codec(rec.path)
    assert codec.startswith("h264") and pix_fmt.startswith("yuv420p")
    # yuv420p halves colour resolution, and the maze's thin coloured walls pay for it; the
    # brightness (luma) channel is kept at full resolution: compare that.
    error = np.abs(_luma(video) - _luma(np.stack(rendered)))
    assert error.mean() < 2.5, "decoded frames should be the rendered ones (H.264 is lossy)"
    assert not np.array_equal(video[0], video[-1]), "the video must move"


def _luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_each_decoded_frame_is_the_one_rendered_at_that_step(tmp_path):
    env = FrameCounterEnv(shape=(64, 48), episode_length=20, render_mode="rgb_array")
    rendered = []
    render = env.render
    env.render = lambda: rendered.append(render()) or rendered[-1]
    rec = record_episode(env, lambda obs: 0, tmp_path / "toy.mp4")
    video = _luma(read_video(rec.path))
    expected = _luma(np.stack(rendered))
    errors = np.abs(video[:, None] - expected[None]).mean(axis=(2, 3))
    assert len(video) == len(expected) == 21
    assert (errors.argmin(axis=1) == np.arange(21)).all()
    assert errors.diagonal().max() < 3.0


def test_episode_end_and_odd_frame_sizes(tmp_path):
    env = FrameCounterEnv(shape=(33, 45), episode_length=7, render_mode="rgb_array")
    rec = record_episode(env, lambda obs: 0, tmp_path / "odd.mp4")
    assert rec.terminated and rec.steps == 7 and rec.frames == 8
    assert read_video(rec.path).shape == (8, 34, 46, 3)  # padded to even for yuv420p


def test_show_video_embeds_the_file_as_base64(tmp_path):
    path = tmp_path / "cartpole.mp4"
    record_episode(make_env("CartPole-v1", render_mode="rgb_array"), lambda o: 1, path, seed=0)
    html = show_video(path).data
    assert html.startswith("<video") and "controls" in html
    payload = re.search(r'src="data:video/mp4;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(payload) == path.read_bytes()


def test_video_errors_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        record_episode(make_env("CartPole-v1"), lambda o: 0, tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="ending in .mp4"):
        write_video([np.zeros((4, 4, 3), np.uint8)], tmp_path / "x.avi")
    with pytest.raises(FileNotFoundError, match="record one first"):
        video_html(tmp_path / "missing.mp4")
    with pytest.raises(TypeError, match="must be uint8"):
        write_video([np.zeros((4, 4, 3), np.float32)], tmp_path / "f.mp4")
    with pytest.raises(ValueError, match="max_steps must be >= 1, got 0"):
        record_episode(
            make_env("CartPole-v1", render_mode="rgb_array"),
            lambda o: 0,
            tmp_path / "x.mp4",
            max_steps=0,
        )


def test_interrupted_recording_leaves_no_file(tmp_path):
    def frames():
        yield np.zeros((8, 8, 3), np.uint8)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(frames(), tmp_path / "cut.mp4")
    assert list(tmp_path.iterdir()) == []
