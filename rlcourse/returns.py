"""The return from every step of an episode, written once (lesson 01's exercise).

``G_t = r_t + gamma * r_{t+1} + gamma^2 * r_{t+2} + ...`` to the end of one episode, one
backward pass (``G_t = r_t + gamma * G_{t+1}``). Lesson 01 uses it on NumPy arrays (``G_0``
is the episode's discounted return), lesson 08's REINFORCE on torch tensors (each step's
weight, :mod:`rlcourse.agents.reinforce`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np
import torch

from rlcourse.config import check_number


@overload
def reward_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor: ...


@overload
def reward_to_go(rewards: np.ndarray | Sequence[float], gamma: float) -> np.ndarray: ...


def reward_to_go(
    rewards: torch.Tensor | np.ndarray | Sequence[float], gamma: float
) -> torch.Tensor | np.ndarray:
    """``G_t = r_t + gamma * r_{t+1} + gamma^2 * r_{t+2} + ...`` for every step ``t`` of one
    episode, ``G_t = r_t + gamma G_{t+1}`` from the end: the same length as ``rewards``.

    ``rewards`` is one episode's ``[T]`` rewards: a torch tensor gives a tensor of its dtype,
    a list or NumPy array a float64 NumPy array. ``G_0``, the first entry, is the episode's
    discounted return. The sum stops at the episode's last step, whether it ended for real
    or was cut by a time limit: without a value estimate there is nothing to add for what a
    truncated episode would have earned after the cut, so its tail is simply missing (a bias
    towards short-sighted returns near the cut, small when ``gamma`` is well below 1 or time
    limits are rare).

    >>> reward_to_go(torch.tensor([1.0, 1.0, 1.0]), gamma=0.5)
    tensor([1.7500, 1.5000, 1.0000])
    >>> reward_to_go([0.0, 0.0, 1.0], gamma=0.9).tolist()
    [0.81, 0.9, 1.0]
    >>> reward_to_go([], gamma=0.9).shape
    (0,)
    """
    gamma = float(check_number("gamma", gamma, low=0, high=1))
    if isinstance(rewards, torch.Tensor):
        if rewards.dim() != 1:
            raise ValueError(
                f"reward_to_go takes one episode's rewards, shape [T], got {tuple(rewards.shape)}"
            )
        returns = torch.empty_like(rewards)
        running = torch.zeros((), dtype=rewards.dtype, device=rewards.device)
        for t in reversed(range(rewards.shape[0])):
            running = rewards[t] + gamma * running
            returns[t] = running
        return returns
    values = np.asarray(rewards, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"reward_to_go takes one episode's rewards, shape [T], got {values.shape}")
    out = np.empty_like(values)
    total = 0.0
    for t in range(len(values) - 1, -1, -1):
        total = values[t] + gamma * total
        out[t] = total
    return out
