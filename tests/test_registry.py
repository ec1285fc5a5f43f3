"""The one registry of algorithms: the command line, checkpoints and load_policy read it."""

import dataclasses

import pytest
import torch

from rlcourse import pretrained
from rlcourse.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from rlcourse.cli import build_parser
from rlcourse.policies import CategoricalPolicy, QPolicy
from rlcourse.registry import ALGORITHMS, algorithm, load_policy


def _train_commands() -> set[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    train = commands.choices["train"]
    algos = next(a for a in train._actions if a.dest == "algo")
    return set(algos.choices)


def test_every_registered_algorithm_is_a_train_command():
    assert _train_commands() == set(ALGORITHMS) == {"dqn", "a2c", "reinforce", "ppo"}
    for entry in ALGORITHMS.values():
        assert dataclasses.is_dataclass(entry.config)
        assert entry.networks and all(issubclass(n, torch.nn.Module) for n in entry.networks)


def test_one_entry_adds_an_algorithm_to_the_cli_and_to_load_policy(monkeypatch, tmp_path):
    entry = dataclasses.replace(ALGORITHMS["reinforce"], name="pg", summary="a new one")
    monkeypatch.setitem(ALGORITHMS, "pg", entry)
    assert "pg" in _train_commands()
    argv = ["train", "pg", "--env", "CartPole-v1", "--total-steps", "10", "--lr", "0.01"]
    args = build_parser().parse_args([*argv, "--out", str(tmp_path / "run")])
    assert args.algo == "pg" and args.lr == 0.01
    payload = load_checkpoint(pretrained.path("reinforce_cartpole.pt"))
    payload["algo"] = "pg"
    save_checkpoint(tmp_path / "pg.pt", payload)
    assert isinstance(load_policy(tmp_path / "pg.pt"), CategoricalPolicy)


def test_load_policy_refuses_an_unknown_algorithm_or_a_network_not_its_own(tmp_path):
    payload = load_checkpoint(pretrained.path("dqn_cartpole.pt"))
    assert isinstance(load_policy(pretrained.path("dqn_cartpole.pt")), QPolicy)
    save_checkpoint(tmp_path / "ppo.pt", {**payload, "algo": "trpo"})
    with pytest.raises(CheckpointError, match="algorithm 'trpo'; known: dqn, a2c, reinforce, ppo"):
        load_policy(tmp_path / "ppo.pt")
    save_checkpoint(tmp_path / "mixed.pt", {**payload, "algo": "a2c"})
    with pytest.raises(CheckpointError, match="a2c checkpoint holding a MLPQNetwork"):
        load_policy(tmp_path / "mixed.pt")


def test_presets_and_unknown_names():
    dqn = algorithm("dqn")
    assert dqn.make_config("CartPole-v1", {"seed": 3}).seed == 3
    assert dqn.make_config("ALE/Pong-v5", {}, "atari100k").n_step > 1
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        dqn.make_config("CartPole-v1", {}, "fast")
    with pytest.raises(ValueError, match="has no presets"):
        algorithm("a2c").make_config("ALE/KungFuMaster-v5", {}, "atari")
    with pytest.raises(
        ValueError, match="unknown algorithm 'trpo'; known: dqn, a2c, reinforce, ppo"
    ):
        algorithm("trpo")
