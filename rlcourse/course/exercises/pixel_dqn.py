"""Checks for lesson 05 (pixel DQN): the Nature CNN on stacked uint8 frames, the training
env's preprocessing pipeline, the evaluation protocol, and DQN's gradient step on frames.

The references are the package's own (:class:`rlcourse.networks.NatureCNN`,
:func:`rlcourse.envs.make_atari_env`, :func:`rlcourse.evaluation.evaluate`,
:func:`rlcourse.agents.dqn.dqn_gradient_step`), called as the student's.

The network check compares behaviour, not code: both networks get the same weights, layer
by layer (matched by shape, so any names and any order of definition pass), and must give
the same Q-values. With weights where every ReLU is active, the check sees the pixel scaling
alone; with signed weights, the ReLUs too.

The gradient step's check spies on what a step does to a small Nature CNN (2 frames of
36x36, 3 actions): the frames the networks are given, the gradient in the online network
when the optimizer steps, the target network's gradients and weights, what it returns.

The env check plays the same seeded games with the same actions on the student's env and on
the course's, and compares frames, rewards and episode ends: any order of wrappers that
behaves the same passes. The course's rollouts are played once per process (cached).
"""

from __future__ import annotations

import contextlib
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from rlcourse.agents.dqn import compute_dqn_loss, dqn_gradient_step
from rlcourse.buffers import ReplaySample
from rlcourse.course.exercises.core import (
    Case,
    ReturnedNone,
    check_exercise,
    seeded_global_rngs,
)
from rlcourse.envs import make_atari_env
from rlcourse.errors import TrainingDivergedError
from rlcourse.evaluation import evaluate
from rlcourse.networks import NatureCNN

GAME = "ALE/MsPacman-v5"
FIRE_GAME = "ALE/Breakout-v5"

# --- the Nature CNN ---------------------------------------------------------------------

_UNCHECKED = "no torch.nn.Conv2d modules: not checked"


def _build(cls: Any, obs_shape: tuple[int, int, int] = (4, 84, 84), n_actions: int = 9) -> Any:
    import torch

    with seeded_global_rngs(0):  # the default init draws: leave the kernel's RNGs alone
        net = cls(obs_shape=obs_shape, n_actions=n_actions)
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"NatureCNN(...) made a {type(net).__name__}, not a torch.nn.Module")
    net.eval()
    # Materialise lazy layers (torch.nn.LazyLinear) before counting parameters.
    with contextlib.suppress(Exception):
        _forward(net, np.zeros((1, *obs_shape), dtype=np.uint8))
    return net


def _forward(net: Any, frames: np.ndarray) -> Any:
    import torch

    with torch.no_grad():
        out = net(torch.as_tensor(frames))
    if out is None:
        raise ReturnedNone()
    return out


def _frames(batch: int, obs_shape: tuple[int, ...] = (4, 84, 84), value: int | None = None) -> Any:
    if value is not None:
        return np.full((batch, *obs_shape), value, dtype=np.uint8)
    return np.random.default_rng(batch).integers(0, 256, (batch, *obs_shape), dtype=np.uint8)


def _set_weights(net: Any, positive: bool) -> None:
    """The same weights in any network with the Nature CNN's layers: each parameter's values
    follow from its shape alone (two biases of 64 get the same values, whichever is which).
    ``positive``: weights >= 0 and biases > 0, so on pixels >= 0 every ReLU is active."""
    import torch

    with torch.no_grad():
        for parameter in net.parameters():
            shape = tuple(parameter.shape)
            rng = np.random.default_rng(zlib.crc32(repr((shape, positive)).encode()))
            if len(shape) >= 2:
                fan_in = int(np.prod(shape[1:]))
                values = (
                    rng.uniform(0, 2 / fan_in, shape)
                    if positive
                    else rng.normal(0, 1 / np.sqrt(fan_in), shape)
                )
            else:
                values = (
                    rng.uniform(0.01, 0.1, shape) if positive else rng.uniform(-0.1, 0.1, shape)
                )
            parameter.copy_(torch.as_tensor(values, dtype=parameter.dtype))


def _conv_output_shapes(cls: Any) -> Any:
    import torch

    net = _build(cls)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        return _UNCHECKED
    shapes: list[tuple[int, ...]] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:]))) for m in convs
    ]
    try:
        _forward(net, _frames(1, value=0))
    except ReturnedNone:
        raise
    except Exception:
        if len(shapes) < len(convs):  # it failed inside the convolutions: say so
            raise
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def _compare_conv_shapes(expected: Any, got: Any) -> str | None:
    if got == _UNCHECKED or list(got) == list(expected):
        return None

    def text(shapes: Any) -> str:
        return ", ".join("x".join(str(d) for d in shape) for shape in shapes) or "none"

    return f"the course's convolutions output {text(expected)}; yours output {text(got)}"


def _output(cls: Any) -> Any:
    out = _forward(_build(cls), _frames(2, value=0))
    return tuple(out.shape), bool(out.dtype.is_floating_point)


def _parameter_shapes(cls: Any, obs_shape: Any = (4, 84, 84), n_actions: int = 9) -> Any:
    return Counter(tuple(p.shape) for p in _build(cls, obs_shape, n_actions).parameters())


def _compare_parameters(expected: Counter, got: Counter) -> str | None:
    if got == expected:
        return None

    def count(shapes: Counter) -> int:
        return sum(int(np.prod(shape)) * n for shape, n in shapes.items())

    def text(shapes: Counter) -> str:
        return (
            ", ".join(
                f"{'x'.join(map(str, s))}" + (f" (x{n})" if n > 1 else "")
                for s, n in sorted(shapes.items())
            )
            or "none"
        )

    return (
        f"{count(got):,} parameters, expected {count(expected):,}; parameter shapes "
        f"the course's network has and yours lacks: {text(expected - got)}; "
        f"shapes yours has in excess: {text(got - expected)}"
    )


def _q_values(cls: Any, positive: bool) -> Any:
    net = _build(cls)
    _set_weights(net, positive)
    frames = [_frames(1, value=0), _frames(1, value=255), _frames(3)]
    return [np.asarray(_forward(net, x), dtype=np.float64) for x in frames]


def _close(expected: np.ndarray, got: np.ndarray) -> bool:
    scale = max(1.0, float(np.abs(expected).max()))
    return expected.shape == got.shape and bool(
        np.allclose(got, expected, rtol=1e-4, atol=1e-5 * scale)
    )


def _compare_scaling(expected: Any, got: Any) -> str | None:
    if all(_close(e, g) for e, g in zip(expected, got, strict=True)):
        return None
    (e0, e255, _), (g0, g255, _) = expected, got
    if e0.shape != g0.shape:
        return f"Q-values of shape {g0.shape}, expected {e0.shape}"
    ratio = float(np.mean((g255 - g0) / (e255 - e0)))
    if _close(e0, g0) and abs(ratio / 255 - 1) < 0.01:
        return (
            "on a black frame your Q-values are right, but a white frame (all 255) moves "
            "them 255 times as much as the course's: the pixels do not seem to be "
            "divided by 255"
        )
    if _close(e0, g0) and abs(ratio * 255 - 1) < 0.01:
        return (
            "on a black frame your Q-values are right, but a white frame (all 255) moves "
            "them 255 times less than the course's: the pixels seem to be divided by 255 "
            "twice"
        )
    return (
        f"for a black, a white and random frames, Q-values {np.round(e0.ravel()[:4], 4)} "
        f"... were expected on the black one, yours are {np.round(g0.ravel()[:4], 4)} ..."
    )


def _compare_q(expected: Any, got: Any) -> str | None:
    if all(_close(e, g) for e, g in zip(expected, got, strict=True)):
        return None
    e, g = expected[2], got[2]
    if e.shape != g.shape:
        return f"Q-values of shape {g.shape}, expected {e.shape}"
    return (
        f"on random frames the course's network gives Q-values starting "
        f"{np.round(e[0, :4], 4)}, yours {np.round(g[0, :4], 4)}"
    )


def _other_sizes(cls: Any) -> Any:
    # Not square: a flattened size worked out from the height alone (or the width) differs.
    obs_shape, n_actions = (2, 72, 64), 5
    out = _forward(_build(cls, obs_shape, n_actions), _frames(3, obs_shape))
    count = sum(
        int(np.prod(s)) * n for s, n in _parameter_shapes(cls, obs_shape, n_actions).items()
    )
    return {"output shape": tuple(out.shape), "parameters": count}


def check_nature_cnn(student_class: Any) -> Any:
    """Check ``NatureCNN(obs_shape=(4, 84, 84), n_actions=18, dueling=False)`` (a
    ``torch.nn.Module``; only ``dueling=False`` is checked): layers, outputs, pixel scaling."""
    cases = [
        Case(
            "the convolutions' outputs for one (4, 84, 84) observation",
            _conv_output_shapes,
            rule="without padding, conv1 (32 filters 8x8, stride 4) makes 84x84 into 20x20, "
            "conv2 (64 filters 4x4, stride 2) makes it 9x9 and conv3 (64 filters 3x3, "
            "stride 1) makes it 7x7",
            compare=_compare_conv_shapes,
        ),
        Case(
            "a batch of 2 uint8 observations, 9 actions: the output",
            _output,
            rule="the network takes a batch of uint8 frames and gives one floating-point "
            "Q-value per action for each observation of the batch",
        ),
        Case(
            "the parameters (4 frames, 9 actions)",
            _parameter_shapes,
            rule="the Nature CNN's layers and nothing else: three convolutions with biases, "
            "a 512-unit dense layer on the last convolution's output flattened "
            "(64 x 7 x 7 values per observation), and one output per action",
            compare=_compare_parameters,
        ),
        Case(
            "the pixel scaling: Q-values for a black, a white and random frames, "
            "with the course's network's weights (all positive)",
            lambda c: _q_values(c, positive=True),
            rule="the network takes pixels from 0 to 255 and divides them by 255 itself, "
            "exactly once, so a white pixel counts as 1.0",
            compare=_compare_scaling,
        ),
        Case(
            "the Q-values for random frames, with the course's network's weights "
            "(positive and negative)",
            lambda c: _q_values(c, positive=False),
            rule="with the same weights, the same Q-values: a ReLU after each convolution and "
            "after the 512-unit layer, none after the output layer, and each "
            "observation's features flattened on their own",
            compare=_compare_q,
        ),
        Case(
            "other arguments: obs_shape=(2, 72, 64), n_actions=5, a batch of 3",
            _other_sizes,
            rule="the network is built from its arguments: the number of stacked frames is "
            "conv1's input channels, the frame size sets the flattened size of the last "
            "convolution's output (work it out from obs_shape, one side at a time), "
            "n_actions is the number of outputs",
        ),
    ]
    return check_exercise(
        "NatureCNN",
        student_class,
        NatureCNN,
        cases,
        hint="follow the table of section 2 layer by layer: each convolution followed by a "
        "ReLU, then the features of each observation flattened into one vector, the 512-unit "
        "dense layer with its ReLU, and a last dense layer with one output per action. The "
        "frames arrive as bytes: make them floats and divide by 255 at the start of the "
        "forward pass, once.",
        pointer="the table in section 2 (kernels, strides, output sizes), "
        "rlcourse.networks.conv_output_size for one side of a convolution's output, and "
        "torch.nn.Conv2d, torch.nn.Flatten and torch.nn.Linear in the PyTorch documentation",
    )


# --- the training env --------------------------------------------------------------------


class Rollout(NamedTuple):
    """What an env showed over a fixed sequence of actions."""

    space: Any
    first_obs: Any
    frame_sums: Any
    rewards: Any
    episode_ends: Any
    lives_at_ends: Any


def _rollout(env: Any, steps: int = 400, seed: int = 3) -> Rollout:
    if not hasattr(env, "step") or not hasattr(env, "observation_space"):
        return Rollout(f"a {type(env).__name__}, not a Gymnasium env", *[None] * 5)
    space = (tuple(env.observation_space.shape), str(env.observation_space.dtype))
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=steps)
    obs, _ = env.reset(seed=seed)
    first = np.asarray(obs)
    sums, rewards, ends, lives = [], [], [], []
    for t, action in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(int(action))
        sums.append(int(np.asarray(obs, dtype=np.int64).sum()))
        rewards.append(float(reward))
        if terminated or truncated:
            ends.append(t)
            lives.append(int(info.get("lives", -1)))
            obs, _ = env.reset()
    env.close()
    return Rollout(
        space,
        first,
        np.array(sums),
        np.array(rewards),
        np.array(ends, dtype=int),
        np.array(lives, dtype=int),
    )


_REFERENCE_ROLLOUTS: dict[str, Rollout] = {}
"""The course's rollouts, played once per process: a check re-run costs only the student's."""


def _player(make: Callable[[Any], Any], key: str) -> Callable[[Any], Rollout]:
    """``play(f)``: the rollout of the env ``make(f)``, played once per implementation ``f``
    however many cases look at it (an Atari rollout takes about half a second)."""
    played: dict[Any, Rollout] = {}

    def play(f: Any) -> Rollout:
        if f is make_atari_env:
            if key not in _REFERENCE_ROLLOUTS:
                _REFERENCE_ROLLOUTS[key] = _rollout(make(f))
            return _REFERENCE_ROLLOUTS[key]
        if f not in played:
            played[f] = _rollout(make(f))
        return played[f]

    return play


def _first_render_shape(env: Any) -> Any:
    env.reset(seed=0)
    frame = env.render()
    env.close()
    return None if frame is None else np.shape(frame)


def _compare_ends(expected: Any, got: Any) -> str | None:
    (e_ends, e_lives), (g_ends, g_lives) = expected, got
    if g_ends is None:
        return f"your function returned {g_lives!r}" if g_lives else "not a Gymnasium env"
    if np.array_equal(e_ends, g_ends) and np.array_equal(e_lives, g_lives):
        return None

    def text(ends: Any, lives: Any) -> str:
        if len(ends) == 0:
            return "no episode ended"
        return "episodes ended at steps " + ", ".join(
            f"{t} ({n} lives left)" for t, n in zip(ends, lives, strict=True)
        )

    return f"on your env {text(g_ends, g_lives)}; on the course's {text(e_ends, e_lives)}"


def _ends(rollout: Rollout) -> Any:
    if rollout.episode_ends is None:
        return None, rollout.space
    return rollout.episode_ends, rollout.lives_at_ends


def _env_cases(make: Callable[[Any], Any], what: str, key: str) -> list[Case]:
    """Cases that play ``make(f)``: the env an implementation ``f`` makes for ``what``."""
    play = _player(make, key)
    # Most telling first: the reset, then a missing wrapper shows in episode ends or rewards
    # before it shows in the frames.
    return [
        Case(
            f"{what}: the observation space (shape, dtype)",
            lambda f: play(f).space,
            rule="observations are 4 stacked 84x84 gray frames of uint8",
        ),
        Case(
            f"{what}: the first observation after reset(seed=3)",
            lambda f: play(f).first_obs,
            rule="a reset starts with a random number (up to 30) of no-ops, each one frame, "
            "and the observation stacks the last 4 processed frames",
        ),
        Case(
            f"{what}: the steps at which episodes end, and the lives left then",
            lambda f: _ends(play(f)),
            compare=_compare_ends,
            rule="in training (episodic_life=True) a lost life ends the episode, and the "
            "game goes on from there at the next reset",
        ),
        Case(
            f"{what}: the rewards over 400 steps",
            lambda f: play(f).rewards,
            rule="in training (clip_rewards=True) every reward is clipped to -1, 0 or +1",
        ),
        Case(
            f"{what}: the frames over 400 steps (sum of each stacked observation)",
            lambda f: play(f).frame_sums,
            rule="each step repeats the action on 4 emulator frames and keeps the max of the "
            "last two; the stack holds the last 4 such steps, each made gray 84x84",
        ),
    ]


def _outcome_cases(make: Callable[[Any], Any], what: str, key: str, rule: str) -> list[Case]:
    """The episode ends and rewards of ``make(f)``: what the training aids change."""
    play = _player(make, key)
    return [
        Case(
            f"{what}: the steps at which episodes end, and the lives left then",
            lambda f: _ends(play(f)),
            compare=_compare_ends,
            rule=rule,
        ),
        Case(f"{what}: the rewards over 400 steps", lambda f: play(f).rewards, rule=rule),
    ]


def check_make_atari_env(student_function: Any) -> Any:
    """Check ``make_atari_env(env_id, *, episodic_life=True, clip_rewards=True,
    render_mode=None) -> env``: the DQN papers' pipeline, in order, with its training aids."""
    play_fire = _player(lambda f: f(FIRE_GAME), FIRE_GAME)
    cases = [
        *_env_cases(lambda f: f(GAME), f"make_atari_env({GAME!r})", GAME),
        *_outcome_cases(
            lambda f: f(GAME, episodic_life=False),
            "episodic_life=False",
            "no-life",
            rule="with episodic_life=False an episode is the whole "
            "game (all lives), with clipped rewards",
        ),
        *_outcome_cases(
            lambda f: f(GAME, clip_rewards=False),
            "clip_rewards=False",
            "no-clip",
            rule="with clip_rewards=False the rewards are the game's "
            "real points, and a lost life still ends the episode",
        ),
        Case(
            f"{FIRE_GAME!r}, a game that waits for FIRE: the steps at which episodes end",
            lambda f: _ends(play_fire(f)),
            compare=_compare_ends,
            rule="in a game whose action 1 is FIRE, FIRE is pressed at every reset, also "
            "the resets after a lost life",
        ),
        Case(
            f"{FIRE_GAME!r}: the frames over 400 steps",
            lambda f: play_fire(f).frame_sums,
            rule="in a game whose action 1 is FIRE, FIRE is pressed at every reset, also "
            "the resets after a lost life",
        ),
        Case(
            "render_mode='rgb_array': the frame render() shows",
            lambda f: _first_render_shape(f(GAME, render_mode="rgb_array")),
            rule="render_mode reaches the game itself, which renders full-colour 210x160 "
            "frames for videos",
        ),
    ]
    return check_exercise(
        "make_atari_env",
        student_function,
        make_atari_env,
        cases,
        hint="think about what each wrapper needs to see: the max over two frames needs the "
        "emulator's consecutive frames, a lost life is a fact of the game (not of the "
        "processed frames), the stack must hold the frames the agent decides on, small and "
        "gray. Each training aid is there only when its flag is on.",
        pointer="the table of wrappers in section 1 (what each one does), the docstrings of "
        "rlcourse.wrappers (NoopReset, MaxAndSkip, EpisodicLife, FireReset, ProcessFrame84, "
        "ClipReward, FrameStack), and lesson 02",
    )


# --- the evaluation protocol ---------------------------------------------------------------


class _ToyGame:
    """A tiny deterministic game: its length and rewards follow from the reset's seed and
    the actions; it records the seeds it was reset with and refuses a step after the end."""

    def __init__(self, truncate: bool = False) -> None:
        self.truncate = truncate
        self.seeds: list[Any] = []
        self.done = True
        self.action_space = None

    def reset(self, *, seed: Any = None, options: Any = None) -> Any:
        self.seeds.append(seed)
        base = 0 if seed is None else int(seed)
        self.length, self.t, self.done = 3 + base % 5, 0, False
        self.obs = base
        return base, {"lives": 3}

    def step(self, action: Any) -> Any:
        if self.done:
            raise RuntimeError("step() after the episode ended: reset() must come first")
        self.t += 1
        reward = 10.0 * (int(action) + 1) + self.obs % 7
        self.obs += 1
        over = self.t >= self.length
        terminated, truncated = (False, over) if self.truncate else (over, False)
        self.done = over
        return self.obs, reward, terminated, truncated, {"lives": 3 - self.t // 3}

    def close(self) -> None:
        pass


def _policy(obs: Any) -> int:
    return int(obs) % 3


def _evaluation(f: Any, truncate: bool = False, **kwargs: Any) -> Any:
    game = _ToyGame(truncate=truncate)
    returns = f(_policy, game, **kwargs)
    return np.asarray(returns, dtype=np.float64)


def _seeds(f: Any) -> Any:
    game = _ToyGame()
    f(_policy, game, episodes=3, seed=40)
    return game.seeds


def check_evaluate(student_function: Any) -> Any:
    """Check ``evaluate(policy, env, episodes, seed=EVAL_SEED, *, max_steps=None,
    gamma=1.0) -> returns`` (one per episode) on a tiny deterministic game."""
    cases = [
        Case(
            "3 episodes from seed 40: the seeds given to reset()",
            _seeds,
            rule="episode i starts with a reset seeded seed + i: repeatable evaluations, and "
            "every game a different one",
        ),
        Case(
            "3 episodes from seed 40: the returns",
            lambda f: _evaluation(f, episodes=3, seed=40),
            rule="one return per episode: the sum of the game's own rewards from the reset to "
            "the end of the episode",
        ),
        Case(
            "a game that ends by truncation (a time limit): the returns",
            lambda f: _evaluation(f, truncate=True, episodes=2, seed=5),
            rule="an episode ends when the game is terminated or truncated, whichever comes "
            "first, and no step is taken after that",
        ),
        Case(
            "max_steps=4 on games of 3 to 7 steps: the returns",
            lambda f: _evaluation(f, episodes=5, seed=0, max_steps=4),
            rule="with max_steps, an episode stops after that many steps (a game that ends "
            "earlier stops there), and its return counts exactly those steps",
        ),
        Case(
            "gamma=0.5: the discounted returns",
            lambda f: _evaluation(f, episodes=2, seed=1, gamma=0.5),
            rule="with gamma, the reward of the episode's step t (counting from 0) is "
            "weighted by gamma to the power t; gamma=1 is the plain game score",
        ),
    ]
    return check_exercise(
        "evaluate",
        student_function,
        evaluate,
        cases,
        hint="play one whole episode per loop: reset with the episode's own seed, then step "
        "with the policy's action until the game ends (either way) or the step limit is "
        "reached, adding up the rewards (discounted when gamma is below 1). Keep one return "
        "per episode.",
        pointer="the evaluation protocol in section 5, and the Gymnasium API of env.reset "
        "and env.step (its five results)",
    )


# --- the gradient step ------------------------------------------------------------------

_STEP_SHAPE = (2, 36, 36)
"""Small frames for the step's check: the Nature CNN's layers on 36x36 end in 64x1x1."""
_STEP_ACTIONS = 3
_STEP_LR = 0.1


def _flat_weights(network: Any) -> Any:
    import torch

    return torch.cat([p.detach().reshape(-1) for p in network.parameters()]).clone()


def _step_networks(same_target: bool) -> tuple[Any, Any]:
    """An online and a target Nature CNN with different weights (or one network twice).
    Their output layers are scaled up, so Q-values are near 1, not 0: a bootstrap that is
    wrongly kept or dropped moves the loss clearly. The target keeps ``requires_grad``, so
    a gradient that reaches it shows."""
    import torch

    with seeded_global_rngs(5):
        online = NatureCNN(_STEP_SHAPE, _STEP_ACTIONS)
        target = online if same_target else NatureCNN(_STEP_SHAPE, _STEP_ACTIONS)
    with torch.no_grad():
        for network in {id(online): online, id(target): target}.values():
            next(network.head.parameters()).mul_(30.0)  # the output layer's weight
    return online, target


def _step_batch(
    seed: int, terminated: list[bool], truncated: list[bool], rewards: list[float]
) -> ReplaySample:
    """A minibatch as the replay memory samples it: NumPy arrays, uint8 frames."""
    rng = np.random.default_rng(seed)
    size = len(rewards)
    return ReplaySample(
        rng.integers(0, 256, (size, *_STEP_SHAPE), dtype=np.uint8),
        (np.arange(size) + seed) % _STEP_ACTIONS,
        np.array(rewards, dtype=np.float32),
        rng.integers(0, 256, (size, *_STEP_SHAPE), dtype=np.uint8),
        np.array(terminated),
        np.array(truncated),
    )


_REWARDS = [1.0, 0.0, -1.0, 3.0, 1.0, 0.0]
_MIXED = ([True, False, False, False, True, False], [False, True, False, False, False, True])
_BATCHES = [_step_batch(seed, *_MIXED, _REWARDS) for seed in (1, 2)]
_NO_ENDS = _step_batch(6, [False] * 6, [False] * 6, _REWARDS)


class _StepRecord(dict):
    """What the spies saw in one case; shown to the student as what the step returned."""

    def __repr__(self) -> str:
        returned = self.get("returned", [])
        return ", then ".join(_describe(value) for value in returned) or "nothing"


class _SpyOptimizer:
    """SGD on the online network that records the gradient it finds at each ``step``."""

    def __init__(self, online: Any) -> None:
        import torch

        self._online = online
        self._optimizer = torch.optim.SGD(online.parameters(), lr=_STEP_LR)
        self.gradients: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optimizer, name)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self._optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Any = None) -> Any:
        import torch

        self.gradients.append(
            torch.cat(
                [
                    (torch.zeros_like(p) if p.grad is None else p.grad.detach()).reshape(-1)
                    for p in self._online.parameters()
                ]
            ).clone()
        )
        return self._optimizer.step(closure)


def _watch_inputs(network: Any, seen: list[tuple[str, float | None]]) -> Any:
    """Record the dtype and range of the frames ``network`` is given; hand it bytes."""
    import torch

    def hook(module: Any, args: Any) -> Any:
        frames = args[0]
        if not isinstance(frames, torch.Tensor):
            seen.append((f"a {type(frames).__name__}", None))
            frames = torch.as_tensor(np.asarray(frames))
        if frames.dtype != torch.uint8:
            top = float(frames.detach().float().max())
            dtype = str(frames.dtype).removeprefix("torch.")
            seen.append((f"{dtype} frames with values up to {top:.4g}", top))
            scale = 255.0 if top <= 1.0 else 1.0
            frames = (frames.detach().float() * scale).round().clamp(0, 255).to(torch.uint8)
        return (frames, *args[1:])

    return network.register_forward_pre_hook(hook)


def _play_steps(
    f: Any,
    batches: list[ReplaySample],
    gamma: float = 0.9,
    same_target: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Call ``f`` on each minibatch in turn, with the same networks and optimizer; what the
    spies saw."""
    online, target = _step_networks(same_target)
    optimizer = _SpyOptimizer(online)
    inputs: list[tuple[str, float | None]] = []
    hooks = [_watch_inputs(online, inputs)]
    if not same_target:
        hooks.append(_watch_inputs(target, inputs))
    target_before = _flat_weights(target)
    returned, steps_after, raised = [], [], ""
    try:
        for batch in batches:
            try:
                returned.append(f(online, target, optimizer, batch, gamma, **options))
            except TrainingDivergedError:
                raised = "TrainingDivergedError"
                break
            steps_after.append(len(optimizer.gradients))
    finally:
        for hook in hooks:
            hook.remove()
    record = _StepRecord(
        {
            "inputs": inputs,
            "returned": returned,
            "steps": steps_after,
            "gradients": optimizer.gradients,
            "online after": _flat_weights(online),
            "raised": raised,
        }
    )
    if not same_target:
        record["target changed"] = not bool((_flat_weights(target) == target_before).all())
        record["target gradient"] = any(
            p.grad is not None and bool(p.grad.abs().sum() > 0) for p in target.parameters()
        )
    return record


def _loss_of(batch: ReplaySample, gamma: float, **options: Any) -> float:
    """DQN's loss on ``batch`` for the check's fresh networks."""
    import torch

    online, target = _step_networks(same_target=False)
    tensors = ReplaySample(*(torch.as_tensor(x) for x in batch))
    with torch.no_grad():
        value, _ = compute_dqn_loss(online, target, tensors, gamma, **options)
    return float(value)


def _floats(value: Any) -> tuple[float, float] | str:
    """The two numbers a step returned, or what is wrong with it."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return (
            f"it returned {_describe(value)}: return the loss and the mean Q(s, a) of the "
            "minibatch (an UpdateInfo, or a pair of numbers)"
        )
    if any(type(item).__module__.startswith("torch") for item in value):
        return (
            "it returned tensors: return plain Python numbers, not tensors (a tensor that "
            "keeps the loss's graph keeps the whole step's memory alive in a training log)"
        )
    try:
        return float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return f"it returned {_describe(value)}, not two numbers"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _same(expected: float, got: float) -> bool:
    return bool(np.isclose(got, expected, rtol=1e-4, atol=1e-6))


def _compare_inputs_and_returns(expected: dict, got: dict) -> str | None:
    if got["inputs"]:
        seen, top = got["inputs"][0]
        if top is not None and top <= 1.0:
            return (
                f"the networks were given {seen}: the frames were divided by 255 before the "
                "network, which divides them itself, so they would be scaled twice. Hand the "
                "network the minibatch's uint8 frames as the replay memory stores them"
            )
        return (
            f"the networks were given {seen}: hand them the minibatch's uint8 frames as the "
            "replay memory stores them (1 byte a pixel to move); the network makes them "
            "floats and scales them itself"
        )
    if got["steps"] != expected["steps"]:
        calls = len(got["steps"])
        counts = np.diff([0, *got["steps"]]).tolist()
        if 0 in counts:
            return "the optimizer's step was not called: the weights did not change"
        return f"the optimizer stepped {counts} times in {calls} calls: one step per call"
    for e, g in zip(expected["returned"], got["returned"], strict=True):
        numbers = _floats(g)
        if isinstance(numbers, str):
            return numbers
        (e_loss, e_q), (g_loss, g_q) = e, numbers
        if not _same(e_loss, g_loss):
            return f"the loss returned was {g_loss:.6g}, expected {e_loss:.6g}" + "".join(
                f": it is {name}"
                for name, value in expected["mistaken losses"].items()
                if _same(value, g_loss)
            )
        if not _same(e_q, g_q):
            return (
                f"the mean Q(s, a) returned was {g_q:.6g}, expected {e_q:.6g}: the mean "
                "over the minibatch of the online network's Q-value of the action taken"
            )
    return None


def _compare_raised(expected: dict, got: dict) -> str | None:
    if got["raised"] == expected["raised"]:
        if not bool((got["online after"] == expected["online after"]).all()):
            return "the error came, but only after the online network's weights had changed"
        return None
    return "the loss was not a number and your step went on: no error was raised" + (
        ", and the weights became NaN" if bool(got["online after"].isnan().any()) else ""
    )


def _compare_gradients(expected: dict, got: dict) -> str | None:
    import torch

    max_norm = expected["max_grad_norm"]
    for index, (e, g) in enumerate(zip(expected["gradients"], got["gradients"], strict=False)):
        if torch.allclose(g, e, rtol=1e-4, atol=1e-6 * float(e.abs().max())):
            continue
        at = (
            "at the optimizer's step"
            if index == 0
            else f"at the optimizer's step of call {index + 1}"
        )
        norm, e_norm = float(g.norm()), float(e.norm())
        if norm == 0:
            return (
                f"{at} the gradients were empty: the loss's gradients must be there when the "
                "optimizer steps (cleared before the backward pass, not after it)"
            )
        if max_norm is not None and norm > max_norm * (1 + 1e-3):
            return (
                f"{at} the gradient's global norm was {norm:.4g}, above max_grad_norm = "
                f"{max_norm:g}: it was not clipped before the step"
            )
        if index > 0:
            return (
                f"{at} the gradient was not that of the loss on this call's minibatch: "
                "the gradients of the call before were still there"
            )
        cosine = float(g @ e) / max(norm * e_norm, 1e-30)
        if cosine > 1 - 1e-4:
            bound = "no bound" if max_norm is None else f"max_grad_norm = {max_norm:g}"
            return (
                f"{at} the gradient pointed the right way but its global norm was {norm:.4g}, "
                f"expected {e_norm:.4g} ({bound}): clip the norm to the max_grad_norm given, "
                "and not at all when it is None"
            )
        return f"{at} the gradient was not that of DQN's loss on the minibatch"
    if len(got["gradients"]) != len(expected["gradients"]):
        count, wanted = len(got["gradients"]), len(expected["gradients"])
        return f"the optimizer stepped {count} times, expected {wanted}"
    if not torch.allclose(got["online after"], expected["online after"], rtol=1e-4, atol=1e-6):
        return "the online network's weights after the step are not those of the optimizer's step"
    return None


def _compare_target(expected: dict, got: dict) -> str | None:
    if got["target gradient"]:
        return (
            "the target network received gradients: the TD target was computed with gradient "
            "tracking on"
        )
    if got["target changed"]:
        return "the target network's weights changed during the step"
    return None


def _step_case(
    name: str,
    rule: str,
    compare: Any,
    batches: list[ReplaySample],
    gamma: float = 0.9,
    same_target: bool = False,
    **options: Any,
) -> Case:
    def run(f: Any) -> dict[str, Any]:
        record = _play_steps(f, batches, gamma, same_target, **options)
        if f is dqn_gradient_step:
            record["max_grad_norm"] = options.get("max_grad_norm", 10.0)
        if f is dqn_gradient_step and compare is _compare_inputs_and_returns:
            flags = batches[0]
            ended = flags.terminated | flags.truncated
            as_terminal = flags._replace(terminated=ended)
            other = {"double": options.get("double", False), "loss": options.get("loss", "huber")}
            mistaken = {
                "the loss of a target where truncated transitions do not bootstrap either "
                "(truncated treated as terminated)": _loss_of(as_terminal, gamma, **other),
                "the loss with no transition treated as terminal": _loss_of(
                    flags._replace(terminated=np.zeros_like(flags.terminated)), gamma, **other
                ),
                "the loss after the optimizer's step, not the one the step was taken on": (
                    _loss_after(batches[0], gamma, other, options.get("max_grad_norm", 10.0))
                ),
            }
            if other != {"double": False, "loss": "huber"}:
                mistaken[
                    "the loss with the default options: double and loss were not passed on"
                ] = _loss_of(flags, gamma)
            if other["loss"] == "mse":
                mistaken["the Huber loss, not the loss asked for"] = _loss_of(
                    flags, gamma, double=other["double"]
                )
            record["mistaken losses"] = mistaken
        return record

    return Case(name, run, rule, compare)


def _loss_after(batch: ReplaySample, gamma: float, other: dict, max_grad_norm: Any) -> float:
    import torch

    online, target = _step_networks(same_target=False)
    optimizer = torch.optim.SGD(online.parameters(), lr=_STEP_LR)
    dqn_gradient_step(online, target, optimizer, batch, gamma, max_grad_norm=max_grad_norm, **other)
    tensors = ReplaySample(*(torch.as_tensor(x) for x in batch))
    with torch.no_grad():
        value, _ = compute_dqn_loss(online, target, tensors, gamma, **other)
    return float(value)


def check_dqn_gradient_step(student_function: Any) -> Any:
    """Check ``dqn_gradient_step(q_network, target_network, optimizer, batch, gamma, *,
    double=False, loss="huber", max_grad_norm=10.0) -> UpdateInfo(loss, q_mean)`` by what
    it does to a small Nature CNN and an SGD optimizer that records its gradients."""
    nan_batch = _step_batch(3, *_MIXED, [1.0, float("nan"), 0.0, 0.0, 1.0, 0.0])
    truncated_batch = _step_batch(
        4,
        [True, True, False, False, False, False],
        [False, False, True, True, False, False],
        [1.0, 0.0, 1.0, 0.0, 1.0, 0.0],
    )
    cases = [
        _step_case(
            "one step on a minibatch of 6 uint8 observations (NumPy arrays)",
            "the minibatch's frames reach the networks as the replay memory stores them, "
            "uint8 (the network scales them itself); one optimizer step per call; the step "
            "returns the loss it was taken on and the mean Q(s, a) of the actions taken, as "
            "numbers",
            _compare_inputs_and_returns,
            [_NO_ENDS],
            max_grad_norm=0.05,
        ),
        _step_case(
            "terminated and truncated transitions, gamma=0.8",
            "only terminated transitions drop the bootstrap; a truncated one still adds "
            "gamma times the target network's best next Q-value",
            _compare_inputs_and_returns,
            [truncated_batch],
            gamma=0.8,
            max_grad_norm=0.05,
        ),
        _step_case(
            "the gradient at the optimizer's step, max_grad_norm=0.05",
            "when the optimizer steps, the online network holds the gradient of DQN's loss "
            "on this minibatch, its global norm clipped to max_grad_norm",
            _compare_gradients,
            _BATCHES[:1],
            max_grad_norm=0.05,
        ),
        _step_case(
            "max_grad_norm=None (no clipping)",
            "the clipping bound is the max_grad_norm given; None means no clipping",
            _compare_gradients,
            _BATCHES[:1],
            max_grad_norm=None,
        ),
        _step_case(
            "two steps in a row on two minibatches (max_grad_norm=None)",
            "each step's gradient is that of its own minibatch alone: the gradients left by "
            "the step before are cleared before the backward pass",
            _compare_gradients,
            _BATCHES,
            max_grad_norm=None,
        ),
        _step_case(
            "max_grad_norm=1000",
            "the clipping bound is the max_grad_norm given: a gradient below it is not changed",
            _compare_gradients,
            _BATCHES[:1],
            max_grad_norm=1000.0,
        ),
        _step_case(
            "the target network during the step",
            "the TD target is a fixed label: the target network gets no gradient and keeps "
            "its weights (it is synced elsewhere, every so many steps)",
            _compare_target,
            _BATCHES[:1],
            max_grad_norm=0.05,
        ),
        _step_case(
            "the target network is the online network itself (just synced)",
            "no gradient flows through the TD target, even when the target network is the "
            "online network itself",
            _compare_gradients,
            _BATCHES[:1],
            same_target=True,
            max_grad_norm=0.05,
        ),
        _step_case(
            "double=True, loss='mse'",
            "double and loss choose the TD target and the loss, as in compute_dqn_loss",
            _compare_inputs_and_returns,
            _BATCHES[:1],
            max_grad_norm=0.05,
            double=True,
            loss="mse",
        ),
        _step_case(
            "a minibatch whose rewards hold a NaN",
            "a loss that is not a finite number stops the step with rlcourse.errors."
            "TrainingDivergedError before any weight changes",
            _compare_raised,
            [nan_batch],
            max_grad_norm=0.05,
        ),
    ]
    return check_exercise(
        "dqn_gradient_step",
        student_function,
        dqn_gradient_step,
        cases,
        hint="move the minibatch to the online network's device without changing its "
        "dtypes; get the loss from your compute_dqn_loss (lesson 04); stop if it is not "
        "finite; then clear the old gradients, backpropagate, clip the global norm when a "
        "bound is given, and let the optimizer step. Return the loss and the mean Q(s, a) "
        "as plain numbers.",
        pointer="section 6 of this lesson, rlcourse.errors.check_finite_loss, "
        "torch.nn.utils.clip_grad_norm_ and torch.optim.Optimizer.zero_grad in the PyTorch "
        "documentation",
    )
