"""Exact resume (rlcourse/resume.py and the run harness on it).

A game is its seed and the actions played since (:class:`ResumableGame`); a resume point
holds those logs with the agent's state. The end-to-end tests run ``rlcourse train`` in a
subprocess, kill it (SIGKILL, or Ctrl-C = SIGINT) once it has written a resume point,
continue with ``--resume``, and compare with a run that was never interrupted: the same
weights, bit for bit, and the same log rows (the training time aside).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcourse.checkpoints import load_checkpoint
from rlcourse.cli import main
from rlcourse.envs import make_env_for
from rlcourse.resume import ResumableGame
from rlcourse.training import harness

# --- ResumableGame ---------------------------------------------------------------------------


def test_replay_reaches_the_same_state_through_unseeded_resets():
    game = ResumableGame(gym.make("CartPole-v1"))
    game.reset(seed=3)
    for action in (0, 1, 1, 0):
        game.step(action)
    game.reset()  # no seed: the env's own generator goes on, the log records the reset
    for action in (1, 1, 0):
        obs, *_ = game.step(action)
    log = game.game_log()
    assert log["seed"] == 3 and log["events"].tolist() == [0, 1, 1, 0, -1, 1, 1, 0]

    again = ResumableGame(gym.make("CartPole-v1"))
    replayed, _ = again.restore(log)
    np.testing.assert_array_equal(replayed, obs)
    np.testing.assert_array_equal(again.unwrapped.state, game.unwrapped.state)
    assert again.game_log()["events"].tolist() == log["events"].tolist()


def test_a_seeded_reset_starts_a_new_log():
    game = ResumableGame(gym.make("CartPole-v1"))
    game.reset(seed=1)
    game.step(0)
    game.reset(seed=2)
    game.step(1)
    log = game.game_log()
    assert log["seed"] == 2 and log["events"].tolist() == [1]


def test_a_game_never_seeded_cannot_be_replayed():
    game = ResumableGame(gym.make("CartPole-v1"))
    game.reset()
    with pytest.raises(RuntimeError, match="never reset with a seed"):
        game.game_log()
    with pytest.raises(RuntimeError, match="no pending_log"):
        game.restore_pending()


def test_replay_pending_replays_once_then_forgets_the_log():
    game = ResumableGame(gym.make("CartPole-v1"))
    game.reset(seed=5)
    obs, *_ = game.step(1)
    other = ResumableGame(gym.make("CartPole-v1"))
    other.pending_log = game.game_log()
    replayed, _ = other.restore_pending()
    np.testing.assert_array_equal(replayed, obs)
    assert other.pending_log is None


def _lose_a_life(game, rng):
    """Play random actions until the training env ends an episode at a lost life."""
    for _ in range(2000):
        _, _, terminated, truncated, info = game.step(int(rng.integers(game.action_space.n)))
        if terminated or truncated:
            return info
    raise AssertionError("no life lost in 2000 steps")


def test_replay_goes_through_lost_lives_and_restarts_a_game_in_progress():
    # Training Atari envs end an episode at each lost life (EpisodicLife); the reset that
    # follows is not a real one (the seed given to it is ignored), so the log goes on.
    rng = np.random.default_rng(0)
    game = ResumableGame(make_env_for("ALE/Breakout-v5", training=True))
    game.reset(seed=7)
    info = _lose_a_life(game, rng)
    assert info["lives"] == 4
    game.reset(seed=8)  # after a lost life: carries on, not a new game
    for _ in range(20):
        obs, *_ = game.step(int(rng.integers(game.action_space.n)))
    log = game.game_log()
    assert log["seed"] == 7 and -1 in log["events"].tolist()

    # Replay on an env that is itself in the middle of a game (as a pool's games are).
    again = ResumableGame(make_env_for("ALE/Breakout-v5", training=True))
    again.reset(seed=123)
    _lose_a_life(again, np.random.default_rng(1))
    again.reset()
    replayed, info = again.restore(log)
    np.testing.assert_array_equal(replayed, obs)
    assert info["lives"] == 4
    np.testing.assert_array_equal(again.unwrapped.ale.getRAM(), game.unwrapped.ale.getRAM())


# --- `rlcourse train` interrupted and resumed ----------------------------------------------------

DQN_ARGS = [
    "train",
    "dqn",
    "--env",
    "CartPole-v1",
    "--total-steps",
    "1800",
    "--seed",
    "3",
    "--threads",
    "1",
    "--checkpoint-every",
    "1000",
    "--eval-every",
    "900",
    "--eval-episodes",
    "1",
    "--learning-starts",
    "200",
    "--train-frequency",
    "16",
    "--gradient-steps",
    "2",
    "--batch-size",
    "32",
    "--buffer-size",
    "5000",
    "--hidden-sizes",
    "32",
    "32",
    "--device",
    "cpu",
    "--no-progress",
]
# Breakout rather than Kung-Fu: its games end within a few hundred steps, so the run logs
# finished games and reseeds the pool's games, and lives are lost (replayed resets).
A2C_ARGS = [
    "train",
    "a2c",
    "--env",
    "ALE/Breakout-v5",
    "--crop",
    "0",
    "0",
    "0",
    "0",
    "--total-steps",
    "500",
    "--n-games",
    "2",
    "--rollout-length",
    "5",
    "--threads",
    "1",
    "--checkpoint-every",
    "200",
    "--eval-every",
    "250",
    "--eval-episodes",
    "1",
    "--no-progress",
]
RUN_FILES = {"config.json", "log.csv", "checkpoint.pt", "best.pt", "final.pt", "metrics.png"}


def _command() -> list[str]:
    script = Path(sys.executable).with_name("rlcourse")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rlcourse.cli"]


def _start(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(cwd / "stdout.txt", "w") as stdout, open(cwd / "stderr.txt", "w") as stderr:
        return subprocess.Popen(_command() + argv, cwd=cwd, env=env, stdout=stdout, stderr=stderr)


def _logged_steps(run: Path) -> list[int]:
    """Steps of the complete rows of a run's log.csv so far."""
    try:
        text = (run / "log.csv").read_text()
    except FileNotFoundError:
        return []
    return [
        int(line.split(",")[0])
        for line in text.splitlines(keepends=True)[1:]
        if line.endswith("\n")
    ]


def _wait_for(condition, process: subprocess.Popen, cwd: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(
                f"the run ended (code {process.returncode}) before it could be interrupted: "
                + (cwd / "stderr.txt").read_text()[-2000:]
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("timed out waiting for the run to get going")
        time.sleep(0.02)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["weights"]


def _assert_same_run(resumed: Path, reference: Path) -> None:
    """Same final and best weights bit for bit; same log rows except the training time."""
    for name in ("final.pt", "best.pt"):
        mine, theirs = _weights(resumed / name), _weights(reference / name)
        assert mine.keys() == theirs.keys()
        for key in theirs:
            assert torch.equal(mine[key], theirs[key]), f"{name}: {key} differs"

    def rows(run: Path) -> list[list[str]]:
        lines = (run / "log.csv").read_text().splitlines()
        header = lines[0].split(",")
        keep = [i for i, column in enumerate(header) if column != "wall_seconds"]
        return [[line.split(",")[i] for i in keep] for line in lines]

    assert rows(resumed) == rows(reference)


def _in_process(argv: list[str], capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def _reference(argv: list[str]) -> None:
    """Run the command without interruption, in this process (faster) and without drawing
    metrics.png (a second a picture; the resumed runs draw theirs)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(harness, "plot_metrics", lambda *args, **kwargs: None)
        assert main(argv) == 0


@pytest.fixture(scope="module")
def dqn_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("dqn") / "reference"
    _reference([*DQN_ARGS, "--out", str(out)])
    return out


def test_dqn_killed_with_sigkill_resumes_exactly(tmp_path, capsys, dqn_reference):
    run = tmp_path / "run"
    process = _start([*DQN_ARGS, "--out", str(run)], tmp_path)
    # Kill it once it has a resume point (step 1000) and has logged rows past it: the
    # resumed run must drop those rows and play the same episodes again.
    _wait_for(
        lambda: (run / "checkpoint.pt").exists() and max(_logged_steps(run), default=0) > 1000,
        process,
        tmp_path,
    )
    process.send_signal(signal.SIGKILL)
    assert process.wait(60) == -signal.SIGKILL
    assert not (run / "final.pt").exists()
    assert load_checkpoint(run / "checkpoint.pt")["steps"] == 1000

    printed = _in_process([*DQN_ARGS, "--out", str(run), "--resume"], capsys)
    assert "final weights" in printed
    assert {p.name for p in run.iterdir()} >= RUN_FILES
    assert load_checkpoint(run / "final.pt")["steps"] == 1800
    _assert_same_run(run, dqn_reference)


def test_dqn_stopped_with_ctrl_c_saves_a_resume_point_and_resumes_exactly(
    tmp_path, capsys, dqn_reference
):
    run = tmp_path / "run"
    process = _start([*DQN_ARGS, "--out", str(run)], tmp_path)
    _wait_for(lambda: len(_logged_steps(run)) >= 1, process, tmp_path)  # training is on
    process.send_signal(signal.SIGINT)
    assert process.wait(120) == 130
    stdout, stderr = (tmp_path / "stdout.txt").read_text(), (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "stopped by SIGINT at step" in stdout and "--resume" in stdout
    stopped_at = load_checkpoint(run / "checkpoint.pt")["steps"]
    assert 0 < stopped_at < 1800 and f"stopped by SIGINT at step {stopped_at}:" in stdout
    assert "resume" in load_checkpoint(run / "checkpoint.pt")
    assert not (run / "final.pt").exists()

    _in_process([*DQN_ARGS, "--out", str(run), "--resume"], capsys)
    _assert_same_run(run, dqn_reference)


def test_a2c_killed_with_sigkill_resumes_exactly(tmp_path, capsys):
    reference = tmp_path / "reference"
    _reference([*A2C_ARGS, "--out", str(reference)])
    log = (reference / "log.csv").read_text().splitlines()
    # The comparison means something: finished games (with the A2C loss columns) and
    # evaluations are in the log.
    assert len(log) >= 4 and any(line.split(",")[4] for line in log[1:])

    run = tmp_path / "run"
    process = _start([*A2C_ARGS, "--out", str(run)], tmp_path)
    # The resume point of step 200 exists before the evaluation row of step 250.
    _wait_for(
        lambda: (run / "checkpoint.pt").exists() and max(_logged_steps(run), default=0) >= 250,
        process,
        tmp_path,
    )
    process.send_signal(signal.SIGKILL)
    assert process.wait(60) == -signal.SIGKILL
    assert not (run / "final.pt").exists()
    assert load_checkpoint(run / "checkpoint.pt")["steps"] in (200, 400)

    _in_process([*A2C_ARGS, "--out", str(run), "--resume"], capsys)
    assert {p.name for p in run.iterdir()} >= RUN_FILES
    assert load_checkpoint(run / "final.pt")["steps"] == 500
    _assert_same_run(run, reference)


# The reproduction of the issue: a resume point on an evaluation step (here both at 1000).
# The killed run must not lose that evaluation, so best.pt and the log stay the same.
DQN_EVAL_ON_CHECKPOINT = [
    *DQN_ARGS[: DQN_ARGS.index("--eval-every")],
    "--eval-every",
    "500",
    *DQN_ARGS[DQN_ARGS.index("--eval-every") + 2 :],
]


def test_dqn_killed_after_a_checkpoint_on_an_evaluation_step_resumes_exactly(
    tmp_path, tmp_path_factory, capsys
):
    reference = tmp_path_factory.mktemp("dqn_eval") / "reference"
    _reference([*DQN_EVAL_ON_CHECKPOINT, "--out", str(reference)])
    run = tmp_path / "run"
    process = _start([*DQN_EVAL_ON_CHECKPOINT, "--out", str(run)], tmp_path)
    _wait_for(lambda: (run / "checkpoint.pt").exists(), process, tmp_path)
    process.send_signal(signal.SIGKILL)
    process.wait(60)
    saved = load_checkpoint(run / "checkpoint.pt")
    assert saved["steps"] == 1000 and saved["resume"]["run"]["best"] is not None
    _in_process([*DQN_EVAL_ON_CHECKPOINT, "--out", str(run), "--resume"], capsys)
    _assert_same_run(run, reference)
    evaluations = [
        line for line in (run / "log.csv").read_text().splitlines() if line.split(",")[-2] != ""
    ]
    assert [int(line.split(",")[0]) for line in evaluations[1:]] == [500, 1000, 1500]


def test_temporaries_of_a_killed_save_are_removed_at_the_next_start(tmp_path, capsys):
    run = tmp_path / "run"
    _in_process(
        [*DQN_ARGS[:5], "300", *DQN_ARGS[6:], "--checkpoint-every", "100", "--out", str(run)],
        capsys,
    )
    stale = [run / ".checkpoint.pt.k1ll3d.tmp", run / ".metrics.png.x9.png"]
    for path in stale:
        path.write_bytes(b"half a file")
    keep = run / ".notes.txt"  # not one of the run's files: not ours to delete
    keep.write_text("mine")
    _in_process(
        [
            *DQN_ARGS[:5],
            "400",
            *DQN_ARGS[6:],
            "--checkpoint-every",
            "100",
            "--out",
            str(run),
            "--resume",
        ],
        capsys,
    )
    assert not any(path.exists() for path in stale)
    assert keep.read_text() == "mine"
    assert load_checkpoint(run / "final.pt")["steps"] == 400


def test_a2c_stopped_with_ctrl_c_saves_a_resume_point_and_resumes_exactly(tmp_path, capsys):
    reference = tmp_path / "reference"
    _reference([*A2C_ARGS, "--out", str(reference)])
    run = tmp_path / "run"
    process = _start([*A2C_ARGS, "--out", str(run)], tmp_path)
    _wait_for(lambda: len(_logged_steps(run)) >= 1, process, tmp_path)  # training is on
    process.send_signal(signal.SIGINT)
    assert process.wait(120) == 130
    stdout, stderr = (tmp_path / "stdout.txt").read_text(), (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    stopped_at = load_checkpoint(run / "checkpoint.pt")["steps"]
    assert 0 < stopped_at < 500 and f"stopped by SIGINT at step {stopped_at}:" in stdout
    assert not (run / "final.pt").exists()
    _in_process([*A2C_ARGS, "--out", str(run), "--resume"], capsys)
    _assert_same_run(run, reference)


# REINFORCE: resume points fall between batches of whole CartPole episodes.
REINFORCE_ARGS = [
    "train",
    "reinforce",
    "--env",
    "CartPole-v1",
    "--total-steps",
    "4000",
    "--seed",
    "4",
    "--episodes-per-update",
    "2",
    "--hidden-sizes",
    "32",
    "--threads",
    "1",
    "--checkpoint-every",
    "1500",
    "--eval-every",
    "1000",
    "--eval-episodes",
    "2",
    "--no-progress",
]


@pytest.fixture(scope="module")
def reinforce_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reinforce") / "reference"
    _reference([*REINFORCE_ARGS, "--out", str(out)])
    return out


def test_reinforce_killed_with_sigkill_resumes_exactly(tmp_path, capsys, reinforce_reference):
    run = tmp_path / "run"
    process = _start([*REINFORCE_ARGS, "--out", str(run)], tmp_path)
    # Killed once rows are logged past its resume point: the resumed run drops them and
    # plays those episodes again.
    _wait_for(
        lambda: (run / "checkpoint.pt").exists() and max(_logged_steps(run), default=0) > 2000,
        process,
        tmp_path,
    )
    process.send_signal(signal.SIGKILL)
    assert process.wait(60) == -signal.SIGKILL
    assert not (run / "final.pt").exists()
    saved = load_checkpoint(run / "checkpoint.pt")["steps"]
    assert 1500 <= saved < 4000

    _in_process([*REINFORCE_ARGS, "--out", str(run), "--resume"], capsys)
    assert {p.name for p in run.iterdir()} >= RUN_FILES
    assert load_checkpoint(run / "final.pt")["steps"] >= 4000
    _assert_same_run(run, reinforce_reference)
