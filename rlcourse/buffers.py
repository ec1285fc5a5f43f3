"""Replay memories: a NumPy ring buffer for any observation, and (for Atari) one that
stores each frame once.

Both take transitions ``(obs, action, reward, next_obs, terminated, truncated)`` and
``sample(batch_size)`` returns a :class:`ReplaySample`. ``terminated`` and ``truncated``
are kept apart: only ``terminated`` may cut the bootstrap in a TD target.
``sample_n_step(batch_size, n, gamma)`` gives n-step transitions (:class:`NStepSample`):
:func:`n_step_chain` follows each sampled start through ``ReplayBuffer``'s ring,
:func:`n_step_return` sums the rewards of a chain up to its first end.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from rlcourse.config import check_number, check_positive_int
from rlcourse.resources import available_memory, refuse_if_too_big, total_memory


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


class NStepSample(NamedTuple):
    """n-step transitions: what :class:`ReplaySample` holds, over up to ``n`` steps.

    ``batch.rewards`` is the discounted sum ``r_t + gamma r_{t+1} + ... + gamma^(k-1) r_{t+k-1}``
    of the ``k <= n`` steps that followed ``batch.obs``, ``batch.next_obs`` the observation
    after them, ``batch.terminated`` / ``batch.truncated`` whether the episode ended there.
    ``k < n`` where the episode ended sooner, or where its next steps are not stored yet.
    The TD target is ``rewards + discounts * (1 - terminated) * max_a Q(next_obs, a)``
    (``discounts`` is already 0 where ``terminated``: multiplying by both is harmless).
    """

    batch: ReplaySample
    """The transitions, ``rewards`` summed over their ``k`` steps."""
    discounts: Any
    """``(batch,)`` float32: the discount of the bootstrap value, ``gamma ** k``, or 0 where
    the chain's last transition terminated its episode (a truncated one still bootstraps)."""


def _check_n_step(n: object, gamma: object) -> tuple[int, float]:
    n = check_positive_int("n", n)
    gamma = float(check_number("gamma", gamma, low=0, high=1))
    return n, gamma


def n_step_return(rewards: Any, ends: Any, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row's discounted sum of rewards up to its first end, and how many steps it took.

    ``rewards`` and ``ends`` are ``(batch, n)``: the rewards of the ``n`` transitions that
    follow each start (the start's own first), and whether the chain stops after that
    transition (its episode terminated or was truncated there, or the memory holds no
    continuation). Row ``i`` sums ``gamma**j * rewards[i, j]`` for ``j < k[i]``, where
    ``k[i]`` is one more than the index of its first end (``n`` if none): rewards after an
    end belong to another episode and never count. Returns ``(returns, k)``, float64 and
    int64 ``(batch,)``. The n-step TD target is then
    ``returns + gamma**k * (1 - terminated) * max_a Q(s_{t+k}, a)``, ``terminated`` being
    the flag of the row's last counted transition.

    >>> rewards = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [2.0, 5.0, 5.0]])
    >>> ends = np.array([[False, False, False], [False, True, False], [True, False, False]])
    >>> n_step_return(rewards, ends, gamma=0.5)
    (array([1.75, 1.5 , 2.  ]), array([3, 2, 1]))
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    ends = np.asarray(ends)
    if rewards.ndim != 2 or ends.shape != rewards.shape or ends.dtype != np.bool_:
        raise ValueError(
            "n_step_return takes rewards (batch, n) and a bool array ends of the same shape, "
            f"got rewards {rewards.shape} and ends {ends.shape} of dtype {ends.dtype}"
        )
    gamma = float(check_number("gamma", gamma, low=0, high=1))
    # Step j counts while no step before it ended the chain.
    counted = np.cumsum(ends, axis=1) - ends == 0
    discounts = gamma ** np.arange(rewards.shape[1])
    returns = np.where(counted, rewards, 0.0) @ discounts
    return returns, counted.sum(axis=1)


def n_step_chain(
    rewards: Any,
    terminated: Any,
    truncated: Any,
    cursor: int,
    starts: Any,
    n: int,
    gamma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The n-step transitions that start at rows ``starts`` of a :class:`ReplayBuffer`'s ring.

    ``rewards``, ``terminated`` and ``truncated`` are the buffer's ``(capacity,)`` arrays:
    row ``i + 1`` holds the transition added after row ``i``'s, row 0 the one after row
    ``capacity - 1``'s, and ``cursor`` is the row the next transition goes to, so row
    ``cursor - 1`` (modulo ``capacity``) holds the newest. From each start the chain follows
    at most ``n`` transitions and stops after one that terminated or was truncated, or after
    the newest (the memory does not know what comes next yet).

    Returns ``(returns, discounts, last)``, each ``(batch,)``: the chain's discounted reward
    ``sum_j gamma**j * rewards[start + j]`` over its ``k`` transitions (float64); the
    discount of the bootstrap value, ``gamma**k``, or 0 if the chain's last transition
    terminated (a truncated or unfinished chain still bootstraps; float64); and ``last``,
    the row of the chain's last transition, whose ``next_obs`` is the observation to
    bootstrap from (int64). The n-step target is then
    ``returns + discounts * max_a Q(next_obs[last], a)``.

    >>> rewards = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    >>> terminated = np.array([False, True, False, False, False])
    >>> truncated = np.array([False, False, False, False, False])
    >>> n_step_chain(rewards, terminated, truncated, cursor=4, starts=np.array([0, 2, 3]),
    ...              n=3, gamma=0.5)
    (array([2., 8., 8.]), array([0.  , 0.25, 0.5 ]), array([1, 3, 3]))
    """
    n, gamma = _check_n_step(n, gamma)
    rewards, terminated, truncated = (np.asarray(a) for a in (rewards, terminated, truncated))
    capacity = len(rewards)
    if not (rewards.ndim == 1 and terminated.shape == truncated.shape == rewards.shape):
        raise ValueError(
            "n_step_chain takes a buffer's rewards, terminated and truncated arrays, one "
            f"(capacity,) array each, got shapes {rewards.shape}, {terminated.shape} and "
            f"{truncated.shape}"
        )
    cursor = int(check_number("cursor", cursor, integer=True, low=0, high=capacity - 1))
    starts = np.asarray(starts, dtype=np.int64)
    window = (starts[:, None] + np.arange(n)) % capacity  # each start's next n rows
    ends = terminated[window] | truncated[window] | (window == (cursor - 1) % capacity)
    returns, steps = n_step_return(rewards[window], ends, gamma)
    last = window[np.arange(len(starts)), steps - 1]
    discounts = np.where(terminated[last], 0.0, gamma**steps)
    return returns, discounts, last


def _check_capacity(capacity: object) -> int:
    return check_positive_int("capacity", capacity)


def _check_reward(reward: object) -> float:
    """A finite number: one NaN reward would turn every Q-value it reaches into NaN."""
    value = float(check_number("reward", reward))
    if not math.isfinite(value):
        raise ValueError(f"reward must be a finite number, got {value}: check the env's rewards")
    return value


def _check_shape(name: str, shape: Any) -> tuple[int, ...]:
    """A shape: a tuple of positive ints (``(4,)``, ``(4, 84, 84)``)."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(
        isinstance(n, int | np.integer) and not isinstance(n, bool) and n > 0 for n in dims
    ):
        raise ValueError(
            f"{name} must be a tuple of positive ints, e.g. (4, 84, 84), got {shape!r}"
        )
    return tuple(int(n) for n in dims)


def _check_action(action: Any, dtype: np.dtype) -> Any:
    """A discrete action is a whole number (1.7 would be stored as 1)."""
    if dtype.kind in "iu" and np.ndim(action) == 0:
        number = check_number("action", action)
        if number != int(number):
            raise ValueError(f"action must be a whole number (a discrete action), got {action!r}")
    return action


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


def _nbytes(shape: tuple[int, ...], dtype: Any) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def _warn_if_too_big(name: str, capacity: int, bytes_per_slot: float) -> None:
    needed = capacity * bytes_per_slot
    total = total_memory()
    if total is not None:
        fits = max(int(0.8 * total / bytes_per_slot), 1)
        refuse_if_too_big(
            f"{name}(capacity={capacity:,}) at {bytes_per_slot:,.0f} bytes per transition",
            needed,
            f"use a capacity (--buffer-size) <= {fits:,}",
        )
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
    batch_size = check_positive_int("batch_size", batch_size)
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
        self.obs_shape = _check_shape("obs_shape", obs_shape)
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
        """Store one transition, overwriting the oldest when full (everything is checked
        first: a bad transition leaves the buffer as it was)."""
        obs = self._check_obs("obs", obs)
        next_obs = self._check_obs("next_obs", next_obs)
        action = _check_action(action, self.actions.dtype)
        reward = _check_reward(reward)
        i = self._cursor
        self.obs[i] = obs
        self.next_obs[i] = next_obs
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

    def sample_n_step(self, batch_size: int, n: int, gamma: float) -> NStepSample:
        """``batch_size`` n-step transitions from uniformly drawn starts (the same draws as
        :meth:`sample`). A start's next ``n - 1`` transitions are followed in the order they
        were added while they continue its episode: the previous one did not end it and its
        ``next_obs`` is their ``obs`` (so transitions of several envs added in turn are never
        chained). ``n=1`` gives what :meth:`sample` gives.

        >>> buffer = ReplayBuffer(10, obs_shape=(1,), rng=np.random.default_rng(0))
        >>> for t in range(3):  # one episode of 3 steps, reward t, terminated at the end
        ...     buffer.add([t], 0, float(t), [t + 1], terminated=t == 2, truncated=False)
        >>> batch, discounts = buffer.sample_n_step(3, n=2, gamma=0.5)
        >>> batch.obs[:, 0], batch.rewards, batch.next_obs[:, 0], batch.terminated, discounts
        (array([2., 1., 1.], dtype=float32), array([2., 2., 2.], dtype=float32), \
array([3., 3., 3.], dtype=float32), array([ True,  True,  True]), \
array([0., 0., 0.], dtype=float32))
        """
        n, gamma = _check_n_step(n, gamma)
        _check_batch_size(batch_size, self._size)
        age = self.rng.integers(0, self._size, size=batch_size)  # 0: the oldest transition
        oldest = self._cursor if self._size == self.capacity else 0
        first = (oldest + age) % self.capacity
        # A chain also stops after a transition whose next_obs is not the following one's
        # obs (another env's): for the chain that is a truncation, it bootstraps from there.
        cut = self.truncated
        if n > 1:
            window = (first[:, None] + np.arange(n - 1)) % self.capacity
            follows = self.next_obs[window] == self.obs[(window + 1) % self.capacity]
            breaks = window[~follows.reshape(batch_size, n - 1, -1).all(axis=2)]
            if breaks.size:
                cut = cut.copy()
                cut[breaks] = True
        rewards, bootstrap, last = n_step_chain(
            self.rewards, self.terminated, cut, self._cursor, first, n, gamma
        )
        batch = ReplaySample(
            self.obs[first],
            self.actions[first],
            rewards.astype(np.float32),
            self.next_obs[last],
            self.terminated[last],
            self.truncated[last],
        )
        discounts: Any = bootstrap.astype(np.float32)
        if self.device is not None:
            import torch

            discounts = torch.as_tensor(discounts, device=self.device)
        return NStepSample(self._output(batch), discounts)


# AtariReplayBuffer keeps one byte of flags per slot: three bits, and in the upper five
# how many frames back the slot's episode starts, capped at k - 1 (0: an episode start).
_TERMINATED = 1
_TRUNCATED = 2
_TRANSITION = 4  # a transition leaves from the stack ending at this slot
_BACK_SHIFT = 3
_MAX_STACK = 1 << (8 - _BACK_SHIFT)  # 32 frames: the look-back must fit in five bits
_MAX_REJECTION_ROUNDS = 16


class AtariReplayBuffer(_Memory):
    """A replay buffer for stacked frames that stores each frame once.

    ``obs`` and ``next_obs`` are ``(k, H, W)`` stacks such as ``make_atari_env`` returns
    (uint8 ``(4, 84, 84)``); ``next_obs`` is ``obs`` shifted by one frame. The buffer keeps a
    ring of single frames, one per slot, and rebuilds both stacks at sample time, so a
    transition costs one 84x84 frame (7,056 bytes) plus 6 bytes (action, reward, flags)
    instead of the 56 KB of a ``ReplayBuffer`` holding both stacks.

    Each slot also remembers how many frames back its episode started (capped at ``k - 1``):
    frame ``c`` of the stack ending at slot ``i`` is ``i - min(k - 1 - c, back[i])``, so the
    first observations of an episode repeat its first frame, as
    :class:`rlcourse.wrappers.FrameStack` pads them, and a stack never mixes two episodes.
    Any padding is kept exactly: an ``obs`` that does not continue the previous ``next_obs``
    starts a new episode in the buffer, with the frames it shows. Transitions whose stack
    would reach past the oldest slot (overwritten frames) are never sampled. The
    ``next_obs`` of an episode's last transition is stored too, so truncated episodes can
    bootstrap: an episode fills one slot per transition plus one for its first frame.
    ``capacity`` counts slots, so a full buffer holds slightly fewer transitions than
    ``capacity`` (``len`` says how many).

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
        if not 1 <= self.k <= _MAX_STACK:
            raise ValueError(f"stacks of 1 to {_MAX_STACK} frames are supported, got k={self.k}")
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
        # How far back each frame of obs, then next_obs's new frame, sits from obs's newest.
        self._lookback = np.arange(self.k - 1, -2, -1)
        self._last_next_obs = np.zeros(self.obs_shape, self.obs_dtype)
        self._open = False  # whether the next add may continue the last episode
        self._back = 0  # the look-back of the newest slot
        self._cursor = 0  # the slot the next frame goes to
        self._size = 0  # slots written (frames stored)
        self._transitions = 0  # slots flagged _TRANSITION

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return self.frames, self.actions, self.rewards, self.flags, self._last_next_obs

    @property
    def _oldest(self) -> int:
        return self._cursor if self._size == self.capacity else 0

    def __len__(self) -> int:
        # Flagged transitions, less those next to the oldest slot whose stack lost frames
        # (at most k - 1 of them: a plain loop is cheaper than NumPy calls here).
        oldest, lost = self._oldest, 0
        for age in range(min(self.k - 1, self._size)):
            flags = int(self.flags[(oldest + age) % self.capacity])
            lost += bool(flags & _TRANSITION) and age < flags >> _BACK_SHIFT
        return self._transitions - lost

    def _write_frame(self, frame: np.ndarray, episode_start: bool) -> None:
        i = self._cursor
        if self.flags[i] & _TRANSITION:
            self._transitions -= 1  # the oldest transition goes
        self._back = 0 if episode_start else min(self._back + 1, self.k - 1)
        self.frames[i] = frame
        self.flags[i] = self._back << _BACK_SHIFT
        self._cursor = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

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
        reward = _check_reward(reward)
        action = _check_action(action, self._action_store_dtype)
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
                self._write_frame(obs[j], episode_start=j == padding)
        i = (self._cursor - 1) % self.capacity  # the slot of obs's newest frame
        self.actions[i] = action
        self.rewards[i] = reward
        self.flags[i] |= _TRANSITION | (_TERMINATED * bool(terminated))
        self.flags[i] |= _TRUNCATED * bool(truncated)
        self._transitions += 1
        self._write_frame(next_obs[-1], episode_start=False)
        self._last_next_obs[:] = next_obs
        self._open = not (terminated or truncated)

    def _draw(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` slots drawn uniformly, their flags, and whether each holds a transition
        whose stack is whole (no frame before the oldest slot)."""
        age = self.rng.integers(0, self._size, n)  # 0 is the oldest slot
        slots = (self._oldest + age) % self.capacity
        flags = self.flags[slots]
        return slots, flags, ((flags & _TRANSITION) != 0) & (age >= flags >> _BACK_SHIFT)

    def _sample_slots(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Rejection sampling, uniform over the transitions that can be rebuilt: their
        slots and flags."""
        slots, flags, ok = self._draw(batch_size)
        for _ in range(_MAX_REJECTION_ROUNDS):
            if ok.all():
                return slots, flags
            redo = np.flatnonzero(~ok)
            slots[redo], flags[redo], ok[redo] = self._draw(redo.size)
        # Few valid slots among many (a tiny buffer of short episodes): list them all.
        age = np.arange(self._size)
        every = (self._oldest + age) % self.capacity
        back = self.flags[every] >> _BACK_SHIFT
        valid = every[((self.flags[every] & _TRANSITION) != 0) & (age >= back)]
        redo = np.flatnonzero(~ok)
        slots[redo] = valid[self.rng.integers(0, valid.size, redo.size)]
        return slots, self.flags[slots]

    def _stacks(self, newest: np.ndarray) -> np.ndarray:
        """The frame stacks ending at slots ``newest``, never reaching before an episode's
        start: ``(batch, k, *frame_shape)``."""
        back = (self.flags[newest] >> _BACK_SHIFT)[:, None]
        frame_slots = newest[:, None] - np.minimum(self._lookback[:-1], back)
        return self.frames[frame_slots % self.capacity]

    def sample_n_step(self, batch_size: int, n: int, gamma: float) -> NStepSample:
        """``batch_size`` n-step transitions from uniformly drawn starts (the same draws as
        :meth:`sample`). An episode's transitions sit in consecutive slots, so a start's
        next ``n - 1`` transitions are the slots after it, until one ended the episode or
        the newest transition is reached. ``n=1`` gives what :meth:`sample` gives.
        """
        n, gamma = _check_n_step(n, gamma)
        _check_batch_size(batch_size, len(self))
        first, _ = self._sample_slots(batch_size)
        window = (first[:, None] + np.arange(n)) % self.capacity  # each start's next n slots
        flags = self.flags[window]
        # A chain stops after a transition that ended its episode, or before a slot that is
        # no transition: the one after an episode's last transition holds only its final
        # frame, the newest slot only the newest next_obs frame.
        ends = (flags & (_TERMINATED | _TRUNCATED)) != 0
        ends[:, :-1] |= (flags[:, 1:] & _TRANSITION) == 0
        rewards, steps = n_step_return(self.rewards[window], ends, gamma)
        last = window[np.arange(batch_size), steps - 1]
        last_flags = self.flags[last]
        terminated = (last_flags & _TERMINATED) != 0
        batch = ReplaySample(
            self._stacks(first),
            self.actions[first].astype(self.action_dtype, copy=False),
            rewards.astype(np.float32),
            self._stacks((last + 1) % self.capacity),
            terminated,
            (last_flags & _TRUNCATED) != 0,
        )
        discounts: Any = np.where(terminated, 0.0, gamma**steps).astype(np.float32)
        if self.device is not None:
            import torch

            discounts = torch.as_tensor(discounts, device=self.device)
        return NStepSample(self._output(batch), discounts)

    def sample(self, batch_size: int) -> ReplaySample:
        """``batch_size`` transitions drawn uniformly (with replacement), at most ``len(self)``."""
        _check_batch_size(batch_size, len(self))
        slots, flags = self._sample_slots(batch_size)
        back = (flags >> _BACK_SHIFT)[:, None]
        # obs's frames, never before the episode start, then next_obs's new frame (slot + 1).
        frame_slots = (slots[:, None] - np.minimum(self._lookback, back)) % self.capacity
        stacks = self.frames[frame_slots]  # (batch, k + 1, H, W): one gather for both stacks
        actions = self.actions[slots].astype(self.action_dtype, copy=False)
        rewards = self.rewards[slots]
        terminated, truncated = (flags & _TERMINATED) != 0, (flags & _TRUNCATED) != 0
        if self.device is None:
            obs, next_obs = stacks[:, :-1], stacks[:, 1:]
            return ReplaySample(obs, actions, rewards, next_obs, terminated, truncated)
        import torch

        stacks = torch.as_tensor(stacks, device=self.device)  # one transfer for both stacks
        actions, rewards, terminated, truncated = (
            torch.as_tensor(array, device=self.device)
            for array in (actions, rewards, terminated, truncated)
        )
        return ReplaySample(stacks[:, :-1], actions, rewards, stacks[:, 1:], terminated, truncated)
