"""Checks for lesson 09 (recurrent A2C): the forward step, collecting a rollout from
parallel games with one memory per game, and one training step.

Each ``check_*`` runs the student's code and the reference (the package's own code:
:class:`rlcourse.networks.RecurrentActorCritic`, :func:`rlcourse.rollouts.collect_rollout`,
:func:`rlcourse.agents.a2c.train_on_rollout`) on small cases. :func:`check_collect_rollout`
watches fake games that end at known steps and a stand-in network whose memory counts
steps; :func:`check_train_on_rollout` looks at what one update does to the weights (the
advantage and the bootstrap value are constants for the gradient: the classic A2C bugs).
The policy term and the entropy are lesson 08's (:mod:`rlcourse.course.exercises.reinforce`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rlcourse.agents.a2c import A2CConfig, entropy, train_on_rollout, unroll
from rlcourse.course.exercises.core import (
    Case,
    check_exercise,
    compare_weight_moves,
    describe_difference,
    seeded_global_rngs,
)
from rlcourse.networks import RecurrentActorCritic
from rlcourse.rollouts import Rollout, collect_rollout


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
            elif isinstance(value, np.ndarray):
                text = str(value.tolist())
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
    batch: int = 3,
) -> Any:
    with seeded_global_rngs(seed):  # the default init draws: leave the kernel's RNGs alone
        reference = RecurrentActorCritic(obs_shape, n_actions=5, hidden_size=16)
        agent = agent_class(obs_shape, n_actions=5, hidden_size=16)
    agent.load_state_dict(reference.state_dict())
    generator = torch.Generator().manual_seed(seed)
    if memory == "zeros":
        state = (torch.zeros(batch, 16), torch.zeros(batch, 16))
    else:
        state = (
            torch.randn(batch, 16, generator=generator) * 0.5,
            torch.randn(batch, 16, generator=generator) * 0.5,
        )
    outputs = []
    with torch.no_grad():
        for _ in range(n_steps):
            if frames == "black":
                obs = torch.zeros(batch, *obs_shape, dtype=torch.uint8)
            else:
                obs = torch.randint(
                    0, 256, (batch, *obs_shape), generator=generator, dtype=torch.uint8
                )
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
        Case(
            "a single game (batch of 1)",
            lambda c: _forward(c, size, 2, 5, batch=1),
            rule="the outputs keep their batch axis for a single game too: logits [1, "
            "n_actions], value [1] (remove only the value head's last axis)",
        ),
    ]
    return check_exercise(
        "RecurrentActorCritic.forward",
        student_class,
        RecurrentActorCritic,
        cases,
        hint="the layers are already built in the constructor: the forward step scales the "
        "frames, encodes them through the convolutions and the dense layer, moves the "
        "memory on by one LSTM step, and reads both heads from the new memory.",
        pointer="section 2's equation (the LSTM updates (h, c) from the encoded frame and "
        "the previous memory), torch.nn.LSTMCell's documentation (its input and its "
        "(h, c) pair), and the package's rlcourse.networks.RecurrentActorCritic docstring",
    )


# --- collecting a rollout ----------------------------------------------------------------

_CODE_GAME, _CODE_EPISODE = 80, 20
"""A fake game's observation is filled with one code, ``1 + 80 * game + 20 * episode +
step in the episode``: what was stored, and fed to the network, can be read back."""


class _CountingNetwork(torch.nn.Module):
    """A stand-in recurrent actor-critic whose memory counts: each step adds 1 to ``h`` and
    2 to ``c``, so the memory a step started from tells whether (and when) it was zeroed.

    ``policy="code"``: the action is the observation's code modulo 3, with probability 1;
    ``"coin"``: actions 0 and 1 with probability 1/2 each. The value is the code plus a tenth
    of the new ``h``. Every row it sees is logged: ``(code, h, c)`` of the memory given."""

    def __init__(self, policy: str = "code") -> None:
        super().__init__()
        self.one = torch.nn.Parameter(torch.ones(()))  # outputs carry gradients, as a net's do
        self.policy = policy
        self.seen: dict[int, tuple[float, float]] = {}

    def initial_memory(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(batch_size, 2)
        return zeros, zeros.clone()

    def forward(
        self, observation: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor, torch.Tensor]:
        codes = torch.as_tensor(observation).reshape(observation.shape[0], -1)[:, 0].long()
        h, c = memory
        for code, h_row, c_row in zip(
            codes.tolist(), h[:, 0].tolist(), c[:, 0].tolist(), strict=True
        ):
            self.seen.setdefault(code, (h_row, c_row))
        h, c = h + self.one, c + 2 * self.one
        if self.policy == "coin":
            base = torch.tensor([0.0, 0.0, -1e4]).expand(len(codes), 3)
        else:
            base = torch.where(
                torch.nn.functional.one_hot(codes % 3, 3).bool(),
                torch.tensor(0.0),
                torch.tensor(-1e4),
            )
        value = codes.to(torch.float32) * self.one + 0.1 * h[:, 0]
        return (h, c), base * self.one, value


class _Games:
    """Fake parallel games with Gymnasium's ``SAME_STEP`` autoreset: game ``b`` ends at the
    rollout steps listed in ``terminate[b]`` / ``truncate[b]``. Logs the actions it gets."""

    def __init__(self, n_games: int, terminate: dict, truncate: dict, policy: str) -> None:
        self.n_games, self.terminate, self.truncate = n_games, terminate, truncate
        self.coin = policy == "coin"
        self.episode = [0] * n_games
        self.step_in_episode = [0] * n_games
        self.t = 0
        self.actions: list[np.ndarray] = []

    def code(self, game: int, step: int | None = None) -> int:
        if self.coin:
            return 0
        step = self.step_in_episode[game] if step is None else step
        return 1 + _CODE_GAME * game + _CODE_EPISODE * self.episode[game] + step

    def observations(self) -> np.ndarray:
        codes = [self.code(b) for b in range(self.n_games)]
        return np.array(codes, np.uint8).reshape(-1, 1, 1, 1) * np.ones((1, 1, 2, 2), np.uint8)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        self.actions.append(np.array(actions, copy=True))
        rewards = np.array([self.code(b) / 10 for b in range(self.n_games)], np.float32)
        terminated = np.array([self.t in self.terminate.get(b, ()) for b in range(self.n_games)])
        truncated = np.array([self.t in self.truncate.get(b, ()) for b in range(self.n_games)])
        final = np.empty(self.n_games, dtype=object)
        for b in range(self.n_games):
            self.step_in_episode[b] += 1
            if terminated[b] or truncated[b]:
                final[b] = self.observations()[b]
                self.episode[b] += 1
                self.step_in_episode[b] = 0
        self.t += 1
        info = {"final_obs": final, "_final_obs": terminated | truncated}
        return self.observations(), rewards, terminated, truncated, info


def _codes(observations: np.ndarray) -> np.ndarray:
    array = np.asarray(observations)
    return array.reshape(*array.shape[: array.ndim - 3], -1)[..., 0].astype(np.int64)


def _collect(
    fn: Callable[..., Any],
    n_steps: int,
    terminate: dict | None = None,
    truncate: dict | None = None,
    n_games: int = 3,
) -> _Report:
    """One call of ``collect_rollout`` on fake games; what a correct answer must store."""
    network = _CountingNetwork()
    games = _Games(n_games, terminate or {}, truncate or {}, "code")
    start = games.observations()
    memory = (
        torch.arange(1.0, n_games + 1).mul(10).unsqueeze(1).repeat(1, 2),
        torch.arange(1.0, n_games + 1).mul(10).add(5).unsqueeze(1).repeat(1, 2),
    )
    rollout, new_memory = fn(
        network, games, start, memory, n_steps, torch.Generator().manual_seed(0)
    )
    codes = _codes(rollout.observations)
    fed = np.array([[network.seen.get(int(code), (-1.0, -1.0)) for code in row] for row in codes])
    played = np.stack(games.actions, axis=1) if games.actions else np.zeros((n_games, 0))
    return _Report(
        {
            "observations (their codes)": codes,
            "actions": np.asarray(rollout.actions),
            "the actions stored are the ones the games got": bool(
                np.array_equal(np.asarray(rollout.actions), played)
            ),
            "rewards": np.asarray(rollout.rewards),
            "terminated": np.asarray(rollout.terminated),
            "truncated": np.asarray(rollout.truncated),
            "truncation_values": np.asarray(rollout.truncation_values),
            "next_observations (their codes)": _codes(rollout.next_observations),
            "initial_memory (h, c)": np.stack(
                [np.asarray(_as_numpy(m))[:, 0] for m in rollout.initial_memory], 1
            ),
            "memory each step started from (h, c)": fed,
            "memory returned (h, c)": np.stack(
                [np.asarray(_as_numpy(m))[:, 0] for m in new_memory], 1
            ),
        }
    )


def _as_numpy(value: Any) -> Any:
    return value.detach().numpy() if isinstance(value, torch.Tensor) else value


def _no_gradients(fn: Callable[..., Any]) -> _Report:
    network = _CountingNetwork()
    games = _Games(2, {0: (1,)}, {1: (2,)}, "code")
    memory = (torch.ones(2, 2), torch.ones(2, 2))
    rollout, new_memory = fn(
        network, games, games.observations(), memory, 4, torch.Generator().manual_seed(0)
    )
    tensors = [*rollout.initial_memory, *new_memory]
    return _Report(
        {
            "the memory returned carries no autograd graph": not any(
                isinstance(t, torch.Tensor) and t.requires_grad for t in tensors
            )
        }
    )


def _draws(fn: Callable[..., Any]) -> _Report:
    """A 50/50 policy played twice from the same generator state, the global generators
    moved in between: a correct answer draws from the generator it is given."""
    runs = []
    for global_seed in (1, 2):
        network = _CountingNetwork("coin")
        games = _Games(4, {}, {}, "coin")
        memory = (torch.zeros(4, 2), torch.zeros(4, 2))
        with seeded_global_rngs(global_seed):
            rollout, _ = fn(
                network, games, games.observations(), memory, 100, torch.Generator().manual_seed(7)
            )
        runs.append((np.asarray(rollout.actions), np.stack(games.actions, axis=1)))
    actions = runs[0][0]
    share = float(np.mean(actions == 0))
    return _Report(
        {
            "the same generator state gives the same actions": bool(
                np.array_equal(runs[0][0], runs[1][0])
            ),
            "both actions are played, each in 42% to 58% of 400 draws": bool(
                0.42 <= share <= 0.58 and set(np.unique(actions).tolist()) == {0, 1}
            ),
            "the actions stored are the ones the games got": bool(
                np.array_equal(runs[0][0], runs[0][1])
            ),
        }
    )


def _compare_collect(expected: Any, got: Any) -> str | None:
    """:func:`describe_difference`, saying how the arrays' positions read."""
    difference = describe_difference(expected, got)
    if difference and "first at (" in difference:
        difference += " (positions: game, step; then 0 for h, 1 for c)"
    return difference


def check_collect_rollout(student_fn: Callable[..., Any]) -> Any:
    """Check ``collect_rollout(network, games, observations, memory, n_steps, generator)
    -> (rollout, memory)`` by behaviour, on fake games whose games end at known steps and a
    stand-in network whose memory counts the steps since it was last zeroed."""
    cases = [
        Case(
            "three games, four steps, none ends, from a given memory",
            lambda f: _collect(f, 4),
            rule="step t stores, for every game, the observation it saw before acting, the "
            "action played, and the reward and flags that step returned ([games, steps], in "
            "order); the first step starts from the memory given (kept as initial_memory), "
            "each step's new memory goes into the next step, and the memory after the last "
            "step is returned, with the observations after it as next_observations",
        ),
        Case(
            "games terminate at known steps (game 0 at step 1, game 2 at steps 2 and 3)",
            lambda f: _collect(f, 6, terminate={0: (1,), 2: (2, 3)}),
            rule="after a step that ended a game, that game's memory, h and c, is zeroed "
            "before its next step (the new game starts blank), and only that game's: the "
            "others keep theirs",
        ),
        Case(
            "a game terminates on the rollout's last step",
            lambda f: _collect(f, 3, terminate={1: (2,)}),
            rule="a game that ended on the last step goes on into the next rollout with a "
            "zeroed memory: the memory returned is the one after the zeroing",
        ),
        Case(
            "the memory carried to the next rollout",
            _no_gradients,
            rule="the games are played without recording gradients (training replays the "
            "rollout with them): the memory returned holds no autograd graph",
        ),
        Case(
            "a time limit cuts game 0 at step 1 while game 2 terminates",
            lambda f: _collect(f, 4, terminate={2: (1,)}, truncate={0: (1,), 1: (3,)}),
            rule="a game cut by a time limit is stored as truncated, not terminated (the two "
            "flags stay apart); its memory is zeroed like an ended game's; its "
            "truncation_values entry is the critic's value of its last observation "
            "(info['final_obs']), from its memory before the zeroing; 0 everywhere else",
        ),
        Case(
            "a 50/50 policy, 4 games x 100 steps, twice from the same generator state",
            _draws,
            rule="each action is drawn from the policy's probabilities (the softmax of the "
            "logits), with the generator given: not the most likely action, and not "
            "torch's or NumPy's global generator",
        ),
    ]
    return check_exercise(
        "collect_rollout",
        student_fn,
        collect_rollout,
        [Case(c.name, c.run, c.rule, _compare_collect) for c in cases],
        hint="keep, step after step, the observations and the memory the games are at: "
        "the network gives the new memory and the policy, the games' step the rest; write "
        "each step into the [games, steps] arrays; blank the memory of exactly the games "
        "whose step ended them, before they act again.",
        pointer="section 4's 'Memory' paragraph and the Rollout fields "
        "(rlcourse.rollouts.Rollout), Gymnasium's SAME_STEP autoreset (info['final_obs']), "
        "torch.multinomial's generator argument and torch.no_grad in PyTorch's documentation",
    )


# --- one training step -------------------------------------------------------------------

_OBS_SHAPE = (1, 15, 15)  # the smallest screen three stride-2 3x3 convolutions accept
_N_ACTIONS, _HIDDEN, _GAMES, _STEPS = 4, 8, 3, 5


def _network(seed: int) -> RecurrentActorCritic:
    with seeded_global_rngs(seed):
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
        [Case(c.name, c.run, c.rule, compare_weight_moves) for c in cases],
        hint="replay the rollout through the network with gradients, as the pool played it "
        "(same starting memory, memory blanked after each game's end), then build the "
        "returns, the advantage and the three loss pieces with your functions, combine them "
        "with the config's coefficients, and take one clipped gradient step.",
        pointer="the total loss L at the end of section 5's equations, the text above this "
        "exercise, and torch.nn.utils.clip_grad_norm_ in PyTorch's documentation",
    )
