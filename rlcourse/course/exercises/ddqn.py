"""Checks for lesson 06 (Double DQN): the Double DQN target, the Double DQN loss and the
target network's hard and soft updates.

The references are the package's own functions (:mod:`rlcourse.agents.dqn`), called as the
student's: same name, same signature. Hints and pointers are words, never code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rlcourse.agents.dqn import compute_dqn_loss, double_dqn_target, update_target_network
from rlcourse.buffers import ReplaySample
from rlcourse.course.exercises.core import Case, check_exercise

# --- double_dqn_target ------------------------------------------------------------------

_REWARDS = torch.tensor([1.0, 0.0, -1.0, 0.5])
# The two nets disagree on every row: the online net's best next action is never the
# target net's, so choosing with the wrong net (or rating with it) changes every target.
_ONLINE = torch.tensor([[0.1, 0.9, 0.3], [2.0, 1.0, 0.0], [0.0, 0.2, 0.1], [-1.0, -3.0, -2.0]])
_TARGET = torch.tensor([[5.0, 1.0, 7.0], [0.5, 3.0, 2.0], [1.0, -1.0, 4.0], [2.0, 9.0, 0.0]])
_NONE = torch.zeros(4, dtype=torch.bool)


def check_double_dqn_target(student_function: Any) -> Any:
    """Check ``double_dqn_target(rewards, next_q_online, next_q_target, terminated, truncated,
    gamma) -> Tensor``."""
    terminated = torch.tensor([True, False, False, True])
    truncated = torch.tensor([False, True, True, False])
    cases = [
        Case(
            "the online net picks a', the target net rates it",
            lambda f: f(_REWARDS, _ONLINE, _TARGET, _NONE, _NONE, 0.9),
            rule="the next action is the one the ONLINE network rates highest, and its value "
            "is read from the TARGET network (not the target network's own maximum, and "
            "not the online network's value)",
        ),
        Case(
            "a terminated transition has no bootstrap",
            lambda f: f(_REWARDS, _ONLINE, _TARGET, terminated, _NONE, 0.9),
            rule="a transition that ended by termination must not bootstrap: its target is "
            "its reward alone",
        ),
        Case(
            "a truncated transition still bootstraps",
            lambda f: f(_REWARDS, _ONLINE, _TARGET, _NONE, truncated, 0.9),
            rule="a transition cut by the time limit (truncated, not terminated) still "
            "bootstraps: its next state had a future",
        ),
        Case(
            "when both nets agree it equals the DQN target",
            lambda f: f(_REWARDS, _TARGET, _TARGET, _NONE, _NONE, 0.99),
            rule="given the same values for both networks, the target is lesson 04's DQN "
            "target: reward plus gamma times the best next value",
        ),
        Case(
            "gamma = 0: only the reward",
            lambda f: f(_REWARDS, _ONLINE, _TARGET, _NONE, _NONE, 0.0),
            rule="with gamma = 0 the target is the reward alone",
        ),
    ]
    return check_exercise(
        "double_dqn_target",
        student_function,
        double_dqn_target,
        cases,
        hint="two steps, one per network. First choose, for each row, the next action the "
        "online network rates highest (an index per row, not a value). Then read that "
        "action's value in the target network's row. Discount it, drop it where the episode "
        "terminated (only there), and add the reward. DQN differs only in the first step: "
        "there the target network both chooses and rates.",
        pointer="the Double DQN target equation in section 2 (the argmax inside the target "
        "network's Q), and lesson 04's td_target for the terminal mask",
    )


# --- compute_dqn_loss ------------------------------------------------------------------


def _linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    """A fixed linear Q-network (observations of 3 numbers, 3 actions)."""
    with torch.random.fork_rng(devices=[]):  # the default init draws: leave torch's RNG alone
        net = nn.Linear(3, 3)
    with torch.no_grad():
        net.weight.copy_(torch.tensor(weight))
        net.bias.copy_(torch.tensor(bias))
    return net


def _loss_nets() -> tuple[nn.Module, nn.Module]:
    """An online and a target network that disagree on the best next action.

    Built fresh for each case (no global random state touched). On the batch's next
    observations the online net prefers actions 1, 0, 2, 2 and the target net 0, 1, 1, 1;
    the target net rates the online net's choices 0.5, 0.5, -0.5, 0.5 (its own maxima are
    3, 2.5, 4, 4.5; the online net's are 1, 2, 1.5, 2).
    """
    online = _linear([[0.0, 2.0, 0.0], [1.0, 0.0, 0.5], [0.5, 1.0, 1.5]], [0.0, 0.0, 0.0])
    target = _linear([[3.0, 0.5, 1.0], [0.5, 2.5, 4.0], [1.0, -1.0, -0.5]], [0.0, 0.0, 0.0])
    return online, target


def _batch(
    terminated: list[bool] | None = None, truncated: list[bool] | None = None
) -> ReplaySample:
    """Four transitions, as ``ReplayBuffer.sample`` gives them (int64 actions, float32
    rewards, bool flags). The TD errors mix sizes below and above 1 (Huber vs squared)."""
    obs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    next_obs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    none = [False] * 4
    return ReplaySample(
        obs,
        torch.tensor([0, 2, 1, 1]),
        torch.tensor([1.0, -2.0, 0.5, 3.0]),
        next_obs,
        torch.tensor(terminated or none),
        torch.tensor(truncated or none),
    )


def _loss_values(f: Any, batch: ReplaySample, gamma: float = 0.9, **options: Any) -> Any:
    """The Q-values of the actions taken and the loss, as numbers (q_taken first: a wrong
    q_taken is the cause of a wrong loss)."""
    online, target = _loss_nets()
    loss, q_taken = f(online, target, batch, gamma, **options)
    return {
        "q_taken": torch.as_tensor(q_taken).detach().clone(),
        "the loss": torch.as_tensor(loss).detach().item(),
    }


def _gradients(f: Any) -> dict[str, Any]:
    """What back-propagating the loss reaches, with and without ``double``."""
    found: dict[str, Any] = {}
    for double in (True, False):
        online, target = _loss_nets()
        loss, _ = f(online, target, _batch(), 0.9, double=double)
        mode = "double=True" if double else "double=False"
        found[f"{mode}: the loss can be back-propagated"] = bool(loss.requires_grad)
        if loss.requires_grad:
            loss.backward()
        found[f"{mode}: the target network received a gradient"] = any(
            p.grad is not None and bool(p.grad.abs().sum() > 0) for p in target.parameters()
        )
        found[f"{mode}: the gradient of the online network"] = [
            torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in online.parameters()
        ]
    return found


def check_compute_dqn_loss(student_function: Any) -> Any:
    """Check ``compute_dqn_loss(q_network, target_network, batch, gamma, double=False,
    loss="huber") -> (loss, q_taken)``, above all its ``double=True`` mode."""
    cases = [
        Case(
            "gamma = 0: the loss between Q(s, a) and the rewards",
            lambda f: _loss_values(f, _batch(), gamma=0.0, double=True),
            rule="the loss compares the online network's Q-values of the actions taken (one "
            "per row, returned as q_taken) with the targets, by Huber's loss with threshold 1 "
            "(the default), averaged over the batch; with gamma = 0 the targets are the "
            "rewards",
        ),
        Case(
            "double=True: the online net picks a', the target net rates it",
            lambda f: _loss_values(f, _batch(), double=True),
            rule="with double=True the next action is chosen by the ONLINE network "
            "(q_network) and rated by the TARGET network (not chosen by the target network, "
            "not rated by the online network)",
        ),
        Case(
            "double=False is still lesson 04's DQN loss",
            lambda f: _loss_values(f, _batch(), double=False),
            rule="with double=False (the default) the target network both chooses and rates "
            "the next action, as in lesson 04",
        ),
        Case(
            "double=True, a terminated transition has no bootstrap",
            lambda f: _loss_values(f, _batch(terminated=[False, True, True, False]), double=True),
            rule="a transition that ended by termination must not bootstrap: its target is "
            "its reward alone",
        ),
        Case(
            "double=True, a truncated transition still bootstraps",
            lambda f: _loss_values(f, _batch(truncated=[True, False, True, False]), double=True),
            rule="a transition cut by the time limit (truncated, not terminated) still "
            "bootstraps: only termination removes the next state's value",
        ),
        Case(
            "the target is a fixed label: no gradient through it",
            _gradients,
            rule="the gradient reaches the online network only through Q(s, a) of the actions "
            "taken; the target is computed without gradient, so the target network gets "
            "none and the online network's gradient has no part coming from the target",
        ),
        Case(
            "loss='mse', double=True: the mean squared TD error",
            lambda f: _loss_values(f, _batch(), double=True, loss="mse"),
            rule="loss='mse' is the mean of the squared TD errors; 'huber' (the default) is "
            "Huber's loss with threshold 1, both averaged over the batch",
        ),
    ]
    return check_exercise(
        "compute_dqn_loss",
        student_function,
        compute_dqn_loss,
        cases,
        hint="keep lesson 04's three steps: the online network's Q-values of the actions "
        "taken (with gradient); the target, computed without gradient; the loss between "
        "them. Only the target changes with double=True: the online network looks at the "
        "next observations to choose each next action, the target network says what that "
        "action is worth (your double_dqn_target does exactly this, given both networks' "
        "values of the next observations).",
        pointer="the Double DQN target equation in section 2, your double_dqn_target of "
        "exercise 1, and lesson 04's compute_dqn_loss (torch.no_grad for the target; "
        "torch.nn.functional.smooth_l1_loss and mse_loss)",
    )


# --- update_target_network -------------------------------------------------------------


def _nets(seed: int) -> tuple[nn.Module, nn.Module]:
    """Two small nets with different weights, drawn from a local generator (not torch's
    global one: a check must not change the student's random state)."""
    rng = np.random.default_rng(seed)
    nets = []
    for _ in range(2):
        with torch.random.fork_rng(devices=[]):  # the default init draws from torch's RNG
            net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        with torch.no_grad():
            for param in net.parameters():
                param.copy_(torch.as_tensor(rng.normal(size=param.shape), dtype=param.dtype))
        nets.append(net)
    target, online = nets
    return target, online


def _runs(f: Any) -> str:
    """The update runs at all on networks whose weights require gradients."""
    target, online = _nets(0)
    f(target, online, 0.5)
    return "ran"


def _online_unchanged(f: Any) -> bool:
    target, online = _nets(0)
    before = [p.detach().clone() for p in online.parameters()]
    f(target, online, 0.1)
    return all(torch.equal(a, b) for a, b in zip(before, online.parameters(), strict=True))


def _target_after(f: Any, tau: float, times: int = 1) -> list[torch.Tensor]:
    target, online = _nets(0)
    for _ in range(times):
        f(target, online, tau)
    return [p.detach().clone() for p in target.parameters()]


def _copy_is_independent(f: Any) -> dict[str, bool]:
    """After a hard update, a training step of the online net must not move the target."""
    target, online = _nets(0)
    f(target, online, 1.0)
    copied = [p.detach().clone() for p in target.parameters()]
    shares = any(
        t is o or t.data_ptr() == o.data_ptr()
        for t, o in zip(target.parameters(), online.parameters(), strict=True)
    )
    with torch.no_grad():  # what an optimizer step does to the online net
        for param in online.parameters():
            param.add_(1.0)
    moved = any(not torch.equal(a, b) for a, b in zip(copied, target.parameters(), strict=True))
    return {
        "the target shares tensors with the online network": shares,
        "training the online network moved the target": moved,
    }


def check_update_target_network(student_function: Any) -> Any:
    """Check ``update_target_network(target, online, tau)``: hard (tau=1) and soft updates."""
    cases = [
        Case(
            "an update of networks whose weights require gradients",
            _runs,
            rule="the weights of a network in training require gradients, so the update "
            "writes into them in place with gradient tracking switched off",
        ),
        Case(
            "the online network is left as it is",
            _online_unchanged,
            rule="only the target network changes; the online network's weights stay exactly "
            "as they were (mind the order of the two arguments: target first)",
        ),
        Case(
            "soft update (tau = 0.1): 10% of the way",
            lambda f: _target_after(f, 0.1),
            rule="each target weight moves a fraction tau of the way towards the online "
            "weight: with tau = 0.1 it keeps 90% of its own value and takes 10% of the "
            "online one (not the other way round)",
        ),
        Case(
            "hard update (tau = 1): the target becomes a copy",
            lambda f: _target_after(f, 1.0),
            rule="with tau = 1 every target weight becomes equal to the online weight",
        ),
        Case(
            "five soft updates with tau = 0.5",
            lambda f: _target_after(f, 0.5, times=5),
            rule="soft updates add up: each one starts from the target's current weights",
        ),
        Case(
            "a hard copy is a copy, not the same tensors",
            _copy_is_independent,
            rule="after a hard update the target holds its own copy of the values: a later "
            "training step of the online network must not move it",
        ),
    ]
    return check_exercise(
        "update_target_network",
        student_function,
        update_target_network,
        cases,
        hint="walk through the two networks' parameters side by side and overwrite each "
        "target parameter's values in place (the online ones are only read), without "
        "tracking gradients. The new value is a weighted mix: weight tau on the online "
        "parameter, the rest on the target's current value. Writing values into the "
        "existing tensor is a copy; rebinding the target's parameter to the online tensor "
        "would make the two networks one.",
        pointer="the soft update equation in section 4 (theta minus is the target's "
        "weights), and torch.no_grad, Module.parameters and Tensor.copy_ in the PyTorch docs",
        returns_none=True,
    )
