"""REINFORCE (rlcourse/agents/reinforce.py, rlcourse/training/monte_carlo.py): the loss
pieces by hand, the baseline's effect on the gradient, a short CartPole run that learns,
the checkpoint through load_policy and `rlcourse evaluate`, and bad input."""

import math
import re

import numpy as np
import pytest
import torch

from rlcourse.agents.reinforce import (
    Episode,
    Reinforce,
    ReinforceConfig,
    entropy,
    episode_returns,
    log_prob_of_actions,
    policy_gradient_estimate,
    policy_gradient_loss,
    reward_to_go,
    train_on_episodes,
)
from rlcourse.checkpoints import load_checkpoint
from rlcourse.cli import main
from rlcourse.envs import make_env
from rlcourse.policies import CategoricalPolicy
from rlcourse.registry import load_policy
from rlcourse.training import train_reinforce

# --- the pieces, by hand ------------------------------------------------------------------


def test_reward_to_go_by_hand():
    rewards = torch.tensor([1.0, 2.0, 3.0])
    assert reward_to_go(rewards, 1.0).tolist() == [6.0, 5.0, 3.0]
    assert reward_to_go(rewards, 0.5).tolist() == [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0]
    assert reward_to_go(rewards, 0.0).tolist() == [1.0, 2.0, 3.0]
    assert reward_to_go(torch.tensor([4.0]), 0.9).tolist() == [4.0]


def _episode(rewards, truncated=False, obs_dim=4):
    n = len(rewards)
    return Episode(
        np.zeros((n, obs_dim), np.float32),
        np.zeros(n, np.int64),
        np.asarray(rewards, np.float32),
        truncated,
    )


def test_a_truncated_episode_is_cut_not_bootstrapped_and_episodes_do_not_mix():
    # Two episodes in a batch: each return stops at its own episode's end. The second was
    # cut by a time limit: its tail is missing (no critic to bootstrap from), so its
    # returns are those of an episode that ended there.
    batch = [_episode([1.0, 1.0]), _episode([1.0, 1.0, 1.0], truncated=True)]
    assert episode_returns(batch, 1.0, to_go=True).tolist() == [2.0, 1.0, 3.0, 2.0, 1.0]
    assert episode_returns(batch, 0.5, to_go=True).tolist() == [1.5, 1.0, 1.75, 1.5, 1.0]
    # Without reward-to-go, every step of an episode gets the episode's whole return.
    assert episode_returns(batch, 0.5, to_go=False).tolist() == [1.5, 1.5, 1.75, 1.75, 1.75]


def test_log_prob_of_actions_and_entropy():
    logits = torch.tensor([[0.0, math.log(3.0)], [5.0, 5.0]])
    taken = log_prob_of_actions(logits, torch.tensor([1, 0]))
    torch.testing.assert_close(taken, torch.tensor([math.log(0.75), math.log(0.5)]))
    for n in (2, 4, 7):
        torch.testing.assert_close(entropy(torch.zeros(3, n)), torch.tensor(math.log(n)))
    assert entropy(torch.tensor([[300.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(log_prob_of_actions(torch.tensor([[300.0, 0.0]]), torch.tensor([1])))


def test_the_loss_is_minus_the_mean_weighted_log_probability_and_its_gradient_climbs():
    log_probs = torch.tensor([-1.0, -2.0], requires_grad=True)
    returns, baseline = torch.tensor([3.0, 1.0]), torch.tensor([1.0, 1.0], requires_grad=True)
    loss = policy_gradient_loss(log_probs, returns, baseline)
    assert loss.item() == pytest.approx(-(-1.0 * 2.0 + -2.0 * 0.0) / 2)
    loss.backward()
    assert log_probs.grad.tolist() == [-1.0, 0.0]  # descent raises the good action's log-prob
    assert baseline.grad is None  # the weights are constants
    assert policy_gradient_loss(log_probs, returns).item() == pytest.approx(2.5)

    # One SGD step on the logits makes the action followed by more reward more likely.
    logits = torch.zeros(2, 2, requires_grad=True)
    actions = torch.tensor([0, 1])
    loss = policy_gradient_loss(log_prob_of_actions(logits, actions), torch.tensor([2.0, -2.0]))
    loss.backward()
    with torch.no_grad():
        after = torch.softmax(logits - 0.5 * logits.grad, -1)
    assert after[0, 0] > 0.5 and after[1, 1] < 0.5


def test_a_baseline_keeps_the_expected_gradient_but_cuts_its_variance():
    # A two-armed bandit with rewards 10 and 11: the true gradient of J with respect to the
    # logits is small, the single-sample estimates without a baseline are huge.
    logits = torch.tensor([0.3, -0.2], requires_grad=True)
    rewards = torch.tensor([10.0, 11.0])
    probs = torch.softmax(logits, -1).detach()
    exact = probs * (rewards - (probs * rewards).sum())  # d/dlogits of sum_a pi(a) r(a)
    generator = torch.Generator().manual_seed(0)
    actions = torch.multinomial(probs, 2000, replacement=True, generator=generator)

    def estimates(baseline):
        per_sample = []  # one sampled action per estimate
        for a in actions.tolist():
            logits.grad = None
            log_prob = torch.log_softmax(logits, -1)[a : a + 1]
            policy_gradient_loss(log_prob, rewards[a : a + 1], baseline).backward()
            per_sample.append(-logits.grad.clone())
        return torch.stack(per_sample)

    plain, centred = estimates(None), estimates(torch.tensor(10.5))
    for sample in (plain, centred):
        assert torch.allclose(sample.mean(0), exact, atol=4 * sample.std(0).max() / 2000**0.5)
    assert (centred.var(0) < plain.var(0) / 50).all()


def test_the_batch_gradient_estimate_has_less_variance_with_a_baseline():
    env = make_env("CartPole-v1")
    config = ReinforceConfig(
        episodes_per_update=2, baseline="none", normalize_returns=False, seed=1
    )
    agent = Reinforce(4, 2, config)
    from rlcourse.training.monte_carlo import play_episode

    batches = [[play_episode(agent, env, 100 + 2 * i + j) for j in range(2)] for i in range(30)]
    variance = {}
    for baseline in ("none", "mean"):
        config.baseline = baseline
        grads = torch.stack([policy_gradient_estimate(agent.network, b, config) for b in batches])
        variance[baseline] = grads.var(0).sum().item()
    assert variance["mean"] < variance["none"] / 2
    assert all(p.grad is None for p in agent.network.parameters())  # the network untouched


def test_an_update_with_a_learned_baseline_trains_the_value_network_too():
    agent = Reinforce(4, 2, ReinforceConfig(baseline="value", seed=0))
    rng = np.random.default_rng(0)
    batch = [
        Episode(
            rng.normal(size=(5, 4)).astype(np.float32),
            rng.integers(0, 2, 5),
            np.ones(5, np.float32),
            False,
        )
    ]
    before = {k: v.clone() for k, v in agent.network.state_dict().items()}
    stats = agent.update(batch)
    assert set(stats) == {"loss", "policy_loss", "value_loss", "entropy", "grad_norm"}
    assert stats["value_loss"] > 0 and agent.steps == 5 and agent.updates == 1
    changed = {k for k, v in agent.network.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("value.") for k in changed)
    assert any(k.startswith("policy.") for k in changed)
    # Without a learned baseline there is no value network at all.
    assert Reinforce(4, 2, ReinforceConfig(baseline="mean")).network.value is None


# --- training ------------------------------------------------------------------------------


def _train(steps, seed=0, **options):
    agent = Reinforce(4, 2, ReinforceConfig(seed=seed, **options))
    return train_reinforce(agent, make_env("CartPole-v1"), steps, progress=False)


def test_a_short_cartpole_run_learns_and_is_deterministic():
    result = _train(12_000, seed=0)
    returns = result.metrics.history["episode_return"]
    assert result.agent.steps >= 12_000
    first, last = np.mean(returns[:20]), np.mean(returns[-20:])
    assert first < 40 and last > 2 * first, (first, last)  # random play: about 22

    again = _train(1_500, seed=0).agent.network.state_dict()
    same = _train(1_500, seed=0).agent.network.state_dict()
    other = _train(1_500, seed=1).agent.network.state_dict()
    assert all(torch.equal(again[k], same[k]) for k in again)
    assert not all(torch.equal(again[k], other[k]) for k in again)


def test_the_checkpoint_goes_through_load_agent_and_rlcourse_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "reinforce",
        "--env",
        "CartPole-v1",
        "--total-steps",
        "600",
        "--hidden-sizes",
        "16",
        "--episodes-per-update",
        "4",
        "--seed",
        "2",
        "--baseline",
        "mean",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    payload = load_checkpoint(out / "final.pt")
    assert payload["algo"] == "reinforce" and payload["network_spec"]["class"] == "MLPPolicy"
    assert payload["config"]["baseline"] == "mean" and payload["steps"] >= 600
    policy = load_policy(out / "final.pt")
    assert isinstance(policy, CategoricalPolicy) and not policy.greedy
    assert policy.checkpoint.algo == "reinforce" and not policy.network.training
    capsys.readouterr()
    assert main(["evaluate", str(out / "final.pt"), "--episodes", "3", "--vs-random"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "REINFORCE on CartPole-v1" in lines[0] and "actions sampled from the policy" in lines[0]
    assert re.fullmatch(r"score: \d+\.\d \+- \d+\.\d over 3 games", lines[-1])
    # The same games, the same draws: evaluate is reproducible.
    assert main(["evaluate", str(out / "final.pt"), "--episodes", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == lines[-1]


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: ReinforceConfig(baseline="critic"),
            ValueError,
            "baseline must be one of none, mean, value, got 'critic'",
        ),
        (
            lambda: ReinforceConfig(episodes_per_update=0),
            ValueError,
            "ReinforceConfig.episodes_per_update must be >= 1, got 0",
        ),
        (lambda: ReinforceConfig(gamma=1.5), ValueError, "ReinforceConfig.gamma"),
        (lambda: ReinforceConfig(lr=0), ValueError, "ReinforceConfig.lr"),
        (lambda: ReinforceConfig(hidden_sizes=()), ValueError, "at least one layer size"),
        (lambda: ReinforceConfig(reward_to_go="yes"), TypeError, "must be true or false"),
        (lambda: reward_to_go(torch.ones(2, 3), 0.9), ValueError, "one episode's rewards"),
        (
            lambda: log_prob_of_actions(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long)),
            ValueError,
            "actions must have the logits' shape",
        ),
        (lambda: policy_gradient_loss(torch.zeros(3), torch.zeros(2)), ValueError, "same shape"),
        (
            lambda: train_on_episodes(Reinforce(4, 2).network, None, [], ReinforceConfig()),
            ValueError,
            "at least one finished episode",
        ),
        (lambda: Reinforce(4, 2).network(torch.zeros(1, 3)), ValueError, "MLPPolicy was built for"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "ALE/Pong-v5"], "needs flat vector observations"),
        (["--env", "Pendulum-v1"], "needs discrete actions"),
        (["--env", "CartPole-v1", "--baseline", "critic"], "baseline must be one of"),
    ],
)
def test_the_cli_refuses_envs_and_options_reinforce_cannot_use(argv, message, tmp_path, capsys):
    code = main(
        ["train", "reinforce", *argv, "--total-steps", "10", "--out", str(tmp_path / "run")]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "final.pt").exists()
