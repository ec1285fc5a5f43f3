import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from rlcourse.agents import a2c
from rlcourse.course.exercises.a2c import (
    check_advantages,
    check_entropy,
    check_forward_step,
    check_n_step_returns,
    check_policy_loss,
    check_value_loss,
)
from rlcourse.course.exercises.core import PASSED, WRONG
from rlcourse.networks import RecurrentActorCritic


def test_lesson06_checks_pass_the_package_functions(capsys):
    assert check_forward_step(RecurrentActorCritic) is RecurrentActorCritic
    assert check_n_step_returns(a2c.n_step_returns) is a2c.n_step_returns
    assert check_advantages(a2c.advantages) is a2c.advantages
    assert check_value_loss(a2c.value_loss) is a2c.value_loss
    assert check_policy_loss(a2c.policy_loss) is a2c.policy_loss
    assert check_entropy(a2c.entropy) is a2c.entropy
    assert capsys.readouterr().out.count(PASSED) == 6


class ForwardInOneExpression(RecurrentActorCritic):
    """Correct, in another style: an nn.Sequential-like chain, F.relu, value[:, 0]."""

    def forward(self, observation, memory):
        x = observation.to(torch.float32).div(255)
        for conv in (self.conv0, self.conv1, self.conv2):
            x = F.relu(conv(x))
        h, c = self.lstm(F.relu(self.dense(x.reshape(x.shape[0], -1))), memory)
        return (h, c), self.logits(h), self.value(h)[:, 0]


def returns_by_stacking(rewards, alive, last_values, gamma):
    columns, running = [], last_values
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * torch.where(alive[:, t], running, 0.0)
        columns.insert(0, running)
    return torch.stack(columns, dim=1)


def advantages_detached_inputs(returns, values):
    return returns.detach() - values.detach()


def value_loss_with_mse(values, returns):
    return F.mse_loss(values, returns.detach())


def policy_loss_with_categorical(logits, actions, advantage):
    log_prob = torch.distributions.Categorical(logits=logits).log_prob(actions)
    return -(log_prob * advantage.detach()).mean()


def entropy_with_categorical(logits):
    return torch.distributions.Categorical(logits=logits).entropy().mean()


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_forward_step, ForwardInOneExpression),
        (check_n_step_returns, returns_by_stacking),
        (check_advantages, advantages_detached_inputs),
        (check_value_loss, value_loss_with_mse),
        (check_policy_loss, policy_loss_with_categorical),
        (check_entropy, entropy_with_categorical),
    ],
)
def test_lesson06_checks_pass_correct_code_in_other_styles(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


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


def returns_without_alive(rewards, alive, last_values, gamma):
    return a2c.n_step_returns(rewards, torch.ones_like(alive), last_values, gamma)


def returns_forward_in_time(rewards, alive, last_values, gamma):
    returns = torch.empty_like(rewards)
    running = last_values
    for t in range(rewards.shape[1]):
        running = rewards[:, t] + gamma * alive[:, t].float() * running
        returns[:, t] = running
    return returns


@pytest.mark.parametrize(
    ("check", "buggy", "case"),
    [
        (check_forward_step, NoScaling, "one step from a given memory"),
        (check_forward_step, IgnoresMemory, "one step from a given memory"),
        (check_n_step_returns, returns_without_alive, "a game ends mid-rollout"),
        (check_n_step_returns, returns_forward_in_time, "one game, no end"),
        (check_advantages, lambda returns, values: returns - values, "[batch, time]"),
        (check_advantages, lambda returns, values: (values - returns).detach(), "[batch, time]"),
        (check_value_loss, lambda v, r: ((r - v) ** 2).mean(), "[batch, time]"),
        (check_value_loss, lambda v, r: ((r.detach() - v) ** 2).sum(), "[batch, time]"),
        (
            check_policy_loss,
            lambda logits, actions, adv: (
                torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
                * adv.detach()
            ).mean(),
            "two games",
        ),
        (
            check_policy_loss,
            lambda logits, actions, adv: (
                -(
                    torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
                    * adv
                ).mean()
            ),
            "two games",
        ),
        (
            check_policy_loss,
            lambda logits, actions, adv: -(torch.log_softmax(logits, -1).mean(-1) * adv).mean(),
            "two games",
        ),
        (
            check_entropy,
            lambda logits: (
                (torch.softmax(logits, -1) * torch.log_softmax(logits, -1)).sum(-1).mean()
            ),
            "uniform policy",
        ),
        (
            check_entropy,
            lambda logits: -(torch.softmax(logits, -1) * torch.log_softmax(logits, -1)).sum(),
            "uniform policy",
        ),
        (
            check_entropy,
            lambda logits: (
                -(torch.softmax(logits, -1) * torch.log(torch.softmax(logits, -1))).sum(-1).mean()
            ),
            "a nearly certain policy",
        ),
    ],
)
def test_lesson06_checks_catch_typical_mistakes(capsys, check, buggy, case):
    result = check(buggy)
    out = capsys.readouterr().out
    assert result is not buggy
    assert out.startswith(WRONG) and f"case '{case}" in out
