"""Re-export the shipped agents (rlcourse/pretrained/*.pt) from the formats before the
one-stack redesign (DQN exports with ``q`` weights; ``rlcourse-a2c/1``) into the course's
checkpoint format (format_version 2). The weights are copied unchanged (fp16 stays fp16).

    python tools/reexport_pretrained.py
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from rlcourse import pretrained
from rlcourse.agents.a2c import A2CConfig
from rlcourse.agents.dqn import DQNConfig
from rlcourse.checkpoints import make_checkpoint, save_checkpoint
from rlcourse.networks import network_spec

RENAMED_ACTION_SETS = {"right": "right_only", "simple": "walk_and_fire"}


def convert_dqn(old: dict) -> dict:
    config = DQNConfig(**old["config"])
    obs_shape = tuple(old["network_spec"]["obs_shape"])
    n_actions = int(old["network_spec"]["n_actions"])
    if len(obs_shape) == 1:
        spec = network_spec(
            "MLPQNetwork",
            obs_dim=obs_shape[0],
            n_actions=n_actions,
            hidden_sizes=config.hidden_sizes,
            dueling=config.dueling,
        )
    else:
        spec = network_spec(
            "NatureCNN", obs_shape=obs_shape, n_actions=n_actions, dueling=config.dueling
        )
    options = dict(old.get("env_options") or {})
    if isinstance(options.get("actions"), str):
        options["actions"] = RENAMED_ACTION_SETS.get(options["actions"], options["actions"])
    return make_checkpoint(
        algo="dqn",
        env_id=old["env_id"],
        env_options=options,
        config=asdict(config),
        network_spec=spec,
        weights=old["q"],
        steps=old["steps"],
    )


def convert_a2c(old: dict) -> dict:
    values = dict(old["config"])
    values["lr"] = values.pop("learning_rate")
    config = A2CConfig(**values)
    spec = network_spec(
        "RecurrentActorCritic",
        obs_shape=tuple(old["obs_shape"]),
        n_actions=int(old["n_actions"]),
        hidden_size=config.hidden_size,
    )
    return make_checkpoint(
        algo="a2c",
        env_id=old["env_id"],
        env_options=config.env_options(),
        config=asdict(config),
        network_spec=spec,
        weights=old["state_dict"],
        steps=old["steps"],
    )


def main() -> None:
    for name in ("dqn_cartpole.pt", "dqn_mspacman.pt", "ddqn_mario.pt", "a2c_kungfu.pt"):
        path = pretrained.path(name)
        old = torch.load(path, map_location="cpu", weights_only=True)
        if old.get("format") == "rlcourse-checkpoint":
            print(f"{name}: already in the current format")
            continue
        new = convert_a2c(old) if old.get("format") == "rlcourse-a2c/1" else convert_dqn(old)
        save_checkpoint(path, new)
        print(f"{name}: re-exported ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
