"""`make lab` works: the server starts as `make lab` starts it, lists the course's notebooks
through its REST API, and runs a cell in a kernel."""

import asyncio
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


async def _run_cell(ws_url: str, token: str, code: str) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(
        HTTPRequest(ws_url, headers={"Authorization": f"token {token}"})
    )
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "username": "test",
        "session": uuid.uuid4().hex,
        "msg_type": "execute_request",
        "version": "5.3",
    }
    connection.write_message(
        json.dumps(
            {
                "header": header,
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                },
            }
        )
    )
    output = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = json.loads(await connection.read_message())
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            output += message["content"]["text"]
        if message["msg_type"] == "error":
            raise AssertionError(message["content"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    connection.close()
    return output


def _wait_until_up(process: subprocess.Popen, base: str, token: str) -> None:
    """Until the server `make lab` started answers (60 s at most)."""
    for _ in range(120):
        try:
            _get(f"{base}/api/status", token)
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("`make lab` exited early") from None
            time.sleep(0.5)
    raise TimeoutError("JupyterLab did not answer within 60 s")


@pytest.fixture
def lab():
    port, token = _free_port(), uuid.uuid4().hex
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(ROOT / ".pytest-lab-runtime")}
    process = subprocess.Popen(
        ["make", "-s", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, base, token)
        yield base, token
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
        process.wait(timeout=30)


LESSONS = {
    "01_mdp_qlearning.ipynb",
    "02_wrappers.ipynb",
    "03_replay_buffer.ipynb",
    "04_dqn_cartpole.ipynb",
    "05_pixel_dqn_mspacman.ipynb",
    "06_ddqn_mario.ipynb",
    "07_data_efficient_dqn.ipynb",
    "08_reinforce_cartpole.ipynb",
    "09_recurrent_a2c_kungfu.ipynb",
    "10_ppo_kungfu.ipynb",
}


def test_make_lab_serves_the_course_and_runs_a_cell(lab):
    base, token = lab
    listed = {item["name"] for item in _get(f"{base}/api/contents", token)["content"]}
    course = {path.name for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert course == LESSONS, f"the course is these lessons: {sorted(course ^ LESSONS)} differ"
    assert course <= listed, f"missing from the server: {course - listed}"
    assert "student" in listed
    students = {i["name"] for i in _get(f"{base}/api/contents/student", token)["content"]}
    assert course <= students

    kernel = _get(f"{base}/api/kernels", token, method="POST", body={"name": "python3"})
    try:
        ws_url = base.replace("http", "ws") + f"/api/kernels/{kernel['id']}/channels"
        code = (
            "from rlcourse.envs import make_atari_env\n"
            "print(make_atari_env('ALE/MsPacman-v5').observation_space.shape)"
        )
        output = asyncio.run(_run_cell(ws_url, token, code))
        assert output.strip() == "(4, 84, 84)"
    finally:
        _get(f"{base}/api/kernels/{kernel['id']}", token, method="DELETE")
