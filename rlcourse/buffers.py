"""Replay memories: a NumPy ring buffer for any observation, and (for Atari) one that
stores each frame once.

Both take transitions ``(obs, action, reward, next_obs, terminated, truncated)`` and
``sample(batch_size)`` returns a :class:`ReplaySample`. ``terminated`` and ``truncated``
are kept apart: only ``terminated`` may cut the bootstrap in a TD target.
"""

from __future__ import annotations

import os
import warnings
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


def available_memory() -> int | None:
    """Bytes of RAM the OS could still give this process, or None if it cannot tell.

    ``psutil`` when installed, else Linux's ``MemAvailable``, else free pages (``sysconf``).
    """
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the file says kB, meaning KiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _nbytes(shape: tuple[int, ...], dtype: Any) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def _warn_if_too_big(name: str, capacity: int, bytes_per_slot: float) -> None:
    needed = capacity * bytes_per_slot
    available = available_memory()
    if available is None or needed <= available:
        return
    fits = max(int(0.8 * available / bytes_per_slot), 1)  # leave room for the rest
    warnings.warn(
        f"{name}(capacity={capacity:,}) needs {needed / 1e9:.2f} GB "
        f"({bytes_per_slot:,.0f} bytes per transition) but only {available / 1e9:.2f} GB of "
        f"RAM is available: the OS hands the memory out as the buffer fills, and the process "
        f"will be killed when it runs out. Use capacity <= {fits:,}, or free some memory.",
        stacklevel=3,
    )


def _check_batch_size(batch_size: object, stored: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, got {batch_size!r}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if stored == 0:
        raise ValueError("cannot sample from an empty replay buffer: add transitions first")
    if batch_size > stored:
        raise ValueError(
            f"cannot sample {batch_size} transitions, only {stored} stored: "
            f"wait until the buffer holds at least a batch (learning_starts >= batch_size)"
        )
    return int(batch_size)


class _Memory:
    """What both buffers share: settings, per-transition arrays, checks, ``nbytes``."""

    capacity: int
    rng: np.random.Generator
    obs_shape: tuple[int, ...]
    obs_dtype: np.dtype
    device: Any

    def _setup(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        rng: np.random.Generator,
        obs_dtype: Any,
        device: Any,
    ) -> None:
        self.capacity = _check_capacity(capacity)
        self.rng = _check_rng(rng)
        self.obs_shape = tuple(int(n) for n in obs_shape)
        self.obs_dtype = np.dtype(obs_dtype)
        self.device = device

    def _arrays(self) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer's arrays (all allocated up front)."""
        return sum(array.nbytes for array in self._arrays())

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

    def _output(self, sample: ReplaySample) -> ReplaySample:
        return sample if self.device is None else to_torch(sample, self.device)


class ReplayBuffer(_Memory):
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
        self._setup(capacity, obs_shape, rng, obs_dtype, device)
        # obs, next_obs, action, reward (float32), terminated and truncated (a byte each)
        per_transition = 2 * _nbytes(self.obs_shape, self.obs_dtype)
        per_transition += _nbytes(action_shape, action_dtype) + 4 + 2
        _warn_if_too_big(type(self).__name__, self.capacity, per_transition)
        self.obs = np.zeros((self.capacity, *self.obs_shape), self.obs_dtype)
        self.next_obs = np.zeros(self.obs.shape, self.obs_dtype)  # lazily committed, like obs
        self.actions = np.zeros((self.capacity, *action_shape), action_dtype)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.terminated = np.zeros(self.capacity, bool)
        self.truncated = np.zeros(self.capacity, bool)
        self._cursor = 0  # where the next transition goes
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _arrays(self) -> tuple[np.ndarray, ...]:
        arrays = self.obs, self.next_obs, self.actions, self.rewards
        return (*arrays, self.terminated, self.truncated)

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

    def sample(self, batch_size: int) -> ReplaySample:
        """``batch_size`` transitions drawn uniformly (with replacement), at most ``len(self)``."""
        _check_batch_size(batch_size, self._size)
        idx = self.rng.integers(0, self._size, size=batch_size)
        return self._output(
            ReplaySample(
                self.obs[idx],
                self.actions[idx],
                self.rewards[idx],
                self.next_obs[idx],
                self.terminated[idx],
                self.truncated[idx],
            )
        )


def stack_indices(episode_start: np.ndarray, newest: Any, k: int) -> np.ndarray:
    """Indices of the ``k`` frames of each stack whose newest frame is at ``newest``.

    ``episode_start[i]`` is True where an episode's first frame is stored. A stack takes
    the ``k`` frames up to ``newest``, oldest first, but never reaches back past the latest
    episode start: those slots repeat the start frame instead, which is how
    :class:`rlcourse.wrappers.FrameStack` pads the first observations of an episode.
    Indices wrap around the end of ``episode_start`` (a ring). Works for one index or an
    array of them (the result gets a last axis of length ``k``).

    >>> starts = np.array([True, False, False, True, False, False, False])
    >>> stack_indices(starts, 5, k=4)      # frames 3, 4, 5 are one episode; 2 is another's
    array([3, 3, 4, 5])
    >>> stack_indices(starts, np.array([1, 6]), k=4)
    array([[0, 0, 0, 1],
           [3, 4, 5, 6]])
    """
    window = _window(newest, k, len(episode_start))
    return _clamp_to_start(window, np.asarray(episode_start, bool)[window])


def _window(newest: Any, k: int, size: int) -> np.ndarray:
    """Ring indices ``newest - k + 1 .. newest``, on a new last axis."""
    return (np.asarray(newest)[..., None] + np.arange(1 - k, 1)) % size


def _clamp_to_start(window: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Replace the indices of ``window`` before its latest episode start by that start."""
    k = window.shape[-1]
    # Column of the latest start in each window (0 when none: the window is one episode).
    last_start = np.where(starts.any(axis=-1), k - 1 - np.argmax(starts[..., ::-1], axis=-1), 0)
    columns = np.maximum(np.arange(k), last_start[..., None])
    return np.take_along_axis(window, columns, axis=-1)


# AtariReplayBuffer's per-slot flags, packed in one byte.
_TERMINATED = np.uint8(1)
_TRUNCATED = np.uint8(2)
_EPISODE_START = np.uint8(4)  # this slot holds an episode's first frame
_TRANSITION = np.uint8(8)  # a transition starts from the stack ending at this slot
_MAX_REJECTION_ROUNDS = 16


class AtariReplayBuffer(_Memory):
    """A replay buffer for stacked frames that stores each frame once.

    ``obs`` and ``next_obs`` are ``(k, H, W)`` stacks such as ``make_atari_env`` returns
    (uint8 ``(4, 84, 84)``); ``next_obs`` is ``obs`` shifted by one frame. The buffer keeps a
    ring of single frames, one per slot, and rebuilds both stacks at sample time, so a
    transition costs one 84x84 frame (7,056 bytes) plus 6 bytes (action, reward, flags)
    instead of the 56 KB of a ``ReplayBuffer`` holding both stacks.

    An episode fills one slot per transition, plus one for its first frame: ``capacity``
    counts slots, so a full buffer holds slightly fewer transitions (``len`` says how many).
    The first observation of an episode is padded by repeating its first frame, as
    :class:`rlcourse.wrappers.FrameStack` pads it (any padding is kept exactly: an ``obs``
    that does not continue the previous ``next_obs`` starts a new episode in the buffer, with
    its own frames). A stack never mixes two episodes, and transitions whose stack would
    reach past the oldest slot (overwritten frames) are never sampled. ``next_obs`` of the
    last transition of an episode is stored too, so truncated episodes can bootstrap.

    Same interface as :class:`ReplayBuffer`: ``add``, ``sample`` (uniform over the stored
    transitions, drawn with ``rng``), ``len``, ``capacity``, ``nbytes``, ``device``. In a
    sample, ``obs`` and ``next_obs`` are two views of one array (they share ``k - 1``
    frames): copy before changing them in place. Integer actions (Atari has at most 18)
    are stored as uint8 and returned as ``action_dtype``.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> from rlcourse.wrappers import FrameStack
    >>> env = FrameStack(FrameCounterEnv(shape=(84, 84), episode_length=50), k=4)
    >>> buffer = AtariReplayBuffer(1000, rng=np.random.default_rng(0))
    >>> obs, info = env.reset(seed=0)
    >>> for t in range(120):
    ...     next_obs, reward, terminated, truncated, info = env.step(t % 4)
    ...     buffer.add(obs, t % 4, reward, next_obs, terminated, truncated)
    ...     obs = next_obs if not (terminated or truncated) else env.reset()[0]
    >>> len(buffer), buffer.nbytes   # 3 episodes; 7,062 bytes a slot, + one spare stack
    (120, 7090224)
    >>> batch = buffer.sample(32)
    >>> batch.obs.shape, batch.obs.dtype, batch.actions.dtype
    ((32, 4, 84, 84), dtype('uint8'), dtype('int64'))
    >>> bool((batch.next_obs[:, :-1] == batch.obs[:, 1:]).all())
    True
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...] = (4, 84, 84),
        *,
        rng: np.random.Generator,
        obs_dtype: Any = np.uint8,
        action_shape: tuple[int, ...] = (),
        action_dtype: Any = np.int64,
        device: Any = None,
    ) -> None:
        self._setup(capacity, obs_shape, rng, obs_dtype, device)
        if len(self.obs_shape) not in (3, 4):
            raise ValueError(
                f"obs_shape must be (k, *frame_shape) with 2-D or 3-D frames, such as "
                f"(4, 84, 84), got {self.obs_shape}"
            )
        self.k = self.obs_shape[0]
        if self.capacity < self.k + 1:
            raise ValueError(
                f"capacity must be at least k + 1 = {self.k + 1} (a stack and its next frame), "
                f"got {self.capacity}"
            )
        self.frame_shape = self.obs_shape[1:]
        self.action_shape = tuple(action_shape)
        self.action_dtype = np.dtype(action_dtype)
        compact = self.action_shape == () and self.action_dtype.kind in "iu"
        self._action_store_dtype = np.dtype(np.uint8) if compact else self.action_dtype
        # a frame, an action, a reward (float32), a byte of flags
        per_slot = _nbytes(self.frame_shape, self.obs_dtype)
        per_slot += _nbytes(self.action_shape, self._action_store_dtype) + 4 + 1
        _warn_if_too_big(type(self).__name__, self.capacity, per_slot)
        self.frames = np.zeros((self.capacity, *self.frame_shape), self.obs_dtype)
        self.actions = np.zeros((self.capacity, *self.action_shape), self._action_store_dtype)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.flags = np.zeros(self.capacity, np.uint8)
        self._last_next_obs = np.zeros(self.obs_shape, self.obs_dtype)
        self._open = False  # whether the next add may continue the last episode
        self._cursor = 0  # the slot the next frame goes to
        self._size = 0  # slots written (frames stored)
        self._transitions = 0  # slots flagged _TRANSITION

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return self.frames, self.actions, self.rewards, self.flags, self._last_next_obs

    @property
    def _oldest(self) -> int:
        return self._cursor if self._size == self.capacity else 0

    def __len__(self) -> int:
        # Flagged transitions, less those near the oldest slot whose stack lost frames.
        near_oldest = (self._oldest + np.arange(min(self.k - 1, self._size))) % self.capacity
        flagged = near_oldest[(self.flags[near_oldest] & _TRANSITION) != 0]
        lost = int(np.count_nonzero(~self._windows(flagged)[1])) if flagged.size else 0
        return self._transitions - lost

    def _write_frame(self, frame: np.ndarray, flags: np.uint8) -> int:
        i = self._cursor
        if self.flags[i] & _TRANSITION:
            self._transitions -= 1  # the oldest transition goes
        self.frames[i] = frame
        self.flags[i] = flags
        self._cursor = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        return i

    def add(
        self,
        obs: Any,
        action: Any,
        reward: float,
        next_obs: Any,
        terminated: bool,
        truncated: bool,
    ) -> None:
        """Store one transition: the newest frame of ``next_obs`` (and, at an episode's
        first transition, the frames of ``obs``), overwriting the oldest slots when full."""
        obs = self._check_obs("obs", obs)
        next_obs = self._check_obs("next_obs", next_obs)
        if not np.array_equal(next_obs[:-1], obs[1:]):
            raise ValueError(
                "next_obs must be obs shifted by one frame (next_obs[:-1] == obs[1:]), as "
                "FrameStack returns them: AtariReplayBuffer stores each frame once. "
                "For other observations use ReplayBuffer."
            )
        if self._action_store_dtype == np.uint8 and not 0 <= int(action) <= 255:
            raise ValueError(
                f"action must be an int in 0..255 (AtariReplayBuffer stores it as uint8), "
                f"got {action!r}"
            )
        if not (self._open and np.array_equal(obs, self._last_next_obs)):
            # A new episode: store its first stack's frames, less the leading padding.
            same_as_first = (obs == obs[0]).reshape(self.k, -1).all(axis=1)
            padding = self.k - 1 if same_as_first.all() else int(np.argmin(same_as_first)) - 1
            for j in range(padding, self.k):
                self._write_frame(obs[j], _EPISODE_START if j == padding else np.uint8(0))
        i = (self._cursor - 1) % self.capacity  # the slot of obs's newest frame
        self.actions[i] = action
        self.rewards[i] = reward
        self.flags[i] |= _TRANSITION
        if terminated:
            self.flags[i] |= _TERMINATED
        if truncated:
            self.flags[i] |= _TRUNCATED
        self._transitions += 1
        self._write_frame(next_obs[-1], np.uint8(0))
        self._last_next_obs[:] = next_obs
        self._open = not (terminated or truncated)

    def _windows(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame slots of ``obs`` + next frame for transitions at ``slots`` ((n, k + 1)), and
        whether each is whole (its frames all stored, none past the oldest slot)."""
        # next_obs's frame (slots + 1) is never an episode start: one window serves both.
        window = _window(slots + 1, self.k + 1, self.capacity)
        frame_slots = _clamp_to_start(window, (self.flags[window] & _EPISODE_START) != 0)
        age = (slots - self._oldest) % self.capacity
        first_age = (frame_slots[:, 0] - self._oldest) % self.capacity
        return frame_slots, first_age <= age

    def _sample_slots(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Rejection sampling: uniform over the transitions that can be rebuilt."""
        slots = np.empty(batch_size, np.int64)
        frame_slots = np.empty((batch_size, self.k + 1), np.int64)
        todo = np.arange(batch_size)
        for _ in range(_MAX_REJECTION_ROUNDS):
            candidates = (
                self._oldest + self.rng.integers(0, self._size, todo.size)
            ) % self.capacity
            has_transition = (self.flags[candidates] & _TRANSITION) != 0
            candidate_frames, whole = self._windows(candidates)
            ok = has_transition & whole
            slots[todo[ok]] = candidates[ok]
            frame_slots[todo[ok]] = candidate_frames[ok]
            todo = todo[~ok]
            if todo.size == 0:
                return slots, frame_slots
        # Few valid slots among many (a tiny buffer of short episodes): list them all.
        every_slot = np.arange(self.capacity)
        all_frames, whole = self._windows(every_slot)
        valid = np.flatnonzero(((self.flags & _TRANSITION) != 0) & whole)
        pick = valid[self.rng.integers(0, valid.size, todo.size)]
        slots[todo], frame_slots[todo] = pick, all_frames[pick]
        return slots, frame_slots

    def sample(self, batch_size: int) -> ReplaySample:
        """``batch_size`` transitions drawn uniformly (with replacement), at most ``len(self)``."""
        _check_batch_size(batch_size, len(self))
        slots, frame_slots = self._sample_slots(batch_size)
        stacks = self.frames[frame_slots]  # (batch, k + 1, H, W): one gather for both stacks
        flags = self.flags[slots]
        actions = self.actions[slots].astype(self.action_dtype, copy=False)
        terminated, truncated = (flags & _TERMINATED) != 0, (flags & _TRUNCATED) != 0
        if self.device is None:
            obs, next_obs = stacks[:, :-1], stacks[:, 1:]
            return ReplaySample(obs, actions, self.rewards[slots], next_obs, terminated, truncated)
        import torch

        stacks = torch.as_tensor(stacks, device=self.device)  # one transfer for both stacks
        rewards = self.rewards[slots]
        actions, rewards, terminated, truncated = (
            torch.as_tensor(array, device=self.device)
            for array in (actions, rewards, terminated, truncated)
        )
        return ReplaySample(stacks[:, :-1], actions, rewards, stacks[:, 1:], terminated, truncated)
