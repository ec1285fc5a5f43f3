"""Lesson 04's checks: correct answers in other styles pass; the typical mistakes are caught,
with a message naming the property they break; no check prints answer code."""

from collections import deque

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from exercise_helpers import assert_no_answer_code

from rlcourse.agents.dqn import (
    compute_dqn_loss,
    linear_schedule,
    td_target,
    update_target_network,
)
from rlcourse.buffers import ReplaySample
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.dqn import (
    check_compute_dqn_loss,
    check_dqn_loop,
    check_linear_schedule,
    check_td_target,
    dqn_loop,
)
from rlcourse.policies import epsilon_greedy

# --- correct answers written differently from the package -----------------------------------


def _schedule_interp(start, end, duration, step):
    return float(np.interp(step, [0, duration], [start, end]))


def _schedule_branches(start, end, duration, step):
    if step >= duration:
        return end
    return start - (start - end) * step / duration


def _target_with_where(rewards, next_q_values, terminated, truncated, gamma):
    bootstrap = gamma * next_q_values.amax(dim=1)
    return rewards + torch.where(terminated, torch.zeros_like(bootstrap), bootstrap)


def _target_with_logical_not(rewards, next_q_values, terminated, truncated, gamma):
    return rewards + gamma * next_q_values.max(1)[0] * (~terminated)


def _loss_with_indexing_and_detach(
    q_network, target_network, batch, gamma, double=False, loss="huber"
):
    obs, actions, rewards, next_obs, terminated, truncated = batch
    q_taken = q_network(obs)[torch.arange(len(actions)), actions]
    next_best = target_network(next_obs).detach().max(dim=1).values
    target = torch.where(terminated, rewards, rewards + gamma * next_best)
    error = q_taken - target
    if loss == "mse":
        return (error**2).mean(), q_taken
    return F.huber_loss(q_taken, target, delta=1.0), q_taken


def _loss_with_one_hot_and_no_grad(
    q_network, target_network, batch, gamma, double=False, loss="huber"
):
    one_hot = F.one_hot(batch.actions.long(), num_classes=q_network(batch.obs).shape[1])
    q_taken = (q_network(batch.obs) * one_hot).sum(dim=1)
    with torch.no_grad():
        y = td_target(
            batch.rewards, target_network(batch.next_obs), batch.terminated, batch.truncated, gamma
        )
    error = (q_taken - y).abs()
    if loss == "mse":
        return F.mse_loss(q_taken, y), q_taken
    per_item = torch.where(error < 1, 0.5 * error**2, error - 0.5)  # Huber by hand
    return per_item.mean(), q_taken


def _loop_while_and_soft_update(
    env, q_network, target_network, optimizer, buffer, total_steps, rng, config
):
    """A while loop, steps counted from 1, the package's update_target_network with tau=1."""
    returns, rewards = [], []
    obs, _ = env.reset(seed=config.seed)
    step = 0
    while step < total_steps:
        step += 1
        epsilon = linear_schedule(
            config.epsilon_start, config.epsilon_end, config.exploration_steps, step - 1
        )
        q = q_network(torch.tensor(obs[None], dtype=torch.float32)).detach().numpy()[0]
        action = epsilon_greedy(q, epsilon, rng)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated=terminated, truncated=truncated)
        rewards.append(reward)
        if terminated or truncated:
            returns.append(sum(rewards))
            rewards = []
            obs, _ = env.reset()
        else:
            obs = next_obs
        if step >= config.learning_starts and step % config.train_frequency == 0:
            for _ in range(config.gradient_steps):
                sample = buffer.sample(config.batch_size)
                batch = ReplaySample(*[torch.from_numpy(np.asarray(x)) for x in sample])
                value, _ = compute_dqn_loss(
                    q_network, target_network, batch, config.gamma, loss=config.loss
                )
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                optimizer.step()
        if step % config.target_update_interval == 0:
            update_target_network(target_network, q_network, tau=1.0)
    return returns


def _loop_with_deque_and_parameter_copy(
    env, q_network, target_network, optimizer, buffer, total_steps, rng, config
):
    """Episode rewards in a deque, an inline epsilon-greedy, syncing before the update."""
    finished = []
    episode = deque()
    obs, _ = env.reset()
    n_actions = env.action_space.n
    for t in range(total_steps):
        fraction = min(t / config.exploration_steps, 1.0)
        epsilon = config.epsilon_start + fraction * (config.epsilon_end - config.epsilon_start)
        if rng.random() < epsilon:
            action = int(rng.integers(n_actions))
        else:
            with torch.no_grad():
                action = int(q_network(torch.as_tensor(obs)[None]).argmax())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated, truncated)
        episode.append(reward)
        obs = next_obs
        if (t + 1) % config.target_update_interval == 0:
            for target_param, param in zip(
                target_network.parameters(), q_network.parameters(), strict=True
            ):
                target_param.data.copy_(param.data)
        if len(buffer) >= config.learning_starts and (t + 1) % config.train_frequency == 0:
            for _ in range(config.gradient_steps):
                batch = ReplaySample(*map(torch.as_tensor, buffer.sample(config.batch_size)))
                value, _ = compute_dqn_loss(
                    q_network, target_network, batch, config.gamma, loss=config.loss
                )
                optimizer.zero_grad()
                value.backward()
                torch.nn.utils.clip_grad_norm_(q_network.parameters(), config.max_grad_norm)
                optimizer.step()
        if terminated or truncated:
            finished.append(float(sum(episode)))
            episode.clear()
            obs, _ = env.reset()
    return finished


CORRECT = [
    (check_linear_schedule, _schedule_interp),
    (check_linear_schedule, _schedule_branches),
    (check_linear_schedule, lambda *a: linear_schedule(*a)),
    (check_td_target, _target_with_where),
    (check_td_target, _target_with_logical_not),
    (check_td_target, lambda *a: td_target(*a)),
    (check_compute_dqn_loss, _loss_with_indexing_and_detach),
    (check_compute_dqn_loss, _loss_with_one_hot_and_no_grad),
    (check_compute_dqn_loss, lambda *a, **k: compute_dqn_loss(*a, **k)),
    (check_dqn_loop, _loop_while_and_soft_update),
    (check_dqn_loop, _loop_with_deque_and_parameter_copy),
    (check_dqn_loop, lambda *a, **k: dqn_loop(*a, **k)),
    (check_dqn_loop, lambda *a, **k: _buggy_loop(explore_with="rng_other_order")(*a, **k)),
]


@pytest.mark.parametrize(("check", "correct"), CORRECT)
def test_correct_code_passes(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


# --- typical mistakes -------------------------------------------------------------------------


def _schedule_step_first(step, start, end, duration):
    """The lesson's former ``epsilon_schedule(step, start, end, decay_steps)`` order."""
    return linear_schedule(start, end, duration, step)


def _greedy_with_probability_epsilon(q_values, epsilon, rng):
    if rng.random() < epsilon:  # inverted: greedy with probability epsilon
        return int(np.argmax(q_values))
    return int(rng.integers(len(q_values)))


def _masks_truncated_too(rewards, next_q_values, terminated, truncated, gamma):
    done = terminated | truncated  # old Gym's `done`
    return rewards + gamma * (1.0 - done.float()) * next_q_values.max(dim=1).values


def _dqn_loss(
    no_mask=False,
    mask_truncated=False,
    with_gradient=False,
    wrong_axis=False,
    no_gather=False,
    always_huber=False,
    online_target=False,
):
    def loss_function(q_network, target_network, batch, gamma, double=False, loss="huber"):
        obs, actions, rewards, next_obs, terminated, truncated = batch
        q_all = q_network(obs)
        q_taken = (
            q_all.max(dim=1).values
            if no_gather
            else q_all.gather(1, actions.unsqueeze(1)).squeeze(1)
        )
        next_q = (q_network if online_target else target_network)(next_obs)
        if not with_gradient:
            next_q = next_q.detach()
        best = next_q.max(dim=0 if wrong_axis else 1).values
        done = terminated | truncated if mask_truncated else terminated
        mask = torch.ones_like(rewards) if no_mask else 1.0 - done.float()
        target = rewards + gamma * mask * best
        if loss == "mse" and not always_huber:
            return F.mse_loss(q_taken, target), q_taken
        return F.smooth_l1_loss(q_taken, target), q_taken

    return loss_function


def _buggy_loop(
    never_sync=False,
    early_updates=False,
    no_decay=False,
    inverted=False,
    done_flags=False,
    no_reset=False,
    next_obs_after_reset=False,
    no_zero_grad=False,
    sync_every_step=False,
    sync_by_gradient_steps=False,
    sync_by_update_rounds=False,
    act_with_target=False,
    explore_with=None,
    ignore_loss_option=False,
):
    def loop(env, q_network, target_network, optimizer, buffer, total_steps, rng, config):
        returns, episode_return, gradient_steps, rounds = [], 0.0, 0, 0
        obs, _ = env.reset(seed=config.seed)
        for step in range(total_steps):
            epsilon = (
                config.epsilon_start
                if no_decay
                else linear_schedule(
                    config.epsilon_start, config.epsilon_end, config.exploration_steps, step
                )
            )
            acting = target_network if act_with_target else q_network
            with torch.no_grad():
                q_values = acting(torch.as_tensor(obs).unsqueeze(0))[0].numpy()
            if inverted:
                action = _greedy_with_probability_epsilon(q_values, epsilon, rng)
            elif explore_with == "numpy":
                explore = np.random.random() < epsilon  # noqa: NPY002 (the mistake)
                greedy = int(np.argmax(q_values))
                action = int(np.random.randint(len(q_values))) if explore else greedy  # noqa: NPY002
            elif explore_with == "rng_other_order":  # correct: both draws, every step
                random_action = int(rng.integers(len(q_values)))
                explore = rng.random() < epsilon
                action = random_action if explore else int(np.argmax(q_values))
            elif explore_with == "action_space":
                explore = rng.random() < epsilon
                action = int(env.action_space.sample()) if explore else int(np.argmax(q_values))
            else:
                action = epsilon_greedy(q_values, epsilon, rng)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            episode_return += reward
            ended = terminated or truncated
            if ended and not no_reset:
                returns.append(episode_return)
                episode_return = 0.0
                reset_obs, _ = env.reset()
                if next_obs_after_reset:
                    next_obs = reset_obs
            stored = (terminated or truncated) if done_flags else terminated
            buffer.add(obs, action, reward, next_obs, stored, truncated)
            obs = reset_obs if ended and not no_reset else next_obs
            ready = (
                len(buffer) >= config.batch_size
                if early_updates
                else (len(buffer) >= config.learning_starts)
            )
            if ready and (step + 1) % config.train_frequency == 0:
                for _ in range(config.gradient_steps):
                    batch = ReplaySample(
                        *(torch.as_tensor(x) for x in buffer.sample(config.batch_size))
                    )
                    loss, _ = compute_dqn_loss(
                        q_network,
                        target_network,
                        batch,
                        config.gamma,
                        loss="huber" if ignore_loss_option else config.loss,
                    )
                    if not no_zero_grad:
                        optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    gradient_steps += 1
                    if (
                        sync_by_gradient_steps
                        and gradient_steps % config.target_update_interval == 0
                    ):
                        target_network.load_state_dict(q_network.state_dict())
                rounds += 1
                if sync_by_update_rounds and rounds % config.target_update_interval == 0:
                    target_network.load_state_dict(q_network.state_dict())
            interval = 1 if sync_every_step else config.target_update_interval
            by_env_steps = not (never_sync or sync_by_gradient_steps or sync_by_update_rounds)
            if by_env_steps and (step + 1) % interval == 0:
                target_network.load_state_dict(q_network.state_dict())
        return returns

    return loop


MISTAKES = [
    # (check, buggy, case named, words of the broken property, the reference)
    (
        check_linear_schedule,
        lambda a, b, d, s: a + (b - a) * s / d,
        "long after the decay",
        "stays at the end value",
        linear_schedule,
    ),
    (
        check_linear_schedule,
        lambda a, b, d, s: max(b, a - s / d),
        "half-way",
        "half-way between start and end",
        linear_schedule,
    ),
    (
        check_linear_schedule,
        lambda a, b, d, s: max(b, a + (b - a) * s / d),
        "a rising",
        "may also rise",
        linear_schedule,
    ),
    (
        check_linear_schedule,
        _schedule_step_first,
        "step 0 is the start",
        "its start value",
        linear_schedule,
    ),
    (
        check_td_target,
        _masks_truncated_too,
        "a truncated episode still bootstraps",
        "truncation must not cut the bootstrap",
        td_target,
    ),
    (
        check_td_target,
        lambda r, q, te, tr, g: r + g * q.max(dim=1).values,
        "episodes terminated: no bootstrap",
        "must not bootstrap",
        td_target,
    ),
    (
        check_td_target,
        lambda r, q, te, tr, g: r + g * (1 - te.float()) * q.mean(dim=1),
        "no episode ended",
        "the largest Q-value of its own next state",
        td_target,
    ),
    (
        check_td_target,
        lambda r, q, te, tr, g: r + g * (1 - te.float()) * q.max(dim=0).values,
        "no episode ended",
        "the max runs over the actions",
        td_target,
    ),
    (
        check_compute_dqn_loss,
        _dqn_loss(no_mask=True),
        "terminated transitions do not bootstrap",
        "ended by termination must not bootstrap",
        compute_dqn_loss,
    ),
    (
        check_compute_dqn_loss,
        _dqn_loss(mask_truncated=True),
        "truncated transitions still bootstrap",
        "only termination removes the bootstrap",
        compute_dqn_loss,
    ),
    (
        check_compute_dqn_loss,
        _dqn_loss(with_gradient=True),
        "no gradient through the target",
        "never the target network",
        compute_dqn_loss,
    ),
    (
        check_compute_dqn_loss,
        _dqn_loss(wrong_axis=True),
        "the loss when no episode ended",
        "the max runs over the actions",
        compute_dqn_loss,
    ),
    (
        check_compute_dqn_loss,
        _dqn_loss(no_gather=True),
        "the Q-values of the actions taken",
        "Q-value of the action taken",
        compute_dqn_loss,
    ),
    (
        check_compute_dqn_loss,
        _dqn_loss(always_huber=True),
        "loss='mse'",
        "mean squared error",
        compute_dqn_loss,
    ),
    (
        check_compute_dqn_loss,
        _dqn_loss(online_target=True),
        "the loss when no episode ended",
        "largest target-network Q-value",
        compute_dqn_loss,
    ),
    (
        check_dqn_loop,
        _buggy_loop(never_sync=True),
        "the target network is synced",
        "was never synced",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(sync_every_step=True),
        "the target network is synced",
        "a copy every target_update_interval",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(sync_by_gradient_steps=True),
        "the target network is synced",
        "env steps, not gradient steps",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(sync_by_update_rounds=True),
        "the target network is synced",
        "a copy every target_update_interval = 5 env steps",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(act_with_target=True),
        "greedy actions come from the online network",
        "the loop took the target network's",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(explore_with="numpy"),
        "exploration draws from the generator given",
        "two generators made with the same seed gave different actions",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(explore_with="action_space"),
        "exploration draws from the generator given",
        "env.action_space.sample()",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(ignore_loss_option=True),
        "when and how the network learns",
        "with config's gamma and loss",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(early_updates=True),
        "when and how the network learns",
        "no update before it holds learning_starts",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(no_decay=True),
        "epsilon-greedy actions on the schedule",
        "epsilon decaying from epsilon_start to epsilon_end",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(inverted=True),
        "epsilon-greedy actions on the schedule",
        "act at random with probability epsilon",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(done_flags=True),
        "one transition stored per env step",
        "store the two flags separately",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(next_obs_after_reset=True),
        "one transition stored per env step",
        "not the one the reset returned",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(no_reset=True),
        "one transition stored per env step",
        "without a reset",
        dqn_loop,
    ),
    (
        check_dqn_loop,
        _buggy_loop(no_zero_grad=True),
        "when and how the network learns",
        "gradients zeroed before each backward",
        dqn_loop,
    ),
]


@pytest.mark.parametrize(("check", "buggy", "case", "words", "reference"), MISTAKES)
def test_checks_catch_typical_mistakes(capsys, check, buggy, case, words, reference):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    assert out.startswith(WRONG), out
    assert f"case '{case}" in out, out
    assert words in out, out
    assert "A correct answer must satisfy:" in out and "Hint:" in out
    assert_no_answer_code(out, reference)


def test_a_second_wrong_try_adds_the_pointer(capsys):
    buggy = _dqn_loss(with_gradient=True)
    check_compute_dqn_loss(buggy)
    assert "Look at:" not in capsys.readouterr().out
    check_compute_dqn_loss(buggy)
    out = capsys.readouterr().out
    assert "Look at:" in out and "torch.no_grad" in out
    assert_no_answer_code(out, compute_dqn_loss)


@pytest.mark.parametrize(
    ("check", "reference"),
    [
        (check_linear_schedule, linear_schedule),
        (check_td_target, td_target),
        (check_compute_dqn_loss, compute_dqn_loss),
        (check_dqn_loop, dqn_loop),
    ],
)
def test_unfilled_or_rerun_exercises_fall_back_to_the_reference(capsys, check, reference):
    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    assert check(unfilled) is reference
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)
    assert check(reference) is reference  # a check cell re-run on its own
    assert "re-run your code cell first" in capsys.readouterr().out
