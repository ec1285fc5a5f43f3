"""Checks for lesson 06 (Double DQN): the Double DQN target, the target network's hard and
soft updates, and the whole Double DQN update with a soft target (a multi-step exercise,
checked by what it does to two tiny networks).

The references are the package's own functions (:mod:`rlcourse.agents.dqn`), called as the
student's: same name, same signature. Hints and pointers are words, never code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rlcourse.agents.dqn import double_dqn_target, double_dqn_update, update_target_network
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
            "terminated and truncated on the same step: no bootstrap",
            lambda f: f(_REWARDS, _ONLINE, _TARGET, terminated, terminated, 0.9),
            rule="a transition that ended by termination never bootstraps, also when the time "
            "limit fell on the same step (both flags set): truncation does not bring back the "
            "future of a state that terminated",
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


# --- the tiny networks and batch of the update's check ----------------------------------


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


# --- double_dqn_update -----------------------------------------------------------------

_LR = 0.5  # plain SGD: a step is lr times the gradient, so every change of the gradient shows


def _update_setup(stale_gradients: bool = False) -> tuple[nn.Module, nn.Module, Any]:
    """The online and the target network of :func:`_loss_nets` (their weights require
    gradients, as a copy of a network in training does) and an SGD optimizer of the online
    one; ``stale_gradients``: the online network still holds an earlier step's gradients."""
    online, target = _loss_nets()
    optimizer = torch.optim.SGD(online.parameters(), lr=_LR)
    if stale_gradients:
        for param in online.parameters():
            param.grad = torch.full_like(param, 3.0)
    return online, target, optimizer


def _weights(net: nn.Module) -> dict[str, torch.Tensor]:
    return {name: param.detach().clone() for name, param in net.named_parameters()}


def _number(value: Any) -> Any:
    """A one-number tensor as a float (a loss returned as a tensor is accepted)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.detach().item()
    return value


def _one_update(
    f: Any,
    what: str,
    terminated: list[bool] | None = None,
    truncated: list[bool] | None = None,
    tau: float = 0.1,
    max_grad_norm: float | None = 100.0,
    stale_gradients: bool = False,
) -> dict[str, Any]:
    """One update on fresh tiny networks; ``what`` it returns, changes or sends where."""
    online, target, optimizer = _update_setup(stale_gradients)
    batch = _batch(terminated, truncated)
    value = f(online, target, optimizer, batch, 0.9, tau, max_grad_norm)
    if what == "loss":
        return {"the loss it returned": _number(value)}
    if what == "online":
        return {"the online network's weights after the update": _weights(online)}
    if what == "target":
        return {"the target network's weights after the update": _weights(target)}
    return {
        "the target network received a gradient": any(
            p.grad is not None and bool(p.grad.abs().sum() > 0) for p in target.parameters()
        )
    }


def check_double_dqn_update(student_function: Any) -> Any:
    """Check ``double_dqn_update(q_network, target_network, optimizer, batch, gamma, tau,
    max_grad_norm=10.0) -> float`` by what one call does to two tiny linear networks (they
    disagree on the best next action) and an SGD optimizer."""
    cases = [
        Case(
            "the loss of the networks as given: the online net picks a', the target net rates it",
            lambda f: _one_update(f, "loss"),
            rule="the update returns its loss as a number: lesson 04's Huber loss between the "
            "online network's Q(s, a) of the actions taken and the Double DQN targets (the "
            "ONLINE network chooses a', the TARGET network rates it), computed on the two "
            "networks as they were given, before either changes",
        ),
        Case(
            "a terminated transition has no bootstrap, also when truncated at the same step",
            lambda f: _one_update(
                f,
                "loss",
                terminated=[False, True, True, False],
                truncated=[False, False, True, False],
            ),
            rule="a transition that ended by termination must not bootstrap, whatever its "
            "truncated flag says: its target is its reward alone",
        ),
        Case(
            "a truncated transition still bootstraps",
            lambda f: _one_update(f, "loss", truncated=[True, False, True, False]),
            rule="a transition cut by the time limit (truncated, not terminated) still "
            "bootstraps: only termination removes the next state's value",
        ),
        Case(
            "one step of the optimizer: the online network's new weights",
            lambda f: _one_update(f, "online"),
            rule="the online network changes by exactly one step of the optimizer given, on "
            "the gradient of that loss; nothing else writes into it (the target's update only "
            "reads it)",
        ),
        Case(
            "gradients left over from an earlier step",
            lambda f: _one_update(f, "online", stale_gradients=True),
            rule="the step uses this loss's gradient alone: gradients an earlier step left in "
            "the online network are cleared before the backward pass",
        ),
        Case(
            "max_grad_norm = 0.1: the gradient's norm is clipped",
            lambda f: _one_update(f, "online", max_grad_norm=0.1),
            rule="before the optimizer's step, the gradient of all the online network's "
            "weights together (one global norm, not value by value) is scaled down to the "
            "norm max_grad_norm when it is longer",
        ),
        Case(
            "max_grad_norm = None: no clipping",
            lambda f: _one_update(f, "online", max_grad_norm=None),
            rule="max_grad_norm = None means the gradient is not clipped",
        ),
        Case(
            "the target moves tau = 0.1 of the way towards the UPDATED online network",
            lambda f: _one_update(f, "target"),
            rule="after the optimizer's step, each target weight keeps 90% of its own value "
            "and takes 10% of the online network's NEW weight (not the other way round, not "
            "a copy, not the online weights from before the step)",
        ),
        Case(
            "tau = 1: the target becomes a copy of the updated online network",
            lambda f: _one_update(f, "target", tau=1.0),
            rule="with tau = 1 the target's weights become equal to the online network's "
            "weights after the step",
        ),
        Case(
            "the target is a fixed label: no gradient reaches the target network",
            lambda f: _one_update(f, "gradient"),
            rule="the Double DQN target is computed without gradient: the backward pass "
            "reaches the online network only, through Q(s, a) of the actions taken",
        ),
    ]
    return check_exercise(
        "double_dqn_update",
        student_function,
        double_dqn_update,
        cases,
        hint="three moves, in this order. The Double DQN loss of the two networks as they "
        "are (lesson 04's loss with exercise 1's target: the online network chooses, the "
        "target network rates, no gradient through the target; your dqn_gradient_step of "
        "lesson 05 computes it when asked for the Double DQN target). One step of the "
        "optimizer on it: the old gradients cleared, the gradient's norm clipped, then the "
        "step. Only then the target network follows the online network's new weights by "
        "tau, with your update_target_network of exercise 2.",
        pointer="the Double DQN target equation in section 2, the soft update equation in "
        "section 4, lesson 05's dqn_gradient_step (its double and max_grad_norm arguments), "
        "and Optimizer.zero_grad and torch.nn.utils.clip_grad_norm_ in the PyTorch docs",
    )
