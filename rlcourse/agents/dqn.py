"""DQN and Double DQN (Mnih et al. 2015; van Hasselt et al. 2016), one agent for all lessons.

The pieces, in the order a transition flows through them:

1. :meth:`DQN.act`: epsilon-greedy on the online Q-network (:func:`epsilon_greedy`), epsilon
   following a linear schedule;
2. :meth:`DQN.observe`: store the transition in replay memory; every ``train_frequency``
   steps, ``gradient_steps`` updates on random minibatches;
3. :meth:`DQN.update`: regress ``Q(s, a)`` on the TD target (:func:`td_target`), which
   masks the bootstrap only where the episode *terminated* (a truncated episode still has
   a future); Huber loss; gradient clipping;
4. the target network: copied (``tau=1``) or blended (``tau<1``) every
   ``target_update_interval`` steps.

:func:`train` runs the loop: progress bar, CSV log, live plot, evaluation, checkpoints.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from rlcourse.buffers import AtariReplayBuffer, ReplayBuffer, ReplaySample
from rlcourse.networks import MLPQNetwork, NatureCNN
from rlcourse.training import (
    CheckpointError,
    LivePlot,
    MetricLogger,
    config_from_dict,
    evaluate,
    linear_schedule,
    load_checkpoint,
    progress_bar,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


@dataclass
class DQNConfig:
    """DQN hyperparameters (see :func:`cartpole_config` for a tuned preset)."""

    gamma: float = 0.99
    """Discount factor of future rewards."""
    lr: float = 1e-3
    """Adam learning rate."""
    batch_size: int = 64
    """Transitions per gradient step."""
    buffer_size: int = 50_000
    """Replay memory capacity (transitions); the oldest are overwritten."""
    learning_starts: int = 1_000
    """Env steps of pure exploration before the first update (fills the memory)."""
    train_frequency: int = 1
    """Env steps between rounds of updates."""
    gradient_steps: int = 1
    """Gradient steps per round of updates."""
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
    loss: str = "huber"
    """'huber' (smooth L1, as in the Nature paper's error clipping) or 'mse'."""
    max_grad_norm: float | None = 10.0
    """Clip the gradient's global norm to this (None: no clipping)."""
    double: bool = False
    """Double DQN: the online net picks argmax a', the target net evaluates it."""
    dueling: bool = False
    """Dueling head: separate state-value and advantage streams (Wang et al. 2016)."""
    hidden_sizes: tuple[int, ...] = (128, 128)
    """Widths of the MLP's hidden layers (vector observations; images get the Nature CNN)."""
    seed: int = 0
    """Seeds network initialisation, exploration, replay sampling and env resets."""
    device: str = "auto"
    """'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:1', ..."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes stored with checkpoints (e.g. the command that made them)."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(self.hidden_sizes)
        positive = ("batch_size", "buffer_size", "train_frequency", "gradient_steps",
                    "target_update_interval")  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"DQNConfig.{name} must be a positive int, got {value!r}")
        if self.learning_starts < 0 or self.exploration_steps < 0:
            raise ValueError("DQNConfig.learning_starts and exploration_steps must be >= 0")
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"DQNConfig.gamma must be in [0, 1], got {self.gamma}")
        if not 0 < self.tau <= 1:
            raise ValueError(f"DQNConfig.tau must be in (0, 1], got {self.tau}")
        if self.lr <= 0:
            raise ValueError(f"DQNConfig.lr must be positive, got {self.lr}")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"DQNConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"DQNConfig.loss must be 'huber' or 'mse', got {self.loss!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DQNConfig:
        return config_from_dict(cls, values)


def cartpole_config(**overrides: Any) -> DQNConfig:
    """The course's CartPole-v1 setting: the RL-Zoo hyperparameters (train every 256 steps,
    128 gradient steps each time) with a 128x128 network and Double DQN targets. It solved
    (10-episode greedy mean >= 475) 5 seeds of 5 in 20-32k steps; see bench/cartpole_solve.py.
    """
    values: dict[str, Any] = {
        "lr": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1_000,
        "train_frequency": 256, "gradient_steps": 128, "target_update_interval": 10,
        "exploration_steps": 8_000, "epsilon_end": 0.04, "hidden_sizes": (128, 128),
        "double": True,
    }  # fmt: skip
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
        "lr": 1e-4, "batch_size": 32, "buffer_size": 200_000, "learning_starts": 20_000,
        "train_frequency": 4, "gradient_steps": 1, "target_update_interval": 2_000,
        "exploration_steps": 250_000, "epsilon_end": 0.01, "max_grad_norm": 10.0,
        "double": False,
    }  # fmt: skip
    values.update(overrides)
    return DQNConfig(**values)


PRESETS = {"cartpole": cartpole_config, "atari": atari_config}


def default_preset(env_id: str) -> str:
    """The preset the CLI uses when none is named: 'atari' for pixel games (ALE, NES Super
    Mario), else 'cartpole'."""
    from rlcourse.envs import is_atari, is_nes_mario

    return "atari" if is_nes_mario(env_id) or is_atari(env_id) else "cartpole"


def make_env_for(
    env_id: str,
    training: bool,
    render_mode: str | None = None,
    actions: str | Sequence[str] | None = None,
) -> gym.Env:
    """The env a DQN trains on (``training=True``) or is evaluated on.

    ALE games get :func:`~rlcourse.envs.make_atari_env`, with episodic life and reward
    clipping only for training, so evaluations report real game scores. ``actions``: a
    reduced action set (``"right"``, ``"simple"`` or action names). NES Super Mario ids
    (optional package) get :func:`~rlcourse.envs.make_mario_env`, the PyTorch tutorial's
    pipeline, with its "right" set unless ``actions`` says otherwise.
    """
    from rlcourse.envs import is_atari, is_nes_mario, make_atari_env, make_env, make_mario_env

    if is_nes_mario(env_id):  # before is_atari, which would import the optional package
        return make_mario_env(
            env_id, actions="right" if actions is None else actions, render_mode=render_mode
        )
    if is_atari(env_id):
        return make_atari_env(
            env_id, episodic_life=training, clip_rewards=training, render_mode=render_mode,
            actions=actions,
        )  # fmt: skip
    return make_env(env_id, render_mode=render_mode, actions=actions)


def env_for_checkpoint(
    payload: dict[str, Any], training: bool = False, render_mode: str | None = None
) -> gym.Env:
    """The env a checkpoint was trained for (its id and options, e.g. a reduced action set)."""
    options = payload.get("env_options") or {}
    return make_env_for(payload["env_id"], training, render_mode=render_mode, **options)


# --- the formulas (each one an exercise in notebook 03) ---------------------------------


def td_target(
    rewards: torch.Tensor, next_q_values: torch.Tensor, terminated: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``r + gamma * max_a' Q_target(s', a')``, without the bootstrap where ``terminated``.

    ``next_q_values`` is ``(batch, n_actions)``. A *truncated* transition keeps its bootstrap:
    the time limit cut the episode, the state itself still had a future.

    >>> td_target(torch.tensor([1.0, 1.0]), torch.tensor([[2.0, 5.0], [2.0, 5.0]]),
    ...           torch.tensor([False, True]), gamma=0.5)
    tensor([3.5000, 1.0000])
    """
    next_values = next_q_values.max(dim=1).values
    return rewards + gamma * (1.0 - terminated.float()) * next_values


def double_dqn_next_values(
    next_q_online: torch.Tensor, next_q_target: torch.Tensor
) -> torch.Tensor:
    """Double DQN: the online net chooses ``a* = argmax_a Q_online(s', a)``, the target net
    rates it: ``Q_target(s', a*)``. Returned as ``(batch, 1)`` so :func:`td_target` applies.

    >>> double_dqn_next_values(torch.tensor([[1.0, 3.0]]), torch.tensor([[10.0, 2.0]]))
    tensor([[2.]])
    """
    best = next_q_online.argmax(dim=1, keepdim=True)
    return next_q_target.gather(1, best)


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
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    for target_param, online_param in zip(target.parameters(), online.parameters(), strict=True):
        if tau == 1.0:
            target_param.copy_(online_param)
        else:
            target_param.lerp_(online_param, tau)


def epsilon_greedy(q_values: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """A random action with probability ``epsilon``, else the greedy one.

    >>> epsilon_greedy(np.array([0.0, 2.0, 1.0]), 0.0, np.random.default_rng(0))
    1
    """
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    return int(np.argmax(q_values))


# --- the agent --------------------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; anything else as torch understands it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for, but this machine has no CUDA GPU")
    return resolved


def make_q_network(
    observation_space: gym.spaces.Box, n_actions: int, config: DQNConfig
) -> nn.Module:
    """An MLP for vector observations, the Nature CNN for stacked uint8 frames."""
    shape = observation_space.shape
    if len(shape) == 1:
        return MLPQNetwork(shape[0], n_actions, config.hidden_sizes, dueling=config.dueling)
    if len(shape) == 3 and observation_space.dtype == np.uint8:
        return NatureCNN(shape, n_actions, dueling=config.dueling)
    raise ValueError(
        f"no Q-network for {observation_space.dtype} observations of shape {shape}: vectors "
        "or uint8 (frames, H, W) stacks are supported; pass q_network=... to DQN"
    )


def make_replay_buffer(observation_space: gym.spaces.Box, config: DQNConfig) -> Any:
    """``AtariReplayBuffer`` for uint8 frame stacks (each frame stored once), else
    ``ReplayBuffer``. Sampling draws from its own generator, seeded from ``config.seed``."""
    rng = np.random.default_rng(config.seed + 1)
    shape = observation_space.shape
    if len(shape) == 3 and observation_space.dtype == np.uint8:
        return AtariReplayBuffer(config.buffer_size, shape, rng=rng)
    return ReplayBuffer(config.buffer_size, shape, obs_dtype=observation_space.dtype, rng=rng)


class UpdateInfo(NamedTuple):
    """What one gradient step measured."""

    loss: float
    q_mean: float


class DQN:
    """A DQN agent: online and target Q-networks, replay memory, epsilon-greedy acting.

    >>> env = gym.make("CartPole-v1")
    >>> agent = DQN(env.observation_space, env.action_space, DQNConfig(seed=0, device="cpu"))
    >>> obs, _ = env.reset(seed=0)
    >>> agent.act(obs) in (0, 1), agent.epsilon
    (True, 1.0)
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: DQNConfig | None = None,
        q_network: nn.Module | None = None,
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
        # Seed the weights without touching torch's global RNG (fork_rng restores it).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            network = q_network or make_q_network(observation_space, self.n_actions, self.config)
        self.q = network.to(self.device)
        self.target = copy.deepcopy(self.q).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=self.config.lr)
        self.rng = np.random.default_rng(self.config.seed)
        self.buffer = buffer or make_replay_buffer(observation_space, self.config)
        self.steps = 0  # env steps observed
        self.updates = 0  # gradient steps taken

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
        """Epsilon-greedy action (epsilon from the schedule unless given)."""
        epsilon = self.epsilon if epsilon is None else epsilon
        if self.rng.random() < epsilon:  # explore without a forward pass: it is the hot path
            return int(self.rng.integers(self.n_actions))
        return int(np.argmax(self.q_values(obs)))

    def greedy(self, obs: Any) -> int:
        """The greedy action: for evaluation and videos."""
        return int(np.argmax(self.q_values(obs)))

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
        info = None
        if self.steps >= c.learning_starts and self.steps % c.train_frequency == 0:
            for _ in range(c.gradient_steps):
                info = self.update(self.buffer.sample(c.batch_size))
        if self.steps % c.target_update_interval == 0:
            self.update_target()
        return info

    def update(self, batch: ReplaySample) -> UpdateInfo:
        """One gradient step on a minibatch."""
        c = self.config
        obs, actions, rewards, next_obs, terminated, _ = (
            torch.as_tensor(array, device=self.device) for array in batch
        )
        with torch.no_grad():
            next_q_target = self.target(next_obs)
            if c.double:
                next_q_target = double_dqn_next_values(self.q(next_obs), next_q_target)
            target = td_target(rewards.float(), next_q_target, terminated, c.gamma)
        q_taken = self.q(obs).gather(1, actions.long().unsqueeze(1)).squeeze(1)
        if c.loss == "huber":
            loss = F.smooth_l1_loss(q_taken, target)
        else:
            loss = F.mse_loss(q_taken, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.q.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return UpdateInfo(loss.item(), q_taken.detach().mean().item())

    def update_target(self) -> None:
        """Hard copy (``tau=1``) or Polyak average (``tau<1``) of the online weights."""
        update_target_network(self.target, self.q, self.config.tau)

    # saving ------------------------------------------------------------------------------

    def network_spec(self) -> dict[str, Any]:
        """What a checkpoint's weights fit: observation shape, actions, layer shapes."""
        return {
            "obs_shape": tuple(self.observation_space.shape),
            "n_actions": self.n_actions,
            "layers": {k: tuple(v.shape) for k, v in self.q.state_dict().items()},
        }

    def state_dict(self, include_buffer: bool = True) -> dict[str, Any]:
        state: dict[str, Any] = {
            "algo": "dqn",
            "config": self.config.to_dict(),
            "network_spec": self.network_spec(),
            "q": self.q.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng_state(self.rng),
            "steps": self.steps,
            "updates": self.updates,
        }
        if include_buffer:
            state["buffer"] = buffer_state(self.buffer)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        spec = self.network_spec()
        if state.get("network_spec") != spec:
            saved = state.get("network_spec", {})
            raise CheckpointError(
                f"checkpoint network does not fit this agent: saved for observations "
                f"{saved.get('obs_shape')} and {saved.get('n_actions')} actions, this agent has "
                f"{spec['obs_shape']} and {spec['n_actions']} (or the layer sizes differ)"
            )
        as_float = {k: v.float() if v.is_floating_point() else v for k, v in state["q"].items()}
        self.q.load_state_dict(as_float)  # exported weights may be fp16
        self.target.load_state_dict(state.get("target", self.q.state_dict()))
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        if "rng" in state:
            set_rng_state(self.rng, state["rng"])
        self.steps, self.updates = int(state.get("steps", 0)), int(state.get("updates", 0))
        if "buffer" in state:
            restore_buffer(self.buffer, state["buffer"])


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


# --- the training loop ------------------------------------------------------------------

LOG_FIELDS = ["step", "episode", "wall_seconds", "episode_return", "episode_length",
              "epsilon", "loss", "q_mean", "eval_mean", "eval_std"]  # fmt: skip


@dataclass
class TrainState:
    """The loop's own state: saved in checkpoints so a run can resume exactly."""

    episode: int = 0
    """Episodes finished (episode ``i`` resets with seed ``config.seed + i``)."""
    wall_seconds: float = 0.0
    """Training time so far, evaluation excluded."""
    episode_returns: list[float] = field(default_factory=list)
    """Return of every finished training episode."""
    evaluations: list[tuple[int, float, float]] = field(default_factory=list)
    """(step, mean, std) of each evaluation."""


class TrainResult(NamedTuple):
    agent: DQN
    state: TrainState
    solved_at_step: int | None
    """First step at which an evaluation reached ``solve_score`` (None if never)."""
    metrics: MetricLogger
    """Per-episode return, length, loss and mean Q with moving averages: ``.plot()``."""


def train(
    agent: DQN,
    env: gym.Env,
    total_steps: int,
    *,
    env_id: str | None = None,
    eval_env: gym.Env | None = None,
    eval_every: int | None = None,
    eval_episodes: int = 10,
    solve_score: float | None = None,
    out_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    live_plot: bool = False,
    save_buffer: bool = True,
    metrics_window: int = 100,
    env_options: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``agent`` on ``env`` until ``total_steps`` env steps have been taken.

    With ``out_dir``: a CSV log (``log.csv``), a full checkpoint (``checkpoint.pt``, at the
    first episode end after every ``checkpoint_every`` steps) and the final weights
    (``final.pt``), plus ``best.pt``: the weights of the best evaluation so far, and
    ``metrics.png`` (:meth:`MetricLogger.plot`, redrawn at every checkpoint and at the end).
    ``resume=True`` continues from ``out_dir/checkpoint.pt``; since episode
    ``i`` always starts from ``reset(seed=config.seed + i)``, on CPU the result is the same as
    an uninterrupted run.
    Evaluation (greedy, ``eval_episodes`` episodes on ``eval_env``) every ``eval_every`` steps;
    with ``solve_score`` training stops at the first evaluation whose mean reaches it.
    ``metrics_window``: episodes in the moving averages of ``result.metrics``.
    ``env_options``: how ``env`` was made beyond its id (e.g. ``{"actions": "right"}``), saved
    in every checkpoint so :func:`env_for_checkpoint` rebuilds the same env.
    """
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    env_id = env_id or (env.spec.id if env.spec else "unknown")
    state = TrainState()
    out = Path(out_dir) if out_dir is not None else None
    if out and not resume:
        (out / "log.csv").unlink(missing_ok=True)  # a new run: a new log
    metrics = MetricLogger(out / "log.csv" if out else None, LOG_FIELDS, window=metrics_window)
    checkpoint = out / "checkpoint.pt" if out else None
    if resume:
        if checkpoint is None or not checkpoint.exists():
            raise CheckpointError(f"nothing to resume: no checkpoint in {out_dir!r}")
        state = load_training_checkpoint(checkpoint, agent, env_id)
        metrics.resume(agent.steps)
    plot = LivePlot(["episode_return", "loss", "epsilon"]) if live_plot else None
    bar = progress_bar(total_steps, f"DQN {env_id}", enabled=progress)
    bar.update(agent.steps)
    solved_at = None
    last_checkpoint = agent.steps
    obs, _ = env.reset(seed=agent.config.seed + state.episode)
    started = time.perf_counter()
    try:
        while agent.steps < total_steps:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            info = agent.observe(obs, action, float(reward), next_obs, terminated, truncated)
            metrics.log_step(reward, info.loss if info else None, info.q_mean if info else None)
            obs = next_obs
            bar.update(1)
            if terminated or truncated:
                state.episode += 1
                state.wall_seconds += time.perf_counter() - started
                row = metrics.log_episode(
                    agent.steps, episode=state.episode, epsilon=agent.epsilon,
                    wall_seconds=state.wall_seconds,
                )  # fmt: skip
                state.episode_returns.append(row["episode_return"])
                if plot:
                    plot.add(agent.steps, episode_return=row["episode_return"],
                             epsilon=agent.epsilon, loss=row["loss"])  # fmt: skip
                recent = np.mean(state.episode_returns[-10:])
                bar.set_postfix(ret=f"{recent:.1f}", eps=f"{agent.epsilon:.2f}", refresh=False)
                obs, _ = env.reset(seed=agent.config.seed + state.episode)
                if (
                    checkpoint
                    and checkpoint_every
                    and agent.steps - last_checkpoint >= checkpoint_every
                ):
                    save_training_checkpoint(
                        checkpoint, agent, state, env_id, save_buffer, env_options
                    )
                    metrics.plot(out / "metrics.png", title=f"DQN {env_id}")
                    last_checkpoint = agent.steps
                started = time.perf_counter()
            if eval_every and eval_env is not None and agent.steps % eval_every == 0:
                state.wall_seconds += time.perf_counter() - started
                scores = evaluate(agent.greedy, eval_env, eval_episodes, seed=10_000)
                best_so_far = max((mean for _, mean, _ in state.evaluations), default=None)
                state.evaluations.append((agent.steps, float(scores.mean()), float(scores.std())))
                if out and (best_so_far is None or scores.mean() > best_so_far):
                    export_weights(agent, out / "best.pt", env_id, env_options=env_options)
                metrics.log_evaluation(
                    agent.steps, scores.mean(), scores.std(),
                    episode=state.episode, wall_seconds=state.wall_seconds,
                )  # fmt: skip
                bar.set_postfix(eval=f"{scores.mean():.1f}", eps=f"{agent.epsilon:.2f}")
                started = time.perf_counter()
                if solve_score is not None and scores.mean() >= solve_score:
                    solved_at = agent.steps
                    break
    finally:
        bar.close()
        if plot:
            plot.draw()
    state.wall_seconds += time.perf_counter() - started
    if out:
        # The final weights, small, for `rlcourse watch` and evaluation. checkpoint.pt stays
        # at the last episode end: the point an exact resume can continue from.
        export_weights(agent, out / "final.pt", env_id, env_options=env_options)
        metrics.plot(out / "metrics.png", title=f"DQN {env_id}")
    return TrainResult(agent, state, solved_at, metrics)


def save_training_checkpoint(
    path: str | Path,
    agent: DQN,
    state: TrainState,
    env_id: str,
    save_buffer: bool = True,
    env_options: dict[str, Any] | None = None,
) -> Path:
    payload = agent.state_dict(include_buffer=save_buffer)
    payload.update(env_id=env_id, env_options=dict(env_options or {}), train_state=asdict(state))
    return save_checkpoint(path, payload)


def load_training_checkpoint(path: str | Path, agent: DQN, env_id: str) -> TrainState:
    payload = load_checkpoint(path, expect={"algo": "dqn", "env_id": env_id})
    agent.load_state_dict(payload)
    saved = payload["train_state"]
    return TrainState(
        episode=int(saved["episode"]),
        wall_seconds=float(saved["wall_seconds"]),
        episode_returns=[float(x) for x in saved["episode_returns"]],
        evaluations=[tuple(e) for e in saved["evaluations"]],
    )


def export_weights(
    agent: DQN,
    path: str | Path,
    env_id: str,
    half: bool = False,
    env_options: dict[str, Any] | None = None,
) -> Path:
    """A small checkpoint for playing only: online weights (fp16 if ``half``), config, env."""
    weights = {k: v.detach().cpu() for k, v in agent.q.state_dict().items()}
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    return save_checkpoint(path, {
        "algo": "dqn", "env_id": env_id, "env_options": dict(env_options or {}),
        "config": agent.config.to_dict(), "network_spec": agent.network_spec(), "q": weights,
        "steps": agent.steps,
    })  # fmt: skip


def load_agent(
    path: str | Path, env: gym.Env | None = None, device: str = "auto"
) -> tuple[DQN, dict[str, Any]]:
    """Rebuild a DQN agent from a checkpoint, for evaluation or videos.

    With ``env``, its spaces must match the checkpoint's (a clear error says otherwise).
    Returns the agent and the checkpoint's payload (``env_id``, ``config``, ...).
    """
    payload = load_checkpoint(path, expect={"algo": "dqn"})
    config = DQNConfig.from_dict({**payload["config"], "device": device})
    spec = payload["network_spec"]
    if env is None:
        env = env_for_checkpoint(payload)
    if tuple(env.observation_space.shape) != tuple(spec["obs_shape"]):
        raise CheckpointError(
            f"{path} was trained on {payload['env_id']!r} with observations of shape "
            f"{tuple(spec['obs_shape'])}; this env gives {env.observation_space.shape}"
        )
    n_actions = getattr(env.action_space, "n", None)
    if n_actions is not None and n_actions != spec["n_actions"]:
        raise CheckpointError(
            f"{path} plays {payload['env_id']!r} with {spec['n_actions']} actions "
            f"(env options {payload.get('env_options') or {}}); this env has {n_actions}: "
            "make it with rlcourse.agents.dqn.env_for_checkpoint(payload)"
        )
    small = DQNConfig.from_dict({**config.to_dict(), "buffer_size": 1})
    agent = DQN(env.observation_space, env.action_space, small)
    payload_no_buffer = {k: v for k, v in payload.items() if k not in ("buffer", "optimizer")}
    agent.load_state_dict(payload_no_buffer)
    agent.config = config
    return agent, payload
