"""Replay memories: a NumPy ring buffer for any observation, and (for Atari) one that
stores each frame once.

Both take transitions ``(obs, action, reward, next_obs, terminated, truncated)`` and
``sample(batch_size)`` returns a :class:`ReplaySample`. ``terminated`` and ``truncated``
are kept apart: only ``terminated`` may cut the bootstrap in a TD target.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class ReplaySample(NamedTuple):
    """A batch of transitions, NumPy arrays or (with a ``device``) torch tensors."""

    obs: Any
    """Observations, ``(batch, *obs_shape)``, the dtype they were stored with."""
    actions: Any
    """Actions taken, ``(batch, *action_shape)``."""
    rewards: Any
    """Rewards, ``(batch,)`` float32."""
    next_obs: Any
    """Observations after the action, ``(batch, *obs_shape)``."""
    terminated: Any
    """``(batch,)`` bool: the episode ended there (no bootstrapping from ``next_obs``)."""
    truncated: Any
    """``(batch,)`` bool: a time limit cut the episode (``next_obs`` still has a value)."""


def _check_capacity(capacity: object) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
        raise TypeError(f"capacity must be an int, got {capacity!r}")
    if capacity <= 0:
        raise ValueError(f"capacity must be positive, got {capacity}")
    return int(capacity)


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a np.random.Generator (e.g. np.random.default_rng(seed)), got {rng!r}"
        )
    return rng


def to_torch(sample: ReplaySample, device: Any) -> ReplaySample:
    """Move every array of a sample to ``device`` as torch tensors (dtypes kept)."""
    import torch

    return ReplaySample(*(torch.as_tensor(array, device=device) for array in sample))


class ReplayBuffer:
    """A fixed-size ring buffer of transitions in preallocated NumPy arrays.

    When full, each ``add`` overwrites the oldest transition. ``sample`` draws uniformly
    with replacement using the generator given at construction.

    >>> buffer = ReplayBuffer(100, obs_shape=(4,), rng=np.random.default_rng(0))
    >>> for t in range(10):
    ...     buffer.add(np.full(4, t), 1, 1.0, np.full(4, t + 1), terminated=False, truncated=False)
    >>> len(buffer), buffer.capacity
    (10, 100)
    >>> batch = buffer.sample(8)
    >>> batch.obs.shape, batch.actions.dtype, batch.terminated.dtype
    ((8, 4), dtype('int64'), dtype('bool'))
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        *,
        rng: np.random.Generator,
        obs_dtype: Any = np.float32,
        action_shape: tuple[int, ...] = (),
        action_dtype: Any = np.int64,
        device: Any = None,
    ) -> None:
        self.capacity = _check_capacity(capacity)
        self.rng = _check_rng(rng)
        self.obs_shape = tuple(obs_shape)
        self.obs_dtype = np.dtype(obs_dtype)
        self.device = device
        self.obs = np.zeros((self.capacity, *self.obs_shape), self.obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros((self.capacity, *action_shape), action_dtype)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.terminated = np.zeros(self.capacity, bool)
        self.truncated = np.zeros(self.capacity, bool)
        self._cursor = 0  # where the next transition goes
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer's arrays (all allocated up front)."""
        arrays = (self.obs, self.next_obs, self.actions, self.rewards, self.terminated,
                  self.truncated)  # fmt: skip
        return sum(array.nbytes for array in arrays)

    def _check_obs(self, name: str, value: Any) -> np.ndarray:
        array = np.asarray(value)
        if array.shape != self.obs_shape:
            raise ValueError(f"{name} has shape {array.shape}, this buffer stores {self.obs_shape}")
        if not np.can_cast(array.dtype, self.obs_dtype, casting="same_kind"):
            raise TypeError(
                f"{name} has dtype {array.dtype}, this buffer stores {self.obs_dtype}: "
                "cast it, or make the buffer with obs_dtype=..."
            )
        return array

    def add(
        self,
        obs: Any,
        action: Any,
        reward: float,
        next_obs: Any,
        terminated: bool,
        truncated: bool,
    ) -> None:
        """Store one transition, overwriting the oldest when full."""
        i = self._cursor
        self.obs[i] = self._check_obs("obs", obs)
        self.next_obs[i] = self._check_obs("next_obs", next_obs)
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminated[i] = terminated
        self.truncated[i] = truncated
        self._cursor = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def _check_batch_size(self, batch_size: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer: add transitions first")
        if batch_size > self._size:
            raise ValueError(
                f"cannot sample {batch_size} transitions, only {self._size} stored: "
                f"wait until the buffer holds at least a batch (learning_starts >= batch_size)"
            )

    def sample(self, batch_size: int) -> ReplaySample:
        """``batch_size`` transitions drawn uniformly (with replacement), at most ``len(self)``."""
        self._check_batch_size(batch_size)
        idx = self.rng.integers(0, self._size, size=batch_size)
        sample = ReplaySample(
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.terminated[idx],
            self.truncated[idx],
        )
        return sample if self.device is None else to_torch(sample, self.device)
