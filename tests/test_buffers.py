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
        (lambda b: b.sample(0), ValueError, "batch_size must be positive"),
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
