"""Lesson 06's checks: correct answers in other styles pass; the typical mistakes are caught,
with the case and the rule that point at them, and no check prints answer code."""

import pytest
import torch
import torch.nn.functional as F
from exercise_helpers import assert_no_answer_code
from torch import nn

from rlcourse.agents.dqn import (
    compute_dqn_loss,
    double_dqn_target,
    td_target,
    update_target_network,
)
from rlcourse.course.exercises.core import NOT_ATTEMPTED, PASSED, WRONG
from rlcourse.course.exercises.ddqn import (
    check_compute_dqn_loss,
    check_double_dqn_target,
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


def _old_signature(rewards, next_q_online, next_q_target, terminated, gamma):
    """The lesson's former signature, without ``truncated``."""
    return _double_by_gather(rewards, next_q_online, next_q_target, terminated, None, gamma)


# --- compute_dqn_loss: correct answers --------------------------------------------------


def _loss_with_detach(q_network, target_network, batch, gamma, double=False, loss="huber"):
    """Indexing instead of gather, .detach() instead of no_grad, torch.where for the mask,
    F.huber_loss; its own Double DQN target."""
    obs, actions, rewards, next_obs, terminated, truncated = batch
    rows = torch.arange(len(actions))
    q_taken = q_network(obs)[rows, actions]
    next_target = target_network(next_obs).detach()
    if double:
        chosen = q_network(next_obs).detach().argmax(dim=1)
        next_value = next_target[rows, chosen]
    else:
        next_value = next_target.max(dim=1).values
    target = torch.where(terminated, rewards, rewards + gamma * next_value)
    if loss == "mse":
        return ((q_taken - target) ** 2).mean(), q_taken
    return F.huber_loss(q_taken, target, delta=1.0), q_taken


def _loss_with_one_hot(q_network, target_network, batch, gamma, double=False, loss="huber"):
    """A one-hot product for Q(s, a), the package's target functions under no_grad, Huber
    written out by hand, the batch read by field name."""
    n_actions = q_network(batch.obs).shape[1]
    q_taken = (q_network(batch.obs) * F.one_hot(batch.actions, n_actions)).sum(dim=1)
    with torch.no_grad():
        next_q_target = target_network(batch.next_obs)
        if double:
            target = double_dqn_target(
                batch.rewards,
                q_network(batch.next_obs),
                next_q_target,
                batch.terminated,
                batch.truncated,
                gamma,
            )
        else:
            target = td_target(
                batch.rewards, next_q_target, batch.terminated, batch.truncated, gamma
            )
    error = q_taken - target
    if loss == "huber":
        per_item = torch.where(error.abs() <= 1, 0.5 * error**2, error.abs() - 0.5)
    else:
        per_item = error.pow(2)
    return per_item.mean(), q_taken


def _package_loss(*args, **kwargs):
    """The package's own code, wrapped (the function object itself is refused by design)."""
    return compute_dqn_loss(*args, **kwargs)


# --- compute_dqn_loss: mistakes ---------------------------------------------------------


def _make_loss(
    choose="online",
    rate="target",
    mask="terminated",
    grad=False,
    huber=True,
    mean=True,
    ignore_double=False,
):
    """A compute_dqn_loss with one mistake switched on."""

    def buggy(q_network, target_network, batch, gamma, double=False, loss="huber"):
        obs, actions, rewards, next_obs, terminated, truncated = batch
        q_taken = q_network(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        use_double = True if ignore_double else double
        with torch.enable_grad() if grad else torch.no_grad():
            nets = {"online": q_network, "target": target_network}
            if use_double:
                chooser = nets[choose](next_obs)
                rater = nets[rate](next_obs)
                next_value = rater.gather(1, chooser.argmax(1, keepdim=True)).squeeze(1)
            else:
                next_value = target_network(next_obs).max(dim=1).values
            done = {
                "terminated": terminated,
                "both": terminated | truncated,
                "none": torch.zeros_like(terminated),
            }[mask]
            target = rewards + gamma * (~done).float() * next_value
        error = q_taken - target
        if huber and loss == "huber":
            per_item = F.smooth_l1_loss(q_taken, target, reduction="none")
        else:
            per_item = error**2
        return (per_item.mean() if mean else per_item.sum()), q_taken

    return buggy


def _loss_of_the_best_action(q_network, target_network, batch, gamma, double=False, loss="huber"):
    """The max over Q(s, ·) instead of the Q-value of the action taken."""
    q_best = q_network(batch.obs).max(dim=1).values
    with torch.no_grad():
        next_q_target = target_network(batch.next_obs)
        chooser = q_network(batch.next_obs) if double else next_q_target
        target = double_dqn_target(
            batch.rewards, chooser, next_q_target, batch.terminated, batch.truncated, gamma
        )
    return F.smooth_l1_loss(q_best, target), q_best


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


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "correct"),
    [
        (check_double_dqn_target, _double_by_gather),
        (check_double_dqn_target, _double_by_indexing),
        (check_double_dqn_target, _double_by_loop),
        (check_compute_dqn_loss, _loss_with_detach),
        (check_compute_dqn_loss, _loss_with_one_hot),
        (check_compute_dqn_loss, _package_loss),
        (check_update_target_network, _update_with_copy),
        (check_update_target_network, _update_via_state_dict),
        (check_update_target_network, _update_via_data),
        (check_update_target_network, lambda *a: update_target_network(*a)),
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
    (
        check_compute_dqn_loss,
        _make_loss(choose="target"),
        "online net picks a'",
        "chosen by the ONLINE network",
    ),
    (
        check_compute_dqn_loss,
        _make_loss(rate="online"),
        "online net picks a'",
        "rated by the TARGET network",
    ),
    (
        check_compute_dqn_loss,
        _make_loss(ignore_double=True),
        "double=False",
        "target network both chooses and rates",
    ),
    (check_compute_dqn_loss, _make_loss(mask="none"), "terminated", "must not bootstrap"),
    (check_compute_dqn_loss, _make_loss(mask="both"), "truncated", "still bootstraps"),
    (
        check_compute_dqn_loss,
        _make_loss(grad=True),
        "no gradient through it",
        "computed without gradient",
    ),
    (check_compute_dqn_loss, _make_loss(huber=False), "gamma = 0", "Huber's loss"),
    (check_compute_dqn_loss, _make_loss(mean=False), "gamma = 0", "averaged over the batch"),
    (check_compute_dqn_loss, _loss_of_the_best_action, "gamma = 0", "actions taken"),
    (check_update_target_network, _tau_backwards, "tau = 0.1", "not the other way round"),
    (check_update_target_network, _moves_online, "online network is left", "only the target"),
    (check_update_target_network, _shares_tensors, "not the same tensors", "its own copy"),
    (check_update_target_network, _rebinds_a_local, "tau = 0.1", "moves a fraction tau"),
    (check_update_target_network, _forgets_its_own_weights, "tau = 0.1", "keeps 90% of its own"),
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
        out, compute_dqn_loss, double_dqn_target, td_target, update_target_network
    )


def test_a_target_with_gradient_is_named(capsys):
    check_compute_dqn_loss(_make_loss(grad=True))
    assert "the target network received a gradient']: expected False, got True" in (
        capsys.readouterr().out
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
    buggy = _make_loss(choose="target")
    check_compute_dqn_loss(buggy)
    first = capsys.readouterr().out
    check_compute_dqn_loss(buggy)
    second = capsys.readouterr().out
    assert "Look at:" not in first and "Look at:" in second
    assert "Double DQN target equation" in second
    assert_no_answer_code(second, compute_dqn_loss, double_dqn_target, td_target)


def test_a_missing_return_is_named(capsys):
    def no_return(q_network, target_network, batch, gamma, double=False, loss="huber"):
        compute_dqn_loss(q_network, target_network, batch, gamma, double, loss)

    check_compute_dqn_loss(no_return)
    assert "`return` line missing" in capsys.readouterr().out


def test_unfilled_exercises_are_not_attempted_and_fall_back_to_the_package(capsys):
    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    assert check_double_dqn_target(unfilled) is double_dqn_target
    assert check_compute_dqn_loss(unfilled) is compute_dqn_loss
    assert check_update_target_network(unfilled) is update_target_network
    assert capsys.readouterr().out.count(NOT_ATTEMPTED) == 3


def test_re_running_a_check_on_the_package_code_says_so(capsys):
    for check, function in (
        (check_double_dqn_target, double_dqn_target),
        (check_compute_dqn_loss, compute_dqn_loss),
        (check_update_target_network, update_target_network),
    ):
        assert check(function) is function
        out = capsys.readouterr().out
        assert out.startswith(NOT_ATTEMPTED) and "re-run your code cell" in out


def test_the_checks_leave_torch_s_random_state_alone():
    state = torch.get_rng_state()
    check_double_dqn_target(_double_by_gather)
    check_compute_dqn_loss(_loss_with_detach)
    check_update_target_network(_update_with_copy)
    assert torch.equal(state, torch.get_rng_state())


def test_the_loss_case_nets_disagree():
    """The cases only catch the Double DQN mistakes because the two nets disagree."""
    from rlcourse.course.exercises.ddqn import _batch, _loss_nets

    online, target = _loss_nets()
    with torch.no_grad():
        choices = online(_batch().next_obs).argmax(1)
        assert not torch.equal(choices, target(_batch().next_obs).argmax(1))
    assert isinstance(online, nn.Module)


def test_a_wrong_loss_names_the_loss_and_a_wrong_q_taken_names_q_taken(capsys):
    check_compute_dqn_loss(_make_loss(choose="target"))
    assert "at ['the loss']" in capsys.readouterr().out
    check_compute_dqn_loss(_loss_of_the_best_action)
    assert "at ['q_taken']" in capsys.readouterr().out
