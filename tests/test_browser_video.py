"""The inline video really plays: a notebook cell embeds a recorded episode, the notebook
is exported to HTML (nbconvert), and headless Chromium decodes the <video> element."""

import shutil
from pathlib import Path

import cv2
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STEPS, FPS = 90, 30

CELL = f"""
import numpy as np
from rlcourse.envs import make_atari_env
from rlcourse.video import record_episode, show_video
env = make_atari_env("ALE/MsPacman-v5", render_mode="rgb_array")
rng = np.random.default_rng(0)
rec = record_episode(env, lambda obs: rng.integers(9), "episode.mp4", max_steps={STEPS},
                     seed=0, fps={FPS})
show_video(rec.path)
"""

# Wait for the video to decode, then seek to its middle and report what the browser sees.
PROBE = """async () => {
    const video = document.querySelector("video");
    const deadline = Date.now() + 20000;
    while (video.readyState < 2 && !video.error && Date.now() < deadline) {
        await new Promise(r => setTimeout(r, 100));
    }
    video.pause();
    if (!video.error && video.readyState >= 2) {
        const seeked = new Promise(r => video.addEventListener("seeked", r, {once: true}));
        video.currentTime = video.duration / 2;
        await seeked;
    }
    return {error: video.error ? video.error.code : null, readyState: video.readyState,
            duration: video.duration, width: video.videoWidth, height: video.videoHeight};
}"""


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (make install "
    "installs it where apt-get is available)",
)
def test_exported_notebook_video_plays_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    html, _ = HTMLExporter().from_notebook_node(notebook)
    assert "data:video/mp4;base64," in html
    page_path = tmp_path / "notebook.html"
    page_path.write_text(html)

    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            page = browser.new_page()
            page.goto(Path(page_path).as_uri())
            state = page.evaluate(PROBE)
            shot = page.locator("video").screenshot()
        finally:
            browser.close()

    assert state["error"] is None, f"media error code {state['error']}"
    assert state["readyState"] >= 2
    expected = (STEPS + 1) / FPS
    assert abs(state["duration"] - expected) <= 0.1 * expected, (state, expected)
    assert (state["width"], state["height"]) == (160, 210)
    image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.std() > 10, "the video frame looks blank"
