"""A student's first minutes, tested in a real browser: `make lab` starts JupyterLab (with
RLCOURSE_SMOKE=1 in its environment), headless Chromium (Playwright, Debian's chromium)
opens a student notebook through the UI, runs all its cells from the Run menu, and the page
then shows the check verdicts (NOT ATTEMPTED) and a <video> the browser can play.

The notebooks are copies in a temporary folder (autosave off as well): the committed files
are never touched."""

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from test_lab import _free_port, _get, _wait_until_up

ROOT = Path(__file__).resolve().parents[1]
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
SETTINGS = {  # every cell in the DOM (no windowing), nothing saved behind our back
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
VIDEO_READY = """() => [...document.querySelectorAll("video")].some(v => v.readyState >= 2)"""


@pytest.fixture(scope="module")
def lab_in_browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make install installs it with apt-get)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    home = tmp_path_factory.mktemp("lab")
    course = home / "notebooks"
    shutil.copytree(
        ROOT / "notebooks" / "student",
        course / "student",
        ignore=shutil.ignore_patterns("runs", "videos"),
    )
    for name, value in SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = _free_port(), uuid.uuid4().hex
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}"
    env = {
        **os.environ,
        "RLCOURSE_SMOKE": "1",
        "OMP_NUM_THREADS": "1",
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    # `make lab`'s own recipe, run from the temporary folder: it serves home/notebooks.
    make = [
        "make",
        "-s",
        "-f",
        str(ROOT / "Makefile"),
        "lab",
        f"VENV={ROOT / '.venv'}",
        f"LAB_ARGS={args}",
    ]
    process = subprocess.Popen(
        make,
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, base, token)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                yield browser, base, token
            finally:
                browser.close()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
        process.wait(timeout=30)


def _kernels_idle(base: str, token: str) -> bool:
    kernels = _get(f"{base}/api/kernels", token)
    return bool(kernels) and all(k["execution_state"] == "idle" for k in kernels)


@pytest.mark.parametrize("name", ["02_wrappers.ipynb", "04_dqn_cartpole.ipynb"])
def test_student_runs_all_cells_in_jupyterlab(lab_in_browser, name):
    browser, base, token = lab_in_browser
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # ?reset: a fresh workspace, only this notebook open.
        page.goto(f"{base}/lab/tree/student/{name}?reset&token={token}")
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        notebook.locator(".jp-Cell").first.wait_for(timeout=60_000)
        # The kernel is up once the status says Idle; then Run > Run All Cells.
        page.wait_for_function("() => document.body.innerText.includes('Idle')", timeout=60_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        cells = notebook.locator(".jp-CodeCell .jp-InputPrompt")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            prompts = cells.all_inner_texts()
            done = prompts and all(p.strip() not in ("[ ]:", "[*]:", "") for p in prompts)
            if done and _kernels_idle(base, token):
                break
            time.sleep(1)
        else:
            pytest.fail(f"{name}: the cells did not all run within 120 s: {prompts}")
        text = notebook.inner_text()
        assert "Traceback" not in text, f"{name}: a cell failed in JupyterLab"
        assert "NOT ATTEMPTED" in text, f"{name}: no check verdict in the page"
        assert notebook.locator(".jp-OutputArea video").count() >= 1, f"{name}: no <video>"
        page.wait_for_function(VIDEO_READY, timeout=20_000)
    finally:
        page.close()
        for session in _get(f"{base}/api/sessions", token):
            _get(f"{base}/api/sessions/{session['id']}", token, method="DELETE")
