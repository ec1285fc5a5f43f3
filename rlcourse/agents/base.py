"""What the policy-gradient agents (REINFORCE, A2C, PPO) share, written once.

Each algorithm's module keeps what makes it that algorithm: its config, its network, its
update. What is left is bookkeeping that would otherwise be copied into each: the checkpoint
of a network and its optimizer (:class:`TrainedAgent`) and, for the two actor-critics, how
they play and how their learning rate decays (:class:`ActorCriticAgent`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar, Protocol

import torch

from rlcourse.checkpoints import make_checkpoint, restore_training_state
from rlcourse.networks import ActorCritic
from rlcourse.policies import RecurrentPolicy


class TrainedAgent:
    """An agent that owns one network and its optimizer and counts its agent steps and
    updates: its checkpoint and resume point are the same whatever the algorithm.

    An agent with more state says so in the hooks, so one ``checkpoint`` and ``restore``
    serve all: :meth:`rng_states` (saved in every checkpoint), :meth:`resume_extras` (resume
    points only) and :meth:`restore_extras` (puts both back).
    """

    algo: ClassVar[str]
    """The algorithm's name in checkpoints and on the command line."""
    config: Any
    """The algorithm's config dataclass (saved as a plain dict)."""
    network_spec: dict[str, Any]
    network: torch.nn.Module
    optimizer: torch.optim.Optimizer
    steps: int
    updates: int

    def rng_states(self) -> dict[str, Any]:
        """The random generators' states to save in every checkpoint, by name: none here."""
        return {}

    def resume_extras(self) -> dict[str, Any]:
        """What a resume point needs beyond the optimizer and the update count: none here."""
        return {}

    def restore_extras(self, payload: dict[str, Any]) -> None:
        """Put back what :meth:`rng_states` and :meth:`resume_extras` saved in ``payload``."""

    def checkpoint(
        self,
        env_id: str,
        env_options: dict[str, Any] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """This agent in the course's checkpoint format (a resume point with ``resume``)."""
        if resume is not None:
            resume = {
                **resume,
                "optimizer": self.optimizer.state_dict(),
                "updates": self.updates,
                **self.resume_extras(),
            }
        return make_checkpoint(
            algo=self.algo,
            env_id=env_id,
            env_options=env_options,
            config=asdict(self.config),
            network_spec=self.network_spec,
            weights=self.network.state_dict(),
            steps=self.steps,
            rng=self.rng_states(),
            resume=resume,
        )

    def restore(self, payload: dict[str, Any]) -> None:
        """Continue from a resume point made by :meth:`checkpoint`."""
        saved = restore_training_state(self.network, self.optimizer, self.network_spec, payload)
        self.steps, self.updates = int(payload["steps"]), int(saved["updates"])
        self.restore_extras(payload)


class ActorCriticConfig(Protocol):
    """The config fields an :class:`ActorCriticAgent` reads (A2C's and PPO's have them)."""

    lr: float
    lr_decay_steps: int
    episodic_life: bool


class ActorCriticAgent(TrainedAgent):
    """A2C's and PPO's common ground: an actor-critic played with one memory per game, and
    a learning rate that may decay linearly over the agent steps."""

    config: ActorCriticConfig
    network: ActorCritic

    def learning_rate(self) -> float:
        """The learning rate at this step count (``config.lr_decay_steps``)."""
        if not self.config.lr_decay_steps:
            return self.config.lr
        return self.config.lr * max(0.0, 1.0 - self.steps / self.config.lr_decay_steps)

    def policy(self, greedy: bool = False, seed: int = 0) -> RecurrentPolicy:
        """The network as a policy that samples its actions (one memory per game, empty for
        a feed-forward network), zeroed at lost lives when training did so."""
        return RecurrentPolicy(
            self.network, greedy=greedy, seed=seed, reset_on_life_loss=self.config.episodic_life
        )
