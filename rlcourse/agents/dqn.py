"""DQN and Double DQN (Mnih et al. 2015; van Hasselt et al. 2016): config, formulas, agent.

The pieces, in the order a transition flows through them:

1. :meth:`DQN.act`: epsilon-greedy on the online Q-network (the course's one
   :func:`~rlcourse.policies.epsilon_greedy`, in its two pieces: the coin first, so that
   exploring costs no forward pass), epsilon following :func:`linear_schedule`;
2. :meth:`DQN.observe`: store the transition in replay memory; every ``train_frequency``
   steps, ``gradient_steps`` updates on random minibatches;
3. :meth:`DQN.update` (:func:`dqn_gradient_step`): regress ``Q(s, a)`` on the TD target
   (:func:`td_target`, or :func:`double_dqn_target`), which masks the bootstrap only where
   the episode *terminated* (a truncated episode still has a future); Huber loss; gradient
   clipping;
4. the target network: copied (``tau=1``) or blended (``tau<1``) every
   ``target_update_interval`` steps (:func:`update_target_network`).

The loop that drives it is :func:`rlcourse.training.train_dqn`.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from rlcourse.augmentation import random_shift
from rlcourse.buffers import AtariReplayBuffer, ReplayBuffer, ReplaySample
from rlcourse.checkpoints import (
    CheckpointError,
    make_checkpoint,
    restore_training_state,
    rng_state,
    set_rng_state,
)
from rlcourse.config import (
    FLOAT32_MAX,
    RunNotes,
    check_number,
    check_positive_int,
    config_from_dict,
)
from rlcourse.envs import is_atari, is_nes_mario
from rlcourse.errors import check_finite_loss
from rlcourse.networks import build_network, network_spec
from rlcourse.policies import QPolicy, explore, greedy_action


@dataclass
class DQNConfig(RunNotes):
    """DQN hyperparameters (see :func:`cartpole_config` for a tuned preset)."""

    gamma: float = 0.99
    """Discount factor of future rewards."""
    lr: float = 1e-3
    """Adam learning rate."""
    adam_eps: float = 1e-8
    """Adam's epsilon, added to the root of the gradient's second moment: gradients smaller
    than it take smaller steps (PyTorch's default 1e-8; DrQ(eps), DER and Dopamine use
    1.5e-4)."""
    batch_size: int = 64
    """Transitions per gradient step."""
    buffer_size: int = 50_000
    """Replay memory capacity (transitions); the oldest are overwritten."""
    learning_starts: int = 1_000
    """Env steps of pure exploration before the first update (fills the memory)."""
    train_frequency: int = 1
    """Env steps between rounds of updates."""
    gradient_steps: int = 1
    """Gradient steps per round of updates (the replay ratio, gradient steps per env step,
    is gradient_steps / train_frequency)."""
    target_update_interval: int = 500
    """Env steps between target-network updates."""
    tau: float = 1.0
    """Target update rate: 1 copies the online net (hard update), < 1 blends it in (soft)."""
    epsilon_start: float = 1.0
    """Exploration rate at step 0."""
    epsilon_end: float = 0.05
    """Exploration rate after ``exploration_steps``."""
    exploration_steps: int = 10_000
    """Env steps over which epsilon decays linearly."""
    explore_repeat: int = 1
    """Agent steps each exploratory random action is held for (temporally-extended
    epsilon-greedy, Dabney et al. 2021, with a fixed duration); 1 is plain epsilon-greedy.
    Held actions go further than step-by-step dithering; on Mario Bros. that scores no more
    (``bench/results/mario_actions.md``, rows "each held k steps")."""
    loss: str = "huber"
    """'huber' (smooth L1, as in the Nature paper's error clipping) or 'mse'."""
    max_grad_norm: float | None = 10.0
    """Clip the gradient's global norm to this (None: no clipping)."""
    double: bool = False
    """Double DQN: the online net picks argmax a', the target net evaluates it."""
    dueling: bool = False
    """Dueling head: separate state-value and advantage streams (Wang et al. 2016)."""
    n_step: int = 1
    """n-step returns (as in Rainbow): the target sums n discounted rewards before it
    bootstraps with gamma**n, and stops early where the episode ends."""
    random_shift: int = 0
    """DrQ's augmentation: shift sampled images by up to this many pixels (DrQ uses 4;
    0: off). Pixel observations only."""
    hidden_sizes: tuple[int, ...] = (128, 128)
    """Widths of the MLP's hidden layers (vector observations; images get the Nature CNN)."""
    seed: int = 0
    """Seeds network initialisation, exploration, replay sampling and env resets."""
    device: str = "auto"
    """'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:1', ..."""

    def __post_init__(self) -> None:
        resolve_device(self.device)  # a device this machine cannot train on: said now
        self.hidden_sizes = tuple(self.hidden_sizes)
        for name in (
            "batch_size",
            "buffer_size",
            "train_frequency",
            "gradient_steps",
            "target_update_interval",
            "explore_repeat",
        ):
            check_positive_int(f"DQNConfig.{name}", getattr(self, name))
        for name in ("learning_starts", "exploration_steps", "random_shift"):
            check_number(f"DQNConfig.{name}", getattr(self, name), integer=True, low=0)
        check_positive_int("DQNConfig.n_step", self.n_step)
        for width in self.hidden_sizes:
            check_positive_int("DQNConfig.hidden_sizes[i]", width)
        check_number("DQNConfig.gamma", self.gamma, low=0, high=1)
        check_number("DQNConfig.tau", self.tau, low=0, high=1, low_open=True)
        check_number("DQNConfig.adam_eps", self.adam_eps, low=0, low_open=True)
        check_number("DQNConfig.lr", self.lr, low=0, low_open=True, high=FLOAT32_MAX)
        check_number("DQNConfig.epsilon_start", self.epsilon_start, low=0, high=1)
        check_number("DQNConfig.epsilon_end", self.epsilon_end, low=0, high=1)
        if self.max_grad_norm is not None:
            check_number("DQNConfig.max_grad_norm", self.max_grad_norm, low=0, low_open=True)
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"DQNConfig.loss must be 'huber' or 'mse', got {self.loss!r}")
        if self.epsilon_end > self.epsilon_start:
            raise ValueError(
                f"DQNConfig.epsilon_end={self.epsilon_end} exceeds epsilon_start="
                f"{self.epsilon_start}: exploration would grow as the agent learns; swap them"
            )
        if self.batch_size > self.buffer_size:
            raise ValueError(
                f"DQNConfig.batch_size={self.batch_size} exceeds buffer_size="
                f"{self.buffer_size}: the replay memory could never fill one minibatch"
            )
        if self.learning_starts < self.batch_size:
            raise ValueError(
                f"DQNConfig.learning_starts={self.learning_starts} is below batch_size="
                f"{self.batch_size}: the first update would find too few transitions; "
                f"set learning_starts >= {self.batch_size}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DQNConfig:
        return config_from_dict(cls, values)


def cartpole_config(**overrides: Any) -> DQNConfig:
    """The course's CartPole-v1 setting: the RL-Zoo hyperparameters (train every 256 steps,
    128 gradient steps each time) with a 128x128 network and Double DQN targets. It solved
    (10-episode greedy mean >= 475) 20 seeds of 20 within 50k steps, in an IQM of 21,100 steps
    (bench/cartpole_solve.py, docs/benchmarks.md). ``n_step=5`` needs 0.42x the steps; it is not
    the default because lesson 04 teaches 1-step DQN.
    """
    values: dict[str, Any] = {
        "lr": 2.3e-3,
        "batch_size": 64,
        "buffer_size": 100_000,
        "learning_starts": 1_000,
        "train_frequency": 256,
        "gradient_steps": 128,
        "target_update_interval": 10,
        "exploration_steps": 8_000,
        "epsilon_end": 0.04,
        "hidden_sizes": (128, 128),
        "double": True,
    }
    values.update(overrides)
    return DQNConfig(**values)


def atari_config(**overrides: Any) -> DQNConfig:
    """Nature-DQN / RL-Zoo-like values for ALE games, scaled to runs of 0.3-10M steps.

    Full budget (10M agent steps = 40M frames) is GPU work: about 10-14 h on one modern GPU
    with this code (CPU-bound by the emulator); on 2 CPU cores, 300k steps take ~1 h.
    The replay memory (``AtariReplayBuffer``, ~7 KB a transition) of 200k transitions
    takes 1.4 GB.
    """
    values: dict[str, Any] = {
        "lr": 1e-4,
        "batch_size": 32,
        "buffer_size": 200_000,
        "learning_starts": 20_000,
        "train_frequency": 4,
        "gradient_steps": 1,
        "target_update_interval": 2_000,
        "exploration_steps": 250_000,
        "epsilon_end": 0.01,
        "max_grad_norm": 10.0,
        "double": False,
    }
    values.update(overrides)
    return DQNConfig(**values)


def atari_100k_config(**overrides: Any) -> DQNConfig:
    """Data-efficient DQN for the Atari 100k benchmark (100k agent steps), as in DrQ(eps)
    (Yarats et al. 2021; Agarwal et al. 2021): learning starts after 1,600 steps, epsilon
    falls to 0.01 in 5,000, one gradient step every 2 agent steps (replay ratio 0.5), the
    target net copied after each of them, 10-step returns, DrQ's random shift (4 pixels)
    and the dueling head. (``double`` is on, but with the target a copy of the online net at
    every update it changes nothing.) Lesson 07 builds it idea by idea.
    """
    values: dict[str, Any] = {
        "lr": 1e-4,
        "batch_size": 32,
        "buffer_size": 100_000,
        "learning_starts": 1_600,
        "train_frequency": 2,
        "gradient_steps": 1,
        "target_update_interval": 2,
        "exploration_steps": 5_000,
        "epsilon_end": 0.01,
        "max_grad_norm": 10.0,
        "double": True,
        "dueling": True,
        "n_step": 10,
        "random_shift": 4,
    }
    values.update(overrides)
    return DQNConfig(**values)


PRESETS = {"cartpole": cartpole_config, "atari": atari_config, "atari100k": atari_100k_config}


def default_preset(env_id: str) -> str:
    """The preset used when none is named: 'atari' for pixel games (ALE, NES Super Mario),
    else 'cartpole'."""
    return "atari" if is_nes_mario(env_id) or is_atari(env_id) else "cartpole"


# --- the formulas (each one an exercise in lessons 04 and 06) -------------------------------


def linear_schedule(start: float, end: float, duration: int, step: int) -> float:
    """Go linearly from ``start`` to ``end`` over ``duration`` steps, then stay at ``end``.

    >>> [linear_schedule(1.0, 0.1, 10, t) for t in (0, 5, 10, 50)]
    [1.0, 0.55, 0.1, 0.1]
    """
    if duration <= 0 or step >= duration:
        return end
    return start + max(step, 0) / duration * (end - start)


def td_target(
    rewards: torch.Tensor,
    next_q_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float | torch.Tensor,
) -> torch.Tensor:
    """``r + gamma * max_a' Q_target(s', a')``, without the bootstrap where ``terminated``.

    ``next_q_values`` is ``(batch, n_actions)``. ``truncated`` is taken on purpose and
    *not* used to mask: the time limit cut the episode, the state itself still had a future.
    ``gamma`` may be a ``(batch,)`` tensor: n-step transitions bootstrap with ``gamma ** k``.

    >>> td_target(torch.tensor([1.0, 1.0, 1.0]), torch.tensor([[2.0, 5.0]] * 3),
    ...           terminated=torch.tensor([False, True, False]),
    ...           truncated=torch.tensor([False, False, True]), gamma=0.5)
    tensor([3.5000, 1.0000, 3.5000])
    """
    next_values = next_q_values.max(dim=1).values
    return rewards + gamma * (1.0 - terminated.float()) * next_values


def double_dqn_target(
    rewards: torch.Tensor,
    next_q_online: torch.Tensor,
    next_q_target: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float | torch.Tensor,
) -> torch.Tensor:
    """Double DQN: the online net chooses ``a* = argmax_a Q_online(s', a)``, the target net
    rates it: ``r + gamma * Q_target(s', a*)``, without the bootstrap where ``terminated``.

    >>> double_dqn_target(torch.tensor([1.0]), torch.tensor([[1.0, 3.0]]),
    ...                   torch.tensor([[10.0, 2.0]]), torch.tensor([False]),
    ...                   torch.tensor([False]), gamma=0.5)
    tensor([2.])
    """
    best = next_q_online.argmax(dim=1, keepdim=True)
    return td_target(rewards, next_q_target.gather(1, best), terminated, truncated, gamma)


def compute_dqn_loss(
    q_network: nn.Module,
    target_network: nn.Module,
    batch: ReplaySample,
    gamma: float | torch.Tensor,
    double: bool = False,
    loss: str = "huber",
) -> tuple[torch.Tensor, torch.Tensor]:
    """DQN's loss on a minibatch of tensors, and the Q-values of the actions taken.

    1. ``Q(s, a)`` of the actions taken, from the online network (with gradient);
    2. the TD target, without gradient: :func:`td_target` on the target network's values
       (or :func:`double_dqn_target` when ``double``: the online network picks ``a'``);
    3. Huber (``"huber"``, the Nature paper's error clipping) or squared error (``"mse"``).

    Pass the online network as ``target_network`` when the target is a copy of it (synced
    after every update): one forward pass on ``s'`` then serves both roles.

    >>> from rlcourse.networks import MLPQNetwork
    >>> net = MLPQNetwork(4, 2, hidden_sizes=(8,))
    >>> batch = ReplaySample(torch.zeros(3, 4), torch.tensor([0, 1, 0]), torch.ones(3),
    ...                      torch.zeros(3, 4), torch.tensor([True, False, False]),
    ...                      torch.tensor([False, False, True]))
    >>> value, q_taken = compute_dqn_loss(net, net, batch, gamma=0.99)
    >>> value.shape, q_taken.shape, value.requires_grad
    (torch.Size([]), torch.Size([3]), True)
    """
    obs, actions, rewards, next_obs, terminated, truncated = batch
    q_taken = q_network(obs).gather(1, actions.long().unsqueeze(1)).squeeze(1)
    # The target is a fixed regression label: no gradient through it. (no_grad, not
    # inference_mode: the loss's backward keeps the target, which inference tensors forbid.)
    with torch.no_grad():
        next_q_target = target_network(next_obs)
        if double:
            # The same weights choosing and rating a' give the same numbers: no second pass.
            same = target_network is q_network
            next_q_online = next_q_target if same else q_network(next_obs)
            target = double_dqn_target(
                rewards.float(), next_q_online, next_q_target, terminated, truncated, gamma
            )
        else:
            target = td_target(rewards.float(), next_q_target, terminated, truncated, gamma)
    if loss == "huber":
        return F.smooth_l1_loss(q_taken, target), q_taken
    if loss == "mse":
        return F.mse_loss(q_taken, target), q_taken
    raise ValueError(f"loss must be 'huber' or 'mse', got {loss!r}")


@torch.no_grad()
def update_target_network(target: nn.Module, online: nn.Module, tau: float) -> None:
    """``theta_target <- tau * theta_online + (1 - tau) * theta_target``, in place.

    ``tau = 1`` is the Nature DQN's hard update (a copy, every ``target_update_interval``
    steps); ``tau < 1`` is the soft (Polyak) update, a little every time.

    >>> online, target = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    >>> _ = online.weight.data.fill_(1.0), target.weight.data.fill_(0.0)
    >>> update_target_network(target, online, tau=0.1)
    >>> round(target.weight.item(), 6)
    0.1
    """
    check_number("tau", tau, low=0, high=1, low_open=True)
    for target_param, online_param in zip(target.parameters(), online.parameters(), strict=True):
        if tau == 1.0:
            target_param.copy_(online_param)
        else:
            target_param.lerp_(online_param, tau)


# --- the agent --------------------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; anything else as torch understands it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device={device!r} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for, but this machine has no CUDA GPU")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} asked for, but this machine has no Apple GPU (MPS)")
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device={device!r} cannot train an agent: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        )
    return resolved


def q_network_spec(
    observation_space: gym.spaces.Box, n_actions: int, config: DQNConfig
) -> dict[str, Any]:
    """An MLP for vector observations, the Nature CNN for stacked uint8 frames."""
    shape = tuple(observation_space.shape)
    if len(shape) == 1:
        return network_spec(
            "MLPQNetwork",
            obs_dim=shape[0],
            n_actions=n_actions,
            hidden_sizes=config.hidden_sizes,
            dueling=config.dueling,
        )
    if len(shape) == 3 and observation_space.dtype == np.uint8:
        return network_spec(
            "NatureCNN", obs_shape=shape, n_actions=n_actions, dueling=config.dueling
        )
    raise ValueError(
        f"no Q-network for {observation_space.dtype} observations of shape {shape}: vectors "
        "or uint8 (frames, H, W) stacks are supported"
    )


def make_replay_buffer(observation_space: gym.spaces.Box, config: DQNConfig) -> Any:
    """``AtariReplayBuffer`` for uint8 frame stacks (each frame stored once), else
    ``ReplayBuffer``. Sampling draws from its own generator, seeded from ``config.seed``."""
    rng = np.random.default_rng(config.seed + 1)
    shape = observation_space.shape
    if len(shape) == 3 and observation_space.dtype == np.uint8:
        return AtariReplayBuffer(config.buffer_size, shape, rng=rng)
    return ReplayBuffer(config.buffer_size, shape, obs_dtype=observation_space.dtype, rng=rng)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    """Whether two networks of one architecture hold equal weights (the first tensor that
    differs ends the comparison)."""
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def make_adam(network: nn.Module, lr: float, eps: float) -> torch.optim.Adam:
    """Adam, fused where this torch has the kernel for the network's device (CPU since
    torch 2.4, CUDA, MPS): one kernel over all the weights instead of a Python loop over the
    tensors, ~10x faster on the Nature CNN on a CPU, the same numbers to float rounding."""
    parameters = list(network.parameters())
    try:
        return torch.optim.Adam(parameters, lr=lr, eps=eps, fused=True)
    except RuntimeError:  # no fused kernel for this device in this torch
        return torch.optim.Adam(parameters, lr=lr, eps=eps)


class UpdateInfo(NamedTuple):
    """What one gradient step measured."""

    loss: float
    q_mean: float


def dqn_gradient_step(
    q_network: nn.Module,
    target_network: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: ReplaySample,
    gamma: float | torch.Tensor,
    *,
    double: bool = False,
    loss: str = "huber",
    max_grad_norm: float | None = 10.0,
) -> UpdateInfo:
    """One gradient step of DQN on a replay minibatch; the loss and the mean ``Q(s, a)``.

    1. the minibatch (NumPy arrays as the replay memory samples them, or tensors) goes to
       the online network's device *as it is*: uint8 frames stay uint8, one byte a pixel
       to move, and the network scales them itself (:class:`~rlcourse.networks.NatureCNN`);
    2. :func:`compute_dqn_loss`: ``Q(s, a)`` with gradient, the TD target without (only
       ``terminated`` cuts the bootstrap), Huber loss;
    3. a loss that is not finite stops here, before any weight changes
       (:func:`~rlcourse.errors.check_finite_loss`);
    4. the gradients of the previous step cleared, backward, the gradient's global norm
       clipped to ``max_grad_norm`` (None: not clipped), then the optimizer's step. The
       target network gets no gradient and is not changed.

    >>> from rlcourse.networks import MLPQNetwork
    >>> net, target = MLPQNetwork(4, 2, hidden_sizes=(8,)), MLPQNetwork(4, 2, hidden_sizes=(8,))
    >>> batch = ReplaySample(np.zeros((3, 4), np.float32), np.array([0, 1, 0]),
    ...                      np.ones(3, np.float32), np.zeros((3, 4), np.float32),
    ...                      np.array([True, False, False]), np.array([False, False, True]))
    >>> optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> info = dqn_gradient_step(net, target, optimizer, batch, gamma=0.99)
    >>> type(info.loss), type(info.q_mean), target.layers[0].weight.grad is None
    (<class 'float'>, <class 'float'>, True)
    """
    device = next(q_network.parameters()).device
    batch = ReplaySample(*(torch.as_tensor(array, device=device) for array in batch))
    loss_tensor, q_taken = compute_dqn_loss(
        q_network, target_network, batch, gamma, double=double, loss=loss
    )
    loss_value = loss_tensor.item()
    check_finite_loss(loss_value)
    optimizer.zero_grad(set_to_none=True)
    loss_tensor.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_network.parameters(), max_grad_norm)
    optimizer.step()
    return UpdateInfo(loss_value, q_taken.detach().mean().item())


def double_dqn_update(
    q_network: nn.Module,
    target_network: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: ReplaySample,
    gamma: float,
    tau: float,
    max_grad_norm: float | None = 10.0,
) -> float:
    """One whole Double DQN update with a soft target (lesson 06's exercise 3; the PyTorch
    Mario tutorial's ``Mario.learn``); returns the loss's value.

    1. :func:`dqn_gradient_step` with ``double=True``: the Double DQN loss of the networks
       as they are given (the online net chooses ``a'``, the target net rates it, without
       gradient; only ``terminated`` cuts the bootstrap), one clipped step of ``optimizer``;
    2. then the target follows the *updated* online net a fraction ``tau`` of the way
       (:func:`update_target_network`; ``tau = 1``: a copy).

    The course's agent does the same with ``DQNConfig(double=True, train_frequency=1,
    gradient_steps=1, target_update_interval=1)``: :meth:`DQN.update`, then the target's
    refresh in :meth:`DQN.observe`.

    >>> q, target = nn.Linear(2, 2), nn.Linear(2, 2)
    >>> batch = ReplaySample(torch.zeros(3, 2), torch.tensor([0, 1, 0]), torch.ones(3),
    ...                      torch.ones(3, 2), torch.tensor([True, False, False]),
    ...                      torch.tensor([False, False, True]))
    >>> optimizer = torch.optim.SGD(q.parameters(), lr=0.1)
    >>> isinstance(double_dqn_update(q, target, optimizer, batch, 0.99, tau=0.005), float)
    True
    """
    info = dqn_gradient_step(
        q_network,
        target_network,
        optimizer,
        batch,
        gamma,
        double=True,
        max_grad_norm=max_grad_norm,
    )
    update_target_network(target_network, q_network, tau)
    return info.loss


class DQN:
    """A DQN agent: online and target Q-networks, replay memory, epsilon-greedy acting.

    ``buffer``: a replay memory of your own (default: :func:`make_replay_buffer`).

    >>> env = gym.make("CartPole-v1")
    >>> agent = DQN(env.observation_space, env.action_space, DQNConfig(seed=0, device="cpu"))
    >>> obs, _ = env.reset(seed=0)
    >>> agent.act(obs) in (0, 1), agent.epsilon
    (True, 1.0)
    """

    algo = "dqn"

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: DQNConfig | None = None,
        buffer: Any = None,
    ) -> None:
        if not isinstance(action_space, gym.spaces.Discrete):
            raise TypeError(f"DQN needs a Discrete action space, got {action_space}")
        if not isinstance(observation_space, gym.spaces.Box):
            raise TypeError(f"DQN needs a Box observation space, got {observation_space}")
        self.config = config or DQNConfig()
        self.observation_space = observation_space
        self.n_actions = int(action_space.n)
        self.device = resolve_device(self.config.device)
        self.network_spec = q_network_spec(observation_space, self.n_actions, self.config)
        # Seeded weights; torch's global generator is left as it was.
        network = build_network(self.network_spec, copies=4, seed=self.config.seed)
        self.q = network.to(self.device)
        self.target = copy.deepcopy(self.q).requires_grad_(False)
        self.optimizer = make_adam(self.q, self.config.lr, self.config.adam_eps)
        self.rng = np.random.default_rng(self.config.seed)
        # `buffer or ...` would replace an empty (falsy: len 0) buffer of the caller's.
        if buffer is None:
            buffer = make_replay_buffer(observation_space, self.config)
        self.buffer = buffer
        self.steps = 0  # env steps observed
        self.updates = 0  # gradient steps taken
        # The step the replay memory began filling at: 0, or where a run resumed without it
        # (it then refills learning_starts transitions before the next update).
        self.memory_since = 0
        # The exploratory action being held (config.explore_repeat) and the steps it has left.
        self.explore_action, self.explore_left = 0, 0

    # acting ------------------------------------------------------------------------------

    @property
    def epsilon(self) -> float:
        c = self.config
        return linear_schedule(c.epsilon_start, c.epsilon_end, c.exploration_steps, self.steps)

    @torch.no_grad()
    def q_values(self, obs: Any) -> np.ndarray:
        """Q-values of one observation, as a NumPy array of length ``n_actions``."""
        tensor = torch.as_tensor(np.asarray(obs), device=self.device).unsqueeze(0)
        return self.q(tensor)[0].cpu().numpy()

    def act(self, obs: Any, epsilon: float | None = None) -> int:
        """Epsilon-greedy action (epsilon from the schedule unless given). With
        ``config.explore_repeat = k > 1`` a random action, once drawn, is played k steps
        in a row (or until the episode ends, or a call asks for ``epsilon=0``)."""
        epsilon = self.epsilon if epsilon is None else epsilon
        if self.explore_left > 0:
            if epsilon > 0:
                self.explore_left -= 1
                return self.explore_action
            self.explore_left = 0  # greedy play is asked for: drop the held random action
        random_action = explore(epsilon, self.n_actions, self.rng)  # no forward pass: hot path
        if random_action is not None:
            self.explore_action = random_action
            self.explore_left = self.config.explore_repeat - 1
            return random_action
        return greedy_action(self.q_values(obs))

    def greedy(self, obs: Any) -> int:
        """The greedy action: for evaluation and videos."""
        return greedy_action(self.q_values(obs))

    def policy(self, epsilon: float = 0.0, seed: int = 0) -> QPolicy:
        """The online network as a :class:`~rlcourse.policies.QPolicy` (shares its weights)."""
        return QPolicy(self.q, epsilon=epsilon, seed=seed)

    # learning ----------------------------------------------------------------------------

    def observe(
        self,
        obs: Any,
        action: int,
        reward: float,
        next_obs: Any,
        terminated: bool,
        truncated: bool,
    ) -> UpdateInfo | None:
        """Store a transition; train and update the target net when due."""
        c = self.config
        self.buffer.add(obs, action, reward, next_obs, terminated, truncated)
        self.steps += 1
        if terminated or truncated:
            self.explore_left = 0  # a held action does not carry into the next episode
        info = None
        filled = self.steps - self.memory_since >= c.learning_starts
        if filled and self.steps % c.train_frequency == 0:
            for _ in range(c.gradient_steps):
                if c.n_step == 1:
                    info = self.update(self.buffer.sample(c.batch_size))
                else:
                    info = self.update(*self.buffer.sample_n_step(c.batch_size, c.n_step, c.gamma))
        if self.steps % c.target_update_interval == 0:
            update_target_network(self.target, self.q, c.tau)
        return info

    def update(self, batch: ReplaySample, discounts: Any = None) -> UpdateInfo:
        """One gradient step on a minibatch (:func:`dqn_gradient_step`). ``discounts``: the
        bootstrap discount of each n-step transition (``gamma ** k``, from
        ``sample_n_step``); ``None`` for one-step transitions (``gamma``)."""
        c = self.config
        batch = ReplaySample(*(torch.as_tensor(array, device=self.device) for array in batch))
        if c.random_shift and batch.obs.ndim == 4:  # image stacks: each shifted on its own
            batch = batch._replace(
                obs=random_shift(batch.obs, c.random_shift, self.rng),
                next_obs=random_shift(batch.next_obs, c.random_shift, self.rng),
            )
        gamma = c.gamma if discounts is None else torch.as_tensor(discounts, device=self.device)
        # A target synced since the last update (the atari100k preset's, at every update) is
        # the online net: one forward pass on s' then serves both (the check costs ~1 ms).
        target = self.q if same_weights(self.target, self.q) else self.target
        info = dqn_gradient_step(
            self.q,
            target,
            self.optimizer,
            batch,
            gamma,
            double=c.double,
            loss=c.loss,
            max_grad_norm=c.max_grad_norm,
        )
        self.updates += 1
        return info

    # checkpoints -------------------------------------------------------------------------

    def checkpoint(
        self,
        env_id: str,
        env_options: dict[str, Any] | None = None,
        resume: dict[str, Any] | None = None,
        include_buffer: bool = True,
    ) -> dict[str, Any]:
        """This agent in the course's checkpoint format; with ``resume`` (the loop's state)
        a resume point: target net, optimizer, update count and, if ``include_buffer``, the
        replay memory are added to it."""
        if resume is not None:
            resume = {
                **resume,
                "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "updates": self.updates,
                "explore": [self.explore_action, self.explore_left],
                "memory_since": self.memory_since,
                **({"buffer": buffer_state(self.buffer)} if include_buffer else {}),
            }
        return make_checkpoint(
            algo=self.algo,
            env_id=env_id,
            env_options=env_options,
            config=asdict(self.config),
            network_spec=self.network_spec,
            weights=self.q.state_dict(),
            steps=self.steps,
            rng={"agent": rng_state(self.rng)},
            resume=resume,
        )

    def restore(self, payload: dict[str, Any]) -> None:
        """Continue from a resume point made by :meth:`checkpoint` (same config and env)."""
        resume = restore_training_state(self.q, self.optimizer, self.network_spec, payload)
        self.target.load_state_dict(resume["target"])
        set_rng_state(self.rng, payload["rng"]["agent"])
        self.steps, self.updates = int(payload["steps"]), int(resume["updates"])
        # Resume points written before explore_repeat existed hold no action.
        self.explore_action, self.explore_left = (int(v) for v in resume.get("explore", (0, 0)))
        if "buffer" in resume:
            restore_buffer(self.buffer, resume["buffer"])
            self.memory_since = int(resume.get("memory_since", 0))
        else:  # saved without its replay memory: refill before learning again
            self.memory_since = self.steps


def buffer_state(buffer: Any) -> dict[str, Any]:
    """Everything a replay buffer holds, as checkpoint-friendly data."""
    state: dict[str, Any] = {}
    for name, value in vars(buffer).items():
        if isinstance(value, np.ndarray):
            state[name] = value
        elif isinstance(value, np.random.Generator):
            state[name] = {"rng": rng_state(value)}
        elif isinstance(value, (int, float, bool)) and not name.startswith("__"):
            state[name] = value
    return state


def restore_buffer(buffer: Any, state: dict[str, Any]) -> None:
    """Put what :func:`buffer_state` saved back into ``buffer`` (same capacity and shapes)."""
    for name, value in state.items():
        current = getattr(buffer, name)
        if isinstance(current, np.ndarray):
            array = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            if array.shape != current.shape:
                raise CheckpointError(
                    f"checkpoint replay memory {name} has shape {array.shape}, this agent's "
                    f"has {current.shape}: use the same buffer_size and env"
                )
            current[...] = array
        elif isinstance(current, np.random.Generator):
            set_rng_state(current, value["rng"])
        else:
            setattr(buffer, name, value)
