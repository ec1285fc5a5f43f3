"""Lesson 06's checks: correct answers in other styles pass; the typical mistakes are caught,
with the case and the rule that point at them, and no check prints answer code."""

import pytest
import torch
import torch.nn.functional as F
from exercise_helpers import assert_no_answer_code

from rlcourse.agents.dqn import (
    compute_dqn_loss,
    double_dqn_target,
    double_dqn_update,
    dqn_gradient_step,
    td_target,
    update_target_network,
)
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.ddqn import (
    check_double_dqn_target,
    check_double_dqn_update,
    check_update_target_network,
)

# --- double_dqn_target: correct answers ------------------------------------------------


def _double_by_gather(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    best = next_q_online.argmax(dim=1, keepdim=True)
    value = next_q_target.gather(1, best).squeeze(1)
    return rewards + gamma * (1 - terminated.float()) * value


def _double_by_indexing(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    rows = torch.arange(len(rewards))
    value = next_q_target[rows, next_q_online.argmax(1)]
    return torch.where(terminated, rewards, rewards + gamma * value)


def _double_by_loop(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    targets = []
    for i in range(len(rewards)):
        best = int(torch.argmax(next_q_online[i]))
        future = 0.0 if bool(terminated[i]) else gamma * float(next_q_target[i, best])
        targets.append(float(rewards[i]) + future)
    return torch.tensor(targets)


# --- double_dqn_target: mistakes --------------------------------------------------------


def _target_picks(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    """Plain DQN: the target net chooses and rates."""
    return td_target(rewards, next_q_target, terminated, truncated, gamma)


def _online_rates(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    """The online net chooses and rates (evaluates with the online net)."""
    return td_target(rewards, next_q_online, terminated, truncated, gamma)


def _roles_swapped(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    """The target net chooses, the online net rates."""
    return _double_by_gather(rewards, next_q_target, next_q_online, terminated, truncated, gamma)


def _no_terminal_mask(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    best = next_q_online.argmax(dim=1, keepdim=True)
    return rewards + gamma * next_q_target.gather(1, best).squeeze(1)


def _masks_truncated(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    return _double_by_gather(
        rewards, next_q_online, next_q_target, terminated | truncated, truncated, gamma
    )


def _truncation_overrides(rewards, next_q_online, next_q_target, terminated, truncated, gamma):
    """Bootstraps wherever the time limit fell, even on a step that terminated (old Gym's
    ``done and not TimeLimit.truncated``, carried over to Gymnasium's two flags)."""
    return _double_by_gather(
        rewards, next_q_online, next_q_target, terminated & ~truncated, truncated, gamma
    )


def _old_signature(rewards, next_q_online, next_q_target, terminated, gamma):
    """The lesson's former signature, without ``truncated``."""
    return _double_by_gather(rewards, next_q_online, next_q_target, terminated, None, gamma)


# --- update_target_network: correct answers --------------------------------------------


def _update_with_copy(target, online, tau):
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.copy_(tau * o + (1 - tau) * t)


def _update_via_state_dict(target, online, tau):
    online_state = online.state_dict()
    target.load_state_dict(
        {k: (1 - tau) * v + tau * online_state[k] for k, v in target.state_dict().items()}
    )


def _update_via_data(target, online, tau):
    """No no_grad, but through .data; a hard copy as its own branch."""
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        if tau == 1:
            t.data.copy_(o.data)
        else:
            t.data.mul_(1 - tau).add_(o.data, alpha=tau)


# --- update_target_network: mistakes ---------------------------------------------------


def _tau_backwards(target, online, tau):
    """theta_target <- tau * theta_target + (1 - tau) * theta_online."""
    _update_with_copy(target, online, 1 - tau)


def _moves_online(target, online, tau):
    """The arguments the wrong way round: the online net follows the target."""
    _update_with_copy(online, target, tau)


def _shares_tensors(target, online, tau):
    """The hard copy rebinds the target's tensors to the online net's."""
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        if tau == 1:
            t.data = o.data
        else:
            t.data.mul_(1 - tau).add_(o.data, alpha=tau)


def _rebinds_a_local(target, online, tau):
    """Computes the new weights but never writes them into the target."""
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t = tau * o + (1 - tau) * t  # noqa: PLW2901


def _tracks_gradients(target, online, tau):
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.copy_(tau * o + (1 - tau) * t)


def _forgets_its_own_weights(target, online, tau):
    """tau times the online weights, without the (1 - tau) share of the target's own."""
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.copy_(tau * o)


# --- double_dqn_update: correct answers -------------------------------------------------


def _update_with_the_pieces(
    q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm=10.0
):
    """Lesson 04's loss with double=True, the step by hand, exercise 2 for the target."""
    loss, _ = compute_dqn_loss(q_network, target_network, batch, gamma, double=True)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(q_network.parameters(), max_grad_norm)
    optimizer.step()
    update_target_network(target_network, q_network, tau)
    return loss.item()


def _update_with_lesson_05_step(
    q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm=10.0
):
    """Lesson 05's gradient step asked for the Double DQN target."""
    info = dqn_gradient_step(
        q_network, target_network, optimizer, batch, gamma, double=True, max_grad_norm=max_grad_norm
    )
    update_target_network(target_network, q_network, tau)
    return info.loss


def _update_by_hand(q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm=10.0):
    """Everything written out: exercise 1's target from both nets' values under no_grad,
    Q(s, a) by indexing, F.huber_loss, gradients set to None by hand, the norm clipped by
    hand, the Polyak update through the state dicts; returns the loss as a tensor."""
    rows = torch.arange(len(batch.actions))
    with torch.no_grad():
        target = double_dqn_target(
            batch.rewards,
            q_network(batch.next_obs),
            target_network(batch.next_obs),
            batch.terminated,
            batch.truncated,
            gamma,
        )
    q_taken = q_network(batch.obs)[rows, batch.actions]
    loss = F.huber_loss(q_taken, target)
    for param in q_network.parameters():
        param.grad = None
    loss.backward()
    if max_grad_norm is not None:
        norm = torch.sqrt(sum((p.grad**2).sum() for p in q_network.parameters()))
        if norm > max_grad_norm:
            for param in q_network.parameters():
                param.grad *= max_grad_norm / norm
    optimizer.step()
    online_state = q_network.state_dict()
    target_network.load_state_dict(
        {k: v + tau * (online_state[k] - v) for k, v in target_network.state_dict().items()}
    )
    return loss.detach()


# --- double_dqn_update: mistakes --------------------------------------------------------


def _make_update(
    double=True,
    rate="target",
    mask="terminated",
    zero_grad=True,
    clip="before",
    tau_of=lambda tau: tau,
    target_first=False,
    target_grad=False,
):
    """A double_dqn_update with one mistake switched on."""

    def buggy(q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm=10.0):
        obs, actions, rewards, next_obs, terminated, truncated = batch
        q_taken = q_network(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        with torch.enable_grad() if target_grad else torch.no_grad():
            next_target = target_network(next_obs)
            chooser = q_network(next_obs) if double else next_target
            rater = next_target if rate == "target" else q_network(next_obs)
            next_value = rater.gather(1, chooser.argmax(1, keepdim=True)).squeeze(1)
            done = {
                "terminated": terminated,
                "both": terminated | truncated,
                "overridden": terminated & ~truncated,
            }[mask]
            target = rewards + gamma * (~done).float() * next_value
        loss = F.smooth_l1_loss(q_taken, target)
        if target_first:
            update_target_network(target_network, q_network, tau_of(tau))
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        clipping = max_grad_norm is not None and clip != "none"
        if clipping and clip == "before":
            torch.nn.utils.clip_grad_norm_(q_network.parameters(), max_grad_norm)
        elif clipping and clip == "by value":
            torch.nn.utils.clip_grad_value_(q_network.parameters(), max_grad_norm)
        optimizer.step()
        if clipping and clip == "after":
            torch.nn.utils.clip_grad_norm_(q_network.parameters(), max_grad_norm)
        if not target_first:
            update_target_network(target_network, q_network, tau_of(tau))
        return loss.item()

    return buggy


def _hard_copy(q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm=10.0):
    """tau ignored: the target becomes a copy at every update."""
    return _update_with_the_pieces(
        q_network, target_network, optimizer, batch, gamma, 1.0, max_grad_norm
    )


def _arguments_swapped(q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm=10.0):
    """The soft update with the networks the wrong way round: the online net follows."""
    loss = dqn_gradient_step(
        q_network, target_network, optimizer, batch, gamma, double=True, max_grad_norm=max_grad_norm
    )
    update_target_network(q_network, target_network, tau)
    return loss.loss


def _none_not_handled(q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm=10.0):
    """Clips whatever max_grad_norm says: None is an error."""
    loss, _ = compute_dqn_loss(q_network, target_network, batch, gamma, double=True)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(q_network.parameters()), max_norm=max_grad_norm)
    optimizer.step()
    update_target_network(target_network, q_network, tau)
    return loss.item()


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_double_dqn_target, _double_by_gather),
        (check_double_dqn_target, _double_by_indexing),
        (check_double_dqn_target, _double_by_loop),
        (check_update_target_network, _update_with_copy),
        (check_update_target_network, _update_via_state_dict),
        (check_update_target_network, _update_via_data),
        (check_update_target_network, lambda *a: update_target_network(*a)),
        (check_double_dqn_update, _update_with_the_pieces),
        (check_double_dqn_update, _update_with_lesson_05_step),
        (check_double_dqn_update, _update_by_hand),
        (check_double_dqn_update, lambda *a: double_dqn_update(*a)),
    ],
)
def test_correct_code_in_other_styles_passes(capsys, check, correct):
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(PASSED)


MISTAKES = [
    # (check, buggy code, the case it fails on, words of the rule that point at the mistake)
    (check_double_dqn_target, _target_picks, "online net picks a'", "ONLINE network rates"),
    (check_double_dqn_target, _online_rates, "online net picks a'", "not the online network"),
    (check_double_dqn_target, _roles_swapped, "online net picks a'", "read from the TARGET"),
    (check_double_dqn_target, _no_terminal_mask, "terminated", "must not bootstrap"),
    (check_double_dqn_target, _masks_truncated, "truncated", "still bootstraps"),
    (check_double_dqn_target, _truncation_overrides, "same step", "both flags set"),
    (check_update_target_network, _tau_backwards, "tau = 0.1", "not the other way round"),
    (check_update_target_network, _moves_online, "online network is left", "only the target"),
    (check_update_target_network, _shares_tensors, "not the same tensors", "its own copy"),
    (check_update_target_network, _rebinds_a_local, "tau = 0.1", "moves a fraction tau"),
    (check_update_target_network, _forgets_its_own_weights, "tau = 0.1", "keeps 90% of its own"),
    (check_double_dqn_update, _make_update(double=False), "online net picks a'", "ONLINE"),
    (check_double_dqn_update, _make_update(rate="online"), "online net picks a'", "TARGET"),
    (check_double_dqn_update, _make_update(mask="both"), "still bootstraps", "only termination"),
    (
        check_double_dqn_update,
        _make_update(mask="overridden"),
        "also when truncated",
        "whatever its truncated flag says",
    ),
    (check_double_dqn_update, _make_update(zero_grad=False), "left over", "cleared"),
    (check_double_dqn_update, _make_update(clip="none"), "clipped", "one global norm"),
    (check_double_dqn_update, _make_update(clip="after"), "clipped", "before the optimizer"),
    (check_double_dqn_update, _make_update(clip="by value"), "clipped", "not value by value"),
    (check_double_dqn_update, _none_not_handled, "None", "not clipped"),
    (
        check_double_dqn_update,
        _make_update(tau_of=lambda tau: 1 - tau),
        "tau = 0.1 of the way",
        "not the other way round",
    ),
    (check_double_dqn_update, _hard_copy, "tau = 0.1 of the way", "not a copy"),
    (
        check_double_dqn_update,
        _make_update(target_first=True),
        "UPDATED online network",
        "not the online weights from before the step",
    ),
    (check_double_dqn_update, _arguments_swapped, "one step of the optimizer", "only reads it"),
    (check_double_dqn_update, _make_update(target_grad=True), "fixed label", "online network only"),
]


@pytest.mark.parametrize(("check", "buggy", "case", "rule"), MISTAKES)
def test_mistakes_are_caught_with_the_case_and_rule_that_show_them(
    check, buggy, case, rule, capsys
):
    assert check(buggy) is not buggy
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(WRONG) and case in first, out
    assert rule in out and "Hint:" in out, out
    assert_no_answer_code(
        out,
        compute_dqn_loss,
        double_dqn_target,
        td_target,
        update_target_network,
        double_dqn_update,
        dqn_gradient_step,
    )


def test_a_shared_tensor_is_named(capsys):
    check_update_target_network(_shares_tensors)
    assert "the target shares tensors with the online network']: expected False, got True" in (
        capsys.readouterr().out
    )


def test_an_update_that_tracks_gradients_shows_torch_s_error(capsys):
    check_update_target_network(_tracks_gradients)
    out = capsys.readouterr().out
    assert out.startswith(WRONG) and "weights require gradients" in out.splitlines()[0]
    assert "requires grad" in out and "gradient tracking switched off" in out


def test_the_old_signature_is_reported_as_an_error(capsys):
    check_double_dqn_target(_old_signature)
    assert "TypeError" in capsys.readouterr().out


def test_the_pointer_comes_at_the_second_wrong_try(capsys):
    buggy = _make_update(target_first=True)
    check_double_dqn_update(buggy)
    first = capsys.readouterr().out
    check_double_dqn_update(buggy)
    second = capsys.readouterr().out
    assert "Look at:" not in first and "Look at:" in second
    assert "soft update equation" in second
    assert_no_answer_code(second, double_dqn_update, dqn_gradient_step, update_target_network)


def test_a_missing_return_is_named(capsys):
    def no_return(q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm=10.0):
        double_dqn_update(q_network, target_network, optimizer, batch, gamma, tau, max_grad_norm)

    check_double_dqn_update(no_return)
    assert "`return` line missing" in capsys.readouterr().out


def test_unfilled_exercises_are_not_attempted_and_fall_back_to_the_package(capsys):
    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    assert check_double_dqn_target(unfilled) is double_dqn_target
    assert check_update_target_network(unfilled) is update_target_network
    assert check_double_dqn_update(unfilled) is double_dqn_update
    assert capsys.readouterr().out.count(NOT_ATTEMPTED) == 3


def test_re_running_a_check_on_the_package_code_says_so(capsys):
    for check, function in (
        (check_double_dqn_target, double_dqn_target),
        (check_update_target_network, update_target_network),
        (check_double_dqn_update, double_dqn_update),
    ):
        assert check(function) is function
        out = capsys.readouterr().out
        assert out.startswith(NOT_ATTEMPTED) and "re-run your code cell" in out


def test_the_checks_leave_torch_s_random_state_alone():
    state = torch.get_rng_state()
    check_double_dqn_target(_double_by_gather)
    check_update_target_network(_update_with_copy)
    check_double_dqn_update(_update_with_the_pieces)
    assert torch.equal(state, torch.get_rng_state())


def test_the_update_case_nets_disagree_and_the_cases_tell_the_rules_apart():
    """The update's cases only catch its mistakes because their parameters make the rules
    differ: the nets disagree on every next action, the step moves the online weights (so
    the target's pull before and after it differ), tau is not 1/2 (where tau and 1 - tau
    agree), the gradient's norm lies between the clipping case's 0.1 and the others' 100."""
    from rlcourse.course.exercises.ddqn import _batch, _loss_nets

    online, target = _loss_nets()
    with torch.no_grad():
        chosen_by_online = online(_batch().next_obs).argmax(1)
        chosen_by_target = target(_batch().next_obs).argmax(1)
    assert not torch.any(chosen_by_online == chosen_by_target)
    loss, _ = compute_dqn_loss(online, target, _batch(), 0.9, double=True)
    loss.backward()
    norm = torch.sqrt(sum((p.grad**2).sum() for p in online.parameters()))
    assert 0.1 < norm < 100.0


def test_double_dqn_update_is_what_the_agent_does_with_a_soft_target_at_every_step():
    """The package's update equals DQN.update then the target's refresh of DQN.observe, for
    an agent with double=True and a soft target refreshed after every gradient step."""
    import copy

    import gymnasium as gym
    import numpy as np

    from rlcourse.agents.dqn import DQN, DQNConfig
    from rlcourse.buffers import ReplaySample
    from rlcourse.course.exercises.ddqn import _batch

    space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    config = DQNConfig(
        double=True,
        tau=0.1,
        target_update_interval=1,
        hidden_sizes=(8,),
        batch_size=4,
        learning_starts=4,
        device="cpu",
        max_grad_norm=0.5,
    )
    agent = DQN(space, gym.spaces.Discrete(3), config)
    with torch.no_grad():  # a target that differs from the online net
        for param in agent.target.parameters():
            param.add_(0.3)
    q, target = copy.deepcopy(agent.q), copy.deepcopy(agent.target)
    optimizer = torch.optim.Adam(q.parameters(), lr=config.lr, eps=config.adam_eps)
    optimizer.load_state_dict(agent.optimizer.state_dict())
    batch = _batch(terminated=[False, True, False, False], truncated=[False, False, True, False])
    info = agent.update(ReplaySample(*batch))
    update_target_network(agent.target, agent.q, config.tau)
    loss = double_dqn_update(q, target, optimizer, batch, config.gamma, config.tau, 0.5)
    assert loss == pytest.approx(info.loss)
    for mine, agents in ((q, agent.q), (target, agent.target)):
        for a, b in zip(mine.parameters(), agents.parameters(), strict=True):
            torch.testing.assert_close(a, b)
