"""Policies: what plays a game (greedy/epsilon Q, recurrent actor-critic, random)."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcourse.checkpoints import CheckpointInfo
from rlcourse.networks import MLPPolicy, MLPQNetwork, RecurrentActorCritic
from rlcourse.policies import (
    CategoricalPolicy,
    Policy,
    QPolicy,
    RandomPolicy,
    RecurrentPolicy,
    epsilon_greedy,
    greedy_action,
)
from rlcourse.registry import ALGORITHMS

SHAPE = (1, 16, 16)


def _q_network():
    torch.manual_seed(0)
    return MLPQNetwork(4, 3, hidden_sizes=(8,))


def _recurrent(seed=0):
    torch.manual_seed(seed)
    return RecurrentActorCritic(SHAPE, n_actions=4, hidden_size=8, channels=4)


def _frames(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE), dtype=np.uint8)


def _info(algo, **config):
    return CheckpointInfo(algo, "Env-v0", {}, config, 10, "x.pt")


# --- QPolicy --------------------------------------------------------------------------------


def test_q_policy_is_greedy_by_default():
    network = _q_network()
    policy = QPolicy(network)
    observations = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    with torch.no_grad():
        greedy = network(torch.from_numpy(observations)).argmax(1).numpy()
    assert [policy(obs) for obs in observations] == greedy.tolist()
    np.testing.assert_array_equal(policy.act_batch(observations, range(20)), greedy)
    np.testing.assert_allclose(
        policy.q_values(observations), network(torch.from_numpy(observations)).detach().numpy()
    )
    assert policy.n_actions == 3 and policy.reset_on_life_loss is False
    policy.reset(4)
    policy.reset_game(2)  # no memory: nothing changes
    assert [policy(obs) for obs in observations] == greedy.tolist()


def test_q_policy_explores_with_epsilon_from_its_own_seed():
    observation = np.zeros(4, np.float32)
    policy = QPolicy(_q_network(), epsilon=1.0, seed=3)
    actions = [policy(observation) for _ in range(300)]
    assert set(actions) == {0, 1, 2}
    again = QPolicy(_q_network(), epsilon=1.0, seed=3)
    assert [again(observation) for _ in range(300)] == actions
    batch = QPolicy(_q_network(), epsilon=1.0, seed=3).act_batch(
        np.zeros((300, 4), np.float32), range(300)
    )
    assert set(batch.tolist()) == {0, 1, 2}


@pytest.mark.parametrize(
    ("epsilon", "error", "message"),
    [
        (1.5, ValueError, r"epsilon must be in \[0, 1\], got 1.5"),
        (-0.1, ValueError, r"epsilon must be in \[0, 1\], got -0.1"),
        ("0.1", TypeError, "epsilon must be a number"),
    ],
)
def test_q_policy_checks_epsilon(epsilon, error, message):
    with pytest.raises(error, match=message):
        QPolicy(_q_network(), epsilon=epsilon)


# --- RecurrentPolicy ------------------------------------------------------------------------


def test_recurrent_policy_one_memory_per_game():
    network = _recurrent()
    policy = RecurrentPolicy(network, greedy=True)
    policy.reset(3)
    assert policy.memory[0].shape == (3, 8) and not policy.memory[0].any()
    frames = _frames(2)
    policy.act_batch(frames, [0, 2])  # game 1 does not play this step
    assert policy.memory[0][[0, 2]].any() and not policy.memory[0][1].any()
    with torch.no_grad():
        (h, c), _, _ = network(torch.from_numpy(frames), network.initial_memory(2))
    assert torch.allclose(policy.memory[0][[0, 2]], h)
    assert torch.allclose(policy.memory[1][[0, 2]], c)
    policy.reset_game(0)  # a new game (or a lost life) in slot 0 only
    assert not policy.memory[0][0].any() and not policy.memory[1][0].any()
    assert policy.memory[0][2].any()
    policy.reset(2)
    assert policy.memory[0].shape == (2, 8) and not policy.memory[0].any()


def test_recurrent_policy_remembers_between_steps():
    network = _recurrent()
    policy = RecurrentPolicy(network, greedy=True)
    frames = _frames(5)
    actions = [policy(frame) for frame in frames]  # one game: __call__ is game 0
    memory = network.initial_memory(1)
    expected = []
    with torch.no_grad():
        for frame in frames:
            memory, logits, _ = network(torch.from_numpy(frame[None]), memory)
            expected.append(int(logits.argmax()))
    assert actions == expected
    assert torch.allclose(policy.memory[0], memory[0])


def test_recurrent_policy_samples_from_its_own_generator():
    frames = _frames(50)

    def play(seed):
        policy = RecurrentPolicy(_recurrent(), seed=seed)
        policy.reset(50)
        return policy.act_batch(frames, range(50)).tolist()

    assert play(1) == play(1) and play(1) != play(2)
    assert len(set(play(1))) > 1  # sampled, not argmax


def test_recurrent_policy_reseed_restarts_the_draws():
    policy = RecurrentPolicy(_recurrent(), seed=4)
    policy.reset(30)
    first = policy.act_batch(_frames(30), range(30)).tolist()
    policy.reseed(4)
    policy.reset(30)
    assert policy.act_batch(_frames(30), range(30)).tolist() == first


# --- RandomPolicy and the policies of checkpoints -----------------------------------------


def test_random_policy():
    space = gym.spaces.Discrete(5)
    policy = RandomPolicy(space, seed=0)
    actions = [policy(None) for _ in range(200)]
    assert set(actions) == set(range(5))
    again = RandomPolicy(space, seed=0)
    assert [again(None) for _ in range(200)] == actions
    assert policy.act_batch(np.zeros((7, 2)), range(7)).shape == (7,)
    policy.reset(3)
    policy.reset_game(1)
    assert policy.reset_on_life_loss is False
    with pytest.raises(TypeError, match="RandomPolicy needs a Discrete action space"):
        RandomPolicy(gym.spaces.Box(0, 1, (2,)), seed=0)


def test_each_algorithms_checkpoint_plays_by_its_rule():
    q = ALGORITHMS["dqn"].policy(_q_network(), _info("dqn"))
    assert isinstance(q, QPolicy) and q.epsilon == 0.0 and q.checkpoint.algo == "dqn"
    lives = ALGORITHMS["a2c"].policy(_recurrent(), _info("a2c", episodic_life=True))
    assert isinstance(lives, RecurrentPolicy) and lives.reset_on_life_loss and not lives.greedy
    whole = ALGORITHMS["a2c"].policy(_recurrent(), _info("a2c", episodic_life=False))
    assert not whole.reset_on_life_loss
    sampling = ALGORITHMS["reinforce"].policy(MLPPolicy(4, 2), _info("reinforce"))
    assert isinstance(sampling, CategoricalPolicy) and not sampling.greedy


def test_every_policy_is_a_policy():
    space = gym.spaces.Discrete(2)
    for policy in (
        QPolicy(_q_network()),
        RecurrentPolicy(_recurrent()),
        CategoricalPolicy(MLPPolicy(4, 2)),
        RandomPolicy(space),
    ):
        assert isinstance(policy, Policy)


@pytest.mark.parametrize("epsilon", [0.0, 0.3, 1.0])
def test_epsilon_greedy_is_one_rule_with_or_without_a_forward_pass(epsilon):
    q = np.array([0.5, 2.0, 1.0])
    lazy, eager = np.random.default_rng(3), np.random.default_rng(3)
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return q

    first = [epsilon_greedy(compute, epsilon, lazy, n_actions=3) for _ in range(200)]
    second = [epsilon_greedy(q, epsilon, eager) for _ in range(200)]
    assert first == second  # the same draws, the same actions
    # Q-values are computed only for greedy actions: never when epsilon is 1
    assert (len(calls) == 200) == (epsilon == 0.0) and (len(calls) == 0) == (epsilon == 1.0)
    with pytest.raises(TypeError, match="needs n_actions"):
        epsilon_greedy(compute, epsilon, lazy)


def test_greedy_action_breaks_ties_at_random_only_when_given_a_generator():
    tied = np.array([1.0, 3.0, 3.0])
    assert {greedy_action(tied) for _ in range(20)} == {1}
    rng = np.random.default_rng(0)
    assert {greedy_action(tied, rng) for _ in range(50)} == {1, 2}
    assert greedy_action(np.array([np.nan, 1.0])) == 0
