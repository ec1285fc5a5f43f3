"""Neural networks of the course: Q-networks for DQN, the recurrent actor-critic for A2C,
the MLP policy for REINFORCE.

Each network checks the input shape it was built for and says so when it gets another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch
from torch import nn

from rlcourse.config import check_positive_int
from rlcourse.resources import refuse_if_too_big


def check_input(x: torch.Tensor, expected: tuple[int, ...], network: str) -> None:
    """Raise a ValueError naming the network when ``x`` is not ``(batch, *expected)``."""
    if tuple(x.shape[1:]) != tuple(expected):
        raise ValueError(
            f"{network} was built for inputs of shape (batch, {', '.join(map(str, expected))}), "
            f"got {tuple(x.shape)}: is the env (and its wrappers) the one the network was made for?"
        )


def conv_output_size(size: int, kernel: int, stride: int) -> int:
    """Output length of a convolution without padding: ``(size - kernel) // stride + 1``.

    >>> conv_output_size(84, kernel=8, stride=4)
    20
    """
    return (size - kernel) // stride + 1


def dueling_q_values(values: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """``Q(s, a) = V(s) + A(s, a) - mean_a A(s, a)``: ``values`` ``(batch, 1)`` and
    ``advantages`` ``(batch, n_actions)`` in, ``(batch, n_actions)`` Q-values out. The mean
    over the actions makes the split unique: the mean Q of a state is its value.

    >>> dueling_q_values(torch.tensor([[1.0]]), torch.tensor([[3.0, 5.0]]))
    tensor([[0., 2.]])
    """
    return values + advantages - advantages.mean(dim=1, keepdim=True)


NETWORKS: dict[str, type[nn.Module]] = {}
"""The networks a checkpoint can name, by class name (each marked :func:`buildable`)."""

NetworkClass = TypeVar("NetworkClass", bound=type[nn.Module])


def buildable(cls: NetworkClass) -> NetworkClass:
    """Class decorator: a network a checkpoint can name (:func:`build_network` makes it)."""
    NETWORKS[cls.__name__] = cls
    return cls


class DuelingHead(nn.Module):
    """``Q(s, a) = V(s) + A(s, a) - mean_a A(s, a)`` (Wang et al. 2016; :func:`dueling_q_values`).

    Two streams share the features: how good the state is, and how much better each action
    is than the average one. Subtracting the mean makes the split unique.
    """

    def __init__(self, in_features: int, n_actions: int, hidden: int = 0) -> None:
        super().__init__()

        def stream(out: int) -> nn.Module:
            if hidden:
                return nn.Sequential(
                    nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out)
                )
            return nn.Linear(in_features, out)

        self.value = stream(1)
        self.advantage = stream(n_actions)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return dueling_q_values(self.value(features), self.advantage(features))


@buildable
class MLPQNetwork(nn.Module):
    """A multi-layer perceptron mapping a flat observation to one Q-value per action.

    >>> net = MLPQNetwork(obs_dim=4, n_actions=2, hidden_sizes=(64, 64))
    >>> net(torch.zeros(5, 4)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden_sizes: Sequence[int] = (64, 64),
        dueling: bool = False,
    ) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.n_actions = int(n_actions)
        layers: list[nn.Module] = []
        width = obs_dim
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.head: nn.Module | None = DuelingHead(width, n_actions) if dueling else None
        if not dueling:
            layers.append(nn.Linear(width, n_actions))
        self.layers = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        check_input(obs, (self.obs_dim,), type(self).__name__)
        features = self.layers(obs.float())
        return features if self.head is None else self.head(features)


# --- lessons 05-06: pixels ---------------------------------------------------------------


@buildable
class NatureCNN(nn.Module):
    """The Q-network of the Nature DQN paper (Mnih et al. 2015) for stacked frames.

    Input: uint8 frames ``(batch, k, 84, 84)``, scaled to [0, 1] *inside* the network, so
    the replay memory keeps 1-byte pixels (4x less than float32). Three convolutions
    (32 8x8 stride 4, 64 4x4 stride 2, 64 3x3 stride 1), a 512-unit layer, one output per
    action (or a :class:`DuelingHead`).

    >>> net = NatureCNN(obs_shape=(4, 84, 84), n_actions=9)
    >>> net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape
    torch.Size([2, 9])
    >>> net.conv_output_shape
    (64, 7, 7)
    """

    def __init__(
        self, obs_shape: Sequence[int] = (4, 84, 84), n_actions: int = 18, dueling: bool = False
    ) -> None:
        super().__init__()
        obs_shape = tuple(int(d) for d in obs_shape)
        if len(obs_shape) != 3:
            raise ValueError(f"NatureCNN needs (frames, height, width) inputs, got {obs_shape}")
        channels, height, width = obs_shape
        for kernel, stride in ((8, 4), (4, 2), (3, 1)):
            height, width = (
                conv_output_size(height, kernel, stride),
                conv_output_size(width, kernel, stride),
            )
        if height < 1 or width < 1:
            raise ValueError(f"frames of {obs_shape[1:]} are too small for the Nature CNN")
        self.obs_shape = obs_shape
        self.n_actions = int(n_actions)
        self.conv_output_shape = (64, height, width)
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * height * width, 512),
            nn.ReLU(),
        )
        self.head = DuelingHead(512, n_actions) if dueling else nn.Linear(512, n_actions)
        # Channels-last convolutions are ~20% faster on CPU (measured: one batch-32 update,
        # 1 thread); the weights' values and the state_dict are unchanged.
        self.features.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        check_input(obs, self.obs_shape, type(self).__name__)
        if obs.dtype != torch.uint8:
            raise TypeError(
                f"NatureCNN takes uint8 frames (it scales them itself), got {obs.dtype}; "
                "drop ScaledFloatFrame from the env"
            )
        pixels = (obs.float() / 255.0).contiguous(memory_format=torch.channels_last)
        return self.head(self.features(pixels))


# --- lesson 09: recurrent actor-critic (Kung-Fu Master) ---------------------------------

Memory = tuple[torch.Tensor, torch.Tensor]
"""An LSTM state ``(h, c)``, each of shape ``[batch, hidden_size]``."""


@buildable
class RecurrentActorCritic(nn.Module):
    """Conv x3 -> dense -> ``LSTMCell`` -> (policy logits, state value), one step at a time.

    Observations are uint8 images ``[batch, channels, height, width]`` (scaled to [0, 1]
    inside the network, so rollouts stay small in memory) or floats already in [0, 1].
    The LSTM state ``(h, c)`` is passed in and returned: the caller (``ParallelGames``, the
    training loop) decides when a game's memory starts afresh.

    Layer names (``conv0..conv2``, ``dense``, ``lstm``, ``logits``, ``value``) are the ones
    the notebook's exercise uses, so weights load into either version.

    >>> net = RecurrentActorCritic(obs_shape=(1, 42, 42), n_actions=14)
    >>> memory = net.initial_memory(batch_size=3)
    >>> (h, c), logits, value = net(torch.zeros(3, 1, 42, 42, dtype=torch.uint8), memory)
    >>> tuple(h.shape), tuple(logits.shape), tuple(value.shape)
    ((3, 128), (3, 14), (3,))
    """

    def __init__(
        self,
        obs_shape: Sequence[int] = (1, 42, 42),
        n_actions: int = 14,
        hidden_size: int = 128,
        channels: int = 32,
    ) -> None:
        super().__init__()
        obs_shape = tuple(int(d) for d in obs_shape)
        if len(obs_shape) != 3 or min(obs_shape) < 1:
            raise ValueError(
                f"obs_shape must be (channels, height, width), e.g. (1, 42, 42), got {obs_shape}"
            )
        for name, value in (
            ("n_actions", n_actions),
            ("hidden_size", hidden_size),
            ("channels", channels),
        ):
            check_positive_int(name, value)
        in_channels, height, width = obs_shape
        for _ in range(3):
            height, width = conv_output_size(height, 3, 2), conv_output_size(width, 3, 2)
        if height < 1 or width < 1:
            raise ValueError(f"obs_shape {obs_shape} is too small for three stride-2 3x3 convs")
        self.obs_shape = obs_shape
        self.n_actions = int(n_actions)
        self.hidden_size = int(hidden_size)
        self.conv0 = nn.Conv2d(in_channels, channels, kernel_size=3, stride=2)
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, stride=2)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=2)
        self.dense = nn.Linear(channels * height * width, hidden_size)
        self.lstm = nn.LSTMCell(hidden_size, hidden_size)
        self.logits = nn.Linear(hidden_size, n_actions)
        self.value = nn.Linear(hidden_size, 1)

    def initial_memory(self, batch_size: int) -> Memory:
        """Zeros ``(h, c)`` for ``batch_size`` games: the memory at the start of a game."""
        weight = self.value.weight
        zeros = torch.zeros(batch_size, self.hidden_size, dtype=weight.dtype, device=weight.device)
        return zeros, zeros.clone()

    def forward(
        self, observation: torch.Tensor, memory: Memory
    ) -> tuple[Memory, torch.Tensor, torch.Tensor]:
        """One step: ``(new_memory, logits [batch, n_actions], value [batch])``."""
        check_input(observation, self.obs_shape, type(self).__name__)
        x = observation.float()
        if observation.dtype == torch.uint8:
            x = x / 255.0
        x = torch.relu(self.conv0(x))
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.dense(x.flatten(start_dim=1)))
        h, c = self.lstm(x, memory)
        return (h, c), self.logits(h), self.value(h).squeeze(-1)


# --- networks described by data (checkpoints store the spec, not the class) ---------------

# --- lesson 08: policy gradient (REINFORCE) ------------------------------------------------


def _mlp(in_features: int, hidden_sizes: Sequence[int], out_features: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_features
    for hidden in hidden_sizes:
        layers += [nn.Linear(width, check_positive_int("hidden size", hidden)), nn.Tanh()]
        width = hidden
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


# --- lesson 10: a feed-forward actor-critic on stacked frames (PPO) --------------------------


@buildable
class NatureActorCritic(nn.Module):
    """The Nature CNN's body with two heads, policy logits and state value: the actor-critic
    of PPO on Atari (Schulman et al. 2017; CleanRL's ``ppo_atari.py``), orthogonally
    initialised (gain sqrt(2) for the body, 0.01 for the policy head so the first policy is
    near-uniform, 1 for the value head).

    It has no memory (the stacked frames carry the motion), but speaks the recurrent
    network's language: ``forward(obs, memory) -> (memory, logits, value)`` with an empty
    memory, so the same :class:`~rlcourse.rollouts.ParallelGames`, policies and loops play
    and train both.

    >>> net = NatureActorCritic(obs_shape=(4, 84, 84), n_actions=14)
    >>> memory = net.initial_memory(batch_size=2)
    >>> memory[0].shape
    torch.Size([2, 0])
    >>> _, logits, value = net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8), memory)
    >>> tuple(logits.shape), tuple(value.shape)
    ((2, 14), (2,))
    """

    def __init__(
        self, obs_shape: Sequence[int] = (4, 84, 84), n_actions: int = 18, hidden_size: int = 512
    ) -> None:
        super().__init__()
        obs_shape = tuple(int(d) for d in obs_shape)
        if len(obs_shape) != 3:
            raise ValueError(f"NatureActorCritic needs (frames, height, width), got {obs_shape}")
        check_positive_int("n_actions", n_actions)
        check_positive_int("hidden_size", hidden_size)
        channels, height, width = obs_shape
        for kernel, stride in ((8, 4), (4, 2), (3, 1)):
            height = conv_output_size(height, kernel, stride)
            width = conv_output_size(width, kernel, stride)
        if height < 1 or width < 1:
            raise ValueError(f"frames of {obs_shape[1:]} are too small for the Nature CNN")
        self.obs_shape = obs_shape
        self.n_actions = int(n_actions)
        self.body = nn.Sequential(
            _orthogonal(nn.Conv2d(channels, 32, kernel_size=8, stride=4)),
            nn.ReLU(),
            _orthogonal(nn.Conv2d(32, 64, kernel_size=4, stride=2)),
            nn.ReLU(),
            _orthogonal(nn.Conv2d(64, 64, kernel_size=3, stride=1)),
            nn.ReLU(),
            nn.Flatten(),
            _orthogonal(nn.Linear(64 * height * width, hidden_size)),
            nn.ReLU(),
        )
        self.logits = _orthogonal(nn.Linear(hidden_size, n_actions), gain=0.01)
        self.value = _orthogonal(nn.Linear(hidden_size, 1), gain=1.0)

    def initial_memory(self, batch_size: int) -> Memory:
        """An empty memory for ``batch_size`` games (the network remembers nothing)."""
        empty = torch.zeros(batch_size, 0, device=self.value.weight.device)
        return empty, empty.clone()

    def forward(
        self, observation: torch.Tensor, memory: Memory
    ) -> tuple[Memory, torch.Tensor, torch.Tensor]:
        """``(memory, logits [batch, n_actions], value [batch])`` for uint8 frames."""
        check_input(observation, self.obs_shape, type(self).__name__)
        features = self.body(observation.float() / 255.0)
        return memory, self.logits(features), self.value(features).squeeze(-1)


def _orthogonal(layer: nn.Conv2d | nn.Linear, gain: float = 2**0.5) -> nn.Conv2d | nn.Linear:
    """Orthogonal weights with ``gain`` and zero biases (PPO's usual initialisation)."""
    nn.init.orthogonal_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


@buildable
class MLPPolicy(nn.Module):
    """A multi-layer perceptron (tanh) mapping a flat observation to one logit per action:
    the policy ``pi(a | s) = softmax(logits)``; with ``value=True`` also a separate MLP of
    the same sizes for a learned baseline ``V(s)`` (:meth:`value_of`; no layer is shared,
    so the baseline's loss never moves the policy).

    >>> net = MLPPolicy(obs_dim=4, n_actions=2, hidden_sizes=(32,), value=True)
    >>> net(torch.zeros(5, 4)).shape, net.value_of(torch.zeros(5, 4)).shape
    (torch.Size([5, 2]), torch.Size([5]))
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden_sizes: Sequence[int] = (64, 64),
        value: bool = False,
    ) -> None:
        super().__init__()
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.n_actions = check_positive_int("n_actions", n_actions)
        self.policy = _mlp(self.obs_dim, hidden_sizes, self.n_actions)
        self.value = _mlp(self.obs_dim, hidden_sizes, 1) if value else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, n_actions]``."""
        check_input(obs, (self.obs_dim,), type(self).__name__)
        return self.policy(obs.float())

    def value_of(self, obs: torch.Tensor) -> torch.Tensor:
        """The learned baseline ``V(s)``, ``[batch]`` (only if built with ``value=True``)."""
        if self.value is None:
            raise RuntimeError("this MLPPolicy has no value network (built with value=False)")
        check_input(obs, (self.obs_dim,), type(self).__name__)
        return self.value(obs.float()).squeeze(-1)


def network_spec(name: str, **kwargs: object) -> dict[str, object]:
    """A network as plain data: its class name and keyword arguments (tuples as lists).

    >>> spec = network_spec("MLPQNetwork", obs_dim=4, n_actions=2, hidden_sizes=(8,))
    >>> spec
    {'class': 'MLPQNetwork', 'kwargs': {'obs_dim': 4, 'n_actions': 2, 'hidden_sizes': [8]}}
    >>> build_network(spec)(torch.zeros(1, 4)).shape
    torch.Size([1, 2])
    """
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; known: {sorted(NETWORKS)}")
    plain = {
        key: list(value) if isinstance(value, tuple) else value for key, value in kwargs.items()
    }
    return {"class": name, "kwargs": plain}


def build_network(spec: dict[str, object], copies: int = 1, seed: int | None = None) -> nn.Module:
    """The freshly initialised network a :func:`network_spec` describes.

    It is first sized without memory (on torch's ``meta`` device): one that would not fit in
    this machine's memory ``copies`` times (training keeps 4: the weights, their gradients
    and Adam's two moments) is refused before anything is allocated. With ``seed``, the
    initial weights are drawn as after ``torch.manual_seed(seed)``, and torch's global
    generator is left as it was (an agent's seed must not move the caller's random numbers).
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_network(spec, copies)
    name = spec.get("class") if isinstance(spec, dict) else None
    kwargs = spec.get("kwargs") if isinstance(spec, dict) else None
    if not isinstance(name, str) or name not in NETWORKS or not isinstance(kwargs, dict):
        raise ValueError(
            f"not a network spec: {spec!r}; expected {{'class': one of {sorted(NETWORKS)}, "
            "'kwargs': {...}}"
        )
    with torch.device("meta"):
        weights = sum(p.numel() for p in NETWORKS[name](**kwargs).parameters())
    refuse_if_too_big(
        f"{name} with {weights:,} weights (x{copies} copies of 4 bytes)",
        4 * copies * weights,
        "make the network smaller (--hidden-sizes, --size, ...)",
    )
    return NETWORKS[name](**kwargs)


ActorCritic = RecurrentActorCritic | NatureActorCritic
"""A network that maps ``(observation, memory)`` to ``(memory, logits, value)``."""
