"""Lesson 05's checks: correct answers written in other styles pass; the typical mistakes
are caught, with the case and the property that show them, and no answer code."""

import numpy as np
import pytest
import torch
from exercise_helpers import assert_no_answer_code
from torch import nn
from torch.nn import functional as F  # noqa: N812

from rlcourse.agents.dqn import UpdateInfo, compute_dqn_loss, dqn_gradient_step
from rlcourse.buffers import ReplaySample
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.pixel_dqn import (
    check_dqn_gradient_step,
    check_evaluate,
    check_make_atari_env,
    check_nature_cnn,
)
from rlcourse.envs import make_atari_env, make_env
from rlcourse.errors import TrainingDivergedError, check_finite_loss
from rlcourse.evaluation import evaluate
from rlcourse.networks import NatureCNN
from rlcourse.wrappers import (
    ClipReward,
    EpisodicLife,
    FireReset,
    FrameStack,
    MaxAndSkip,
    NoopReset,
    ProcessFrame84,
)


def _assert_caught(capsys, check, reference, buggy, case, says):
    """The check falls back to the package's code and names the case and the mistake,
    without printing answer code."""
    assert check(buggy) is reference
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and case in out and says in out, out
    assert_no_answer_code(out, reference)


# --- NatureCNN -------------------------------------------------------------------------


class LayersByName(nn.Module):
    """Separate layers, functional ReLUs, the flattened size worked out by a loop."""

    def __init__(self, obs_shape=(4, 84, 84), n_actions=18, dueling=False):
        super().__init__()
        frames, height, width = obs_shape
        self.conv1 = nn.Conv2d(frames, 32, 8, stride=4)
        self.conv2 = nn.Conv2d(32, 64, 4, stride=2)
        self.conv3 = nn.Conv2d(64, 64, 3, stride=1)
        for kernel, stride in ((8, 4), (4, 2), (3, 1)):
            height = len(range(0, height - kernel + 1, stride))
            width = len(range(0, width - kernel + 1, stride))
        self.fc = nn.Linear(64 * height * width, 512)
        self.out = nn.Linear(512, n_actions)

    def forward(self, x):
        x = x.to(torch.float32).div(255)
        x = F.relu(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x))))))
        x = F.relu(self.fc(x.reshape(x.shape[0], -1)))
        return self.out(x)


class HeadFirstLazy(nn.Module):
    """The output layer defined first, a lazy dense layer, scaling by a multiplication."""

    def __init__(self, obs_shape=(4, 84, 84), n_actions=18, dueling=False):
        super().__init__()
        self.q = nn.Linear(512, n_actions)
        self.body = nn.Sequential(
            nn.Conv2d(obs_shape[0], 32, kernel_size=(8, 8), stride=(4, 4)),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.LazyLinear(512),
            nn.ReLU(inplace=True),
        )

    def forward(self, frames):
        return self.q(self.body(frames.float() * (1.0 / 255.0)))


def _variant(
    *,
    scale=255.0,
    scale_twice=False,
    conv2_stride=2,
    conv2_kernel=4,
    dense_relu=True,
    flat=None,
    bias=True,
    square=False,
):
    """A Nature CNN with one mistake switched on."""

    class Variant(nn.Module):
        def __init__(self, obs_shape=(4, 84, 84), n_actions=18, dueling=False):
            super().__init__()
            height, width = obs_shape[1], obs_shape[1] if square else obs_shape[2]
            for kernel, stride in ((8, 4), (conv2_kernel, conv2_stride), (3, 1)):
                height = (height - kernel) // stride + 1
                width = (width - kernel) // stride + 1
            self.convs = nn.Sequential(
                nn.Conv2d(obs_shape[0], 32, 8, 4, bias=bias),
                nn.ReLU(),
                nn.Conv2d(32, 64, conv2_kernel, conv2_stride, bias=bias),
                nn.ReLU(),
                nn.Conv2d(64, 64, 3, 1, bias=bias),
                nn.ReLU(),
                nn.Flatten(),
            )
            self.fc = nn.Linear(flat or 64 * height * width, 512)
            self.head = nn.Linear(512, n_actions)

        def forward(self, obs):
            x = obs.float() / scale
            if scale_twice:
                x = x / 255.0
            x = self.fc(self.convs(x))
            return self.head(F.relu(x) if dense_relu else x)

    return Variant


@pytest.mark.parametrize(
    "correct", [LayersByName, HeadFirstLazy, _variant()], ids=["layers", "lazy", "sequential"]
)
def test_nature_cnn_correct_code_passes(capsys, correct):
    assert check_nature_cnn(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


@pytest.mark.parametrize(
    ("buggy", "case", "says"),
    [
        (_variant(scale=1.0), "pixel scaling", "do not seem to be divided by 255"),
        (_variant(scale_twice=True), "pixel scaling", "divided by 255 twice"),
        (_variant(conv2_stride=1), "convolutions' outputs", "64x9x9"),
        (_variant(conv2_kernel=5), "convolutions' outputs", "conv2 (64 filters 4x4, stride 2)"),
        (_variant(conv2_stride=1, flat=3136), "convolutions' outputs", "yours output"),
        (_variant(dense_relu=False), "positive and negative", "a ReLU after each convolution"),
        (_variant(flat=3136), "other arguments", "work it out from obs_shape"),
        (_variant(square=True), "other arguments", "one side at a time"),
        (_variant(bias=False), "parameters", "three convolutions with biases"),
    ],
    ids=[
        "no-scaling",
        "scaled-twice",
        "stride",
        "kernel",
        "stride-3136",
        "no-relu",
        "fixed-3136",
        "height-for-both-sides",
        "no-bias",
    ],
)
def test_nature_cnn_mistakes_are_caught(capsys, buggy, case, says):
    _assert_caught(capsys, check_nature_cnn, NatureCNN, buggy, case, says)


def test_nature_cnn_unfilled_and_rerun():
    class Unfilled(nn.Module):
        def __init__(self, obs_shape=(4, 84, 84), n_actions=18, dueling=False):
            super().__init__()
            raise NotImplementedError()

    assert check_nature_cnn(Unfilled) is NatureCNN
    assert check_nature_cnn(NatureCNN) is NatureCNN


def test_nature_cnn_unfilled_forward_is_not_attempted(capsys):
    class NoForward(LayersByName):
        def forward(self, x):
            raise NotImplementedError()

    check_nature_cnn(NoForward)
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


# --- make_atari_env ----------------------------------------------------------------------


def _fire_game(env):
    return env.unwrapped.get_action_meanings()[1] == "FIRE"


def _by_hand(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    """The pipeline written out, wrapper by wrapper, as a student would."""
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = MaxAndSkip(NoopReset(env, noop_max=30), skip=4)
    if episodic_life:
        env = EpisodicLife(env)
    if _fire_game(env):
        env = FireReset(env)
    env = ProcessFrame84(env)
    if clip_rewards:
        env = ClipReward(env)
    return FrameStack(env, k=4)


def _clip_first(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    """Another order that behaves the same (rewards clipped below the lives): must pass."""
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = MaxAndSkip(NoopReset(env, noop_max=30), skip=4)
    env = ClipReward(env) if clip_rewards else env
    env = EpisodicLife(env) if episodic_life else env
    env = FireReset(env) if _fire_game(env) else env
    return FrameStack(ProcessFrame84(env), k=4)


@pytest.mark.parametrize(
    "correct",
    [_by_hand, _clip_first, lambda *a, **k: make_atari_env(*a, **k)],
    ids=["by-hand", "clip-first", "package-wrapped"],
)
def test_make_atari_env_correct_code_passes(capsys, correct):
    assert check_make_atari_env(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


def _stack_before_skip(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = FrameStack(ProcessFrame84(NoopReset(env, noop_max=30)), k=4)
    return ClipReward(EpisodicLife(MaxAndSkip(env, skip=4)))


def _noops_after_skip(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = NoopReset(MaxAndSkip(env, skip=4), noop_max=30)
    env = EpisodicLife(env) if episodic_life else env
    env = FireReset(env) if _fire_game(env) else env
    env = ClipReward(ProcessFrame84(env)) if clip_rewards else ProcessFrame84(env)
    return FrameStack(env, k=4)


def _fire_inside_lives(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    """FireReset under EpisodicLife: FIRE only at the real resets, not after a lost life."""
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = MaxAndSkip(NoopReset(env, noop_max=30), skip=4)
    env = FireReset(env) if _fire_game(env) else env
    env = EpisodicLife(env) if episodic_life else env
    env = ClipReward(ProcessFrame84(env)) if clip_rewards else ProcessFrame84(env)
    return FrameStack(env, k=4)


def _no_fire(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    env = make_env(env_id, obs_type="grayscale", render_mode=render_mode)
    env = MaxAndSkip(NoopReset(env, noop_max=30), skip=4)
    env = EpisodicLife(env) if episodic_life else env
    env = ClipReward(ProcessFrame84(env)) if clip_rewards else ProcessFrame84(env)
    return FrameStack(env, k=4)


def _aids_always_on(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    return _by_hand(env_id, render_mode=render_mode)


def _flags_swapped(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    return _by_hand(
        env_id, episodic_life=clip_rewards, clip_rewards=episodic_life, render_mode=render_mode
    )


def _ignores_render_mode(env_id, *, episodic_life=True, clip_rewards=True, render_mode=None):
    return _by_hand(env_id, episodic_life=episodic_life, clip_rewards=clip_rewards)


@pytest.mark.parametrize(
    ("buggy", "case", "says"),
    [
        (
            lambda e, **kw: _by_hand(e, episodic_life=False),
            "episodes end",
            "a lost life ends the episode",
        ),
        (lambda e, **kw: _by_hand(e, clip_rewards=False), "rewards", "clipped to -1, 0 or +1"),
        (_stack_before_skip, "frames over 400 steps", "the stack holds the last 4 such steps"),
        (_noops_after_skip, "first observation", "no-ops, each one frame"),
        (_no_fire, "waits for FIRE", "FIRE is pressed at every reset"),
        (_fire_inside_lives, "waits for FIRE", "also the resets after a lost life"),
        (_aids_always_on, "episodic_life=False", "the whole game"),
        (_flags_swapped, "episodic_life=False", "the whole game"),
        (_ignores_render_mode, "render_mode='rgb_array'", "full-colour"),
    ],
    ids=[
        "no-episodic-life",
        "no-clipping",
        "stack-before-skip",
        "noops-after-skip",
        "no-fire",
        "fire-inside-lives",
        "aids-always-on",
        "flags-swapped",
        "no-render-mode",
    ],
)
def test_make_atari_env_mistakes_are_caught(capsys, buggy, case, says):
    _assert_caught(capsys, check_make_atari_env, make_atari_env, buggy, case, says)


def test_missing_episodic_life_is_named_not_an_array_shape(capsys):
    check_make_atari_env(lambda e, **kw: _by_hand(e, episodic_life=False))
    out = capsys.readouterr().out
    assert "no episode ended" in out and "shape" not in out, out


def test_make_atari_env_unfilled_is_not_attempted(capsys):
    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    assert check_make_atari_env(unfilled) is make_atari_env
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


# --- evaluate ----------------------------------------------------------------------------


def _evaluate_loops(policy, env, episodes, seed=10_000, *, max_steps=None, gamma=1.0):
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, discount, steps = 0.0, 1.0, 0
        while max_steps is None or steps < max_steps:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += discount * reward
            discount *= gamma
            steps += 1
            if terminated or truncated:
                break
        returns.append(total)
    return np.array(returns)


def _evaluate_lists(policy, env, episodes, seed=10_000, *, max_steps=None, gamma=1.0):
    returns = np.zeros(episodes, dtype=np.float32)
    for i, episode_seed in enumerate(range(seed, seed + episodes)):
        obs, _ = env.reset(seed=episode_seed)
        rewards, done = [], False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            rewards.append(reward)
            done = terminated or truncated or len(rewards) == max_steps
        returns[i] = np.sum(np.array(rewards) * gamma ** np.arange(len(rewards)))
    return returns


@pytest.mark.parametrize(
    "correct",
    [_evaluate_loops, _evaluate_lists, lambda *a, **k: evaluate(*a, **k)],
    ids=["loops", "lists", "package-wrapped"],
)
def test_evaluate_correct_code_passes(capsys, correct):
    assert check_evaluate(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


def _one_seed(policy, env, episodes, seed=10_000, *, max_steps=None, gamma=1.0):
    return [
        _evaluate_loops(policy, env, 1, seed, max_steps=max_steps, gamma=gamma)[0]
        for _ in range(episodes)
    ]


def _terminated_only(policy, env, episodes, seed=10_000, *, max_steps=None, gamma=1.0):
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, terminated, t = 0.0, False, 0
        while not terminated and (max_steps is None or t < max_steps):
            obs, reward, terminated, _, _ = env.step(policy(obs))
            total += gamma**t * reward
            t += 1
        returns.append(total)
    return returns


def _one_step_too_many(policy, env, episodes, seed=10_000, *, max_steps=None, gamma=1.0):
    limit = None if max_steps is None else max_steps + 1
    return _evaluate_loops(policy, env, episodes, seed, max_steps=limit, gamma=gamma)


def _discount_from_one(policy, env, episodes, seed=10_000, *, max_steps=None, gamma=1.0):
    returns = _evaluate_loops(policy, env, episodes, seed, max_steps=max_steps, gamma=gamma)
    return returns * gamma


def _total_only(policy, env, episodes, seed=10_000, *, max_steps=None, gamma=1.0):
    return float(
        np.sum(_evaluate_loops(policy, env, episodes, seed, max_steps=max_steps, gamma=gamma))
    )


@pytest.mark.parametrize(
    ("buggy", "case", "says"),
    [
        (_one_seed, "seeds given to reset", "seed + i"),
        (_terminated_only, "truncation", "terminated or truncated"),
        (_one_step_too_many, "max_steps=4", "exactly those steps"),
        (_discount_from_one, "gamma=0.5", "counting from 0"),
        (_total_only, "the returns", "one return per episode"),
    ],
    ids=["one-seed", "terminated-only", "max-steps-off-by-one", "discount-from-one", "total"],
)
def test_evaluate_mistakes_are_caught(capsys, buggy, case, says):
    _assert_caught(capsys, check_evaluate, evaluate, buggy, case, says)


def test_evaluate_missing_return_is_named(capsys):
    def no_return(policy, env, episodes, seed=10_000, *, max_steps=None, gamma=1.0):
        _evaluate_loops(policy, env, episodes, seed, max_steps=max_steps, gamma=gamma)

    check_evaluate(no_return)
    assert "return" in capsys.readouterr().out


# --- dqn_gradient_step -------------------------------------------------------------------


def _step_package_loss(
    q_network,
    target_network,
    optimizer,
    batch,
    gamma,
    *,
    double=False,
    loss="huber",
    max_grad_norm=10.0,
):
    """The loss from compute_dqn_loss, tensors by from_numpy, the module's own zero_grad."""
    device = next(q_network.parameters()).device
    tensors = ReplaySample(*(torch.from_numpy(np.asarray(x)).to(device) for x in batch))
    value, q_taken = compute_dqn_loss(
        q_network, target_network, tensors, gamma, double=double, loss=loss
    )
    check_finite_loss(value.item())
    q_network.zero_grad()
    value.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_network.parameters(), max_grad_norm)
    optimizer.step()
    return UpdateInfo(value.item(), q_taken.mean().item())


def _step_own_loss(
    q_network,
    target_network,
    optimizer,
    batch,
    gamma,
    *,
    double=False,
    loss="huber",
    max_grad_norm=10.0,
):
    """Its own loss (indexing, a detached target), clipping by hand, a list returned."""
    obs, actions, rewards, next_obs, terminated, _ = (torch.as_tensor(x) for x in batch)
    optimizer.zero_grad(set_to_none=False)
    q_taken = q_network(obs)[torch.arange(len(actions)), actions.long()]
    with torch.no_grad():
        next_q = target_network(next_obs)
        if double:
            best = q_network(next_obs).argmax(dim=1)
            next_value = next_q[torch.arange(len(best)), best]
        else:
            next_value = next_q.max(dim=1).values
        target = rewards + gamma * torch.where(terminated, 0.0, next_value)
    error = F.huber_loss(q_taken, target) if loss == "huber" else F.mse_loss(q_taken, target)
    if not torch.isfinite(error):
        raise TrainingDivergedError("the loss is not finite")
    error.backward()
    if max_grad_norm is not None:
        parameters = [p for p in q_network.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in parameters]))
        factor = min(1.0, max_grad_norm / (float(norm) + 1e-6))
        for p in parameters:
            p.grad.mul_(factor)
    optimizer.step()
    return [error.item(), float(q_taken.detach().mean())]


@pytest.mark.parametrize(
    "correct",
    [_step_package_loss, _step_own_loss, lambda *a, **k: dqn_gradient_step(*a, **k)],
    ids=["package-loss", "own-loss", "package-wrapped"],
)
def test_dqn_gradient_step_correct_code_passes(capsys, correct):
    assert check_dqn_gradient_step(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


def _step_variant(
    *,
    frames=None,
    clip="before",
    fixed_norm=None,
    zero="before",
    check=True,
    as_numbers=True,
    options=True,
):
    """The package-loss step with one mistake switched on."""

    def step(
        q_network,
        target_network,
        optimizer,
        batch,
        gamma,
        *,
        double=False,
        loss="huber",
        max_grad_norm=10.0,
    ):
        tensors = ReplaySample(*(torch.as_tensor(x) for x in batch))
        if frames is not None:
            tensors = tensors._replace(obs=frames(tensors.obs), next_obs=frames(tensors.next_obs))
        extra = {"double": double, "loss": loss} if options else {}
        value, q_taken = compute_dqn_loss(q_network, target_network, tensors, gamma, **extra)
        if check:
            check_finite_loss(value.item())
        bound = max_grad_norm if fixed_norm is None else fixed_norm
        if zero == "before":
            optimizer.zero_grad()
        value.backward()
        if zero == "after-backward":
            optimizer.zero_grad()
        if clip == "before" and bound is not None:
            nn.utils.clip_grad_norm_(q_network.parameters(), bound)
        optimizer.step()
        if clip == "after" and bound is not None:
            nn.utils.clip_grad_norm_(q_network.parameters(), bound)
        if as_numbers:
            return UpdateInfo(value.item(), q_taken.mean().item())
        return value, q_taken.mean()

    return step


def _step_own_target(flags="terminated", freeze=False, no_grad=True):
    """A step with its own TD target: which flags cut the bootstrap, how the target is
    kept out of the gradient."""

    def step(
        q_network,
        target_network,
        optimizer,
        batch,
        gamma,
        *,
        double=False,
        loss="huber",
        max_grad_norm=10.0,
    ):
        obs, actions, rewards, next_obs, terminated, truncated = (torch.as_tensor(x) for x in batch)
        ended = terminated | truncated if flags == "both" else terminated
        if freeze:
            target_network.requires_grad_(False)
        q_taken = q_network(obs).gather(1, actions.long()[:, None]).squeeze(1)
        with torch.set_grad_enabled(not no_grad):
            target = rewards + gamma * (~ended) * target_network(next_obs).max(dim=1).values
        value = F.smooth_l1_loss(q_taken, target)
        check_finite_loss(value.item())
        optimizer.zero_grad()
        value.backward()
        if max_grad_norm is not None:
            nn.utils.clip_grad_norm_(q_network.parameters(), max_grad_norm)
        optimizer.step()
        return value.item(), q_taken.mean().item()

    return step


@pytest.mark.parametrize(
    ("buggy", "case", "says"),
    [
        (
            _step_variant(frames=lambda x: x.float() / 255),
            "uint8 observations",
            "divided by 255 before the network",
        ),
        (_step_variant(frames=lambda x: x.float()), "uint8 observations", "float32 frames"),
        (
            _step_own_target(flags="both"),
            "terminated and truncated",
            "truncated treated as terminated",
        ),
        (_step_variant(clip="after"), "max_grad_norm=0.05", "not clipped before the step"),
        (_step_variant(clip="never"), "max_grad_norm=0.05", "not clipped before the step"),
        (_step_variant(fixed_norm=10.0), "max_grad_norm=0.05", "not clipped before the step"),
        (_step_variant(zero="never"), "two steps in a row", "the call before were still there"),
        (_step_variant(zero="after-backward"), "max_grad_norm=0.05", "the gradients were empty"),
        (_step_own_target(no_grad=False), "the target network during", "received gradients"),
        (_step_own_target(freeze=True), "the online network itself", "no gradient flows"),
        (_step_variant(options=False), "double=True", "double and loss were not passed on"),
        (_step_variant(check=False), "NaN", "no error was raised"),
        (_step_variant(as_numbers=False), "uint8 observations", "it returned tensors"),
    ],
    ids=[
        "scaled-in-the-step",
        "float-frames",
        "truncated-as-terminal",
        "clip-after-step",
        "no-clipping",
        "clip-fixed-bound",
        "grads-not-zeroed",
        "zeroed-after-backward",
        "gradient-into-target",
        "target-frozen",
        "options-ignored",
        "no-finite-check",
        "returns-tensors",
    ],
)
def test_dqn_gradient_step_mistakes_are_caught(capsys, buggy, case, says):
    _assert_caught(capsys, check_dqn_gradient_step, dqn_gradient_step, buggy, case, says)


def test_dqn_gradient_step_unfilled_is_not_attempted(capsys):
    def unfilled(q_network, target_network, optimizer, batch, gamma, **options):
        raise NotImplementedError()

    assert check_dqn_gradient_step(unfilled) is dqn_gradient_step
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


def test_nature_cnn_check_leaves_torchs_global_generator_as_it_was(capsys):
    state = torch.get_rng_state()
    check_nature_cnn(LayersByName)
    assert capsys.readouterr().out.startswith(PASSED)
    assert torch.equal(state, torch.get_rng_state())  # the student's kernel keeps its draws
