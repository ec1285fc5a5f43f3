"""Lesson 10's checks (PPO with GAE): correct answers in other styles pass; the typical
mistakes are caught, with a message that points at them; no verdict shows answer code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from exercise_helpers import assert_no_answer_code

from rlcourse.agents import ppo
from rlcourse.agents.ppo import forward_minibatch, minibatch_units, rollout_targets, value_loss
from rlcourse.agents.reinforce import entropy, log_prob_of_actions
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.ppo import check_clipped_surrogate, check_gae, check_ppo_update

# --- GAE: other styles and mistakes --------------------------------------------------------------


def gae_deltas_first(rewards, values, last_values, alive, gamma, lam):
    live = alive.float()
    next_values = torch.cat([values[:, 1:], last_values[:, None]], dim=1)
    deltas = rewards + gamma * live * next_values - values
    out = torch.zeros_like(rewards)
    carry = torch.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        carry = deltas[:, t] + gamma * lam * live[:, t] * carry
        out[:, t] = carry
    return out


def gae_game_by_game(rewards, values, last_values, alive, gamma, lam):
    out = torch.zeros_like(rewards)
    for b in range(rewards.shape[0]):
        advantage = 0.0
        for t in reversed(range(rewards.shape[1])):
            next_value = last_values[b] if t == rewards.shape[1] - 1 else values[b, t + 1]
            if not alive[b, t]:
                next_value, advantage = 0.0, 0.0
            delta = rewards[b, t] + gamma * next_value - values[b, t]
            advantage = delta + gamma * lam * advantage
            out[b, t] = advantage
    return out


def gae_across_ends(rewards, values, last_values, alive, gamma, lam):
    return ppo.gae(rewards, values, last_values, torch.ones_like(alive), gamma, lam)


def gae_lam_only(rewards, values, last_values, alive, gamma, lam):
    live = alive.float()
    out, carry, next_values = torch.zeros_like(rewards), torch.zeros_like(last_values), last_values
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * live[:, t] * next_values - values[:, t]
        carry = delta + lam * live[:, t] * carry
        out[:, t], next_values = carry, values[:, t]
    return out


def gae_no_bootstrap(rewards, values, last_values, alive, gamma, lam):
    return ppo.gae(rewards, values, torch.zeros_like(last_values), alive, gamma, lam)


def gae_cut_only_the_carry(rewards, values, last_values, alive, gamma, lam):
    live = alive.float()
    out, carry, next_values = torch.zeros_like(rewards), torch.zeros_like(last_values), last_values
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_values - values[:, t]  # bootstraps across ends
        carry = delta + gamma * lam * live[:, t] * carry
        out[:, t], next_values = carry, values[:, t]
    return out


# --- the clipped surrogate ---------------------------------------------------------------------


def surrogate_with_where(log_probs, old_log_probs, advantages, clip_range):
    ratio = (log_probs - old_log_probs).exp()
    limit = torch.where(advantages >= 0, 1 + clip_range, 1 - clip_range)
    capped = torch.where(advantages >= 0, torch.minimum(ratio, limit), torch.maximum(ratio, limit))
    return -(capped * advantages).mean()


def surrogate_with_minimum(log_probs, old_log_probs, advantages, clip_range):
    ratio = torch.exp(log_probs) / torch.exp(old_log_probs)
    unclipped = ratio * advantages
    clipped = torch.clip(ratio, 1 - clip_range, 1 + clip_range) * advantages
    return torch.minimum(unclipped, clipped).mean().neg()


def surrogate_max(log_probs, old_log_probs, advantages, clip_range):
    ratio = torch.exp(log_probs - old_log_probs)
    clipped = ratio.clamp(1 - clip_range, 1 + clip_range) * advantages
    return -torch.max(ratio * advantages, clipped).mean()


def surrogate_objective_not_loss(log_probs, old_log_probs, advantages, clip_range):
    return -ppo.clipped_surrogate(log_probs, old_log_probs, advantages, clip_range)


def surrogate_clip_only(log_probs, old_log_probs, advantages, clip_range):
    ratio = torch.exp(log_probs - old_log_probs)
    return -(ratio.clamp(1 - clip_range, 1 + clip_range) * advantages).mean()


def surrogate_sum(log_probs, old_log_probs, advantages, clip_range):
    return ppo.clipped_surrogate(log_probs, old_log_probs, advantages, clip_range) * len(advantages)


def surrogate_fixed_clip(log_probs, old_log_probs, advantages, clip_range):
    return ppo.clipped_surrogate(log_probs, old_log_probs, advantages, 0.2)


def surrogate_ignoring_the_old_policy(log_probs, old_log_probs, advantages, clip_range):
    ratio = log_probs.exp()
    clipped = ratio.clamp(1 - clip_range, 1 + clip_range) * advantages
    return -torch.min(ratio * advantages, clipped).mean()


# --- the update over minibatch epochs ------------------------------------------------------------


def _step(network, optimizer, rollout, targets, index, config, stats):
    logits, values, rows = forward_minibatch(network, rollout, index)
    advantages = targets["advantages"][rows]
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_probs = log_prob_of_actions(logits, targets["actions"][rows])
    policy = ppo.clipped_surrogate(log_probs, targets["log_probs"][rows], advantages, 0.1)
    value = value_loss(values, targets["returns"][rows], targets["values"][rows], 0.1)
    h = entropy(logits)
    loss = policy + config.value_coef * value - config.entropy_coef * h
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(network.parameters(), config.max_grad_norm)
    optimizer.step()
    for key, x in (("loss", loss), ("policy_loss", policy), ("value_loss", value), ("entropy", h)):
        stats.setdefault(key, []).append(x.item())


def _targets(network, rollout, config):
    return {k: v.flatten() for k, v in rollout_targets(network, rollout, config).items()}


def update_with_tensor_split(network, optimizer, rollout, config, generator):
    targets = _targets(network, rollout, config)
    stats = {}
    for _ in range(config.epochs):
        order = torch.randperm(minibatch_units(network, rollout), generator=generator)
        for index in torch.tensor_split(order, config.minibatches):
            _step(network, optimizer, rollout, targets, index, config, stats)
    return {k: sum(v) / len(v) for k, v in stats.items()}


def update_with_argsort(network, optimizer, rollout, config, generator):
    targets = _targets(network, rollout, config)
    units = minibatch_units(network, rollout)
    size = -(-units // config.minibatches)
    stats = {}
    for _epoch in range(config.epochs):
        order = torch.argsort(torch.rand(units, generator=generator))
        for start in range(0, units, size):
            _step(network, optimizer, rollout, targets, order[start : start + size], config, stats)
    return {k: sum(v) / len(v) for k, v in stats.items()}


def update_whole_rollout_per_epoch(network, optimizer, rollout, config, generator):
    targets = _targets(network, rollout, config)
    stats = {}
    for _ in range(config.epochs):
        order = torch.randperm(minibatch_units(network, rollout), generator=generator)
        _step(network, optimizer, rollout, targets, order, config, stats)
    return {k: sum(v) / len(v) for k, v in stats.items()}


def update_with_the_global_generator(network, optimizer, rollout, config, generator):
    targets = _targets(network, rollout, config)
    stats = {}
    for _ in range(config.epochs):
        order = torch.randperm(minibatch_units(network, rollout))
        for index in order.chunk(config.minibatches):
            _step(network, optimizer, rollout, targets, index, config, stats)
    return {k: sum(v) / len(v) for k, v in stats.items()}


def update_recomputing_targets(network, optimizer, rollout, config, generator):
    stats = {}
    for _ in range(config.epochs):
        targets = _targets(network, rollout, config)  # the policy of this epoch, not the player
        order = torch.randperm(minibatch_units(network, rollout), generator=generator)
        for index in order.chunk(config.minibatches):
            _step(network, optimizer, rollout, targets, index, config, stats)
    return {k: sum(v) / len(v) for k, v in stats.items()}


def update_without_zero_grad(network, optimizer, rollout, config, generator):
    optimizer.zero_grad = lambda *args, **kwargs: None  # the gradients pile up
    return update_with_tensor_split(network, optimizer, rollout, config, generator)


# --- the tests ---------------------------------------------------------------------------------

CORRECT = [
    (check_gae, gae_deltas_first),
    (check_gae, gae_game_by_game),
    (check_clipped_surrogate, surrogate_with_where),
    (check_clipped_surrogate, surrogate_with_minimum),
    (check_ppo_update, update_with_tensor_split),
    (check_ppo_update, update_with_argsort),
]


@pytest.mark.parametrize(("check", "correct"), CORRECT, ids=lambda x: getattr(x, "__name__", ""))
def test_ppo_checks_pass_correct_code_in_other_styles(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


MISTAKES = [
    (check_gae, gae_across_ends, "no bootstrap"),
    (check_gae, gae_lam_only, "gamma * lam, not by lam alone"),
    (check_gae, gae_no_bootstrap, "bootstrapped from the value after the rollout"),
    (check_gae, gae_cut_only_the_carry, "no bootstrap"),
    (check_clipped_surrogate, surrogate_max, "gains nothing from pushing further"),
    (check_clipped_surrogate, surrogate_objective_not_loss, "a loss to minimise"),
    (check_clipped_surrogate, surrogate_clip_only, "never clipped away"),
    (check_clipped_surrogate, surrogate_sum, "minus the mean"),
    (check_clipped_surrogate, surrogate_fixed_clip, "not a fixed 0.2"),
    (check_clipped_surrogate, surrogate_ignoring_the_old_policy, "exp(log_probs - old_log_probs)"),
    (check_ppo_update, update_whole_rollout_per_epoch, "one optimizer step per minibatch"),
    (check_ppo_update, update_with_the_global_generator, "drawn from the generator given"),
    (check_ppo_update, update_recomputing_targets, "computed once"),
    (check_ppo_update, update_without_zero_grad, "fresh gradients"),
]


@pytest.mark.parametrize(
    ("check", "mistake", "rule"), MISTAKES, ids=lambda x: getattr(x, "__name__", "")
)
def test_ppo_checks_catch_the_typical_mistakes(capsys, check, mistake, rule):
    reference = {check_gae: ppo.gae, check_clipped_surrogate: ppo.clipped_surrogate}
    returned = check(mistake)
    out = capsys.readouterr().out
    assert out.startswith(WRONG), out
    assert rule in out, out
    assert returned is reference.get(check, ppo.ppo_update)
    assert_no_answer_code(out)


@pytest.mark.parametrize("check", [check_gae, check_clipped_surrogate, check_ppo_update])
def test_ppo_checks_on_unfilled_code(capsys, check):
    def unfilled(*args):
        raise NotImplementedError()

    check(unfilled)
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


def test_ppo_update_check_leaves_the_global_generators_as_they_were(capsys):
    torch.manual_seed(99)
    np.random.seed(99)  # noqa: NPY002 (the student's kernel state the check must not move)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    check_ppo_update(update_with_tensor_split)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])  # noqa: NPY002
