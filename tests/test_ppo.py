"""PPO with GAE: the pieces on hand-computed values, the update over minibatch epochs, the
agent, and the run on the one harness (exact resume with replayable games)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from rlcourse.agents.a2c import A2CConfig
from rlcourse.agents.ppo import (
    PPO,
    PPOConfig,
    clipped_surrogate,
    gae,
    ppo_update,
    rollout_targets,
    value_loss,
)
from rlcourse.agents.reinforce import log_prob_of_actions
from rlcourse.checkpoints import load_checkpoint
from rlcourse.cli import main
from rlcourse.config import field_docs
from rlcourse.envs import KUNGFU_CROP, AtariGamesConfig
from rlcourse.registry import load_policy
from rlcourse.rollouts import Rollout

# --- GAE ---------------------------------------------------------------------------------------


def _gae_by_hand(rewards, values, last, alive, gamma, lam):
    """The definition: A_t = sum_k (gamma lam)^k delta_{t+k} within the episode."""
    batch, steps = rewards.shape
    out = np.zeros((batch, steps))
    for b in range(batch):
        for t in range(steps):
            total, factor = 0.0, 1.0
            for k in range(t, steps):
                next_value = last[b] if k == steps - 1 else values[b, k + 1]
                delta = rewards[b, k] + gamma * alive[b, k] * next_value - values[b, k]
                total += factor * delta
                if not alive[b, k]:
                    break
                factor *= gamma * lam
            out[b, t] = total
    return out


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_gae_is_the_discounted_sum_of_td_errors_within_each_episode(lam):
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=(3, 7)), rng.normal(size=(3, 7))
    last, alive = rng.normal(size=3), rng.random((3, 7)) > 0.25
    got = gae(*(torch.tensor(x) for x in (rewards, values, last, alive)), gamma=0.9, lam=lam)
    np.testing.assert_allclose(got.numpy(), _gae_by_hand(rewards, values, last, alive, 0.9, lam))


def test_gae_ends_lam_0_and_1():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    values = torch.tensor([[0.5, 1.0, 1.5]])
    alive = torch.tensor([[True, False, True]])  # the game ended at step 1
    last = torch.tensor([10.0])
    td = gae(rewards, values, last, alive, gamma=0.5, lam=0.0)
    assert td.tolist() == [[1.0 + 0.5 * 1.0 - 0.5, 2.0 - 1.0, 3.0 + 0.5 * 10.0 - 1.5]]
    monte_carlo = gae(rewards, values, last, alive, gamma=0.5, lam=1.0)
    returns = torch.tensor([[1.0 + 0.5 * 2.0, 2.0, 3.0 + 0.5 * 10.0]])
    torch.testing.assert_close(monte_carlo, returns - values)
    with pytest.raises(ValueError, match=r"must all be \[batch, time\]"):
        gae(rewards[0], values[0], last, alive[0], 0.5, 0.5)
    with pytest.raises(ValueError, match=r"last_values must be \[batch\]"):
        gae(rewards, values, torch.tensor([1.0, 2.0]), alive, 0.5, 0.5)


# --- the clipped surrogate and the value loss --------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "advantage", "moves"),
    [
        (1.05, 1.0, True),
        (1.5, 1.0, False),  # beyond 1 + c in the advantage's favour: no push
        (0.95, -1.0, True),
        (0.5, -1.0, False),
        (0.5, 1.0, True),
        (1.5, -1.0, True),  # moved the wrong way: the gradient pulls it back
    ],
)
def test_the_clipped_surrogate_stops_pushing_beyond_the_clip_range(ratio, advantage, moves):
    logits = torch.zeros(1, 2, requires_grad=True)  # pi(a=0) = 0.5
    log_probs = log_prob_of_actions(logits, torch.tensor([0]))
    old = torch.log(torch.tensor([0.5 / ratio]))
    loss = clipped_surrogate(log_probs, old, torch.tensor([advantage]), clip_range=0.2)
    (grad,) = torch.autograd.grad(loss, logits)
    assert (grad.abs().sum().item() > 0) == moves


def test_the_clipped_surrogate_at_ratio_one_is_the_policy_gradient():
    logits = torch.randn(5, 3, requires_grad=True)
    actions, advantages = torch.tensor([0, 1, 2, 1, 0]), torch.randn(5)
    log_probs = log_prob_of_actions(logits, actions)
    (clipped,) = torch.autograd.grad(
        clipped_surrogate(log_probs, log_probs.detach(), advantages, 0.1), logits, retain_graph=True
    )
    (plain,) = torch.autograd.grad(-(log_probs * advantages).mean(), logits)
    torch.testing.assert_close(clipped, plain)


def test_the_value_loss_is_half_the_squared_error_clipped_pessimistically():
    values, returns = torch.tensor([1.0, 3.0]), torch.tensor([2.0, 3.0])
    assert value_loss(values, returns).item() == pytest.approx(0.25)
    # old 3.0 -> new 1.0 with clip 0.5: kept 2.5; errors max((1-2)^2, (2.5-2)^2) = 1
    clipped = value_loss(torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([3.0]), 0.5)
    assert clipped.item() == pytest.approx(0.5)
    # a step towards the target within the clip: the plain error
    near = value_loss(torch.tensor([2.2]), torch.tensor([2.0]), torch.tensor([2.5]), 0.5)
    assert near.item() == pytest.approx(0.5 * 0.2**2)


# --- the update over minibatch epochs ----------------------------------------------------------


class TableActorCritic(nn.Module):
    """Logits and value looked up by the observation's first pixel, no memory."""

    obs_shape = (1, 1, 1)
    n_actions = 2

    def __init__(self, states: int = 4):
        super().__init__()
        self.table_logits = nn.Parameter(torch.zeros(states, 2))
        self.table_values = nn.Parameter(torch.zeros(states))

    def initial_memory(self, batch_size):
        return torch.zeros(batch_size, 0), torch.zeros(batch_size, 0)

    def forward(self, observation, memory):
        index = observation.view(-1).long()
        return memory, self.table_logits[index], self.table_values[index]


def _bandit_rollout(rng, games=4, steps=3):
    actions = rng.integers(0, 2, size=(games, steps))
    return Rollout(
        np.tile(np.arange(steps, dtype=np.uint8).reshape(1, steps, 1, 1, 1), (games, 1, 1, 1, 1)),
        actions,
        (actions == 0).astype(np.float32),  # reward 1 for action 0
        np.zeros((games, steps), bool),
        np.zeros((games, steps), bool),
        np.zeros((games, steps), np.float32),
        np.full((games, 1, 1, 1), steps, np.uint8),
        (torch.zeros(games, 0), torch.zeros(games, 0)),
    )


def test_ppo_takes_epochs_times_minibatches_steps_from_fixed_targets():
    config = PPOConfig(epochs=3, minibatches=4, n_games=4, rollout_length=3, entropy_coef=0.0)
    network = TableActorCritic()
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
    steps = []
    optimizer.step = lambda step=optimizer.step: steps.append(1) or step()
    rollout = _bandit_rollout(np.random.default_rng(0))
    before = rollout_targets(network, rollout, config)
    stats = ppo_update(network, optimizer, rollout, config, torch.Generator().manual_seed(0))
    assert len(steps) == 12
    assert {"loss", "policy_loss", "value_loss", "entropy", "grad_norm", "approx_kl"} <= set(stats)
    assert stats["approx_kl"] >= 0 and 0 <= stats["clip_fraction"] <= 1
    # The targets came from the weights that played: recomputed now they differ.
    after = rollout_targets(network, rollout, config)
    assert not torch.equal(before["log_probs"], after["log_probs"])


def test_ppo_learns_a_bandit():
    config = PPOConfig(n_games=4, rollout_length=3, minibatches=2, entropy_coef=0.0, gamma=0.9)
    network = TableActorCritic()
    optimizer = torch.optim.Adam(network.parameters(), lr=0.05)
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    for _ in range(30):
        ppo_update(network, optimizer, _bandit_rollout(rng), config, generator)
    probs = torch.softmax(network.table_logits.detach()[:3], -1)
    assert (probs[:, 0] > 0.8).all()


def test_the_shuffles_are_the_generators():
    config = PPOConfig(n_games=4, rollout_length=3, minibatches=3)
    rollout = _bandit_rollout(np.random.default_rng(1))
    results = []
    for seed in (0, 0, 1):
        network = TableActorCritic()
        optimizer = torch.optim.Adam(network.parameters(), lr=0.05)
        ppo_update(network, optimizer, rollout, config, torch.Generator().manual_seed(seed))
        results.append(network.table_logits.detach().clone())
    assert torch.equal(results[0], results[1]) and not torch.equal(results[0], results[2])


def test_the_recurrent_network_learns_in_minibatches_of_whole_games():
    config = PPOConfig(
        recurrent=True, hidden_size=8, size=16, frame_stack=1, n_games=4, minibatches=2
    )
    agent = PPO((1, 16, 16), n_actions=3, config=config)
    rng = np.random.default_rng(0)
    rollout = Rollout(
        rng.integers(0, 255, size=(4, 5, 1, 16, 16), dtype=np.uint8),
        rng.integers(0, 3, size=(4, 5)),
        rng.random((4, 5)).astype(np.float32),
        rng.random((4, 5)) > 0.8,
        np.zeros((4, 5), bool),
        np.zeros((4, 5), np.float32),
        rng.integers(0, 255, size=(4, 1, 16, 16), dtype=np.uint8),
        agent.network.initial_memory(4),
    )
    before = [p.detach().clone() for p in agent.network.parameters()]
    stats = agent.update(rollout)
    assert np.isfinite(list(stats.values())).all() and agent.steps == 20
    assert any(
        not torch.equal(a, b) for a, b in zip(before, agent.network.parameters(), strict=True)
    )


# --- config, agent, command line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gae_lambda": 1.5}, r"PPOConfig.gae_lambda must be in \[0, 1\], got 1.5"),
        ({"clip_range": 0.0}, r"PPOConfig.clip_range must be in \(0, "),
        ({"minibatches": 0}, "PPOConfig.minibatches must be >= 1, got 0"),
        ({"minibatches": 9, "n_games": 2, "rollout_length": 4}, "exceeds the 8 steps"),
        ({"recurrent": True, "minibatches": 9}, "exceeds the 8 games"),
        ({"size": 500}, r"PPOConfig.size must be in \[1, 210\], got 500"),
        ({"vectorization": "threads"}, "must be 'sync', 'async' or 'ale'"),
    ],
)
def test_the_config_checks_its_values(values, message):
    with pytest.raises(ValueError, match=message):
        PPOConfig(**values)


@pytest.mark.parametrize("cls", [A2CConfig, PPOConfig])
@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"size": 500}, ValueError, r"{}.size must be in \[1, 210\], got 500"),
        ({"frame_stack": 0}, ValueError, "{}.frame_stack must be >= 1, got 0"),
        ({"frame_skip": 1.5}, TypeError, "{}.frame_skip must be an int, got 1.5"),
        ({"env_threads": 0}, ValueError, "{}.env_threads must be >= 1, got 0"),
        ({"noop_max": -1}, ValueError, "{}.noop_max must be >= 0, got -1"),
        ({"repeat_action_probability": 2.0}, ValueError, "{}.repeat_action_probability must"),
        ({"crop": (1, 2)}, ValueError, r"{}.crop must be 4 numbers"),
        ({"crop": (1, 2, 3, -4)}, ValueError, r"{}.crop\[i\] must be >= 0, got -4"),
        ({"crop": (0, 0, 0, 1.5)}, TypeError, r"{}.crop\[i\] must be an int"),
        ({"vectorization": "threads"}, ValueError, "must be 'sync', 'async' or 'ale'"),
    ],
)
def test_a2c_and_ppo_share_the_checks_of_their_games(cls, values, error, message):
    """One set of checks (``AtariGamesConfig``) for both; the errors name the config given."""
    assert issubclass(cls, AtariGamesConfig)
    with pytest.raises(error, match=message.format(cls.__name__)):
        cls(**values)


def test_a2c_and_ppo_make_their_games_as_before():
    """The env options saved in checkpoints: A2C's rewards never clipped, PPO's by its field."""
    a2c, ppo = A2CConfig(), PPOConfig()
    assert a2c.env_options() == {
        "screen_size": 42,
        "frame_stack": 1,
        "frame_skip": 4,
        "noop_max": 30,
        "repeat_action_probability": 0.0,
        "crop": list(KUNGFU_CROP),
        "episodic_life": True,
        "clip_rewards": False,
        "fire_reset": False,
    }
    assert ppo.env_options() == {
        **a2c.env_options(),
        "screen_size": 84,
        "frame_stack": 4,
        "crop": None,
        "clip_rewards": True,
    }
    assert PPOConfig(clip_rewards=False).env_options()["clip_rewards"] is False
    assert (a2c.vectorization, ppo.vectorization) == ("sync", "ale")
    for config in (a2c, ppo):  # a checkpoint's config dict gives the same config back
        assert type(config).from_dict(dataclasses.asdict(config)) == config
        assert set(field_docs(type(config))) == {f.name for f in dataclasses.fields(config)}


TINY = [
    "train", "ppo", "--n-games", "2", "--rollout-length", "16", "--minibatches", "2",
    "--epochs", "2", "--vectorization", "sync", "--no-progress", "--checkpoint-every", "32",
]  # fmt: skip


def test_ppo_trains_resumes_exactly_and_plays_from_its_checkpoint(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main([*TINY, "--total-steps", "96", "--out", str(straight)]) == 0
    assert main([*TINY, "--total-steps", "64", "--out", str(split)]) == 0
    (split / "final.pt").unlink()
    assert main([*TINY, "--total-steps", "96", "--out", str(split), "--resume"]) == 0
    a, b = load_checkpoint(straight / "final.pt"), load_checkpoint(split / "final.pt")
    assert a["steps"] == b["steps"] == 96 and a["algo"] == "ppo"
    for name in a["weights"]:
        assert torch.equal(a["weights"][name], b["weights"][name]), name
    policy = load_policy(straight / "final.pt")
    assert policy.checkpoint.config["epochs"] == 2
    assert (
        main(["evaluate", str(straight / "final.pt"), "--episodes", "1", "--max-steps", "50"]) == 0
    )
