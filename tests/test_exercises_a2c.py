"""Lesson 09's checks: correct answers written in other styles pass; the typical mistakes
are caught, with the rule that points at them, and no check prints answer code."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from exercise_helpers import assert_no_answer_code

from rlcourse.agents import a2c
from rlcourse.course.exercises.a2c import (
    check_collect_rollout,
    check_forward_step,
    check_train_on_rollout,
)
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.networks import RecurrentActorCritic
from rlcourse.rollouts import Rollout, collect_rollout

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


def make_collect(bug=None):
    """A collect_rollout written differently from the package's (lists stacked at the end,
    torch.where and initial_memory for the zeroing, inverse-CDF sampling from the
    generator), with one of the typical mistakes."""

    def collect(network, games, observations, memory, n_steps, generator):
        columns = {k: [] for k in ("obs", "actions", "rewards", "term", "trunc", "values")}
        start = (memory[0].clone(), memory[1].clone())
        if bug == "memory starts from zeros":
            memory = network.initial_memory(observations.shape[0])
        ended = np.zeros(observations.shape[0], bool)
        grad = torch.enable_grad() if bug == "gradients recorded" else torch.no_grad()
        with grad:
            for _ in range(n_steps):
                if bug == "zeroed before the next step, from the last step's flags":
                    keep = torch.as_tensor(~ended).unsqueeze(1)
                    memory = (torch.where(keep, memory[0], 0.0), torch.where(keep, memory[1], 0.0))
                columns["obs"].append(observations)
                new_memory, logits, _ = network(torch.as_tensor(observations), memory)
                if bug == "zeroed one step late":
                    keep = torch.as_tensor(~ended).unsqueeze(1)
                    new_memory = (new_memory[0] * keep, new_memory[1] * keep)
                if bug == "argmax":
                    actions = logits.argmax(-1).numpy()
                elif bug == "global generator":
                    actions = torch.multinomial(logits.softmax(-1), 1).squeeze(1).numpy()
                else:
                    cumulative = torch.cumsum(torch.softmax(logits, -1), -1)
                    u = torch.rand(len(logits), 1, generator=generator)
                    actions = (u > cumulative).sum(-1).clamp(max=logits.shape[-1] - 1).numpy()
                observations, rewards, terminated, truncated, info = games.step(actions)
                values = np.zeros(len(actions), np.float32)
                for b in np.flatnonzero(truncated):
                    last = info["final_obs"][b]
                    if bug == "truncation value of the next game's first observation":
                        last = observations[b]
                    h, c = new_memory[0][b : b + 1], new_memory[1][b : b + 1]
                    if bug == "truncation value from the zeroed memory":
                        h, c = torch.zeros_like(h), torch.zeros_like(c)
                    _, _, value = network(torch.as_tensor(last)[None], (h, c))
                    values[b] = float(value[0].detach())
                if bug == "terminated and truncated merged":
                    terminated = terminated | truncated
                ended = terminated | truncated
                if bug == "memory zeroed on terminated only":
                    ended = np.asarray(terminated)
                memory = new_memory
                if bug == "memory never zeroed" or bug in (
                    "zeroed one step late",
                    "zeroed before the next step, from the last step's flags",
                ):
                    pass
                elif bug == "memory zeroed for all games" and ended.any():
                    memory = network.initial_memory(len(ended))
                else:
                    keep = torch.as_tensor(~ended).unsqueeze(1)
                    blank = network.initial_memory(len(ended))
                    memory = (
                        torch.where(keep, memory[0], blank[0]),
                        torch.where(keep, memory[1], blank[1]),
                    )
                for key, value in zip(
                    ("actions", "rewards", "term", "trunc", "values"),
                    (actions, rewards, terminated, truncated, values),
                    strict=True,
                ):
                    columns[key].append(np.asarray(value))
        stacked = {k: np.stack(v, axis=1) for k, v in columns.items()}
        rollout = Rollout(
            observations=stacked["obs"],
            actions=stacked["actions"].astype(np.int64),
            rewards=stacked["rewards"].astype(np.float32),
            terminated=stacked["term"],
            truncated=stacked["trunc"],
            truncation_values=stacked["values"],
            next_observations=np.array(observations),
            initial_memory=start,
        )
        return rollout, memory

    return collect


def collect_game_by_game(network, games, observations, memory, n_steps, generator):
    """Python lists, one game at a time for the bookkeeping, torch.multinomial's draws."""
    n = observations.shape[0]
    rows = {k: [[] for _ in range(n)] for k in ("o", "a", "r", "te", "tr", "v")}
    initial = tuple(m.clone() for m in memory)
    h, c = memory
    with torch.no_grad():
        for _ in range(n_steps):
            (h, c), logits, _ = network(torch.from_numpy(observations), (h, c))
            actions = torch.multinomial(logits.softmax(dim=1), num_samples=1, generator=generator)
            actions = actions[:, 0].numpy()
            next_obs, rewards, terminated, truncated, info = games.step(actions)
            h, c = h.clone(), c.clone()
            for b in range(n):
                value = 0.0
                if truncated[b]:
                    final = torch.from_numpy(np.asarray(info["final_obs"][b])).unsqueeze(0)
                    value = network(final, (h[b : b + 1], c[b : b + 1]))[2].item()
                for key, item in zip(
                    ("o", "a", "r", "te", "tr", "v"),
                    (observations[b], actions[b], rewards[b], terminated[b], truncated[b], value),
                    strict=True,
                ):
                    rows[key][b].append(item)
                if terminated[b] or truncated[b]:
                    h[b], c[b] = 0.0, 0.0
            observations = next_obs
    rollout = Rollout(
        np.array(rows["o"], np.uint8),
        np.array(rows["a"], np.int64),
        np.array(rows["r"], np.float32),
        np.array(rows["te"], bool),
        np.array(rows["tr"], bool),
        np.array(rows["v"], np.float32),
        observations.copy(),
        initial,
    )
    return rollout, (h, c)


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
        (check_collect_rollout, _wrapped(collect_rollout)),
        (check_collect_rollout, make_collect()),
        (check_collect_rollout, collect_game_by_game),
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
        (check_collect_rollout, collect_rollout),
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


class ValueSqueezedAll(RecurrentActorCritic):
    """Squeezes every axis of size 1: a single game's value loses its batch axis."""

    def forward(self, observation, memory):
        memory, logits, _ = super().forward(observation, memory)
        return memory, logits, self.value(memory[0]).squeeze()


class NoReluAfterDense(RecurrentActorCritic):
    def forward(self, observation, memory):
        x = observation.float() / 255
        x = torch.relu(self.conv2(torch.relu(self.conv1(torch.relu(self.conv0(x))))))
        h, c = self.lstm(self.dense(x.flatten(1)), memory)
        return (h, c), self.logits(h), self.value(h).squeeze(-1)


MISTAKES = [
    # (check, mistaken answer, the words of the rule that must point at it)
    (check_forward_step, NoScaling, "scaled to [0, 1]"),
    (check_forward_step, IgnoresMemory, "starts from the memory passed in"),
    (check_forward_step, MemorySwapped, "(h, c) in that order"),
    (check_forward_step, ValueNotSqueezed, "shape [batch], not [batch, 1]"),
    (check_forward_step, NoReluAfterDense, "each followed by a ReLU"),
    (check_forward_step, ValueSqueezedAll, "for a single game too"),
    (check_collect_rollout, make_collect("memory starts from zeros"), "memory given"),
    (check_collect_rollout, make_collect("memory never zeroed"), "memory, h and c, is zeroed"),
    (check_collect_rollout, make_collect("memory zeroed for all games"), "only that game's"),
    (check_collect_rollout, make_collect("zeroed one step late"), "before its next step"),
    (
        check_collect_rollout,
        make_collect("zeroed before the next step, from the last step's flags"),
        "ended on the last step",
    ),
    (check_collect_rollout, make_collect("gradients recorded"), "no autograd graph"),
    (check_collect_rollout, make_collect("terminated and truncated merged"), "flags stay apart"),
    (check_collect_rollout, make_collect("memory zeroed on terminated only"), "zeroed like"),
    (
        check_collect_rollout,
        make_collect("truncation value of the next game's first observation"),
        "its last observation",
    ),
    (
        check_collect_rollout,
        make_collect("truncation value from the zeroed memory"),
        "from its memory before the zeroing",
    ),
    (check_collect_rollout, make_collect("argmax"), "not the most likely action"),
    (check_collect_rollout, make_collect("global generator"), "the generator given"),
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
    check_collect_rollout: collect_rollout,
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


def test_forward_step_check_leaves_torchs_global_generator_as_it_was(capsys):
    state = torch.get_rng_state()
    check_forward_step(PackageForward)
    assert capsys.readouterr().out.startswith(PASSED)
    assert torch.equal(state, torch.get_rng_state())  # the student's kernel keeps its draws
