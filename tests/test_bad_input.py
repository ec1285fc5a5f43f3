"""Bad input through the public API: each mistake gets a clear, specific error raised by
rlcourse itself (not a deep traceback from numpy or torch), and no half-written files."""

import traceback
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcourse import budget, buffers, envs, networks, training, video, wrappers
from rlcourse.agents import dqn
from rlcourse.toy_envs import FrameCounterEnv


def _corrupt(tmp: Path) -> Path:
    path = tmp / "corrupt.pt"
    path.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    return path


def _other_game_checkpoint(tmp: Path) -> Path:
    env = envs.make_env("CartPole-v1")
    agent = dqn.DQN(env.observation_space, env.action_space, dqn.DQNConfig(device="cpu"))
    path = dqn.export_weights(agent, tmp / "cartpole.pt", env_id="CartPole-v1")
    return path


def _atari_env():
    return envs.make_atari_env("ALE/Pong-v5")


CASES = {
    "unknown env id": (lambda t: envs.make_env("ALE/Pacmna-v5"), ValueError, "Did you mean"),
    "removed classic id": (
        lambda t: envs.make_env("PongDeterministic-v0"), ValueError, "'ALE/Pong-v5'"),
    "env id of the wrong type": (lambda t: envs.make_env(None), TypeError, "must be a str"),
    "atari stack for CartPole": (
        lambda t: envs.make_atari_env("CartPole-v1"), ValueError, "not an ALE game"),
    "ALE option for CartPole": (
        lambda t: envs.make_env("CartPole-v1", frameskip=4), TypeError, "only apply to ALE"),
    "negative budget": (lambda t: budget.budget(full=-1, smoke=1), ValueError, "must be positive"),
    "smoke budget above full": (
        lambda t: budget.budget(full=10, smoke=50), ValueError, "smoke=50 is larger"),
    "non-integer budget": (
        lambda t: budget.budget(full=1e5, smoke=10), TypeError, "must be an int"),
    "zero frame skip": (
        lambda t: wrappers.MaxAndSkip(FrameCounterEnv(), skip=0), ValueError, "skip must be >= 1"),
    "crop larger than the frame": (
        lambda t: wrappers.Crop(FrameCounterEnv(), top=300), ValueError, "leaves nothing"),
    "image wrapper on vectors": (
        lambda t: wrappers.ProcessFrame84(gym.make("CartPole-v1")), TypeError, "image observ"),
    "empty replay buffer": (
        lambda t: buffers.ReplayBuffer(10, (4,), rng=np.random.default_rng(0)).sample(1),
        ValueError, "empty replay buffer"),
    "batch larger than the buffer": (
        lambda t: _two_transitions().sample(5), ValueError, "only 2 stored"),
    "zero capacity": (
        lambda t: buffers.ReplayBuffer(0, (4,), rng=np.random.default_rng(0)),
        ValueError, "capacity must be positive"),
    "seed instead of a generator": (
        lambda t: buffers.ReplayBuffer(10, (4,), rng=42), TypeError, "np.random.Generator"),
    "observation of the wrong shape": (
        lambda t: _two_transitions().add(np.zeros(5), 0, 0.0, np.zeros(4), False, False),
        ValueError, r"shape \(5,\)"),
    "network input of the wrong shape": (
        lambda t: networks.NatureCNN((4, 84, 84), 6)(torch.zeros(1, 84, 84, 4, dtype=torch.uint8)),
        ValueError, "built for inputs of shape"),
    "float frames into the CNN": (
        lambda t: networks.NatureCNN((4, 84, 84), 6)(torch.zeros(1, 4, 84, 84)),
        TypeError, "takes uint8 frames"),
    "bad hyperparameter": (lambda t: dqn.DQNConfig(gamma=1.2), ValueError, "gamma must be in"),
    "continuous actions for DQN": (
        lambda t: dqn.DQN(gym.make("Pendulum-v1").observation_space,
                          gym.make("Pendulum-v1").action_space), TypeError, "Discrete action"),
    "CUDA asked for on a CPU machine": (
        lambda t: dqn.resolve_device("cuda") if not torch.cuda.is_available() else _skip(),
        ValueError, "no CUDA GPU"),
    "missing checkpoint": (
        lambda t: training.load_checkpoint(t / "nope.pt"), training.CheckpointError,
        "no checkpoint at"),
    "corrupt checkpoint": (
        lambda t: training.load_checkpoint(_corrupt(t)), training.CheckpointError,
        "not a readable checkpoint"),
    "checkpoint of another game": (
        lambda t: dqn.load_agent(_other_game_checkpoint(t), _atari_env()),
        training.CheckpointError, "trained on 'CartPole-v1'"),
    "video without rgb rendering": (
        lambda t: video.record_episode(envs.make_env("CartPole-v1"), lambda o: 0, t / "v.mp4"),
        ValueError, "render_mode='rgb_array'"),
    "video of float frames": (
        lambda t: video.write_video([np.zeros((4, 4, 3))], t / "v.mp4"), TypeError, "uint8"),
    "showing a video that was never recorded": (
        lambda t: video.show_video(t / "missing.mp4"), FileNotFoundError, "record one first"),
    "zero training steps": (
        lambda t: dqn.train(_cartpole_agent(), envs.make_env("CartPole-v1"), 0, progress=False),
        ValueError, "total_steps must be a positive int"),
}  # fmt: skip


def _skip():
    pytest.skip("a CUDA GPU is present")


def _two_transitions() -> buffers.ReplayBuffer:
    buffer = buffers.ReplayBuffer(10, (4,), rng=np.random.default_rng(0))
    for _ in range(2):
        buffer.add(np.zeros(4), 0, 0.0, np.zeros(4), False, False)
    return buffer


def _cartpole_agent() -> dqn.DQN:
    env = envs.make_env("CartPole-v1")
    return dqn.DQN(env.observation_space, env.action_space, dqn.DQNConfig(device="cpu"))


def test_at_least_twenty_kinds_of_bad_input():
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_a_clear_error_from_rlcourse(tmp_path, name):
    action, error, message = CASES[name]
    before = set(tmp_path.iterdir())
    with pytest.raises(error, match=message) as caught:
        action(tmp_path)
    origin = traceback.extract_tb(caught.value.__traceback__)[-1].filename
    assert "rlcourse" in origin, f"raised deep inside {origin}, not by rlcourse"
    new = {p for p in set(tmp_path.iterdir()) - before if not p.name.endswith(".pt")}
    assert not new, f"left files behind: {new}"
