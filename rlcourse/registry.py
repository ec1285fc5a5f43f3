"""The one registry of algorithms: what the command line, checkpoints and
:func:`load_policy` know about each algorithm, in one entry.

An entry names the algorithm's config dataclass (its fields' docstrings become the
``rlcourse train ALGO`` options), the networks its checkpoints hold, its agent, how a
:class:`~rlcourse.training.harness.TrainRequest` becomes an agent and a training loop, and how
its checkpoints play. Adding an algorithm is one more :class:`Algorithm` in
:data:`ALGORITHMS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from rlcourse.agents.a2c import A2C, A2CConfig
from rlcourse.agents.dqn import DQN, PRESETS, DQNConfig, default_preset
from rlcourse.agents.ppo import PPO, PPOConfig
from rlcourse.agents.reinforce import Reinforce, ReinforceConfig
from rlcourse.checkpoints import CheckpointInfo, build_policy_network, load_checkpoint
from rlcourse.errors import CheckpointError
from rlcourse.networks import (
    MLPPolicy,
    MLPQNetwork,
    NatureActorCritic,
    NatureCNN,
    RecurrentActorCritic,
)
from rlcourse.policies import CategoricalPolicy, QPolicy, RecurrentPolicy
from rlcourse.training.harness import Prepared, TrainRequest
from rlcourse.training.monte_carlo import prepare_reinforce
from rlcourse.training.off_policy import prepare_dqn
from rlcourse.training.on_policy import prepare_a2c, prepare_ppo


@dataclass(frozen=True)
class Algorithm:
    """One algorithm of the course, as every tool sees it."""

    name: str
    """Its name on the command line and in checkpoints (``rlcourse train NAME``)."""
    summary: str
    """One line for ``rlcourse train --help``."""
    description: str
    """What ``rlcourse train NAME --help`` says first."""
    config: type
    """The hyperparameters: a dataclass with a docstring under each field."""
    networks: tuple[type[nn.Module], ...]
    """The networks its checkpoints can hold."""
    agent: type
    """The agent: networks, optimizer, what it learns from."""
    prepare: Callable[[TrainRequest], Prepared]
    """Makes the agent and its games for a request; the loop runs when asked."""
    policy: Callable[[nn.Module, CheckpointInfo], Any]
    """How a checkpoint's network plays (the evaluation protocol's rule for it): a
    :class:`~rlcourse.policies.Policy`."""
    presets: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Named configs (``--preset``); empty: the config's defaults."""
    default_preset: Callable[[str], str] | None = None
    """The preset for an env id when none is named."""
    default_env: str | None = None
    """The env ``--env`` defaults to (None: ``--env`` is required)."""
    solve_score: bool = False
    """Whether its loop can stop at a score (``--solve-score``)."""
    replay_memory: bool = False
    """Whether it keeps a replay memory (``--no-buffer-in-checkpoint``)."""
    action_sets: bool = False
    """Whether it trains on reduced ALE action sets (``--actions``)."""

    def make_config(self, env_id: str, values: dict[str, Any], preset: str | None = None) -> Any:
        """The config for ``env_id`` from option values (a preset's, if it has presets)."""
        if not self.presets:
            if preset is not None:
                raise ValueError(f"{self.name} has no presets (got --preset {preset})")
            return self.config(**values)
        if preset is None:
            preset = self.default_preset(env_id) if self.default_preset else None
        if preset is None or preset not in self.presets:
            raise ValueError(f"unknown preset {preset!r}; known: {sorted(self.presets)}")
        return self.presets[preset](**values)


ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm(
            name="dqn",
            summary="DQN / Double DQN",
            description="Train DQN (or Double DQN with --double true).",
            config=DQNConfig,
            networks=(MLPQNetwork, NatureCNN),
            agent=DQN,
            prepare=prepare_dqn,
            policy=QPolicy.for_checkpoint,
            presets=PRESETS,
            default_preset=default_preset,
            solve_score=True,
            replay_memory=True,
            action_sets=True,
        ),
        Algorithm(
            name="a2c",
            summary="recurrent advantage actor-critic, parallel games",
            description="Train the recurrent A2C on parallel games.",
            config=A2CConfig,
            networks=(RecurrentActorCritic,),
            agent=A2C,
            prepare=prepare_a2c,
            policy=RecurrentPolicy.for_checkpoint,
            default_env="ALE/KungFuMaster-v5",
        ),
        Algorithm(
            name="reinforce",
            summary="REINFORCE: policy gradient from whole episodes, with a baseline",
            description="Train REINFORCE on an env with flat observations and discrete "
            "actions (CartPole-v1, ...).",
            config=ReinforceConfig,
            networks=(MLPPolicy,),
            agent=Reinforce,
            prepare=prepare_reinforce,
            policy=CategoricalPolicy.for_checkpoint,
            solve_score=True,
        ),
        Algorithm(
            name="ppo",
            summary="PPO with GAE: clipped updates over minibatch epochs, parallel games",
            description="Train PPO (feed-forward Nature CNN on stacked frames; --recurrent "
            "true for lesson 09's LSTM network) on parallel ALE games.",
            config=PPOConfig,
            networks=(NatureActorCritic, RecurrentActorCritic),
            agent=PPO,
            prepare=prepare_ppo,
            policy=RecurrentPolicy.for_checkpoint,
            default_env="ALE/KungFuMaster-v5",
        ),
    )
}
"""Every algorithm of the course, by name."""


def algorithm(name: str) -> Algorithm:
    """The registry's entry for ``name``, or a ValueError listing the known ones."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def load_policy(path: str | os.PathLike, device: str | torch.device = "cpu") -> Any:
    """A ready-to-play policy from any checkpoint (DQN: greedy Q-policy; A2C: recurrent,
    sampling; REINFORCE: sampling from its softmax policy).

    ``policy(obs) -> action``; ``policy.reset()`` starts a new game; ``policy.checkpoint``
    holds what the file says about itself (algorithm, env id and options, config, steps);
    :func:`rlcourse.envs.env_for_checkpoint` makes the env it plays. No replay memory,
    optimizer or env is built.

    >>> from rlcourse import pretrained
    >>> policy = load_policy(pretrained.path("dqn_cartpole.pt"))
    >>> policy.checkpoint.algo, policy.checkpoint.env_id
    ('dqn', 'CartPole-v1')
    """
    payload = load_checkpoint(path)
    name = payload["algo"]
    if name not in ALGORITHMS:
        raise CheckpointError(
            f"{path} holds an agent of algorithm {name!r}; known: {', '.join(ALGORITHMS)}"
        )
    entry = ALGORITHMS[name]
    network = build_policy_network(payload, where=str(path))
    if not isinstance(network, entry.networks):
        raise CheckpointError(
            f"{path}: a {name} checkpoint holding a {type(network).__name__}; {name} plays "
            f"with {', '.join(cls.__name__ for cls in entry.networks)}"
        )
    network.to(device).eval()
    return entry.policy(network, CheckpointInfo.from_payload(payload, path))
