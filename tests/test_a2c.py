"""Recurrent A2C: the loss pieces on hand-computed values, the agent, its checkpoints, and
the shipped Kung-Fu agent playing. The parallel games are tested in test_rollouts.py, the
evaluation protocol in test_evaluation.py, the training loop in test_training.py."""

import dataclasses
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from rlcourse import pretrained
from rlcourse.agents.a2c import (
    A2C,
    A2CConfig,
    advantages,
    entropy,
    n_step_returns,
    policy_loss,
    train_on_rollout,
    value_loss,
)
from rlcourse.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from rlcourse.envs import KUNGFU_CROP, env_for_checkpoint, make_env_for
from rlcourse.evaluation import evaluate
from rlcourse.networks import build_network
from rlcourse.policies import RecurrentPolicy
from rlcourse.registry import load_policy
from rlcourse.rollouts import ParallelGames, Rollout
from rlcourse.toy_envs import FrameCounterEnv
from rlcourse.wrappers import EpisodicLife, FrameStack

SHAPE = (1, 16, 16)
KUNGFU = "ALE/KungFuMaster-v5"


def toy_game():
    return FrameStack(FrameCounterEnv(shape=SHAPE[1:], episode_length=4), k=1)


def toy_a2c(seed=0, **config):
    return A2C(SHAPE, n_actions=4, config=A2CConfig(hidden_size=8, seed=seed, **config))


def _has_wrapper(env, wrapper):
    while isinstance(env, gym.Wrapper):
        if isinstance(env, wrapper):
            return True
        env = env.env
    return False


# --- the loss pieces on hand-computed values ---------------------------------------------


def test_n_step_returns_restart_after_a_game_ends():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    alive = torch.tensor([[True, False, True]])
    # G2 = 3 + 0.5 * 10 = 8; G1 = 2 (the game ended); G0 = 1 + 0.5 * 2 = 2
    returns = n_step_returns(rewards, alive, torch.tensor([10.0]), gamma=0.5)
    assert returns.tolist() == [[2.0, 2.0, 8.0]]


def test_n_step_returns_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        n_step_returns(torch.zeros(2, 3), torch.ones(2, 4, dtype=torch.bool), torch.zeros(2), 0.9)
    with pytest.raises(ValueError, match="last_values must be"):
        n_step_returns(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool), torch.zeros(3), 0.9)


def test_advantages_are_detached_and_value_loss_trains_only_the_critic():
    values = torch.tensor([1.0, 2.0], requires_grad=True)
    returns = torch.tensor([3.0, 2.0], requires_grad=True)
    advantage = advantages(returns, values)
    assert advantage.tolist() == [2.0, 0.0] and not advantage.requires_grad
    loss = value_loss(values, returns)
    assert loss.item() == pytest.approx(2.0)
    loss.backward()
    assert values.grad.tolist() == [-2.0, 0.0] and returns.grad is None


def test_policy_loss_and_entropy_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
    actions = torch.tensor([1, 1])
    advantage = torch.tensor([2.0, -1.0])
    expected = -(math.log(0.25) * 2.0 + math.log(0.8) * -1.0) / 2
    assert policy_loss(logits, actions, advantage).item() == pytest.approx(expected, rel=1e-6)
    h0 = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    h1 = -(2 * 0.1 * math.log(0.1) + 0.8 * math.log(0.8))
    assert entropy(logits).item() == pytest.approx((h0 + h1) / 2, rel=1e-6)


class TableAgent(nn.Module):
    """Logits and value looked up by the observation's first pixel: outputs known by hand."""

    obs_shape = (1, 1, 1)
    n_actions = 2

    def __init__(self, values):
        super().__init__()
        self.table_logits = nn.Parameter(torch.zeros(len(values), 2))
        self.table_values = nn.Parameter(torch.tensor(values))

    def initial_memory(self, batch_size):
        return torch.zeros(batch_size, 1), torch.zeros(batch_size, 1)

    def forward(self, observation, memory):
        index = observation.view(-1).long()
        return memory, self.table_logits[index], self.table_values[index]


def tiny_rollout(terminated=(False, False, False), truncated=(False, False, False), trunc_v=0.0):
    obs = np.arange(3, dtype=np.uint8).reshape(1, 3, 1, 1, 1)  # states 0, 1, 2; next state 3
    return Rollout(
        observations=obs,
        actions=np.array([[0, 1, 0]]),
        rewards=np.array([[1.0, 2.0, 3.0]], np.float32),
        terminated=np.array([terminated]),
        truncated=np.array([truncated]),
        truncation_values=np.array([[0.0, trunc_v if any(truncated) else 0.0, 0.0]], np.float32),
        next_observations=np.full((1, 1, 1, 1), 3, np.uint8),
        initial_memory=(torch.zeros(1, 1), torch.zeros(1, 1)),
    )


def test_train_on_rollout_matches_hand_computed_losses():
    agent = TableAgent([0.5, 1.0, 1.5, 2.0])
    config = A2CConfig(gamma=0.5, reward_scale=1.0, entropy_coef=0.01, value_coef=0.5)
    optimizer = torch.optim.SGD(agent.parameters(), lr=0.0)
    stats = train_on_rollout(agent, optimizer, tiny_rollout(), config)
    # returns: G2 = 3 + .5 * 2 = 4, G1 = 2 + .5 * 4 = 4, G0 = 1 + .5 * 4 = 3
    # advantages 2.5, 3, 2.5; uniform policy over 2 actions: log pi = -log 2
    assert stats["value_loss"] == pytest.approx((2.5**2 + 3**2 + 2.5**2) / 3)
    assert stats["policy_loss"] == pytest.approx(math.log(2) * 8 / 3)
    assert stats["entropy"] == pytest.approx(math.log(2))
    expected = stats["policy_loss"] + 0.5 * stats["value_loss"] - 0.01 * math.log(2)
    assert stats["loss"] == pytest.approx(expected)


def test_terminated_stops_the_bootstrap_truncated_keeps_it():
    agent = TableAgent([0.5, 1.0, 1.5, 2.0])
    config = A2CConfig(gamma=0.5, reward_scale=1.0)
    optimizer = torch.optim.SGD(agent.parameters(), lr=0.0)
    # game over after step 1: G1 = 2, G0 = 1 + .5 * 2 = 2; G2 = 4 as before
    over = train_on_rollout(agent, optimizer, tiny_rollout(terminated=(False, True, False)), config)
    assert over["value_loss"] == pytest.approx((1.5**2 + 1.0**2 + 2.5**2) / 3)
    # cut by a time limit after step 1, V(last obs) = 6: G1 = 2 + .5 * 6 = 5, G0 = 3.5
    cut = tiny_rollout(truncated=(False, True, False), trunc_v=6.0)
    stats = train_on_rollout(agent, optimizer, cut, config)
    assert stats["value_loss"] == pytest.approx((3.0**2 + 4.0**2 + 2.5**2) / 3)


def test_train_on_rollout_clips_gradients_and_learns():
    agent = TableAgent([0.0, 0.0, 0.0, 0.0])
    config = A2CConfig(gamma=0.5, reward_scale=1.0, max_grad_norm=0.1, lr=1.0)
    optimizer = torch.optim.SGD(agent.parameters(), lr=1.0)
    before = [p.detach().clone() for p in agent.parameters()]
    stats = train_on_rollout(agent, optimizer, tiny_rollout(), config)
    assert stats["grad_norm"] > 0.1  # the norm before clipping
    step = torch.cat(
        [(p.detach() - b).flatten() for p, b in zip(agent.parameters(), before, strict=True)]
    )
    assert step.norm().item() == pytest.approx(0.1, rel=1e-4)  # lr 1: the step is the clipped grad
    assert (agent.table_values.detach()[:3] > 0).all(), "values move towards positive returns"


def test_a2c_learns_a_two_step_bandit():
    """Reward 1 for action 0: after some updates the policy prefers it."""
    agent = TableAgent([0.0, 0.0, 0.0, 0.0])
    config = A2CConfig(gamma=0.9, reward_scale=1.0, entropy_coef=0.0)
    learn = train_on_rollout
    optimizer = torch.optim.Adam(agent.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(50):
        actions = rng.integers(0, 2, size=(4, 3))
        rollout = Rollout(
            np.tile(np.arange(3, dtype=np.uint8).reshape(1, 3, 1, 1, 1), (4, 1, 1, 1, 1)),
            actions,
            (actions == 0).astype(np.float32),
            np.zeros((4, 3), bool),
            np.zeros((4, 3), bool),
            np.zeros((4, 3), np.float32),
            np.full((4, 1, 1, 1), 3, np.uint8),
            (torch.zeros(4, 1), torch.zeros(4, 1)),
        )
        learn(agent, optimizer, rollout, config)
    probs = torch.softmax(agent.table_logits.detach()[:3], -1)
    assert (probs[:, 0] > 0.8).all()


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"n_games": 0}, ValueError, "A2CConfig.n_games must be >= 1, got 0"),
        ({"rollout_length": 2.5}, TypeError, r"A2CConfig.rollout_length must be an int, got 2.5"),
        ({"gamma": 1.5}, ValueError, r"A2CConfig.gamma must be in \[0, 1\], got 1.5"),
        ({"lr": 0.0}, ValueError, "A2CConfig.lr must be in \\(0, 3.40282e\\+38\\], got 0.0"),
        ({"entropy_coef": -0.1}, ValueError, "A2CConfig.entropy_coef must be >= 0, got -0.1"),
        ({"noop_max": -1}, ValueError, "A2CConfig.noop_max must be >= 0, got -1"),
        ({"crop": (1, 2)}, ValueError, "crop must be 4 numbers"),
        ({"crop": (1, 2, 3, -4)}, ValueError, r"A2CConfig.crop\[i\] must be >= 0, got -4"),
        ({"vectorization": "threads"}, ValueError, "must be 'sync', 'async' or 'ale'"),
        ({"epochs": 4}, TypeError, "unexpected keyword argument 'epochs'"),  # PPO's now
    ],
)
def test_config_checks_its_values(values, error, message):
    with pytest.raises(error, match=message):
        A2CConfig(**values)


def test_config_round_trip_and_unknown_fields():
    config = A2CConfig(n_games=3, crop=[0, 0, 0, 0])
    assert config.crop == (0, 0, 0, 0)
    assert A2CConfig.from_dict(dataclasses.asdict(config)) == config
    with pytest.raises(ValueError, match="unknown A2CConfig fields"):
        A2CConfig.from_dict({"n_game": 3})
    with pytest.raises(ValueError, match="unknown A2CConfig fields"):
        A2CConfig.from_dict({"learning_rate": 1e-3})  # renamed lr


def test_env_options_make_lives_for_training_and_whole_games_for_evaluation():
    config = A2CConfig(episodic_life=True, size=32)
    options = config.env_options()
    assert options["crop"] == list(KUNGFU_CROP) and options["screen_size"] == 32
    training = make_env_for(KUNGFU, training=True, **options)
    evaluation = make_env_for(KUNGFU, training=False, **options)
    assert _has_wrapper(training, EpisodicLife) and not _has_wrapper(evaluation, EpisodicLife)
    assert training.observation_space.shape == evaluation.observation_space.shape == (1, 32, 32)
    assert A2CConfig(crop=(0, 0, 0, 0)).env_options()["crop"] is None  # the whole screen
    assert not _has_wrapper(
        make_env_for(KUNGFU, training=True, **A2CConfig(episodic_life=False).env_options()),
        EpisodicLife,
    )


# --- the agent --------------------------------------------------------------------------------


def test_agent_is_seeded_and_updates_from_a_pool_rollout():
    agent, twin = toy_a2c(seed=3), toy_a2c(seed=3)
    for a, b in zip(agent.network.parameters(), twin.network.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(
            agent.network.parameters(), toy_a2c(seed=4).network.parameters(), strict=True
        )
    )
    pool = ParallelGames(agent.network, toy_game, 2, seed=0)
    before = [p.detach().clone() for p in agent.network.parameters()]
    stats = agent.update(pool.interact(3))
    pool.close()
    assert set(stats) == {"loss", "policy_loss", "value_loss", "entropy", "grad_norm"}
    assert agent.steps == 6 and agent.updates == 1
    assert any(
        not torch.equal(p, b) for p, b in zip(agent.network.parameters(), before, strict=True)
    )
    assert agent.optimizer.param_groups[0]["lr"] == agent.config.lr


def test_agent_keeps_channels_last_convs_with_the_default_layouts_values():
    agent = toy_a2c(seed=5)
    for conv in (agent.network.conv0, agent.network.conv1, agent.network.conv2):
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    plain = build_network(agent.network_spec)  # NCHW, as load_policy builds it
    plain.load_state_dict(agent.network.state_dict())
    assert plain.conv1.weight.is_contiguous()
    frames = torch.randint(0, 256, (3, *SHAPE), dtype=torch.uint8)
    memory = agent.network.initial_memory(3)
    (h, _), logits, value = agent.network(frames, memory)
    (h_plain, _), logits_plain, value_plain = plain(frames, memory)
    for ours, peer in ((h, h_plain), (logits, logits_plain), (value, value_plain)):
        torch.testing.assert_close(ours, peer, rtol=1e-5, atol=1e-6)


def test_policy_follows_the_training_life_rule():
    assert toy_a2c(episodic_life=True).policy().reset_on_life_loss
    policy = toy_a2c(episodic_life=False).policy(greedy=True)
    assert isinstance(policy, RecurrentPolicy) and not policy.reset_on_life_loss and policy.greedy


def test_checkpoint_and_restore_continue_exactly(tmp_path):
    agent = toy_a2c(seed=1)
    pool = ParallelGames(agent.network, toy_game, 2, seed=0)
    for _ in range(2):
        agent.update(pool.interact(3))
    env_options = agent.config.env_options()
    path = save_checkpoint(
        tmp_path / "a2c.pt", agent.checkpoint(KUNGFU, env_options, resume={"loop": 1})
    )
    payload = load_checkpoint(path, expect={"algo": "a2c"})
    assert payload["steps"] == 12 and payload["env_options"] == env_options
    twin = toy_a2c(seed=2)  # other weights until restored
    twin.restore(payload)
    assert (twin.steps, twin.updates) == (12, 2)
    rollout = pool.interact(3)
    pool.close()
    assert agent.update(rollout) == twin.update(rollout)  # same weights and Adam moments
    for a, b in zip(agent.network.parameters(), twin.network.parameters(), strict=True):
        assert torch.equal(a, b)
    assert "resume" not in agent.checkpoint(KUNGFU, env_options)


def test_agents_restored_from_one_payload_in_memory_are_independent():
    agent = toy_a2c(seed=1)
    pool = ParallelGames(agent.network, toy_game, 2, seed=0)
    agent.update(pool.interact(3))
    payload = agent.checkpoint(KUNGFU, resume={})  # not saved: tensors shared with `agent`
    first, second = toy_a2c(seed=5), toy_a2c(seed=6)
    first.restore(payload)
    second.restore(payload)
    rollout = pool.interact(3)
    pool.close()
    assert first.update(rollout) == second.update(rollout)  # no shared Adam moments
    for a, b in zip(first.network.parameters(), second.network.parameters(), strict=True):
        assert torch.equal(a, b)


def test_restore_refuses_another_network():
    payload = toy_a2c().checkpoint(KUNGFU, resume={})
    other = A2C(SHAPE, 4, A2CConfig(hidden_size=16))
    with pytest.raises(CheckpointError, match="is not this agent's"):
        other.restore(payload)


def test_load_agent_gives_a_recurrent_policy(tmp_path):
    agent = toy_a2c(episodic_life=True)
    path = save_checkpoint(tmp_path / "a2c.pt", agent.checkpoint(KUNGFU, {}))
    policy = load_policy(path)
    assert isinstance(policy, RecurrentPolicy) and policy.reset_on_life_loss
    assert policy.checkpoint.algo == "a2c" and policy.checkpoint.config["hidden_size"] == 8
    for name, value in agent.network.state_dict().items():
        assert torch.equal(policy.network.state_dict()[name], value)


# --- the shipped agent ------------------------------------------------------------------------


def test_shipped_checkpoint_loads_and_plays():
    policy = load_policy(pretrained.path("a2c_kungfu.pt"))
    info = policy.checkpoint
    assert info.algo == "a2c" and info.env_id == KUNGFU and info.steps > 0
    env = env_for_checkpoint(policy)  # evaluation rules: whole game, real points
    assert env.observation_space.shape == tuple(policy.network.obs_shape)
    actions = []

    def play(obs):
        actions.append(policy(obs))
        return actions[-1]

    play.reset = policy.reset
    play.reset_game = policy.reset_game
    play.reset_on_life_loss = policy.reset_on_life_loss
    scores = evaluate(play, env, 1, seed=0, max_steps=300)
    assert len(actions) == 300  # a trained agent survives 300 steps of its first game
    assert len(set(actions)) > 3  # it fights: kicks, punches, moves
    assert scores[0] > 0  # and scores: Kung-Fu Master pays 100s of points a hit
