"""Neural networks of the course: Q-networks for DQN, the recurrent actor-critic for A2C.

Each network checks the input shape it was built for and says so when it gets another.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def check_input(x: torch.Tensor, expected: tuple[int, ...], network: str) -> None:
    """Raise a ValueError naming the network when ``x`` is not ``(batch, *expected)``."""
    if tuple(x.shape[1:]) != tuple(expected):
        raise ValueError(
            f"{network} was built for inputs of shape (batch, {', '.join(map(str, expected))}), "
            f"got {tuple(x.shape)}: is the env (and its wrappers) the one the network was made for?"
        )


class MLPQNetwork(nn.Module):
    """A multi-layer perceptron mapping a flat observation to one Q-value per action.

    >>> net = MLPQNetwork(obs_dim=4, n_actions=2, hidden_sizes=(64, 64))
    >>> net(torch.zeros(5, 4)).shape
    torch.Size([5, 2])
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (64, 64)):
        super().__init__()
        self.obs_dim = obs_dim
        layers: list[nn.Module] = []
        width = obs_dim
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, n_actions))
        self.layers = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        check_input(obs, (self.obs_dim,), type(self).__name__)
        return self.layers(obs.float())
