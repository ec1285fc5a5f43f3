"""Nothing the user keeps is destroyed: runs are locked, never shortened, never mixed with
files another program wrote; logs are rewritten atomically; checkpoints carry a checksum;
a diverged run stops with its last resume point intact; SIGTERM saves like Ctrl-C; a full
disk is one line naming the file. (One-line messages for bad options: test_bad_input.py.)"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rlcourse import buffers, cli, files, metrics
from rlcourse.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from rlcourse.cli import main
from rlcourse.errors import TrainingDivergedError, WriteError
from rlcourse.training import harness

RUN = ["train", "dqn", "--env", "CartPole-v1", "--no-progress", "--learning-starts", "64"]
SMALL = ["--hidden-sizes", "16", "--buffer-size", "1000", "--batch-size", "16"]


def _train(out: Path, total: int, *extra: str) -> int:
    argv = [*RUN, *SMALL, "--total-steps", str(total), "--out", str(out), *extra]
    return main([*argv, "--checkpoint-every", "100"])


def _fingerprint(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlcourse: error: "), lines
    return lines[0]


# --- a run's directory ------------------------------------------------------------------------


def test_resume_never_shortens_a_finished_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, 350) == 0  # finished at 350, resume point at 300
    kept = _fingerprint(out)
    for total in ("200", "320"):  # below the resume point; below the finish
        assert _train(out, int(total), "--resume") == 2
        assert "would shorten it; give --total-steps >= 350" in _one_error_line(capsys)
        assert _fingerprint(out) == kept
    assert _train(out, 400, "--resume") == 0  # longer: it goes on
    assert load_checkpoint(out / "final.pt")["steps"] == 400


def test_a_run_directory_lock_is_released_and_taken_over_within_a_process(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    first = harness.RunLock(out)
    assert (out / harness.LOCK_FILE).read_text() == f"{os.getpid()}\n"
    second = harness.RunLock(out)  # this process's next run (a cell run again) takes it over
    first.release()  # the earlier run letting go no longer frees the directory
    assert (out / harness.LOCK_FILE).exists()
    second.release()
    assert not (out / harness.LOCK_FILE).exists()
    harness.RunLock(out).release()  # free again


def test_a_second_process_is_refused_while_the_first_trains(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "rlcourse.cli", *RUN, *SMALL, "--total-steps", "100000"]
    first = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / "config.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = subprocess.run(
            [*command, "--out", str(out)], capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert f"being written by another run (pid {first.pid})" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)


def test_a_new_run_replaces_an_earlier_runs_files_and_refuses_foreign_ones(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, 150, "--eval-every", "50", "--eval-episodes", "1") == 0
    (out / "checkpoint.pt").unlink()  # as a run killed before its first resume point
    (out / "final.pt").unlink()
    assert (out / "best.pt").exists()
    assert _train(out, 80) == 0  # no evaluations this time: no best.pt may remain
    assert not (out / "best.pt").exists() and (out / "final.pt").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "log.csv").write_text("my,own\n1,2\n")
    assert _train(mine, 80) == 2
    assert "which no rlcourse run wrote" in _one_error_line(capsys)
    assert (mine / "log.csv").read_text() == "my,own\n1,2\n"
    assert sorted(p.name for p in mine.iterdir()) == ["log.csv"]  # no lock file left behind


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ("other,columns\n1,2\n", "not a run's log"),
        (b"\xff\xfe\x00binary", "cannot be read as a run's log"),
        (None, "is not a file"),
    ],
)
def test_resume_refuses_a_log_it_cannot_continue_before_writing_anything(
    tmp_path, capsys, log, message
):
    out = tmp_path / "run"
    assert _train(out, 150) == 0
    (out / "final.pt").unlink()
    (out / "log.csv").unlink()
    if log is None:
        (out / "log.csv").mkdir()
    elif isinstance(log, bytes):
        (out / "log.csv").write_bytes(log)
    else:
        (out / "log.csv").write_text(log)
    config = (out / "config.json").read_bytes()
    assert _train(out, 300, "--resume") == 2
    assert message in _one_error_line(capsys)
    assert (out / "config.json").read_bytes() == config


def test_resume_rewrites_the_log_atomically(tmp_path, monkeypatch):
    log = tmp_path / "log.csv"
    logger = metrics.CSVLogger(log, ["step", "x"])
    for step in range(5):
        logger.write(step=step, x=step)
    before = log.read_text()

    def killed(self, rows):
        raise KeyboardInterrupt  # a kill while the rows are being written

    monkeypatch.setattr(csv.DictWriter, "writerows", killed)
    with pytest.raises(KeyboardInterrupt):
        logger.truncate_after(2)
    assert log.read_text() == before  # the old log, whole
    monkeypatch.undo()
    logger.truncate_after(2)
    assert [row["step"] for row in csv.DictReader(log.open())] == ["0", "1", "2"]


# --- signals and interruptions ----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_save_a_resume_point_as_ctrl_c_does(tmp_path, signum):
    out = tmp_path / "run"
    argv = [*RUN, *SMALL, "--total-steps", "200000", "--checkpoint-every", "100000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "rlcourse.cli", *argv, "--out", str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until training has logged an episode
        if (out / "log.csv").exists() and len((out / "log.csv").read_text().splitlines()) > 2:
            break
        time.sleep(0.1)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert f"stopped by {signal.Signals(signum).name} at step" in output
    payload = load_checkpoint(out / "checkpoint.pt")
    assert "resume" in payload and 0 < payload["steps"] < 200_000
    assert not (out / "final.pt").exists()


def test_ctrl_c_during_an_evaluation_is_one_line(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "evaluate_checkpoint", interrupted)
    from rlcourse import pretrained

    assert main(["evaluate", str(pretrained.path("dqn_cartpole.pt"))]) == 130
    assert capsys.readouterr().err.strip() == "rlcourse: interrupted"


# --- numbers that stop being numbers ----------------------------------------------------------


def test_a_diverged_run_stops_with_its_last_resume_point_intact(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, 2000, "--lr", "1e30") == 2
    line = _one_error_line(capsys)
    assert "training diverged: the loss is" in line
    assert f"the last resume point, {out / 'checkpoint.pt'}, is intact" in line
    payload = load_checkpoint(out / "checkpoint.pt")
    assert harness.weights_are_finite(payload["weights"])
    assert not (out / "final.pt").exists()


def test_a_resume_point_with_non_finite_weights_is_never_written(tmp_path):
    run = harness.Run(
        algo="dqn", env_id="CartPole-v1", env_options={}, config=_Config(), total_steps=10,
        out_dir=tmp_path / "run", progress=False,
    )  # fmt: skip
    with pytest.raises(TrainingDivergedError, match="no longer finite"):
        run.save_resume_point({"weights": {"w": torch.tensor([1.0, float("nan")])}})
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    run.close()


@dataclasses.dataclass
class _Config:
    seed: int = 0


def test_a_full_replay_memory_given_a_bad_transition_is_left_as_it_was():
    buffer = buffers.ReplayBuffer(2, (3,), rng=np.random.default_rng(0))
    for i in range(2):
        buffer.add(np.full(3, i), 1, 1.0, np.full(3, i + 1), False, False)
    before = [array.copy() for array in (buffer.obs, buffer.next_obs, buffer.actions)]
    for reward, action in ((float("nan"), 0), (1.0, 1.7)):
        with pytest.raises(ValueError):
            buffer.add(np.full(3, 9), action, reward, np.full(3, 9), False, False)
    after = (buffer.obs, buffer.next_obs, buffer.actions)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    with pytest.raises(ValueError, match="action must be a whole number"):
        buffer.add(np.zeros(3), 1.7, 0.0, np.zeros(3), False, False)
    with pytest.raises(ValueError, match=r"obs_shape must be a tuple of positive ints.*\(-1, 4\)"):
        buffers.ReplayBuffer(2, (-1, 4), rng=np.random.default_rng(0))


# --- checkpoints ------------------------------------------------------------------------------


def test_a_checkpoint_with_one_flipped_bit_is_refused(tmp_path, capsys):
    from rlcourse import pretrained

    payload = load_checkpoint(pretrained.path("dqn_cartpole.pt"))
    path = save_checkpoint(tmp_path / "agent.pt", payload)
    weights = dict(payload["weights"])
    name = next(iter(weights))
    flipped = weights[name].clone()
    flipped.view(torch.int16).view(-1)[0] ^= 1  # one bit of one fp16 weight
    weights[name] = flipped
    torch.save({**load_checkpoint(path), "weights": weights}, tmp_path / "flipped.pt")
    with pytest.raises(CheckpointError, match="do not match their checksum"):
        load_checkpoint(tmp_path / "flipped.pt")
    assert main(["evaluate", str(tmp_path / "flipped.pt"), "--episodes", "1"]) == 2
    assert "do not match their checksum" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights": [1, 2]}, "its weights is a list, not a dict"),
        ({"config": None}, "its config is a NoneType, not a dict"),
        ({"steps": "abc"}, "its steps is a str, not a int"),
        ({"env_options": {"warp_speed": 9}}, "cannot be made"),
    ],
)
def test_checkpoint_fields_of_the_wrong_kind_are_a_checkpoint_error(
    tmp_path, capsys, change, message
):
    from rlcourse import pretrained

    payload = {**load_checkpoint(pretrained.path("dqn_cartpole.pt")), **change}
    path = tmp_path / "agent.pt"
    torch.save(payload, path)
    assert main(["evaluate", str(path), "--episodes", "1"]) == 2
    assert message in _one_error_line(capsys)


# --- logs -------------------------------------------------------------------------------------


def test_a_log_with_a_row_cut_short_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, 150) == 0
    with (out / "log.csv").open("a") as log:
        log.write("160,3")  # a row cut short by a kill
    assert main(["plot", str(out)]) == 2
    assert "a row cut short" in _one_error_line(capsys)


# --- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("this machine cannot mount a tmpfs")
    yield mount
    subprocess.run(["umount", str(mount)])


def test_a_full_disk_is_one_line_naming_the_file_and_the_previous_file_is_intact(tiny_disk):
    path = tiny_disk / "checkpoint.pt"
    save_checkpoint(path, {"weights": {"w": torch.zeros(10)}, "steps": 1})
    before = path.read_bytes()
    with pytest.raises(WriteError, match=rf"cannot write {path}: no space left on device"):
        save_checkpoint(path, {"weights": {"w": torch.zeros(200_000)}, "steps": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["checkpoint.pt"]  # no temporaries
    (tiny_disk / "filler").write_bytes(b"x" * (250 * 1024 - len(before)))
    config = tiny_disk / "config.json"
    with pytest.raises(WriteError, match="no space left"), files.atomic_write(config) as temporary:
        Path(temporary).write_text(json.dumps({"x": "y" * 100_000}))


def test_a_run_on_a_full_disk_is_one_line_and_leaves_no_empty_run_directory(tiny_disk, capsys):
    (tiny_disk / "filler").write_bytes(b"x" * (256 * 1024))
    out = tiny_disk / "run"
    assert _train(out, 100) == 2
    assert "no space left on device" in _one_error_line(capsys)
    assert not out.exists()


def test_a_log_row_on_a_full_disk_is_one_line(tiny_disk):
    logger = metrics.CSVLogger(tiny_disk / "log.csv", ["step", "note"])
    (tiny_disk / "filler").write_bytes(b"x" * (256 * 1024 - 4096))
    with pytest.raises(WriteError, match=r"log.csv: no space left on device"):
        for step in range(1000):
            logger.write(step=step, note="y" * 1000)


def test_export_and_a_video_on_a_full_disk_are_one_line_each(tiny_disk, capsys):
    from rlcourse import pretrained

    with (tiny_disk / "filler").open("wb", buffering=0) as filler:  # full to its last block
        try:
            while True:
                filler.write(b"x" * 4096)
        except OSError:
            pass
    source = str(pretrained.path("dqn_mspacman.pt"))
    assert main(["export", source, str(tiny_disk / "small.pt"), "--fp32"]) == 2
    assert "no space left on device" in _one_error_line(capsys)
    cartpole = str(pretrained.path("dqn_cartpole.pt"))
    assert main(["watch", cartpole, "--video", str(tiny_disk / "game.mp4")]) == 2
    assert "no space left on device" in _one_error_line(capsys)
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]  # nothing half-written
