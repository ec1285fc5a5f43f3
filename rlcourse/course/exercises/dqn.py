"""Checks for lesson 04 (DQN): the epsilon schedule, the TD target, DQN's loss and the
training loop (epsilon-greedy is lesson 01's exercise: the lesson imports the package's).

The references of the first three are the package's own functions
(:mod:`rlcourse.agents.dqn`), called as the student's: same name, same signature. The loop,
:func:`dqn_loop`, is lesson-only (the package's version is :func:`rlcourse.training.train_dqn`
driving :meth:`rlcourse.agents.dqn.DQN.observe`), so its reference lives here. Its check runs
the student's loop on a tiny deterministic corridor (:class:`rlcourse.toy_envs.ChainEnv`)
with spies on the env, the replay memory and the optimizer, and reports which property of
DQN's loop broke, in words.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcourse.agents.dqn import (
    DQNConfig,
    compute_dqn_loss,
    linear_schedule,
    td_target,
)
from rlcourse.buffers import ReplayBuffer, ReplaySample
from rlcourse.course.exercises.core import (
    Case,
    check_exercise,
    compare_reproducible,
    seeded_global_rngs,
)
from rlcourse.networks import MLPQNetwork
from rlcourse.policies import epsilon_greedy
from rlcourse.toy_envs import ChainEnv

# --- linear_schedule ------------------------------------------------------------------------


def check_linear_schedule(student_function: Any) -> Any:
    """Check ``linear_schedule(start, end, duration, step) -> float``."""
    cases = [
        Case(
            "step 0 is the start",
            lambda f: f(1.0, 0.05, 10_000, 0),
            rule="at step 0 the schedule gives its start value",
        ),
        Case(
            "half-way",
            lambda f: f(1.0, 0.05, 10_000, 5_000),
            rule="half-way through the duration the value is half-way between start and end",
        ),
        Case(
            "the end of the decay",
            lambda f: f(1.0, 0.05, 10_000, 10_000),
            rule="when the duration is over the value is the end value",
        ),
        Case(
            "long after the decay it stays at the end",
            lambda f: f(1.0, 0.05, 10_000, 123_456),
            rule="after the duration the value stays at the end value, it does not go past it",
        ),
        Case(
            "another range",
            lambda f: [f(0.5, 0.1, 100, t) for t in (0, 25, 99, 100)],
            rule="the straight line joins (0, start) and (duration, end), whatever they are",
        ),
        Case(
            "a rising schedule (end > start)",
            lambda f: [f(0.0, 1.0, 10, t) for t in (0, 3, 20)],
            rule="a schedule may also rise: the same straight line when end is above start",
        ),
    ]
    return check_exercise(
        "linear_schedule",
        student_function,
        linear_schedule,
        cases,
        hint="the fraction of the duration already done, capped at one, says how far along "
        "the straight line from start to end you are. Mind the argument order: start, end, "
        "duration, then the step.",
        pointer="section 3 of this lesson (the schedule's plot), and the docstring of "
        "rlcourse.agents.dqn.linear_schedule",
    )


_SIGMAS = 5
"""How many standard errors an exploration frequency may stray from its expected value."""


def _fmt(values: Any) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


# --- td_target ------------------------------------------------------------------------------


def check_td_target(student_function: Any) -> Any:
    """Check ``td_target(rewards, next_q_values, terminated, truncated, gamma) -> Tensor``."""
    rewards = torch.tensor([1.0, 0.0, -1.0, 2.0])
    next_q = torch.tensor([[0.5, 1.5], [2.0, -1.0], [0.0, 0.0], [3.0, 4.0]])
    none = torch.zeros(4, dtype=torch.bool)
    cases = [
        Case(
            "no episode ended",
            lambda f: f(rewards, next_q, none, none, 0.99),
            rule="each target is its reward plus gamma times the largest Q-value of its own "
            "next state (the max runs over the actions, one value per transition)",
        ),
        Case(
            "episodes terminated: no bootstrap",
            lambda f: f(rewards, next_q, torch.tensor([True, False, True, False]), none, 0.9),
            rule="a transition that ended by termination must not bootstrap: its target is "
            "its reward alone",
        ),
        Case(
            "a truncated episode still bootstraps",
            lambda f: f(rewards, next_q, none, torch.tensor([False, True, False, True]), 0.9),
            rule="a transition cut by the time limit (truncated) still bootstraps: "
            "truncation must not cut the bootstrap (a time limit is not the end of the world)",
        ),
        Case(
            "terminated and truncated transitions in one batch",
            lambda f: f(
                rewards,
                next_q,
                torch.tensor([True, True, False, False]),
                torch.tensor([False, True, True, False]),
                0.5,
            ),
            rule="only the terminated flag removes the bootstrap, whatever truncated says",
        ),
        Case(
            "gamma = 0",
            lambda f: f(rewards, next_q, none, none, 0.0),
            rule="with gamma = 0 the target is the reward alone",
        ),
    ]
    return check_exercise(
        "td_target",
        student_function,
        td_target,
        cases,
        hint="the target is the reward plus the discounted value of the best next action; "
        "the discounted part is switched off only where the episode terminated. The "
        "truncated flag is passed in on purpose and must not switch it off.",
        pointer="the TD target equation at the top of this lesson, and section 4 "
        "(terminated vs truncated)",
    )


# --- compute_dqn_loss -----------------------------------------------------------------------

_N_ACTIONS = 3


def _networks() -> tuple[nn.Module, nn.Module]:
    """An online and a (different) target network, seeded without touching global RNGs."""
    with seeded_global_rngs(3):
        online = MLPQNetwork(4, _N_ACTIONS, hidden_sizes=(8,))
    with seeded_global_rngs(4):
        target = MLPQNetwork(4, _N_ACTIONS, hidden_sizes=(8,))
    return online, target


def _batch(size: int, terminated: list[bool], truncated: list[bool]) -> ReplaySample:
    rng = np.random.default_rng(size)
    obs = torch.as_tensor(rng.normal(size=(size, 4)), dtype=torch.float32)
    next_obs = torch.as_tensor(rng.normal(size=(size, 4)), dtype=torch.float32)
    actions = torch.as_tensor(np.arange(size) * 2 % _N_ACTIONS, dtype=torch.int64)
    rewards = torch.as_tensor(np.linspace(-2.5, 3.0, size), dtype=torch.float32)  # Huber != MSE
    return ReplaySample(
        obs, actions, rewards, next_obs, torch.tensor(terminated), torch.tensor(truncated)
    )


_NO_END3 = _batch(3, [False] * 3, [False] * 3)  # as many transitions as actions
_ENDS6 = _batch(
    6, [False, True, False, True, False, False], [False, False, True, True, True, False]
)


def _q_taken(f: Any, batch: ReplaySample) -> Any:
    online, target = _networks()
    return f(online, target, batch, 0.9)[1].detach()


def _loss_value(f: Any, batch: ReplaySample, **options: Any) -> float:
    online, target = _networks()
    return float(f(online, target, batch, 0.9, **options)[0].item())


def _gradient_paths(f: Any) -> dict[str, bool]:
    """Where the loss's gradient goes: it must reach the online net only."""
    online, target = _networks()
    obs, actions, rewards, next_obs, terminated, truncated = _ENDS6
    next_obs = next_obs.clone().requires_grad_(True)
    batch = ReplaySample(obs, actions, rewards, next_obs, terminated, truncated)
    loss = f(online, target, batch, 0.9)[0]
    if not loss.requires_grad:
        return {"the online network gets a gradient": False}
    loss.backward()

    def reached(tensors: Any) -> bool:
        return any(t.grad is not None and bool(t.grad.abs().sum() > 0) for t in tensors)

    return {
        "the online network gets a gradient": reached(online.parameters()),
        "gradient flows into the target network": reached(target.parameters()),
        "gradient flows through the next states": reached([next_obs]),
    }


def check_compute_dqn_loss(student_function: Any) -> Any:
    """Check ``compute_dqn_loss(q_network, target_network, batch, gamma, double=False,
    loss="huber") -> (loss, q_taken)`` (plain DQN: only ``double=False`` is checked)."""
    cases = [
        Case(
            "the Q-values of the actions taken",
            lambda f: _q_taken(f, _NO_END3),
            rule="q_taken (the second thing returned) holds, for each transition, the online "
            "network's Q-value of the action taken in it: one value per transition",
        ),
        Case(
            "the loss when no episode ended",
            lambda f: _loss_value(f, _NO_END3),
            rule="the target is the reward plus gamma times the largest target-network "
            "Q-value of the next state (the max runs over the actions of each transition); "
            "the loss is the Huber loss between q_taken and the target, averaged over the "
            "batch",
        ),
        Case(
            "terminated transitions do not bootstrap",
            lambda f: _loss_value(
                f, _batch(6, [False, True, False, True, False, True], [False] * 6)
            ),
            rule="a transition that ended by termination must not bootstrap: its target is "
            "its reward alone",
        ),
        Case(
            "truncated transitions still bootstrap",
            lambda f: _loss_value(
                f, _batch(6, [False] * 6, [True, False, True, False, True, False])
            ),
            rule="a transition cut by the time limit (truncated) still bootstraps from its "
            "next state: only termination removes the bootstrap",
        ),
        Case(
            "terminated and truncated in one batch",
            lambda f: _loss_value(f, _ENDS6),
            rule="only the terminated flag removes the bootstrap, whatever truncated says",
        ),
        Case(
            "no gradient through the target",
            _gradient_paths,
            rule="the TD target is a fixed label: the gradient of the loss must reach the "
            "online network only, never the target network nor the next-state values",
        ),
        Case(
            "loss='mse'",
            lambda f: _loss_value(f, _ENDS6, loss="mse"),
            rule="loss='mse' gives the mean squared error, loss='huber' (the default) the "
            "Huber loss (smooth L1): they differ where an error is larger than 1",
        ),
    ]
    return check_exercise(
        "compute_dqn_loss",
        student_function,
        compute_dqn_loss,
        cases,
        hint="three steps: pick out of the online network's Q-values the one of the action "
        "each transition took; build the TD target from the target network's values of the "
        "next states with your td_target, inside a block where autograd records nothing; "
        "compare the two with the loss that the loss argument names.",
        pointer="the loss equation at the top of this lesson; torch.gather, torch.no_grad, "
        "and torch.nn.functional's smooth_l1_loss and mse_loss",
    )


# --- dqn_loop (lesson-only: the package's loop is rlcourse.training.train_dqn) --------------


def dqn_loop(
    env: gym.Env,
    q_network: nn.Module,
    target_network: nn.Module,
    optimizer: torch.optim.Optimizer,
    buffer: ReplayBuffer,
    total_steps: int,
    rng: np.random.Generator,
    config: DQNConfig,
) -> list[float]:
    """DQN's loop: act, step, store, sample, learn, sync the target. Returns the return of
    every episode that finished, in order."""
    episode_returns, episode_return = [], 0.0
    obs, _ = env.reset(seed=config.seed)
    for step in range(total_steps):
        epsilon = linear_schedule(
            config.epsilon_start, config.epsilon_end, config.exploration_steps, step
        )
        with torch.no_grad():
            q_values = q_network(torch.as_tensor(obs).unsqueeze(0))[0].numpy()
        action = epsilon_greedy(q_values, epsilon, rng)
        next_obs, step_reward, terminated, truncated, _ = env.step(action)
        reward = float(step_reward)
        buffer.add(obs, action, reward, next_obs, terminated, truncated)
        episode_return += reward
        obs = next_obs
        if terminated or truncated:
            episode_returns.append(episode_return)
            episode_return = 0.0
            obs, _ = env.reset()
        if len(buffer) >= config.learning_starts and (step + 1) % config.train_frequency == 0:
            for _ in range(config.gradient_steps):
                batch = ReplaySample(
                    *(torch.as_tensor(x) for x in buffer.sample(config.batch_size))
                )
                loss, _ = compute_dqn_loss(
                    q_network,
                    target_network,
                    batch,
                    config.gamma,
                    double=config.double,
                    loss=config.loss,
                )
                optimizer.zero_grad()
                loss.backward()
                if config.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(q_network.parameters(), config.max_grad_norm)
                optimizer.step()
        if (step + 1) % config.target_update_interval == 0:
            target_network.load_state_dict(q_network.state_dict())
    return episode_returns


def _flat(network: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in network.parameters()]).clone()


class _Recorder:
    """What the spies saw during one run of a loop."""

    def __init__(self, config: DQNConfig) -> None:
        self.config = config
        self.env_steps = 0
        self.transitions: list[tuple[Any, ...]] = []  # from the env
        self.stored: list[tuple[Any, ...]] = []  # given to buffer.add
        self.finished_returns: list[float] = []
        self.actions: list[int] = []
        self.problems: list[str] = []
        self.samples = 0
        self.updates: list[tuple[int, int]] = []  # (env steps so far, transitions stored)
        self.gradient_errors: list[str] = []
        self.target_at_step: list[torch.Tensor] = []
        self.online_at_step: list[torch.Tensor] = []
        self.online_between: list[list[torch.Tensor]] = [[]]
        self.last_batch: Any = None
        self.greedy_online: list[int] = []  # the online network's greedy action, each step
        self.greedy_target: list[int] = []  # the target network's

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


class _SpyEnv(gym.Wrapper):
    def __init__(self, env: gym.Env, log: _Recorder, networks: tuple[nn.Module, nn.Module]):
        super().__init__(env)
        self.log, self.networks = log, networks
        self.current: Any = None
        self.ended = False
        self.episode_return = 0.0

    def reset(self, **kwargs: Any) -> Any:
        obs, info = self.env.reset(**kwargs)
        self.current, self.ended, self.episode_return = np.array(obs), False, 0.0
        return obs, info

    def snapshot(self) -> None:
        online, target = self.networks
        self.log.online_at_step.append(_flat(online))
        self.log.target_at_step.append(_flat(target))
        self.log.online_between.append([])

    def step(self, action: Any) -> Any:
        log = self.log
        self.snapshot()
        if self.current is None:
            log.problem("the env was stepped before its first reset")
        if self.ended:
            log.problem(
                "the env was stepped after its episode had ended, without a reset "
                "(every episode end, terminated or truncated, needs a reset)"
            )
        log.actions.append(int(action))
        if self.current is not None:  # what each network would pick here, greedily
            with torch.no_grad():
                x = torch.as_tensor(self.current, dtype=torch.float32).unsqueeze(0)
                online, target = self.networks
                log.greedy_online.append(int(online(x).argmax()))
                log.greedy_target.append(int(target(x).argmax()))
        obs, reward, terminated, truncated, info = self.env.step(int(action))
        log.transitions.append(
            (
                self.current,
                int(action),
                float(reward),
                np.array(obs),
                bool(terminated),
                bool(truncated),
            )
        )
        log.env_steps += 1
        self.episode_return += float(reward)
        if terminated or truncated:
            self.ended = True
            log.finished_returns.append(self.episode_return)
        self.current = np.array(obs)
        return obs, reward, terminated, truncated, info


class _SpyBuffer:
    def __init__(self, buffer: ReplayBuffer, log: _Recorder) -> None:
        self._buffer, self._log = buffer, log

    def __len__(self) -> int:
        return len(self._buffer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._buffer, name)

    def add(
        self, obs: Any, action: Any, reward: Any, next_obs: Any, terminated: Any, truncated: Any
    ) -> None:
        obs, next_obs = np.array(obs, np.float32), np.array(next_obs, np.float32)
        item = (obs, int(action), float(reward), next_obs, bool(terminated), bool(truncated))
        self._log.stored.append(item)
        self._buffer.add(obs, action, reward, next_obs, terminated, truncated)

    def sample(self, batch_size: int) -> ReplaySample:
        batch = self._buffer.sample(batch_size)
        self._log.samples += 1
        self._log.last_batch = batch
        return batch


class _SpyOptimizer:
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        log: _Recorder,
        networks: tuple[nn.Module, nn.Module],
        buffer: ReplayBuffer,
    ) -> None:
        self._optimizer, self._log, self._networks, self._buffer = optimizer, log, networks, buffer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optimizer, name)

    def zero_grad(self, *args: Any, **kwargs: Any) -> None:
        self._optimizer.zero_grad(*args, **kwargs)

    def step(self, *args: Any, **kwargs: Any) -> Any:
        log, (online, target) = self._log, self._networks
        log.updates.append((log.env_steps, len(self._buffer)))
        log.online_between[-1].append(_flat(online))
        if log.last_batch is None:
            log.gradient_errors.append("an update came before any minibatch was sampled")
        else:
            self._compare_gradient(online, target)
        result = self._optimizer.step(*args, **kwargs)
        log.online_between[-1].append(_flat(online))
        return result

    def _compare_gradient(self, online: nn.Module, target: nn.Module) -> None:
        config, params = self._log.config, list(online.parameters())
        batch = ReplaySample(*(torch.as_tensor(x) for x in self._log.last_batch))
        loss, _ = compute_dqn_loss(
            online, target, batch, config.gamma, double=config.double, loss=config.loss
        )
        expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])
        got = torch.cat(
            [(torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1) for p in params]
        )
        # The gradient itself, or (clipped) scaled down to norm config.max_grad_norm where it
        # is longer. No other factor: the Huber loss's gradient is half the squared error's
        # where every error is below 1, so a free factor would let loss='mse' be ignored.
        factors = [1.0]
        norm = float(expected.norm())
        if config.max_grad_norm is not None and norm > config.max_grad_norm:
            factors.append(config.max_grad_norm / norm)
        if any(torch.allclose(got, f * expected, rtol=1e-4, atol=1e-6) for f in factors):
            return
        self._log.gradient_errors.append(
            "the gradient at an optimizer step is not that of DQN's loss on the minibatch "
            "just sampled (is your compute_dqn_loss called on it, with config's gamma and "
            "loss, and are the gradients zeroed before each backward pass?)"
        )


class _Report:
    """What a loop did, as the spies saw it; ``problems`` lists the broken properties."""

    def __init__(self, summary: str, problems: list[str]) -> None:
        self.summary, self.problems = summary, problems

    def __repr__(self) -> str:
        return self.summary


def _report_difference(expected: Any, got: Any) -> str | None:
    if not isinstance(got, _Report):
        return repr(got)
    return "; ".join(got.problems) or None


def _loop_config(**overrides: Any) -> DQNConfig:
    values: dict[str, Any] = {
        "gamma": 0.9,
        "lr": 1e-2,
        "batch_size": 8,
        "buffer_size": 2_000,
        "learning_starts": 16,
        "train_frequency": 2,
        "gradient_steps": 2,
        "target_update_interval": 5,
        "epsilon_start": 1.0,
        "epsilon_end": 0.05,
        "exploration_steps": 40,
        "max_grad_norm": 10.0,
        "hidden_sizes": (8,),
        "seed": 0,
        "device": "cpu",
    }
    values.update(overrides)
    return DQNConfig(**values)


def _make_constant(network: nn.Module, q_values: tuple[float, float]) -> None:
    """The same Q-values in every state (every weight 0, the last bias ``q_values``)."""
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.zero_()
        list(network.parameters())[-1].copy_(torch.tensor(q_values))


def _run_loop(
    loop: Any,
    config: DQNConfig,
    total_steps: int,
    n_states: int = 4,
    max_steps: int = 6,
    constant_q: bool = False,
    target_q: tuple[float, float] | None = None,
    rng_seed: int = 2,
    global_seed: int = 0,
) -> tuple[_Recorder, Any]:
    """Run ``loop`` on the spied corridor. ``constant_q``: the online network starts with
    Q = (0, 1) in every state (action 1 greedy); ``target_q``: the target network starts
    constant at these values instead of as a copy of the online one; ``rng_seed``: the
    seed of the generator given to the loop; ``global_seed``: NumPy's, Python's and
    torch's global generators are seeded with it while the loop runs (then put back)."""
    log = _Recorder(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        online = MLPQNetwork(n_states, 2, hidden_sizes=config.hidden_sizes)
        if constant_q:
            _make_constant(online, (0.0, 1.0))
        target = MLPQNetwork(n_states, 2, hidden_sizes=config.hidden_sizes)
        target.load_state_dict(online.state_dict())
        if target_q is not None:
            _make_constant(target, target_q)
        env = _SpyEnv(ChainEnv(n_states=n_states, max_steps=max_steps), log, (online, target))
        inner = ReplayBuffer(config.buffer_size, (n_states,), rng=np.random.default_rng(1))
        buffer = _SpyBuffer(inner, log)
        optimizer = _SpyOptimizer(
            torch.optim.Adam(online.parameters(), lr=config.lr), log, (online, target), inner
        )
        with seeded_global_rngs(global_seed):
            returned = loop(
                env,
                online,
                target,
                optimizer,
                buffer,
                total_steps,
                np.random.default_rng(rng_seed),
                config,
            )
        env.snapshot()  # the networks as the loop left them
    return log, returned


def _summary(returned: Any) -> str:
    if isinstance(returned, (list, tuple, np.ndarray)):
        return f"{len(returned)} episode returns"
    return f"a {type(returned).__name__}"


def _transitions_report(loop: Any) -> _Report:
    config = _loop_config()
    log, returned = _run_loop(loop, config, total_steps=80)
    problems = list(log.problems)
    if len(log.stored) != log.env_steps:
        problems.append(
            f"the env was stepped {log.env_steps} times but {len(log.stored)} "
            "transitions were stored: store exactly one per env step"
        )
    fields = [
        "observation (the one the action was taken in)",
        "action",
        "reward",
        "next observation",
        "terminated flag",
        "truncated flag",
    ]
    for index, (stored, real) in enumerate(zip(log.stored, log.transitions, strict=False)):
        for name, s, r in zip(fields, stored, real, strict=True):
            same = np.allclose(s, r) if isinstance(r, np.ndarray) else s == r
            if not same:
                extra = ""
                if name in ("terminated flag", "truncated flag"):
                    extra = " (store the two flags separately, as the env gave them)"
                if name == "next observation" and (real[4] or real[5]):
                    extra = (
                        " at an episode end: store the episode's last observation, not "
                        "the one the reset returned"
                    )
                problems.append(f"transition {index} was stored with the wrong {name}{extra}")
                break
        else:
            continue
        break
    if not isinstance(returned, (list, tuple, np.ndarray)):
        problems.append(f"the loop must return a list of episode returns, got {_summary(returned)}")
    elif not problems and (
        len(returned) != len(log.finished_returns)
        or not np.allclose(np.asarray(returned, float), log.finished_returns)
    ):
        problems.append(
            f"the loop returned {_fmt(returned)}, but the episodes that finished "
            f"returned {_fmt(log.finished_returns)}: one return (the sum of the "
            "episode's rewards) per finished episode, in order"
        )
    return _Report(_summary(returned), problems)


def _exploration_report(loop: Any) -> _Report:
    decay, total = 800, 1200
    config = _loop_config(
        exploration_steps=decay, epsilon_end=0.0, learning_starts=1_500, buffer_size=2_000
    )
    log, returned = _run_loop(
        loop, config, total_steps=total, n_states=6, max_steps=20, constant_q=True
    )
    problems = list(log.problems)
    greedy = np.asarray(log.actions) == 1
    if len(greedy) != total:
        return _Report(
            _summary(returned),
            [*problems, f"the env was stepped {len(greedy)} times, expected total_steps = {total}"],
        )
    for first, last in ((0, decay // 2), (decay // 2, decay), (decay + 1, total)):
        steps = np.arange(first, last)
        eps = np.array([linear_schedule(1.0, 0.0, decay, int(t)) for t in steps])
        p = 1.0 - eps / 2  # two actions: a random one is the greedy one half of the time
        expected, spread = p.mean(), _SIGMAS * np.sqrt((p * (1 - p)).sum()) / len(steps)
        got = greedy[first:last].mean()
        if abs(got - expected) > spread + 1.5 / len(steps):
            problems.append(
                f"in steps {first}-{last - 1} (epsilon from {eps[0]:.2f} to {eps[-1]:.2f}) the "
                f"greedy action was taken {got:.3f} of the time, expected {expected:.3f} "
                f"(+- {spread:.3f}, {_SIGMAS} standard errors): act at random with probability "
                "epsilon, greedily otherwise, with epsilon decaying from epsilon_start to "
                "epsilon_end over exploration_steps env steps"
            )
            break
    return _Report(_summary(returned), problems)


def _updates_report(loop: Any) -> _Report:
    # loss="mse": a loop that leaves config.loss out (the default is Huber) shows here.
    config = _loop_config(
        learning_starts=20,
        train_frequency=4,
        gradient_steps=2,
        target_update_interval=1_000,
        loss="mse",
    )
    total = 60
    log, returned = _run_loop(loop, config, total_steps=total)
    problems = list(log.problems)
    early = [stored for _, stored in log.updates if stored < config.learning_starts]
    expected_rounds = sum(
        1
        for t in range(1, total + 1)
        if t >= config.learning_starts and t % config.train_frequency == 0
    )
    rounds: dict[int, int] = {}
    for step, _ in log.updates:
        rounds[step] = rounds.get(step, 0) + 1
    steps = sorted(rounds)
    gaps = set(np.diff(steps).tolist())
    if early:
        problems.append(
            f"an update came when the replay memory held {early[0]} transitions: "
            f"no update before it holds learning_starts = {config.learning_starts}"
        )
    elif not log.updates:
        problems.append(
            "the optimizer never stepped: after learning_starts transitions, "
            "update every train_frequency env steps"
        )
    elif gaps - {config.train_frequency} or abs(len(steps) - expected_rounds) > 1:
        problems.append(
            f"updates came after env steps {steps[:8]}{'...' if len(steps) > 8 else ''}"
            f": expected a round of updates every train_frequency = "
            f"{config.train_frequency} env steps once learning starts"
        )
    elif set(rounds.values()) != {config.gradient_steps}:
        problems.append(
            f"rounds of {sorted(set(rounds.values()))} updates, expected "
            f"gradient_steps = {config.gradient_steps} per round"
        )
    elif log.gradient_errors:
        problems.append(log.gradient_errors[0])
    elif log.samples != len(log.updates):
        problems.append(
            f"{log.samples} minibatches sampled for {len(log.updates)} updates: "
            "sample a fresh minibatch of batch_size for every gradient step"
        )
    return _Report(_summary(returned), problems)


def _target_report(loop: Any) -> _Report:
    # 3 gradient steps every 2 env steps: a sync counted in gradient steps (or in rounds of
    # updates) comes at other env steps than one counted in env steps.
    config = _loop_config(
        learning_starts=8, train_frequency=2, gradient_steps=3, target_update_interval=5
    )
    total = 60
    log, returned = _run_loop(loop, config, total_steps=total)
    problems = list(log.problems)
    syncs = []
    targets, onlines = log.target_at_step, log.online_at_step
    for k in range(1, len(targets)):
        if torch.equal(targets[k], targets[k - 1]):
            continue
        candidates = [onlines[k - 1], *log.online_between[k], onlines[k]]
        if not any(torch.allclose(targets[k], c, rtol=1e-6, atol=1e-7) for c in candidates):
            problems.append(
                "the target network changed without becoming a copy of the online network"
            )
            break
        syncs.append(k)  # after k env steps
    first_update = log.updates[0][0] if log.updates else total
    interval = config.target_update_interval
    expected = len(range(first_update + interval, total + 1, interval))
    if problems:
        pass
    elif not syncs:
        problems.append(
            "the target network was never synced with the online network: copy "
            f"it every target_update_interval = {interval} env steps"
        )
    elif set(np.diff(syncs).tolist()) - {interval} or len(syncs) < expected:
        problems.append(
            f"the target network was synced after env steps {syncs[:8]}"
            f"{'...' if len(syncs) > 8 else ''}: expected a copy every "
            f"target_update_interval = {interval} env steps"
        )
    return _Report(_summary(returned), problems)


def _acting_report(loop: Any) -> _Report:
    """Greedy actions (epsilon = 0) while learning runs, the target network different from
    the online one (its greedy action is 0 everywhere, the online network's 1): the loop
    must act on the online network's Q-values."""
    config = _loop_config(
        epsilon_start=0.0,
        epsilon_end=0.0,
        learning_starts=10,
        train_frequency=1,
        gradient_steps=1,
        target_update_interval=1_000,
    )
    total = 40
    log, returned = _run_loop(loop, config, total, constant_q=True, target_q=(1.0, 0.0))
    problems = list(log.problems)
    if len(log.actions) != total:
        problems.append(f"the env was stepped {len(log.actions)} times, expected {total}")
        return _Report(_summary(returned), problems)
    steps = list(zip(log.actions, log.greedy_online, log.greedy_target, strict=False))
    disagree = [
        (t, action, target) for t, (action, online, target) in enumerate(steps) if online != target
    ]
    followed = [t for t, action, target in disagree if action == target]
    learning = sum(1 for t in followed if t >= config.learning_starts)
    if disagree and len(followed) > len(disagree) / 2:
        problems.append(
            f"with epsilon = 0, in {len(followed)} of the {len(disagree)} steps where the "
            "online and the target network disagreed about the greedy action "
            f"({learning} of them after learning had started), the loop took the target "
            "network's: act on the online network's Q-values (the network being trained); "
            "the target network only computes the TD targets"
        )
    return _Report(_summary(returned), problems)


_RNG_STEPS = 60


def _actions_of_a_run(loop: Any, rng_seed: int, global_seed: int) -> list[int]:
    config = _loop_config(
        epsilon_start=0.5, epsilon_end=0.5, learning_starts=1_000, buffer_size=2_000
    )
    log, _ = _run_loop(loop, config, _RNG_STEPS, rng_seed=rng_seed, global_seed=global_seed)
    return log.actions


def _rng_report(loop: Any) -> dict[str, bool]:
    first = _actions_of_a_run(loop, rng_seed=2, global_seed=1)
    return {
        "same": first == _actions_of_a_run(loop, rng_seed=2, global_seed=2),
        "other": first != _actions_of_a_run(loop, rng_seed=3, global_seed=1),
    }


def check_dqn_loop(student_function: Any) -> Any:
    """Check ``dqn_loop(env, q_network, target_network, optimizer, buffer, total_steps, rng,
    config) -> list of episode returns`` by spying on what it does to a tiny corridor env."""
    cases = [
        Case(
            "one transition stored per env step",
            _transitions_report,
            rule="each env step stores one transition (the observation the action was taken "
            "in, the action, the reward, the next observation, terminated and truncated kept "
            "separate); every episode end (terminated or truncated) is followed by a reset; "
            "the loop returns the return of each finished episode",
            compare=_report_difference,
        ),
        Case(
            "epsilon-greedy actions on the schedule",
            _exploration_report,
            rule="each action is random with probability epsilon and greedy otherwise, epsilon "
            "following the linear schedule from epsilon_start to epsilon_end over "
            "exploration_steps env steps",
            compare=_report_difference,
        ),
        Case(
            "exploration draws from the generator given",
            _rng_report,
            rule="every random draw of the loop (the coin of epsilon-greedy, the random "
            "action) comes from the generator rng given: two runs given generators in the "
            "same state act the same",
            compare=compare_reproducible(
                "actions",
                f"{_RNG_STEPS} env steps with epsilon = 0.5",
                "NumPy's global np.random, Python's random module, env.action_space.sample(), "
                "or a generator made inside your loop?",
            ),
        ),
        Case(
            "greedy actions come from the online network",
            _acting_report,
            rule="the greedy action is the one of largest Q-value under the online network "
            "(the one being trained), also once learning has started and the target network "
            "lags behind it",
            compare=_report_difference,
        ),
        Case(
            "when and how the network learns",
            _updates_report,
            rule="no update before the memory holds learning_starts transitions; then a round "
            "of gradient_steps updates every train_frequency env steps, each on a fresh "
            "minibatch, its gradient that of your compute_dqn_loss with the config's gamma and "
            "loss (clipped to max_grad_norm where it is longer)",
            compare=_report_difference,
        ),
        Case(
            "the target network is synced",
            _target_report,
            rule="every target_update_interval env steps (env steps, not gradient steps nor "
            "rounds of updates) the target network becomes a copy of the online network, and "
            "changes at no other time",
            compare=_report_difference,
        ),
    ]
    return check_exercise(
        "dqn_loop",
        student_function,
        dqn_loop,
        cases,
        hint="per env step: epsilon from the schedule, an epsilon-greedy action from the "
        "online network's Q-values, drawn with the generator rng given, one env step, one "
        "stored transition, a reset when the episode ends; once the memory holds enough "
        "transitions, every few steps sample minibatches and take gradient steps on DQN's "
        "loss; every so many steps copy the online network into the target network. Count "
        "the env steps once and use that count "
        "for all three schedules.",
        pointer="the fields of rlcourse.agents.dqn.DQNConfig (their docstrings say what each "
        "one counts), the replay memory's add and sample, and the state_dict and "
        "load_state_dict methods of a torch module",
    )
