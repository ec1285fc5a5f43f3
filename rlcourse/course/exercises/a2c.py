"""Checks for lesson 09 (recurrent A2C): the forward step, the n-step returns, the policy
term, the entropy, and one training step.

Each ``check_*`` runs the student's code and the reference (the package's own function in
:mod:`rlcourse.agents.a2c`, the class in :mod:`rlcourse.networks`) on small cases. Besides
values, the cases look at where gradients go (the advantage and the bootstrap value are
constants for the gradient: the classic A2C bugs), and :func:`check_train_on_rollout`
looks at what one update does to the network's weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rlcourse.agents.a2c import (
    A2CConfig,
    entropy,
    n_step_returns,
    policy_loss,
    train_on_rollout,
    unroll,
)
from rlcourse.course.exercises.core import (
    Case,
    check_exercise,
    describe_difference,
    value_or_gradient,
)
from rlcourse.networks import RecurrentActorCritic
from rlcourse.rollouts import Rollout


class _Report(dict):
    """What a case compares, named; printed briefly (shapes and ranges, not whole tensors)."""

    def __repr__(self) -> str:
        parts = []
        for key, value in self.items():
            if isinstance(value, torch.Tensor) and value.numel() > 1:
                value = value.detach()
                text = (
                    f"shape {tuple(value.shape)}, from {value.min().item():.4g} "
                    f"to {value.max().item():.4g}"
                )
            elif isinstance(value, torch.Tensor):
                text = f"{value.item():.6g}"
            elif isinstance(value, float):
                text = f"{value:.6g}"
            else:
                text = repr(value)
            parts.append(f"{key}: {text}")
        return "{" + "; ".join(parts) + "}"


def _cases_tensor(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- the forward step --------------------------------------------------------------------


def _forward(
    agent_class: Any,
    obs_shape: tuple[int, int, int],
    n_steps: int,
    seed: int,
    frames: str = "random",
    memory: str = "given",
) -> Any:
    torch.manual_seed(seed)
    reference = RecurrentActorCritic(obs_shape, n_actions=5, hidden_size=16)
    agent = agent_class(obs_shape, n_actions=5, hidden_size=16)
    agent.load_state_dict(reference.state_dict())
    generator = torch.Generator().manual_seed(seed)
    if memory == "zeros":
        state = (torch.zeros(3, 16), torch.zeros(3, 16))
    else:
        state = (
            torch.randn(3, 16, generator=generator) * 0.5,
            torch.randn(3, 16, generator=generator) * 0.5,
        )
    outputs = []
    with torch.no_grad():
        for _ in range(n_steps):
            if frames == "black":
                obs = torch.zeros(3, *obs_shape, dtype=torch.uint8)
            else:
                obs = torch.randint(0, 256, (3, *obs_shape), generator=generator, dtype=torch.uint8)
            state, logits, value = agent(obs, state)
            outputs.append(_Report(h=state[0], c=state[1], logits=logits, value=value))
    return outputs[0] if n_steps == 1 else outputs


def check_forward_step(student_class: Any) -> Any:
    """Check a ``RecurrentActorCritic`` class's ``forward(observation, memory)``.

    The class must build the same layers as :class:`rlcourse.networks.RecurrentActorCritic`
    (``conv0``, ``conv1``, ``conv2``, ``dense``, ``lstm``, ``logits``, ``value``) and take
    ``(obs_shape, n_actions, hidden_size)``: the check loads the same weights into both.
    Observations are uint8 frames.
    """
    size = (1, 42, 42)
    cases = [
        Case(
            "an all-black screen, memory of zeros",
            lambda c: _forward(c, size, 1, 0, frames="black", memory="zeros"),
            rule="the layers go in order, conv0, conv1, conv2 and dense each followed by a "
            "ReLU (flattened before dense), then one LSTM step; both heads read the new h, "
            "and the value has one number per game (shape [batch], not [batch, 1])",
        ),
        Case(
            "uint8 frames with pixels from 0 to 255, memory of zeros",
            lambda c: _forward(c, size, 1, 1, memory="zeros"),
            rule="uint8 pixels (0 to 255) are scaled to [0, 1] before the first convolution",
        ),
        Case(
            "one step from a given, non-zero memory",
            lambda c: _forward(c, size, 1, 2),
            rule="the LSTM step starts from the memory passed in, (h, c) in that order, and "
            "the new (h, c) is returned first",
        ),
        Case(
            "three steps, each step's memory fed to the next",
            lambda c: _forward(c, size, 3, 3),
            rule="a step's returned memory, fed back in, carries the game on",
        ),
        Case(
            "two stacked frames per observation",
            lambda c: _forward(c, (2, 42, 42), 2, 4),
            rule="the network works for any number of channels given to its constructor",
        ),
    ]
    return check_exercise(
        "RecurrentActorCritic.forward",
        student_class,
        RecurrentActorCritic,
        cases,
        hint="follow the five steps of the exercise's text in order; the layers are "
        "already built in the constructor, the forward step only applies them.",
        pointer="section 2's equation (the LSTM updates (h, c) from the encoded frame and "
        "the previous memory), torch.nn.LSTMCell's documentation (its input and its "
        "(h, c) pair), and the package's rlcourse.networks.RecurrentActorCritic docstring",
    )


# --- n-step returns ----------------------------------------------------------------------


def _returns(fn: Callable[..., torch.Tensor], batch: int, time: int, ends: list, gamma: float):
    rewards = torch.arange(1, batch * time + 1, dtype=torch.float32).view(batch, time)
    alive = torch.ones(batch, time, dtype=torch.bool)
    for b, t in ends:
        alive[b, t] = False
    last_values = torch.linspace(10.0, 20.0, batch)
    return fn(rewards, alive, last_values, gamma)


def check_n_step_returns(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``n_step_returns(rewards, alive, last_values, gamma) -> returns [B, T]``."""
    cases = [
        Case(
            "one game, no end: bootstrap from last_values",
            lambda f: _returns(f, 1, 4, [], 0.9),
            rule="with no end in the rollout, each step's return adds the rewards that follow "
            "it, discounted once per step, and finally last_values (the critic's value after "
            "the rollout), discounted once more than the last reward",
        ),
        Case(
            "a game ends mid-rollout",
            lambda f: _returns(f, 1, 5, [(0, 2)], 0.5),
            rule="the step that ended a game (alive False) keeps its own reward but adds "
            "nothing after it: the rewards of the next game do not belong to its return",
        ),
        Case(
            "a game ends on the last step",
            lambda f: _returns(f, 2, 3, [(1, 2)], 0.9),
            rule="a game that ended on the rollout's last step does not bootstrap from "
            "last_values (that value belongs to the next game)",
        ),
        Case(
            "three games, gamma = 1",
            lambda f: _returns(f, 3, 4, [(0, 0), (2, 1)], 1.0),
            rule="each game (a row) has its own returns and its own last value; with "
            "gamma = 1 the rewards are simply added up",
        ),
    ]
    return check_exercise(
        "n-step returns",
        student_fn,
        n_step_returns,
        cases,
        hint="the return of the last step is known first (from the value after the "
        "rollout), so walk through time backwards, one step at a time, for all games at "
        "once; where a game ended, the return must not reach past that step.",
        pointer="the n-step returns equation at the top of section 5 (G_T, then G_t from "
        "G_t+1), and the docstring of rlcourse.agents.a2c.n_step_returns",
    )


# --- policy term -------------------------------------------------------------------------


def _policy(fn: Callable[..., torch.Tensor], seed: int, batch: int, time: int, item: str) -> Any:
    logits = _cases_tensor(seed, batch, time, 4).requires_grad_()
    generator = torch.Generator().manual_seed(seed)
    actions = torch.randint(0, 4, (batch, time), generator=generator)
    advantage = _cases_tensor(seed + 1, batch, time).requires_grad_()
    loss = fn(logits, actions, advantage)
    if item == "value":
        return loss
    loss.backward()
    if item == "advantage is a constant":
        return advantage.grad is None or bool(torch.all(advantage.grad == 0))
    return logits.grad


def _policy_unlikely(fn: Callable[..., torch.Tensor]) -> Any:
    logits = torch.tensor([[[100.0, 0.0, -100.0], [0.0, 1.0, 2.0]]])
    actions = torch.tensor([[2, 0]])
    advantage = torch.tensor([[1.0, -0.5]])
    return fn(logits, actions, advantage)


def check_policy_loss(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``policy_loss(logits, actions, advantage) -> scalar`` (value and gradient)."""
    cases = [
        Case(
            "two games, three steps, four actions: the loss's value",
            lambda f: _policy(f, 0, 2, 3, "value"),
            rule="the loss is minus the mean, over games and steps, of the log-probability "
            "of the action taken times its advantage (minimising it makes actions with a "
            "positive advantage more likely)",
        ),
        Case(
            "one game, six steps: the loss's value",
            lambda f: _policy(f, 3, 1, 6, "value"),
            rule="each step's own action is the one whose log-probability counts",
        ),
        Case(
            "gradients: the advantage is a constant",
            lambda f: _policy(f, 0, 2, 3, "advantage is a constant"),
            rule="no gradient flows into the advantage: the policy term must not train the "
            "critic, whose values the advantage was computed from",
        ),
        Case(
            "gradients with respect to the logits",
            lambda f: _policy(f, 5, 2, 3, "logits"),
            rule="the loss's gradient reaches the logits through the log-probabilities of "
            "the actions taken",
        ),
        Case(
            "a very unlikely action taken (logits 100 apart)",
            lambda f: _policy_unlikely(f),
            rule="the log-probability of a very unlikely action is a large negative number, "
            "not minus infinity: compute log-probabilities from the logits directly (the "
            "log of a probability that rounded to 0 is minus infinity)",
        ),
    ]
    return check_exercise(
        "the policy term",
        student_fn,
        policy_loss,
        cases,
        hint="turn the logits into log-probabilities over the last axis in one stable "
        "operation, pick for every game and step the one of the action it took, weight it "
        "by the advantage treated as a constant, and average with the sign that makes "
        "minimising the loss favour good actions.",
        pointer="the policy term L_pi in section 5, and torch.log_softmax and torch.gather "
        "in PyTorch's documentation",
    )


# --- entropy -----------------------------------------------------------------------------


def check_entropy(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``entropy(logits) -> scalar``: the mean entropy of the policies, in nats."""
    cases = [
        Case(
            "three uniform policies over 4 actions",
            lambda f: value_or_gradient(f, torch.zeros(3, 4)),
            rule="the result is the mean over games (and steps) of each policy's entropy, a "
            "positive number: log(4) = 1.386 nats for a uniform policy over 4 actions",
        ),
        Case(
            "random [batch, time, actions] logits",
            lambda f: value_or_gradient(f, _cases_tensor(0, 2, 3, 5)),
            rule="each policy's entropy sums over the actions (the last axis) only; the "
            "mean is over all the other axes",
        ),
        Case(
            "gradients with respect to random logits",
            lambda f: value_or_gradient(f, _cases_tensor(1, 2, 3, 5), "gradient"),
            rule="the entropy's gradient reaches the logits (nothing detached)",
        ),
        Case(
            "a nearly certain policy (logits 200 apart)",
            lambda f: value_or_gradient(f, torch.tensor([[200.0, 0.0, 0.0], [0.0, 1.0, 2.0]])),
            rule="a nearly certain policy has an entropy near 0, not nan: compute the "
            "log-probabilities from the logits directly (the log of a probability that "
            "rounded to 0 is minus infinity, and 0 times minus infinity is nan)",
        ),
    ]
    return check_exercise(
        "the entropy",
        student_fn,
        entropy,
        cases,
        hint="get each policy's log-probabilities from the logits in one stable operation, "
        "and the probabilities from them; a policy's entropy is minus the sum over the "
        "actions of probability times log-probability; then average over games and steps.",
        pointer="the entropy bonus H in section 5, and torch.log_softmax in PyTorch's "
        "documentation",
    )


# --- one training step -------------------------------------------------------------------

_OBS_SHAPE = (1, 15, 15)  # the smallest screen three stride-2 3x3 convolutions accept
_N_ACTIONS, _HIDDEN, _GAMES, _STEPS = 4, 8, 3, 5


def _network(seed: int) -> RecurrentActorCritic:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RecurrentActorCritic(_OBS_SHAPE, _N_ACTIONS, hidden_size=_HIDDEN, channels=4)


def _rollout(seed: int, terminated: tuple = (), truncated: tuple = ()) -> Rollout:
    """3 games, 5 steps, rewards in hundreds, a non-zero initial memory; ``terminated``
    and ``truncated`` list the (game, step) pairs that ended a game."""
    rng = np.random.default_rng(seed)
    shape = (_GAMES, _STEPS)
    ends = np.zeros(shape, bool)
    truncations = np.zeros(shape, bool)
    for b, t in terminated:
        ends[b, t] = True
    truncation_values = np.zeros(shape, np.float32)
    for b, t in truncated:
        truncations[b, t] = True
        truncation_values[b, t] = 2.0
    rewards = rng.choice([0.0, 100.0, 200.0, 500.0], size=shape).astype(np.float32)
    generator = torch.Generator().manual_seed(seed)
    initial = (
        torch.randn(_GAMES, _HIDDEN, generator=generator),
        torch.randn(_GAMES, _HIDDEN, generator=generator),
    )
    return Rollout(
        observations=rng.integers(0, 256, (*shape, *_OBS_SHAPE), dtype=np.uint8),
        actions=rng.integers(0, _N_ACTIONS, shape).astype(np.int64),
        rewards=rewards,
        terminated=ends,
        truncated=truncations,
        truncation_values=truncation_values,
        next_observations=rng.integers(0, 256, (_GAMES, *_OBS_SHAPE), dtype=np.uint8),
        initial_memory=initial,
    )


def _perfect_critic_rewards(network: RecurrentActorCritic, rollout: Rollout, scale: float):
    """Rewards that make gamma = 0 returns equal the critic's values: advantage 0."""
    with torch.no_grad():
        _, values, _ = unroll(network, rollout)
    return (values / scale).numpy().astype(np.float32)


def _layer_changes(before: dict[str, torch.Tensor], network: RecurrentActorCritic) -> dict:
    after = network.state_dict()
    groups = {"the critic's head (value)": ("value.",), "the actor's head (logits)": ("logits.",)}
    changes: dict[str, Any] = {}
    for label, prefixes in groups.items():
        changes[f"change of {label}"] = torch.cat(
            [(after[k] - before[k]).flatten() for k in after if k.startswith(prefixes)]
        )
    changes["change of the rest (convolutions, dense, LSTM)"] = torch.cat(
        [(after[k] - before[k]).flatten() for k in after if not k.startswith(("value.", "logits."))]
    )
    return changes


def _train(fn: Callable[..., Any], case: str) -> dict[str, Any]:
    """One call of ``train_on_rollout`` on a crafted case; what the case compares."""
    network = _network(0)
    config_options: dict[str, Any] = {
        "gamma": 0.9,
        "reward_scale": 0.01,
        "value_coef": 0.5,
        "entropy_coef": 0.01,
        "max_grad_norm": 100.0,
    }
    stale_gradients = False
    if case == "replay":
        rollout = _rollout(1)
    elif case == "ends":
        rollout = _rollout(2, terminated=((0, 1),), truncated=((2, 3),))
    elif case == "bootstrap":
        rollout = _rollout(3)
    elif case == "cut":
        rollout = _rollout(4, terminated=((0, 1), (1, 4)), truncated=((2, 2),))
    elif case == "entropy":
        config_options.update(gamma=0.0, entropy_coef=1.0)
        rollout = _rollout(5, terminated=((1, 2),))
        rewards = _perfect_critic_rewards(network, rollout, config_options["reward_scale"])
        rollout = rollout._replace(rewards=rewards)
    elif case == "policy only":
        config_options.update(value_coef=0.0, entropy_coef=0.0)
        rollout = _rollout(6, terminated=((0, 2),))
    elif case == "value only":
        config_options.update(value_coef=1.0, entropy_coef=0.0)
        rollout = _rollout(7, terminated=((2, 1),))
    else:  # "update"
        config_options.update(max_grad_norm=0.05)
        rollout = _rollout(8, terminated=((1, 3),))
        stale_gradients = True
    config = A2CConfig(**config_options)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.5)
    if stale_gradients:  # what an earlier update left in .grad
        for parameter in network.parameters():
            parameter.grad = torch.ones_like(parameter)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    with torch.no_grad():
        entropy_before = entropy(unroll(network, rollout)[0]).item()
    stats = fn(network, optimizer, rollout, config)
    return _Report(_train_report(case, stats, before, network, rollout, entropy_before))


def _train_report(
    case: str,
    stats: dict[str, Any],
    before: dict[str, torch.Tensor],
    network: RecurrentActorCritic,
    rollout: Rollout,
    entropy_before: float,
) -> dict[str, Any]:
    if case in ("replay", "ends"):
        return {"entropy": stats["entropy"]}
    if case in ("bootstrap", "cut"):
        return {"value_loss": stats["value_loss"]}
    changes = _layer_changes(before, network)
    if case == "entropy":
        with torch.no_grad():
            logits, _, _ = unroll(network, rollout)
            entropy_after = entropy(logits).item()
        return {
            "the update raised the policy's entropy": bool(entropy_after > entropy_before),
            "loss": stats["loss"],
        }
    if case == "policy only":
        critic = changes["change of the critic's head (value)"]
        return {
            "the critic's head left unchanged": bool(torch.all(critic == 0)),
            "policy_loss": stats["policy_loss"],
            **changes,
        }
    if case == "value only":
        return {"value_loss": stats["value_loss"], **changes}
    return {"loss": stats["loss"], "grad_norm": stats["grad_norm"], **changes}


def _compare_update(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
    """Like :func:`describe_difference`, with weight changes compared relative to their size
    (legitimate code differs in rounding)."""
    if not isinstance(got, dict) or set(got) != set(expected):
        return describe_difference(expected, got)
    for key, value in expected.items():
        if isinstance(value, torch.Tensor) and value.numel() > 1:
            want = value.detach().numpy()
            have = np.asarray(got[key].detach() if isinstance(got[key], torch.Tensor) else got[key])
            scale = float(np.abs(want).max()) or 1.0
            if have.shape != want.shape:
                return f"at [{key!r}]: shape {have.shape}, expected {want.shape}"
            if not np.allclose(have, want, rtol=1e-3, atol=1e-4 * scale):
                index = int(np.argmax(np.abs(have - want)))
                return (
                    f"at [{key!r}]: the weights moved differently, e.g. by {have[index]:.3g} "
                    f"instead of {want[index]:.3g}"
                )
            continue
        difference = describe_difference(value, got[key], repr(key))
        if difference:
            return difference
    return None


def check_train_on_rollout(student_fn: Callable[..., Any]) -> Any:
    """Check ``train_on_rollout(agent, optimizer, rollout, config) -> stats``.

    Each case runs one update of a small ``RecurrentActorCritic`` (15x15 screens, 3 games,
    5 steps) with plain SGD, on a crafted rollout, and compares some of the returned
    numbers and how the update moved the weights.
    """
    cases = [
        Case(
            "replay: three games, none ends, from a non-zero initial memory",
            lambda f: _train(f, "replay"),
            rule="the rollout is replayed step by step from the memory it started with "
            "(rollout.initial_memory), each step's new memory fed to the next step",
        ),
        Case(
            "replay: one game terminates, one is truncated",
            lambda f: _train(f, "ends"),
            rule="after a step that ended a game (terminated or truncated: alive False), that "
            "game's memory, h and c, is zeroed before the next step; the other games keep "
            "theirs",
        ),
        Case(
            "the critic's targets, no game ends",
            lambda f: _train(f, "bootstrap"),
            rule="the value loss compares V(s_t) with the n-step returns of the rewards "
            "scaled by config.reward_scale, bootstrapped from the critic's value of the "
            "observations after the rollout, with the memory carried to the end",
        ),
        Case(
            "the critic's targets, games terminate and one is truncated",
            lambda f: _train(f, "cut"),
            rule="the returns are cut where a game ended (alive False); a truncated game's "
            "step gets gamma times its truncation value added to its reward",
        ),
        Case(
            "the entropy bonus, with a perfect critic (advantage 0) and entropy_coef = 1",
            lambda f: _train(f, "entropy"),
            rule="the entropy bonus rewards exploration: it is subtracted in the total loss, "
            "so that minimising the loss raises the policy's entropy",
        ),
        Case(
            "only the policy term (value_coef = 0, entropy_coef = 0)",
            lambda f: _train(f, "policy only"),
            rule="the advantage is a constant for the policy term: with value_coef = 0 the "
            "critic's head receives no gradient",
        ),
        Case(
            "the policy term and the value loss (value_coef = 1, entropy_coef = 0)",
            lambda f: _train(f, "value only"),
            rule="the returns are targets: no gradient flows through them, nor through the "
            "bootstrap value of the observations after the rollout",
        ),
        Case(
            "a whole update: stale gradients in .grad, a small max_grad_norm",
            lambda f: _train(f, "update"),
            rule="one update: the total loss adds the policy term, the value loss weighted "
            "by value_coef, and minus the entropy weighted by entropy_coef; the old "
            "gradients are cleared, the total loss back-propagated, "
            "the gradients' global norm clipped to config.max_grad_norm, then the optimizer "
            "steps; the grad_norm reported is the norm before clipping",
        ),
    ]
    return check_exercise(
        "train_on_rollout",
        student_fn,
        train_on_rollout,
        [Case(c.name, c.run, c.rule, _compare_update) for c in cases],
        hint="replay the rollout through the network with gradients, as the pool played it "
        "(same starting memory, memory blanked after each game's end), then build the "
        "returns, the advantage and the three loss pieces with your functions, combine them "
        "with the config's coefficients, and take one clipped gradient step.",
        pointer="the total loss L at the end of section 5's equations, the text above this "
        "exercise, and torch.nn.utils.clip_grad_norm_ in PyTorch's documentation",
    )
