"""Lesson 09's checks: correct answers written in other styles pass; the typical mistakes
are caught, with the rule that points at them, and no check prints answer code."""

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from exercise_helpers import assert_no_answer_code

from rlcourse.agents import a2c
from rlcourse.course.exercises.a2c import (
    check_entropy,
    check_forward_step,
    check_n_step_returns,
    check_policy_loss,
    check_train_on_rollout,
)
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.networks import RecurrentActorCritic

# --- correct answers in other styles ---------------------------------------------------------


class ForwardInOneExpression(RecurrentActorCritic):
    """A loop over the convolutions, F.relu, reshape, value[:, 0]."""

    def forward(self, observation, memory):
        x = observation.to(torch.float32).div(255)
        for conv in (self.conv0, self.conv1, self.conv2):
            x = F.relu(conv(x))
        h, c = self.lstm(F.relu(self.dense(x.reshape(x.shape[0], -1))), memory)
        return (h, c), self.logits(h), self.value(h)[:, 0]


class ForwardWithSequential(RecurrentActorCritic):
    """An nn.Sequential built from the same layers, uint8 / 255 (true division), view(-1)."""

    def forward(self, observation, memory):
        encoder = torch.nn.Sequential(
            self.conv0,
            torch.nn.ReLU(),
            self.conv1,
            torch.nn.ReLU(),
            self.conv2,
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            self.dense,
            torch.nn.ReLU(),
        )
        memory = self.lstm(encoder(observation / 255.0), memory)
        return memory, self.logits(memory[0]), self.value(memory[0]).view(-1)


def returns_by_stacking(rewards, alive, last_values, gamma):
    columns, running = [], last_values
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * torch.where(alive[:, t], running, 0.0)
        columns.insert(0, running)
    return torch.stack(columns, dim=1)


def returns_game_by_game(rewards, alive, last_values, gamma):
    """Python floats, one game at a time, the list reversed at the end."""
    rows = []
    for b in range(rewards.shape[0]):
        g, row = float(last_values[b]), []
        for t in reversed(range(rewards.shape[1])):
            g = float(rewards[b, t]) + (gamma * g if alive[b, t] else 0.0)
            row.append(g)
        rows.append(row[::-1])
    return torch.tensor(rows, dtype=torch.float64)


def policy_loss_with_categorical(logits, actions, advantage):
    log_prob = torch.distributions.Categorical(logits=logits).log_prob(actions)
    return -(log_prob * advantage.detach()).mean()


def policy_loss_with_one_hot(logits, actions, advantage):
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    taken = (log_probs * F.one_hot(actions, logits.shape[-1])).sum(-1)
    return torch.mean(taken * advantage.data) * -1


def entropy_with_categorical(logits):
    return torch.distributions.Categorical(logits=logits).entropy().mean()


def entropy_with_logsumexp(logits):
    # H = logsumexp(l) - sum_a pi(a) l_a
    probs = torch.softmax(logits, -1)
    per_policy = torch.logsumexp(logits, -1) - (probs * logits).sum(-1)
    return per_policy.sum() / per_policy.numel()


def make_train(bug=None):
    """A train_on_rollout written differently from the package's (torch.where for the
    memory, returns inline, F.mse_loss, Categorical), with one of the typical mistakes."""

    def train(agent, optimizer, rollout, config):
        obs = torch.as_tensor(rollout.observations)
        alive = torch.as_tensor(rollout.alive)
        if bug == "memory zeroed on terminated only":
            memory_alive = ~torch.as_tensor(rollout.terminated)
        else:
            memory_alive = alive
        h, c = rollout.initial_memory
        if bug == "memory starts from zeros":
            h, c = torch.zeros_like(h), torch.zeros_like(c)
        logits, values = [], []
        for t in range(obs.shape[1]):
            if bug == "memory not carried":
                h, c = rollout.initial_memory
            if bug == "correct: memory zeroed at the start of the next step" and t > 0:
                h, c = h * memory_alive[:, t - 1, None], c * memory_alive[:, t - 1, None]
            (h, c), step_logits, step_value = agent(obs[:, t], (h, c))
            if bug not in (
                "memory not zeroed",
                "correct: memory zeroed at the start of the next step",
            ):
                keep = memory_alive[:, t].unsqueeze(1)
                h, c = torch.where(keep, h, 0.0), torch.where(keep, c, 0.0)
            logits.append(step_logits)
            values.append(step_value)
        logits, values = torch.stack(logits, 1), torch.stack(values, 1)
        _, _, bootstrap = agent(torch.as_tensor(rollout.next_observations), (h, c))
        if bug == "bootstrap from the last step's value":
            bootstrap = values[:, -1]
        if bug != "bootstrap not detached":
            bootstrap = bootstrap.detach()
        scale = 1.0 if bug == "rewards not scaled" else config.reward_scale
        rewards = torch.as_tensor(rollout.rewards) * scale + config.gamma * torch.as_tensor(
            rollout.truncation_values
        )
        if bug == "returns not cut":
            alive = torch.ones_like(alive)
        returns = []
        for t in reversed(range(rewards.shape[1])):
            bootstrap = rewards[:, t] + config.gamma * bootstrap * alive[:, t]
            returns.append(bootstrap)
        returns = torch.stack(returns[::-1], 1)
        advantage = returns - values
        if bug != "advantage not detached":
            advantage = advantage.detach()
        v_loss = F.mse_loss(
            values, returns.detach() if bug != "bootstrap not detached" else returns
        )
        dist = torch.distributions.Categorical(logits=logits)
        p_loss = -(dist.log_prob(torch.as_tensor(rollout.actions)) * advantage).mean()
        h_bonus = dist.entropy().mean()
        sign = 1.0 if bug == "entropy sign flipped" else -1.0
        loss = p_loss + config.value_coef * v_loss + sign * config.entropy_coef * h_bonus
        if bug != "no zero_grad":
            for parameter in agent.parameters():
                parameter.grad = None
        loss.backward()
        if bug == "no clipping":
            norm = torch.norm(torch.stack([p.grad.norm() for p in agent.parameters()]))
        else:
            norm = torch.nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
        optimizer.step()
        return {
            "loss": loss.item(),
            "policy_loss": p_loss.item(),
            "value_loss": v_loss.item(),
            "entropy": h_bonus.item(),
            "grad_norm": float(norm),
        }

    return train


def train_with_package_pieces(agent, optimizer, rollout, config):
    """The package's replay and loss functions, assembled in another order."""
    logits, values, last_value = a2c.unroll(agent, rollout)
    rewards = torch.from_numpy(
        rollout.rewards * config.reward_scale + config.gamma * rollout.truncation_values
    )
    with torch.no_grad():
        returns = a2c.n_step_returns(
            rewards, torch.from_numpy(rollout.alive), last_value, config.gamma
        )
    terms = {
        "policy_loss": a2c.policy_loss(
            logits, torch.from_numpy(rollout.actions), returns - values.detach()
        ),
        "value_loss": a2c.value_loss(values, returns),
        "entropy": a2c.entropy(logits),
    }
    loss = terms["policy_loss"] + config.value_coef * terms["value_loss"]
    loss = loss - config.entropy_coef * terms["entropy"]
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(list(agent.parameters()), config.max_grad_norm)
    optimizer.step()
    return {
        "loss": loss.item(),
        "grad_norm": norm.item(),
        **{k: v.item() for k, v in terms.items()},
    }


def _wrapped(function):
    """The package's own code, as a student's re-typed copy would be (another object)."""
    return lambda *args, **kwargs: function(*args, **kwargs)


class PackageForward(RecurrentActorCritic):
    pass


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_forward_step, PackageForward),
        (check_forward_step, ForwardInOneExpression),
        (check_forward_step, ForwardWithSequential),
        (check_n_step_returns, _wrapped(a2c.n_step_returns)),
        (check_n_step_returns, returns_by_stacking),
        (check_n_step_returns, returns_game_by_game),
        (check_policy_loss, _wrapped(a2c.policy_loss)),
        (check_policy_loss, policy_loss_with_categorical),
        (check_policy_loss, policy_loss_with_one_hot),
        (check_entropy, _wrapped(a2c.entropy)),
        (check_entropy, entropy_with_categorical),
        (check_entropy, entropy_with_logsumexp),
        (check_train_on_rollout, _wrapped(a2c.train_on_rollout)),
        (check_train_on_rollout, make_train()),
        (
            check_train_on_rollout,
            make_train("correct: memory zeroed at the start of the next step"),
        ),
        (check_train_on_rollout, train_with_package_pieces),
    ],
)
def test_a2c_checks_pass_correct_code_in_other_styles(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


@pytest.mark.parametrize(
    ("check", "reference"),
    [
        (check_forward_step, RecurrentActorCritic),
        (check_n_step_returns, a2c.n_step_returns),
        (check_policy_loss, a2c.policy_loss),
        (check_entropy, a2c.entropy),
        (check_train_on_rollout, a2c.train_on_rollout),
    ],
)
def test_a2c_checks_on_the_package_itself_or_unfilled_code(capsys, check, reference):
    # a re-run check cell (the name is bound to the package's code): not a "passed"
    assert check(reference) is reference
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)

    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    class Unfilled(RecurrentActorCritic):
        def forward(self, observation, memory):
            raise NotImplementedError()

    student = Unfilled if check is check_forward_step else unfilled
    assert check(student) is reference
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


# --- typical mistakes ------------------------------------------------------------------------


class NoScaling(RecurrentActorCritic):
    """Forgets to scale uint8 frames to [0, 1]."""

    def forward(self, observation, memory):
        x = observation.float()
        x = torch.relu(self.conv2(torch.relu(self.conv1(torch.relu(self.conv0(x))))))
        h, c = self.lstm(torch.relu(self.dense(x.flatten(1))), memory)
        return (h, c), self.logits(h), self.value(h).squeeze(-1)


class IgnoresMemory(RecurrentActorCritic):
    """Starts every step from zeros: no memory at all."""

    def forward(self, observation, memory):
        return super().forward(observation, self.initial_memory(observation.shape[0]))


class MemorySwapped(RecurrentActorCritic):
    """Gives the LSTM (c, h) instead of (h, c)."""

    def forward(self, observation, memory):
        return super().forward(observation, (memory[1], memory[0]))


class ValueNotSqueezed(RecurrentActorCritic):
    """Returns the value as [batch, 1]."""

    def forward(self, observation, memory):
        memory, logits, value = super().forward(observation, memory)
        return memory, logits, value.unsqueeze(-1)


class NoReluAfterDense(RecurrentActorCritic):
    def forward(self, observation, memory):
        x = observation.float() / 255
        x = torch.relu(self.conv2(torch.relu(self.conv1(torch.relu(self.conv0(x))))))
        h, c = self.lstm(self.dense(x.flatten(1)), memory)
        return (h, c), self.logits(h), self.value(h).squeeze(-1)


def returns_without_alive(rewards, alive, last_values, gamma):
    return returns_by_stacking(rewards, torch.ones_like(alive), last_values, gamma)


def returns_forward_in_time(rewards, alive, last_values, gamma):
    returns = torch.empty_like(rewards)
    running = last_values
    for t in range(rewards.shape[1]):
        running = rewards[:, t] + gamma * alive[:, t].float() * running
        returns[:, t] = running
    return returns


def returns_bootstrap_from_zero(rewards, alive, last_values, gamma):
    return returns_by_stacking(rewards, alive, torch.zeros_like(last_values), gamma)


def returns_drop_the_last_reward(rewards, alive, last_values, gamma):
    """Multiplies the whole return by alive: the ending step's own reward is lost."""
    columns, running = [], last_values
    for t in reversed(range(rewards.shape[1])):
        running = alive[:, t] * (rewards[:, t] + gamma * running)
        columns.insert(0, running)
    return torch.stack(columns, 1)


def _log_probs_taken(logits, actions):
    return torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def _entropy_per_policy(logits):
    return -(torch.softmax(logits, -1) * torch.log_softmax(logits, -1)).sum(-1)


MISTAKES = [
    # (check, mistaken answer, the words of the rule that must point at it)
    (check_forward_step, NoScaling, "scaled to [0, 1]"),
    (check_forward_step, IgnoresMemory, "starts from the memory passed in"),
    (check_forward_step, MemorySwapped, "(h, c) in that order"),
    (check_forward_step, ValueNotSqueezed, "shape [batch], not [batch, 1]"),
    (check_forward_step, NoReluAfterDense, "each followed by a ReLU"),
    (check_n_step_returns, returns_without_alive, "adds nothing after it"),
    (check_n_step_returns, returns_forward_in_time, "rewards that follow it"),
    (check_n_step_returns, returns_bootstrap_from_zero, "finally last_values"),
    (check_n_step_returns, returns_drop_the_last_reward, "keeps its own reward"),
    (
        check_policy_loss,
        lambda logits, actions, adv: (_log_probs_taken(logits, actions) * adv.detach()).mean(),
        "minus the mean",
    ),
    (
        check_policy_loss,
        lambda logits, actions, adv: -(_log_probs_taken(logits, actions) * adv.detach()).sum(),
        "minus the mean",
    ),
    (
        check_policy_loss,
        lambda logits, actions, adv: -(_log_probs_taken(logits, actions) * adv).mean(),
        "no gradient flows into the advantage",
    ),
    (
        check_policy_loss,
        lambda logits, actions, adv: (
            -(
                torch.softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
                * adv.detach()
            ).mean()
        ),
        "log-probability of the action taken",
    ),
    (
        check_policy_loss,
        lambda logits, actions, adv: (
            -(
                torch.log(torch.softmax(logits, -1)).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
                * adv.detach()
            ).mean()
        ),
        "not minus infinity",
    ),
    (check_entropy, lambda logits: -_entropy_per_policy(logits).mean(), "a positive number"),
    (check_entropy, lambda logits: _entropy_per_policy(logits).sum(), "the mean over games"),
    (
        check_entropy,
        lambda logits: (
            -(torch.softmax(logits, -1) * torch.log(torch.softmax(logits, -1))).sum(-1).mean()
        ),
        "not nan",
    ),
    (
        check_entropy,
        lambda logits: _entropy_per_policy(logits.detach()).mean().requires_grad_(),
        "gradient reaches the logits",
    ),
    (check_train_on_rollout, make_train("memory not carried"), "each step's new memory fed"),
    (check_train_on_rollout, make_train("memory starts from zeros"), "the memory it started with"),
    (check_train_on_rollout, make_train("memory not zeroed"), "memory, h and c, is zeroed"),
    (
        check_train_on_rollout,
        make_train("memory zeroed on terminated only"),
        "terminated or truncated",
    ),
    (
        check_train_on_rollout,
        make_train("bootstrap from the last step's value"),
        "value of the observations after the rollout",
    ),
    (check_train_on_rollout, make_train("rewards not scaled"), "scaled by config.reward_scale"),
    (check_train_on_rollout, make_train("returns not cut"), "cut where a game ended"),
    (check_train_on_rollout, make_train("entropy sign flipped"), "raises the policy's entropy"),
    (check_train_on_rollout, make_train("advantage not detached"), "receives no gradient"),
    (check_train_on_rollout, make_train("bootstrap not detached"), "no gradient flows through"),
    (check_train_on_rollout, make_train("no zero_grad"), "old gradients are cleared"),
    (check_train_on_rollout, make_train("no clipping"), "clipped to config.max_grad_norm"),
]

REFERENCES = {
    check_forward_step: RecurrentActorCritic,
    check_n_step_returns: a2c.n_step_returns,
    check_policy_loss: a2c.policy_loss,
    check_entropy: a2c.entropy,
    check_train_on_rollout: a2c.train_on_rollout,
}


@pytest.mark.parametrize(("check", "buggy", "rule"), MISTAKES)
def test_a2c_checks_catch_typical_mistakes(capsys, check, buggy, rule):
    result = check(buggy)
    out = capsys.readouterr().out
    assert result is REFERENCES[check]
    assert out.startswith(WRONG)
    assert rule in " ".join(out.split()), out
    assert_no_answer_code(out, REFERENCES[check])
    # the second wrong try adds a pointer, still without code
    check(buggy)
    again = capsys.readouterr().out
    assert "Look at:" in again
    assert_no_answer_code(again, REFERENCES[check])
