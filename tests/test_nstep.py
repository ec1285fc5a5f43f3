"""n-step transitions from both replay memories, against a plain loop over what was added."""

import numpy as np
import pytest
import torch

from rlcourse.buffers import (
    AtariReplayBuffer,
    NStepSample,
    ReplayBuffer,
    n_step_chain,
    n_step_return,
)
from rlcourse.toy_envs import FrameCounterEnv
from rlcourse.wrappers import FrameStack

GAMMA = 0.9


def _expected(records, i, n, gamma):
    """The n-step transition starting at records[i], by hand: follow the next records while
    they continue the episode (same env, not ended), at most n steps."""
    total, k, j = 0.0, 0, i
    while True:
        obs, action, reward, next_obs, terminated, truncated = records[j]
        total += gamma**k * reward
        k += 1
        if terminated or truncated or k == n or j + 1 == len(records):
            break
        if not np.array_equal(records[j + 1][0], next_obs):  # another env's transition
            break
        j += 1
    _, _, _, next_obs, terminated, truncated = records[j]
    return total, next_obs, terminated, truncated, 0.0 if terminated else gamma**k


def _check_sample(sample, records, n, gamma, first_stored=0):
    assert isinstance(sample, NStepSample)
    batch, discounts = sample
    for b in range(len(discounts)):
        starts = [
            i
            for i in range(first_stored, len(records))
            if np.array_equal(records[i][0], batch.obs[b])
        ]
        assert len(starts) == 1, "every observation in these episodes is unique"
        reward, next_obs, terminated, truncated, discount = _expected(records, starts[0], n, gamma)
        assert batch.rewards[b] == pytest.approx(reward, rel=1e-6)
        np.testing.assert_array_equal(batch.next_obs[b], next_obs)
        assert batch.actions[b] == records[starts[0]][1]
        assert (bool(batch.terminated[b]), bool(batch.truncated[b])) == (terminated, truncated)
        assert discounts[b] == pytest.approx(discount, rel=1e-6)


def _check_buffer(buffer, records, n, gamma, first_stored=0, draws=10):
    """Check ``draws`` batches of ``len(buffer)`` n-step transitions."""
    for _ in range(draws):
        _check_sample(buffer.sample_n_step(len(buffer), n, gamma), records, n, gamma, first_stored)


def _vector_records(lengths, ends):
    """Episodes of 1-number observations, unique across episodes; each ends as told
    ('terminated', 'truncated', or 'open': the last one may still be going)."""
    records = []
    for episode, (length, end) in enumerate(zip(lengths, ends, strict=True)):
        for t in range(length):
            last = t == length - 1
            records.append(
                (
                    np.array([1000.0 * episode + t], np.float32),
                    t % 3,
                    float(t + 1),
                    np.array([1000.0 * episode + t + 1], np.float32),
                    last and end == "terminated",
                    last and end == "truncated",
                )
            )
    return records


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_replay_buffer_n_step_matches_a_loop_over_the_episodes(n):
    # Episodes that end inside the n steps (terminated, truncated), one shorter than n, and
    # an open one at the end: the newest transitions have fewer than n steps after them.
    records = _vector_records(
        [4, 1, 2, 6, 3], ["terminated", "truncated", "terminated", "truncated", "open"]
    )
    buffer = ReplayBuffer(64, obs_shape=(1,), rng=np.random.default_rng(0))
    for record in records:
        buffer.add(*record)
    _check_buffer(buffer, records, n, GAMMA)


def test_replay_buffer_n_step_after_the_ring_wrapped():
    records = _vector_records([7, 5, 9, 4], ["terminated", "truncated", "terminated", "open"])
    buffer = ReplayBuffer(10, obs_shape=(1,), rng=np.random.default_rng(1))
    for record in records:
        buffer.add(*record)
    # Only the newest 10 are stored; chains never run past the newest into the oldest slots.
    _check_buffer(buffer, records, 4, GAMMA, first_stored=len(records) - 10)


def test_replay_buffer_never_chains_transitions_of_envs_added_in_turn():
    first = _vector_records([5], ["terminated"])
    second = [(obs + 500, a, r, nxt + 500, te, tr) for obs, a, r, nxt, te, tr in first]
    records = [record for pair in zip(first, second, strict=True) for record in pair]
    buffer = ReplayBuffer(64, obs_shape=(1,), rng=np.random.default_rng(2))
    for record in records:
        buffer.add(*record)
    batch, discounts = buffer.sample_n_step(10, 3, GAMMA)
    # each start is followed by another env's step (its episode's last one terminated)
    np.testing.assert_array_equal(discounts, np.where(batch.terminated, 0, np.float32(GAMMA)))
    np.testing.assert_array_equal(batch.next_obs, batch.obs + 1)


def test_n_step_of_one_is_sample():
    records = _vector_records([4, 3, 5], ["terminated", "truncated", "open"])
    one, other = (ReplayBuffer(32, obs_shape=(1,), rng=np.random.default_rng(3)) for _ in "ab")
    for record in records:
        one.add(*record)
        other.add(*record)
    plain, (batch, discounts) = one.sample(8), other.sample_n_step(8, 1, GAMMA)
    for a, b in zip(plain, batch, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(discounts, np.where(batch.terminated, 0, np.float32(GAMMA)))


def _atari_records(episodes, truncate_at=None, seed=0, open_steps=0):
    """Transitions of FrameStack(FrameCounterEnv): episodes of 6 frames (terminated), or cut
    at ``truncate_at``; then ``open_steps`` of an episode still going."""
    env = FrameStack(FrameCounterEnv(shape=(6, 6), episode_length=6, truncate_at=truncate_at), k=4)
    records, rng = [], np.random.default_rng(seed)
    for episode in range(episodes + (open_steps > 0)):
        obs, _ = env.reset(seed=episode)
        done, steps = False, 0
        while not done:
            action = int(rng.integers(4))
            next_obs, reward, terminated, truncated, _ = env.step(action)
            records.append((obs, action, reward, next_obs, terminated, truncated))
            obs, done, steps = next_obs, terminated or truncated, steps + 1
            if episode == episodes and steps == open_steps:
                break
    return records


@pytest.mark.parametrize("n", [1, 3, 8])
@pytest.mark.parametrize("truncate_at", [None, 4])
def test_atari_buffer_n_step_matches_a_loop_over_the_episodes(n, truncate_at):
    records = _atari_records(5, truncate_at=truncate_at, open_steps=2)
    buffer = AtariReplayBuffer(500, obs_shape=(4, 6, 6), rng=np.random.default_rng(0))
    for record in records:
        buffer.add(*record)
    _check_buffer(buffer, records, n, GAMMA)


def test_atari_buffer_n_step_after_the_ring_wrapped():
    records = _atari_records(9, open_steps=3)
    buffer = AtariReplayBuffer(30, obs_shape=(4, 6, 6), rng=np.random.default_rng(4))
    for record in records:
        buffer.add(*record)
    stored = len(buffer)
    _check_buffer(buffer, records, 5, GAMMA, first_stored=len(records) - stored - 1)


def test_atari_buffer_n_step_of_one_is_sample():
    records = _atari_records(3, truncate_at=5, open_steps=2)
    one, other = (
        AtariReplayBuffer(100, obs_shape=(4, 6, 6), rng=np.random.default_rng(5)) for _ in "ab"
    )
    for record in records:
        one.add(*record)
        other.add(*record)
    plain, (batch, discounts) = one.sample(16), other.sample_n_step(16, 1, GAMMA)
    for a, b in zip(plain, batch, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(discounts, np.where(batch.terminated, 0, np.float32(GAMMA)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ReplayBuffer(16, obs_shape=(1,), rng=np.random.default_rng(0), device="cpu"),
        lambda: AtariReplayBuffer(
            64, obs_shape=(4, 6, 6), rng=np.random.default_rng(0), device="cpu"
        ),
    ],
)
def test_n_step_samples_on_a_device_are_tensors(make):
    buffer = make()
    records = (
        _vector_records([5], ["terminated"])
        if isinstance(buffer, ReplayBuffer)
        else _atari_records(1)
    )
    for record in records:
        buffer.add(*record)
    batch, discounts = buffer.sample_n_step(4, 3, GAMMA)
    assert all(isinstance(array, torch.Tensor) for array in (*batch, discounts))
    assert discounts.dtype == torch.float32 and batch.rewards.dtype == torch.float32


@pytest.mark.parametrize(
    "n, gamma, message",
    [
        (0, 0.9, "n must be"),
        (2.5, 0.9, "n must be"),
        (3, 1.5, "gamma must be"),
        (3, -0.1, "gamma must be"),
    ],
)
def test_bad_n_step_arguments_say_what_is_wrong(n, gamma, message):
    buffer = ReplayBuffer(8, obs_shape=(1,), rng=np.random.default_rng(0))
    buffer.add([0.0], 0, 1.0, [1.0], False, False)
    with pytest.raises((ValueError, TypeError), match=message):
        buffer.sample_n_step(1, n, gamma)


def test_n_step_return_stops_at_the_first_end_of_each_row():
    rewards = np.array([[1.0, 2.0, 4.0, 8.0]] * 4)
    ends = np.array(
        [
            [False, False, False, False],  # no end: all n rewards
            [False, True, False, False],  # the episode ends after the 2nd: later rewards ignored
            [True, True, False, False],  # ends at once: the start's own reward only
            [False, False, False, True],  # ends on the last step: the same as no end
        ]
    )
    returns, steps = n_step_return(rewards, ends, gamma=0.5)
    np.testing.assert_allclose(returns, [1 + 1 + 1 + 1, 1 + 1, 1, 4.0])
    np.testing.assert_array_equal(steps, [4, 2, 1, 4])
    assert returns.dtype == np.float64 and steps.dtype == np.int64


def test_n_step_return_ignores_whatever_follows_an_end():
    ends = np.array([[False, True, False]])
    clean, _ = n_step_return(np.array([[1.0, 1.0, 0.0]]), ends, 0.9)
    noisy, _ = n_step_return(np.array([[1.0, 1.0, np.inf]]), ends, 0.9)
    assert clean == pytest.approx(1.9) and noisy == pytest.approx(1.9)


@pytest.mark.parametrize(
    ("rewards", "ends", "message"),
    [
        (np.zeros(3), np.zeros(3, bool), r"rewards \(batch, n\).*got rewards \(3,\)"),
        (np.zeros((2, 3)), np.zeros((2, 2), bool), r"got rewards \(2, 3\) and ends \(2, 2\)"),
        (np.zeros((2, 3)), np.zeros((2, 3)), "bool array ends.*dtype float64"),
    ],
)
def test_n_step_return_bad_shapes_say_what_was_given(rewards, ends, message):
    with pytest.raises(ValueError, match=message):
        n_step_return(rewards, ends, 0.9)


def test_n_step_chain_wraps_the_ring_and_stops_at_the_newest_or_an_end():
    rewards = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    terminated = np.array([False, False, True, False, False, False])
    truncated = np.array([False, False, False, False, True, False])
    # cursor 1: row 0 is the newest, row 1 the oldest; chains from 5 wrap into row 0
    returns, discounts, last = n_step_chain(
        rewards, terminated, truncated, 1, np.array([5, 1, 3, 0]), n=3, gamma=0.5
    )
    np.testing.assert_allclose(returns, [32 + 0.5 * 1, 2 + 0.5 * 4, 8 + 0.5 * 16, 1])
    np.testing.assert_allclose(discounts, [0.25, 0.0, 0.25, 0.5])
    np.testing.assert_array_equal(last, [0, 2, 4, 0])


@pytest.mark.parametrize(
    "arrays, cursor, message",
    [
        ((np.zeros(4), np.zeros(4, bool), np.zeros(3, bool)), 0, "one \\(capacity,\\) array"),
        ((np.zeros((4, 2)), np.zeros((4, 2), bool), np.zeros((4, 2), bool)), 0, "got shapes"),
        ((np.zeros(4), np.zeros(4, bool), np.zeros(4, bool)), 4, "cursor must be"),
    ],
)
def test_bad_n_step_chain_arguments_say_what_is_wrong(arrays, cursor, message):
    with pytest.raises(ValueError, match=message):
        n_step_chain(*arrays, cursor, np.array([0]), 2, 0.9)
