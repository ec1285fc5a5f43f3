"""Checks for lesson 05 (Double DQN): the Double DQN target, the target network's hard and
soft updates, and the moving average of the metric logger.

The references are the package's own functions (:mod:`rlcourse.agents.dqn`,
:mod:`rlcourse.metrics`), called as the student's: same name, same signature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rlcourse.agents.dqn import double_dqn_target, update_target_network
from rlcourse.course.exercises.core import Case, check_exercise
from rlcourse.metrics import moving_average


def check_double_dqn_target(student_function: Any) -> Any:
    """Check ``double_dqn_target(rewards, next_q_online, next_q_target, terminated, truncated,
    gamma) -> Tensor``."""
    rewards = torch.tensor([1.0, 0.0, -1.0, 0.5])
    online = torch.tensor([[0.1, 0.9, 0.3], [2.0, 1.0, 0.0], [0.0, 0.2, 0.1], [-1.0, -3.0, -2.0]])
    target = torch.tensor([[5.0, 1.0, 7.0], [0.5, 3.0, 2.0], [1.0, -1.0, 4.0], [2.0, 9.0, 0.0]])
    none = torch.zeros(4, dtype=torch.bool)
    cases = [
        Case(
            "the online net picks a', the target net rates it (no max over the target's values)",
            lambda f: f(rewards, online, target, none, none, 0.9),
        ),
        Case(
            "a terminated transition has no bootstrap",
            lambda f: f(rewards, online, target, torch.tensor([True, False, False, True]), none,
                        0.9),
        ),  # fmt: skip
        Case(
            "a truncated transition still bootstraps",
            lambda f: f(rewards, online, target, none, torch.tensor([False, True, True, False]),
                        0.9),
        ),  # fmt: skip
        Case(
            "when both nets agree it equals the DQN target",
            lambda f: f(rewards, target, target, none, none, 0.99),
        ),
        Case("gamma = 0: only the reward", lambda f: f(rewards, online, target, none, none, 0.0)),
    ]
    return check_exercise(
        "double_dqn_target",
        student_function,
        double_dqn_target,
        cases,
        hint="best = next_q_online.argmax(dim=1, keepdim=True); "
        "value = next_q_target.gather(1, best).squeeze(1); "
        "return rewards + gamma * (1 - terminated.float()) * value (`truncated` does not cut "
        "the bootstrap). DQN would use next_q_target.max(dim=1).values: the same net chooses "
        "and rates.",
    )


def _nets(seed: int) -> tuple[nn.Module, nn.Module]:
    """Two small nets with different weights, drawn from a local generator (not torch's
    global one: a check must not change the student's random state)."""
    rng = np.random.default_rng(seed)
    nets = []
    for _ in range(2):
        net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        with torch.no_grad():
            for param in net.parameters():
                param.copy_(torch.as_tensor(rng.normal(size=param.shape), dtype=param.dtype))
        nets.append(net)
    target, online = nets
    return target, online


def _after_updates(f: Any, tau: float, times: int = 1) -> Any:
    target, online = _nets(0)
    before = [p.detach().clone() for p in online.parameters()]
    for _ in range(times):
        f(target, online, tau)
    online_unchanged = all(torch.equal(a, b) for a, b in zip(before, online.parameters(),
                                                               strict=True))  # fmt: skip
    return [p.detach().clone() for p in target.parameters()], online_unchanged


def check_update_target_network(student_function: Any) -> Any:
    """Check ``update_target_network(target, online, tau)``: hard (tau=1) and soft updates."""
    cases = [
        Case("hard update (tau = 1): the target becomes a copy", lambda f: _after_updates(f, 1.0)),
        Case("soft update (tau = 0.1): 10% of the way", lambda f: _after_updates(f, 0.1)),
        Case("five soft updates with tau = 0.5", lambda f: _after_updates(f, 0.5, times=5)),
    ]
    return check_exercise(
        "update_target_network",
        student_function,
        update_target_network,
        cases,
        hint="with torch.no_grad(): for t, o in zip(target.parameters(), "
        "online.parameters()): t.copy_(tau * o + (1 - tau) * t). Change the target "
        "in place, never the online net.",
    )


def check_moving_average(student_function: Any) -> Any:
    """Check ``moving_average(values, window=100) -> np.ndarray`` (trailing mean, NaNs
    skipped)."""
    rewards = [1.0, 3.0, 2.0, 6.0, 0.0, 4.0]
    cases = [
        Case("window 2", lambda f: np.asarray(f(rewards, 2), dtype=float)),
        Case("window 1 is the values themselves", lambda f: np.asarray(f(rewards, 1), float)),
        Case(
            "a window longer than the data: the mean so far",
            lambda f: np.asarray(f(rewards, 100), dtype=float),
        ),  # fmt: skip
        Case(
            "losses before learning starts are NaN: skip them",
            lambda f: np.asarray(f([np.nan, np.nan, 2.0, 4.0, 6.0], 2), dtype=float),
        ),
        Case(
            "the default window is 100 episodes",
            lambda f: np.asarray(f(np.arange(150.0)), dtype=float),
        ),
    ]
    return check_exercise(
        "moving_average",
        student_function,
        moving_average,
        cases,
        hint="point i is the mean of values[max(0, i - window + 1) : i + 1]; np.nanmean "
        "skips NaNs (and gives NaN, with a warning, when the window holds only NaNs).",
    )
