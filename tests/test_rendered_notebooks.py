"""The committed notebooks, as a reader sees them without running them: each is exported to
HTML (nbconvert, no execution) and opened in headless Chromium, which must show every saved
figure and decode every saved video (readyState >= 2, the file's duration)."""

import base64
import re
import shutil
from pathlib import Path

import cv2
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "notebooks" / "student").glob("*.ipynb")
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
VIDEO = re.compile(r"data:video/mp4;base64,([A-Za-z0-9+/=\s]+)")

# Every <img> from an output decoded; every <video> ready to play (or failed).
PROBE = """async () => {
    const images = [...document.querySelectorAll("img")]
        .filter(i => i.src.startsWith("data:image"));
    await Promise.all(images.map(i => i.decode().catch(() => null)));
    const videos = [...document.querySelectorAll("video")];
    const deadline = Date.now() + 20000;
    while (videos.some(v => v.readyState < 2 && !v.error) && Date.now() < deadline) {
        await new Promise(r => setTimeout(r, 100));
    }
    return {
        images: images.map(i => i.naturalWidth),
        videos: videos.map(v => ({error: v.error ? v.error.code : null,
                                  readyState: v.readyState, duration: v.duration})),
    };
}"""


def _id(path):
    return f"{path.parent.name}/{path.name}" if path.parent.name == "student" else path.name


def _file_duration(data: bytes, tmp_path: Path) -> float:
    path = tmp_path / "video.mp4"
    path.write_bytes(data)
    capture = cv2.VideoCapture(str(path))
    try:
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    assert frames > 0 and fps > 0, "OpenCV cannot read the saved video"
    return frames / fps


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make install installs it with apt-get)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_committed_notebook_renders_its_figures_and_videos(path, browser, tmp_path):
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    if not any(o.get("output_type") != "stream" for o in outputs):
        pytest.skip(f"{_id(path)} has no committed figures yet: run `make notebooks`")
    n_images = sum("image/png" in o.get("data", {}) for o in outputs)
    html_outputs = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    videos = [base64.b64decode(m) for m in VIDEO.findall(html_outputs)]

    html, _ = HTMLExporter().from_notebook_node(notebook)  # renders; runs nothing
    page_path = tmp_path / "notebook.html"
    page_path.write_text(html)
    page = browser.new_page()
    try:
        page.goto(page_path.as_uri())
        state = page.evaluate(PROBE)
    finally:
        page.close()

    assert len(state["images"]) >= n_images, f"{n_images} figures saved, {state['images']} shown"
    assert all(width > 0 for width in state["images"]), f"an image does not decode: {state}"
    assert len(state["videos"]) == len(videos), (state["videos"], len(videos))
    for video, data in zip(state["videos"], videos, strict=True):
        assert video["error"] is None, f"media error code {video['error']}"
        assert video["readyState"] >= 2, video
        expected = _file_duration(data, tmp_path)
        assert abs(video["duration"] - expected) <= 0.1 * expected, (video, expected)
