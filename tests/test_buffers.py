import numpy as np
import pytest
import torch

from rlcourse.buffers import ReplayBuffer, ReplaySample


def _buffer(capacity=5, **kwargs):
    return ReplayBuffer(capacity, obs_shape=(2,), rng=np.random.default_rng(0), **kwargs)


def _fill(buffer, n):
    for t in range(n):
        buffer.add([t, t], t, float(t), [t + 1, t + 1], terminated=t % 3 == 2, truncated=t == 4)


def test_sample_returns_stored_transitions_as_a_named_tuple():
    buffer = _buffer(capacity=10)
    _fill(buffer, 6)
    batch = ReplaySample(
        *(
            np.concatenate(arrays)
            for arrays in zip(*(buffer.sample(6) for _ in range(20)), strict=True)
        )
    )
    assert isinstance(batch, ReplaySample)
    t = batch.actions
    assert np.array_equal(batch.obs[:, 0], t) and np.array_equal(batch.next_obs[:, 0], t + 1)
    assert np.array_equal(batch.rewards, t.astype(np.float32))
    assert np.array_equal(batch.terminated, t % 3 == 2) and np.array_equal(batch.truncated, t == 4)
    assert set(t) == set(range(6)), "uniform sampling reaches every stored transition"


def test_wraparound_overwrites_the_oldest():
    buffer = _buffer(capacity=5)
    _fill(buffer, 12)
    assert len(buffer) == 5 and buffer.capacity == 5
    seen = set(np.concatenate([buffer.sample(5).actions for _ in range(40)]))
    assert seen == {7, 8, 9, 10, 11}


def test_same_generator_seed_same_batches():
    a, b = _buffer(capacity=50), _buffer(capacity=50)
    _fill(a, 30)
    _fill(b, 30)
    assert np.array_equal(a.sample(16).actions, b.sample(16).actions)


def test_torch_device_sample():
    buffer = _buffer(device="cpu")
    _fill(buffer, 5)
    batch = buffer.sample(3)
    assert isinstance(batch.obs, torch.Tensor) and batch.actions.dtype == torch.int64
    assert batch.terminated.dtype == torch.bool


def test_nbytes_counts_preallocated_arrays():
    buffer = ReplayBuffer(1000, (4, 84, 84), obs_dtype=np.uint8, rng=np.random.default_rng(0))
    assert buffer.nbytes >= 2 * 1000 * 4 * 84 * 84


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (lambda b: b.sample(1), ValueError, "empty replay buffer"),
        (lambda b: (_fill(b, 2), b.sample(3)), ValueError, "cannot sample 3 transitions, only 2"),
        (lambda b: b.sample(0), ValueError, "batch_size must be >= 1, got 0"),
        (
            lambda b: b.add(np.zeros(3), 0, 0.0, np.zeros(2), False, False),
            ValueError,
            r"obs has shape \(3,\), this buffer stores \(2,\)",
        ),
        (
            lambda b: b.add(np.zeros(2), 0, 0.0, np.array(["a", "b"]), False, False),
            TypeError,
            "next_obs has dtype <U1",
        ),
    ],
)
def test_bad_use_gives_clear_errors(action, error, message):
    with pytest.raises(error, match=message):
        action(_buffer())


@pytest.mark.parametrize(
    ("kwargs", "error"), [({"capacity": 0}, ValueError), ({"capacity": 2.5}, TypeError)]
)
def test_bad_construction(kwargs, error):
    with pytest.raises(error, match="capacity must be"):
        ReplayBuffer(obs_shape=(2,), rng=np.random.default_rng(0), **kwargs)
    with pytest.raises(TypeError, match="np.random.Generator"):
        ReplayBuffer(3, obs_shape=(2,), rng=0)


# --- AtariReplayBuffer: every sample is a transition the env really produced -------------

import gymnasium as gym  # noqa: E402

from rlcourse.buffers import AtariReplayBuffer  # noqa: E402
from rlcourse.toy_envs import FrameCounterEnv  # noqa: E402
from rlcourse.wrappers import FrameStack  # noqa: E402


class UniqueFrames(gym.ObservationWrapper):
    """Writes a running count into the first 4 pixels: no two frames are ever equal, so a
    stack that mixes episodes or reads an overwritten frame cannot match a real one."""

    def __init__(self, env):
        super().__init__(env)
        self.count = 0

    def observation(self, observation):
        observation = observation.copy()
        observation.flat[:4] = np.frombuffer(np.uint32(self.count).tobytes(), np.uint8)
        self.count += 1
        return observation


def _key(obs, action, reward, next_obs, terminated, truncated):
    return (
        np.asarray(obs).tobytes(),
        int(action),
        float(reward),
        np.asarray(next_obs).tobytes(),
        bool(terminated),
        bool(truncated),
    )


def _play(env, buffer, n_steps, rng, reset_probability=0.0, skip_probability=0.0):
    """Random actions; returns the keys of the transitions added, in order, and the number
    of episodes (resets) they span."""
    added, episodes = [], 1
    obs, _ = env.reset(seed=int(rng.integers(1000)))
    for _ in range(n_steps):
        action = int(rng.integers(env.action_space.n))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        if rng.random() >= skip_probability:  # a gap: the next obs continues nothing stored
            buffer.add(obs, action, reward, next_obs, terminated, truncated)
            added.append(_key(obs, action, reward, next_obs, terminated, truncated))
        obs = next_obs
        if terminated or truncated or rng.random() < reset_probability:
            obs, _ = env.reset()
            episodes += 1
    return added, episodes


def _sampled_keys(buffer, rounds=40):
    keys = set()
    for _ in range(rounds):
        batch = buffer.sample(len(buffer))
        assert batch.obs.shape == (len(buffer), *buffer.obs_shape) == batch.next_obs.shape
        assert batch.obs.dtype == buffer.obs_dtype and batch.actions.dtype == np.int64
        assert batch.rewards.dtype == np.float32 and batch.terminated.dtype == bool
        keys.update(_key(*transition) for transition in zip(*batch, strict=True))
    return keys


def _check_samples(buffer, added, episodes):
    sampled = _sampled_keys(buffer)
    stored = set(added[-len(buffer) :])
    assert sampled <= set(added), "every sampled transition is one the env produced"
    # Frames go oldest first, so what can be sampled is always the newest transitions.
    assert sampled == stored, "uniform sampling reaches exactly the len(buffer) newest"
    # Each episode in the buffer costs up to k extra slots (its first stack), the pending
    # next frame one, and up to k - 1 transitions near the oldest slot lose their stack.
    k = buffer.obs_shape[0]
    assert len(buffer) >= min(len(added), buffer.capacity - (episodes + 1) * k - k)


# (capacity, k, episode_length, truncate_at, life_length, padding, reset_p, skip_p, steps)
ATARI_CASES = [
    (5, 4, 100, None, None, "reset", 0.0, 0.0, 3),  # not even full
    (5, 4, 3, None, None, "reset", 0.0, 0.0, 40),  # capacity = k + 1, short episodes
    (9, 4, 1, None, None, "reset", 0.0, 0.0, 30),  # one-step episodes
    (40, 4, 7, None, None, "reset", 0.0, 0.0, 300),  # many wraparounds
    (40, 4, 100, 5, None, "reset", 0.0, 0.0, 200),  # truncated episodes
    (40, 4, 30, None, 4, "reset", 0.0, 0.0, 200),  # lives lost end episodes (3 lives)
    (40, 4, 30, None, None, "zero", 0.0, 0.0, 200),  # zero padding kept exactly
    (40, 4, 30, None, None, "reset", 0.1, 0.0, 200),  # resets mid-episode
    (40, 4, 30, None, None, "reset", 0.0, 0.2, 200),  # transitions left out
    (33, 2, 9, 6, None, "reset", 0.05, 0.05, 250),  # k = 2, everything at once
    (12, 1, 4, None, None, "reset", 0.0, 0.0, 50),  # k = 1: no stacking
    (257, 4, 50, 45, None, "reset", 0.02, 0.0, 700),
]


@pytest.mark.parametrize("case", ATARI_CASES, ids=[str(c) for c in ATARI_CASES])
def test_atari_buffer_samples_only_real_transitions(case):
    _run_case(case, seeds=range(3))


def test_atari_buffer_fallback_sampling_is_exact_too(monkeypatch):
    # When rejection sampling gives up (many invalid slots), valid slots are listed.
    import rlcourse.buffers

    monkeypatch.setattr(rlcourse.buffers, "_MAX_REJECTION_ROUNDS", 0)
    for case in ATARI_CASES[1:4] + ATARI_CASES[9:10]:
        _run_case(case, seeds=[0])


def _run_case(case, seeds):
    capacity, k, length, truncate_at, life_length, padding, reset_p, skip_p, steps = case
    for seed in seeds:
        game = FrameCounterEnv(
            shape=(2, 3), episode_length=length, truncate_at=truncate_at, life_length=life_length
        )
        env = FrameStack(UniqueFrames(game), k=k, padding=padding)
        buffer = AtariReplayBuffer(capacity, (k, 2, 3), rng=np.random.default_rng(seed))
        nbytes = buffer.nbytes
        added, episodes = _play(env, buffer, steps, np.random.default_rng(seed), reset_p, skip_p)
        _check_samples(buffer, added, episodes)
        assert buffer.nbytes == nbytes, "all arrays are allocated up front"


def test_atari_buffer_smaller_than_a_stack_stays_correct():
    # A checkpoint loader may make a 1-slot buffer; tiny rings must not break anything.
    for capacity in (1, 2, 3):
        env = FrameStack(UniqueFrames(FrameCounterEnv(shape=(2, 3), episode_length=4)), k=4)
        buffer = AtariReplayBuffer(capacity, (4, 2, 3), rng=np.random.default_rng(0))
        rng = np.random.default_rng(capacity)
        added, episodes = [], 0
        for _ in range(12):  # a few steps at a time, checking after each
            more, n = _play(env, buffer, 2, rng)  # a reset, then two steps
            added, episodes = added + more, episodes + n
            if len(buffer):
                _check_samples(buffer, added, episodes)
            else:
                with pytest.raises(ValueError, match="empty replay buffer"):
                    buffer.sample(1)
        if capacity == 1:
            assert len(buffer) == 0  # the next frame always overwrites the stack's frame


def test_atari_buffer_with_make_atari_env():
    from rlcourse.envs import make_atari_env

    # A raw-frame time limit gives truncated episodes; lost lives end episodes too.
    env = make_atari_env("ALE/MsPacman-v5", max_episode_steps=4 * 60)
    buffer = AtariReplayBuffer(150, rng=np.random.default_rng(0))
    added, episodes = _play(env, buffer, 400, np.random.default_rng(0))
    assert any(key[5] for key in added), "the time limit truncated some episodes"
    _check_samples(buffer, added, episodes)


def test_atari_buffer_matches_a_replay_buffer_fed_the_same_transitions():
    env = FrameStack(UniqueFrames(FrameCounterEnv(shape=(84, 84), episode_length=20)), k=4)
    atari = AtariReplayBuffer(1000, rng=np.random.default_rng(0))
    plain = ReplayBuffer(1000, (4, 84, 84), obs_dtype=np.uint8, rng=np.random.default_rng(0))

    class Both:
        def add(self, *transition):
            atari.add(*transition)
            plain.add(*transition)

    _play(env, Both(), 100, np.random.default_rng(0))
    assert len(atari) == len(plain) == 100
    assert _sampled_keys(atari) == _sampled_keys(plain)
    assert atari.nbytes < plain.nbytes / 7.5


def test_atari_buffer_memory_per_transition():
    buffer = AtariReplayBuffer(100_000, rng=np.random.default_rng(0))  # lazily committed
    assert buffer.nbytes / buffer.capacity <= 7_100  # 84x84 frame (7,056) + 6 bytes + a stack
    assert buffer.frames.shape == (100_000, 84, 84) and buffer.frames.dtype == np.uint8


def test_atari_buffer_same_seed_same_batches_and_torch_device():
    buffers = [AtariReplayBuffer(50, (4, 2, 3), rng=np.random.default_rng(1)) for _ in range(2)]
    for buffer in buffers:
        env = FrameStack(UniqueFrames(FrameCounterEnv(shape=(2, 3), episode_length=8)), k=4)
        _play(env, buffer, 60, np.random.default_rng(0))
    a, b = (buffer.sample(16) for buffer in buffers)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    buffers[0].device = "cpu"
    batch = buffers[0].sample(8)
    assert all(isinstance(array, torch.Tensor) for array in batch)
    assert batch.obs.dtype == torch.uint8 and batch.actions.dtype == torch.int64
    assert torch.equal(batch.obs[:, 1:], batch.next_obs[:, :-1])


def _atari_buffer():
    return AtariReplayBuffer(10, (4, 2, 3), rng=np.random.default_rng(0))


def _stack(t):
    return np.stack([np.full((2, 3), t + i, np.uint8) for i in range(4)])


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (lambda b: b.sample(1), ValueError, "empty replay buffer"),
        (
            lambda b: (b.add(_stack(0), 0, 0.0, _stack(1), False, False), b.sample(2)),
            ValueError,
            "cannot sample 2 transitions, only 1 stored",
        ),
        (
            lambda b: b.add(np.zeros((4, 3, 2), np.uint8), 0, 0.0, _stack(1), False, False),
            ValueError,
            r"obs has shape \(4, 3, 2\), this buffer stores \(4, 2, 3\)",
        ),
        (
            lambda b: b.add(_stack(0), 0, 0.0, _stack(1) / 255, False, False),
            TypeError,
            "next_obs has dtype float64, this buffer stores uint8",
        ),
        (
            lambda b: b.add(_stack(0), 0, 0.0, _stack(5), False, False),
            ValueError,
            r"next_obs must be obs shifted by one frame",
        ),
        (
            lambda b: b.add(_stack(0), 300, 0.0, _stack(1), False, False),
            ValueError,
            "action must be an int in 0..255.*got 300",
        ),
    ],
)
def test_atari_buffer_bad_use_gives_clear_errors(action, error, message):
    with pytest.raises(error, match=message):
        action(_atari_buffer())


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0,), ValueError, "capacity must be >= 1, got 0"),
        ((-3,), ValueError, "capacity must be >= 1, got -3"),
        ((1.5,), TypeError, "capacity must be an int, got 1.5"),
        ((10, (84, 84)), ValueError, r"obs_shape must be \(k, \*frame_shape\)"),
        ((100, (33, 2, 3)), ValueError, "stacks of 1 to 32 frames are supported, got k=33"),
    ],
)
def test_atari_buffer_bad_construction(args, error, message):
    with pytest.raises(error, match=message):
        AtariReplayBuffer(*args, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="np.random.Generator"):
        AtariReplayBuffer(10, rng=None)


def test_buffers_warn_when_they_would_not_fit_in_ram(monkeypatch):
    import rlcourse.buffers

    monkeypatch.setattr(rlcourse.buffers, "available_memory", lambda: 10_000_000)
    message = r"AtariReplayBuffer\(capacity=10,000\) needs 0\.07 GB \(7,062 bytes .* 0\.01 GB"
    with pytest.warns(UserWarning, match=message + ".*Use capacity <= 1,132,"):
        AtariReplayBuffer(10_000, rng=np.random.default_rng(0))
    with pytest.warns(UserWarning, match=r"ReplayBuffer\(capacity=1,000\) needs 0\.06 GB"):
        ReplayBuffer(1000, (4, 84, 84), obs_dtype=np.uint8, rng=np.random.default_rng(0))


def test_available_memory_is_a_positive_number_of_bytes():
    from rlcourse.buffers import available_memory

    assert available_memory() > 0
