"""Bad input gets a clear, specific error raised by rlcourse itself (not a deep traceback
from numpy or torch), and leaves no half-written files.

* the command line: one line ``rlcourse: error: ...`` on stderr and exit code 2, for every
  mistake a user can fix; a bug keeps its traceback;
* checkpoints that cannot be used: :class:`CheckpointError` saying why;
* the Python API: a ValueError/TypeError that names the argument.
"""

import json
import traceback
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcourse import budget, buffers, envs, networks, video, wrappers
from rlcourse.agents import a2c, dqn
from rlcourse.checkpoints import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    make_checkpoint,
    save_checkpoint,
)
from rlcourse.cli import main
from rlcourse.evaluation import evaluate
from rlcourse.metrics import LOG_COLUMNS
from rlcourse.registry import load_policy
from rlcourse.rollouts import ParallelGames
from rlcourse.toy_envs import FrameCounterEnv
from rlcourse.training import train_a2c, train_dqn

# --- the command line ---------------------------------------------------------------------

DQN = ["train", "dqn", "--env", "CartPole-v1", "--total-steps", "10", "--out", "run"]
A2C = ["train", "a2c", "--total-steps", "10", "--out", "run"]


def _prepare(tmp: Path) -> None:
    """What the cases below refer to: a file, a directory, runs."""
    (tmp / "a_file").write_text("not a directory")
    (tmp / "a_dir").mkdir()
    (tmp / "old_run").mkdir()
    (tmp / "old_run" / "checkpoint.pt").write_bytes(b"a resume point")
    (tmp / "done_run").mkdir()
    (tmp / "done_run" / "final.pt").write_bytes(b"final weights")
    (tmp / "text_run").mkdir()
    (tmp / "text_run" / "log.csv").write_text("hello\nworld\n")
    run = tmp / "a_run"  # what a run leaves: its config, log, resume point and weights
    run.mkdir()
    config = {"algo": "dqn", "env_id": "CartPole-v1", "total_steps": 10, "config": {}}
    (run / "config.json").write_text(json.dumps(config))
    (run / "log.csv").write_text(",".join(LOG_COLUMNS) + "\n")
    (run / "checkpoint.pt").write_bytes(b"a resume point")
    (run / "final.pt").write_bytes(b"final weights")
    (tmp / "foreign").mkdir()  # files of the user's, in a folder no run wrote
    (tmp / "foreign" / "config.json").write_text('{"my": "settings"}')
    (tmp / "foreign" / "metrics.png").write_bytes(b"my picture")


CLI_CASES = {
    "unknown env id": (
        ["train", "dqn", "--env", "CartPol-v1", "--total-steps", "10", "--out", "run"],
        "Unknown environment id 'CartPol-v1'. Did you mean: 'CartPole-v1'",
    ),
    "unknown env id for A2C": (
        [*A2C, "--env", "ALE/KungFuMastr-v5"],
        "Unknown environment id 'ALE/KungFuMastr-v5'. Did you mean: 'ALE/KungFuMaster-v5'",
    ),
    "zero steps": ([*DQN, "--total-steps", "0"], "--total-steps must be >= 1, got 0"),
    "zero steps for A2C": ([*A2C, "--total-steps", "0"], "--total-steps must be >= 1, got 0"),
    "zero threads": ([*DQN, "--threads", "0"], "--threads must be in [1, 1024], got 0"),
    "negative evaluation period": (
        [*DQN, "--eval-every", "-50"],
        "--eval-every must be >= 1, got -50",
    ),
    "negative evaluation period for A2C": (
        [*A2C, "--eval-every", "-50"],
        "--eval-every must be >= 1, got -50",
    ),
    "zero evaluation games": (
        [*DQN, "--eval-episodes", "0"],
        "--eval-episodes must be >= 1, got 0",
    ),
    "zero checkpoint period": (
        [*DQN, "--checkpoint-every", "0"],
        "--checkpoint-every must be >= 1, got 0",
    ),
    "zero minutes": ([*A2C, "--max-minutes", "0"], "--max-minutes must be > 0, got 0.0"),
    "negative gradient clip": (
        [*DQN, "--max-grad-norm", "-1"],
        "DQNConfig.max_grad_norm must be > 0, got -1.0",
    ),
    "negative gradient clip for A2C": (
        [*A2C, "--max-grad-norm", "-1"],
        "A2CConfig.max_grad_norm must be in (0, 3.40282e+38], got -1.0",
    ),
    "exploration rate above 1": (
        [*DQN, "--epsilon-start", "2"],
        "DQNConfig.epsilon_start must be in [0, 1], got 2.0",
    ),
    "empty hidden layer": (
        [*DQN, "--hidden-sizes", "0"],
        "DQNConfig.hidden_sizes[i] must be >= 1, got 0",
    ),
    "discount above 1": ([*DQN, "--gamma", "2"], "DQNConfig.gamma must be in [0, 1], got 2.0"),
    "discount above 1 for A2C": (
        [*A2C, "--gamma", "2"],
        "A2CConfig.gamma must be in [0, 1], got 2.0",
    ),
    "batch larger than the replay memory": (
        [*DQN, "--batch-size", "100", "--buffer-size", "50"],
        "DQNConfig.batch_size=100 exceeds buffer_size=50",
    ),
    "--out naming a file": (
        [*DQN, "--out", "a_file"],
        "cannot use a_file as a run directory: a_file is a file; choose another --out",
    ),
    "--out inside a file": (
        [*A2C, "--out", "a_file/run"],
        "cannot use a_file/run as a run directory: a_file is a file",
    ),
    "--export naming a directory": (
        [*DQN, "--export", "a_dir"],
        "--export a_dir is a directory; name a .pt file",
    ),
    "--resume with no checkpoint": (
        [*DQN, "--resume"],
        "nothing to resume in run: no checkpoint.pt (drop --resume to start)",
    ),
    "--resume with no checkpoint for A2C": (
        [*A2C, "--resume"],
        "nothing to resume in run: no checkpoint.pt (drop --resume to start)",
    ),
    "a second run into a run's directory": (
        [*DQN, "--out", "old_run"],
        "old_run already holds a run: add --resume to continue it, or choose another --out",
    ),
    "a second run into a finished run's directory": (
        [*A2C, "--out", "done_run"],
        "done_run already holds a finished run (final.pt): choose another --out",
    ),
    "evaluate a missing file": (
        ["evaluate", "missing.pt"],
        "no checkpoint at missing.pt: train one first",
    ),
    "evaluate a directory": (
        ["evaluate", "a_dir"],
        "a_dir is a directory; name a checkpoint file in it",
    ),
    "evaluate zero games": (
        ["evaluate", "missing.pt", "--episodes", "0"],
        "--episodes must be >= 1, got 0",
    ),
    "evaluate with epsilon above 1": (
        ["evaluate", "missing.pt", "--epsilon", "1.5"],
        "--epsilon must be in [0, 1], got 1.5",
    ),
    "watch a missing file": (["watch", "missing.pt"], "no checkpoint at missing.pt"),
    "watch into a directory": (
        ["watch", "missing.pt", "--video", "a_dir"],
        "--video a_dir is a directory",
    ),
    "export a missing file": (["export", "missing.pt", "small.pt"], "no checkpoint at missing.pt"),
    "export into a directory": (
        ["export", "missing.pt", "a_dir"],
        "a_dir is a directory; name a .pt file",
    ),
    "plot a directory without a log": (
        ["plot", "a_dir"],
        "no log.csv in a_dir: name a run directory",
    ),
    # --- more of the cases, and our own ---
    "negative threads": ([*DQN, "--threads", "-1"], "--threads must be in [1, 1024], got -1"),
    "zero threads for A2C": ([*A2C, "--threads", "0"], "--threads must be in [1, 1024], got 0"),
    "a device that does not exist": (
        [*DQN, "--device", "gpu0"],
        "device='gpu0' is not a device: use 'auto', 'cpu'",
    ),
    "--out where nothing can be created": (
        [*DQN, "--out", "/proc/rlcourse-run"],
        "cannot create the run directory /proc/rlcourse-run (No such file or directory)",
    ),
    "exploration that grows": (
        [*DQN, "--epsilon-start", "0.1", "--epsilon-end", "0.9"],
        "DQNConfig.epsilon_end=0.9 exceeds epsilon_start=0.1",
    ),
    "learning before a batch is stored": (
        [*DQN, "--learning-starts", "10", "--batch-size", "64"],
        "DQNConfig.learning_starts=10 is below batch_size=64",
    ),
    "a tiny replay memory": (
        [*DQN, "--batch-size", "64", "--buffer-size", "10"],
        "DQNConfig.batch_size=64 exceeds buffer_size=10",
    ),
    "NaN learning rate": ([*DQN, "--lr", "nan"], "DQNConfig.lr must be a number, got nan"),
    "huge discount": ([*DQN, "--gamma", "1e9"], "DQNConfig.gamma must be in [0, 1]"),
    "unknown loss": ([*DQN, "--loss", "l1"], "DQNConfig.loss must be 'huber' or 'mse'"),
    "soft update rate 0": ([*DQN, "--tau", "0"], "DQNConfig.tau must be in (0, 1], got 0.0"),
    "an action set that does not exist": (
        [
            "train",
            "dqn",
            "--env",
            "ALE/MarioBros-v5",
            "--total-steps",
            "10",
            "--out",
            "run",
            "--actions",
            "jump",
        ],
        "actions='jump': name the actions",
    ),
    "zero games for A2C": ([*A2C, "--n-games", "0"], "A2CConfig.n_games must be >= 1, got 0"),
    "zero-step rollouts": (
        [*A2C, "--rollout-length", "0"],
        "A2CConfig.rollout_length must be >= 1, got 0",
    ),
    "negative total steps for A2C": (
        [*A2C, "--total-steps", "-5"],
        "--total-steps must be >= 1, got -5",
    ),
    "zero evaluation games for A2C": (
        [*A2C, "--eval-episodes", "0"],
        "--eval-episodes must be >= 1, got 0",
    ),
    "zero learning rate for A2C": (
        [*A2C, "--lr", "0"],
        "A2CConfig.lr must be in (0, 3.40282e+38], got 0.0",
    ),
    "negative entropy bonus": (
        [*A2C, "--entropy-coef", "-1"],
        "A2CConfig.entropy_coef must be >= 0, got -1.0",
    ),
    "sticky actions above 1": (
        [*A2C, "--repeat-action-probability", "2"],
        "A2CConfig.repeat_action_probability must be in [0, 1], got 2.0",
    ),
    "negative no-op starts": ([*A2C, "--noop-max", "-1"], "A2CConfig.noop_max must be >= 0"),
    "a crop of three numbers": (
        [*A2C, "--crop", "1", "2", "3"],
        "A2CConfig.crop must be 4 numbers",
    ),
    "unknown vectorization": (
        [*A2C, "--vectorization", "threads"],
        "vectorization must be 'sync', 'async' or 'ale'",
    ),
    "--out naming a file for A2C": (
        [*A2C, "--out", "a_file"],
        "cannot use a_file as a run directory: a_file is a file",
    ),
    "--export of the wrong kind": ([*DQN, "--export", "w.txt"], "--export w.txt: name a .pt"),
    "--export into a file's folder": (
        [*DQN, "--export", "a_file/w.pt"],
        "--export a_file/w.pt: a_file is a file",
    ),
    "evaluate zero max steps": (
        ["evaluate", "missing.pt", "--max-steps", "0"],
        "--max-steps must be >= 1, got 0",
    ),
    "watch zero games": (["watch", "missing.pt", "--episodes", "0"], "--episodes must be >= 1"),
    "watch into a GIF": (
        ["watch", "missing.pt", "--video", "game.gif"],
        "--video game.gif: name a .mp4 file",
    ),
    "watch a directory": (["watch", "a_dir"], "a_dir is a directory"),
    "export to a text file": (["export", "missing.pt", "w.txt"], "export w.txt: name a .pt"),
    "plot a log that is not a log": (["plot", "text_run"], "text_run/log.csv: "),
    "study with no steps": (
        ["study", "overestimation", "--total-steps", "0", "--out", "study"],
        "StudyConfig.total_steps must be >= 1, got 0",
    ),
    # --- outputs never name an input or a file a run owns
    "plot onto a text file": (["plot", "a_run", "--png", "x.txt"], "--png x.txt: name a .png"),
    "plot onto the run's log": (["plot", "a_run", "--png", "a_run/log.csv"], "name a .png"),
    "export onto its own source": (
        ["export", "a_run/final.pt", "a_run/final.pt"],
        "is this command's input",
    ),
    "export onto a run's resume point": (
        ["export", "a_run/final.pt", "a_run/checkpoint.pt"],
        "is the checkpoint.pt of the run in a_run",
    ),
    "train exporting onto its own resume point": (
        [*DQN, "--export", "run/checkpoint.pt"],
        "--export run/checkpoint.pt is a file of this run",
    ),
    "a new run among files no run wrote": (
        [*DQN[:-1], "foreign"],
        "foreign holds config.json, metrics.png, which no rlcourse run wrote",
    ),
    # --- numbers that cannot work
    "an infinite learning rate": ([*DQN, "--lr", "inf"], "DQNConfig.lr must be a finite number"),
    "a learning rate beyond float32": ([*DQN, "--lr", "1e300"], "DQNConfig.lr must be in (0, "),
    "a meta device": ([*DQN, "--device", "meta"], "device='meta' cannot train an agent"),
    "an Apple GPU on a machine without one": ([*DQN, "--device", "mps"], "has no Apple GPU"),
    "a negative seed": ([*DQN, "--seed", "-1"], "--seed must be in [0, 4294967295], got -1"),
    "a seed beyond 64 bits for evaluate": (
        ["evaluate", "missing.pt", "--seed", str(2**64)],
        "--seed must be in [0, 4294967295], got 18446744073709551616",
    ),
    "a negative seed for watch": (["watch", "missing.pt", "--seed", "-1"], "--seed must be in"),
    "seeds that run past the range": (
        ["evaluate", "missing.pt", "--seed", str(2**32 - 1), "--episodes", "2"],
        "--seed + --episodes must be in",
    ),
    "a negative study seed": (
        ["study", "overestimation", "--seeds", "-1", "--out", "study"],
        "StudyConfig.seeds must be in [0, 4294967295], got -1",
    ),
    "a study into a file": (
        ["study", "overestimation", "--out", "a_file"],
        "--out a_file is a file",
    ),
    # --- sizes the machine cannot hold, refused before allocating
    "a replay memory of 10**12 transitions": (
        [*DQN, "--buffer-size", str(10**12)],
        "ReplayBuffer(capacity=1,000,000,000,000) at 46 bytes per transition needs",
    ),
    "a network of 10**11 hidden units": (
        [*DQN, "--hidden-sizes", str(10**11)],
        "MLPQNetwork with 700,000,000,002 weights",
    ),
    "2**63 threads": ([*DQN, "--threads", str(2**63)], "--threads must be in [1, 1024]"),
    "A2C frames of 100000 x 100000": (
        [*A2C, "--size", "100000"],
        "A2CConfig.size must be in [1, 210], got 100000",
    ),
    # --- messages that name what the user gave
    "A2C on CartPole": ([*A2C, "--env", "CartPole-v1"], "A2C here learns from the pixels of ALE"),
    "an action set on CartPole": (
        [*DQN, "--actions", "NOOP,FIRE"],
        "actions (a reduced action set) only apply to ALE games, not to 'CartPole-v1'",
    ),
}


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlcourse: error: "), captured.err
    return lines[0]


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_the_command_line_says_what_is_wrong_in_one_line(name, tmp_path, monkeypatch, capsys):
    argv, message = CLI_CASES[name]
    monkeypatch.chdir(tmp_path)
    _prepare(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert main(argv) == 2
    assert message in _one_error_line(capsys)
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert after == before, "a refused command must not write anything (no config.json...)"


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    # Errors are turned into one line only where they come from the user's request.
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("rlcourse.cli.load_policy", broken)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        main(["evaluate", str(tmp_path / "agent.pt")])

    def buggy_update(self, *args):  # a ValueError from the inside is a bug too
        raise ValueError("shapes do not match (a bug)")

    monkeypatch.setattr(dqn.DQN, "observe", buggy_update)
    argv = [*DQN[:-1], str(tmp_path / "run"), "--no-progress"]
    with pytest.raises(ValueError, match=r"shapes do not match \(a bug\)"):
        main(argv)


# --- checkpoints that cannot be used --------------------------------------------------------


def _payload() -> dict:
    env = envs.make_env("CartPole-v1")
    agent = dqn.DQN(
        env.observation_space, env.action_space, dqn.DQNConfig(hidden_sizes=(8,), device="cpu")
    )
    return agent.checkpoint("CartPole-v1")


def _saved(tmp: Path, change) -> Path:
    payload = _payload()
    change(payload)
    return save_checkpoint(tmp / "agent.pt", payload)


def _truncated(tmp: Path) -> Path:
    whole = _saved(tmp, lambda p: None).read_bytes()
    path = tmp / "agent.pt"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _torch_file(tmp: Path, obj) -> Path:
    torch.save(obj, tmp / "agent.pt")
    return tmp / "agent.pt"


def _without(key):
    return lambda payload: payload.pop(key)


CHECKPOINT_CASES = {
    "a file of another format": (
        lambda t: _torch_file(t, {"format": "sb3-zip", "weights": {}}),
        "is not in rlcourse's checkpoint format (format='sb3-zip', expected 'rlcourse-checkpoint')",
    ),
    "a file of a newer format version": (
        lambda t: _saved(t, lambda p: p.update(format_version=FORMAT_VERSION + 1)),
        f"has checkpoint format version {FORMAT_VERSION + 1}; this rlcourse reads up to "
        f"{FORMAT_VERSION}: upgrade rlcourse",
    ),
    "a truncated file": (_truncated, "is not a readable checkpoint"),
    "not a checkpoint at all": (
        lambda t: (t / "agent.pt").write_bytes(b"PK\x03\x04 nonsense") and t / "agent.pt",
        "is not a readable checkpoint",
    ),
    "a file holding a list": (
        lambda t: _torch_file(t, [1, 2, 3]),
        "holds a list, not a checkpoint dict",
    ),
    "a dict without weights": (
        lambda t: _saved(t, _without("weights")),
        "is an incomplete checkpoint: no weights",
    ),
    "a dict without the network": (
        lambda t: _saved(t, _without("network_spec")),
        "is an incomplete checkpoint: no network_spec",
    ),
    "an unknown algorithm": (
        lambda t: _saved(t, lambda p: p.update(algo="trpo")),
        "holds an agent of algorithm 'trpo'",
    ),
    "weights of another network": (
        lambda t: _saved(t, lambda p: p["network_spec"]["kwargs"].update(hidden_sizes=[9])),
        "its weights do not fit the network",
    ),
    "a network that cannot be built": (
        lambda t: _saved(t, lambda p: p["network_spec"].update({"class": "Transformer"})),
        "its network spec cannot be built",
    ),
}


@pytest.mark.parametrize("name", list(CHECKPOINT_CASES))
def test_a_checkpoint_that_cannot_be_used_is_refused_clearly(name, tmp_path, capsys):
    make, message = CHECKPOINT_CASES[name]
    path = make(tmp_path)
    with pytest.raises(CheckpointError) as caught:
        load_policy(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    for command in (
        ["evaluate", str(path), "--episodes", "1"],
        ["watch", str(path)],
        ["export", str(path), str(tmp_path / "small.pt")],
    ):
        assert main(command) == 2
        assert message in _one_error_line(capsys)
    assert not (tmp_path / "small.pt").exists()


def test_a_checkpoint_for_something_else_is_refused_with_what_it_holds(tmp_path):
    path = save_checkpoint(tmp_path / "agent.pt", _payload())
    with pytest.raises(CheckpointError, match="saved for algo='dqn', but algo='a2c' is needed"):
        load_checkpoint(path, expect={"algo": "a2c"})
    with pytest.raises(ValueError, match="algo must be an algorithm's name, got None"):
        make_checkpoint(
            algo=None, env_id="x", env_options=None, config={}, network_spec={}, weights={}, steps=0
        )


# --- the Python API -------------------------------------------------------------------------


def _two_transitions() -> buffers.ReplayBuffer:
    buffer = buffers.ReplayBuffer(10, (4,), rng=np.random.default_rng(0))
    for _ in range(2):
        buffer.add(np.zeros(4), 0, 0.0, np.zeros(4), False, False)
    return buffer


def _cartpole_agent() -> dqn.DQN:
    env = envs.make_env("CartPole-v1")
    return dqn.DQN(env.observation_space, env.action_space, dqn.DQNConfig(device="cpu"))


def _atari_add(reward: float) -> None:
    memory = buffers.AtariReplayBuffer(10, (4, 84, 84), rng=np.random.default_rng(0))
    frames = np.zeros((5, 84, 84), np.uint8)
    memory.add(frames[:4], 0, reward, frames[1:], False, False)


def _skip():
    pytest.skip("a CUDA GPU is present")


API_CASES = {
    "unknown env id": (lambda t: envs.make_env("ALE/Pacmna-v5"), ValueError, "Did you mean"),
    "removed classic id": (
        lambda t: envs.make_env("PongDeterministic-v0"),
        ValueError,
        "'ALE/Pong-v5'",
    ),
    "env id of the wrong type": (lambda t: envs.make_env(None), TypeError, "must be a str"),
    "atari stack for CartPole": (
        lambda t: envs.make_atari_env("CartPole-v1"),
        ValueError,
        "not an ALE game",
    ),
    "ALE option for CartPole": (
        lambda t: envs.make_env("CartPole-v1", frameskip=4),
        TypeError,
        "only apply to ALE",
    ),
    "negative budget": (
        lambda t: budget.budget(full=-5, smoke=1),
        ValueError,
        "full= must be >= 1, got -5",
    ),
    "smoke budget above full": (
        lambda t: budget.budget(full=10, smoke=50),
        ValueError,
        "smoke=50 is larger",
    ),
    "non-integer budget": (
        lambda t: budget.budget(full=1e5, smoke=10),
        TypeError,
        "must be an int",
    ),
    "zero frame skip": (
        lambda t: wrappers.MaxAndSkip(FrameCounterEnv(), skip=0),
        ValueError,
        "skip must be >= 1",
    ),
    "crop larger than the frame": (
        lambda t: wrappers.Crop(FrameCounterEnv(), top=300),
        ValueError,
        "leaves nothing",
    ),
    "image wrapper on vectors": (
        lambda t: wrappers.ProcessFrame84(gym.make("CartPole-v1")),
        TypeError,
        "image observ",
    ),
    "empty replay buffer": (
        lambda t: buffers.ReplayBuffer(10, (4,), rng=np.random.default_rng(0)).sample(1),
        ValueError,
        "empty replay buffer",
    ),
    "batch larger than the buffer": (
        lambda t: _two_transitions().sample(5),
        ValueError,
        "only 2 stored",
    ),
    "zero capacity": (
        lambda t: buffers.ReplayBuffer(0, (4,), rng=np.random.default_rng(0)),
        ValueError,
        "capacity must be",
    ),
    "seed instead of a generator": (
        lambda t: buffers.ReplayBuffer(10, (4,), rng=42),
        TypeError,
        "np.random.Generator",
    ),
    "observation of the wrong shape": (
        lambda t: _two_transitions().add(np.zeros(5), 0, 0.0, np.zeros(4), False, False),
        ValueError,
        r"shape \(5,\)",
    ),
    "network input of the wrong shape": (
        lambda t: networks.NatureCNN((4, 84, 84), 6)(torch.zeros(1, 84, 84, 4, dtype=torch.uint8)),
        ValueError,
        "built for inputs of shape",
    ),
    "float frames into the CNN": (
        lambda t: networks.NatureCNN((4, 84, 84), 6)(torch.zeros(1, 4, 84, 84)),
        TypeError,
        "takes uint8 frames",
    ),
    "bad hyperparameter": (
        lambda t: dqn.DQNConfig(gamma=1.2),
        ValueError,
        r"DQNConfig.gamma must be in \[0, 1\], got 1.2",
    ),
    "continuous actions for DQN": (
        lambda t: dqn.DQN(
            gym.make("Pendulum-v1").observation_space, gym.make("Pendulum-v1").action_space
        ),
        TypeError,
        "Discrete action",
    ),
    "CUDA asked for on a CPU machine": (
        lambda t: dqn.resolve_device("cuda") if not torch.cuda.is_available() else _skip(),
        ValueError,
        "no CUDA GPU",
    ),
    "missing checkpoint": (
        lambda t: load_checkpoint(t / "nope.pt"),
        CheckpointError,
        "no checkpoint at",
    ),
    "video without rgb rendering": (
        lambda t: video.record_episode(envs.make_env("CartPole-v1"), lambda o: 0, t / "v.mp4"),
        ValueError,
        "render_mode='rgb_array'",
    ),
    "video of float frames": (
        lambda t: video.write_video([np.zeros((4, 4, 3))], t / "v.mp4"),
        TypeError,
        "uint8",
    ),
    "showing a video that was never recorded": (
        lambda t: video.show_video(t / "missing.mp4"),
        FileNotFoundError,
        "record one first",
    ),
    "zero training steps": (
        lambda t: train_dqn(
            _cartpole_agent(), envs.make_env("CartPole-v1"), 0, out_dir=t / "run", progress=False
        ),
        ValueError,
        "total_steps must be >= 1, got 0",
    ),
    "atari frame skip 0": (
        lambda t: envs.make_atari_env("ALE/Pong-v5", frame_skip=0),
        ValueError,
        "frame_skip must be >= 1, got 0",
    ),
    "atari negative no-ops": (
        lambda t: envs.make_atari_env("ALE/Pong-v5", noop_max=-1),
        ValueError,
        "noop_max must be >= 0, got -1",
    ),
    "atari sticky actions above 1": (
        lambda t: envs.make_atari_env("ALE/Pong-v5", repeat_action_probability=2.0),
        ValueError,
        r"repeat_action_probability must be in \[0, 1\], got 2.0",
    ),
    "NaN reward into the Atari memory": (
        lambda t: _atari_add(reward=float("nan")),
        ValueError,
        "reward must be a number, got nan",
    ),
    "infinite reward into the replay memory": (
        lambda t: buffers.ReplayBuffer(10, (4,), rng=np.random.default_rng(0)).add(
            np.zeros(4), 0, float("inf"), np.zeros(4), False, False
        ),
        ValueError,
        "reward must be a finite number, got inf",
    ),
    "reward of the wrong type": (
        lambda t: _two_transitions().add(np.zeros(4), 0, "1", np.zeros(4), False, False),
        TypeError,
        "reward must be a number, got '1'",
    ),
    "batch larger than the replay memory's capacity": (
        lambda t: dqn.DQNConfig(batch_size=128, buffer_size=100),
        ValueError,
        "batch_size=128 exceeds buffer_size=100",
    ),
    "exploration that grows": (
        lambda t: dqn.DQNConfig(epsilon_start=0.1, epsilon_end=0.9),
        ValueError,
        "epsilon_end=0.9 exceeds epsilon_start=0.1",
    ),
    "A2C with no games": (
        lambda t: a2c.A2CConfig(n_games=0),
        ValueError,
        "A2CConfig.n_games must be >= 1, got 0",
    ),
    "a pool of zero games": (
        lambda t: ParallelGames(networks.RecurrentActorCritic(), envs.make_kungfu_env, 0),
        ValueError,
        "n_parallel_games must be >= 1, got 0",
    ),
    "a pool given an env instead of a function": (
        lambda t: ParallelGames(networks.RecurrentActorCritic(), envs.make_kungfu_env(), 2),
        TypeError,
        "make_env must be a function that makes one env",
    ),
    "evaluating zero episodes": (
        lambda t: evaluate(lambda obs: 0, gym.make("CartPole-v1"), 0),
        ValueError,
        "episodes must be >= 1, got 0",
    ),
    "A2C training for zero steps": (
        lambda t: train_a2c(a2c.A2C((1, 42, 42), 14), 0, progress=False),
        ValueError,
        "total_steps must be >= 1, got 0",
    ),
    "resuming without a run directory": (
        lambda t: train_dqn(
            _cartpole_agent(), envs.make_env("CartPole-v1"), 10, resume=True, progress=False
        ),
        ValueError,
        "resume=True needs out_dir",
    ),
    "a checkpoint directory given as a file": (
        lambda t: load_policy(t),
        CheckpointError,
        "is a directory; name a checkpoint file",
    ),
    "a network spec of an unknown class": (
        lambda t: networks.build_network({"class": "GPT", "kwargs": {}}),
        ValueError,
        "not a network spec",
    ),
    "evaluation without an env to evaluate on": (
        lambda t: train_dqn(
            _cartpole_agent(),
            envs.make_env("CartPole-v1"),
            10,
            eval_every=5,
            out_dir=t / "run",
            progress=False,
        ),
        ValueError,
        "eval_every is set but no eval_env was given",
    ),
}


@pytest.mark.parametrize("name", list(API_CASES))
def test_the_api_raises_a_clear_error_of_its_own(tmp_path, name):
    action, error, message = API_CASES[name]
    with pytest.raises(error, match=message) as caught:
        action(tmp_path)
    origin = traceback.extract_tb(caught.value.__traceback__)[-1].filename
    assert "rlcourse" in origin, f"raised deep inside {origin}, not by rlcourse"
    assert not list(tmp_path.iterdir()), "left files behind"
